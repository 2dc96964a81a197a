/* Sizing a deployment: how long the batches of a calibration take on W workers, found by
 * running the real scheduler over the simulated transport (transport/sim/sim.h) with the
 * case's run times, and what the agents cost. */
#ifndef PR_PLAN_H
#define PR_PLAN_H

#include <stddef.h>

#include "pest/pst.h"
#include "util/pr_error.h"

/* The batches one calibration is made of: runs in each, in order. */
struct plan_work {
    const char *method; /* "glm", "glm with SVD-assist", "ies", "sweep" */
    size_t nbatches;
    size_t *runs;         /* per batch */
    const char **what;    /* per batch: "Jacobian", "lambda tests", ... (static strings) */
    int *iteration;       /* per batch: the iteration it belongs to (0: before the first) */
    int iterations;
    size_t total_runs;
};

/* The batches of method ("glm", "ies" or "sweep"; NULL: glm, or ies when ++ies_num_reals is
 * set) on case c; sweep_rows is the number of rows of the sweep's input; iterations > 0 plans
 * for that many iterations instead of NOPTMAX (an upper bound: the stopping rules may end a
 * calibration sooner). 0 or -1 with err. */
int plan_work_for(const struct pst_case *c, const char *method, size_t sweep_rows,
                  int iterations, struct plan_work *w, struct pr_error *err);
void plan_work_free(struct plan_work *w);

/* The virtual wall time of one batch of n runs on `workers` simulated workers with lognormal
 * run times (mean_s, sd_s), or resampled from times (ntimes > 0). Deterministic. Sets *eff to
 * the batch's efficiency (run time / worker time on offer). -1 with err on failure. */
double plan_batch_seconds(const struct pst_case *c, size_t n, size_t workers, double mean_s,
                          double sd_s, const char *times_journal, double *eff,
                          struct pr_error *err);

/* Time the model as pestrun runs it here: start one local worker (timed: *startup_s, with its
 * stop), run it n times at the initial values through the scheduler, and give the mean and
 * spread of each run's wall time as the master saw it (templates, model, instruction files,
 * messages). 0, or -1 with err. */
int plan_measure(const struct pst_case *c, int n, double *mean_s, double *sd_s,
                 double *startup_s, struct pr_error *err);

#endif
