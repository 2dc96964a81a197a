/* The Marquardt upgrade (SPEC §6.5.2) in numeric space, solved with LAPACK's SVD of a scaled
 * normal matrix, truncated by EIGTHRESH and MAXSING. Three normal forms, as ++glm_normal_form:
 *
 *   diag  (J'QJ + lambda I) u = J'Q r, scaled by S_ii = 1/sqrt(N_ii) for the truncation;
 *   ident the SVD of J'QJ, each kept singular value s replaced by s (1 + sqrt(lambda));
 *   prior (J'QJ + (1 + lambda) C^-1) u = J'Q r - C^-1 (p - p0): a Tikhonov pull towards the
 *         initial values p0 weighted by the prior covariance C, scaled by diag(C^-1)^-1/2.
 *         PEST++ 5.2.23 adds (1 + lambda) to every element of the matrix and the pull with the
 *         opposite sign (it pushes away from p0); pestrun solves the regularized problem. */
#ifndef PR_UPGRADE_H
#define PR_UPGRADE_H

#include <stddef.h>

#include "util/pr_error.h"

enum upgrade_form { UPGRADE_DIAG = 0, UPGRADE_IDENT, UPGRADE_PRIOR };

struct upgrade_problem {
    size_t m, n;      /* rows (non-zero weight), free columns */
    const double *Jw; /* m x n, row-major: each row of J times its weight */
    const double *rw; /* m: weighted residuals w (obs - sim) */
    double eigthresh;
    int maxsing;
    int jac_scale; /* shorten the step to its optimal length along J u (PEST++ jac_scale) */
    enum upgrade_form form;
    const double *prior_inv; /* UPGRADE_PRIOR: n x n, C^-1 of these columns (numeric space) */
    const double *prior_dev; /* UPGRADE_PRIOR: n, p - p0 (numeric space) */
};

/* Solve for lambda; u receives n values. Returns the number of singular values kept, or -1
 * with err set (u unaltered). */
int upgrade_solve(const struct upgrade_problem *p, double lambda, double *u, struct pr_error *err);

/* The form named by ++glm_normal_form ("diag", "ident", "prior", any case); -1 when unknown. */
int upgrade_form_parse(const char *text);

#endif
