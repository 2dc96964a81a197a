#include "ies_solve.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

struct ies_solver {
    size_t N, n, k, ka;
    double *dP;    /* N x n */
    double *s;     /* k */
    double *Vt;    /* k x N */
    double *UtR;   /* k x N */
    double *Am;    /* n x ka (full solution), or NULL */
    double *PR;    /* N x n: par - prior (full solution), or NULL */
    double *scale; /* n (prior scaling), or NULL */
    /* the MDA form: the upgrade of realization j is -dP' G (I + a S1^2)^-1 W[:, j] */
    int mda;
    double *G; /* N x k (dD' X1) */
    double *W; /* k x N (X1' R) */
};

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Anomalies of a (N x n) about its column means, medians (center IES_CENTER_MEDIAN) or row
 * center, times scale, into out. */
static void anomalies_about(const double *a, size_t N, size_t n, long center, double scale,
                            double *out)
{
    double *mean = xcalloc(n + 1, sizeof(double));
    if (center >= 0) {
        memcpy(mean, a + (size_t)center * n, n * sizeof(double));
    } else if (center == IES_CENTER_MEDIAN) {
        double *col = xcalloc(N + 1, sizeof(double));
        for (size_t j = 0; j < n; j++) {
            for (size_t r = 0; r < N; r++)
                col[r] = a[r * n + j];
            qsort(col, N, sizeof(double), cmp_double);
            mean[j] = N % 2 ? col[N / 2] : (col[N / 2 - 1] + col[N / 2]) / 2.0;
        }
        free(col);
    } else {
        for (size_t r = 0; r < N; r++)
            for (size_t j = 0; j < n; j++)
                mean[j] += a[r * n + j];
        for (size_t j = 0; j < n; j++)
            mean[j] /= (double)N;
    }
    for (size_t r = 0; r < N; r++)
        for (size_t j = 0; j < n; j++)
            out[r * n + j] = (a[r * n + j] - mean[j]) * scale;
    free(mean);
}

/* How many singular values PEST++'s truncation keeps (SVD_REDSVD::solve_ip). */
static size_t kept(const double *s, size_t kmin, double eigthresh, int maxsing)
{
    size_t k = 0;
    while (k < kmin && s[0] > 0 && s[k] / s[0] > eigthresh && (maxsing < 0 || k <= (size_t)maxsing))
        k++;
    return k;
}

/* Thin SVD of the rows x cols matrix a (row-major, destroyed): s (min), U (rows x min), Vt (min x
 * cols). Returns LAPACK's info. */
static int thin_svd(double *a, size_t rows, size_t cols, double *s, double *U, double *Vt)
{
    size_t kmin = rows < cols ? rows : cols;
    return (int)LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)rows, (lapack_int)cols, a,
                               (lapack_int)cols, s, U, (lapack_int)kmin, Vt, (lapack_int)cols);
}

/* Am = U0 S0^-1 of the prior anomalies: the transpose of dP0 (n x N) has U0 = its left vectors;
 * with dP0 (N x n) = V0 S0 U0' we take the right vectors of dP0. */
static int prior_projection(struct ies_solver *sv, const double *prior, long center,
                            double eigthresh, int maxsing, struct pr_error *err)
{
    size_t N = sv->N, n = sv->n, kmin = N < n ? N : n;
    double *a = xcalloc(N * n + 1, sizeof(double));
    double *s = xcalloc(kmin + 1, sizeof(double));
    double *U = xcalloc(N * kmin + 1, sizeof(double));
    double *Vt = xcalloc(kmin * n + 1, sizeof(double));
    anomalies_about(prior, N, n, center, 1.0 / sqrt((double)(N - 1)), a);
    int info = thin_svd(a, N, n, s, U, Vt);
    if (info == 0) {
        sv->ka = kept(s, kmin, eigthresh, maxsing);
        sv->Am = xcalloc(n * sv->ka + 1, sizeof(double));
        for (size_t p = 0; p < n; p++)
            for (size_t i = 0; i < sv->ka; i++)
                sv->Am[p * sv->ka + i] = Vt[i * n + p] / s[i];
    }
    free(a);
    free(s);
    free(U);
    free(Vt);
    if (info != 0)
        return pr_error_set(err, "the SVD of the prior parameter anomalies failed (LAPACK info %d)",
                            info);
    return 0;
}

/* The MDA form (see the header): sv->s holds S1, sv->k its length. */
static int mda_create(struct ies_solver *sv, const struct ies_solve_input *in, struct pr_error *err)
{
    size_t N = in->nreal, n = in->npar, m = in->nobs, kmin = m < N ? m : N;
    double *t = xcalloc(N * (m > n ? m : n) + 1, sizeof(double));
    double *dD = xcalloc(m * N + 1, sizeof(double)), *R = xcalloc(m * N + 1, sizeof(double));
    double *E = xcalloc(m * N + 1, sizeof(double)), *dDk = xcalloc(m * N + 1, sizeof(double));
    sv->dP = xcalloc(N * n + 1, sizeof(double));
    anomalies_about(in->par, N, n, in->center, 1.0, sv->dP);
    anomalies_about(in->sim, N, m, in->center >= 0 ? in->center : IES_CENTER_MEAN, 1.0, t);
    for (size_t i = 0; i < m; i++)
        for (size_t r = 0; r < N; r++)
            dD[i * N + r] = dDk[i * N + r] = t[r * m + i],
                       R[i * N + r] = in->sim[r * m + i] - in->obs[r * m + i];
    anomalies_about(in->noise, N, m, IES_CENTER_MEAN, 1.0, t);
    for (size_t i = 0; i < m; i++)
        for (size_t r = 0; r < N; r++)
            E[i * N + r] = t[r * m + i];
    free(t);
    double *s0 = xcalloc(kmin + 1, sizeof(double)), *U0 = xcalloc(m * kmin + 1, sizeof(double));
    double *V0 = xcalloc(kmin * N + 1, sizeof(double));
    double *X0 = NULL, *s1 = NULL, *U1 = NULL, *V1 = NULL, *X1 = NULL;
    int info = thin_svd(dD, m, N, s0, U0, V0), rc = -1;
    if (info != 0) {
        pr_error_set(err, "the SVD of the observation anomalies failed (LAPACK info %d)", info);
        goto done;
    }
    size_t k0 = kept(s0, kmin, in->eigthresh, in->maxsing), k1min = k0 < N ? k0 : N;
    X0 = xcalloc(k0 * N + 1, sizeof(double));
    for (size_t a = 0; a < k0; a++)
        for (size_t i = 0; i < m; i++) {
            double u = U0[i * kmin + a] / s0[a];
            for (size_t r = 0; r < N; r++)
                X0[a * N + r] += u * E[i * N + r];
        }
    s1 = xcalloc(k1min + 1, sizeof(double));
    U1 = xcalloc(k0 * k1min + 1, sizeof(double));
    V1 = xcalloc(k1min * N + 1, sizeof(double));
    if (k0 > 0 && (info = thin_svd(X0, k0, N, s1, U1, V1)) != 0) {
        pr_error_set(err, "the SVD of the scaled noise failed (LAPACK info %d)", info);
        goto done;
    }
    size_t k1 = k0 > 0 ? kept(s1, k1min, 0.0, in->maxsing) : 0;
    X1 = xcalloc(m * k1 + 1, sizeof(double)); /* U0 S0^-1 U1 */
    for (size_t i = 0; i < m; i++)
        for (size_t b = 0; b < k1; b++) {
            double v = 0;
            for (size_t a = 0; a < k0; a++)
                v += U0[i * kmin + a] / s0[a] * U1[a * k1min + b];
            X1[i * k1 + b] = v;
        }
    sv->k = k1;
    sv->s = xcalloc(k1 + 1, sizeof(double));
    memcpy(sv->s, s1, k1 * sizeof(double));
    sv->W = xcalloc(k1 * N + 1, sizeof(double));
    sv->G = xcalloc(N * k1 + 1, sizeof(double));
    for (size_t b = 0; b < k1; b++)
        for (size_t i = 0; i < m; i++) {
            double x = X1[i * k1 + b];
            for (size_t r = 0; r < N; r++) {
                sv->W[b * N + r] += x * R[i * N + r];
                sv->G[r * k1 + b] += dDk[i * N + r] * x;
            }
        }
    sv->mda = 1;
    rc = 0;
done:
    free(dD);
    free(dDk);
    free(R);
    free(E);
    free(s0);
    free(U0);
    free(V0);
    free(X0);
    free(s1);
    free(U1);
    free(V1);
    free(X1);
    return rc;
}

struct ies_solver *ies_solver_create(const struct ies_solve_input *in, struct pr_error *err)
{
    size_t N = in->nreal, n = in->npar, m = in->nobs;
    if (N < 2 || m == 0 || n == 0) {
        pr_error_set(err,
                     "the upgrade needs 2 or more realizations, parameters and observations "
                     "(%zu realizations, %zu parameters, %zu observations)",
                     N, n, m);
        return NULL;
    }
    struct ies_solver *sv = xcalloc(1, sizeof(*sv));
    sv->N = N;
    sv->n = n;
    if (in->noise) {
        if (mda_create(sv, in, err) == 0) return sv;
        ies_solver_destroy(sv);
        return NULL;
    }
    double scale = 1.0 / sqrt((double)(N - 1));
    size_t kmin = m < N ? m : N;
    sv->N = N;
    sv->n = n;
    sv->dP = xcalloc(N * n + 1, sizeof(double));
    anomalies_about(in->par, N, n, in->center, scale, sv->dP);
    if (in->scale) {
        sv->scale = xcalloc(n + 1, sizeof(double));
        memcpy(sv->scale, in->scale, n * sizeof(double));
        for (size_t r = 0; r < N; r++)
            for (size_t j = 0; j < n; j++)
                sv->dP[r * n + j] *= in->scale[j];
    }
    /* dD as m x N, R as m x N */
    double *simt = xcalloc(N * m + 1, sizeof(double));
    double *dD = xcalloc(m * N + 1, sizeof(double)), *R = xcalloc(m * N + 1, sizeof(double));
    anomalies_about(in->sim, N, m, in->center >= 0 ? in->center : IES_CENTER_MEAN, scale, simt);
    for (size_t i = 0; i < m; i++)
        for (size_t r = 0; r < N; r++) {
            double w = in->weight[i];
            dD[i * N + r] = w * simt[r * m + i];
            R[i * N + r] = w * (in->sim[r * m + i] - in->obs[r * m + i]);
        }
    free(simt);
    double *s = xcalloc(kmin + 1, sizeof(double));
    double *U = xcalloc(m * kmin + 1, sizeof(double)), *Vt = xcalloc(kmin * N + 1, sizeof(double));
    int info = thin_svd(dD, m, N, s, U, Vt);
    free(dD);
    if (info != 0) {
        pr_error_set(err, "the SVD of the observation anomalies failed (LAPACK info %d)", info);
        free(R);
        free(s);
        free(U);
        free(Vt);
        ies_solver_destroy(sv);
        return NULL;
    }
    size_t k = kept(s, kmin, in->eigthresh, in->maxsing);
    sv->k = k;
    sv->s = xcalloc(k + 1, sizeof(double));
    sv->Vt = xcalloc(k * N + 1, sizeof(double));
    sv->UtR = xcalloc(k * N + 1, sizeof(double));
    memcpy(sv->s, s, k * sizeof(double));
    memcpy(sv->Vt, Vt, k * N * sizeof(double));
    for (size_t a = 0; a < k; a++)
        for (size_t i = 0; i < m; i++) {
            double u = U[i * kmin + a];
            if (u == 0.0) continue;
            for (size_t r = 0; r < N; r++)
                sv->UtR[a * N + r] += u * R[i * N + r];
        }
    free(R);
    free(s);
    free(U);
    free(Vt);
    if (in->prior) {
        if (prior_projection(sv, in->prior, in->center, in->eigthresh, in->maxsing, err) < 0) {
            ies_solver_destroy(sv);
            return NULL;
        }
        sv->PR = xcalloc(N * n + 1, sizeof(double));
        for (size_t x = 0; x < N * n; x++)
            sv->PR[x] = (in->par[x] - in->prior[x]) * (sv->scale ? sv->scale[x % n] : 1.0);
    }
    return sv;
}

void ies_solver_destroy(struct ies_solver *sv)
{
    if (!sv) return;
    free(sv->dP);
    free(sv->s);
    free(sv->Vt);
    free(sv->UtR);
    free(sv->Am);
    free(sv->PR);
    free(sv->scale);
    free(sv->G);
    free(sv->W);
    free(sv);
}

size_t ies_solver_rank(const struct ies_solver *sv)
{
    return sv->k;
}

/* The prior pull's contribution to X (N x nrows) for lambda: V (S^2 + (lambda+1))^-1 V' dP Am
 * Am' (P - P0). */
static void prior_term(const struct ies_solver *sv, double lambda, const size_t *rows, size_t nrows,
                       double *X)
{
    size_t N = sv->N, n = sv->n, k = sv->k, ka = sv->ka;
    double *x4 = xcalloc(ka + 1, sizeof(double)), *x5 = xcalloc(n + 1, sizeof(double));
    double *x6 = xcalloc(N + 1, sizeof(double)), *t = xcalloc(k + 1, sizeof(double));
    for (size_t j = 0; j < nrows; j++) {
        const double *pr = sv->PR + rows[j] * n;
        memset(x4, 0, ka * sizeof(double));
        for (size_t p = 0; p < n; p++)
            for (size_t a = 0; a < ka; a++)
                x4[a] += sv->Am[p * ka + a] * pr[p];
        for (size_t p = 0; p < n; p++) {
            double v = 0;
            for (size_t a = 0; a < ka; a++)
                v += sv->Am[p * ka + a] * x4[a];
            x5[p] = v;
        }
        for (size_t r = 0; r < N; r++) {
            double v = 0;
            for (size_t p = 0; p < n; p++)
                v += sv->dP[r * n + p] * x5[p];
            x6[r] = v;
        }
        for (size_t i = 0; i < k; i++) {
            double v = 0;
            for (size_t r = 0; r < N; r++)
                v += sv->Vt[i * N + r] * x6[r];
            t[i] = v / (sv->s[i] * sv->s[i] + lambda + 1.0);
        }
        for (size_t r = 0; r < N; r++) {
            double v = 0;
            for (size_t i = 0; i < k; i++)
                v += sv->Vt[i * N + r] * t[i];
            X[r * nrows + j] += v;
        }
    }
    free(x4);
    free(x5);
    free(x6);
    free(t);
}

static void mda_upgrade(const struct ies_solver *sv, double a, const size_t *rows, size_t nrows,
                        double *out)
{
    size_t N = sv->N, n = sv->n, k = sv->k;
    double *y = xcalloc(k + 1, sizeof(double)), *x3 = xcalloc(N + 1, sizeof(double));
    memset(out, 0, nrows * n * sizeof(double));
    for (size_t j = 0; j < nrows; j++) {
        for (size_t b = 0; b < k; b++)
            y[b] = sv->W[b * N + rows[j]] / (1.0 + a * sv->s[b] * sv->s[b]);
        for (size_t r = 0; r < N; r++) {
            double v = 0;
            for (size_t b = 0; b < k; b++)
                v += sv->G[r * k + b] * y[b];
            x3[r] = v;
        }
        double *o = out + j * n;
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < n && x3[r] != 0.0; p++)
                o[p] -= x3[r] * sv->dP[r * n + p];
    }
    free(y);
    free(x3);
}

void ies_solver_upgrade(const struct ies_solver *sv, double lambda, const size_t *rows,
                        size_t nrows, double *out)
{
    if (sv->mda) {
        mda_upgrade(sv, lambda, rows, nrows, out);
        return;
    }
    size_t N = sv->N, n = sv->n, k = sv->k;
    double *Y = xcalloc(k * nrows + 1, sizeof(double)), *X = xcalloc(N * nrows + 1, sizeof(double));
    for (size_t i = 0; i < k; i++) {
        double f = sv->s[i] / (sv->s[i] * sv->s[i] + lambda + 1.0);
        for (size_t j = 0; j < nrows; j++)
            Y[i * nrows + j] = f * sv->UtR[i * N + rows[j]];
    }
    for (size_t r = 0; r < N; r++)
        for (size_t i = 0; i < k; i++) {
            double v = sv->Vt[i * N + r];
            for (size_t j = 0; j < nrows; j++)
                X[r * nrows + j] += v * Y[i * nrows + j];
        }
    double *X2 = NULL; /* the prior pull, apart when it is scaled once more */
    if (sv->Am && sv->scale) {
        X2 = xcalloc(N * nrows + 1, sizeof(double));
        prior_term(sv, lambda, rows, nrows, X2);
    } else if (sv->Am) {
        prior_term(sv, lambda, rows, nrows, X);
    }
    memset(out, 0, nrows * n * sizeof(double));
    double *o2 = X2 ? xcalloc(n + 1, sizeof(double)) : NULL;
    for (size_t j = 0; j < nrows; j++) {
        double *o = out + j * n;
        if (o2) memset(o2, 0, n * sizeof(double));
        for (size_t r = 0; r < N; r++) {
            double x = X[r * nrows + j], x2 = X2 ? X2[r * nrows + j] : 0.0;
            const double *d = sv->dP + r * n;
            if (x != 0.0)
                for (size_t p = 0; p < n; p++)
                    o[p] -= x * d[p];
            if (x2 != 0.0)
                for (size_t p = 0; p < n; p++)
                    o2[p] -= x2 * d[p];
        }
        for (size_t p = 0; o2 && p < n; p++)
            o[p] += sv->scale[p] * o2[p];
    }
    free(o2);
    free(X2);
    free(Y);
    free(X);
}
