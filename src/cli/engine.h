/* What every parallel command shares: the options that choose and size the workers, the run
 * journal, the scheduler configured from the case's ++ options, stopping on SIGINT, SIGTERM
 * or a pest.stp file, progress lines and the final summary. */
#ifndef PR_ENGINE_H
#define PR_ENGINE_H

#include "options.h"
#include "model/runner.h"
#include "pest/pst.h"
#include "pest/pst_support.h"
#include "sched/sched.h"

struct cli_command;

enum engine_transport {
    ENGINE_TR_AUTO = 0, /* MPI when launched by mpirun/srun with more than one rank */
    ENGINE_TR_LOCAL,
    ENGINE_TR_MPI,
    ENGINE_TR_SQS,
    ENGINE_TR_SIM, /* simulated workers on a virtual clock (transport/sim/sim.h) */
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
    /* the algorithm's defaults when the case sets none (PEST++: 3 and 100; IES: 1 and 2) */
    int default_max_run_fail;
    double default_overdue_giveup_fac;
    /* --transport sqs */
    const char *queue_url, *result_queue_url, *bucket, *prefix, *kms_key_id;
    int max_inflight;
    /* --transport sim */
    const char *sim_spec; /* --sim: workers=N,mean=S,sd=S,seed=N,faults,... */
    int backup_copies;    /* --backup-copies */
};

/* The ids of the shared options in the tables below (-j and -q are their letters). */
enum engine_opt_id {
    ENGINE_OPT_NO_PIN = 1001,
    ENGINE_OPT_WORKDIR,
    ENGINE_OPT_KEEP_WORKDIRS,
    ENGINE_OPT_TIMEOUT,
    ENGINE_OPT_EXEC,
    ENGINE_OPT_RESUME,
    ENGINE_OPT_JOURNAL,
    ENGINE_OPT_LOG_FORMAT,
    ENGINE_OPT_TRANSPORT,
    ENGINE_OPT_WORKER_SILENCE,
    ENGINE_OPT_DRY,
    ENGINE_OPT_QUEUE_URL,
    ENGINE_OPT_RESULT_QUEUE_URL,
    ENGINE_OPT_BUCKET,
    ENGINE_OPT_PREFIX,
    ENGINE_OPT_KMS_KEY_ID,
    ENGINE_OPT_MAX_INFLIGHT,
    ENGINE_OPT_FORGIVE,
    ENGINE_OPT_SIM,
    ENGINE_OPT_BACKUP,
};

/* The shared options, in groups a command takes whole (cli_group), with their headings. A
 * command that keeps no journal (panther) leaves engine_journal_options out. */
extern const struct cli_option engine_case_options[];     /* --forgive-unimplemented */
extern const struct cli_option engine_worker_options[];   /* -j, --no-pin, --transport, ... */
extern const struct cli_option engine_progress_options[]; /* -q, --log-format */
extern const struct cli_option engine_journal_options[];  /* --resume, --journal */
extern const struct cli_option engine_sqs_options[];      /* --queue-url, ... */
/* Every group above, for the commands that take them all (glm, jacobian, ies). */
extern const struct cli_group engine_command_groups[];
extern const char engine_case_title[], engine_workers_title[], engine_progress_title[],
    engine_journal_title[], engine_sqs_title[];

void engine_opts_init(struct engine_opts *o);
/* Parse one option of the tables above: 1 when opt was one of them (consumed), 0 when not, -1
 * on a bad value (message printed). */
int engine_parse_opt(struct engine_opts *o, int opt, const char *arg);
/* Options that do not go together or that this build cannot honour (SQS options without
 * --transport sqs, --transport sqs without its queues and bucket, --transport mpi without
 * MPI): 0, or -1 with the message printed (a usage error: exit status 2). */
int engine_check_opts(const struct engine_opts *o, const char *cmd);

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

/* A command that runs one algorithm on the engine (sweep, jacobian, glm, ies): what it adds to
 * the common skeleton of parsing the engine's options, loading and checking the case, starting
 * the engine, printing the support warnings, running and finishing. */
struct engine_algo {
    const struct cli_command *spec;
    enum pst_cmd cmd;
    void *ctx;
    /* one of the command's own options (not an engine option); may be NULL */
    void (*option)(void *ctx, int opt, const char *arg);
    /* the case is loaded, the engine not started: read the algorithm's ++ options. 0, or -1
     * with err set (exit status 2). May be NULL. */
    int (*prepare)(void *ctx, const struct pst_case *c, struct pr_error *err);
    /* run it: < 0 with err set (exit status 1), else the algorithm's own status (0: it ended;
     * 1: stopped) */
    int (*run)(void *ctx, const struct pst_case *c, const char *pst, struct sched *s,
               struct pr_error *err);
    /* after the engine's summary, unless quiet, when run returned r >= 0 */
    void (*report)(void *ctx, const char *pst, int r, const struct engine_opts *eo);
};

/* The whole command; eo holds the command's defaults (engine_opts_init and any of its own).
 * Returns the exit status. */
int engine_main(int argc, char **argv, struct engine_opts *eo, const struct engine_algo *a);

#endif
