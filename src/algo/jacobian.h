/* The finite-difference Jacobian (SPEC §6.4), every perturbation run of an iteration in one
 * parallel batch. Derivatives are taken from the parameter values as written to the templates
 * (SPEC §2.5), in numeric space (log10 for log parameters). Central differences are correct
 * (PEST++ 5.2.23 reads the same run twice; this does not). */
#ifndef PR_JACOBIAN_H
#define PR_JACOBIAN_H

#include "parspace.h"
#include "sched/sched.h"

struct jacobian {
    size_t nrows;         /* observations then prior information (pst order) */
    size_t ncols;         /* adjustable parameters (numeric order) */
    double *J;            /* nrows x ncols, row-major; 0 in failed columns */
    unsigned char *ok;    /* per column: 1 when the derivative was computed */
    char **why;           /* per column: why it failed (NULL when ok) */
    unsigned char *three; /* per column: 1 when central (3-point) */
    size_t runs;          /* model runs used (journal hits included) */
    /* the base point: control values as written, and its observations */
    double *base_ctl;
    double *base_obs;
};

void jacobian_init(struct jacobian *jac, const struct parspace *ps);
void jacobian_free(struct jacobian *jac);

/* Fill jac at control values ctl. When base_obs is not NULL the base point is known (its
 * observations, and base_ctl_written its values as written) and no base run is made.
 * central[k] asks for 3-point derivatives of numeric parameter k (FORCEN switch/always_3).
 * A perturbation run that fails (after the scheduler's retries) leaves its column failed with
 * the reason. Returns 0; 1 when stopped; -1 with err set when the base run failed, every
 * column failed, or on a fatal error. */
int jacobian_fill(struct jacobian *jac, const struct parspace *ps, struct sched *s,
                  const double *ctl, const double *base_ctl_written, const double *base_obs,
                  const unsigned char *central, struct pr_error *err);

/* Write a PEST binary Jacobian (.jcb/.jco, SPEC §6.7.4) of the computed columns. */
int jacobian_write_jcb(const struct jacobian *jac, const struct parspace *ps, const char *path,
                       struct pr_error *err);

#endif
