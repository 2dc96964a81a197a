#include "glm.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/jacobian.h"
#include "algo/parspace.h"
#include "algo/upgrade.h"
#include "pest/objective.h"
#include "pest/outputs.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/clock.h"

#include <time.h>


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

static int parse_list(const char *text, double **out, size_t *n)
{
    char *copy = xstrdup(text);
    char *tok[256];
    size_t k = pr_tokenize(copy, ", \t", tok, 256);
    *out = xcalloc(k + 2, sizeof(double));
    *n = 0;
    for (size_t i = 0; i < k && i < 256; i++) {
        double v;
        if (pr_parse_double(tok[i], &v, 1) < 0) {
            free(copy);
            return -1;
        }
        (*out)[(*n)++] = v;
    }
    free(copy);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double phi_of(struct glm *g, const double *sim, const double *ctl, double *groups)
{
    struct phi_parts p = {.group = groups};
    pst_phi(g->c, sim, ctl, &p);
    return p.total;
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
    pst_phi(g->c, g->obs, g->ctl, &p);
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
    for (size_t k = 0; k < ng; k++) {
        char name[1024];
        rec(g, "    group %-20s %.8g\n", lname(pst_obsgp(g->c, k)->name, name, sizeof(name)),
            groups[k]);
    }
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
/* candidates                                                                                 */

static int at_bound_outward(const struct pst_param *p, double v, double du_natural)
{
    double tol = 1e-7;
    if (du_natural > 0 && v >= p->ubnd - tol * fabs(p->ubnd)) return 1;
    if (du_natural < 0 && v <= p->lbnd + tol * fabs(p->lbnd)) return 1;
    return 0;
}

/* The largest s in (0, 1] that keeps numeric step s*u within RELPARMAX / FACPARMAX of the
 * current values (PEST: the whole step is scaled, its direction kept). */
static double limit_scale(struct glm *g, const double *u)
{
    const struct pst_control *ctl = pst_control(g->c);
    double s = 1.0;
    for (size_t k = 0; k < g->ncols; k++) {
        if (u[k] == 0.0) continue;
        size_t i = g->ps.adj[k];
        const struct pst_param *p = pst_param(g->c, i);
        double last = g->ctl[i], d = u[k], lim = INFINITY;
        double F = ctl->facparmax, R = ctl->relparmax;
        if (g->ps.is_log[k]) {
            if (p->chglim == PST_CHG_FACTOR)
                lim = log10(F);
            else if (d > 0)
                lim = log10(1 + R);
            else if (R < 1)
                lim = -log10(1 - R);
        } else {
            double ref = fabs(last);
            if (ref < ctl->facorig * fabs(p->parval1)) ref = ctl->facorig * fabs(p->parval1);
            if (p->chglim == PST_CHG_FACTOR && ref > 0)
                lim = d * (last >= 0 ? 1 : -1) > 0 ? ref * (F - 1) : ref * (1 - 1 / F);
            else if (ref > 0)
                lim = R * ref;
        }
        if (fabs(d) * s > lim) s = lim / fabs(d);
    }
    return s;
}

static void clamp_bounds(struct glm *g, double *ctl)
{
    for (size_t k = 0; k < g->ncols; k++) {
        size_t i = g->ps.adj[k];
        const struct pst_param *p = pst_param(g->c, i);
        if (ctl[i] > p->ubnd) ctl[i] = p->ubnd;
        if (ctl[i] < p->lbnd) ctl[i] = p->lbnd;
    }
    parspace_fix_tied(&g->ps, ctl);
}

/* The upgrade for lambda as a full control vector in cand. Parameters at a bound whose step
 * points outward are frozen and the upgrade recomputed. Returns the singular values kept. */
static int candidate(struct glm *g, double lambda, double *cand, int *nfrozen, struct pr_error *err)
{
    size_t nobs = g->nobs, ncols = g->ncols;
    unsigned char *frozen = xcalloc(ncols + 1, 1);
    double *num = xcalloc(ncols + 1, sizeof(double));
    double *u = xcalloc(ncols + 1, sizeof(double));
    double *full = xcalloc(ncols + 1, sizeof(double));
    size_t *col = xcalloc(ncols + 1, sizeof(size_t));
    double *Jw = NULL, *rw = NULL;
    int kept = -1;

    for (size_t k = 0; k < ncols; k++)
        frozen[k] = !g->jac.ok[k];
    parspace_to_num(&g->ps, g->ctl, num);
    for (int pass = 0; pass < (int)ncols + 1; pass++) {
        size_t n = 0, m = 0;
        for (size_t k = 0; k < ncols; k++)
            if (!frozen[k]) col[n++] = k;
        free(Jw);
        free(rw);
        Jw = xcalloc((g->nrows + 1) * (n + 1), sizeof(double));
        rw = xcalloc(g->nrows + 1, sizeof(double));
        for (size_t r = 0; r < g->nrows; r++) {
            double w, res;
            if (r < nobs) {
                const struct pst_obs *o = pst_obs(g->c, r);
                w = o->weight;
                res = o->value - g->obs[r];
            } else {
                const struct pst_prior *pi = pst_prior(g->c, r - nobs);
                w = pi->weight;
                res = pi->pival - pst_prior_value(g->c, r - nobs, g->ctl);
            }
            if (w <= 0) continue;
            for (size_t j = 0; j < n; j++)
                Jw[m * n + j] = w * g->jac.J[r * ncols + col[j]];
            rw[m] = w * res;
            m++;
        }
        struct upgrade_problem prob = {
            m, n, Jw, rw, pst_control(g->c)->eigthresh, pst_control(g->c)->maxsing, g->jac_scale};
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
    double s = limit_scale(g, full);
    for (size_t k = 0; k < ncols; k++)
        num[k] += s * full[k];
    memcpy(cand, g->ctl, g->npar * sizeof(double));
    parspace_from_num(&g->ps, num, cand);
    clamp_bounds(g, cand);
    *nfrozen = 0;
    for (size_t k = 0; k < ncols; k++)
        *nfrozen += frozen[k] && g->jac.ok[k];
done:
    free(frozen);
    free(num);
    free(u);
    free(full);
    free(col);
    free(Jw);
    free(rw);
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

/* Test every lambda and scale; move to the best candidate when it lowers phi. Returns 1 when
 * it moved, 0 when no candidate was better, 2 when stopped, -1 on error. */
static int test_lambdas(struct glm *g, int iter, double *best_lambda, struct pr_error *err)
{
    size_t nc = g->nlambdas * g->nscales, npar = g->npar, nobs = g->nobs;
    double *model = xcalloc(nc * npar + 1, sizeof(double));
    double *cands = xcalloc(nc * npar + 1, sizeof(double));
    double *lam = xcalloc(nc + 1, sizeof(double)), *fac = xcalloc(nc + 1, sizeof(double));
    double *cur_num = xcalloc(g->ncols + 1, sizeof(double));
    double *num = xcalloc(g->ncols + 1, sizeof(double));
    char **info = xcalloc(nc + 1, sizeof(char *));
    struct cand_ctx x = {nobs,
                         npar,
                         g->c,
                         xcalloc(nc * nobs + 1, sizeof(double)),
                         xcalloc(nc * npar + 1, sizeof(double)),
                         xcalloc(nc + 1, 1)};
    int rc = -1;
    size_t n = 0;

    parspace_to_num(&g->ps, g->ctl, cur_num);
    for (size_t l = 0; l < g->nlambdas; l++) {
        double lambda = g->center * g->lambdas[l];
        int nfrozen;
        double *base = cands + n * npar;
        if (candidate(g, lambda, base, &nfrozen, err) < 0) goto done;
        for (size_t f = 0; f < g->nscales; f++) {
            double *cand = cands + n * npar;
            if (f > 0) { /* base + f (p_lambda - base), in numeric space, inside the bounds */
                double *pl = xcalloc(g->ncols + 1, sizeof(double));
                parspace_to_num(&g->ps, base, pl);
                for (size_t k = 0; k < g->ncols; k++)
                    num[k] = cur_num[k] + g->scales[f] * (pl[k] - cur_num[k]);
                free(pl);
                memcpy(cand, g->ctl, npar * sizeof(double));
                parspace_from_num(&g->ps, num, cand);
                clamp_bounds(g, cand);
            }
            pst_ctl_to_model(g->c, cand, model + n * npar);
            lam[n] = lambda;
            fac[n] = g->scales[f];
            struct strbuf sb = {0};
            if (f == 0)
                sb_puts(&sb, "normal");
            else
                sb_printf(&sb, "scale(%g)", g->scales[f]);
            info[n] = sb_take(&sb);
            n++;
        }
    }
    int b = sched_run_batch(g->s, n, model, (const char *const *)info, cand_done, &x, err);
    if (b != 0) {
        rc = b < 0 ? -1 : 2;
        goto done;
    }
    g->runs += n;
    int best = -1;
    double best_phi = INFINITY;
    rec(g, "  lambdas tested (%zu runs):\n", n);
    for (size_t k = 0; k < n; k++) {
        if (!x.ok[k]) {
            rec(g, "    Lambda = %10.4g; Type: %-12s; the run failed\n", lam[k], info[k]);
            continue;
        }
        double ph = phi_of(g, x.obs + k * nobs, x.written + k * npar, NULL);
        double len = 0;
        double *cn = xcalloc(g->ncols + 1, sizeof(double));
        parspace_to_num(&g->ps, x.written + k * npar, cn);
        for (size_t j = 0; j < g->ncols; j++)
            len += (cn[j] - cur_num[j]) * (cn[j] - cur_num[j]);
        free(cn);
        rec(g,
            "    Lambda = %10.4g; Type: %-12s; length = %9.3e; phi = %-12.6g (%.2f%% of starting "
            "phi)\n",
            lam[k], info[k], sqrt(len), ph, g->phi_start > 0 ? 100 * ph / g->phi_start : 0);
        if (ph < best_phi) { /* strict: the first of equal phis wins, deterministically */
            best_phi = ph;
            best = (int)k;
        }
    }
    if (best < 0 || !(best_phi < g->phi)) {
        /* PEST's rule, not PEST++'s (SPEC §9 item 21): a worse candidate is not accepted; the
         * parameters stay and lambda goes up */
        rec(g, "  no candidate lowered phi (%.8g): parameters unchanged, lambda raised\n", g->phi);
        rc = 0;
        goto done;
    }
    memcpy(g->ctl, x.written + (size_t)best * npar, npar * sizeof(double));
    memcpy(g->obs, x.obs + (size_t)best * nobs, nobs * sizeof(double));
    g->phi = best_phi;
    *best_lambda = lam[best];
    rec(g, "  accepted lambda %.4g, %s: phi %.8g\n", lam[best], info[best], best_phi);
    (void)iter;
    rc = 1;
done:
    for (size_t k = 0; k < n; k++)
        free(info[k]);
    free(info);
    free(model);
    free(cands);
    free(lam);
    free(fac);
    free(cur_num);
    free(num);
    free(x.obs);
    free(x.written);
    free(x.ok);
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
    if (g->phi <= st->lowest) {
        st->lowest = g->phi;
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
            st->best_phis[st->nbest++] = g->phi;
        } else {
            int worst = 0;
            for (int i = 1; i < st->nbest; i++)
                if (st->best_phis[i] > st->best_phis[worst]) worst = i;
            if (g->phi < st->best_phis[worst]) st->best_phis[worst] = g->phi;
        }
        if (st->nbest == ctl->nphistp) {
            double mx = st->best_phis[0], mn = st->best_phis[0];
            for (int i = 1; i < st->nbest; i++) {
                mx = fmax(mx, st->best_phis[i]);
                mn = fmin(mn, st->best_phis[i]);
            }
            if (mx - mn <= ctl->phiredstp * g->phi) return "PHIREDSTP / NPHISTP criterion met";
        }
    }
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
    if (parse_list(pst_opt_str(c, "lambdas", "0.1,1,10,100,1000"), &g->lambdas, &g->nlambdas) < 0 ||
        g->nlambdas == 0)
        return pr_error_set(err, "++lambdas: expected a list of numbers, got '%s'",
                            pst_opt_str(c, "lambdas", ""));
    qsort(g->lambdas, g->nlambdas, sizeof(double), cmp_double);
    double *sf;
    size_t nsf;
    if (parse_list(pst_opt_str(c, "lambda_scale_fac", "0.75,1.1"), &sf, &nsf) < 0)
        return pr_error_set(err, "++lambda_scale_fac: expected a list of numbers");
    g->scales = xcalloc(nsf + 2, sizeof(double));
    g->scales[g->nscales++] = 1.0;
    for (size_t i = 0; i < nsf; i++)
        if (sf[i] != 1.0 && sf[i] > 0) g->scales[g->nscales++] = sf[i];
    free(sf);
    /* the window of lambdas is centred on its middle entry, then on the best lambda */
    g->center = g->lambdas[g->nlambdas / 2];
    for (size_t l = 0; l < g->nlambdas; l++)
        g->lambdas[l] /= g->center;
    if (pst_opt_bool(c, "jac_scale", 1, &g->jac_scale, err) < 0) return -1;
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

int glm_run(const struct pst_case *c, const char *pst_path, struct sched *s, int jacobian_only,
            struct glm_summary *sum, struct pr_error *err)
{
    struct glm g;
    struct stop_state st = {0};
    int rc = -1, have_base = 0, jac_current = 0;
    double *prev = NULL;

    memset(sum, 0, sizeof(*sum));
    if (setup(&g, c, pst_path, s, err) < 0) goto done;
    const struct pst_control *ctl = pst_control(c);
    prev = xcalloc(g.npar + 1, sizeof(double));
    st.lowest = INFINITY;
    st.best_phis = xcalloc((size_t)(ctl->nphistp > 0 ? ctl->nphistp : 1) + 1, sizeof(double));
    rec(&g, "pestrun %s: Gauss-Levenberg-Marquardt calibration of %s\n", PESTRUN_VERSION, pst_path);
    rec(&g, "%zu parameters (%zu adjustable), %zu observations, %zu prior information\n", g.npar,
        g.ncols, g.nobs, pst_nprior(c));
    rec(&g, "Choices where PEST and PEST++ differ: a candidate worse than the current phi is\n"
            "not accepted (PEST); change limits scale the whole step (PEST); the lambda window\n"
            "moves with the best lambda instead of growing (PEST++ SPEC §9 items 21, 22, 24);\n"
            "central derivatives are computed from both perturbed runs.\n\n");
    if (ctl->noptmax == 0 && !jacobian_only) { /* one run at the initial values, a report */
        struct cand_ctx x = {g.nobs,
                             g.npar,
                             c,
                             xcalloc(g.nobs + 1, sizeof(double)),
                             xcalloc(g.npar + 1, sizeof(double)),
                             xcalloc(2, 1)};
        double *model = xcalloc(g.npar + 1, sizeof(double));
        const char *info[1] = {"par_name:__base__"};
        pst_ctl_to_model(c, g.ctl, model);
        int b = sched_run_batch(s, 1, model, info, cand_done, &x, err);
        if (b == 0 && !x.ok[0]) pr_error_set(err, "the model run at the initial parameters failed");
        if (b == 0 && x.ok[0]) {
            memcpy(g.ctl, x.written, g.npar * sizeof(double));
            memcpy(g.obs, x.obs, g.nobs * sizeof(double));
            g.phi = g.phi_start = sum->phi_start = phi_of(&g, g.obs, g.ctl, NULL);
            g.runs = 1;
            rec(&g, "iteration 0: initial parameters (NOPTMAX is 0)\n");
            write_iteration_rows(&g, 0);
            snprintf(sum->stop_reason, sizeof(sum->stop_reason), "NOPTMAX is 0");
            rc = write_best(&g, 0, err) < 0 ? -1 : 0;
        } else {
            rc = b > 0 ? 1 : -1;
        }
        free(model);
        free(x.obs);
        free(x.written);
        free(x.ok);
        goto done;
    }
    for (int iter = 1;; iter++) {
        int noptmax = jacobian_only || ctl->noptmax < 0 ? 0 : ctl->noptmax;
        if (!jac_current) {
            int j = jacobian_fill(&g.jac, &g.ps, s, g.ctl, have_base ? g.ctl : NULL,
                                  have_base ? g.obs : NULL, g.central, err);
            if (j != 0) {
                rc = j < 0 ? -1 : 1;
                goto done;
            }
            g.runs += g.jac.runs;
            if (!have_base) {
                memcpy(g.ctl, g.jac.base_ctl, g.npar * sizeof(double));
                memcpy(g.obs, g.jac.base_obs, g.nobs * sizeof(double));
                g.phi = phi_of(&g, g.obs, g.ctl, NULL);
                g.phi_start = g.phi;
                sum->phi_start = g.phi;
                have_base = 1;
                rec(&g, "iteration 0: initial parameters\n");
                write_iteration_rows(&g, 0);
                if (write_best(&g, 0, err) < 0) goto done;
            }
            jac_current = 1;
            if (jacobian_write_jcb(&g.jac, &g.ps, g.path_jcb, err) < 0) goto done;
        }
        if (noptmax == 0) {
            snprintf(sum->stop_reason, sizeof(sum->stop_reason), "%s",
                     jacobian_only || ctl->noptmax < 0 ? "Jacobian written (NOPTMAX < 0)"
                                                       : "NOPTMAX is 0");
            rc = 0;
            break;
        }
        rec(&g, "\niteration %d: %zu model runs so far, phi %.8g\n", iter, g.runs, g.phi);
        record_jacobian(&g);
        memcpy(prev, g.ctl, g.npar * sizeof(double));
        double phi_before = g.phi, best_lambda = g.center;
        int moved = test_lambdas(&g, iter, &best_lambda, err);
        if (moved < 0) goto done;
        if (moved == 2) {
            rc = 1;
            goto done;
        }
        if (moved) {
            g.center = best_lambda;
            jac_current = 0;
            if (write_best(&g, iter, err) < 0) goto done;
        } else {
            g.center *= 100.0;
        }
        /* FORCEN switch: central derivatives once phi stops falling fast (PHIREDSWH) */
        if (!g.switched && iter > ctl->noptswitch - 1 &&
            (phi_before - g.phi) / phi_before < ctl->phiredswh) {
            int any = 0;
            for (size_t k = 0; k < g.ncols; k++) {
                const struct pst_param *p = pst_param(c, g.ps.adj[k]);
                if (pst_pargp(c, (size_t)p->group)->forcen == PST_FORCEN_SWITCH) {
                    g.central[k] = 1;
                    any = 1;
                }
            }
            if (any) {
                g.switched = 1;
                jac_current = 0;
                rec(&g, "  switching to central derivatives (phi fell by less than PHIREDSWH)\n");
            }
        }
        write_iteration_rows(&g, iter);
        sum->iterations = iter;
        const char *why = check_stop(&g, &st, iter, prev);
        if (why) {
            snprintf(sum->stop_reason, sizeof(sum->stop_reason), "%s", why);
            rc = 0;
            break;
        }
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
