/* The Marquardt upgrade (SPEC §6.5.2): u = (J'QJ + lambda I)^-1 J'Q r in numeric space, solved
 * with LAPACK's SVD of the scaled normal matrix, truncated by EIGTHRESH and MAXSING. */
#ifndef PR_UPGRADE_H
#define PR_UPGRADE_H

#include <stddef.h>

#include "util/pr_error.h"

struct upgrade_problem {
    size_t m, n;      /* rows (non-zero weight), free columns */
    const double *Jw; /* m x n, row-major: each row of J times its weight */
    const double *rw; /* m: weighted residuals w (obs - sim) */
    double eigthresh;
    int maxsing;
    int jac_scale; /* shorten the step to its optimal length along J u (PEST++ jac_scale) */
};

/* Solve for lambda; u receives n values. Returns the number of singular values kept, or -1
 * with err set. */
int upgrade_solve(const struct upgrade_problem *p, double lambda, double *u, struct pr_error *err);

#endif
