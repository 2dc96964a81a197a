#include "upgrade.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/text.h"

int upgrade_form_parse(const char *text)
{
    if (pr_strieq(text, "diag")) return UPGRADE_DIAG;
    if (pr_strieq(text, "ident")) return UPGRADE_IDENT;
    if (pr_strieq(text, "prior")) return UPGRADE_PRIOR;
    return -1;
}

/* beta = (rw' gamma) / (gamma' gamma), gamma = Jw u: u shortened when 0 < beta < 1 */
static void optimal_length(const struct upgrade_problem *p, double *u)
{
    double num = 0, den = 0;
    for (size_t r = 0; r < p->m; r++) {
        double gam = 0;
        for (size_t i = 0; i < p->n; i++)
            gam += p->Jw[r * p->n + i] * u[i];
        num += p->rw[r] * gam;
        den += gam * gam;
    }
    double beta = den > 0 ? num / den : 1.0;
    if (isfinite(beta) && beta > 0 && beta < 1)
        for (size_t i = 0; i < p->n; i++)
            u[i] *= beta;
}

int upgrade_solve(const struct upgrade_problem *p, double lambda, double *u, struct pr_error *err)
{
    size_t m = p->m, n = p->n, na = 0;
    if (n == 0) return 0;
    double *N = xcalloc(n * n, sizeof(double));
    double *g = xcalloc(n, sizeof(double));
    double *S = xcalloc(n, sizeof(double));
    size_t *act = xcalloc(n, sizeof(size_t));
    double *A = xcalloc(n * n, sizeof(double));
    double *Uv = xcalloc(n * n, sizeof(double));
    double *VT = xcalloc(n * n, sizeof(double));
    double *sv = xcalloc(n, sizeof(double));
    double *superb = xcalloc(n, sizeof(double));
    double *y = xcalloc(n, sizeof(double));
    int kept = -1;

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
    /* A = S M S over the active columns and b = S g, where M is the damped normal matrix of
     * the form; S only changes what truncation removes. In the diag form a column whose N_ii is
     * nothing next to the largest carries no information: scaled by 1/sqrt(N_ii) its damping
     * would swamp every other singular value, and truncation would keep none that matters, so
     * it takes no step. */
    double top = 0;
    for (size_t i = 0; i < n; i++)
        top = fmax(top, N[i * n + i]);
    for (size_t i = 0; i < n; i++) {
        if (p->form == UPGRADE_PRIOR)
            S[i] = p->prior_inv[i * n + i] > 0 ? 1.0 / sqrt(p->prior_inv[i * n + i]) : 1.0;
        else if (p->form == UPGRADE_DIAG)
            S[i] = N[i * n + i] > 1e-14 * top ? 1.0 / sqrt(N[i * n + i]) : 0.0;
        else
            S[i] = 1.0;
        if (p->form == UPGRADE_PRIOR)
            for (size_t j = 0; j < n; j++)
                g[i] -= p->prior_inv[i * n + j] * p->prior_dev[j];
        if (S[i] != 0.0) act[na++] = i;
    }
    if (na == 0) {
        kept = 0;
        memset(u, 0, n * sizeof(double));
        goto done;
    }
    for (size_t a = 0; a < na; a++)
        for (size_t b = 0; b < na; b++) {
            size_t i = act[a], j = act[b];
            double d = 0;
            if (i == j && p->form == UPGRADE_DIAG) d = lambda;
            if (p->form == UPGRADE_PRIOR) d = (1.0 + lambda) * p->prior_inv[i * n + j];
            A[a * na + b] = S[i] * (N[i * n + j] + d) * S[j];
        }
    lapack_int info =
        LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'A', 'A', (lapack_int)na, (lapack_int)na, A,
                       (lapack_int)na, sv, Uv, (lapack_int)na, VT, (lapack_int)na, superb);
    if (info != 0) {
        pr_error_set(err, "the SVD of the normal matrix did not converge (LAPACK info %d)",
                     (int)info);
        goto done;
    }
    kept = 0;
    for (size_t k = 0; k < na; k++) {
        if (sv[0] <= 0 || sv[k] / sv[0] <= p->eigthresh || (int)k >= p->maxsing) break;
        kept++;
    }
    /* y = V diag(1/s) U' (S g) */
    for (int k = 0; k < kept; k++) {
        double s = sv[k];
        if (p->form == UPGRADE_IDENT) s *= 1.0 + sqrt(lambda);
        double t = 0;
        for (size_t a = 0; a < na; a++)
            t += Uv[a * na + (size_t)k] * S[act[a]] * g[act[a]];
        t /= s;
        for (size_t b = 0; b < na; b++)
            y[b] += VT[(size_t)k * na + b] * t;
    }
    memset(u, 0, n * sizeof(double));
    for (size_t a = 0; a < na; a++)
        u[act[a]] = S[act[a]] * y[a];
    if (p->jac_scale) optimal_length(p, u);
done:
    free(N);
    free(g);
    free(S);
    free(act);
    free(A);
    free(Uv);
    free(VT);
    free(sv);
    free(superb);
    free(y);
    return kept;
}
