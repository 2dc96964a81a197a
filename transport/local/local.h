/* The local transport: N worker processes on this machine, each bound to its own core with
 * hwloc, each with its own copy of the model folder, each running the shared agent loop and
 * the model runner. Messages travel over a socketpair per worker. A worker that dies is
 * replaced; the model it was running is killed with its process group. */
#ifndef PR_LOCAL_H
#define PR_LOCAL_H

#include "model/runner.h"
#include "pest/pst.h"
#include "sched/transport.h"

struct local_opts {
    int nworkers;         /* <= 0: one per core this process may use */
    int pin;              /* bind each worker (and its models) to one core */
    const char *workroot; /* folder for the workers' copies; NULL: a new one under $TMPDIR */
    int keep_workdirs;    /* keep the copies at the end */
    struct runner_opts ropts;
};

/* Start the workers for case c (its folder is copied for each). Returns 0 with *tr set, or -1
 * with err set. The transport's destroy stops the workers and removes their folders. */
int local_create(const struct pst_case *c, const struct local_opts *opts, struct transport *tr,
                 struct pr_error *err);

/* The number of workers local_create starts when opts->nworkers is 0 (one a core this process
 * may use), without starting them; -1 with err set. */
int local_default_nworkers(struct pr_error *err);

/* The number of workers, and the work folder, of a local transport. */
int local_nworkers(const struct transport *tr);
const char *local_workroot(const struct transport *tr);
/* How many more times a dead worker will be replaced (3 per worker at the start). */
int local_respawns_left(const struct transport *tr);

#endif
