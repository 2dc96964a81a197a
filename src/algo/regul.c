#include "regul.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

struct regul {
    const struct pst_case *c;
    int active, adj_groups, accept_achieved, max_iter;
    double mu, phimlim, phimaccept, fracphim, wfmin, wfmax, wffac, wftol;
    double *gfac; /* per observation group */
};

struct regul *regul_create(const struct pst_case *c)
{
    struct regul *r = xcalloc(1, sizeof(*r));
    const struct pst_control *ctl = pst_control(c);
    size_t ng = pst_nobsgps(c);
    r->c = c;
    r->gfac = xcalloc(ng + 1, sizeof(double));
    for (size_t g = 0; g < ng; g++)
        r->gfac[g] = 1.0;
    r->mu = 1.0;
    if (ctl->pestmode != PST_MODE_REGULARIZATION) return r;
    r->active = 1;
    r->mu = ctl->wfinit;
    r->phimlim = ctl->phimlim;
    r->phimaccept = ctl->phimaccept;
    r->fracphim = ctl->fracphim;
    r->wfmin = ctl->wfmin;
    r->wfmax = ctl->wfmax;
    r->wffac = ctl->wffac > 1 ? ctl->wffac : 1.3;
    r->wftol = ctl->wftol;
    r->adj_groups = ctl->iregadj == 1;
    r->max_iter = 20; /* PEST++'s ++max_reg_iter */
    int mi;
    if (pst_opt_int(c, "max_reg_iter", 20, &mi, NULL) == 0 && mi > 0) r->max_iter = mi;
    return r;
}

void regul_destroy(struct regul *r)
{
    if (!r) return;
    free(r->gfac);
    free(r);
}

int regul_active(const struct regul *r)
{
    return r->active;
}

double regul_weight(const struct regul *r)
{
    return r->mu;
}

double regul_row_factor_at(const struct regul *r, int g, double mu)
{
    if (!r->active || !pst_obsgp(r->c, (size_t)g)->regul) return 1.0;
    return sqrt(mu) * r->gfac[g];
}

double regul_row_factor(const struct regul *r, int g)
{
    return regul_row_factor_at(r, g, r->mu);
}

static void split_with(const struct regul *r, double mu, const double *group_phi,
                       struct regul_phi *out)
{
    out->meas = out->regul = out->regul_w = 0;
    for (size_t g = 0; g < pst_nobsgps(r->c); g++) {
        if (!pst_obsgp(r->c, g)->regul) {
            out->meas += group_phi[g];
            continue;
        }
        out->regul += group_phi[g];
        out->regul_w += r->active ? mu * r->gfac[g] * r->gfac[g] * group_phi[g] : group_phi[g];
    }
}

void regul_split(const struct regul *r, const double *group_phi, struct regul_phi *out)
{
    split_with(r, r->mu, group_phi, out);
}

int regul_better(const struct regul *r, const struct regul_phi *a, const struct regul_phi *b)
{
    if (!r->active) return a->meas + a->regul < b->meas + b->regul;
    double acc = r->phimaccept;
    if (a->meas > acc && b->meas > acc) return a->meas + a->regul_w < b->meas + b->regul_w;
    if (a->meas > acc || b->meas > acc) return a->meas < b->meas;
    return a->regul_w < b->regul_w;
}

/* ------------------------------------------------------------------------------------------ */
/* the weight factor                                                                          */

struct mu_point {
    double mu;
    struct regul_phi p;
};

static double f_of(const struct mu_point *m, double target)
{
    return m->p.meas - target;
}

struct search {
    const struct regul *r;
    regul_project_fn project;
    void *ctx;
    double *group_phi;
};

static void eval(struct mu_point *m, double mu, const struct search *s)
{
    m->mu = fmin(fmax(mu, DBL_MIN), DBL_MAX);
    s->project(s->ctx, m->mu, s->group_phi);
    split_with(s->r, m->mu, s->group_phi, &m->p);
}

static const struct mu_point *nearest(const struct mu_point *m, double target)
{
    const struct mu_point *b = &m[0];
    for (int k = 1; k < 4; k++)
        if (fabs(f_of(&m[k], target)) < fabs(f_of(b, target))) b = &m[k];
    return b;
}

static void log_point(struct strbuf *log, const struct mu_point *m, double target)
{
    sb_printf(log,
              "      weight factor %-12.6g projected measurement phi %-12.6g (%.3g%% from "
              "the target)\n",
              m->mu, m->p.meas, target > 0 ? 100 * fabs(m->p.meas - target) / target : 0);
}

void regul_adjust(struct regul *r, const struct regul_phi *cur, const double *group_phi,
                  regul_project_fn project, void *ctx, struct strbuf *log)
{
    if (!r->active) return;
    size_t ng = pst_nobsgps(r->c);
    if (r->adj_groups) { /* IREGADJ 1: each regularization group's phi made the average */
        double avg = 0;
        int n = 0;
        for (size_t g = 0; g < ng; g++)
            if (pst_obsgp(r->c, g)->regul) avg += group_phi[g], n++;
        if (n > 0) avg /= n;
        for (size_t g = 0; g < ng; g++)
            if (pst_obsgp(r->c, g)->regul && group_phi[g] > 0 && avg > 0)
                r->gfac[g] = sqrt(avg / group_phi[g]);
    }
    double target = fmax(r->phimlim, cur->meas * r->fracphim);
    sb_printf(log,
              "  regularization weight factor: starting at %.6g (measurement phi %.6g, "
              "regularization phi %.6g); target measurement phi %.6g\n",
              r->mu, cur->meas, cur->regul, target);
    /* bracket the target between m[0] (f < 0, less regularization) and m[3] (f > 0) by steps
     * of WFFAC */
    struct search s = {r, project, ctx, xcalloc(ng + 1, sizeof(double))};
    struct mu_point m[4];
    eval(&m[0], r->mu, &s);
    if (f_of(&m[0], target) < 0) {
        eval(&m[3], fmin(fmax(r->mu * r->wffac, r->wfmin), r->wfmax), &s);
    } else {
        m[3] = m[0];
        eval(&m[0], fmin(fmax(r->mu / r->wffac, r->wfmin), r->wfmax), &s);
    }
    int i = 0;
    for (; i < r->max_iter && f_of(&m[0], target) >= 0 && m[0].mu > r->wfmin; i++) {
        m[3] = m[0];
        eval(&m[0], fmax(m[0].mu / r->wffac, r->wfmin), &s);
        log_point(log, &m[0], target);
    }
    for (; i < r->max_iter && f_of(&m[3], target) <= 0 && m[3].mu < r->wfmax; i++) {
        m[0] = m[3];
        eval(&m[3], fmin(m[3].mu * r->wffac, r->wfmax), &s);
        log_point(log, &m[3], target);
    }
    const struct mu_point *best;
    if (f_of(&m[0], target) > 0 || f_of(&m[3], target) < 0) { /* not bracketed: the nearer */
        best = fabs(f_of(&m[0], target)) < fabs(f_of(&m[3], target)) ? &m[0] : &m[3];
        r->mu = best->mu;
    } else { /* golden sections between m[0] and m[3] */
        double tau = (sqrt(5.0) - 1.0) / 2.0, w = m[3].mu - m[0].mu;
        eval(&m[1], m[0].mu + (1 - tau) * w, &s);
        eval(&m[2], m[3].mu - (1 - tau) * w, &s);
        for (; i < r->max_iter; i++) {
            if (fabs(f_of(&m[0], target)) > fabs(f_of(&m[3], target)) && f_of(&m[0], target) < 0) {
                m[0] = m[1];
                m[1] = m[2];
                w = m[3].mu - m[0].mu;
                eval(&m[2], m[3].mu - (1 - tau) * w, &s);
            } else {
                m[3] = m[2];
                m[2] = m[1];
                w = m[3].mu - m[0].mu;
                eval(&m[1], m[0].mu + (1 - tau) * w, &s);
            }
            const struct mu_point *b = nearest(m, target);
            log_point(log, b, target);
            if (target > 0 && fabs(f_of(b, target)) / target <= r->wftol) break;
        }
        best = nearest(m, target);
        r->mu = best->mu;
    }
    sb_printf(log, "  regularization weight factor: %.6g (projected measurement phi %.6g)\n", r->mu,
              best->p.meas);
    free(s.group_phi);
}

double regul_stop_phi(struct regul *r, const struct regul_phi *p, int *reset)
{
    *reset = 0;
    if (!r->active) return p->meas + p->regul;
    if (!r->accept_achieved && p->meas > r->phimaccept) return p->meas;
    if (!r->accept_achieved) {
        r->accept_achieved = 1;
        *reset = 1;
        return p->regul;
    }
    if (p->meas < r->phimaccept) return p->regul;
    return -1;
}
