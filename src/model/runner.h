/* One model run in a working directory (SPEC §4.1): delete the model's input and output files,
 * write every template, run each command line in order in its own process group, then read
 * every instruction file. The same runner serves every transport.
 *
 * Pure library: it prints nothing and never exits. A failed run is reported through
 * struct pr_error with a reason naming the file, line and instruction or command. */
#ifndef PR_RUNNER_H
#define PR_RUNNER_H

#include "../pest/pst.h"
#include "../util/pr_error.h"

enum runner_exec {
    RUNNER_SHELL, /* /bin/sh -c "command" (default; PEST's behaviour) */
    RUNNER_EXEC   /* PEST++ on Linux: split on single spaces, execvp, no shell */
};

/* The file in each working directory that receives the model's output in pestrun's commands. */
#define RUNNER_LOG_NAME "pestrun-model.log"

struct runner_opts {
    enum runner_exec exec;
    double timeout_s;     /* per run; <= 0: no limit */
    const char *log_name; /* file in the working directory that receives the model's stdout and
                             stderr (appended); NULL: /dev/null */
    int dry; /* do not run the model: every run ends at once with the observed values of the
                case (for measuring the run engine itself, like PEST++'s panther_debug_loop) */
};

struct model_runner;

/* Prepare to run c's model in workdir (an existing copy of the model folder). Templates and
 * instruction files are read from workdir and compiled once, and their names are checked
 * against the case. On error NULL is returned with err set. c must outlive the runner. */
struct model_runner *runner_create(const struct pst_case *c, const char *workdir,
                                   const struct runner_opts *opts, struct pr_error *err);
void runner_destroy(struct model_runner *r);

/* Begin a run with model-space values (pst order). Deletes the model's files, writes the
 * templates and starts the first command. Returns 0 when a command is running, -1 when the
 * run failed before any command started (err says why). */
int runner_start(struct model_runner *r, const double *model_values, struct pr_error *err);
/* A file descriptor that becomes readable when the running command ends (a pidfd), or -1 when
 * nothing runs (then runner_step ends the run at once: a dry run). Poll it together with runner_timeout_ms(). */
int runner_fd(const struct model_runner *r);
/* Number of parameters and observations of the case. */
size_t runner_nparams(const struct model_runner *r);
size_t runner_nobs(const struct model_runner *r);
/* Process id (and process group) of the running command, or -1. */
int runner_pid(const struct model_runner *r);
/* Milliseconds until the run's time limit, or -1 when there is none. */
int runner_timeout_ms(const struct model_runner *r);
/* Advance after runner_fd() became readable or the time limit passed: reaps the command,
 * starts the next one, or reads the outputs. Returns 1 while still running, 0 when the run
 * succeeded, -1 when it failed (err says why). Never blocks. */
int runner_step(struct model_runner *r, struct pr_error *err);
/* Kill the running command's whole process group and end the run as failed. */
void runner_kill(struct model_runner *r, const char *reason);

/* Results of the last successful run: parameter values as written to the templates (model
 * space, pst order; SPEC §2.5), observation values (pst order), wall time in seconds. */
const double *runner_processed(const struct model_runner *r);
const double *runner_observations(const struct model_runner *r);
double runner_seconds(const struct model_runner *r);

/* Run once and wait (blocks in poll on the pidfd). Returns 0 or -1 with err set. */
int runner_run(struct model_runner *r, const double *model_values, struct pr_error *err);

#endif
