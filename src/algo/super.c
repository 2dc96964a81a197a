#include "super.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

int super_define(struct super_tf *t, size_t m, size_t n, const double *Jw,
                 const unsigned char *frozen, const double *prior_inv, int max_n_super,
                 double eigthres, struct pr_error *err)
{
    memset(t, 0, sizeof(*t));
    size_t *col = xcalloc(n + 1, sizeof(size_t));
    size_t nf = 0;
    for (size_t j = 0; j < n; j++)
        if (!frozen || !frozen[j]) col[nf++] = j;
    if (nf == 0) {
        free(col);
        return pr_error_set(err, "no base parameter is free to form super parameters "
                                 "(all are at a bound or without a derivative)");
    }
    double *A = xcalloc(nf * nf, sizeof(double));
    for (size_t r = 0; r < m; r++) {
        const double *row = Jw + r * n;
        for (size_t a = 0; a < nf; a++) {
            double x = row[col[a]];
            if (x == 0.0) continue;
            for (size_t b = 0; b < nf; b++)
                A[a * nf + b] += x * row[col[b]];
        }
    }
    /* composite sensitivities (PEST++'s dss): |column| / rows; below 1e-6 a parameter takes
     * no part in any super parameter */
    unsigned char *insens = xcalloc(nf + 1, 1);
    for (size_t a = 0; a < nf; a++)
        insens[a] = m == 0 || sqrt(A[a * nf + a]) / (double)m < 1e-6;
    if (prior_inv) /* PEST++'s prior form: J'QJ + C^-1 + a matrix of ones, sensitive pars only */
        for (size_t a = 0; a < nf; a++)
            for (size_t b = 0; b < nf; b++)
                if (!insens[a] && !insens[b]) A[a * nf + b] += 1.0 + prior_inv[col[a] * n + col[b]];
    double *w = xcalloc(nf, sizeof(double));
    /* symmetric: eigenvectors are the singular vectors; dsyev gives ascending eigenvalues */
    lapack_int info =
        LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)nf, A, (lapack_int)nf, w);
    if (info != 0) {
        free(col);
        free(A);
        free(w);
        free(insens);
        return pr_error_set(err,
                            "the eigen-decomposition for super parameters did not converge "
                            "(LAPACK info %d)",
                            (int)info);
    }
    double top = w[nf - 1];
    size_t k = 0;
    while (k < nf && (max_n_super <= 0 || (int)k < max_n_super) && top > 0 &&
           w[nf - 1 - k] > eigthres * top)
        k++;
    if (k == 0) {
        free(col);
        free(A);
        free(w);
        free(insens);
        return pr_error_set(err, "the Jacobian is zero: no super parameter can be formed");
    }
    t->n = n;
    t->k = k;
    t->V = xcalloc(k * n, sizeof(double));
    t->sv = xcalloc(k, sizeof(double));
    for (size_t i = 0; i < k; i++) {
        size_t e = nf - 1 - i;
        t->sv[i] = w[e];
        /* a fixed sign (largest component positive) keeps the directions reproducible */
        double big = 0;
        for (size_t a = 0; a < nf; a++)
            if (fabs(A[a * nf + e]) > fabs(big)) big = A[a * nf + e];
        double sgn = big < 0 ? -1.0 : 1.0;
        for (size_t a = 0; a < nf; a++)
            t->V[i * n + col[a]] = insens[a] ? 0.0 : sgn * A[a * nf + e];
    }
    free(insens);
    free(col);
    free(A);
    free(w);
    return (int)k;
}

void super_free(struct super_tf *t)
{
    if (!t) return;
    free(t->V);
    free(t->sv);
    memset(t, 0, sizeof(*t));
}

double *super_project(const struct super_tf *t, const double *J, size_t nrows)
{
    double *Js = xcalloc(nrows * t->k + 1, sizeof(double));
    for (size_t r = 0; r < nrows; r++)
        for (size_t i = 0; i < t->k; i++) {
            double s = 0;
            for (size_t j = 0; j < t->n; j++)
                s += J[r * t->n + j] * t->V[i * t->n + j];
            Js[r * t->k + i] = s;
        }
    return Js;
}

void super_step(const struct super_tf *t, const double *ds, double *dp)
{
    for (size_t j = 0; j < t->n; j++) {
        double s = 0;
        for (size_t i = 0; i < t->k; i++)
            s += t->V[i * t->n + j] * ds[i];
        dp[j] = s;
    }
}

double super_along(const struct super_tf *t, size_t i, const double *dp)
{
    double s = 0;
    for (size_t j = 0; j < t->n; j++)
        s += t->V[i * t->n + j] * dp[j];
    return s;
}
