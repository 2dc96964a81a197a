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
    /* The clock, in seconds (tests replace it); NULL: CLOCK_MONOTONIC. */
    double (*now)(void *ctx);
};

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

/* A snapshot of the counters. */
void sched_stats(const struct sched *s, struct sched_stats_view *out);

/* Per-failure reasons of the runs that failed for good, for the final summary: the i-th of
 * sched_failure_count() distinct reasons with how many runs ended with it. */
size_t sched_failure_count(const struct sched *s);
const char *sched_failure_reason(const struct sched *s, size_t i, size_t *runs);

/* Why the last worker was lost ("worker 3: ..."), or NULL when none was. */
const char *sched_last_lost(const struct sched *s);

#endif
