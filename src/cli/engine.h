/* What every parallel command shares: the options that choose and size the workers, the run
 * journal, the scheduler configured from the case's ++ options, stopping on SIGINT, SIGTERM
 * or a pest.stp file, progress lines and the final summary. */
#ifndef PR_ENGINE_H
#define PR_ENGINE_H

#include <getopt.h>

#include "model/runner.h"
#include "pest/pst.h"
#include "sched/sched.h"

enum engine_transport {
    ENGINE_TR_AUTO = 0, /* MPI when launched by mpirun/srun with more than one rank */
    ENGINE_TR_LOCAL,
    ENGINE_TR_MPI,
    ENGINE_TR_SQS,
};

struct engine_opts {
    enum engine_transport transport; /* --transport */
    double worker_silence_s;         /* --worker-silence: MPI worker lost after (0: 60 s) */
    int nworkers;                    /* -j; <= 0: one per core */
    int pin;
    const char *workroot;
    int keep_workdirs;
    struct runner_opts ropts;
    int resume;
    const char *journal_path; /* NULL: CASE.journal beside the control file */
    int no_journal;           /* keep no journal (the caller's master keeps the books) */
    int quiet;
    int json;
    int forgive_unimplemented; /* --forgive-unimplemented */
    /* --transport sqs */
    const char *queue_url, *result_queue_url, *bucket, *prefix, *kms_key_id;
    int max_inflight;
};

/* getopt_long entries and help text for the shared options, and their parser: returns 1 when
 * opt was one of them (consumed), 0 when not, -1 on a bad value (message printed). */
extern const struct option engine_longopts[];
extern const char engine_help[];
void engine_opts_init(struct engine_opts *o);
int engine_parse_opt(struct engine_opts *o, int opt, const char *arg);
/* Append engine_longopts to a command's own options (NULL-terminated, malloc'd). */
struct option *engine_merge_longopts(const struct option *own);

struct engine;

/* Start the workers and the scheduler for case c (loaded from pst_path). default_max_run_fail
 * is the algorithm's default (PEST++: 3; 1 when NOPTMAX = 0). Returns NULL with err set.
 * Under MPI (see transport/mpi/mpi.h) this is where the ranks part: on every rank but 0 it
 * never returns (the rank works for the master, then the process exits), so a command must
 * not write files or print before it calls engine_start. */
struct engine *engine_start(const struct pst_case *c, const char *pst_path,
                            const struct engine_opts *o, struct pr_error *err);
struct sched *engine_sched(struct engine *e);
/* Why the work stopped early: NULL when it did not, else "SIGINT", "SIGTERM" or "pest.stp". */
const char *engine_stop_reason(const struct engine *e);
/* Print the summary (unless quiet) and stop everything. Returns the exit status to use when
 * the command itself succeeded: 0, or 130 when it was stopped. */
int engine_finish(struct engine *e);

#endif
