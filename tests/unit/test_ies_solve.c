/* The ensemble upgrade (src/algo/ies_solve.c) against independent expectations: a small case
 * computed by hand, and a linear-Gaussian problem where one upgrade of a large ensemble with
 * perturbed observations approaches the analytic posterior mean and covariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "algo/ies_solve.h"
#include "check.h"
#include "util/rng.h"
#include "util/strbuf.h"

/* Solve the n x n system A x = b in place (Gauss-Jordan with partial pivoting; A destroyed). */
static void gauss(double *A, double *b, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c])) piv = r;
        for (size_t k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[piv * n + k];
            A[piv * n + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (size_t r = 0; r < n; r++) {
            if (r == c) continue;
            double f = A[r * n + c] / A[c * n + c];
            for (size_t k = 0; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (size_t c = 0; c < n; c++)
        b[c] /= A[c * n + c];
}

/* By hand: p = (0, 1, 2), d = 2p, o = 3, w = 1. dP = (-1, 0, 1)/sqrt 2, dD = (-2, 0, 2)/sqrt 2,
 * so s = 2, V = (-1, 0, 1)/sqrt 2, U'R = d - o = (-3, -1, 1) and the upgrade of realization j
 * is -s/(s^2 + lambda + 1) (U'R)_j (V . dP) = (6, 2, -2)/(5 + lambda). */
static void test_by_hand(void)
{
    struct pr_error err;
    double p[3] = {0, 1, 2}, d[3] = {0, 2, 4}, o[3] = {3, 3, 3}, w[1] = {1};
    struct ies_solve_input in = {3, 1, 1, p, d, o, w, 1e-6, 100, NULL, IES_CENTER_MEAN, NULL, NULL};
    struct ies_solver *sv = ies_solver_create(&in, &err);
    CHECK(sv != NULL);
    CHECK(ies_solver_rank(sv) == 1);
    size_t rows[3] = {0, 1, 2}, two[1] = {2};
    double up[3];
    ies_solver_upgrade(sv, 0.0, rows, 3, up);
    CHECK_NEAR(up[0], 1.2, 1e-12);
    CHECK_NEAR(up[1], 0.4, 1e-12);
    CHECK_NEAR(up[2], -0.4, 1e-12);
    ies_solver_upgrade(sv, 5.0, two, 1, up);
    CHECK_NEAR(up[0], -0.2, 1e-12);
    ies_solver_destroy(sv);
    /* the full solution at the prior is the approximate one (P - P0 = 0) */
    in.prior = p;
    sv = ies_solver_create(&in, &err);
    ies_solver_upgrade(sv, 0.0, rows, 3, up);
    CHECK_NEAR(up[0], 1.2, 1e-12);
    CHECK_NEAR(up[2], -0.4, 1e-12);
    ies_solver_destroy(sv);
    /* prior scaling (PEST++ 5.2.23): dP times 1/stdev, and the upgrade not scaled back */
    double half[1] = {0.5};
    in.scale = half;
    sv = ies_solver_create(&in, &err);
    ies_solver_upgrade(sv, 0.0, rows, 3, up);
    CHECK_NEAR(up[0], 0.6, 1e-12);
    CHECK_NEAR(up[2], -0.2, 1e-12);
    ies_solver_destroy(sv);
    in.scale = NULL;
    /* no residuals, no upgrade; too few realizations, an error */
    double o2[3] = {0, 2, 4};
    in.obs = o2;
    in.prior = NULL;
    sv = ies_solver_create(&in, &err);
    ies_solver_upgrade(sv, 0.0, rows, 3, up);
    CHECK(up[0] == 0.0 && up[1] == 0.0 && up[2] == 0.0);
    ies_solver_destroy(sv);
    in.nreal = 1;
    CHECK(ies_solver_create(&in, &err) == NULL);
    CHECK(strstr(err.msg, "2 or more realizations") != NULL);
    ies_solver_destroy(NULL);
}

/* y = G p + e, p ~ N(mu0, diag(sd0^2)), e ~ N(0, diag(1/w^2)): with lambda = 0 (the GLM form's
 * lambda + 1 = 1) and no truncation, the upgrade of each realization towards its own perturbed
 * observations is the ensemble Kalman update, whose mean and covariance approach the posterior's
 * mu0 + K (y - G mu0), (I - K G) C0, K = C0 G' (G C0 G' + Ce)^-1, as N grows. */
static void test_linear_gaussian(void)
{
    enum { n = 3, m = 4, N = 6000 };
    const double G[m][n] = {{1, 0.5, 0}, {0, 1, -1}, {2, 0, 0.3}, {0.2, 0.2, 0.2}};
    const double mu0[n] = {0.5, -0.2, 1.0}, sd0[n] = {1.0, 0.5, 2.0};
    const double w[m] = {2, 1, 4, 0.5}, truth[n] = {1.2, 0.3, -0.5};
    double y[m];
    for (int i = 0; i < m; i++) {
        y[i] = 0;
        for (int j = 0; j < n; j++)
            y[i] += G[i][j] * truth[j];
    }
    struct pr_rng rng;
    pr_rng_seed(&rng, 42);
    double *P = xcalloc(N * n, sizeof(double)), *D = xcalloc(N * m, sizeof(double));
    double *O = xcalloc(N * m, sizeof(double)), *up = xcalloc(N * n, sizeof(double));
    size_t *rows = xcalloc(N, sizeof(size_t));
    for (size_t r = 0; r < N; r++) {
        rows[r] = r;
        for (int j = 0; j < n; j++)
            P[r * n + j] = mu0[j] + sd0[j] * pr_rng_normal(&rng);
        for (int i = 0; i < m; i++) {
            double v = 0;
            for (int j = 0; j < n; j++)
                v += G[i][j] * P[r * n + j];
            D[r * m + i] = v;
            O[r * m + i] = y[i] + pr_rng_normal(&rng) / w[i];
        }
    }
    struct pr_error err;
    struct ies_solve_input in = {N,    n,   m, P, D, O, w, 1e-14, 1000, NULL, IES_CENTER_MEAN,
                                 NULL, NULL};
    struct ies_solver *sv = ies_solver_create(&in, &err);
    CHECK(sv != NULL && ies_solver_rank(sv) == n); /* G has rank 3 */
    ies_solver_upgrade(sv, 0.0, rows, N, up);
    ies_solver_destroy(sv);
    /* the analytic posterior: Cpost = (G' W^2 G + C0^-1)^-1, mean = Cpost (G' W^2 y + C0^-1 mu0) */
    double A[n * n], Cpost[n * n], mean[n];
    for (int a = 0; a < n; a++) {
        for (int b = 0; b < n; b++) {
            double v = a == b ? 1.0 / (sd0[a] * sd0[a]) : 0.0;
            for (int i = 0; i < m; i++)
                v += G[i][a] * w[i] * w[i] * G[i][b];
            A[a * n + b] = v;
        }
        double v = mu0[a] / (sd0[a] * sd0[a]);
        for (int i = 0; i < m; i++)
            v += G[i][a] * w[i] * w[i] * y[i];
        mean[a] = v;
    }
    for (int col = 0; col < n; col++) {
        double Acopy[n * n], e[n] = {0};
        memcpy(Acopy, A, sizeof(A));
        e[col] = 1;
        gauss(Acopy, e, n);
        for (int a = 0; a < n; a++)
            Cpost[a * n + col] = e[a];
    }
    double Acopy[n * n];
    memcpy(Acopy, A, sizeof(A));
    gauss(Acopy, mean, n);
    /* the upgraded ensemble's moments */
    double em[n] = {0}, ec[n * n] = {0};
    for (size_t r = 0; r < N; r++)
        for (int j = 0; j < n; j++)
            em[j] += (P[r * n + j] + up[r * n + j]) / N;
    for (size_t r = 0; r < N; r++)
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                ec[a * n + b] += (P[r * n + a] + up[r * n + a] - em[a]) *
                                 (P[r * n + b] + up[r * n + b] - em[b]) / (N - 1);
    for (int a = 0; a < n; a++) {
        double sd = sqrt(Cpost[a * n + a]);
        CHECK_MSG(fabs(em[a] - mean[a]) < 0.1 * sd, "mean %d: %g, analytic %g (sd %g)", a, em[a],
                  mean[a], sd);
        for (int b = 0; b < n; b++) {
            double scale = sqrt(Cpost[a * n + a] * Cpost[b * n + b]);
            CHECK_MSG(fabs(ec[a * n + b] - Cpost[a * n + b]) < 0.1 * scale,
                      "cov %d,%d: %g, analytic %g", a, b, ec[a * n + b], Cpost[a * n + b]);
        }
    }
    free(P);
    free(D);
    free(O);
    free(up);
    free(rows);
}

/* Truncation as PEST++ 5.2.23 does it: s_i / s_0 > EIGTHRESH and i <= MAXSING, so MAXSING 1
 * keeps two singular values. */
static void test_truncation(void)
{
    double p[4 * 2] = {0, 0, 1, 0, 0, 1, 1, 1};
    double d[4 * 3] = {0, 0, 0, 1, 0, 0.5, 0, 1, 0.25, 1, 1, 2};
    double o[4 * 3] = {0};
    double w[3] = {1, 1, 1};
    struct pr_error err;
    struct ies_solve_input in = {4, 2, 3, p, d, o, w, 1e-6, 1, NULL, IES_CENTER_MEAN, NULL, NULL};
    struct ies_solver *sv = ies_solver_create(&in, &err);
    CHECK(ies_solver_rank(sv) == 2);
    ies_solver_destroy(sv);
    in.maxsing = 0;
    sv = ies_solver_create(&in, &err);
    CHECK(ies_solver_rank(sv) == 1);
    ies_solver_destroy(sv);
    in.maxsing = 100;
    in.eigthresh = 0.999;
    sv = ies_solver_create(&in, &err);
    CHECK(ies_solver_rank(sv) == 1);
    ies_solver_destroy(sv);
}

int main(void)
{
    test_by_hand();
    test_linear_gaussian();
    test_truncation();
    return check_done();
}
