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

/* The master's own time per iteration of method (glm or ies) on the case at pst_path: the
 * algorithm (its linear algebra, FOSM, output files) and the scheduler, without the model, found
 * by running up to `iterations` (at most 6) iterations on simulated workers with a synthetic
 * model and a virtual clock, outputs in a temporary folder. Sets *per_iter (0 for a sweep).
 * 0 or -1 with err. */
int plan_master_seconds(const char *pst_path, const char *method, int iterations,
                        double *per_iter, struct pr_error *err);

/* The virtual wall time of one batch of n runs on `workers` simulated workers with lognormal
 * run times (mean_s, sd_s), or resampled from times (ntimes > 0). Deterministic. Sets *eff to
 * the batch's efficiency (run time / worker time on offer). -1 with err on failure. */
double plan_batch_seconds(const struct pst_case *c, size_t n, size_t workers, double mean_s,
                          double sd_s, const char *times_journal, double *eff,
                          struct pr_error *err);

/* The mean and the sample standard deviation (0 for one value) of n run times. */
void plan_mean_sd(const double *t, size_t n, double *mean, double *sd);

/* The model's run time as pestrun sees it here. */
struct plan_timing {
    int workers;      /* running at once while timed */
    double mean_s;    /* one run, templates to instruction files and the messages, with
                       * `workers` runs at a time (they share this machine's cores, memory and
                       * disk) */
    double sd_s;      /* the spread of the runs' own times, scaled to mean_s */
    double startup_s; /* starting the workers and stopping them */
    double batch_s;   /* what a batch costs beyond its runs: handing out the first runs, the
                       * journal's last sync, the report (0 when runs take 1 s or more) */
    size_t runs;      /* runs timed */
};

/* Time the model as pestrun runs it: start `workers` local workers (<= 0: one a core; timed,
 * with their stop), run one wave, then n runs a worker (at least a second of runs), then
 * five one-wave batches, through the scheduler with a journal as the engine sets them up. The
 * runs take the nrows rows of model-space values in turn (a sweep's first rows), or, with
 * none, the initial values. 0, or -1 with err. */
int plan_measure(const struct pst_case *c, int n, int workers, const double *rows,
                 size_t nrows, struct plan_timing *out, struct pr_error *err);

#endif
