/* Gauss-Levenberg-Marquardt calibration (SPEC §6.5, §6.6): each iteration fills the Jacobian in
 * one parallel batch, computes the upgrade for several Marquardt lambdas and step scalings,
 * runs every candidate in a second parallel batch, and moves to the best one. Outputs as
 * PEST++ writes them: CASE.rec, CASE.par, CASE.rei, CASE.iobj, CASE.ipar, CASE.jcb, and the best
 * parameters as a new control file CASE.best.pst. Deterministic given the run results, so
 * --resume with the run journal replays the completed runs and continues. */
#ifndef PR_GLM_H
#define PR_GLM_H

#include "pest/pst.h"
#include "sched/sched.h"

struct glm_summary {
    int iterations;
    double phi_start, phi_best;
    size_t runs;
    char stop_reason[256];
};

/* Run the calibration of case c (read from pst_path; outputs go beside it). jacobian_only:
 * fill the Jacobian at PARVAL1, write CASE.jcb and CASE.rei, stop (NOPTMAX < 0 does the same).
 * Returns 0 when it ended by a termination criterion, 1 when stopped, -1 with err set. */
int glm_run(const struct pst_case *c, const char *pst_path, struct sched *s, int jacobian_only,
            struct glm_summary *sum, struct pr_error *err);

/* Model runs of one iteration's lambda tests: ++lambdas x the step scale factors, and in a
 * super-parameter iteration, which tests no scale factor above 1. 0 or -1. */
int glm_lambda_tests(const struct pst_case *c, size_t *runs, size_t *super_runs,
                     struct pr_error *err);

#endif
