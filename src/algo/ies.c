#include "ies.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "algo/fosm.h"
#include "algo/ies_solve.h"
#include "pest/outputs.h"
#include "util/csv.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "pest/pst_support.h"
#include "algo/ies_internal.h"

void ies__rec(struct ies *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(e->rec, fmt, ap);
    va_end(ap);
    fflush(e->rec);
}

/* ------------------------------------------------------------------------------------------ */
/* ensembles                                                                                  */

void ies__en_alloc(const struct ies *e, struct ensemble *en, size_t n)
{
    memset(en, 0, sizeof(*en));
    en->id = xcalloc(n + 1, sizeof(size_t));
    en->P = xcalloc(n * e->nadj + 1, sizeof(double));
    en->P0 = xcalloc(n * e->nadj + 1, sizeof(double));
    en->D = xcalloc(n * e->nobs + 1, sizeof(double));
    en->O = xcalloc(n * e->nobs + 1, sizeof(double));
}

void ies__en_free(struct ensemble *en)
{
    free(en->id);
    free(en->P);
    free(en->P0);
    free(en->D);
    free(en->O);
    memset(en, 0, sizeof(*en));
}

/* Row r of src to row q of dst. */
void ies__en_copy_row(const struct ies *e, struct ensemble *dst, size_t q,
                      const struct ensemble *src, size_t r)
{
    size_t n = e->nadj, o = e->nobs;
    dst->id[q] = src->id[r];
    memmove(dst->P + q * n, src->P + r * n, n * sizeof(double));
    memmove(dst->P0 + q * n, src->P0 + r * n, n * sizeof(double));
    memmove(dst->D + q * o, src->D + r * o, o * sizeof(double));
    memmove(dst->O + q * o, src->O + r * o, o * sizeof(double));
}

/* Keep the rows with keep[r] set, in order. */
void ies__en_keep(const struct ies *e, struct ensemble *en, const unsigned char *keep)
{
    size_t q = 0;
    for (size_t r = 0; r < en->n; r++)
        if (keep[r]) ies__en_copy_row(e, en, q++, en, r);
    en->n = q;
}

/* The row of the current ensemble whose realization is named name, or (size_t)-1. */
static size_t row_of_name(const struct ies *e, const char *name)
{
    for (size_t r = 0; r < e->en.n; r++)
        if (strcmp(e->names[e->en.id[r]], name) == 0) return r;
    return (size_t)-1;
}

int ies__is_base(const struct ies *e, size_t id)
{
    return strcmp(e->names[id], BASE_NAME) == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* phi                                                                                        */

/* sim - obs of used observation i, 0 when an inequality holds (apply_ineq_constraints). */
double ies__resid(const struct ies *e, size_t i, double sim, double obs)
{
    double d = sim - obs;
    if ((e->ineq[i] < 0 && d < 0) || (e->ineq[i] > 0 && d > 0)) return 0.0;
    return d;
}

static double phi_against(const struct ies *e, const double *sim, const double *obs)
{
    double phi = 0;
    for (size_t i = 0; i < e->m; i++) {
        size_t k = e->act[i];
        double r = e->w[i] * ies__resid(e, i, sim[k], obs ? obs[k] : pst_obs(e->c, k)->value);
        phi += r * r;
    }
    return phi;
}

/* Parameter j's share of the regularization phi: PEST++ 5.2.23 (L2PhiHandler::calc_regul)
 * divides the departure from the prior realization by the prior variance, not the standard
 * deviation, and squares it. */
double ies__regul_term(const struct ies *e, const double *p, const double *p0, size_t j)
{
    double r = (p[j] - p0[j]) / (e->sd[j] * e->sd[j]);
    return r * r;
}

static double phi_regul(const struct ies *e, const double *p, const double *p0)
{
    double phi = 0;
    for (size_t j = 0; j < e->nadj; j++)
        phi += ies__regul_term(e, p, p0, j);
    return phi;
}

double ies__phi_of(const struct ies *e, const struct ensemble *en, size_t r, enum phi_type t)
{
    const double *d = en->D + r * e->nobs, *o = en->O + r * e->nobs;
    switch (t) {
    case PHI_ACTUAL:
        return phi_against(e, d, NULL);
    case PHI_MEAS:
        return phi_against(e, d, o);
    case PHI_REGUL:
        return phi_regul(e, en->P + r * e->nadj, en->P0 + r * e->nadj);
    default: {
        double meas = phi_against(e, d, o);
        if (e->reg_factor == 0.0) return meas;
        return meas + e->reg_factor * phi_regul(e, en->P + r * e->nadj, en->P0 + r * e->nadj);
    }
    }
}

/* PEST++'s summary: the standard deviation with n - 1 (0 for one value). */
struct stats ies__stats_of(const double *v, size_t n)
{
    struct stats s = {0, 0, INFINITY, -INFINITY};
    if (n == 0) return (struct stats){0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        s.mean += v[i];
        if (v[i] < s.min) s.min = v[i];
        if (v[i] > s.max) s.max = v[i];
    }
    s.mean /= (double)n;
    double var = 0;
    for (size_t i = 0; i < n; i++)
        var += (v[i] - s.mean) * (v[i] - s.mean);
    s.std = var == 0.0 || n < 2 ? 0.0 : sqrt(var / (double)(n - 1));
    return s;
}

struct stats ies__en_stats(const struct ies *e, const struct ensemble *en, enum phi_type t)
{
    double *v = xcalloc(en->n + 1, sizeof(double));
    for (size_t r = 0; r < en->n; r++)
        v[r] = ies__phi_of(e, en, r, t);
    struct stats s = ies__stats_of(v, en->n);
    free(v);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* bad realizations (EnsembleMethod::drop_bad_reals)                                          */

static double median_of(const double *v, size_t n)
{
    if (n == 0) return 0;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The measurement-phi threshold above which a realization is bad: ies_bad_phi, and from
 * ies_bad_phi_sigma either mean + sigma x std (sigma > 0) or Q3 + |sigma| x IQR (sigma < 0). */
static double bad_threshold(const struct ies *e, const double *meas, size_t n)
{
    double thr = e->bad_phi;
    if (e->bad_phi_sigma >= DBL_MAX || n == 0) return thr;
    if (e->bad_phi_sigma > 0) {
        struct stats s = ies__stats_of(meas, n);
        return fmin(thr, s.mean + s.std * e->bad_phi_sigma);
    }
    double *v = xcalloc(n + 1, sizeof(double));
    memcpy(v, meas, n * sizeof(double));
    qsort(v, n, sizeof(double), cmp_double);
    double q1 = median_of(v, n / 2), q3 = median_of(v + (n % 2 ? n / 2 + 1 : n / 2), n / 2);
    free(v);
    return fmin(thr, q3 + fabs(e->bad_phi_sigma) * (q3 - q1));
}

/* Drop the rows of en whose measurement phi is above the bad-phi threshold (never the base
 * realization); the names go to CASE.rec. Returns how many were dropped. */
static size_t drop_bad(struct ies *e, struct ensemble *en, const char *what)
{
    if (e->bad_phi >= DBL_MAX && e->bad_phi_sigma >= DBL_MAX) return 0;
    double *meas = xcalloc(en->n + 1, sizeof(double));
    unsigned char *keep = xcalloc(en->n + 1, 1);
    for (size_t r = 0; r < en->n; r++)
        meas[r] = ies__phi_of(e, en, r, PHI_MEAS);
    double thr = bad_threshold(e, meas, en->n);
    size_t dropped = 0;
    for (size_t r = 0; r < en->n; r++) {
        keep[r] = !(meas[r] > thr) || ies__is_base(e, en->id[r]);
        if (keep[r]) continue;
        if (!dropped++) ies__rec(e, "  %s: dropping realizations with phi above %g:", what, thr);
        ies__rec(e, " %s", e->names[en->id[r]]);
    }
    if (dropped) ies__rec(e, "\n");
    ies__en_keep(e, en, keep);
    free(meas);
    free(keep);
    return dropped;
}

/* ------------------------------------------------------------------------------------------ */
/* runs                                                                                       */

struct batch {
    size_t nobs;
    double *sim;
    unsigned char *ok;
};

static void batch_done(void *ctx, size_t index, const struct run_result *res, int from_journal)
{
    struct batch *b = ctx;
    (void)from_journal;
    if (res->status != RUN_OK) return;
    memcpy(b->sim + index * b->nobs, res->obs, b->nobs * sizeof(double));
    b->ok[index] = 1;
}

/* Numeric values -> the control values of every parameter (fixed ones at PARVAL1). */
void ies__to_ctl(const struct ies *e, const double *num, double *ctl)
{
    memcpy(ctl, e->init, e->npar * sizeof(double));
    parspace_from_num(&e->ps, num, ctl);
}

/* Run the k rows of numeric values num (k x nadj) in one batch; sim (k x nobs) and ok (k)
 * receive the results. labels names each run for the journal and the logs. Returns 0, 2 when
 * stopped, -1 with err set. */
static int run_rows(struct ies *e, size_t k, const double *num, char *const *labels, double *sim,
                    unsigned char *ok, struct pr_error *err)
{
    if (k == 0) return 0;
    double *model = xcalloc(k * e->npar + 1, sizeof(double));
    double *ctl = xcalloc(e->npar + 1, sizeof(double));
    for (size_t i = 0; i < k; i++) {
        ies__to_ctl(e, num + i * e->nadj, ctl);
        pst_ctl_to_model(e->c, ctl, model + i * e->npar);
    }
    memset(ok, 0, k);
    struct batch b = {e->nobs, sim, ok};
    int rc = sched_run_batch(e->s, k, model, (const char *const *)labels, batch_done, &b, err);
    free(model);
    free(ctl);
    if (rc == 0) e->runs += k;
    return rc < 0 ? -1 : rc ? 2 : 0;
}

static char **make_labels(size_t k)
{
    return xcalloc(k + 1, sizeof(char *));
}

static void free_labels(char **l, size_t k)
{
    for (size_t i = 0; i < k && l; i++)
        free(l[i]);
    free(l);
}

static char *label(const char *fmt, ...) PR_PRINTF(1, 2);
static char *label(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return xstrdup(buf);
}

static void clamp_row(const struct ies *e, double *p)
{
    if (!e->enforce_bounds) return;
    for (size_t j = 0; j < e->nadj; j++)
        p[j] = p[j] < e->lo[j] ? e->lo[j] : p[j] > e->hi[j] ? e->hi[j] : p[j];
}

/* ------------------------------------------------------------------------------------------ */
/* options                                                                                    */

/* A list of numbers above 0. */
static int parse_list(const char *text, double **out, size_t *n)
{
    if (pr_parse_double_list(text, out, n) < 0) return -1;
    for (size_t i = 0; i < *n; i++)
        if (!((*out)[i] > 0)) return -1;
    return 0;
}

/* The lambda multipliers and scale factors tested each iteration. */
static int lambda_grid(const struct pst_case *c, double **mults, size_t *nm, double **scales,
                       size_t *ns, struct pr_error *err)
{
    const char *lm = pst_opt_str(c, "ies_lambda_mults", "0.1,1,10");
    if (parse_list(lm, mults, nm) < 0 || *nm == 0)
        return pr_error_set(err, "++ies_lambda_mults: expected a list of numbers above 0, got '%s'",
                            lm);
    const char *sf = pst_opt_str(c, "lambda_scale_fac", "0.75,1,1.1");
    if (parse_list(sf, scales, ns) < 0 || *ns == 0)
        return pr_error_set(err, "++lambda_scale_fac: expected a list of numbers above 0, got '%s'",
                            sf);
    return 0;
}

#define SUBSET_SIZE_DEFAULT (-10) /* pestpp-ies: 10% of the realizations */

/* How many of n realizations each lambda test runs: ies_subset_size (below 0: that percent,
 * at least 4), or all of them when there is one test only or the subset is not smaller. */
static size_t subset_rows(int subset_size, size_t tests, size_t n)
{
    size_t want = subset_size < 0 ? (size_t)((double)n * (-(double)subset_size / 100.0))
                                  : (size_t)subset_size;
    if (subset_size < 0 && want < 4) want = 4;
    return tests == 1 || want >= n ? n : want;
}

static int read_options(struct ies *e, struct pr_error *err)
{
    const struct pst_case *c = e->c;
    int seed;
    double sigma_range;
    const char *how = pst_opt_str(c, "ies_subset_how", "random");
    e->center_on = pst_opt_str(c, "ies_center_on", "");
    if (pst_opt_int(c, "ies_num_reals", 50, &e->num_reals, err) < 0 ||
        pst_opt_bool(c, "ies_include_base", 1, &e->include_base, err) < 0 ||
        pst_opt_bool(c, "ies_use_approx", 1, &e->use_approx, err) < 0 ||
        pst_opt_bool(c, "ies_use_prior_scaling", 0, &e->prior_scaling, err) < 0 ||
        pst_opt_bool(c, "ies_update_by_reals", 0, &e->update_by_reals, err) < 0 ||
        pst_opt_bool(c, "ies_enforce_chglim", 0, &e->enforce_chglim, err) < 0 ||
        pst_opt_bool(c, "ies_use_mda", 0, &e->use_mda, err) < 0 ||
        pst_opt_double(c, "ies_mda_init_fac", 10.0, &e->mda_init, err) < 0 ||
        pst_opt_double(c, "ies_mda_dec_fac", 0.5, &e->mda_dec, err) < 0 ||
        pst_opt_bool(c, "ies_enforce_bounds", 1, &e->enforce_bounds, err) < 0 ||
        pst_opt_int(c, "ies_subset_size", SUBSET_SIZE_DEFAULT, &e->subset_size, err) < 0 ||
        pst_opt_int(c, "random_seed", (int)DEFAULT_SEED, &seed, err) < 0 ||
        pst_opt_int(c, "ensemble_output_precision", 20, &e->precision, err) < 0 ||
        pst_opt_double(c, "par_sigma_range", 4.0, &sigma_range, err) < 0 ||
        pst_opt_double(c, "ies_initial_lambda", 0.0, &e->init_lambda, err) < 0 ||
        pst_opt_double(c, "ies_bad_phi", DBL_MAX, &e->bad_phi, err) < 0 ||
        pst_opt_double(c, "ies_bad_phi_sigma", DBL_MAX, &e->bad_phi_sigma, err) < 0 ||
        pst_opt_double(c, "ies_reg_factor", 0.0, &e->reg_factor, err) < 0 ||
        pst_opt_double(c, "ies_accept_phi_fac", 1.05, &e->accept_fac, err) < 0 ||
        pst_opt_double(c, "ies_lambda_inc_fac", 10.0, &e->lam_inc, err) < 0 ||
        pst_opt_double(c, "ies_lambda_dec_fac", 0.75, &e->lam_dec, err) < 0 ||
        pst_opt_bool(c, "ies_drop_conflicts", 0, &e->drop_conflicts, err) < 0 ||
        pst_opt_double(c, "ies_pdc_sigma_distance", -1.0, &e->pdc_sigma, err) < 0)
        return -1;
    /* PEST++ 5.2.23 adds noise only when asked: ++ies_no_noise(false) given explicitly (its
     * other triggers, ++obscov, ++ies_obs_en and ++ies_use_mda, are handled elsewhere) */
    const char *nn = pst_opt_str(c, "ies_no_noise", NULL);
    int have_obs_sd = 0;
    for (size_t i = 0; i < e->nobs; i++)
        have_obs_sd |= isfinite(pst_obs(c, i)->stdev);
    if (nn) {
        if (pst_opt_bool(c, "ies_no_noise", 0, &e->no_noise, err) < 0) return -1;
    } else {
        e->no_noise = !have_obs_sd && !e->use_mda && !pst_opt_str(c, "obscov", NULL); /* these ask
                                                                                       for noise */
    }
    if (e->num_reals < 2)
        return pr_error_set(err, "++ies_num_reals: expected 2 or more, got %d", e->num_reals);
    if (!(sigma_range > 0))
        return pr_error_set(err, "++par_sigma_range: expected a number above 0");
    if (e->precision < 1 || e->precision > 40) e->precision = 20;
    if (pr_strieq(how, "random"))
        e->subset_how = SUBSET_RANDOM;
    else if (pr_strieq(how, "first"))
        e->subset_how = SUBSET_FIRST;
    else if (pr_strieq(how, "last"))
        e->subset_how = SUBSET_LAST;
    else if (pr_strieq(how, "phi_based"))
        e->subset_how = SUBSET_PHI;
    else
        return pr_error_set(err,
                            "++ies_subset_how: expected random, first, last or phi_based, "
                            "got '%s'",
                            how);
    if (lambda_grid(c, &e->mults, &e->nmults, &e->scales, &e->nscales, err) < 0) return -1;
    if (!(e->accept_fac > 0) || !(e->lam_inc > 0) || !(e->lam_dec > 0))
        return pr_error_set(err, "++ies_accept_phi_fac, ++ies_lambda_inc_fac and "
                                 "++ies_lambda_dec_fac: expected numbers above 0");
    pr_rng_seed(&e->rng, (uint32_t)seed);
    e->maxsing = pst_control(c)->maxsing;
    e->eigthresh = pst_control(c)->eigthresh;
    /* numeric bounds and the prior standard deviations */
    for (size_t k = 0; k < e->nadj; k++) {
        const struct pst_param *p = pst_param(c, e->ps.adj[k]);
        int lg = e->ps.is_log[k];
        if (!(p->ubnd > p->lbnd) || (lg && !(p->lbnd > 0)))
            return pr_error_set(err,
                                "%s:%d: parameter %s: bounds %g and %g give no prior standard "
                                "deviation: widen them or give ++parcov",
                                p->loc.file, p->loc.line, p->name, p->lbnd, p->ubnd);
        e->lo[k] = lg ? log10(p->lbnd) : p->lbnd;
        e->hi[k] = lg ? log10(p->ubnd) : p->ubnd;
        e->sd[k] = (e->hi[k] - e->lo[k]) / sigma_range;
        if (isfinite(p->stdev) && p->stdev > 0) e->sd[k] = p->stdev; /* v2 standard_deviation */
    }
    int got = fosm_load_parcov(&e->ps, &e->parcov, &e->prior_how, err);
    if (got < 0) return -1;
    if (got) {
        for (size_t k = 0; k < e->nadj; k++)
            e->sd[k] = sqrt(e->parcov[k * e->nadj + k]);
    } else {
        struct strbuf sb = {0};
        sb_printf(&sb,
                  "from the parameter bounds: stdev = (upper - lower) / %g, in log10 for "
                  "log-transformed parameters",
                  sigma_range);
        e->prior_how = sb_take(&sb);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the prior ensemble                                                                         */

/* Draw (or read) the prior parameter ensemble and the observations-plus-noise ensemble. */
static int prior_ensemble(struct ies *e, struct pr_error *err)
{
    size_t n = e->nadj, N = (size_t)e->num_reals;
    double *read_vals = NULL;
    char **read_names = NULL;
    int has_base = 0;
    if (pst_opt_str(e->c, "ies_parameter_ensemble", NULL)) {
        long rows =
            ies__read_ensemble_csv(e, "ies_parameter_ensemble", 1, &read_vals, &read_names, err);
        if (rows < 0) return -1;
        if (rows < 2) {
            for (long r = 0; r < rows; r++)
                free(read_names[r]);
            free(read_names);
            free(read_vals);
            return pr_error_set(err, "++ies_parameter_ensemble: expected 2 or more realizations");
        }
        /* PEST++ takes the first ies_num_reals rows when it is given */
        if (!pst_opt_str(e->c, "ies_num_reals", NULL) || (size_t)rows < N) N = (size_t)rows;
        for (size_t r = 0; r < N; r++)
            has_base |= strcmp(read_names[r], BASE_NAME) == 0;
        for (size_t r = N; r < (size_t)rows; r++)
            free(read_names[r]);
        ies__rec(e, "prior parameter ensemble: %zu realizations read from %s\n", N,
                 pst_opt_str(e->c, "ies_parameter_ensemble", ""));
    } else {
        ies__rec(e, "prior parameter ensemble: %zu realizations drawn %s, seed %u\n", N,
                 e->prior_how, (unsigned)e->rng.s[0]);
    }
    e->nreals = N;
    e->names = xcalloc(N + 1, sizeof(char *));
    ies__en_alloc(e, &e->en, N);
    e->en.n = N;
    double *num0 = xcalloc(n + 1, sizeof(double));
    parspace_to_num(&e->ps, e->init, num0);
    /* the lower Cholesky factor of ++parcov, when it is given */
    double *L = NULL;
    if (e->parcov && !read_vals) {
        L = xcalloc(n * n + 1, sizeof(double));
        memcpy(L, e->parcov, n * n * sizeof(double));
        for (size_t j = 0; j < n; j++) { /* in place, row-major lower */
            for (size_t k = 0; k < j; k++)
                L[j * n + j] -= L[j * n + k] * L[j * n + k];
            L[j * n + j] = sqrt(L[j * n + j]);
            for (size_t i = j + 1; i < n; i++) {
                for (size_t k = 0; k < j; k++)
                    L[i * n + j] -= L[i * n + k] * L[j * n + k];
                L[i * n + j] /= L[j * n + j];
            }
        }
    }
    double *z = xcalloc(n + 1, sizeof(double));
    for (size_t r = 0; r < N; r++) {
        double *p = e->en.P + r * n;
        e->en.id[r] = r;
        if (read_vals) {
            e->names[r] = read_names[r];
            parspace_to_num(&e->ps, read_vals + r * e->npar, p);
            continue;
        }
        char buf[32];
        snprintf(buf, sizeof(buf), "%zu", r);
        e->names[r] = xstrdup(buf);
        for (size_t j = 0; j < n; j++)
            z[j] = pr_rng_normal(&e->rng);
        for (size_t j = 0; j < n; j++) {
            double x = num0[j];
            if (L)
                for (size_t k = 0; k <= j; k++)
                    x += L[j * n + k] * z[k];
            else
                x += e->sd[j] * z[j];
            p[j] = x;
        }
    }
    free(z);
    free(L);
    free(read_vals);
    free(read_names);
    int restart = pst_opt_str(e->c, "ies_restart_observation_ensemble", NULL) != NULL;
    if (restart && e->include_base && !has_base)
        ies__rec(e,
                 "no 'base' realization is added: the run restarts from ++ies_restart_obs_en (as "
                 "pestpp-ies)\n");
    if (e->include_base && !has_base && !restart) { /* PEST++ replaces the last realization */
        free(e->names[N - 1]);
        e->names[N - 1] = xstrdup(BASE_NAME);
        memcpy(e->en.P + (N - 1) * n, num0, n * sizeof(double));
        ies__rec(e, "the last realization is replaced by 'base', the initial parameter values\n");
    }
    for (size_t r = 0; r < N && !restart; r++) /* PEST++ leaves a restart's prior as it is */
        clamp_row(e, e->en.P + r * n);
    memcpy(e->en.P0, e->en.P, N * n * sizeof(double));
    free(num0);
    return 0;
}

/* ++obscov (EnsembleMethod::initialize_obscov): the observation noise covariance. Weighted
 * observations not in it lose their weight, the others' weights become min(weight,
 * 1 / sqrt(variance)), and its Cholesky factor for the weighted ones is kept for the noise.
 * Returns 0 (no ++obscov too) or -1 with err set. */
static int read_obscov(struct ies *e, struct pr_error *err)
{
    const char *file = pst_opt_str(e->c, "obscov", NULL);
    if (!file || !file[0]) return 0;
    if (e->drop_conflicts)
        return pr_error_set(err, "++obscov with ++ies_drop_conflicts: pestpp-ies 5.2.23 does not "
                                 "support them together, nor does pestrun");
    if (e->no_noise)
        return pr_error_set(err, "++obscov with ++ies_no_noise(true): pestpp-ies 5.2.23 stops on "
                                 "them together, and so does pestrun");
    char *path = ies__case_file(e, file);
    struct fosm_matrix *mx = fosm_matrix_load(path, pst_dir(e->c), NULL, err);
    free(path);
    if (!mx) {
        pr_error_prefix(err, "++obscov");
        return -1;
    }
    size_t nr = fosm_matrix_nrows(mx), q = 0, dropped = 0;
    long *at = xcalloc(e->m + 1, sizeof(long));
    for (size_t i = 0; i < e->m; i++) {
        const char *name = pst_obs(e->c, e->act[i])->name;
        long r = -1;
        for (size_t k = 0; k < nr && r < 0; k++)
            if (pr_strieq(fosm_matrix_rowname(mx, k), name) &&
                pr_strieq(fosm_matrix_colname(mx, k), name))
                r = (long)k;
        if (r < 0) {
            if (!dropped++) ies__rec(e, "weighted observations not in ++obscov, given no weight:");
            ies__rec(e, " %s", name);
            continue;
        }
        double var = fosm_matrix_get(mx, (size_t)r, (size_t)r);
        if (!(var > 0)) {
            fosm_matrix_destroy(mx);
            free(at);
            return pr_error_set(err, "++obscov: the variance of %s is %g: expected a value above 0",
                                name, var);
        }
        e->act[q] = e->act[i], e->ineq[q] = e->ineq[i];
        e->w[q] = fmin(e->w[i], 1.0 / sqrt(var));
        at[q++] = r;
    }
    if (dropped) ies__rec(e, "\n");
    e->m = q;
    double *L = xcalloc(q * q + 1, sizeof(double));
    for (size_t a = 0; a < q; a++)
        for (size_t b = 0; b < q; b++)
            L[a * q + b] = fosm_matrix_get(mx, (size_t)at[a], (size_t)at[b]);
    fosm_matrix_destroy(mx);
    free(at);
    lapack_int info =
        q ? LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)q, L, (lapack_int)q) : 0;
    if (info != 0) {
        free(L);
        return pr_error_set(err,
                            "++obscov: the covariance of the weighted observations is not "
                            "positive definite (LAPACK info %d)",
                            (int)info);
    }
    for (size_t a = 0; a < q; a++)
        for (size_t b = a + 1; b < q; b++)
            L[a * q + b] = 0.0;
    e->obscov_L = L;
    ies__rec(e, "observation noise covariance from ++obscov %s (%zu weighted observations)\n", file,
             q);
    return 0;
}

/* The noise standard deviation of used observation i: its standard_deviation column, else
 * 1 / weight (Covariance::from_observation_weights). */
static double noise_sd(const struct ies *e, size_t i)
{
    double sd = pst_obs(e->c, e->act[i])->stdev;
    return isfinite(sd) && sd > 0 ? sd : 1.0 / e->w[i];
}

static int noise_ensemble(struct ies *e, struct pr_error *err)
{
    size_t N = e->en.n, no = e->nobs;
    if (pst_opt_str(e->c, "ies_observation_ensemble", NULL)) {
        double *vals = NULL;
        char **names = NULL;
        long rows = ies__read_ensemble_csv(e, "ies_observation_ensemble", 0, &vals, &names, err);
        if (rows < 0) return -1;
        int bad = (size_t)rows < N;
        if (!bad)
            for (size_t r = 0; r < N; r++)
                memcpy(e->en.O + r * no, vals + r * no, no * sizeof(double));
        for (long r = 0; r < rows; r++)
            free(names[r]);
        free(names);
        free(vals);
        if (bad)
            return pr_error_set(err,
                                "++ies_observation_ensemble: %ld realizations, fewer than the "
                                "%zu of the parameter ensemble",
                                rows, N);
        ies__rec(e, "observations plus noise read from %s\n",
                 pst_opt_str(e->c, "ies_observation_ensemble", ""));
    } else {
        for (size_t r = 0; r < N; r++)
            for (size_t i = 0; i < no; i++)
                e->en.O[r * no + i] = pst_obs(e->c, i)->value;
        if (!e->no_noise && e->obscov_L) { /* N(0, obscov): L z, L L' = obscov */
            double *z = xcalloc(e->m + 1, sizeof(double));
            for (size_t r = 0; r < N; r++) {
                for (size_t i = 0; i < e->m; i++)
                    z[i] = pr_rng_normal(&e->rng);
                for (size_t i = 0; i < e->m; i++) {
                    double v = 0;
                    for (size_t k = 0; k <= i; k++)
                        v += e->obscov_L[i * e->m + k] * z[k];
                    if (!e->ineq[i]) e->en.O[r * no + e->act[i]] += v;
                }
            }
            free(z);
            ies__rec(e,
                     "observation noise: N(0, ++obscov) added to the %zu observations with a "
                     "weight\n",
                     e->m);
        } else if (!e->no_noise) {
            for (size_t r = 0; r < N; r++)
                for (size_t i = 0; i < e->m; i++)
                    if (!e->ineq[i])
                        e->en.O[r * no + e->act[i]] += pr_rng_normal(&e->rng) * noise_sd(e, i);
            ies__rec(
                e,
                "observation noise: N(0, sd^2) added to the %zu observations with a weight (sd: "
                "their standard_deviation column, else 1/weight)\n",
                e->m);
        } else {
            ies__rec(e, "no observation noise (ies_no_noise, PEST++ 5.2.23's choice when no noise "
                        "option is given)\n");
        }
    }
    for (size_t r = 0; r < N; r++) /* the base realization keeps the observed values */
        if (ies__is_base(e, e->en.id[r]))
            for (size_t i = 0; i < no; i++)
                e->en.O[r * no + i] = pst_obs(e->c, i)->value;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* one iteration (EnsembleMethod::solve)                                                      */

static int in_list(const size_t *v, size_t n, size_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static int cmp_phi_row(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* The rows tested for each lambda (EnsembleMethod::get_subset_idxs): base first, then by
 * ies_subset_how. Returns the count (all rows when the subset is not smaller). */
static size_t choose_subset(struct ies *e, size_t *sub)
{
    size_t N = e->en.n;
    size_t want = subset_rows(e->subset_size, (e->use_mda ? 1 : e->nmults) * e->nscales, N);
    if (want == N) {
        for (size_t r = 0; r < N; r++)
            sub[r] = r;
        return N;
    }
    size_t k = 0;
    for (size_t r = 0; r < N; r++)
        if (ies__is_base(e, e->en.id[r])) sub[k++] = r;
    if (e->subset_how == SUBSET_FIRST) {
        for (size_t r = 0; r < N && k < want; r++)
            if (!in_list(sub, k, r)) sub[k++] = r;
    } else if (e->subset_how == SUBSET_LAST) {
        for (size_t r = N; r-- > 0 && k < want;)
            if (!in_list(sub, k, r)) sub[k++] = r;
    } else if (e->subset_how == SUBSET_RANDOM) {
        while (k < want) {
            size_t r = pr_rng_below(&e->rng, (uint32_t)N);
            if (!in_list(sub, k, r)) sub[k++] = r;
        }
    } else { /* the lowest, the highest, then evenly spaced by composite phi */
        double *ph = xcalloc(2 * N + 1, sizeof(double));
        for (size_t r = 0; r < N; r++)
            ph[2 * r] = ies__phi_of(e, &e->en, r, PHI_COMPOSITE), ph[2 * r + 1] = (double)r;
        qsort(ph, N, 2 * sizeof(double), cmp_phi_row);
        size_t lo = (size_t)ph[1], hi = (size_t)ph[2 * (N - 1) + 1];
        if (k < want && !in_list(sub, k, lo)) sub[k++] = lo;
        if (k < want && !in_list(sub, k, hi)) sub[k++] = hi;
        size_t step = (N - 1) / want;
        for (size_t i = 1; i < want && k < want && step > 0; i++) {
            size_t r = (size_t)ph[2 * (N - i * step) + 1];
            if (!in_list(sub, k, r)) sub[k++] = r;
        }
        for (size_t r = 0; r < N && k < want; r++) /* fill up, if the spacing repeated rows */
            if (!in_list(sub, k, r)) sub[k++] = r;
        free(ph);
    }
    return k;
}

/* Replace the rows of the current ensemble whose composite phi the candidate (cand, rows
 * at[] of the current ensemble) lowers by the accept factor (update_reals_by_phi). */
static size_t update_by_phi(struct ies *e, const struct ensemble *cand, const size_t *at)
{
    size_t n = 0;
    for (size_t q = 0; q < cand->n; q++) {
        size_t r = at[q];
        double now = ies__phi_of(e, &e->en, r, PHI_COMPOSITE),
               next = ies__phi_of(e, cand, q, PHI_COMPOSITE);
        if (!(next < now * e->accept_fac)) continue;
        memcpy(e->en.P + r * e->nadj, cand->P + q * e->nadj, e->nadj * sizeof(double));
        memcpy(e->en.D + r * e->nobs, cand->D + q * e->nobs, e->nobs * sizeof(double));
        n++;
    }
    return n;
}

/* The row of the current ensemble holding realization id. */
static size_t row_of_id(const struct ies *e, size_t id)
{
    for (size_t r = 0; r < e->en.n; r++)
        if (e->en.id[r] == id) return r;
    return (size_t)-1;
}

static void push_best(struct ies *e, double mean)
{
    e->best_means = xrealloc(e->best_means, (e->nbest + 1) * sizeof(double));
    e->best_means[e->nbest++] = mean;
}

static void lambda_after_reject(struct ies *e)
{
    e->lambda = fmin(e->lambda * e->lam_inc, LAMBDA_MAX);
    ies__rec(e, "  lambda increased to %g\n", e->lambda);
}

/* A candidate ensemble from rows rows[] of the current one plus sf x upgrade (nrows x nadj). */
/* ++ies_enforce_chglim (Pest::enforce_par_limits, each parameter on its own): the upgraded
 * numeric values p of a realization whose current values are last, clamped in control space into
 * the FACPARMAX (factor) or RELPARMAX (relative) window about last; a value of exactly 0 is
 * first taken as upper bound / 4, and an untransformed value below FACORIG x PARVAL1 in size
 * raised to it, as PEST++ 5.2.23 does. */
static void change_limits(const struct ies *e, double *p, const double *last)
{
    const struct pst_control *ctl = pst_control(e->c);
    for (size_t j = 0; j < e->nadj; j++) {
        const struct pst_param *pr = pst_param(e->c, e->ps.adj[j]);
        int lg = e->ps.is_log[j];
        double v = lg ? pow(10.0, p[j]) : p[j], l = lg ? pow(10.0, last[j]) : last[j];
        double orig = pr->parval1 != 0.0 ? pr->parval1 : pr->ubnd / 4.0, lo, hi;
        if (v == 0.0) v = pr->ubnd / 4.0;
        if (pr->chglim == PST_CHG_FACTOR) {
            lo = l > 0 ? l / ctl->facparmax : l * ctl->facparmax;
            hi = l > 0 ? l * ctl->facparmax : l / ctl->facparmax;
        } else {
            lo = l - fabs(l) * ctl->relparmax;
            hi = l + fabs(l) * ctl->relparmax;
        }
        v = v > hi ? hi : v < lo ? lo : v;
        if (pr->trans == PST_TRANS_NONE && fabs(v) < fabs(orig) * ctl->facorig)
            v = orig * ctl->facorig;
        p[j] = lg ? log10(v) : v;
    }
}

static void make_candidate(struct ies *e, struct ensemble *cand, const size_t *rows, size_t nrows,
                           const double *up, double sf)
{
    ies__en_alloc(e, cand, nrows);
    cand->n = nrows;
    for (size_t q = 0; q < nrows; q++) {
        size_t r = rows[q];
        ies__en_copy_row(e, cand, q, &e->en, r);
        double *p = cand->P + q * e->nadj;
        for (size_t j = 0; j < e->nadj; j++)
            p[j] += sf * up[q * e->nadj + j];
        if (e->enforce_chglim) change_limits(e, p, e->en.P + r * e->nadj);
        clamp_row(e, p);
    }
}

/* Keep the candidate rows whose run succeeded; their simulated values from sim. */
static void take_results(struct ies *e, struct ensemble *cand, const double *sim,
                         const unsigned char *ok, const char *what)
{
    size_t failed = 0;
    for (size_t q = 0; q < cand->n; q++) {
        if (ok[q]) {
            memcpy(cand->D + q * e->nobs, sim + q * e->nobs, e->nobs * sizeof(double));
            continue;
        }
        if (!failed++) ies__rec(e, "  %s: runs failed, realizations dropped:", what);
        ies__rec(e, " %s", e->names[cand->id[q]]);
    }
    if (failed) ies__rec(e, "\n");
    ies__en_keep(e, cand, ok);
}

/* The covariance inflation factor of this iteration (EnsembleMethod::solve_mda): at iteration
 * 1 the factors init, init x dec, ... for NOPTMAX iterations, scaled so that their inverses sum
 * to 1; later the current lambda replaces this iteration's factor and the factors left are
 * scaled so that the inverses still sum to 1. */
static double mda_factor(struct ies *e)
{
    int nopt = pst_control(e->c)->noptmax, it = e->iter;
    size_t n = (size_t)(nopt > 0 ? nopt : 1);
    if (!e->mda_lams) {
        e->mda_lams = xcalloc(n + 1, sizeof(double));
        double tot = 0;
        for (size_t i = 0; i < n; i++) {
            e->mda_lams[i] = i ? e->mda_lams[i - 1] * e->mda_dec : e->mda_init;
            tot += 1.0 / e->mda_lams[i];
        }
        for (size_t i = 0; i < n; i++)
            e->mda_lams[i] = 1.0 / ((1.0 / e->mda_lams[i]) / tot);
    } else if (it >= 2 && (size_t)it <= n) {
        e->mda_lams[it - 1] = e->lambda;
        double before = 0, after = 0;
        for (size_t i = 0; i < n; i++) {
            if ((int)i < it - 1)
                before += 1.0 / e->mda_lams[i];
            else
                after += 1.0 / e->mda_lams[i];
        }
        for (size_t i = (size_t)it - 1; i < n; i++)
            e->mda_lams[i] = 1.0 / ((1.0 - before) * (1.0 / e->mda_lams[i]) / after);
    }
    size_t at = it >= 1 && (size_t)it <= n ? (size_t)it - 1 : n - 1;
    return e->mda_lams[at];
}

/* One upgrade iteration. Returns 1 when the upgrade was accepted, 0 when not, 2 when stopped,
 * -1 on error. */
static int solve(struct ies *e, struct pr_error *err)
{
    size_t N = e->en.n, n = e->nadj;
    int rc = -1;
    if (N < 2) return pr_error_set(err, "too few active realizations (%zu): cannot continue", N);
    if (e->center_on[0] && !pr_strieq(e->center_on, "_median_") &&
        ies__center_row(e) == IES_CENTER_MEAN)
        return pr_error_set(err,
                            "++ies_center_on(%s): that realization is not in the ensemble "
                            "(any more): PEST++ stops too",
                            e->center_on);
    if (e->autoadaloc) ies__adaptive_cases(e);
    size_t *sub = xcalloc(N + 1, sizeof(size_t));
    size_t ns = choose_subset(e, sub), nl = e->use_mda ? 1 : e->nmults, nsf = e->nscales;
    size_t ncand = nl * nsf, rank;
    int use_subset = ns < N;
    double *lams = xcalloc(nl + 1, sizeof(double)), *ups = xcalloc(nl * ns * n + 1, sizeof(double));
    for (size_t l = 0; l < nl; l++)
        lams[l] = e->use_mda ? mda_factor(e) : e->lambda * e->mults[l];
    if (ies__upgrades(e, lams, nl, sub, ns, ups, &rank, err) < 0) {
        free(sub);
        free(lams);
        free(ups);
        return -1;
    }
    ies__rec(e,
             "  lambda %g; %zu singular values kept%s; testing %zu lambda x scale pairs on %zu "
             "realization%s:",
             e->lambda, rank, e->cases ? " (at most, per local analysis)" : "", ncand, ns,
             ns == 1 ? "" : "s");
    for (size_t q = 0; q < ns; q++)
        ies__rec(e, " %s", e->names[e->en.id[sub[q]]]);
    ies__rec(e, "\n");
    /* the candidates: every lambda x scale pair on the subset, one batch */
    struct ensemble *cand = xcalloc(ncand + 1, sizeof(*cand));
    double *num = xcalloc(ncand * ns * n + 1, sizeof(double));
    double *res = xcalloc(ncand * ns * e->nobs + 1, sizeof(double));
    unsigned char *ok = xcalloc(ncand * ns + 1, 1);
    char **labels = make_labels(ncand * ns);
    for (size_t l = 0; l < nl; l++) {
        for (size_t f = 0; f < nsf; f++) {
            size_t c = l * nsf + f;
            make_candidate(e, &cand[c], sub, ns, ups + l * ns * n, e->scales[f]);
            memcpy(num + c * ns * n, cand[c].P, ns * n * sizeof(double));
            for (size_t q = 0; q < ns; q++)
                labels[c * ns + q] =
                    label("iteration %d lambda %g scale %g realization %s", e->iter, lams[l],
                          e->scales[f], e->names[e->en.id[sub[q]]]);
        }
    }
    int b = run_rows(e, ncand * ns, num, labels, res, ok, err);
    free_labels(labels, ncand * ns);
    free(num);
    if (b != 0) {
        rc = b < 0 ? -1 : 2;
        goto done;
    }
    /* the best pair by mean composite phi */
    size_t best = (size_t)-1;
    struct stats best_st = {INFINITY, INFINITY, 0, 0};
    for (size_t c = 0; c < ncand; c++) {
        char what[128];
        snprintf(what, sizeof(what), "lambda %g, scale %g", lams[c / nsf], e->scales[c % nsf]);
        take_results(e, &cand[c], res + c * ns * e->nobs, ok + c * ns, what);
        drop_bad(e, &cand[c], what);
        if (cand[c].n == 0) {
            ies__rec(e, "  %s: every realization failed or was dropped\n", what);
            continue;
        }
        struct stats st = ies__en_stats(e, &cand[c], PHI_COMPOSITE);
        fprintf(e->f_lambda, "%d,%zu,%g,%g,%g,%g,%g,%g,%g\n", e->iter, cand[c].n, e->lambda,
                e->last_mean, e->last_std, e->scales[c % nsf], lams[c / nsf], st.mean, st.std);
        ies__rec(e, "    lambda %-12g scale %-6g mean phi %-14.6g std %-14.6g (%zu realizations)\n",
                 lams[c / nsf], e->scales[c % nsf], st.mean, st.std, cand[c].n);
        if (st.mean < best_st.mean) best_st = st, best = c;
    }
    fflush(e->f_lambda);
    if (best == (size_t)-1) {
        e->lambda = fmin(e->lambda * 10000.0, LAMBDA_MAX);
        ies__rec(e, "  no candidate could be evaluated: lambda multiplied by 10000 to %g\n",
                 e->lambda);
        rc = 0;
        goto done;
    }
    double best_lam = lams[best / nsf], best_sf = e->scales[best % nsf];
    size_t *at = xcalloc(N + 1, sizeof(size_t)); /* candidate row -> current row */
    if (use_subset && best_st.mean > e->last_mean * e->accept_fac) {
        ies__rec(e,
                 "  best subset mean phi %g is above the acceptable %g: updating the subset "
                 "realizations whose phi dropped\n",
                 best_st.mean, e->last_mean * e->accept_fac);
        for (size_t q = 0; q < cand[best].n; q++)
            at[q] = row_of_id(e, cand[best].id[q]);
        push_best(e, ies__en_stats(e, &e->en, PHI_COMPOSITE).mean);
        if (!e->use_mda) update_by_phi(e, &cand[best], at);
        struct stats now = ies__en_stats(e, &e->en, PHI_COMPOSITE);
        if (now.mean < best_st.mean) {
            e->best_means[e->nbest - 1] = now.mean;
            if (now.mean < e->last_mean * e->accept_fac) {
                if (now.std < e->last_std * e->accept_fac)
                    e->lambda = fmax(best_lam * e->lam_dec, LAMBDA_MIN);
                e->last_std = now.std;
            }
        } else {
            lambda_after_reject(e);
        }
        free(at);
        rc = 0;
        goto done;
    }
    /* the rest of the ensemble at the best pair, one batch */
    struct ensemble whole = {0};
    if (use_subset) {
        size_t nr = 0, *rest = xcalloc(N + 1, sizeof(size_t));
        for (size_t r = 0; r < N; r++)
            if (!in_list(sub, ns, r)) rest[nr++] = r;
        double *up2 = xcalloc(nr * n + 1, sizeof(double));
        if (ies__upgrades(e, &best_lam, 1, rest, nr, up2, &rank, err) < 0) {
            free(up2);
            free(rest);
            free(at);
            goto done;
        }
        struct ensemble more;
        make_candidate(e, &more, rest, nr, up2, best_sf);
        double *res2 = xcalloc(nr * e->nobs + 1, sizeof(double));
        unsigned char *ok2 = xcalloc(nr + 1, 1);
        char **l2 = make_labels(nr);
        for (size_t q = 0; q < nr; q++)
            l2[q] = label("iteration %d lambda %g scale %g realization %s", e->iter, best_lam,
                          best_sf, e->names[e->en.id[rest[q]]]);
        ies__rec(e, "  running the other %zu realizations with lambda %g, scale %g\n", nr, best_lam,
                 best_sf);
        b = run_rows(e, nr, more.P, l2, res2, ok2, err);
        free_labels(l2, nr);
        free(up2);
        free(rest);
        if (b == 0) {
            size_t nok = 0;
            for (size_t q = 0; q < nr; q++)
                nok += ok2[q];
            if (nok == 0 && nr > 0) {
                ies__rec(e, "  every remaining realization failed\n");
                lambda_after_reject(e);
                b = 3;
            } else {
                take_results(e, &more, res2, ok2, "remaining realizations");
                /* merge in the order of the current ensemble */
                ies__en_alloc(e, &whole, N);
                for (size_t r = 0; r < N; r++) {
                    for (size_t q = 0; q < cand[best].n; q++)
                        if (cand[best].id[q] == e->en.id[r])
                            ies__en_copy_row(e, &whole, whole.n++, &cand[best], q);
                    for (size_t q = 0; q < more.n; q++)
                        if (more.id[q] == e->en.id[r])
                            ies__en_copy_row(e, &whole, whole.n++, &more, q);
                }
            }
        }
        free(res2);
        free(ok2);
        ies__en_free(&more);
        if (b != 0) {
            free(at);
            ies__en_free(&whole);
            rc = b < 0 ? -1 : b == 2 ? 2 : 0;
            goto done;
        }
        drop_bad(e, &whole, "whole ensemble");
        if (whole.n == 0) {
            ies__rec(e, "  every realization was dropped\n");
            lambda_after_reject(e);
            free(at);
            ies__en_free(&whole);
            rc = 0;
            goto done;
        }
    } else {
        whole = cand[best];
        memset(&cand[best], 0, sizeof(cand[best]));
    }
    struct stats st = ies__en_stats(e, &whole, PHI_COMPOSITE);
    ies__rec(e,
             "  whole ensemble with lambda %g, scale %g: mean phi %g, std %g (%zu realizations); "
             "acceptable: below %g\n",
             best_lam, best_sf, st.mean, st.std, whole.n, e->last_mean * e->accept_fac);
    push_best(e, st.mean);
    sched_note_phi(e->s, st.mean);
    if (st.mean < e->last_mean * e->accept_fac) {
        size_t dropped = e->en.n - whole.n;
        if (e->update_by_reals) { /* keep whole's realizations, take only the better ones */
            unsigned char *keep = xcalloc(e->en.n + 1, 1);
            for (size_t q = 0; q < whole.n; q++)
                keep[row_of_id(e, whole.id[q])] = 1;
            ies__en_keep(e, &e->en, keep);
            free(keep);
            for (size_t q = 0; q < whole.n; q++)
                at[q] = row_of_id(e, whole.id[q]);
            size_t moved = update_by_phi(e, &whole, at);
            ies__rec(e, "  ies_update_by_reals: %zu of %zu realizations updated\n", moved, whole.n);
            ies__en_free(&whole);
        } else {
            ies__en_free(&e->en);
            e->en = whole;
        }
        if (dropped)
            ies__rec(e, "  %zu realization%s left the ensemble\n", dropped,
                     dropped == 1 ? "" : "s");
        e->last_mean = st.mean;
        if (st.std < e->last_std * e->accept_fac) {
            e->lambda = fmax(best_lam * e->lam_dec, LAMBDA_MIN);
            ies__rec(e, "  upgrade accepted; lambda now %g\n", e->lambda);
        } else {
            ies__rec(e, "  upgrade accepted; lambda kept (the phi spread did not shrink enough)\n");
        }
        e->last_std = st.std;
        free(at);
        rc = 1;
        goto done;
    }
    for (size_t q = 0; q < whole.n; q++)
        at[q] = row_of_id(e, whole.id[q]);
    size_t moved = e->update_by_reals || e->use_mda ? 0 : update_by_phi(e, &whole, at);
    ies__rec(e, "  upgrade not accepted; %zu realization%s whose phi dropped updated\n", moved,
             moved == 1 ? "" : "s");
    struct stats now = ies__en_stats(e, &e->en, PHI_COMPOSITE);
    if (now.mean < st.mean) e->best_means[e->nbest - 1] = now.mean;
    if (now.mean < st.mean && now.mean < e->last_mean * e->accept_fac) {
        if (now.std < e->last_std * e->accept_fac)
            e->lambda = fmax(best_lam * e->lam_dec, LAMBDA_MIN);
        e->last_std = now.std;
    } else {
        lambda_after_reject(e);
    }
    ies__en_free(&whole);
    free(at);
    rc = 0;
done:
    for (size_t c = 0; c < ncand; c++)
        ies__en_free(&cand[c]);
    free(cand);
    free(lams);
    free(ups);
    free(res);
    free(ok);
    free(sub);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

static int setup(struct ies *e, const struct pst_case *c, const char *pst_path, struct sched *s,
                 struct pr_error *err)
{
    memset(e, 0, sizeof(*e));
    e->c = c;
    e->pst_path = pst_path;
    e->s = s;
    parspace_init(&e->ps, c);
    e->npar = pst_nparams(c);
    e->nobs = pst_nobs(c);
    e->nadj = e->ps.nadj;
    e->init = xcalloc(e->npar + 1, sizeof(double));
    pst_initial_values(c, e->init);
    e->act = xcalloc(e->nobs + 1, sizeof(size_t));
    e->w = xcalloc(e->nobs + 1, sizeof(double));
    for (size_t i = 0; i < e->nobs; i++)
        if (pst_obs(c, i)->weight > 0) e->w[e->m] = pst_obs(c, i)->weight, e->act[e->m++] = i;
    e->ineq = xcalloc(e->m + 1, 1);
    for (size_t i = 0; i < e->m; i++) {
        const char *g = pst_obsgp(c, (size_t)pst_obs(c, e->act[i])->group)->name;
        if (!strncasecmp(g, "L_", 2) || !strncasecmp(g, "LESS", 4) || !strncmp(g, ">@", 2))
            e->ineq[i] = -1;
        else if (!strncasecmp(g, "G_", 2) || !strncasecmp(g, "GREATER", 7) || !strncmp(g, "<@", 2))
            e->ineq[i] = 1;
    }
    e->lo = xcalloc(e->nadj + 1, sizeof(double));
    e->hi = xcalloc(e->nadj + 1, sizeof(double));
    e->sd = xcalloc(e->nadj + 1, sizeof(double));
    if (ies__open_outputs(e, err) < 0) return -1;
    if (e->nadj == 0) return pr_error_set(err, "%s: no adjustable parameters", pst_path);
    return read_options(e, err);
}

static void teardown(struct ies *e)
{
    parspace_free(&e->ps);
    ies__en_free(&e->en);
    for (size_t i = 0; i < e->nreals; i++)
        free(e->names[i]);
    free(e->names);
    free(e->init);
    free(e->act);
    free(e->w);
    free(e->ineq);
    free(e->lo);
    free(e->hi);
    free(e->sd);
    free(e->parcov);
    free(e->prior_how);
    free(e->mults);
    free(e->scales);
    free(e->best_means);
    free(e->obscov_L);
    free(e->mda_lams);
    if (e->cases != e->file_cases) ies__free_cases(e->cases, e->ncases);
    ies__free_cases(e->file_cases, e->nfile_cases);
    free(e->indicators);
    FILE *files[] = {e->rec,    e->f_actual, e->f_meas,  e->f_regul,
                     e->f_comp, e->f_group,  e->f_lambda};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (files[i]) fclose(files[i]);
}

static void describe(struct ies *e)
{
    ies__rec(e, "pestrun %s: iterative ensemble smoother (as pestpp-ies 5.2.23) of %s\n",
             PESTRUN_VERSION, e->pst_path);
    ies__rec(e, "%zu parameters (%zu adjustable), %zu observations (%zu with a weight)\n", e->npar,
             e->nadj, e->nobs, e->m);
    if (pst_nprior(e->c))
        ies__rec(e,
                 "the %zu prior information equations are not used (pestpp-ies does not use them "
                 "either)\n",
                 pst_nprior(e->c));
    ies__rec(e, "upgrade: GLM form, %s solution, EIGTHRESH %g, MAXSING %d; lambda multipliers",
             e->use_approx ? "approximate" : "full", e->eigthresh, e->maxsing);
    for (size_t i = 0; i < e->nmults; i++)
        ies__rec(e, " %g", e->mults[i]);
    ies__rec(e, "; scale factors");
    for (size_t i = 0; i < e->nscales; i++)
        ies__rec(e, " %g", e->scales[i]);
    ies__rec(e, "\naccept phi factor %g, lambda increase %g, decrease %g, reg factor %g\n\n",
             e->accept_fac, e->lam_inc, e->lam_dec, e->reg_factor);
}

/* ------------------------------------------------------------------------------------------ */
/* prior-data conflict (L2PhiHandler::detect_simulation_data_conflict)                        */

static void col_stats(const double *a, size_t N, size_t ld, size_t k, double *mn, double *sd,
                      double *lo, double *hi)
{
    double s = 0, ss = 0, shift = a[k]; /* about the first value: a constant column is exact */
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t r = 0; r < N; r++) {
        double v = a[r * ld + k];
        s += v - shift;
        *lo = fmin(*lo, v), *hi = fmax(*hi, v);
    }
    *mn = shift + s / (double)N;
    for (size_t r = 0; r < N; r++)
        ss += (a[r * ld + k] - *mn) * (a[r * ld + k] - *mn);
    *sd = N > 1 ? sqrt(ss / (double)(N - 1)) : 0.0;
}

/* The used observations whose simulated range (or mean -/+ ies_pdc_sigma_distance stdev) does
 * not reach the observed-plus-noise range: conflict[i] set; CASE.<iter>.pdc.csv lists them as
 * PEST++ does. Returns how many. */
static size_t find_conflicts(struct ies *e, unsigned char *conflict, struct pr_error *err)
{
    size_t N = e->en.n, n = 0;
    char ext[64];
    struct strbuf sb = {0};
    sb_puts(&sb, "name,obs_mean,obs_std,obs_min,obs_max,obs_stat_min,obs_stat_max,sim_mean,"
                 "sim_std,sim_min,sim_max,sim_stat_min,sim_stat_max,distance\n");
    double d = fabs(e->pdc_sigma);
    for (size_t i = 0; i < e->m; i++) {
        size_t k = e->act[i];
        double smn, ssd, smin, smax, omn, osd, omin, omax;
        col_stats(e->en.D, N, e->nobs, k, &smn, &ssd, &smin, &smax);
        col_stats(e->en.O, N, e->nobs, k, &omn, &osd, &omin, &omax);
        double slo = smn - d * ssd, shi = smn + d * ssd, olo = omn - d * osd, ohi = omn + d * osd;
        if (!(e->pdc_sigma > 0)) slo = smin, shi = smax, olo = omin, ohi = omax;
        int c = e->ineq[i] < 0 ? slo > ohi : e->ineq[i] > 0 ? shi < olo : slo > ohi || shi < olo;
        conflict[i] = (unsigned char)c;
        if (!c) continue;
        n++;
        char *low = xstrdup(pst_obs(e->c, k)->name);
        pr_lower(low);
        sb_printf(&sb, "%s,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g\n", low, omn, osd, omin, omax,
                  omn - d * osd, omn + d * osd, smn, ssd, smin, smax, smn - d * ssd, smn + d * ssd,
                  fmax(smin - omax, omin - smax));
        free(low);
    }
    snprintf(ext, sizeof(ext), "%d.pdc.csv", e->iter);
    char *path = pst_output_path(e->pst_path, ext);
    if (ies__write_text(path, &sb, err) < 0) n = (size_t)-1;
    free(path);
    sb_free(&sb);
    return n;
}

/* ++ies_drop_conflicts: the observations in conflict with the prior ensemble get no weight
 * (zero_weight_obs), and the localizer is read again for the observations left. */
static int drop_conflicts(struct ies *e, struct pr_error *err)
{
    unsigned char *conflict = xcalloc(e->m + 1, 1);
    size_t n = find_conflicts(e, conflict, err);
    int rc = 0;
    if (n == (size_t)-1)
        rc = -1;
    else if (n > 0) {
        char *path = pst_output_path(e->pst_path, "0.pdc.csv");
        ies__rec(e, "prior-data conflict: %zu of the %zu observations with a weight (%s)%s\n", n,
                 e->m, path, e->drop_conflicts ? "; their weights are set to 0" : "");
        free(path);
        if (e->drop_conflicts && n == e->m)
            rc = pr_error_set(err, "every observation with a weight is in prior-data conflict: "
                                   "cannot continue");
        else if (e->drop_conflicts) {
            size_t q = 0;
            for (size_t i = 0; i < e->m; i++) {
                if (conflict[i]) {
                    ies__rec(e, "  %s\n", pst_obs(e->c, e->act[i])->name);
                    continue;
                }
                e->act[q] = e->act[i], e->w[q] = e->w[i], e->ineq[q] = e->ineq[i];
                q++;
            }
            e->m = q;
            if (e->nfile_cases) { /* the localizer's observation indices changed */
                if (e->cases == e->file_cases) e->cases = NULL, e->ncases = 0;
                ies__free_cases(e->file_cases, e->nfile_cases);
                e->file_cases = NULL;
                e->nfile_cases = 0;
                rc = ies__read_localizer(e, err);
            }
        }
    }
    free(conflict);
    return rc;
}

/* PEST++'s stopping rules on the mean phis (EnsembleMethod::should_terminate): NPHINORED
 * iterations without an accepted upgrade, or since the lowest mean; NPHISTP means within
 * PHIREDSTP of the lowest; a mean of 0. NULL to go on. */
static const char *should_stop(const struct ies *e, int bad_cycles)
{
    const struct pst_control *ctl = pst_control(e->c);
    if (e->nbest == 0) return NULL;
    size_t imin = 0;
    for (size_t i = 1; i < e->nbest; i++)
        if (e->best_means[i] < e->best_means[imin]) imin = i;
    double best = e->best_means[imin];
    int count = 0;
    for (size_t i = 0; i < e->nbest; i++)
        count += (e->best_means[i] - best) / e->best_means[i] <= ctl->phiredstp;
    if (e->best_means[e->nbest - 1] == 0.0) return "the mean phi is 0";
    if ((int)(e->nbest - 1 - imin) >= ctl->nphinored)
        return "NPHINORED iterations since the lowest mean phi";
    if (count >= ctl->nphistp) return "NPHISTP mean phis within PHIREDSTP of the lowest";
    if (bad_cycles >= ctl->nphinored) return "NPHINORED iterations without an accepted upgrade";
    return NULL;
}

/* ++ies_restart_obs_en (and ++ies_restart_par_en): the realizations of the restart
 * observation ensemble (simulated values of an earlier run) become the current ensemble, with
 * their parameters from ++ies_restart_par_en (else from the prior) and their prior and
 * observed-plus-noise values from the prior ensembles, matched by name. No model is run.
 * Returns 0 or -1 with err set (a name in one file and not in the other). */
static int load_restart(struct ies *e, struct pr_error *err)
{
    double *ov = NULL, *pv = NULL;
    char **on = NULL, **pn = NULL;
    long no = ies__read_ensemble_csv(e, "ies_restart_observation_ensemble", 0, &ov, &on, err),
         np = 0;
    int rc = -1;
    if (no < 0) return -1;
    if (pst_opt_str(e->c, "ies_restart_parameter_ensemble", NULL) &&
        (np = ies__read_ensemble_csv(e, "ies_restart_parameter_ensemble", 1, &pv, &pn, err)) < 0)
        goto done;
    struct ensemble en;
    ies__en_alloc(e, &en, (size_t)no);
    double *num = xcalloc(e->nadj + 1, sizeof(double));
    for (long q = 0; q < no; q++) {
        size_t r = row_of_name(e, on[q]);
        if (r == (size_t)-1) {
            pr_error_set(err,
                         "++ies_restart_obs_en: realization '%s' is not in the prior "
                         "parameter ensemble",
                         on[q]);
            break;
        }
        ies__en_copy_row(e, &en, en.n, &e->en, r);
        memcpy(en.D + en.n * e->nobs, ov + (size_t)q * e->nobs, e->nobs * sizeof(double));
        if (pv) {
            long k = -1;
            for (long t = 0; t < np && k < 0; t++)
                if (strcmp(pn[t], on[q]) == 0) k = t;
            if (k < 0) {
                pr_error_set(err,
                             "++ies_restart_par_en: no realization '%s' (it is in "
                             "++ies_restart_obs_en)",
                             on[q]);
                break;
            }
            parspace_to_num(&e->ps, pv + (size_t)k * e->npar, num);
            memcpy(en.P + en.n * e->nadj, num, e->nadj * sizeof(double));
        }
        en.n++;
    }
    free(num);
    if (en.n == (size_t)no) {
        ies__en_free(&e->en);
        e->en = en;
        rc = 0;
        ies__rec(e, "restart: %zu realizations from %s%s%s; no model run for iteration 0\n", en.n,
                 pst_opt_str(e->c, "ies_restart_observation_ensemble", ""), pv ? " and " : "",
                 pv ? pst_opt_str(e->c, "ies_restart_parameter_ensemble", "") : "");
    } else {
        ies__en_free(&en);
    }
done:
    for (long q = 0; q < no; q++)
        free(on[q]);
    for (long q = 0; q < np; q++)
        free(pn[q]);
    free(on);
    free(pn);
    free(ov);
    free(pv);
    return rc;
}

/* The prior ensemble, run in one batch. Returns 0, 2 when stopped, -1 on error. */
static int run_prior(struct ies *e, struct pr_error *err)
{
    size_t N = e->en.n;
    double *res = xcalloc(N * e->nobs + 1, sizeof(double));
    unsigned char *ok = xcalloc(N + 1, 1);
    char **labels = make_labels(N);
    for (size_t r = 0; r < N; r++)
        labels[r] = label("iteration 0 realization %s", e->names[e->en.id[r]]);
    int b = run_rows(e, N, e->en.P, labels, res, ok, err);
    free_labels(labels, N);
    if (b == 0) {
        take_results(e, &e->en, res, ok, "prior ensemble");
        if (e->en.n > 0 && drop_conflicts(e, err) < 0) b = -1;
        if (b == 0) drop_bad(e, &e->en, "prior ensemble");
    }
    free(res);
    free(ok);
    return b;
}

/* NOPTMAX -2: one run of the prior ensemble's mean (numeric space), or of the realization
 * ++ies_run_realname, written to CASE.mean.par.csv and CASE.mean.obs.csv (CASE.realNAME.*). */
static int run_mean(struct ies *e, struct ies_summary *sum, struct pr_error *err)
{
    const char *want = pst_opt_str(e->c, "ies_run_realname", "");
    size_t n = e->nadj, N = e->en.n, pick = N;
    char file[300], row[256];
    if (want[0]) {
        for (size_t r = 0; r < N; r++)
            if (pr_strieq(e->names[e->en.id[r]], want)) pick = r;
        if (pick == N)
            return pr_error_set(err,
                                "++ies_run_realname: '%s' is not a realization of the "
                                "parameter ensemble",
                                want);
        snprintf(row, sizeof(row), "%s", e->names[e->en.id[pick]]);
        snprintf(file, sizeof(file), "real%s", row);
    } else {
        snprintf(row, sizeof(row), "mean");
        snprintf(file, sizeof(file), "mean");
    }
    if (ies__write_ensemble(e, "0.par.csv", &e->en, NULL, err) < 0 ||
        ies__write_ensemble(e, "obs+noise.csv", &e->en, e->en.O, err) < 0)
        return -1;
    double *p = xcalloc(n + 1, sizeof(double));
    for (size_t r = 0; r < N; r++)
        for (size_t j = 0; j < n; j++)
            p[j] +=
                pick < N ? (r == pick ? e->en.P[r * n + j] : 0.0) : e->en.P[r * n + j] / (double)N;
    /* a one-row ensemble named as PEST++ names it */
    struct ensemble one;
    ies__en_alloc(e, &one, 1);
    one.n = 1;
    one.id[0] = e->nreals;
    e->names = xrealloc(e->names, (e->nreals + 1) * sizeof(char *));
    e->names[e->nreals++] = xstrdup(row);
    memcpy(one.P, p, n * sizeof(double));
    memcpy(one.P0, p, n * sizeof(double));
    for (size_t i = 0; i < e->nobs; i++)
        one.O[i] = pst_obs(e->c, i)->value;
    ies__en_free(&e->en);
    e->en = one;
    free(p);
    char ext[320];
    snprintf(ext, sizeof(ext), "%s.par.csv", file);
    if (ies__write_ensemble(e, ext, &e->en, NULL, err) < 0) return -1;
    ies__rec(e, "NOPTMAX %d: one run of %s\n", pst_control(e->c)->noptmax,
             want[0] ? "the realization named by ++ies_run_realname" : "the prior ensemble's mean");
    unsigned char ok = 0;
    double *sim = xcalloc(e->nobs + 1, sizeof(double));
    char *labels[1] = {label("realization %s", row)};
    int b = run_rows(e, 1, e->en.P, labels, sim, &ok, err);
    free(labels[0]);
    if (b == 0 && !ok) b = pr_error_set(err, "the run of the %s parameter values failed", row);
    if (b == 0) {
        memcpy(e->en.D, sim, e->nobs * sizeof(double));
        snprintf(ext, sizeof(ext), "%s.obs.csv", file);
        if (ies__write_ensemble(e, ext, &e->en, e->en.D, err) < 0) b = -1;
    }
    free(sim);
    if (b != 0) return b < 0 ? -1 : 1;
    double phi = ies__phi_of(e, &e->en, 0, PHI_ACTUAL);
    ies__rec(e, "  phi of %s: %g\n", row, phi);
    sum->phi_start = sum->phi_end = phi;
    snprintf(sum->stop_reason, sizeof(sum->stop_reason), "NOPTMAX %d: one run of %s",
             pst_control(e->c)->noptmax, row);
    return 0;
}

int ies_run(const struct pst_case *c, const char *pst_path, struct sched *s,
            struct ies_summary *sum, struct pr_error *err)
{
    struct ies e;
    int rc = -1, r = 0;
    memset(sum, 0, sizeof(*sum));
    if (setup(&e, c, pst_path, s, err) < 0) goto done;
    const struct pst_control *ctl = pst_control(c);
    describe(&e);
    pst_support_fprint(e.rec, c, PST_CMD_IES);
    if (e.m == 0) {
        pr_error_set(err, "%s: no observation has a weight above 0: nothing to fit", pst_path);
        goto done;
    }
    if (read_obscov(&e, err) < 0 || ies__read_localizer(&e, err) < 0 ||
        prior_ensemble(&e, err) < 0 || noise_ensemble(&e, err) < 0)
        goto done;
    ies__write_headers(&e);
    if (ctl->noptmax <= -2) { /* after the noise draws, as PEST++ */
        rc = run_mean(&e, sum, err);
        goto done;
    }
    if (ctl->noptmax == 0) { /* PEST++: the base realization alone */
        unsigned char *keep = xcalloc(e.en.n + 1, 1);
        for (size_t q = 0; q < e.en.n; q++)
            keep[q] = ies__is_base(&e, e.en.id[q]);
        keep[e.en.n - 1] |= !e.include_base; /* no base: the last realization */
        ies__en_keep(&e, &e.en, keep);
        free(keep);
    }
    if (ies__write_ensemble(&e, "0.par.csv", &e.en, NULL, err) < 0 ||
        ies__write_ensemble(&e, "obs+noise.csv", &e.en, e.en.O, err) < 0)
        goto done;
    sum->reals_start = e.en.n;
    if (pst_opt_str(c, "ies_restart_observation_ensemble", NULL)) {
        e.restart = 1;
        r = load_restart(&e, err) < 0 || drop_conflicts(&e, err) < 0 ? -1 : 0;
        if (r == 0 && !pst_opt_str(c, "ies_restart_parameter_ensemble", NULL))
            drop_bad(&e, &e.en, "restart ensemble");
    } else {
        ies__rec(&e, "iteration 0: running the prior ensemble of %zu realizations\n", e.en.n);
        r = run_prior(&e, err);
    }
    if (r != 0) {
        rc = r < 0 ? -1 : 1;
        goto done;
    }
    if (e.en.n == 0) {
        pr_error_set(err, "every run of the prior ensemble failed or was dropped");
        goto done;
    }
    if (ies__write_iteration(&e, err) < 0) goto done;
    struct stats a0 = ies__en_stats(&e, &e.en, PHI_ACTUAL);
    sum->phi_start = a0.mean;
    struct stats c0 = ies__en_stats(&e, &e.en, PHI_COMPOSITE);
    e.last_mean = c0.mean;
    e.last_std = c0.std;
    push_best(&e, c0.mean);
    if (ctl->noptmax > 0 && a0.mean < 1e-10) {
        pr_error_set(err, "the prior ensemble's mean phi is %g: nothing to fit", a0.mean);
        goto done;
    }
    e.lambda = e.init_lambda;
    if (e.lambda <= 0) {
        double x = c0.mean / (2.0 * (double)e.m), lam = pow(10.0, floor(log10(x)));
        if (!(lam >= 1e-10)) lam = 10000;
        if (e.lambda < 0) lam *= -e.lambda;
        e.lambda = lam;
    }
    ies__rec(&e, "  initial lambda %g\n", e.lambda);
    int bad_cycles = 0;
    snprintf(sum->stop_reason, sizeof(sum->stop_reason), "NOPTMAX %d reached", ctl->noptmax);
    for (int it = 1; it <= ctl->noptmax; it++) {
        e.iter = it;
        ies__rec(&e, "\niteration %d\n", it);
        int acc = solve(&e, err);
        if (acc < 0) goto done;
        if (acc == 2) {
            rc = 1;
            goto done;
        }
        unsigned char *cf = xcalloc(e.m + 1, 1);
        size_t nc = find_conflicts(&e, cf, err);
        free(cf);
        if (nc == (size_t)-1 || ies__write_iteration(&e, err) < 0) goto done;
        struct stats cs = ies__en_stats(&e, &e.en, PHI_COMPOSITE);
        e.last_mean = cs.mean;
        e.last_std = cs.std;
        sum->iterations = it;
        bad_cycles = acc ? 0 : bad_cycles + 1;
        const char *why = should_stop(&e, bad_cycles);
        if (why) {
            snprintf(sum->stop_reason, sizeof(sum->stop_reason), "%s", why);
            break;
        }
    }
    rc = 0;
    ies__rec(&e, "\nstopped: %s; %zu model runs\n", sum->stop_reason, e.runs);
done:
    if (e.c) {
        sum->phi_end = e.en.n ? ies__en_stats(&e, &e.en, PHI_ACTUAL).mean : 0;
        sum->reals_end = e.en.n;
        sum->runs = e.runs;
        teardown(&e);
    }
    return rc;
}

int ies_lambda_tests(const struct pst_case *c, size_t reals, size_t *subset, size_t *runs,
                     struct pr_error *err)
{
    double *m = NULL, *sc = NULL;
    size_t nm = 0, ns = 0;
    int subset_size, mda;
    int rc = lambda_grid(c, &m, &nm, &sc, &ns, err);
    if (rc == 0 && (pst_opt_int(c, "ies_subset_size", SUBSET_SIZE_DEFAULT, &subset_size, err) < 0 ||
                    pst_opt_bool(c, "ies_use_mda", 0, &mda, err) < 0))
        rc = -1;
    if (rc == 0) {
        size_t tests = (mda ? 1 : nm) * ns;
        *subset = subset_rows(subset_size, tests, reals);
        *runs = *subset * tests;
    }
    free(m);
    free(sc);
    return rc;
}
