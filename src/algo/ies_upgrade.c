/* The ies module's upgrades: the whole problem, or one local analysis per localizer column
 * (++ies_localizer) or per parameter (++ies_autoadaloc), each solved by ies_solve.c. */
#include "algo/ies_internal.h"

#include <float.h>
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

/* ------------------------------------------------------------------------------------------ */
/* localization (Localizer.cpp)                                                               */

/* Numeric indices of the adjustable parameters a localizer column name stands for: the
 * parameter, or every adjustable parameter of the group. */
static size_t loc_pars(const struct ies *e, const char *name, size_t *out)
{
    size_t n = 0;
    for (size_t k = 0; k < e->nadj; k++) {
        const struct pst_param *p = pst_param(e->c, e->ps.adj[k]);
        if (pr_strieq(p->name, name) || pr_strieq(pst_pargp(e->c, (size_t)p->group)->name, name))
            out[n++] = k;
    }
    return n;
}

/* Indices into act[] of the observations a localizer row name stands for. */
static size_t loc_obs(const struct ies *e, const char *name, unsigned char *mark)
{
    size_t n = 0;
    for (size_t i = 0; i < e->m; i++) {
        const struct pst_obs *o = pst_obs(e->c, e->act[i]);
        if (pr_strieq(o->name, name) || pr_strieq(pst_obsgp(e->c, (size_t)o->group)->name, name))
            n += !mark[i], mark[i] = 1;
    }
    return n;
}

/* ++ies_localizer: rows are observations or observation groups, columns parameters or
 * parameter groups; each column is one local analysis with the observations of its non-zero
 * rows. As in pestpp-ies 5.2.23 the entries act as 0 or 1 (the local analysis does not scale by
 * them) and ies_localize_how is always "parameters". An adjustable parameter in no column is
 * not upgraded (PEST++ warns about it too). */
int ies__read_localizer(struct ies *e, struct pr_error *err)
{
    const char *file = pst_opt_str(e->c, "ies_localizer", NULL);
    if (pst_opt_bool(e->c, "ies_autoadaloc", 0, &e->autoadaloc, err) < 0 ||
        pst_opt_double(e->c, "ies_autoadaloc_sigma_dist", 1.0, &e->aal_sigma, err) < 0)
        return -1;
    if (e->autoadaloc && !e->use_approx)
        return pr_error_set(err, "++ies_autoadaloc with ++ies_use_approx(false) is not implemented "
                                 "by 'pestrun ies': use the approximate solution (the default)");
    if (e->autoadaloc) {
        const char *ind = pst_opt_str(e->c, "ies_autoadaloc_indicator_pars", "");
        char *copy = xstrdup(ind), *tok[4096];
        size_t nt = pr_tokenize(copy, ", \t", tok, 4096);
        e->indicators = xcalloc(nt + 1, sizeof(size_t));
        for (size_t t = 0; t < nt && t < 4096; t++)
            for (size_t k = 0; k < e->nadj; k++)
                if (pr_strieq(pst_param(e->c, e->ps.adj[k])->name, tok[t]))
                    e->indicators[e->nind++] = k;
        free(copy);
        ies__rec(e, "automatic adaptive localization: sigma distance %g%s\n", e->aal_sigma,
                 e->nind ? ", the threshold from the indicator parameters" : "");
    }
    if (!file || !file[0]) return 0;
    if (!e->use_approx)
        return pr_error_set(err, "++ies_localizer with ++ies_use_approx(false) is not implemented "
                                 "by 'pestrun ies': use the approximate solution (the default)");
    char *path = ies__case_file(e, file);
    struct fosm_matrix *m = fosm_matrix_load(path, pst_dir(e->c), NULL, err);
    if (!m) {
        pr_error_prefix(err, "++ies_localizer");
        free(path);
        return -1;
    }
    size_t nr = fosm_matrix_nrows(m), nc = fosm_matrix_ncols(m), used = 0;
    unsigned char *covered = xcalloc(e->nadj + 1, 1), *mark = xcalloc(e->m + 1, 1);
    size_t *pars = xcalloc(e->nadj + 1, sizeof(size_t));
    e->file_cases = xcalloc(nc + 1, sizeof(*e->file_cases));
    for (size_t j = 0; j < nc; j++) {
        size_t np = loc_pars(e, fosm_matrix_colname(m, j), pars), no = 0;
        memset(mark, 0, e->m);
        for (size_t i = 0; i < nr; i++)
            if (fosm_matrix_get(m, i, j) != 0.0) no += loc_obs(e, fosm_matrix_rowname(m, i), mark);
        if (np == 0 || no == 0) continue;
        struct loc_case *lc = &e->file_cases[e->nfile_cases++];
        lc->np = np;
        lc->par = xcalloc(np, sizeof(size_t));
        memcpy(lc->par, pars, np * sizeof(size_t));
        lc->obs = xcalloc(no, sizeof(size_t));
        for (size_t i = 0; i < e->m; i++)
            if (mark[i]) lc->obs[lc->no++] = i;
        for (size_t q = 0; q < np; q++)
            covered[pars[q]] = 1;
    }
    for (size_t k = 0; k < e->nadj; k++)
        used += covered[k];
    ies__rec(e,
             "localizer %s: %zu local analyses; %zu of the %zu adjustable parameters in them%s\n",
             file, e->nfile_cases, used, e->nadj,
             used < e->nadj ? " (the others are not upgraded)" : "");
    fosm_matrix_destroy(m);
    free(path);
    free(covered);
    free(mark);
    free(pars);
    if (!e->autoadaloc) e->cases = e->file_cases, e->ncases = e->nfile_cases;
    if (e->nfile_cases == 0)
        return pr_error_set(err,
                            "++ies_localizer %s: no column names an adjustable parameter (or "
                            "group) with a non-zero row for a weighted observation (or group)",
                            file);
    return 0;
}

void ies__free_cases(struct loc_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].par);
        free(c[i].obs);
    }
    free(c);
}

/* Column j of a (N x n) about its mean, divided by its standard deviation (0 when it is 0). */
static double standardize(const double *a, size_t N, size_t n, size_t j, double *out)
{
    double mean = 0, ss = 0;
    for (size_t r = 0; r < N; r++)
        mean += a[r * n + j];
    mean /= (double)N;
    for (size_t r = 0; r < N; r++)
        out[r] = a[r * n + j] - mean, ss += out[r] * out[r];
    double sd = sqrt(ss / (double)(N - 1));
    for (size_t r = 0; r < N && sd > 0; r++)
        out[r] /= sd;
    return sd;
}

/* ++ies_autoadaloc (Localizer::get_localanalysis_case_map, AutoAdaLocThread): each parameter
 * is a local analysis with the observations whose ensemble correlation with it is beyond
 * sigma_dist / sqrt(N - 2) (the spread of a correlation of unrelated variables), or beyond the
 * largest correlation of an indicator parameter; with ++ies_localizer, only among the
 * observations of the parameter's (last) column. */
void ies__adaptive_cases(struct ies *e)
{
    size_t N = e->en.n, n = e->nadj, m = e->m;
    if (e->cases != e->file_cases) ies__free_cases(e->cases, e->ncases);
    e->cases = xcalloc(n + 1, sizeof(*e->cases));
    e->ncases = 0;
    double *ps = xcalloc(N + 1, sizeof(double)), *os = xcalloc(N * m + 1, sizeof(double));
    double *sim = xcalloc(N * m + 1, sizeof(double)), *cc = xcalloc(n * m + 1, sizeof(double));
    double *osd = xcalloc(m + 1, sizeof(double)), *col = xcalloc(N + 1, sizeof(double));
    unsigned char *allowed = xcalloc(n * m + 1, 1), *par_ok = xcalloc(n + 1, 1);
    for (size_t r = 0; r < N; r++)
        for (size_t i = 0; i < m; i++)
            sim[r * m + i] = e->en.D[r * e->nobs + e->act[i]];
    for (size_t i = 0; i < m; i++) {
        osd[i] = standardize(sim, N, m, i, col);
        for (size_t r = 0; r < N; r++)
            os[i * N + r] = col[r];
    }
    if (e->nfile_cases) {
        for (size_t c = 0; c < e->nfile_cases; c++)
            for (size_t q = 0; q < e->file_cases[c].np; q++) {
                size_t k = e->file_cases[c].par[q];
                memset(allowed + k * m, 0, m);
                for (size_t t = 0; t < e->file_cases[c].no; t++)
                    allowed[k * m + e->file_cases[c].obs[t]] = 1;
            }
    } else {
        memset(allowed, 1, n * m);
    }
    for (size_t k = 0; k < n; k++) {
        par_ok[k] = standardize(e->en.P, N, n, k, ps) > 0;
        for (size_t i = 0; i < m && par_ok[k]; i++) {
            double v = 0;
            for (size_t r = 0; r < N; r++)
                v += ps[r] * os[i * N + r];
            cc[k * m + i] = v / (double)(N - 1);
        }
    }
    double thr = N > 2 ? e->aal_sigma * sqrt(1.0 / (double)(N - 2)) : INFINITY;
    if (e->nind) { /* the largest correlation of an indicator parameter */
        thr = 0;
        for (size_t t = 0; t < e->nind; t++)
            for (size_t i = 0; i < m; i++)
                if (par_ok[e->indicators[t]] && osd[i] > 0 && allowed[e->indicators[t] * m + i])
                    thr = fmax(thr, fabs(cc[e->indicators[t] * m + i]));
    }
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        if (!par_ok[k]) continue;
        size_t no = 0, *obs = xcalloc(m + 1, sizeof(size_t));
        for (size_t i = 0; i < m; i++)
            if (osd[i] > 0 && allowed[k * m + i] && fabs(cc[k * m + i]) > thr) obs[no++] = i;
        if (no == 0) {
            free(obs);
            continue;
        }
        struct loc_case *lc = &e->cases[e->ncases++];
        lc->np = 1;
        lc->par = xcalloc(1, sizeof(size_t));
        lc->par[0] = k;
        lc->no = no;
        lc->obs = obs;
        kept += no;
    }
    ies__rec(e,
             "  adaptive localization: threshold %g; %zu of %zu parameter-observation pairs kept; "
             "%zu of %zu parameters upgraded\n",
             thr, kept, n * m, e->ncases, n);
    free(ps);
    free(os);
    free(sim);
    free(cc);
    free(osd);
    free(col);
    free(allowed);
    free(par_ok);
}

/* ++ies_center_on for the current ensemble: the mean, the median, or a realization's row
 * (checked to exist when the options are read; a dropped one is an error there). */
long ies__center_row(const struct ies *e)
{
    if (!e->center_on[0]) return IES_CENTER_MEAN;
    if (pr_strieq(e->center_on, "_median_")) return IES_CENTER_MEDIAN;
    for (size_t r = 0; r < e->en.n; r++)
        if (pr_strieq(e->names[e->en.id[r]], e->center_on)) return (long)r;
    return IES_CENTER_MEAN;
}

/* The upgrades of realizations rows[] (current rows) for each of the nl lambdas: out gets
 * nl x nrows x nadj numeric changes. One solution of the whole problem, or one per local
 * analysis. *rank: the singular values kept (of the whole problem; the largest with a
 * localizer). Returns 0 or -1 with err set. */
int ies__upgrades(struct ies *e, const double *lams, size_t nl, const size_t *rows, size_t nrows,
                  double *out, size_t *rank, struct pr_error *err)
{
    size_t N = e->en.n, n = e->nadj;
    struct loc_case all = {n, e->m, NULL, NULL};
    size_t ncases = e->cases ? e->ncases : 1;
    memset(out, 0, nl * nrows * n * sizeof(double));
    *rank = 0;
    for (size_t c = 0; c < ncases; c++) {
        const struct loc_case *lc = e->cases ? &e->cases[c] : &all;
        size_t np = lc->np, no = lc->no;
        double *P = xcalloc(N * np + 1, sizeof(double)), *P0 = NULL;
        double *sim = xcalloc(N * no + 1, sizeof(double)),
               *obs = xcalloc(N * no + 1, sizeof(double));
        double *w = xcalloc(no + 1, sizeof(double)), *up = xcalloc(nrows * np + 1, sizeof(double));
        if (!e->use_approx) P0 = xcalloc(N * np + 1, sizeof(double));
        for (size_t r = 0; r < N; r++) {
            for (size_t q = 0; q < np; q++) {
                size_t k = lc->par ? lc->par[q] : q;
                P[r * np + q] = e->en.P[r * n + k];
                if (P0) P0[r * np + q] = e->en.P0[r * n + k];
            }
            for (size_t q = 0; q < no; q++) {
                size_t i = lc->obs ? lc->obs[q] : q;
                sim[r * no + q] = e->en.D[r * e->nobs + e->act[i]];
                obs[r * no + q] = e->en.O[r * e->nobs + e->act[i]];
                if (ies__resid(e, i, sim[r * no + q], obs[r * no + q]) ==
                    0.0) /* a kept inequality */
                    obs[r * no + q] = sim[r * no + q];
            }
        }
        for (size_t q = 0; q < no; q++)
            w[q] = e->w[lc->obs ? lc->obs[q] : q];
        double *sc = NULL, *noise = NULL;
        if (e->use_mda) { /* the noise of each realization */
            noise = xcalloc(N * no + 1, sizeof(double));
            for (size_t r = 0; r < N; r++)
                for (size_t q = 0; q < no; q++) {
                    size_t k = e->act[lc->obs ? lc->obs[q] : q];
                    noise[r * no + q] = e->en.O[r * e->nobs + k] - pst_obs(e->c, k)->value;
                }
        }
        if (e->prior_scaling && !e->use_mda) {
            sc = xcalloc(np + 1, sizeof(double));
            for (size_t q = 0; q < np; q++)
                sc[q] = 1.0 / e->sd[lc->par ? lc->par[q] : q];
        }
        struct ies_solve_input in = {N,
                                     np,
                                     no,
                                     P,
                                     sim,
                                     obs,
                                     w,
                                     e->eigthresh,
                                     e->maxsing,
                                     e->use_mda ? NULL : P0,
                                     ies__center_row(e),
                                     noise,
                                     sc};
        struct ies_solver *sv = ies_solver_create(&in, err);
        if (sv) {
            if (ies_solver_rank(sv) > *rank) *rank = ies_solver_rank(sv);
            for (size_t l = 0; l < nl; l++) {
                ies_solver_upgrade(sv, lams[l], rows, nrows, up);
                double *o = out + l * nrows * n;
                for (size_t j = 0; j < nrows; j++)
                    for (size_t q = 0; q < np; q++)
                        o[j * n + (lc->par ? lc->par[q] : q)] += up[j * np + q];
            }
        }
        ies_solver_destroy(sv);
        free(sc);
        free(noise);
        free(P);
        free(P0);
        free(sim);
        free(obs);
        free(w);
        free(up);
        if (!sv) return -1;
    }
    return 0;
}
