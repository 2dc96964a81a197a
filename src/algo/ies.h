/* The iterative ensemble smoother as pestpp-ies 5.2.23 runs it (SPEC §6.8): a prior parameter
 * ensemble (drawn from ++parcov or the bounds, or read from ++ies_par_en) run in one batch, then
 * each iteration computes the GLM-form upgrade (src/algo/ies_solve.h) for every lambda of
 * ++ies_lambda_mults x the current lambda, tests them with every ++lambda_scale_fac on a
 * subset of the realizations in one parallel batch, and runs the rest of the ensemble at the best
 * pair in a second batch. Failed and bad-phi realizations are dropped; the "base" realization
 * (PARVAL1) is kept. Outputs beside the control file, with PEST++'s names and columns:
 * CASE.N.par.csv, CASE.N.obs.csv, CASE.obs+noise.csv, CASE.phi.{actual,meas,regul,composite,
 * group,lambda}.csv, CASE.N.base.par, CASE.N.base.rei and CASE.rec.
 *
 * Deterministic given the seed (++random_seed) and the run results, whatever the number of
 * workers, so --resume replays the journaled runs and writes byte-identical outputs. */
#ifndef PR_IES_H
#define PR_IES_H

#include <stddef.h>

#include "pest/pst.h"
#include "sched/sched.h"

struct ies_summary {
    int iterations;
    double phi_start, phi_end; /* mean actual phi of the prior and of the last ensemble */
    size_t reals_start, reals_end;
    size_t runs;
    char stop_reason[256];
};

/* Run the smoother on case c (read from pst_path; outputs go beside it). Returns 0 when it
 * ended by NOPTMAX or another stopping rule, 1 when stopped (signal, pest.stp), -1 with err
 * set. */
int ies_run(const struct pst_case *c, const char *pst_path, struct sched *s,
            struct ies_summary *sum, struct pr_error *err);

/* One iteration's lambda tests on an ensemble of `reals` realizations, as the smoother makes
 * them: *subset realizations each, *runs in all (++ies_lambda_mults x ++lambda_scale_fac x the
 * subset). 0 or -1 with err. */
int ies_lambda_tests(const struct pst_case *c, size_t reals, size_t *subset, size_t *runs,
                     struct pr_error *err);

#endif
