/* The ensemble upgrade of pestpp-ies 5.2.23 in its default form (the GLM form of Chen and Oliver
 * 2013), computed in ensemble space so that nothing of size parameters x parameters is formed:
 *
 *   dP = (P - mean P) / sqrt(N - 1)           N x n, numeric values (log10 for log parameters)
 *   dD = W (D - mean D) / sqrt(N - 1)         simulated values of the non-zero-weight obs
 *   R  = W (D - O)                            O: observed values plus noise, per realization
 *   dD' = U S V'                              truncated: s_i / s_0 > EIGTHRESH, i <= MAXSING
 *   upgrade = - dP' V S (S^2 + (lambda + 1) I)^-1 U' R
 *
 * and, for the full solution (ies_use_approx false), the pull towards the prior
 *
 *   - dP' V (S^2 + (lambda + 1) I)^-1 V' dP Am Am' (P - P0)
 *
 * with Am = U0 S0^-1 from the SVD of the prior realizations' anomalies (same truncation). As in
 * PEST++, "i <= MAXSING" keeps up to MAXSING + 1 singular values.
 *
 * The ies_use_mda form (EnsembleSolver's low-rank Cee, Evensen's book 14.3.2), unweighted
 * and unscaled: dD = U0 S0 V0' truncated as above, X0 = S0^-1 U0' E (E the noise anomalies),
 * X0 = U1 S1 V1', X1 = U0 S0^-1 U1, upgrade = - dP' dD' X1 (I + a S1^2)^-1 X1' R for the
 * inflation factor a. With ies_use_prior_scaling,
 * dP's columns are multiplied by 1 / prior stdev (and P - P0's, and the prior pull once more).
 * Memory: dP, Am and the small N x N factors; a realization's upgrade is computed on demand for any
 * set of realizations. */
#ifndef PR_IES_SOLVE_H
#define PR_IES_SOLVE_H

#include <stddef.h>

#include "util/pr_error.h"

struct ies_solve_input {
    size_t nreal, npar, nobs; /* N realizations, n numeric parameters, m observations used */
    const double *par;        /* N x n, row-major: the current realizations */
    const double *sim;        /* N x m: their simulated values */
    const double *obs;        /* N x m: the observed values plus noise each one is fitted to */
    const double *weight;     /* m */
    double eigthresh;
    int maxsing;
    const double *prior; /* N x n: the same realizations' prior values (full solution), or NULL
                            (ies_use_approx, the default) */
    long center;         /* ies_center_on: IES_CENTER_MEAN (the default), IES_CENTER_MEDIAN
                            (parameters about their median, observations about their mean, as
                            PEST++), or a row: both about that realization */
    const double *noise; /* N x m: observed-plus-noise minus observed values: with it, the
                            Kalman (multiple data assimilation) form of ies_use_mda instead of
                            the GLM form (weights, prior and scale are then not used), lambda
                            being the covariance inflation factor */
    const double *scale; /* n: ies_use_prior_scaling's 1 / prior stdev, or NULL. As in PEST++
                            5.2.23, dP is multiplied by it (so is the upgrade, which is not
                            scaled back), and the prior pull by it once more */
};

#define IES_CENTER_MEAN (-1L)
#define IES_CENTER_MEDIAN (-2L)

struct ies_solver;

/* Factor the problem (nothing of in is kept). Returns NULL with err set when N < 2 or LAPACK
 * fails. Free with ies_solver_destroy. */
struct ies_solver *ies_solver_create(const struct ies_solve_input *in, struct pr_error *err);
void ies_solver_destroy(struct ies_solver *s); /* NULL is fine */
/* The number of singular values kept. */
size_t ies_solver_rank(const struct ies_solver *s);
/* The upgrade for lambda of the nrows realizations rows[] (indices into the input's rows):
 * out receives nrows x n numeric changes, row-major. */
void ies_solver_upgrade(const struct ies_solver *s, double lambda, const size_t *rows, size_t nrows,
                        double *out);

#endif
