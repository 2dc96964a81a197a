/* The scheduler: runs batches of model runs on whatever workers a transport offers, with the
 * same promises on every transport (ARCHITECTURE.md):
 *   - every run of a batch ends done or failed-with-reason; none is lost with a worker;
 *   - a failed run is retried, on another worker when there is one, up to max_run_fail;
 *   - a lost worker's run is re-queued without counting as a failure;
 *   - an overdue run gets a second copy on an idle worker (overdue_resched_fac x the mean run
 *     time), and past overdue_giveup_fac x mean or overdue_giveup_minutes it is killed and
 *     counted as failed; the first result wins and the other copies are cancelled;
 *   - results of an old batch, duplicates and late copies are dropped;
 *   - every finished run is in the journal (written, then synced) before it is reported, and
 *     a run whose parameter values are already in the journal is not run again. */
#ifndef PR_SCHED_H
#define PR_SCHED_H

#include <signal.h>
#include <stddef.h>

#include "journal.h"
#include "transport.h"

struct sched_stats_view;

struct sched_config {
    int max_run_fail;              /* attempts before a run is failed (PEST++ default 3) */
    double overdue_resched_fac;    /* 1.15 */
    double overdue_giveup_fac;     /* 100 */
    double overdue_giveup_minutes; /* 1e30 */
    /* Runs whose mean time is below this are never duplicated or killed for being overdue
     * (PEST++: 0.01 min). */
    double overdue_min_mean_s;
    /* Set asynchronously (a signal handler) to stop: 1 = stop now. May be NULL. */
    volatile sig_atomic_t *stop_flag;
    /* Watched with the transport's fds (e.g. an inotify fd for pest.stp); when readable,
     * on_extra_fd is called and a non-zero return stops the batch. -1: none. */
    int extra_fd;
    int (*on_extra_fd)(void *ctx);
    /* Called at most every progress_interval_s and at the end of each batch. */
    void (*progress)(void *ctx, const struct sched_stats_view *stats);
    double progress_interval_s;
    void *ctx;
    /* Group commit: finished runs wait up to this long (seconds) for others before the journal
     * is synced and they are reported, so fast runs share one fdatasync. 0: sync as soon as no
     * event is ready. */
    double sync_group_s;
    /* At the end of a batch (nothing queued, workers idle), give each run still going one
     * backup copy on an idle worker, the youngest first (MapReduce's backup tasks): shorter
     * batch tails on large fleets, more model runs in all. 0: only overdue copies (PEST++). */
    int backup_copies;
    /* The clock, in seconds (tests replace it); NULL: CLOCK_MONOTONIC. */
    double (*now)(void *ctx);
};

/* PEST++'s defaults (3 attempts, overdue factors 1.15 and 100, no give-up time, no copies of
 * runs under 0.6 s), no stop flag, extra fd or progress, the real clock. */
void sched_config_defaults(struct sched_config *cfg);

/* Counters, for progress lines and the final summary. */
struct sched_stats_view {
    size_t batch_total, batch_done, batch_failed, batch_running;
    size_t runs_done, runs_failed; /* over all batches */
    size_t from_journal;           /* reported without running */
    size_t attempts_failed;        /* model failures, including retried ones */
    size_t workers_lost, copies_started, copies_cancelled, results_dropped;
    size_t workers_alive, workers_busy;
    double mean_run_s, max_run_s;
    double busy_s;    /* sum of the run times of every finished copy */
    double elapsed_s; /* since the scheduler was created */
    double eta_s;     /* for the current batch; < 0 when unknown */
    double phi;       /* the calibration's phi as its algorithm last noted it; NaN: none */
};

/* The outcome of run index i of a batch; from_journal when it was not run again. */
typedef void (*sched_done_fn)(void *ctx, size_t index, const struct run_result *res,
                              int from_journal);

struct sched;

/* Create a scheduler over a transport (not owned: the caller destroys it after the
 * scheduler) with an optional journal (not owned; may be NULL). */
struct sched *sched_create(struct transport tr, const struct sched_config *cfg, struct journal *j,
                           size_t npar, size_t nobs);
void sched_destroy(struct sched *s);

/* Run n runs with model-space values (n rows of npar) and optional info texts. Each run's
 * outcome is passed to done() once, as soon as it is journaled (in completion order, not index
 * order). Returns 0 when every run ended, 1 when stopped (stop flag, extra fd): the runs that
 * had not ended were not reported and their running copies were cancelled; -1 with err set on
 * a fatal transport or journal error. */
int sched_run_batch(struct sched *s, size_t n, const double *values, const char *const *info,
                    sched_done_fn done, void *ctx, struct pr_error *err);

/* The algorithm's current phi (best phi, or an ensemble's mean phi), for progress lines and
 * metrics. */
void sched_note_phi(struct sched *s, double phi);

/* A snapshot of the counters. */
void sched_stats(const struct sched *s, struct sched_stats_view *out);

/* Per-failure reasons of the runs that failed for good, for the final summary: the i-th of
 * sched_failure_count() distinct reasons with how many runs ended with it. */
size_t sched_failure_count(const struct sched *s);
const char *sched_failure_reason(const struct sched *s, size_t i, size_t *runs);

/* Why the last worker was lost ("worker 3: ..."), or NULL when none was. */
const char *sched_last_lost(const struct sched *s);

/* ------------------------------------------------------------------------------------------ */
/* Streaming: runs arrive one at a time (e.g. from a PEST++ master over PANTHER) instead of as a
 * batch. The same promises hold (lost workers' runs re-queued, failed runs retried up to
 * max_run_fail, first result wins), except that nothing is journaled: whoever submits the runs
 * keeps the books. Between sched_stream_begin and sched_stream_end, sched_run_batch must not
 * be called. */

struct sched_stream_opts {
    int max_run_fail; /* attempts per run; <= 0: the scheduler's max_run_fail */
    int overdue;      /* 1: duplicate and give up on overdue runs as in a batch; 0: never */
    int watch_fd;     /* a caller's fd watched with the transport (and the config's extra_fd);
                         -1: none */
};

enum sched_stream_event_type {
    SCHED_STREAM_RESULT = 1,  /* a run ended (ok, or failed for good) */
    SCHED_STREAM_FD = 2,      /* watch_fd is readable */
    SCHED_STREAM_STOP = 3,    /* the stop flag was set, or the config's extra fd asked to stop */
    SCHED_STREAM_WORKERS = 4, /* the number of live workers changed (workers says how many) */
};

struct sched_stream_event {
    enum sched_stream_event_type type;
    size_t id;                /* RESULT: the id sched_stream_submit returned */
    struct run_result result; /* RESULT: arrays owned by the scheduler until the next poll */
    size_t workers;           /* WORKERS: workers alive now */
};

/* Enter streaming mode (ends any batch state). Returns 0, or -1 with err set when the fds
 * cannot be combined (epoll). */
int sched_stream_begin(struct sched *s, const struct sched_stream_opts *o, struct pr_error *err);
/* Queue one run with model-space values (npar, copied) and an info text (copied; may be NULL).
 * Returns its id; ids are reused only after the run was reported or cancelled. */
size_t sched_stream_submit(struct sched *s, const double *values, const char *info);
/* Forget run id (not yet reported): a queued run is dropped, running copies are killed (their
 * results are ignored). Nothing is reported for it. An unknown id is ignored. */
void sched_stream_cancel(struct sched *s, size_t id);
/* Dispatch queued runs and wait up to timeout_ms (-1: no limit) for an event. Returns 1 with
 * *ev filled, 0 when the time ran out, -1 with err set on a fatal transport error (no worker
 * left). Blocks in poll() on the transport's fds, watch_fd and the config's extra_fd. */
int sched_stream_poll(struct sched *s, int timeout_ms, struct sched_stream_event *ev,
                      struct pr_error *err);
/* Runs submitted and not yet reported nor cancelled. */
size_t sched_stream_outstanding(const struct sched *s);
/* Leave streaming mode: running copies are cancelled (waiting up to 10 s for the workers to
 * confirm) and unreported results are dropped. */
void sched_stream_end(struct sched *s);

#endif
