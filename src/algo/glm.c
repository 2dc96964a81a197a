#include "glm.h"

#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/fosm.h"
#include "algo/jacobian.h"
#include "algo/parspace.h"
#include "algo/regul.h"
#include "algo/super.h"
#include "algo/upgrade.h"
#include "pest/objective.h"
#include "pest/outputs.h"
#include "pest/pst_support.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/clock.h"

/* Everything one calibration holds: small (parameters, one Jacobian, a few candidates). */
struct glm {
    const struct pst_case *c;
    const char *pst_path;
    struct sched *s;
    struct parspace ps;
    struct jacobian jac;
    size_t npar, nobs, ncols, nrows;
    double *ctl; /* current control values (as written) */
    double *obs; /* current simulated values */
    double phi;  /* current phi */
    double phi_start;
    double *lambdas; /* the ++lambdas multipliers, sorted */
    size_t nlambdas;
    double center;  /* the lambda the window is centred on */
    double *scales; /* 1 then ++lambda_scale_fac */
    size_t nscales;
    unsigned char *central;
    int jac_scale;
    int switched;
    int have_base, jac_current;
    /* options */
    enum upgrade_form form;
    int tied_bounds, rebase_super;
    int n_iter_base, n_iter_super, max_n_super;
    double super_eigthres, super_relparmax;
    double *prior_sd;       /* per numeric parameter: prior stdev from the bounds */
    const double *parcov;   /* ++parcov (ncols x ncols, numeric order), or NULL */
    double *prior_inv;      /* C^-1 of all adjustable parameters (ncols x ncols) */
    double *init_num;       /* the initial values in numeric space */
    struct regul *reg;      /* regularization mode's weights (identity in estimation mode) */
    struct fosm *fosm;      /* FOSM: prior and posterior uncertainty, forecasts, realizations */
    double *obs0;           /* the simulated values at the initial parameters */
    struct regul_phi parts; /* the current point's phi parts */
    /* SVD-assist */
    struct super_tf sup;
    double *Js;    /* nrows x sup.k */
    double *s_cur; /* the super parameters' current values */
    size_t runs;
    FILE *rec, *iobj, *ipar, *iruns;
    double t0;
    char *path_par, *path_rei, *path_jcb;
};

static void rec(struct glm *g, const char *fmt, ...) PR_PRINTF(2, 3);
static void rec(struct glm *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->rec, fmt, ap);
    va_end(ap);
    fflush(g->rec);
}

static const char *lname(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s", name);
    pr_lower(buf);
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ++lambdas (sorted) and the step scale factors: 1 first, then each of ++lambda_scale_fac
 * that is positive and not 1. */
static int lambda_grid(const struct pst_case *c, double **lambdas, size_t *nl, double **scales,
                       size_t *ns, struct pr_error *err)
{
    if (pr_parse_double_list(pst_opt_str(c, "lambdas", "0.1,1,10,100,1000"), lambdas, nl) < 0 ||
        *nl == 0)
        return pr_error_set(err, "++lambdas: expected a list of numbers, got '%s'",
                            pst_opt_str(c, "lambdas", ""));
    qsort(*lambdas, *nl, sizeof(double), cmp_double);
    double *sf;
    size_t nsf;
    if (pr_parse_double_list(pst_opt_str(c, "lambda_scale_fac", "0.75,1.1"), &sf, &nsf) < 0) {
        free(sf);
        return pr_error_set(err, "++lambda_scale_fac: expected a list of numbers");
    }
    *scales = xcalloc(nsf + 2, sizeof(double));
    *ns = 0;
    (*scales)[(*ns)++] = 1.0;
    for (size_t i = 0; i < nsf; i++)
        if (sf[i] != 1.0 && sf[i] > 0) (*scales)[(*ns)++] = sf[i];
    free(sf);
    return 0;
}

int glm_lambda_tests(const struct pst_case *c, size_t *runs, size_t *super_runs,
                     struct pr_error *err)
{
    double *l = NULL, *sc = NULL;
    size_t nl = 0, ns = 0, nsuper = 0;
    int rc = lambda_grid(c, &l, &nl, &sc, &ns, err);
    for (size_t f = 0; f < ns; f++)
        nsuper += !(sc[f] > 1); /* as test_lambdas: super iterations do not lengthen the step */
    *runs = nl * ns;
    *super_runs = nl * nsuper;
    free(l);
    free(sc);
    return rc;
}


/* The phi parts of a run; group_phi (pst_nobsgps values) receives the groups' phis. */
static void parts_of(const struct glm *g, const double *sim, const double *ctl,
                     struct regul_phi *out)
{
    double *groups = xcalloc(pst_nobsgps(g->c) + 1, sizeof(double));
    struct phi_parts p = {.group = groups};
    pst_phi(g->c, sim, ctl, &p);
    regul_split(g->reg, groups, out);
    free(groups);
}

/* Phi as PEST++ reports it: measurement plus weighted regularization phi. */
static double phi_total(const struct regul_phi *p)
{
    return p->meas + p->regul_w;
}

/* Record the current point: its phi and phi parts. */
static void set_current(struct glm *g)
{
    parts_of(g, g->obs, g->ctl, &g->parts);
    g->phi = phi_total(&g->parts);
}

/* ------------------------------------------------------------------------------------------ */
/* outputs                                                                                    */

static int open_outputs(struct glm *g, struct pr_error *err)
{
    char *p_rec = pst_output_path(g->pst_path, "rec"),
         *p_iobj = pst_output_path(g->pst_path, "iobj"),
         *p_ipar = pst_output_path(g->pst_path, "ipar"),
         *p_iruns = pst_output_path(g->pst_path, "iruns.csv");
    char name[1024];
    g->rec = fopen(p_rec, "w");
    g->iobj = fopen(p_iobj, "w");
    g->ipar = fopen(p_ipar, "w");
    g->iruns = fopen(p_iruns, "w");
    free(p_iruns);
    g->t0 = pr_now_s();
    int rc = 0;
    if (!g->rec || !g->iobj || !g->ipar || !g->iruns)
        rc = pr_error_set(err, "cannot write the outputs beside %s (%s, %s, %s)", g->pst_path,
                          p_rec, p_iobj, p_ipar);
    free(p_rec);
    free(p_iobj);
    free(p_ipar);
    if (rc < 0) return -1;
    fprintf(g->iobj, "iteration,model_runs_completed,total_phi,measurement_phi,regularization_phi");
    for (size_t k = 0; k < pst_nobsgps(g->c); k++)
        fprintf(g->iobj, ",%s", lname(pst_obsgp(g->c, k)->name, name, sizeof(name)));
    fputc('\n', g->iobj);
    fprintf(g->iruns, "iteration,model_runs_completed,elapsed_s,lambda\n");
    fprintf(g->ipar, "iteration");
    for (size_t i = 0; i < g->npar; i++)
        fprintf(g->ipar, ",%s", lname(pst_param(g->c, i)->name, name, sizeof(name)));
    fputc('\n', g->ipar);
    g->path_par = pst_output_path(g->pst_path, "par");
    g->path_rei = pst_output_path(g->pst_path, "rei");
    g->path_jcb = pst_output_path(g->pst_path, "jcb");
    return 0;
}

static void write_iteration_rows(struct glm *g, int iter)
{
    size_t ng = pst_nobsgps(g->c);
    double *groups = xcalloc(ng + 1, sizeof(double));
    struct phi_parts p = {.group = groups};
    struct regul_phi rp;
    pst_phi(g->c, g->obs, g->ctl, &p);
    regul_split(g->reg, groups, &rp);
    for (size_t k = 0; k < ng; k++) /* regularization groups as weighted (PEST++) */
        groups[k] *= pow(regul_row_factor(g->reg, (int)k), 2);
    p.total = phi_total(&rp), p.meas = rp.meas, p.regul = rp.regul_w;
    /* PEST++ counts no runs at iteration 0 (the base run is counted with iteration 1) */
    fprintf(g->iobj, "%d,%zu,%.6g,%.6g,%.6g", iter, iter ? g->runs : 0, p.total, p.meas, p.regul);
    for (size_t k = 0; k < ng; k++)
        fprintf(g->iobj, ",%.6g", groups[k]);
    fputc('\n', g->iobj);
    fflush(g->iobj);
    fprintf(g->iruns, "%d,%zu,%.3f,%.6g\n", iter, g->runs, pr_now_s() - g->t0, g->center);
    fflush(g->iruns);
    fprintf(g->ipar, "%d", iter);
    for (size_t i = 0; i < g->npar; i++)
        fprintf(g->ipar, ",%.6g", g->ctl[i]);
    fputc('\n', g->ipar);
    fflush(g->ipar);
    rec(g, "  phi: total %.8g (measurement %.8g, regularization %.8g)\n", p.total, p.meas, p.regul);
    if (regul_active(g->reg))
        rec(g, "  regularization weight factor %.8g; regularization phi with unit weights %.8g\n",
            regul_weight(g->reg), rp.regul);
    size_t *items = xcalloc(2 * ng + 1, sizeof(size_t)), *weighted = items + ng;
    for (size_t i = 0; i < pst_nobs(g->c); i++) { /* what phi is made of, per group */
        items[pst_obs(g->c, i)->group]++;
        weighted[pst_obs(g->c, i)->group] += pst_obs(g->c, i)->weight != 0.0;
    }
    for (size_t i = 0; i < pst_nprior(g->c); i++) {
        items[pst_prior(g->c, i)->group]++;
        weighted[pst_prior(g->c, i)->group] += pst_prior(g->c, i)->weight != 0.0;
    }
    for (size_t k = 0; k < ng; k++) {
        char name[1024];
        rec(g, "    group %-20s %-16.8g %zu item%s, %zu weighted\n",
            lname(pst_obsgp(g->c, k)->name, name, sizeof(name)), groups[k], items[k],
            items[k] == 1 ? "" : "s", weighted[k]);
    }
    free(items);
    free(groups);
}

static int write_best(struct glm *g, int iter, struct pr_error *err)
{
    if (pst_write_par(g->c, g->path_par, g->ctl, err) < 0 ||
        pst_write_rei(g->c, g->path_rei, iter, g->obs, g->ctl, err) < 0)
        return -1;
    char *best = pst_output_path(g->pst_path, "best.pst");
    int rc = pst_write_with_values(g->c, best, g->ctl, err);
    free(best);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* the weighted system                                                                        */

/* The rows of J (nrows x ldj) with non-zero weight, restricted to the n columns col[], times
 * their weights, and the weighted residuals at the current point. Returns the row count. */
/* Row r's weight as given in the control file, its group and its residual. */
static double row_of(const struct glm *g, size_t r, int *group, double *res)
{
    double w;
    if (r < g->nobs) {
        const struct pst_obs *o = pst_obs(g->c, r);
        w = o->weight;
        *group = o->group;
        *res = o->value - g->obs[r];
    } else {
        const struct pst_prior *pi = pst_prior(g->c, r - g->nobs);
        w = pi->weight;
        *group = pi->group;
        *res = pi->pival - pst_prior_value(g->c, r - g->nobs, g->ctl);
    }
    return w;
}

static size_t weighted_rows_at(const struct glm *g, double mu, const double *J, size_t ldj,
                               const size_t *col, size_t n, double *Jw, double *rw)
{
    size_t m = 0;
    for (size_t r = 0; r < g->nrows; r++) {
        int group;
        double res, w = row_of(g, r, &group, &res) * regul_row_factor_at(g->reg, group, mu);
        if (w <= 0) continue;
        for (size_t j = 0; j < n; j++)
            Jw[m * n + j] = w * J[r * ldj + (col ? col[j] : j)];
        rw[m] = w * res;
        m++;
    }
    return m;
}

static size_t weighted_rows(const struct glm *g, const double *J, size_t ldj, const size_t *col,
                            size_t n, double *Jw, double *rw)
{
    return weighted_rows_at(g, regul_weight(g->reg), J, ldj, col, n, Jw, rw);
}

static void clamp_bounds(const struct glm *g, double *ctl)
{
    for (size_t k = 0; k < g->ncols; k++) {
        size_t i = g->ps.adj[k];
        const struct pst_param *p = pst_param(g->c, i);
        if (ctl[i] > p->ubnd) ctl[i] = p->ubnd;
        if (ctl[i] < p->lbnd) ctl[i] = p->lbnd;
    }
    parspace_fix_tied(&g->ps, ctl);
}

/* ------------------------------------------------------------------------------------------ */
/* change limits and bounds (SPEC §6.5.4)                                                     */

static int at_bound_outward(const struct pst_param *p, double v, double du_natural)
{
    double tol = 1e-7;
    if (du_natural > 0 && v >= p->ubnd - tol * fabs(p->ubnd)) return 1;
    if (du_natural < 0 && v <= p->lbnd + tol * fabs(p->lbnd)) return 1;
    return 0;
}

/* The interval RELPARMAX / FACPARMAX allow parameter i from its current value (natural). */
static void change_window(const struct glm *g, size_t i, double *lo, double *hi)
{
    const struct pst_control *ctl = pst_control(g->c);
    const struct pst_param *p = pst_param(g->c, i);
    double last = g->ctl[i];
    if (p->trans == PST_TRANS_NONE) { /* FACORIG: the reference value never nears zero */
        double floor = ctl->facorig * fabs(p->parval1);
        if (fabs(last) < floor) last = last < 0 ? -floor : floor;
    }
    double F = ctl->facparmax, R = ctl->relparmax;
    if (p->chglim == PST_CHG_FACTOR) {
        *lo = last > 0 ? last / F : last * F;
        *hi = last > 0 ? last * F : last / F;
    } else {
        *lo = last - fabs(last) * R;
        *hi = last + fabs(last) * R;
    }
}

/* PEST++'s default: each parameter is clamped into its change window and its bounds on its own
 * (the step's direction changes). Returns how many were clamped by a change limit. */
static int clamp_each(const struct glm *g, const double *num, double *cand)
{
    int clamped = 0;
    memcpy(cand, g->ctl, g->npar * sizeof(double));
    parspace_from_num(&g->ps, num, cand);
    for (size_t k = 0; k < g->ncols; k++) {
        size_t i = g->ps.adj[k];
        const struct pst_param *p = pst_param(g->c, i);
        double lo, hi, v = cand[i];
        change_window(g, i, &lo, &hi);
        if (v > hi) v = hi, clamped++;
        if (v < lo) v = lo, clamped++;
        if (v > p->ubnd) v = p->ubnd;
        if (v < p->lbnd) v = p->lbnd;
        cand[i] = v;
    }
    parspace_fix_tied(&g->ps, cand);
    return clamped;
}

/* PEST's rule (++enforce_tied_bounds): the whole numeric step u is scaled by the largest
 * s <= 1 that keeps every parameter within its change window and (0.1% tolerance) its
 * bounds; then a final clamp to the bounds. */
static void scale_whole(const struct glm *g, const double *cur, const double *u, double *cand)
{
    double s = 1.0;
    for (size_t k = 0; k < g->ncols; k++) {
        if (u[k] == 0.0) continue;
        size_t i = g->ps.adj[k];
        const struct pst_param *p = pst_param(g->c, i);
        double lo, hi;
        change_window(g, i, &lo, &hi);
        double ub = fmin(hi, p->ubnd + fabs(p->ubnd) * 1e-3);
        double lb = fmax(lo, p->lbnd - fabs(p->lbnd) * 1e-3);
        double to = g->ps.is_log[k] ? pow(10.0, cur[k] + u[k]) : cur[k] + u[k];
        double last = g->ctl[i];
        if (to > ub && to != last) s = fmin(s, fabs((ub - last) / (to - last)));
        if (to < lb && to != last) s = fmin(s, fabs((last - lb) / (last - to)));
    }
    double *num = xcalloc(g->ncols + 1, sizeof(double));
    for (size_t k = 0; k < g->ncols; k++) {
        size_t i = g->ps.adj[k];
        double last = g->ctl[i], to = g->ps.is_log[k] ? pow(10.0, cur[k] + u[k]) : cur[k] + u[k];
        double v = last + s * (to - last); /* in natural space, as PEST does */
        num[k] = g->ps.is_log[k] ? log10(v > 0 ? v : pst_param(g->c, i)->lbnd) : v;
    }
    memcpy(cand, g->ctl, g->npar * sizeof(double));
    parspace_from_num(&g->ps, num, cand);
    free(num);
    clamp_bounds(g, cand);
}

/* ------------------------------------------------------------------------------------------ */
/* the prior                                                                                  */

/* C^-1 of the n numeric parameters col[] (all of them when col is NULL) into out (n x n): the
 * inverse of their block of C, from ++parcov or the bounds (diagonal). Returns 0, or -1 with
 * err set when the block is not positive definite. */
static int prior_inverse(const struct glm *g, const size_t *col, size_t n, double *out,
                         struct pr_error *err)
{
    memset(out, 0, n * n * sizeof(double));
    if (!g->parcov) {
        for (size_t a = 0; a < n; a++) {
            double sd = g->prior_sd[col ? col[a] : a];
            out[a * n + a] = 1.0 / (sd * sd);
        }
        return 0;
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            out[a * n + b] = g->parcov[(col ? col[a] : a) * g->ncols + (col ? col[b] : b)];
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, out, (lapack_int)n);
    if (info == 0) info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, out, (lapack_int)n);
    if (info != 0)
        return pr_error_set(err,
                            "++parcov: the prior covariance is not positive definite "
                            "(LAPACK info %d)",
                            (int)info);
    for (size_t a = 0; a < n; a++) /* dpotri fills the upper triangle */
        for (size_t b = 0; b < a; b++)
            out[a * n + b] = out[b * n + a];
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* candidates                                                                                 */

/* The base-parameter upgrade for lambda as a control vector in cand. Parameters at a bound
 * whose step points outward are frozen and the upgrade recomputed (SPEC §6.5.1). */
static int base_candidate(struct glm *g, double lambda, double *cand, char *note, size_t notesz,
                          struct pr_error *err)
{
    size_t ncols = g->ncols;
    unsigned char *frozen = xcalloc(ncols + 1, 1);
    double *cur = xcalloc(ncols + 1, sizeof(double));
    double *u = xcalloc(ncols + 1, sizeof(double));
    double *full = xcalloc(ncols + 1, sizeof(double));
    double *num = xcalloc(ncols + 1, sizeof(double));
    double *pinv = xcalloc(ncols * ncols + 1, sizeof(double));
    double *pdev = xcalloc(ncols + 1, sizeof(double));
    size_t *col = xcalloc(ncols + 1, sizeof(size_t));
    double *Jw = xcalloc(g->nrows * ncols + 1, sizeof(double));
    double *rw = xcalloc(g->nrows + 1, sizeof(double));
    int kept = -1;

    for (size_t k = 0; k < ncols; k++)
        frozen[k] = !g->jac.ok[k];
    parspace_to_num(&g->ps, g->ctl, cur);
    for (size_t pass = 0; pass <= ncols; pass++) {
        size_t n = 0;
        for (size_t k = 0; k < ncols; k++)
            if (!frozen[k]) {
                pdev[n] = cur[k] - g->init_num[k];
                col[n++] = k;
            }
        if (g->form == UPGRADE_PRIOR && prior_inverse(g, col, n, pinv, err) < 0) goto done;
        size_t m = weighted_rows(g, g->jac.J, ncols, col, n, Jw, rw);
        struct upgrade_problem prob = {m,
                                       n,
                                       Jw,
                                       rw,
                                       pst_control(g->c)->eigthresh,
                                       pst_control(g->c)->maxsing,
                                       g->jac_scale,
                                       g->form,
                                       pinv,
                                       pdev};
        kept = upgrade_solve(&prob, lambda, u, err);
        if (kept < 0) goto done;
        memset(full, 0, ncols * sizeof(double));
        for (size_t j = 0; j < n; j++)
            full[col[j]] = u[j];
        int more = 0;
        for (size_t j = 0; j < n; j++) {
            size_t k = col[j], i = g->ps.adj[k];
            if (at_bound_outward(pst_param(g->c, i), g->ctl[i], full[k])) {
                frozen[k] = 1;
                more = 1;
            }
        }
        if (!more) break;
    }
    int nfrozen = 0, nclamped = 0;
    for (size_t k = 0; k < ncols; k++)
        nfrozen += frozen[k] && g->jac.ok[k];
    if (g->tied_bounds) {
        scale_whole(g, cur, full, cand);
    } else {
        for (size_t k = 0; k < ncols; k++)
            num[k] = cur[k] + full[k];
        nclamped = clamp_each(g, num, cand);
    }
    snprintf(note, notesz, "%d singular values, %d at bounds frozen, %d change-limited", kept,
             nfrozen, nclamped);
done:
    free(frozen);
    free(cur);
    free(u);
    free(full);
    free(num);
    free(pinv);
    free(pdev);
    free(col);
    free(Jw);
    free(rw);
    return kept;
}

/* The super-parameter upgrade for lambda (PEST++ SVDASolver): the diag normal form in super
 * space, each super parameter limited by ++super_relparmax of its value, then the base
 * parameters clamped to their bounds (no base change limits). */
static int super_candidate(struct glm *g, double lambda, double *cand, char *note, size_t notesz,
                           struct pr_error *err)
{
    struct super_tf *t = &g->sup;
    size_t k = t->k;
    double *Jw = xcalloc(g->nrows * k + 1, sizeof(double));
    double *rw = xcalloc(g->nrows + 1, sizeof(double));
    double *u = xcalloc(k + 1, sizeof(double));
    double *dp = xcalloc(g->ncols + 1, sizeof(double));
    double *num = xcalloc(g->ncols + 1, sizeof(double));
    size_t m = weighted_rows(g, g->Js, k, NULL, k, Jw, rw);
    struct upgrade_problem prob = {m,
                                   k,
                                   Jw,
                                   rw,
                                   pst_control(g->c)->eigthresh,
                                   pst_control(g->c)->maxsing,
                                   g->jac_scale,
                                   UPGRADE_DIAG,
                                   NULL,
                                   NULL};
    int kept = upgrade_solve(&prob, lambda, u, err), limited = 0;
    if (kept >= 0) {
        for (size_t i = 0; i < k; i++) {
            double lim = g->super_relparmax * fabs(g->s_cur[i]);
            if (fabs(u[i]) > lim) {
                u[i] = u[i] > 0 ? lim : -lim;
                limited++;
            }
        }
        super_step(t, u, dp);
        parspace_to_num(&g->ps, g->ctl, num);
        for (size_t j = 0; j < g->ncols; j++)
            num[j] += dp[j];
        memcpy(cand, g->ctl, g->npar * sizeof(double));
        parspace_from_num(&g->ps, num, cand);
        clamp_bounds(g, cand);
        snprintf(note, notesz, "%d singular values, %d super parameters at SUPER_RELPARMAX", kept,
                 limited);
    }
    free(Jw);
    free(rw);
    free(u);
    free(dp);
    free(num);
    return kept;
}

/* ------------------------------------------------------------------------------------------ */
/* one iteration                                                                              */

struct cand_ctx {
    size_t nobs, npar;
    const struct pst_case *c;
    double *obs, *written;
    unsigned char *ok;
};

static void cand_done(void *vctx, size_t index, const struct run_result *res, int from_journal)
{
    struct cand_ctx *x = vctx;
    (void)from_journal;
    if (res->status != RUN_OK) return;
    memcpy(x->obs + index * x->nobs, res->obs, x->nobs * sizeof(double));
    pst_model_to_ctl(x->c, res->processed, x->written + index * x->npar);
    x->ok[index] = 1;
}

static void cand_init(struct cand_ctx *x, const struct glm *g, size_t n)
{
    x->nobs = g->nobs;
    x->npar = g->npar;
    x->c = g->c;
    x->obs = xcalloc(n * g->nobs + 1, sizeof(double));
    x->written = xcalloc(n * g->npar + 1, sizeof(double));
    x->ok = xcalloc(n + 1, 1);
}

static void cand_free(struct cand_ctx *x)
{
    free(x->obs);
    free(x->written);
    free(x->ok);
}

/* Run the n control vectors ctl (n x npar, row-major) in one batch, labelled by info; x, made
 * by cand_init for n runs, receives the values as written and the observations. The runs are
 * counted. Returns 0, 2 when stopped, -1 with err set. */
static int run_batch(struct glm *g, size_t n, const double *ctl, const char *const *info,
                     struct cand_ctx *x, struct pr_error *err)
{
    double *model = xcalloc(n * g->npar + 1, sizeof(double));
    for (size_t i = 0; i < n; i++)
        pst_ctl_to_model(g->c, ctl + i * g->npar, model + i * g->npar);
    int b = sched_run_batch(g->s, n, model, info, cand_done, x, err);
    free(model);
    if (b == 0) g->runs += n;
    return b < 0 ? -1 : b ? 2 : 0;
}

/* Run the current control values once (label names the run in the journal and the logs); the
 * values as written and the observations become the current point. Returns 0, 2 when
 * stopped, -1 with err set (what names the run in the message). */
static int run_current(struct glm *g, const char *label, const char *what, struct pr_error *err)
{
    struct cand_ctx x;
    cand_init(&x, g, 1);
    const char *info[1] = {label};
    int rc = run_batch(g, 1, g->ctl, info, &x, err);
    if (rc == 0 && !x.ok[0]) rc = pr_error_set(err, "the model run %s failed", what);
    if (rc == 0) {
        memcpy(g->ctl, x.written, g->npar * sizeof(double));
        memcpy(g->obs, x.obs, g->nobs * sizeof(double));
        set_current(g);
    }
    cand_free(&x);
    return rc;
}

typedef int (*candidate_fn)(struct glm *g, double lambda, double *cand, char *note, size_t notesz,
                            struct pr_error *err);

/* Test every lambda and scale; move to the best candidate when it lowers phi. The super
 * iterations test only the scale factors below 1, as PEST++ does. Returns 1 when it moved, 0
 * when no candidate was better, 2 when stopped, -1 on error. */
static int test_lambdas(struct glm *g, candidate_fn make, int super, double *best_lambda,
                        struct pr_error *err)
{
    size_t nc = g->nlambdas * g->nscales, npar = g->npar, nobs = g->nobs;
    double *cands = xcalloc(nc * npar + 1, sizeof(double));
    double *lam = xcalloc(nc + 1, sizeof(double));
    double *cur_num = xcalloc(g->ncols + 1, sizeof(double));
    double *num = xcalloc(g->ncols + 1, sizeof(double));
    double *pl = xcalloc(g->ncols + 1, sizeof(double));
    char **info = xcalloc(nc + 1, sizeof(char *));
    struct cand_ctx x;
    cand_init(&x, g, nc);
    int rc = -1;
    size_t n = 0;

    parspace_to_num(&g->ps, g->ctl, cur_num);
    for (size_t l = 0; l < g->nlambdas; l++) {
        double lambda = g->center * g->lambdas[l];
        char note[160];
        double *base = cands + n * npar;
        if (make(g, lambda, base, note, sizeof(note), err) < 0) goto done;
        rec(g, "    lambda %-10.4g %s\n", lambda, note);
        for (size_t f = 0; f < g->nscales; f++) {
            double *cand = cands + n * npar;
            if (super && g->scales[f] > 1) continue;
            if (f > 0) { /* base + f (p_lambda - base), in numeric space, inside the bounds */
                parspace_to_num(&g->ps, base, pl);
                for (size_t k = 0; k < g->ncols; k++)
                    num[k] = cur_num[k] + g->scales[f] * (pl[k] - cur_num[k]);
                memcpy(cand, g->ctl, npar * sizeof(double));
                parspace_from_num(&g->ps, num, cand);
                clamp_bounds(g, cand);
            }
            lam[n] = lambda;
            struct strbuf sb = {0};
            if (f == 0)
                sb_puts(&sb, super ? "super normal" : "normal");
            else
                sb_printf(&sb, "%sscale(%g)", super ? "super " : "", g->scales[f]);
            info[n] = sb_take(&sb);
            n++;
        }
    }
    int b = run_batch(g, n, cands, (const char *const *)info, &x, err);
    if (b != 0) {
        rc = b;
        goto done;
    }
    int best = -1;
    struct regul_phi best_parts = {0}, cp;
    double best_phi = INFINITY;
    rec(g, "  lambdas tested (%zu runs):\n", n);
    for (size_t k = 0; k < n; k++) {
        if (!x.ok[k]) {
            rec(g, "    Lambda = %10.4g; Type: %-18s; the run failed\n", lam[k], info[k]);
            continue;
        }
        parts_of(g, x.obs + k * nobs, x.written + k * npar, &cp);
        double ph = phi_total(&cp);
        double len = 0;
        parspace_to_num(&g->ps, x.written + k * npar, num);
        for (size_t j = 0; j < g->ncols; j++)
            len += (num[j] - cur_num[j]) * (num[j] - cur_num[j]);
        rec(g,
            "    Lambda = %10.4g; Type: %-18s; length = %9.3e; phi = %-12.6g (%.2f%% of starting "
            "phi)",
            lam[k], info[k], sqrt(len), ph, g->phi_start > 0 ? 100 * ph / g->phi_start : 0);
        if (regul_active(g->reg))
            rec(g, "; measurement %.6g, regularization %.6g", cp.meas, cp.regul);
        rec(g, "\n");
        /* strict: the first of equal phis wins, deterministically */
        if (best < 0 || regul_better(g->reg, &cp, &best_parts)) {
            best_phi = ph;
            best_parts = cp;
            best = (int)k;
        }
    }
    if (best < 0 || !regul_better(g->reg, &best_parts, &g->parts)) {
        /* PEST's rule, not PEST++'s (SPEC §9 item 21): a worse candidate is not accepted; the
         * parameters stay and lambda goes up */
        rec(g, "  no candidate lowered phi (%.8g): parameters unchanged\n", g->phi);
        rc = 0;
        goto done;
    }
    /* how many parameters moved by more than FACPARMAX (in super iterations nothing limits the
     * base parameters but their bounds: that is how pestpp-glm moves them far) */
    int past = 0;
    for (size_t k = 0; k < g->ncols; k++) {
        size_t i = g->ps.adj[k];
        double a = g->ctl[i], v = x.written[(size_t)best * npar + i];
        if (a != 0 && v / a > 0 && fmax(v / a, a / v) > pst_control(g->c)->facparmax * (1 + 1e-9))
            past++;
    }
    if (past)
        rec(g, "  %d parameters moved by more than FACPARMAX (%g)%s\n", past,
            pst_control(g->c)->facparmax,
            super ? ": super iterations limit super parameters, not base ones, as PEST++" : "");
    if (super) { /* the super parameters' values at the accepted point */
        parspace_to_num(&g->ps, x.written + (size_t)best * npar, num);
        for (size_t j = 0; j < g->ncols; j++)
            pl[j] = num[j] - cur_num[j];
        for (size_t i = 0; i < g->sup.k; i++)
            g->s_cur[i] += super_along(&g->sup, i, pl);
    }
    memcpy(g->ctl, x.written + (size_t)best * npar, npar * sizeof(double));
    memcpy(g->obs, x.obs + (size_t)best * nobs, nobs * sizeof(double));
    g->phi = best_phi;
    g->parts = best_parts;
    *best_lambda = lam[best];
    rec(g, "  accepted lambda %.4g, %s: phi %.8g\n", lam[best], info[best], best_phi);
    rc = 1;
done:
    for (size_t k = 0; k < n; k++)
        free(info[k]);
    free(info);
    free(cands);
    free(lam);
    free(cur_num);
    free(num);
    free(pl);
    cand_free(&x);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* SVD-assist                                                                                 */

/* Super parameters from the base Jacobian at the current point: base parameters without a
 * derivative or at a bound are frozen. Js = J V'. */
static int define_super(struct glm *g, struct pr_error *err)
{
    size_t ncols = g->ncols;
    unsigned char *frozen = xcalloc(ncols + 1, 1);
    double *Jw = xcalloc(g->nrows * ncols + 1, sizeof(double));
    double *rw = xcalloc(g->nrows + 1, sizeof(double));
    int nfrozen = 0;
    for (size_t k = 0; k < ncols; k++) {
        const struct pst_param *p = pst_param(g->c, g->ps.adj[k]);
        double v = g->ctl[g->ps.adj[k]];
        frozen[k] = !g->jac.ok[k] || v >= p->ubnd - 1e-7 * fabs(p->ubnd) ||
                    v <= p->lbnd + 1e-7 * fabs(p->lbnd);
        nfrozen += frozen[k];
    }
    size_t m = weighted_rows(g, g->jac.J, ncols, NULL, ncols, Jw, rw);
    super_free(&g->sup);
    int k =
        super_define(&g->sup, m, ncols, Jw, frozen, g->form == UPGRADE_PRIOR ? g->prior_inv : NULL,
                     g->max_n_super, g->super_eigthres, err);
    free(frozen);
    free(Jw);
    free(rw);
    if (k < 0) return -1;
    free(g->Js);
    g->Js = super_project(&g->sup, g->jac.J, g->nrows);
    free(g->s_cur);
    g->s_cur = xcalloc((size_t)k + 1, sizeof(double));
    for (int i = 0; i < k; i++)
        g->s_cur[i] = SUPER_OFFSET;
    rec(g,
        "  %d super parameters from the base Jacobian (%d base parameters frozen); singular "
        "values %.4g .. %.4g\n",
        k, nfrozen, g->sup.sv[0], g->sup.sv[k - 1]);
    return 0;
}

/* ++glm_rebase_super: the current point run again before its first super iteration (its
 * observations replace the ones held; a noisy model's phi may change). Returns 0, 2 when
 * stopped, -1 on error. */
static int rebase(struct glm *g, struct pr_error *err)
{
    double before = g->phi;
    int rc = run_current(g, "par_name:__rebase__", "of the current parameters again", err);
    if (rc == 0)
        rec(g, "  current parameters run again (glm_rebase_super): phi %.8g (was %.8g)\n", g->phi,
            before);
    return rc;
}

/* The super Jacobian at the current point: each super parameter perturbed by 0.01 (PEST++'s
 * absolute increment), both ways once central derivatives are on. A derivative is taken along
 * the direction actually run (the values as written, bounds applied). */
static int super_jacobian(struct glm *g, struct pr_error *err)
{
    struct super_tf *t = &g->sup;
    size_t k = t->k, npar = g->npar, nobs = g->nobs, ncols = g->ncols;
    int npts = g->switched ? 2 : 1;
    size_t nr = k * (size_t)npts;
    double *cur = xcalloc(ncols + 1, sizeof(double));
    double *num = xcalloc(ncols + 1, sizeof(double));
    double *cands = xcalloc(nr * npar + 1, sizeof(double));
    double *ds = xcalloc(k + 1, sizeof(double));
    double *dp = xcalloc(ncols + 1, sizeof(double));
    char **info = xcalloc(nr + 1, sizeof(char *));
    struct cand_ctx x;
    cand_init(&x, g, nr);
    int rc = -1, nfail = 0;

    parspace_to_num(&g->ps, g->ctl, cur);
    for (size_t i = 0; i < k; i++)
        for (int j = 0; j < npts; j++) {
            size_t r = i * (size_t)npts + (size_t)j;
            memset(ds, 0, k * sizeof(double));
            ds[i] = j == 0 ? 0.01 : -0.01;
            super_step(t, ds, dp);
            for (size_t c = 0; c < ncols; c++)
                num[c] = cur[c] + dp[c];
            double *cand = cands + r * npar;
            memcpy(cand, g->ctl, npar * sizeof(double));
            parspace_from_num(&g->ps, num, cand);
            clamp_bounds(g, cand);
            struct strbuf sb = {0};
            sb_printf(&sb, "par_name:sup_%zu", i + 1);
            info[r] = sb_take(&sb);
        }
    int b = run_batch(g, nr, cands, (const char *const *)info, &x, err);
    if (b != 0) {
        rc = b;
        goto done;
    }
    for (size_t i = 0; i < k; i++) {
        double h[2] = {0, 0};
        const double *y[2] = {g->obs, g->obs};
        int ok = 1;
        for (int j = 0; j < npts; j++) {
            size_t r = i * (size_t)npts + (size_t)j;
            if (!x.ok[r]) {
                ok = 0;
                break;
            }
            parspace_to_num(&g->ps, x.written + r * npar, num);
            for (size_t c = 0; c < ncols; c++)
                dp[c] = num[c] - cur[c];
            h[j] = super_along(t, i, dp);
            y[j] = x.obs + r * nobs;
        }
        double span = npts == 2 ? h[0] - h[1] : h[0];
        if (!ok || fabs(span) < 1e-4) { /* failed, or bounds left no room: no derivative */
            nfail++;
            for (size_t o = 0; o < nobs; o++)
                g->Js[o * k + i] = 0;
            continue;
        }
        for (size_t o = 0; o < nobs; o++)
            g->Js[o * k + i] = (y[0][o] - (npts == 2 ? y[1][o] : g->obs[o])) / span;
    }
    if (nfail) rec(g, "  %d super-parameter derivatives failed (set to 0)\n", nfail);
    if ((size_t)nfail == k) {
        pr_error_set(err, "every super-parameter derivative failed");
        goto done;
    }
    /* prior information rows: exact, through the base rows */
    for (size_t r = nobs; r < g->nrows; r++)
        for (size_t i = 0; i < k; i++) {
            double s = 0;
            for (size_t c = 0; c < ncols; c++)
                s += g->jac.J[r * ncols + c] * t->V[i * ncols + c];
            g->Js[r * k + i] = s;
        }
    rc = 0;
done:
    for (size_t r = 0; r < nr; r++)
        free(info[r]);
    free(info);
    free(cur);
    free(num);
    free(cands);
    free(ds);
    free(dp);
    cand_free(&x);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* termination (SPEC §6.6)                                                                    */

struct stop_state {
    int nphinored_count;
    double lowest;
    double *best_phis; /* the NPHISTP lowest */
    int nbest;
    int nrelpar_count;
};

static const char *check_stop(struct glm *g, struct stop_state *st, int iter, const double *prev)
{
    const struct pst_control *ctl = pst_control(g->c);
    static char why[256];
    if (iter >= ctl->noptmax) return "NOPTMAX criterion met";
    if (g->phi <= DBL_MIN) return "PHI is zero";
    int reset;
    double phi = regul_stop_phi(g->reg, &g->parts, &reset);
    if (reset) { /* PHIMACCEPT met: the rules follow the regularization phi from now on */
        st->lowest = INFINITY;
        st->nbest = 0;
    }
    if (phi < 0) goto relpar; /* PHIMACCEPT lost again: the iteration does not count */
    if (phi <= st->lowest) {
        st->lowest = phi;
        st->nphinored_count = 0;
    } else {
        st->nphinored_count++;
    }
    if (st->nphinored_count > ctl->nphinored) {
        snprintf(why, sizeof(why), "NPHINORED criterion met: no phi reduction in %d iterations",
                 st->nphinored_count);
        return why;
    }
    /* keep the NPHISTP lowest phis */
    if (ctl->nphistp > 0) {
        if (st->nbest < ctl->nphistp) {
            st->best_phis[st->nbest++] = phi;
        } else {
            int worst = 0;
            for (int i = 1; i < st->nbest; i++)
                if (st->best_phis[i] > st->best_phis[worst]) worst = i;
            if (phi < st->best_phis[worst]) st->best_phis[worst] = phi;
        }
        if (st->nbest == ctl->nphistp) {
            double mx = st->best_phis[0], mn = st->best_phis[0];
            for (int i = 1; i < st->nbest; i++) {
                mx = fmax(mx, st->best_phis[i]);
                mn = fmin(mn, st->best_phis[i]);
            }
            if (mx - mn <= ctl->phiredstp * phi) return "PHIREDSTP / NPHISTP criterion met";
        }
    }
relpar:;
    double max_rel = 0;
    for (size_t i = 0; i < g->npar; i++)
        if (prev[i] != 0) max_rel = fmax(max_rel, fabs((prev[i] - g->ctl[i]) / prev[i]));
    if (max_rel < ctl->relparstp)
        st->nrelpar_count++;
    else
        st->nrelpar_count = 0;
    if (st->nrelpar_count > ctl->nrelpar) return "RELPARSTP / NRELPAR criterion met";
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */

static int read_options(struct glm *g, struct pr_error *err)
{
    const struct pst_case *c = g->c;
    const char *nf = pst_opt_str(c, "glm_normal_form", "diag");
    int form = upgrade_form_parse(nf);
    if (form < 0)
        return pr_error_set(err, "++glm_normal_form: expected diag, ident or prior, got '%s'", nf);
    g->form = (enum upgrade_form)form;
    double sigma_range;
    if (pst_opt_bool(c, "jac_scale", 1, &g->jac_scale, err) < 0 ||
        pst_opt_bool(c, "enforce_tied_bounds", 0, &g->tied_bounds, err) < 0 ||
        pst_opt_bool(c, "glm_rebase_super", 0, &g->rebase_super, err) < 0 ||
        pst_opt_int(c, "n_iter_base", 1000000, &g->n_iter_base, err) < 0 ||
        pst_opt_int(c, "n_iter_super", 0, &g->n_iter_super, err) < 0 ||
        pst_opt_int(c, "max_n_super", 1000000, &g->max_n_super, err) < 0 ||
        pst_opt_double(c, "super_eigthresh", 1e-6, &g->super_eigthres, err) < 0 ||
        pst_opt_double(c, "super_relparmax", 0.1, &g->super_relparmax, err) < 0 ||
        pst_opt_double(c, "par_sigma_range", 4.0, &sigma_range, err) < 0)
        return -1;
    if (g->n_iter_base == 0 || g->n_iter_base < -1)
        return pr_error_set(err, "++n_iter_base: expected -1 or a positive count, got %d",
                            g->n_iter_base);
    if (g->n_iter_super < 0)
        return pr_error_set(err, "++n_iter_super: expected 0 or more, got %d", g->n_iter_super);
    if (g->n_iter_base == -1 && g->n_iter_super == 0)
        return pr_error_set(err, "++n_iter_base(-1) needs ++n_iter_super > 0 (no iteration "
                                 "would upgrade the parameters)");
    if (!(sigma_range > 0))
        return pr_error_set(err, "++par_sigma_range: expected a positive number");
    /* the prior: a standard deviation of (upper - lower) / par_sigma_range in numeric space */
    g->prior_sd = xcalloc(g->ncols + 1, sizeof(double));
    g->init_num = xcalloc(g->ncols + 1, sizeof(double));
    double *init = xcalloc(g->npar + 1, sizeof(double));
    pst_initial_values(c, init);
    parspace_to_num(&g->ps, init, g->init_num);
    free(init);
    for (size_t k = 0; k < g->ncols; k++) {
        const struct pst_param *p = pst_param(c, g->ps.adj[k]);
        double lo = g->ps.is_log[k] ? log10(p->lbnd) : p->lbnd;
        double hi = g->ps.is_log[k] ? log10(p->ubnd) : p->ubnd;
        double sd = (hi - lo) / sigma_range;
        g->prior_sd[k] = sd > 0 && isfinite(sd) ? sd : 1.0;
    }
    return 0;
}

static int setup(struct glm *g, const struct pst_case *c, const char *pst_path, struct sched *s,
                 struct pr_error *err)
{
    memset(g, 0, sizeof(*g));
    g->c = c;
    g->pst_path = pst_path;
    g->s = s;
    parspace_init(&g->ps, c);
    jacobian_init(&g->jac, &g->ps);
    g->npar = pst_nparams(c);
    g->nobs = pst_nobs(c);
    g->ncols = g->ps.nadj;
    g->nrows = g->nobs + pst_nprior(c);
    g->ctl = xcalloc(g->npar + 1, sizeof(double));
    g->obs = xcalloc(g->nobs + 1, sizeof(double));
    g->central = xcalloc(g->ncols + 1, 1);
    pst_initial_values(c, g->ctl);
    if (lambda_grid(c, &g->lambdas, &g->nlambdas, &g->scales, &g->nscales, err) < 0) return -1;
    /* the window of lambdas is centred on its middle entry, then on the best lambda */
    g->center = g->lambdas[g->nlambdas / 2];
    for (size_t l = 0; l < g->nlambdas; l++)
        g->lambdas[l] /= g->center;
    g->reg = regul_create(c);
    g->obs0 = xcalloc(g->nobs + 1, sizeof(double));
    if (read_options(g, err) < 0) return -1;
    if (!(g->fosm = fosm_create(&g->ps, pst_path, err))) return -1;
    /* the prior normal form and the super parameters use ++parcov when it is given */
    g->parcov = fosm_parcov(g->fosm);
    g->prior_inv = xcalloc(g->ncols * g->ncols + 1, sizeof(double));
    if (g->form == UPGRADE_PRIOR && prior_inverse(g, NULL, g->ncols, g->prior_inv, err) < 0)
        return -1;
    for (size_t k = 0; k < g->ncols; k++) {
        const struct pst_param *p = pst_param(c, g->ps.adj[k]);
        g->central[k] = pst_pargp(c, (size_t)p->group)->forcen == PST_FORCEN_ALWAYS_3;
    }
    if (g->ncols == 0) return pr_error_set(err, "%s: no adjustable parameters", pst_path);
    return open_outputs(g, err);
}

static void teardown(struct glm *g)
{
    parspace_free(&g->ps);
    jacobian_free(&g->jac);
    super_free(&g->sup);
    regul_destroy(g->reg);
    fosm_destroy(g->fosm);
    free(g->obs0);
    free(g->Js);
    free(g->s_cur);
    free(g->prior_sd);
    free(g->prior_inv);
    free(g->init_num);
    free(g->ctl);
    free(g->obs);
    free(g->central);
    free(g->lambdas);
    free(g->scales);
    if (g->rec) fclose(g->rec);
    if (g->iobj) fclose(g->iobj);
    if (g->ipar) fclose(g->ipar);
    if (g->iruns) fclose(g->iruns);
    free(g->path_par);
    free(g->path_rei);
    free(g->path_jcb);
}

static void record_jacobian(struct glm *g)
{
    for (size_t k = 0; k < g->ncols; k++)
        if (!g->jac.ok[k]) {
            char name[1024];
            rec(g, "  parameter %s is frozen this iteration: %s\n",
                lname(pst_param(g->c, g->ps.adj[k])->name, name, sizeof(name)),
                g->jac.why[k] ? g->jac.why[k] : "?");
        }
}

static void describe(struct glm *g)
{
    static const char *const forms[] = {"diag", "ident", "prior"};
    rec(g, "pestrun %s: Gauss-Levenberg-Marquardt calibration of %s\n", PESTRUN_VERSION,
        g->pst_path);
    rec(g, "%zu parameters (%zu adjustable), %zu observations, %zu prior information\n", g->npar,
        g->ncols, g->nobs, pst_nprior(g->c));
    rec(g, "glm_normal_form %s; change limits: %s\n", forms[g->form],
        g->tied_bounds ? "the whole step is scaled (enforce_tied_bounds)"
                       : "each parameter is clamped on its own (as PEST++)");
    if (g->n_iter_super > 0)
        rec(g,
            "SVD-assist: %d base iteration%s then %d super iterations a cycle; at most %d super "
            "parameters, super_eigthresh %g, super_relparmax %g; super iterations use the diag "
            "form, no base change limits (as PEST++)\n",
            g->n_iter_base < 0 ? 0 : g->n_iter_base, g->n_iter_base == 1 ? "" : "s",
            g->n_iter_super, g->max_n_super, g->super_eigthres, g->super_relparmax);
    rec(g, "Choices where PEST and PEST++ differ: a candidate worse than the current phi is\n"
           "not accepted (PEST); the lambda window moves with the best lambda instead of\n"
           "growing (SPEC §9 items 21, 24); central derivatives are computed from both\n"
           "perturbed runs; the prior normal form pulls towards the initial values (PEST++\n"
           "5.2.23 adds 1 + lambda to every element of J'QJ and pushes away from them); a super\n"
           "iteration that lowers no phi ends the cycle and a fresh base Jacobian follows.\n\n");
}

/* NOPTMAX = 0: one run at the initial values and the report. */
static int run_once(struct glm *g, struct glm_summary *sum, struct pr_error *err)
{
    int rc = run_current(g, "par_name:__base__", "at the initial parameters", err);
    if (rc != 0) return rc == 2 ? 1 : -1;
    g->phi_start = sum->phi_start = g->phi;
    rec(g, "iteration 0: initial parameters (NOPTMAX is 0)\n");
    write_iteration_rows(g, 0);
    snprintf(sum->stop_reason, sizeof(sum->stop_reason), "NOPTMAX is 0");
    return write_best(g, 0, err) < 0 ? -1 : 0;
}

/* The base Jacobian at the current point (the base run too, the first time). Returns 0, 2
 * when stopped, -1 on error. */
static int base_jacobian(struct glm *g, struct glm_summary *sum, struct pr_error *err)
{
    int have_base = g->have_base;
    int j = jacobian_fill(&g->jac, &g->ps, g->s, g->ctl, have_base ? g->ctl : NULL,
                          have_base ? g->obs : NULL, g->central, err);
    if (j != 0) return j < 0 ? -1 : 2;
    g->runs += g->jac.runs;
    if (!have_base) {
        memcpy(g->ctl, g->jac.base_ctl, g->npar * sizeof(double));
        memcpy(g->obs, g->jac.base_obs, g->nobs * sizeof(double));
        set_current(g);
        memcpy(g->obs0, g->obs, g->nobs * sizeof(double));
        g->phi_start = sum->phi_start = g->phi;
        g->have_base = 1;
        rec(g, "iteration 0: initial parameters\n");
        write_iteration_rows(g, 0);
        if (write_best(g, 0, err) < 0) return -1;
    }
    g->jac_current = 1;
    rec(g, "\nbase Jacobian: %zu runs (%zu model runs so far)\n", g->jac.runs, g->runs);
    record_jacobian(g);
    return jacobian_write_jcb(&g->jac, &g->ps, g->path_jcb, err) < 0 ? -1 : 0;
}

/* FORCEN switch: central derivatives once phi stops falling fast (PHIREDSWH). */
static void maybe_switch(struct glm *g, int iter, double phi_before)
{
    const struct pst_control *ctl = pst_control(g->c);
    if (g->switched || iter <= ctl->noptswitch - 1 ||
        !((phi_before - g->phi) / phi_before < ctl->phiredswh))
        return;
    int any = 0;
    for (size_t k = 0; k < g->ncols; k++) {
        const struct pst_param *p = pst_param(g->c, g->ps.adj[k]);
        if (pst_pargp(g->c, (size_t)p->group)->forcen == PST_FORCEN_SWITCH) {
            g->central[k] = 1;
            any = 1;
        }
    }
    if (any) { /* super parameters too, but only when base groups switch (as PEST++) */
        g->switched = 1;
        g->jac_current = 0;
        rec(g, "  switching to central derivatives (phi fell by less than PHIREDSWH)\n");
    }
}

/* The linear estimate of an upgrade's per-group phis with regularization weight factor mu,
 * as PEST++ makes it to choose the factor: lambda 10^floor(log10(measurement phi)), no
 * change limits. */
struct proj_ctx {
    struct glm *g;
    int super;
};

static void project(void *vctx, double mu, double *group_phi)
{
    struct proj_ctx *px = vctx;
    struct glm *g = px->g;
    size_t ncols = g->ncols, ldj = px->super ? g->sup.k : ncols, n = 0;
    const double *J = px->super ? g->Js : g->jac.J;
    size_t *col = xcalloc(ldj + 1, sizeof(size_t));
    double *pinv = xcalloc(ldj * ldj + 1, sizeof(double)), *pdev = xcalloc(ldj + 1, sizeof(double));
    double *Jw = xcalloc(g->nrows * ldj + 1, sizeof(double));
    double *rw = xcalloc(g->nrows + 1, sizeof(double)), *u = xcalloc(ldj + 1, sizeof(double));
    double *cur = xcalloc(ncols + 1, sizeof(double));
    parspace_to_num(&g->ps, g->ctl, cur);
    for (size_t k = 0; k < ldj; k++) {
        if (!px->super && !g->jac.ok[k]) continue;
        if (!px->super) pdev[n] = cur[k] - g->init_num[k];
        col[n++] = k;
    }
    if (!px->super && g->form == UPGRADE_PRIOR && prior_inverse(g, col, n, pinv, NULL) < 0)
        memset(pinv, 0, n * n * sizeof(double));
    size_t m = weighted_rows_at(g, mu, J, ldj, col, n, Jw, rw);
    double lam = pow(10.0, floor(log10(g->parts.meas > 0 ? g->parts.meas : 1e-300)));
    if (lam < 1e-10) lam = 10000;
    struct upgrade_problem prob = {m,
                                   n,
                                   Jw,
                                   rw,
                                   pst_control(g->c)->eigthresh,
                                   pst_control(g->c)->maxsing,
                                   g->jac_scale,
                                   px->super ? UPGRADE_DIAG : g->form,
                                   pinv,
                                   pdev};
    memset(group_phi, 0, pst_nobsgps(g->c) * sizeof(double));
    if (upgrade_solve(&prob, lam, u, NULL) >= 0)
        for (size_t r = 0; r < g->nrows; r++) {
            int group;
            double res, w = row_of(g, r, &group, &res);
            double d = 0;
            for (size_t j = 0; j < n; j++)
                d += J[r * ldj + col[j]] * u[j];
            group_phi[group] += (w * (res - d)) * (w * (res - d));
        }
    free(col);
    free(pinv);
    free(pdev);
    free(Jw);
    free(rw);
    free(u);
    free(cur);
}

/* Regularization mode: the weight factor for this upgrade. */
static void adjust_weight(struct glm *g, int super)
{
    if (!regul_active(g->reg)) return;
    double *groups = xcalloc(pst_nobsgps(g->c) + 1, sizeof(double));
    struct phi_parts p = {.group = groups};
    pst_phi(g->c, g->obs, g->ctl, &p);
    struct proj_ctx px = {g, super};
    struct strbuf log = {0};
    regul_adjust(g->reg, &g->parts, groups, project, &px, &log);
    if (log.len) rec(g, "%s", log.data);
    sb_free(&log);
    free(groups);
    parts_of(g, g->obs, g->ctl, &g->parts);
}

/* ------------------------------------------------------------------------------------------ */
/* FOSM                                                                                       */

/* The analysis at the current point with Jacobian jac, written as iteration iter (-1: final).
 * An iteration's analysis that fails is reported and the calibration goes on (as PEST++);
 * the final one's failure is an error. */
static int fosm_at(struct glm *g, const struct jacobian *jac, int iter, struct pr_error *err)
{
    if (!fosm_enabled(g->fosm)) return 0;
    struct fosm_input fi = {jac, g->ctl, g->obs, g->obs0};
    struct strbuf t = {0};
    struct pr_error e = {{0}};
    int rc = fosm_write(g->fosm, &fi, iter, &t, &e);
    if (rc < 0 && iter >= 0)
        rec(g, "  FOSM: %s; continuing\n", e.msg);
    else if (rc < 0)
        pr_error_set(err, "the posterior FOSM analysis: %s", e.msg);
    else if (t.len)
        rec(g, "%s", t.data);
    sb_free(&t);
    return rc < 0 && iter < 0 ? -1 : 0;
}

/* A super iteration's analysis uses the super Jacobian mapped back to the base parameters
 * (J_s V, as PEST++), a base iteration's the base Jacobian. */
static int fosm_iteration(struct glm *g, int iter, int super, struct pr_error *err)
{
    if (!fosm_enabled(g->fosm)) return 0;
    if (!super) return fosm_at(g, &g->jac, iter, err);
    struct jacobian back = g->jac;
    size_t k = g->sup.k, n = g->ncols;
    back.J = xcalloc(g->nrows * n + 1, sizeof(double));
    for (size_t r = 0; r < g->nrows; r++)
        for (size_t i = 0; i < k; i++) {
            double d = g->Js[r * k + i];
            if (d != 0.0)
                for (size_t j = 0; j < n; j++)
                    back.J[r * n + j] += d * g->sup.V[i * n + j];
        }
    int rc = fosm_at(g, &back, iter, err);
    free(back.J);
    return rc;
}

/* ++glm_num_reals posterior realizations, run in one batch. Returns 0, 2 when stopped, -1. */
static int fosm_realizations(struct glm *g, int iter, struct pr_error *err)
{
    size_t n = fosm_num_reals(g->fosm, iter);
    if (n == 0) return 0;
    double *reals = fosm_draw(g->fosm, n, err);
    if (!reals) return -1;
    char **info = xcalloc(n + 1, sizeof(char *));
    struct cand_ctx x;
    cand_init(&x, g, n);
    for (size_t i = 0; i < n; i++) {
        struct strbuf sb = {0};
        sb_printf(&sb, "fosm_real:%zu", i);
        info[i] = sb_take(&sb);
    }
    int rc = run_batch(g, n, reals, (const char *const *)info, &x, err);
    if (rc == 0) {
        struct strbuf t = {0};
        rc = fosm_write_reals(g->fosm, iter, reals, x.obs, x.ok, n, &t, err);
        if (t.len) rec(g, "%s", t.data);
        sb_free(&t);
    }
    for (size_t i = 0; i < n; i++)
        free(info[i]);
    free(info);
    free(reals);
    cand_free(&x);
    return rc;
}

/* One upgrade iteration, base or super, and its bookkeeping. Returns 1 when the calibration
 * ends (sum->stop_reason set), 0 to go on, 2 when stopped, -1 on error; *moved tells whether
 * the parameters changed. */
static int iteration(struct glm *g, struct stop_state *st, int iter, int super, double *prev,
                     int *moved, struct glm_summary *sum, struct pr_error *err)
{
    rec(g, "\niteration %d (%s): %zu model runs so far, phi %.8g\n", iter,
        super ? "super parameters" : "base parameters", g->runs, g->phi);
    memcpy(prev, g->ctl, g->npar * sizeof(double));
    if (fosm_iteration(g, iter, super, err) < 0) return -1;
    int mc = fosm_realizations(g, iter, err);
    if (mc != 0) return mc < 0 ? -1 : 2;
    adjust_weight(g, super);
    double phi_before = g->phi, best_lambda = g->center;
    int m = test_lambdas(g, super ? super_candidate : base_candidate, super, &best_lambda, err);
    if (m < 0) return -1;
    if (m == 2) return 2;
    *moved = m;
    if (m) {
        g->center = best_lambda;
        g->jac_current = 0;
        if (write_best(g, iter, err) < 0) return -1;
    } else {
        g->center *= 100.0;
    }
    maybe_switch(g, iter, phi_before);
    write_iteration_rows(g, iter);
    sched_note_phi(g->s, g->phi);
    sum->iterations = iter;
    const char *why = check_stop(g, st, iter, prev);
    if (why) {
        snprintf(sum->stop_reason, sizeof(sum->stop_reason), "%s", why);
        return 1;
    }
    return 0;
}

int glm_run(const struct pst_case *c, const char *pst_path, struct sched *s, int jacobian_only,
            struct glm_summary *sum, struct pr_error *err)
{
    struct glm g;
    struct stop_state st = {0};
    int rc = -1, iter = 0, r = 0;
    double *prev = NULL;

    memset(sum, 0, sizeof(*sum));
    if (setup(&g, c, pst_path, s, err) < 0) goto done;
    const struct pst_control *ctl = pst_control(c);
    prev = xcalloc(g.npar + 1, sizeof(double));
    st.lowest = INFINITY;
    st.best_phis = xcalloc((size_t)(ctl->nphistp > 0 ? ctl->nphistp : 1) + 1, sizeof(double));
    describe(&g);
    pst_support_fprint(g.rec, c, jacobian_only ? PST_CMD_JACOBIAN : PST_CMD_GLM);
    if (fosm_disabled_why(g.fosm))
        rec(&g, "no FOSM uncertainty analysis: %s\n\n", fosm_disabled_why(g.fosm));
    if (ctl->noptmax == 0 && !jacobian_only) {
        rc = run_once(&g, sum, err);
        goto done;
    }
    if (jacobian_only || ctl->noptmax < 0) {
        r = base_jacobian(&g, sum, err);
        if (r != 0) {
            rc = r < 0 ? -1 : 1;
            goto done;
        }
        snprintf(sum->stop_reason, sizeof(sum->stop_reason), "Jacobian written (NOPTMAX < 0)");
        rc = fosm_at(&g, &g.jac, -1, err) < 0 ? -1 : 0;
        goto done;
    }
    for (;;) { /* one cycle: base iterations, then super iterations */
        int nbase = g.n_iter_super > 0 ? (g.n_iter_base < 0 ? 0 : g.n_iter_base) : INT_MAX;
        for (int b = 0; b < nbase && r == 0; b++) {
            if (!g.jac_current && (r = base_jacobian(&g, sum, err)) != 0) break;
            int moved = 0;
            r = iteration(&g, &st, ++iter, 0, prev, &moved, sum, err);
        }
        if (r != 0 || g.n_iter_super == 0) break;
        if (!g.jac_current && (r = base_jacobian(&g, sum, err)) != 0) break;
        if (define_super(&g, err) < 0) {
            r = -1;
            break;
        }
        if (g.rebase_super && (r = rebase(&g, err)) != 0) break;
        for (int si = 0; si < g.n_iter_super && r == 0; si++) {
            int moved = 0;
            if (si > 0 && (r = super_jacobian(&g, err)) != 0) break;
            rec(&g, "\nsuper iteration %d of %d\n", si + 1, g.n_iter_super);
            r = iteration(&g, &st, ++iter, 1, prev, &moved, sum, err);
            if (r == 0 && !moved) {
                rec(&g, "  no super candidate lowered phi: a new base Jacobian follows\n");
                break;
            }
        }
        g.jac_current = 0;
        if (r != 0) break;
    }
    if (r == 1) { /* the final analysis: the last base Jacobian at the best parameters */
        r = fosm_at(&g, &g.jac, -1, err) < 0 ? -1 : fosm_realizations(&g, -1, err);
        rc = r == 0 ? 0 : r == 2 ? 1 : -1;
        if (rc != 0) goto done;
    } else {
        rc = r == 2 ? 1 : -1;
        goto done;
    }
    rec(&g, "\nstopped: %s\nfinal phi %.8g after %d iterations and %zu model runs\n",
        sum->stop_reason, g.phi, sum->iterations, g.runs);
done:
    sum->phi_best = g.phi;
    sum->runs = g.runs;
    free(prev);
    free(st.best_phis);
    teardown(&g);
    return rc;
}
