#include "upgrade.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

int upgrade_solve(const struct upgrade_problem *p, double lambda, double *u, struct pr_error *err)
{
    size_t m = p->m, n = p->n;
    double *N = xcalloc(n * n + 1, sizeof(double));
    double *g = xcalloc(n + 1, sizeof(double));
    double *S = xcalloc(n + 1, sizeof(double));
    double *U = xcalloc(n * n + 1, sizeof(double));
    double *VT = xcalloc(n * n + 1, sizeof(double));
    double *sv = xcalloc(n + 1, sizeof(double));
    double *superb = xcalloc(n + 1, sizeof(double));
    double *y = xcalloc(n + 1, sizeof(double));
    int kept = -1;

    if (n == 0) {
        kept = 0;
        goto done;
    }
    /* N = Jw'Jw, g = Jw'rw */
    for (size_t r = 0; r < m; r++) {
        const double *row = p->Jw + r * n;
        for (size_t i = 0; i < n; i++) {
            if (row[i] == 0.0) continue;
            g[i] += row[i] * p->rw[r];
            for (size_t j = 0; j < n; j++)
                N[i * n + j] += row[i] * row[j];
        }
    }
    /* PEST's scaling: S_ii = 1/sqrt(N_ii); it only changes what truncation removes */
    for (size_t i = 0; i < n; i++)
        S[i] = N[i * n + i] > 0 ? 1.0 / sqrt(N[i * n + i]) : 1.0;
    /* A = S N S + lambda S S, held in U's storage for the SVD */
    double *A = U;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            A[i * n + j] = S[i] * N[i * n + j] * S[j] + (i == j ? lambda * S[i] * S[i] : 0.0);
    double *Ucopy = xcalloc(n * n + 1, sizeof(double));
    lapack_int info =
        LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'A', 'A', (lapack_int)n, (lapack_int)n, A, (lapack_int)n,
                       sv, Ucopy, (lapack_int)n, VT, (lapack_int)n, superb);
    if (info != 0) {
        free(Ucopy);
        pr_error_set(err, "the SVD of the normal matrix did not converge (LAPACK info %d)",
                     (int)info);
        goto done;
    }
    kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (sv[0] <= 0 || sv[i] / sv[0] <= p->eigthresh || (int)i >= p->maxsing) break;
        kept++;
    }
    /* y = V diag(1/s) U' (S g) */
    for (int k = 0; k < kept; k++) {
        double t = 0;
        for (size_t i = 0; i < n; i++)
            t += Ucopy[i * n + (size_t)k] * S[i] * g[i];
        t /= sv[k];
        for (size_t j = 0; j < n; j++)
            y[j] += VT[(size_t)k * n + j] * t;
    }
    free(Ucopy);
    for (size_t i = 0; i < n; i++)
        u[i] = S[i] * y[i];
    if (p->jac_scale) { /* beta = (rw' gamma) / (gamma' gamma), gamma = Jw u */
        double num = 0, den = 0;
        for (size_t r = 0; r < m; r++) {
            double gam = 0;
            for (size_t i = 0; i < n; i++)
                gam += p->Jw[r * n + i] * u[i];
            num += p->rw[r] * gam;
            den += gam * gam;
        }
        double beta = den > 0 ? num / den : 1.0;
        if (beta > 0 && beta < 1)
            for (size_t i = 0; i < n; i++)
                u[i] *= beta;
    }
done:
    free(N);
    free(g);
    free(S);
    free(U);
    free(VT);
    free(sv);
    free(superb);
    free(y);
    return kept;
}
