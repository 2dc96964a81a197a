#include "jacobian.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pest/objective.h"
#include "util/strbuf.h"
#include "util/text.h"

void jacobian_init(struct jacobian *jac, const struct parspace *ps)
{
    const struct pst_case *c = ps->c;
    memset(jac, 0, sizeof(*jac));
    jac->nrows = pst_nobs(c) + pst_nprior(c);
    jac->ncols = ps->nadj;
    jac->J = xcalloc(jac->nrows * jac->ncols + 1, sizeof(double));
    jac->ok = xcalloc(jac->ncols + 1, 1);
    jac->three = xcalloc(jac->ncols + 1, 1);
    jac->why = xcalloc(jac->ncols + 1, sizeof(char *));
    jac->base_ctl = xcalloc(ps->npar + 1, sizeof(double));
    jac->base_obs = xcalloc(pst_nobs(c) + 1, sizeof(double));
}

void jacobian_free(struct jacobian *jac)
{
    for (size_t k = 0; k < jac->ncols; k++)
        free(jac->why[k]);
    free(jac->why);
    free(jac->J);
    free(jac->ok);
    free(jac->three);
    free(jac->base_ctl);
    free(jac->base_obs);
    memset(jac, 0, sizeof(*jac));
}

/* The perturbation increment of parameter i (natural value p) for its group (SPEC §6.4). */
static double increment(const struct pst_case *c, size_t i, const double *ctl, int central)
{
    const struct pst_param *p = pst_param(c, i);
    const struct pst_pargp *g = pst_pargp(c, (size_t)p->group);
    double inc;
    if (g->inctyp == PST_INC_ABSOLUTE) {
        inc = g->derinc;
    } else if (g->inctyp == PST_INC_RELATIVE) {
        inc = g->derinc * fabs(ctl[i]);
    } else { /* rel_to_max: relative to the largest |value| in the group (PEST) */
        double m = 0;
        for (size_t k = 0; k < pst_nparams(c); k++)
            if (pst_param(c, k)->group == p->group && fabs(ctl[k]) > m) m = fabs(ctl[k]);
        inc = g->derinc * m;
    }
    if (central) inc *= g->derincmul;
    if (g->inctyp != PST_INC_ABSOLUTE && inc < g->derinclb) inc = g->derinclb;
    return inc;
}

static int inside(const struct pst_param *p, double v)
{
    return v >= p->lbnd && v <= p->ubnd;
}

struct pert {
    size_t col;
    int slot; /* 0 or 1: first or second point of the column */
};

struct jrun_ctx {
    size_t nobs, npar;
    double *obs;       /* per run */
    double *written;   /* per run: control values as written */
    unsigned char *ok; /* per run */
    char **why;
    const struct pst_case *c;
};

static void on_done(void *vctx, size_t index, const struct run_result *res, int from_journal)
{
    struct jrun_ctx *x = vctx;
    (void)from_journal;
    if (res->status == RUN_OK) {
        memcpy(x->obs + index * x->nobs, res->obs, x->nobs * sizeof(double));
        pst_model_to_ctl(x->c, res->processed, x->written + index * x->npar);
        x->ok[index] = 1;
    } else {
        x->why[index] = xstrdup(res->reason ? res->reason : "failed");
    }
}

static void col_fail(struct jacobian *jac, size_t k, const char *fmt, const char *name)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), fmt, name);
    free(jac->why[k]);
    jac->why[k] = xstrdup(buf);
    jac->ok[k] = 0;
}

/* d(row)/d(num_k) of the prior-information rows: exact, the equations are known. */
static void prior_rows(struct jacobian *jac, const struct parspace *ps, const double *ctl)
{
    const struct pst_case *c = ps->c;
    size_t nobs = pst_nobs(c);
    for (size_t r = 0; r < pst_nprior(c); r++) {
        const struct pst_prior *pi = pst_prior(c, r);
        for (int t = 0; t < pi->nterms; t++) {
            const struct pst_pi_term *term = &pi->terms[t];
            for (size_t k = 0; k < ps->nadj; k++) {
                if (ps->adj[k] != (size_t)term->param) continue;
                double p = ctl[term->param], d;
                if (term->log && ps->is_log[k])
                    d = term->factor;
                else if (term->log)
                    d = term->factor / (p * log(10.0));
                else if (ps->is_log[k])
                    d = term->factor * p * log(10.0);
                else
                    d = term->factor;
                jac->J[(nobs + r) * jac->ncols + k] += d;
            }
        }
    }
}

/* Derivative from 2 or 3 points (x in numeric space), the base point first. */
static double derivative(const double *x, const double *y, int n, enum pst_dermthd m)
{
    if (n == 2) return (y[1] - y[0]) / (x[1] - x[0]);
    if (m == PST_DER_PARABOLIC) { /* the parabola through the 3 points, at the base point */
        double x0 = x[0], xa = x[1], xb = x[2];
        return y[0] * (2 * x0 - xa - xb) / ((x0 - xa) * (x0 - xb)) +
               y[1] * (x0 - xb) / ((xa - x0) * (xa - xb)) +
               y[2] * (x0 - xa) / ((xb - x0) * (xb - xa));
    }
    if (m == PST_DER_BEST_FIT) { /* least-squares straight line through the 3 points */
        double mx = (x[0] + x[1] + x[2]) / 3, my = (y[0] + y[1] + y[2]) / 3, sxy = 0, sxx = 0;
        for (int i = 0; i < 3; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxy / sxx;
    }
    /* outside_pts: the two outermost points */
    int lo = 0, hi = 0;
    for (int i = 1; i < 3; i++) {
        if (x[i] < x[lo]) lo = i;
        if (x[i] > x[hi]) hi = i;
    }
    return (y[hi] - y[lo]) / (x[hi] - x[lo]);
}

int jacobian_fill(struct jacobian *jac, const struct parspace *ps, struct sched *s,
                  const double *ctl, const double *base_ctl_written, const double *base_obs,
                  const unsigned char *central, struct pr_error *err)
{
    const struct pst_case *c = ps->c;
    size_t npar = ps->npar, nobs = pst_nobs(c), ncols = ps->nadj;
    size_t maxruns = 1 + 2 * ncols, nruns = 0;
    double *model = xcalloc(maxruns * npar + 1, sizeof(double));
    double *pctl = xcalloc(npar + 1, sizeof(double));
    struct pert *pert = xcalloc(maxruns, sizeof(*pert));
    char **info = xcalloc(maxruns + 1, sizeof(char *));
    int *runs_of = xcalloc(2 * ncols + 1, sizeof(int)); /* col*2+slot -> run, -1 none */
    struct jrun_ctx x = {0};
    int base_run = -1, rc = -1;

    memset(jac->J, 0, jac->nrows * ncols * sizeof(double));
    for (size_t k = 0; k < ncols; k++) {
        free(jac->why[k]);
        jac->why[k] = NULL;
        jac->ok[k] = 1;
        jac->three[k] = 0;
        runs_of[2 * k] = runs_of[2 * k + 1] = -1;
    }
    if (!base_obs) {
        base_run = (int)nruns;
        pst_ctl_to_model(c, ctl, model);
        info[nruns] = xstrdup("par_name:__base__");
        nruns++;
    }
    for (size_t k = 0; k < ncols; k++) {
        size_t i = ps->adj[k];
        const struct pst_param *p = pst_param(c, i);
        double v = ctl[i], pts[2];
        int npts = 0;
        int want3 = central && central[k];
        if (want3) {
            double inc = increment(c, i, ctl, 1);
            if (inc > 0) {
                if (inside(p, v - inc) && inside(p, v + inc)) {
                    pts[0] = v - inc, pts[1] = v + inc, npts = 2;
                } else if (!inside(p, v - inc) && inside(p, v + 2 * inc)) {
                    pts[0] = v + inc, pts[1] = v + 2 * inc, npts = 2;
                } else if (!inside(p, v + inc) && inside(p, v - 2 * inc)) {
                    pts[0] = v - inc, pts[1] = v - 2 * inc, npts = 2;
                }
            }
            jac->three[k] = npts == 2;
        }
        if (npts == 0) { /* forward (also the fall-back of central) */
            double inc = increment(c, i, ctl, 0);
            if (inc <= 0) {
                col_fail(jac, k, "parameter '%s': the derivative increment is 0", p->name);
                continue;
            }
            if (inside(p, v + inc))
                pts[0] = v + inc, npts = 1;
            else if (inside(p, v - inc))
                pts[0] = v - inc, npts = 1;
            else {
                col_fail(jac, k, "parameter '%s': both v + inc and v - inc are outside its bounds",
                         p->name);
                continue;
            }
        }
        for (int j = 0; j < npts; j++) {
            memcpy(pctl, ctl, npar * sizeof(double));
            pctl[i] = pts[j];
            pst_ctl_to_model(c, pctl, model + nruns * npar);
            struct strbuf sb = {0};
            sb_printf(&sb, "par_name:%s", p->name);
            info[nruns] = sb_take(&sb);
            pert[nruns].col = k;
            pert[nruns].slot = j;
            runs_of[2 * k + j] = (int)nruns;
            nruns++;
        }
    }
    x.nobs = nobs;
    x.npar = npar;
    x.c = c;
    x.obs = xcalloc(nruns * nobs + 1, sizeof(double));
    x.written = xcalloc(nruns * npar + 1, sizeof(double));
    x.ok = xcalloc(nruns + 1, 1);
    x.why = xcalloc(nruns + 1, sizeof(char *));
    int b = sched_run_batch(s, nruns, model, (const char *const *)info, on_done, &x, err);
    if (b != 0) {
        rc = b;
        goto done;
    }
    jac->runs = nruns;
    if (base_run >= 0) {
        if (!x.ok[base_run]) {
            pr_error_set(err, "the base model run failed: %s", x.why[base_run]);
            goto done;
        }
        memcpy(jac->base_obs, x.obs + (size_t)base_run * nobs, nobs * sizeof(double));
        memcpy(jac->base_ctl, x.written + (size_t)base_run * npar, npar * sizeof(double));
    } else {
        memcpy(jac->base_obs, base_obs, nobs * sizeof(double));
        memcpy(jac->base_ctl, base_ctl_written ? base_ctl_written : ctl, npar * sizeof(double));
    }
    size_t nok = 0;
    for (size_t k = 0; k < ncols; k++) {
        if (!jac->ok[k]) continue;
        size_t i = ps->adj[k];
        int n = 1;
        double xs[3], y[3];
        const struct pst_param *p = pst_param(c, i);
        enum pst_dermthd m = pst_pargp(c, (size_t)p->group)->dermthd;
        xs[0] = ps->is_log[k] ? log10(jac->base_ctl[i]) : jac->base_ctl[i];
        int failed = 0;
        for (int j = 0; j < 2; j++) {
            int r = runs_of[2 * k + j];
            if (r < 0) continue;
            if (!x.ok[r]) {
                col_fail(jac, k, "%s", x.why[r]);
                failed = 1;
                break;
            }
            double w = x.written[(size_t)r * npar + i];
            xs[n] = ps->is_log[k] ? log10(w) : w;
            n++;
        }
        if (failed) continue;
        for (int j = 1; j < n; j++)
            if (xs[j] == xs[0]) {
                col_fail(jac, k,
                         "parameter '%s': the perturbed value is written the same as the base "
                         "value (the template space is too narrow)",
                         p->name);
                failed = 1;
            }
        if (failed) continue;
        for (size_t o = 0; o < nobs; o++) {
            y[0] = jac->base_obs[o];
            for (int j = 1; j < n; j++)
                y[j] = x.obs[(size_t)runs_of[2 * k + j - 1] * nobs + o];
            jac->J[o * ncols + k] = derivative(xs, y, n, m);
        }
        nok++;
    }
    prior_rows(jac, ps, jac->base_ctl);
    if (nok == 0 && ncols > 0) {
        pr_error_set(err, "every derivative failed; the first: %s",
                     jac->why[0] ? jac->why[0] : "?");
        goto done;
    }
    rc = 0;
done:
    for (size_t r = 0; r < nruns; r++) {
        free(info[r]);
        free(x.why[r]);
    }
    free(info);
    free(x.why);
    free(x.obs);
    free(x.written);
    free(x.ok);
    free(model);
    free(pctl);
    free(pert);
    free(runs_of);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

static void put_name(FILE *f, const char *name, size_t width)
{
    char buf[256];
    size_t n = strlen(name);
    memset(buf, ' ', width);
    for (size_t i = 0; i < n && i < width; i++)
        buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    fwrite(buf, 1, width, f);
}

int jacobian_write_jcb(const struct jacobian *jac, const struct parspace *ps, const char *path,
                       struct pr_error *err)
{
    const struct pst_case *c = ps->c;
    size_t nobs = pst_nobs(c), ncol = 0, nnz = 0;
    int extended = 0;
    FILE *f = fopen(path, "wb");

    if (!f) return pr_error_set(err, "%s: cannot write: %m", path);
    for (size_t k = 0; k < jac->ncols; k++)
        if (jac->ok[k]) {
            ncol++;
            if (strlen(pst_param(c, ps->adj[k])->name) > 12) extended = 1;
        }
    for (size_t r = 0; r < jac->nrows; r++) {
        const char *name = r < nobs ? pst_obs(c, r)->name : pst_prior(c, r - nobs)->name;
        if (strlen(name) > 20) extended = 1;
        for (size_t k = 0; k < jac->ncols; k++)
            nnz += jac->ok[k] && jac->J[r * jac->ncols + k] != 0.0;
    }
    int32_t hdr[3] = {extended ? (int32_t)ncol : -(int32_t)ncol,
                      extended ? (int32_t)jac->nrows : -(int32_t)jac->nrows, (int32_t)nnz};
    fwrite(hdr, sizeof(int32_t), 3, f);
    size_t col = 0;
    for (size_t k = 0; k < jac->ncols; k++) { /* column-major */
        if (!jac->ok[k]) continue;
        for (size_t r = 0; r < jac->nrows; r++) {
            double v = jac->J[r * jac->ncols + k];
            if (v == 0.0) continue;
            if (extended) {
                int32_t rc[2] = {(int32_t)r, (int32_t)col};
                fwrite(rc, sizeof(int32_t), 2, f);
            } else {
                int32_t idx = (int32_t)(r + col * jac->nrows + 1);
                fwrite(&idx, sizeof(int32_t), 1, f);
            }
            fwrite(&v, sizeof(double), 1, f);
        }
        col++;
    }
    for (size_t k = 0; k < jac->ncols; k++)
        if (jac->ok[k]) put_name(f, pst_param(c, ps->adj[k])->name, extended ? 200 : 12);
    for (size_t r = 0; r < jac->nrows; r++)
        put_name(f, r < nobs ? pst_obs(c, r)->name : pst_prior(c, r - nobs)->name,
                 extended ? 200 : 20);
    if (fclose(f) != 0) return pr_error_set(err, "%s: cannot write: %m", path);
    return 0;
}
