#include "sched.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "../util/strbuf.h"
#include "../util/clock.h"

enum worker_state { W_ABSENT, W_IDLE, W_BUSY };

struct worker {
    enum worker_state state;
    struct run_key key; /* of the copy it runs (W_BUSY) */
    size_t run;         /* index in the batch */
    int killing;        /* a cancel was sent for the copy it runs */
    double start;
    int in_idle; /* its id is in the idle heap (maybe stale: then it is not W_IDLE) */
    double ok_s; /* run time of its successful runs, and how many: its own speed */
    unsigned n_ok;
};

/* A busy worker's copy and when it started: the overdue queues hold these in start order
 * (every entry is pushed when its copy starts, or when the transport says it really started,
 * so pushes come in time order); an entry is stale once its worker runs something else. */
struct busy_entry {
    double start;
    int worker;
    struct run_key key;
};

struct busy_ring {
    struct busy_entry *a;
    size_t head, len, cap;
    uint64_t popped; /* entries ever popped: the absolute index of the front */
};

/* R_GONE: a streamed run that was cancelled, or a free stream slot */
enum run_state { R_WAITING, R_QUEUED, R_RUNNING, R_DONE, R_FAILED, R_GONE };

static int run_ended(enum run_state st)
{
    return st == R_DONE || st == R_FAILED || st == R_GONE;
}

struct brun {
    enum run_state state;
    int failures;
    int copies;        /* copies running (not counting ones being killed) */
    uint32_t attempts; /* copies ever started; the next attempt number */
    int *failed_on;    /* workers on which it failed (max_run_fail entries) */
    char *last_reason;
};

struct reason_count {
    char *reason;
    size_t runs;
};

struct sched {
    struct transport tr;
    struct sched_config cfg;
    struct journal *journal;
    size_t npar, nobs;

    struct worker *workers;
    size_t nworkers; /* slots allocated (ids 0..nworkers-1) */
    size_t n_idle, n_busy;
    /* Idle workers, lowest id first (a binary min-heap with stale entries skipped), and the
     * busy copies in start order: not yet overdue, then overdue with every copy they may have
     * (waiting only for the give-up limit). With these, an event costs O(log workers), not
     * O(workers): 10,000 workers are as cheap to drive as 10. */
    int *idle;
    size_t nidle_heap, capidle;
    struct busy_ring young, old;
    /* copies started on workers known to be slow (their own mean run time is overdue): when
     * the queue is empty they are copied at once onto a worker expected to finish first */
    struct busy_ring slow;

    /* the current batch */
    uint64_t batch;
    size_t n;
    const double *values;
    const char *const *info;
    struct brun *runs;
    size_t nrunning; /* runs in R_RUNNING */
    size_t *queue; /* deque of run indexes */
    size_t qhead, qlen, qcap;
    size_t done_count, failed_count;
    sched_done_fn done;
    void *done_ctx;
    /* results journaled but not yet reported (reported after the journal is synced) */
    struct run_result *pending;
    size_t npending, cappending;
    size_t *pending_index;
    double pending_since; /* when the oldest of them was held */

    /* statistics */
    double created, last_progress;
    size_t runs_done, runs_failed, from_journal, attempts_failed, workers_lost, copies_started,
        copies_cancelled, results_dropped;
    double sum_ok_s, max_run_s, busy_s;
    size_t n_ok_timed;
    double phi; /* sched_note_phi; NaN until then */
    struct reason_count *reasons;
    size_t nreasons;
    char last_lost[300]; /* why the last worker was lost */

    /* streaming (sched_stream_*): the "batch" is a growing table of slots, reused once their
     * run was reported or cancelled and no worker is busy on them */
    int streaming;
    struct sched_stream_opts sopts;
    int saved_max_run_fail;
    double *svalues;
    char **sinfo;
    size_t *free_slots;
    size_t nfree, capfree;
    size_t handed; /* pending results already handed to the caller */
    int stream_fd, stream_epoll;
    size_t stream_submitted, stream_cancelled;
    size_t stream_workers; /* live workers last reported */
};

static double mono_now(void *ctx)
{
    (void)ctx;
    return pr_now_s();
}

static double now(const struct sched *s)
{
    return s->cfg.now ? s->cfg.now(s->cfg.ctx) : mono_now(NULL);
}

void sched_config_defaults(struct sched_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_run_fail = 3;
    cfg->overdue_resched_fac = 1.15;
    cfg->overdue_giveup_fac = 100;
    cfg->overdue_giveup_minutes = 1e30;
    cfg->overdue_min_mean_s = 0.6; /* PEST++: MIN_AVGRUNMINS_FOR_KILL = 0.01 min */
    cfg->extra_fd = -1;
    cfg->progress_interval_s = 1e9;
}

struct sched *sched_create(struct transport tr, const struct sched_config *cfg, struct journal *j,
                           size_t npar, size_t nobs)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    s->tr = tr;
    s->cfg = *cfg;
    if (s->cfg.max_run_fail < 1) s->cfg.max_run_fail = 1;
    if (s->cfg.progress_interval_s <= 0) s->cfg.progress_interval_s = 1.0;
    s->journal = j;
    s->npar = npar;
    s->nobs = nobs;
    s->phi = NAN;
    s->created = now(s);
    s->last_progress = s->created;
    return s;
}

static void free_result(struct run_result *r)
{
    free(r->processed);
    free(r->obs);
    free(r->reason);
    memset(r, 0, sizeof(*r));
}

static void free_batch(struct sched *s)
{
    for (size_t i = 0; s->runs && i < s->n; i++) {
        free(s->runs[i].failed_on);
        free(s->runs[i].last_reason);
    }
    free(s->runs);
    s->runs = NULL;
    s->nrunning = 0;
    s->young.head = s->young.len = 0;
    s->old.head = s->old.len = 0;
    s->slow.head = s->slow.len = 0;
    s->young.popped = s->old.popped = s->slow.popped = 0;
    free(s->queue);
    s->queue = NULL;
    s->qhead = s->qlen = s->qcap = 0;
    for (size_t i = 0; i < s->npending; i++)
        free_result(&s->pending[i]);
    s->npending = 0;
}

void sched_destroy(struct sched *s)
{
    if (!s) return;
    if (s->streaming) sched_stream_end(s);
    free_batch(s);
    free(s->pending);
    free(s->pending_index);
    free(s->workers);
    free(s->idle);
    free(s->young.a);
    free(s->old.a);
    free(s->slow.a);
    for (size_t i = 0; i < s->nreasons; i++)
        free(s->reasons[i].reason);
    free(s->reasons);
    free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* workers and the queue                                                                      */

static struct worker *worker(struct sched *s, int id)
{
    if (id < 0) return NULL;
    if ((size_t)id >= s->nworkers) {
        size_t n = (size_t)id + 1 > s->nworkers * 2 ? (size_t)id + 1 : s->nworkers * 2;
        s->workers = xrealloc(s->workers, n * sizeof(*s->workers));
        memset(s->workers + s->nworkers, 0, (n - s->nworkers) * sizeof(*s->workers));
        s->nworkers = n;
    }
    return &s->workers[id];
}

static size_t workers_in(const struct sched *s, enum worker_state st)
{
    return st == W_IDLE ? s->n_idle : st == W_BUSY ? s->n_busy : s->nworkers - s->n_idle - s->n_busy;
}

static void ring_push(struct busy_ring *q, struct busy_entry e)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct busy_entry *a = xmalloc(cap * sizeof(*a));
        for (size_t i = 0; i < q->len; i++)
            a[i] = q->a[(q->head + i) % q->cap];
        free(q->a);
        q->a = a;
        q->cap = cap;
        q->head = 0;
    }
    q->a[(q->head + q->len) % q->cap] = e;
    q->len++;
}

static struct busy_entry *ring_front(struct busy_ring *q)
{
    return q->len ? &q->a[q->head] : NULL;
}

static void ring_pop(struct busy_ring *q)
{
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->popped++;
}

static void idle_push(struct sched *s, int id)
{
    if (s->nidle_heap == s->capidle) {
        s->capidle = s->capidle ? s->capidle * 2 : 64;
        s->idle = xrealloc(s->idle, s->capidle * sizeof(int));
    }
    size_t i = s->nidle_heap++;
    while (i > 0 && s->idle[(i - 1) / 2] > id) {
        s->idle[i] = s->idle[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->idle[i] = id;
    s->workers[id].in_idle = 1;
}

static int idle_pop(struct sched *s)
{
    int top = s->idle[0], last = s->idle[--s->nidle_heap];
    size_t i = 0, n = s->nidle_heap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int v = last;
        if (l < n && s->idle[l] < v) {
            m = l;
            v = s->idle[l];
        }
        if (l + 1 < n && s->idle[l + 1] < v) m = l + 1;
        if (m == i) break;
        s->idle[i] = s->idle[m];
        i = m;
    }
    if (n) s->idle[i] = last;
    s->workers[top].in_idle = 0;
    return top;
}

/* Every change of a worker's state goes through here (the counters and the idle heap). */
static void set_wstate(struct sched *s, struct worker *w, enum worker_state st)
{
    if (w->state == W_IDLE) s->n_idle--;
    if (w->state == W_BUSY) s->n_busy--;
    w->state = st;
    if (st == W_IDLE) {
        s->n_idle++;
        if (!w->in_idle) idle_push(s, (int)(w - s->workers));
    }
    if (st == W_BUSY) s->n_busy++;
}

/* ... and every change of a run's state (the count of running runs). */
static void set_rstate(struct sched *s, struct brun *r, enum run_state st)
{
    if (r->state == R_RUNNING) s->nrunning--;
    if (st == R_RUNNING) s->nrunning++;
    r->state = st;
}

static void queue_push(struct sched *s, size_t run, int front)
{
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 64;
        size_t *q = xmalloc(cap * sizeof(size_t));
        for (size_t i = 0; i < s->qlen; i++)
            q[i] = s->queue[(s->qhead + i) % s->qcap];
        free(s->queue);
        s->queue = q;
        s->qcap = cap;
        s->qhead = 0;
    }
    if (front) {
        s->qhead = (s->qhead + s->qcap - 1) % s->qcap;
        s->queue[s->qhead] = run;
    } else {
        s->queue[(s->qhead + s->qlen) % s->qcap] = run;
    }
    s->qlen++;
    set_rstate(s, &s->runs[run], R_QUEUED);
}

static size_t queue_pop(struct sched *s)
{
    size_t run = s->queue[s->qhead];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
    return run;
}

static int failed_on(const struct sched *s, const struct brun *r, int w)
{
    for (int i = 0; i < r->failures && i < s->cfg.max_run_fail; i++)
        if (r->failed_on[i] == w) return 1;
    return 0;
}

/* An idle worker for run r: one it has not failed on (and not running it) if there is one;
 * any idle worker when every live worker has failed it or runs it (PEST++'s rule). */
static int pick_worker(struct sched *s, size_t run)
{
    const struct brun *r = &s->runs[run];
    /* the lowest idle id it has not failed on: at most max_run_fail idle workers are passed
     * over (set aside and put back) */
    int skipped[64], nskip = 0, pick = -1;
    while (s->nidle_heap > 0) {
        int id = s->idle[0];
        if (s->workers[id].state != W_IDLE) {
            idle_pop(s); /* stale */
            continue;
        }
        if (!failed_on(s, r, id) || nskip == (int)(sizeof(skipped) / sizeof(skipped[0]))) {
            pick = id;
            break;
        }
        skipped[nskip++] = idle_pop(s);
    }
    int any = nskip ? skipped[0] : -1;
    for (int i = 0; i < nskip; i++)
        idle_push(s, skipped[i]);
    if (pick >= 0) return pick;
    size_t alive = workers_in(s, W_IDLE) + workers_in(s, W_BUSY);
    if (any >= 0 && (size_t)(r->failures + r->copies) >= alive) return any;
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* dispatch                                                                                   */

static double mean_run_s(const struct sched *s)
{
    return s->n_ok_timed ? s->sum_ok_s / (double)s->n_ok_timed : 0.0;
}

static int start_copy(struct sched *s, size_t run, int wid, struct pr_error *err)
{
    struct brun *r = &s->runs[run];
    struct worker *w = &s->workers[wid];
    struct run_request req = {
        .key = {s->batch, (uint32_t)run, r->attempts},
        .npar = s->npar,
        .values = s->values + run * s->npar,
        .info = s->info ? s->info[run] : NULL,
    };
    struct pr_error e;

    r->attempts++;
    if (s->tr.ops->submit(s->tr.impl, wid, &req, &e) < 0) {
        /* the worker cannot take it: it is lost; the run goes back to the queue */
        set_wstate(s, w, W_ABSENT);
        s->workers_lost++;
        if (r->copies == 0) queue_push(s, run, 1);
        (void)err;
        return 0;
    }
    set_wstate(s, w, W_BUSY);
    w->key = req.key;
    w->run = run;
    w->killing = 0;
    w->start = now(s);
    struct busy_entry be = {w->start, wid, req.key};
    ring_push(&s->young, be);
    double mean = mean_run_s(s);
    if (w->n_ok >= 2 && mean > 0 && w->ok_s / w->n_ok > s->cfg.overdue_resched_fac * mean)
        ring_push(&s->slow, be);
    r->copies++;
    set_rstate(s, r, R_RUNNING);
    s->copies_started++;
    return 0;
}

static void dispatch(struct sched *s, struct pr_error *err)
{
    size_t tries = s->qlen;
    while (s->qlen > 0 && tries-- > 0 && workers_in(s, W_IDLE) > 0) {
        size_t run = queue_pop(s);
        if (s->runs[run].state != R_QUEUED) continue;
        int wid = pick_worker(s, run);
        if (wid < 0) { /* every idle worker already failed this run: keep it for later */
            queue_push(s, run, 0);
            continue;
        }
        start_copy(s, run, wid, err);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* results                                                                                    */

static void count_reason(struct sched *s, const char *reason)
{
    if (!reason) reason = "unknown";
    for (size_t i = 0; i < s->nreasons; i++)
        if (strcmp(s->reasons[i].reason, reason) == 0) {
            s->reasons[i].runs++;
            return;
        }
    s->reasons = xrealloc(s->reasons, (s->nreasons + 1) * sizeof(*s->reasons));
    s->reasons[s->nreasons].reason = xstrdup(reason);
    s->reasons[s->nreasons].runs = 1;
    s->nreasons++;
}

/* Keep a finished run for reporting once the journal is synced. */
static void hold(struct sched *s, size_t run, const struct run_result *res)
{
    if (s->npending == s->cappending) {
        s->cappending = s->cappending ? s->cappending * 2 : 16;
        s->pending = xrealloc(s->pending, s->cappending * sizeof(*s->pending));
        s->pending_index = xrealloc(s->pending_index, s->cappending * sizeof(size_t));
    }
    struct run_result *p = &s->pending[s->npending];
    if (s->npending == 0) s->pending_since = now(s);
    memset(p, 0, sizeof(*p));
    p->key = res->key;
    p->status = res->status;
    p->seconds = res->seconds;
    p->npar = s->npar;
    p->nobs = s->nobs;
    if (res->status == RUN_OK) {
        p->processed = xmalloc((s->npar + 1) * sizeof(double));
        p->obs = xmalloc((s->nobs + 1) * sizeof(double));
        memcpy(p->processed, res->processed, s->npar * sizeof(double));
        memcpy(p->obs, res->obs, s->nobs * sizeof(double));
    } else {
        p->reason = xstrdup(res->reason ? res->reason : "unknown");
    }
    s->pending_index[s->npending++] = run;
}

static void cancel_other_copies(struct sched *s, size_t run, int except)
{
    for (size_t i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->workers[i];
        if ((int)i == except || w->state != W_BUSY || w->killing || w->key.batch != s->batch ||
            w->run != run)
            continue;
        s->tr.ops->cancel(s->tr.impl, (int)i, &w->key);
        w->killing = 1;
        s->runs[run].copies--;
        s->copies_cancelled++;
    }
}

static int finish_run(struct sched *s, size_t run, const struct run_result *res,
                      struct pr_error *err)
{
    struct brun *r = &s->runs[run];
    const double *values = s->values + run * s->npar;
    int ok = res->status == RUN_OK;

    if (s->journal && !s->streaming &&
        journal_append(s->journal, values, ok, ok ? res->processed : NULL, ok ? res->obs : NULL,
                       res->seconds, ok ? NULL : res->reason, err) < 0)
        return -1;
    set_rstate(s, r, ok ? R_DONE : R_FAILED);
    if (ok) {
        s->done_count++;
        s->runs_done++;
    } else {
        s->failed_count++;
        s->runs_failed++;
        count_reason(s, res->reason);
    }
    hold(s, run, res);
    return 0;
}

/* A copy of run failed (model failure or overdue kill): retry or fail for good. */
static int copy_failed(struct sched *s, size_t run, int wid, const char *reason,
                       struct pr_error *err)
{
    struct brun *r = &s->runs[run];
    if (r->failures < s->cfg.max_run_fail) r->failed_on[r->failures] = wid;
    r->failures++;
    s->attempts_failed++;
    free(r->last_reason);
    r->last_reason = xstrdup(reason ? reason : "unknown");
    if (r->copies > 0 || r->state == R_QUEUED) return 0;
    if (r->failures >= s->cfg.max_run_fail) {
        struct run_result res = {.status = RUN_FAILED, .reason = r->last_reason};
        res.key.batch = s->batch;
        res.key.run = (uint32_t)run;
        return finish_run(s, run, &res, err);
    }
    queue_push(s, run, 1);
    return 0;
}

static int on_result(struct sched *s, int wid, struct run_result *res, struct pr_error *err)
{
    struct worker *w = worker(s, wid);
    int was_copy = w && w->state == W_BUSY && run_key_eq(&w->key, &res->key);
    int was_killing = was_copy && w->killing;

    if (was_copy && res->status == RUN_OK && res->key.batch == s->batch) {
        w->ok_s += res->seconds;
        w->n_ok++;
    }
    if (was_copy) {
        set_wstate(s, w, W_IDLE);
        w->killing = 0;
        s->busy_s += res->seconds;
    }
    if (res->key.batch != s->batch || res->key.run >= s->n || !was_copy) {
        s->results_dropped++; /* stale batch, unknown copy, or a worker we gave up on */
        return 0;
    }
    size_t run = res->key.run;
    struct brun *r = &s->runs[run];
    if (run_ended(r->state)) {
        s->results_dropped++; /* another copy finished first, or the run was cancelled */
        return 0;
    }
    if (was_killing) /* killed as overdue: already counted when the kill was decided */
        return 0;
    r->copies--;
    if (res->status == RUN_OK) {
        if (res->seconds > s->max_run_s) s->max_run_s = res->seconds;
        s->sum_ok_s += res->seconds;
        s->n_ok_timed++;
        if (r->copies > 0) cancel_other_copies(s, run, wid);
        return finish_run(s, run, res, err);
    }
    if (res->status == RUN_CANCELLED) { /* not asked by us (e.g. the worker is stopping) */
        if (r->copies == 0 && r->state != R_QUEUED) queue_push(s, run, 1);
        return 0;
    }
    return copy_failed(s, run, wid, res->reason, err);
}

static void on_lost(struct sched *s, int wid)
{
    struct worker *w = worker(s, wid);
    if (!w || w->state == W_ABSENT) return;
    s->workers_lost++;
    if (w->state == W_BUSY && w->key.batch == s->batch && w->run < s->n) {
        struct brun *r = &s->runs[w->run];
        if (!w->killing) r->copies--;
        if ((r->state == R_RUNNING) && r->copies == 0) queue_push(s, w->run, 1); /* not a failure */
    }
    set_wstate(s, w, W_ABSENT);
}

/* ------------------------------------------------------------------------------------------ */
/* overdue runs                                                                               */


/* Is a busy entry still the copy its worker runs (and not one being killed)? */
static int entry_live(const struct sched *s, const struct busy_entry *e)
{
    const struct worker *w = &s->workers[e->worker];
    return w->state == W_BUSY && !w->killing && w->key.batch == s->batch &&
           run_key_eq(&w->key, &e->key) && w->start == e->start;
}

static int give_up(struct sched *s, const struct busy_entry *e, double dur, double mean,
                   struct pr_error *err)
{
    struct worker *w = &s->workers[e->worker];
    char why[160];
    snprintf(why, sizeof(why), "overdue: killed after %.1f s (mean run time %.2f s)", dur, mean);
    s->tr.ops->cancel(s->tr.impl, e->worker, &w->key);
    w->killing = 1;
    s->runs[w->run].copies--;
    s->copies_cancelled++;
    return copy_failed(s, w->run, e->worker, why, err);
}

/* With nothing queued and workers idle, a copy running on a known slow worker gets a second
 * copy at once when a fresh copy is expected to end first (it would otherwise wait until it is
 * overdue, making the batch as long as the slow worker's run). */
static void copy_stragglers(struct sched *s, double t, double mean, struct pr_error *err)
{
    struct busy_ring keep = {0};
    int max_copies = s->cfg.max_run_fail > 1 ? s->cfg.max_run_fail : 1;
    while (s->slow.len > 0) {
        struct busy_entry e = *ring_front(&s->slow);
        ring_pop(&s->slow);
        if (!entry_live(s, &e)) continue;
        struct worker *w = &s->workers[e.worker];
        struct brun *r = &s->runs[w->run];
        double expected_end = e.start + w->ok_s / w->n_ok;
        if (r->copies < max_copies && s->n_idle > 0 && t + mean < expected_end) {
            int id = pick_worker(s, w->run);
            if (id >= 0 && !failed_on(s, r, id)) {
                start_copy(s, w->run, id, err);
                continue; /* one extra copy is enough: it is expected to win */
            }
        }
        ring_push(&keep, e);
    }
    free(s->slow.a);
    s->slow = keep;
}

/* The end of a batch: nothing is queued and workers are idle. Each run still going gets one
 * backup copy on an idle worker, the youngest first (the ones that would end last; as
 * MapReduce's backup tasks): the batch then ends with the first of two copies, and a copy
 * lost or failing this late no longer adds a whole run time to it. The idle workers would only
 * wait; the first result wins as always. A scan from the newest copy down, once per event at
 * the end of a batch. */
static void backup_copies(struct sched *s, struct pr_error *err)
{
    struct busy_ring *q = &s->young;
    for (size_t i = q->len; i-- > 0 && s->n_idle > 0;) {
        struct busy_entry e = q->a[(q->head + i) % q->cap];
        if (!entry_live(s, &e)) continue;
        size_t run = s->workers[e.worker].run;
        struct brun *r = &s->runs[run];
        if (r->copies >= 2 || s->cfg.max_run_fail < 2) continue;
        int id = pick_worker(s, run);
        if (id < 0 || failed_on(s, r, id)) continue;
        start_copy(s, run, id, err); /* pushes at the back, beyond i: the scan goes on down */
    }
}

/* Kill copies past the give-up limits; start more copies of overdue runs on idle workers.
 * Returns the seconds until the next overdue deadline (or a large number), -1 on error.
 * Only the oldest copies are looked at: both queues are in start order, so the scan stops at
 * the first copy that is not due. */
static double check_overdue(struct sched *s, struct pr_error *err)
{
    double t = now(s), mean = mean_run_s(s), next = 1e30;
    int use_mean = mean > 0 && mean >= s->cfg.overdue_min_mean_s;
    int max_copies = s->cfg.max_run_fail > 1 ? s->cfg.max_run_fail : 1;
    double giveup = s->cfg.overdue_giveup_minutes * 60.0;
    if (use_mean && s->cfg.overdue_giveup_fac * mean < giveup)
        giveup = s->cfg.overdue_giveup_fac * mean;
    double resched = use_mean ? s->cfg.overdue_resched_fac * mean : 1e300;
    struct busy_entry *e;

    /* overdue copies that have all the copies they may have: only the give-up limit is left */
    while ((e = ring_front(&s->old)) != NULL) {
        if (!entry_live(s, e)) {
            ring_pop(&s->old);
            continue;
        }
        double dur = t - e->start;
        if (dur < giveup) {
            if (giveup - dur < next) next = giveup - dur;
            break;
        }
        struct busy_entry copy = *e;
        ring_pop(&s->old);
        if (give_up(s, &copy, dur, mean, err) < 0) return -1;
    }
    while ((e = ring_front(&s->young)) != NULL) {
        if (!entry_live(s, e)) {
            ring_pop(&s->young);
            continue;
        }
        double dur = t - e->start;
        if (dur >= giveup) {
            struct busy_entry copy = *e;
            ring_pop(&s->young);
            if (give_up(s, &copy, dur, mean, err) < 0) return -1;
            continue;
        }
        if (dur < resched) {
            if (resched - dur < next) next = resched - dur;
            if (giveup - dur < next) next = giveup - dur;
            break;
        }
        struct brun *r = &s->runs[s->workers[e->worker].run];
        if (r->copies >= max_copies) {
            struct busy_entry copy = *e;
            ring_pop(&s->young);
            ring_push(&s->old, copy);
            continue;
        }
        int wid = -1;
        if (s->qlen == 0 && s->n_idle > 0) {
            int id = pick_worker(s, s->workers[e->worker].run);
            if (id >= 0 && !failed_on(s, r, id)) wid = id;
        }
        if (wid < 0) { /* nothing to run it on now: an event will call again */
            if (giveup - dur < next) next = giveup - dur;
            break;
        }
        size_t run = s->workers[e->worker].run;
        start_copy(s, run, wid, err); /* may push onto young: e is re-read from the front */
    }
    if (use_mean && s->qlen == 0 && s->n_idle > 0 && s->slow.len > 0) copy_stragglers(s, t, mean, err);
    if (s->cfg.backup_copies && use_mean && s->qlen == 0 && s->n_idle > 0) backup_copies(s, err);
    return next;
}

/* ------------------------------------------------------------------------------------------ */
/* the batch loop                                                                             */

static void report_pending(struct sched *s)
{
    for (size_t i = 0; i < s->npending; i++) {
        s->done(s->done_ctx, s->pending_index[i], &s->pending[i], 0);
        free_result(&s->pending[i]);
    }
    s->npending = 0;
}

static void progress(struct sched *s, int force)
{
    double t = now(s);
    if (!s->cfg.progress || (!force && t - s->last_progress < s->cfg.progress_interval_s)) return;
    s->last_progress = t;
    struct sched_stats_view v;
    sched_stats(s, &v);
    s->cfg.progress(s->cfg.ctx, &v);
}

static int take_from_journal(struct sched *s, size_t run, struct pr_error *err)
{
    struct run_result res;
    double *proc = xmalloc((s->npar + 1) * sizeof(double));
    double *obs = xmalloc((s->nobs + 1) * sizeof(double));
    /* A record that cannot be read back is as good as absent: the run is simply done again. */
    int found =
        journal_lookup(s->journal, s->values + run * s->npar, proc, obs, &res.seconds, NULL);
    if (found < 0) found = 0;
    if (found == 1) {
        memset(&res.key, 0, sizeof(res.key));
        res.key.batch = s->batch;
        res.key.run = (uint32_t)run;
        res.status = RUN_OK;
        res.npar = s->npar;
        res.nobs = s->nobs;
        res.processed = proc;
        res.obs = obs;
        res.reason = NULL;
        set_rstate(s, &s->runs[run], R_DONE);
        s->done_count++;
        s->runs_done++;
        s->from_journal++;
        s->done(s->done_ctx, run, &res, 1);
    }
    free(proc);
    free(obs);
    return found;
}

static int stop_requested(const struct sched *s)
{
    return s->cfg.stop_flag && *s->cfg.stop_flag;
}

/* Cancel every running copy and wait (bounded) for the workers to confirm. */
static void stop_batch(struct sched *s)
{
    for (size_t i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->workers[i];
        if (w->state == W_BUSY && !w->killing) {
            s->tr.ops->cancel(s->tr.impl, (int)i, &w->key);
            w->killing = 1;
        }
    }
    double deadline = now(s) + 10.0;
    while (workers_in(s, W_BUSY) > 0 && now(s) < deadline) {
        struct tr_event ev;
        struct pr_error e;
        int rc = s->tr.ops->poll(s->tr.impl, &ev, 500, -1, &e);
        if (rc < 0) break;
        if (rc == 0) continue;
        struct worker *w = worker(s, ev.worker);
        if (ev.type == TR_EV_RESULT && w && w->state == W_BUSY && run_key_eq(&w->key, &ev.key)) {
            set_wstate(s, w, W_IDLE);
            /* a model that finished before the cancel reached it: a completed run, kept */
            if (ev.result.status == RUN_OK && ev.key.batch == s->batch && ev.key.run < s->n &&
                !run_ended(s->runs[ev.key.run].state)) {
                ev.result.key = ev.key;
                finish_run(s, ev.key.run, &ev.result, &e);
            }
        } else if (ev.type == TR_EV_WORKER_LOST && w)
            set_wstate(s, w, W_ABSENT);
        else if (ev.type == TR_EV_WORKER_UP && w)
            set_wstate(s, w, W_IDLE);
    }
}

static int handle_event(struct sched *s, struct tr_event *ev, struct pr_error *err)
{
    struct worker *w;
    switch (ev->type) {
    case TR_EV_WORKER_UP:
        w = worker(s, ev->worker);
        if (w && w->state == W_ABSENT) {
            w->ok_s = 0; /* a new worker in its place: its speed is not known yet */
            w->n_ok = 0;
            set_wstate(s, w, W_IDLE);
        }
        return 0;
    case TR_EV_WORKER_LOST:
        on_lost(s, ev->worker);
        snprintf(s->last_lost, sizeof(s->last_lost), "worker %d: %s", ev->worker, ev->detail);
        return 0;
    case TR_EV_STARTED:
        w = worker(s, ev->worker);
        if (w && w->state == W_BUSY && run_key_eq(&w->key, &ev->key)) {
            w->start = now(s);
            struct busy_entry be = {w->start, ev->worker, ev->key};
            ring_push(&s->young, be); /* the entry pushed at submit is stale now */
        }
        return 0;
    case TR_EV_RESULT:
        ev->result.key = ev->key;
        return on_result(s, ev->worker, &ev->result, err);
    case TR_EV_EXTRA_FD:
        return s->cfg.on_extra_fd && s->cfg.on_extra_fd(s->cfg.ctx) ? 1 : 0;
    }
    return 0;
}

int sched_run_batch(struct sched *s, size_t n, const double *values, const char *const *info,
                    sched_done_fn done, void *ctx, struct pr_error *err)
{
    int rc = 0;

    free_batch(s);
    s->batch++;
    s->n = n;
    s->values = values;
    s->info = info;
    s->done = done;
    s->done_ctx = ctx;
    s->done_count = s->failed_count = 0;
    s->runs = xcalloc(n + 1, sizeof(*s->runs));
    for (size_t i = 0; i < n; i++)
        s->runs[i].failed_on = xcalloc((size_t)s->cfg.max_run_fail, sizeof(int));
    for (size_t i = 0; i < n; i++) {
        int found = s->journal ? take_from_journal(s, i, err) : 0;
        if (found < 0) return -1;
        if (!found) queue_push(s, i, 0);
    }
    while (s->done_count + s->failed_count < n) {
        struct tr_event ev;
        if (stop_requested(s)) {
            rc = 1;
            break;
        }
        dispatch(s, err);
        double next = check_overdue(s, err);
        if (next < 0) {
            rc = -1;
            break;
        }
        dispatch(s, err);
        double wait = next < s->cfg.progress_interval_s ? next : s->cfg.progress_interval_s;
        if (wait > 60.0) /* keeps the millisecond timeout in range */
            wait = 60.0;
        if (s->npending) { /* wait no longer than the group commit allows */
            /* the same difference as the test below, so that a virtual clock that stops
             * exactly at the deadline does not spin on a zero timeout */
            double left = s->cfg.sync_group_s - (now(s) - s->pending_since);
            wait = left < 0 ? 0 : (left < wait ? left : wait);
        }
        int timeout = s->npending && wait <= 0 ? 0 : (int)(wait * 1000.0) + 1;
        int got = s->tr.ops->poll(s->tr.impl, &ev, timeout, s->cfg.extra_fd, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got > 0) {
            int h = handle_event(s, &ev, err);
            if (h < 0) {
                rc = -1;
                break;
            }
            if (h > 0) {
                rc = 1;
                break;
            }
            /* a worker this event freed takes the next queued run now, so that a progress line
             * sampled here counts it busy (it was shown idle between its result and its next
             * run: half the lines of a run on 2 workers said 1 busy) */
            if (!stop_requested(s)) dispatch(s, err);
            /* drain what is ready before syncing the journal, but under a steady stream of
             * events still sync, report and show progress every progress_interval_s */
            if (!s->npending || now(s) - s->pending_since < s->cfg.progress_interval_s) {
                progress(s, 0);
                continue;
            }
        }
        /* nothing more is ready: make the finished runs durable, then report them */
        if (s->npending && now(s) - s->pending_since >= s->cfg.sync_group_s) {
            if (s->journal && journal_sync(s->journal, err) < 0) {
                rc = -1;
                break;
            }
            report_pending(s);
        }
        progress(s, 0);
    }
    if (rc == 0 && s->npending) {
        if (s->journal && journal_sync(s->journal, err) < 0)
            rc = -1;
        else
            report_pending(s);
    }
    if (rc != 0) {
        stop_batch(s);
        if (s->journal) journal_sync(s->journal, NULL);
        if (rc == 1) report_pending(s); /* journaled already: reporting them loses nothing */
    }
    progress(s, 1);
    return rc;
}

void sched_stats(const struct sched *s, struct sched_stats_view *v)
{
    memset(v, 0, sizeof(*v));
    v->batch_total = s->streaming ? s->stream_submitted : s->n;
    v->batch_done = s->done_count;
    v->batch_failed = s->failed_count;
    v->batch_running = s->nrunning;
    v->phi = s->phi;
    v->runs_done = s->runs_done;
    v->runs_failed = s->runs_failed;
    v->from_journal = s->from_journal;
    v->attempts_failed = s->attempts_failed;
    v->workers_lost = s->workers_lost;
    v->copies_started = s->copies_started;
    v->copies_cancelled = s->copies_cancelled;
    v->results_dropped = s->results_dropped;
    v->workers_busy = workers_in(s, W_BUSY);
    v->workers_alive = v->workers_busy + workers_in(s, W_IDLE);
    v->mean_run_s = mean_run_s(s);
    v->max_run_s = s->max_run_s;
    v->busy_s = s->busy_s;
    v->elapsed_s = now(s) - s->created;
    size_t left =
        v->batch_total - s->done_count - s->failed_count - (s->streaming ? s->stream_cancelled : 0);
    if (v->mean_run_s > 0 && v->workers_alive > 0)
        v->eta_s = v->mean_run_s * (double)left / (double)v->workers_alive;
    else
        v->eta_s = left ? -1 : 0;
}

void sched_note_phi(struct sched *s, double phi)
{
    s->phi = phi;
}

const char *sched_last_lost(const struct sched *s)
{
    return s->last_lost[0] ? s->last_lost : NULL;
}

size_t sched_failure_count(const struct sched *s)
{
    return s->nreasons;
}

const char *sched_failure_reason(const struct sched *s, size_t i, size_t *runs)
{
    if (i >= s->nreasons) return NULL;
    if (runs) *runs = s->reasons[i].runs;
    return s->reasons[i].reason;
}

/* ------------------------------------------------------------------------------------------ */
/* streaming                                                                                  */

int sched_stream_begin(struct sched *s, const struct sched_stream_opts *o, struct pr_error *err)
{
    int extra = s->cfg.extra_fd;

    if (s->streaming) sched_stream_end(s);
    free_batch(s);
    s->batch++;
    s->n = 0;
    s->done_count = s->failed_count = 0;
    s->sopts = *o;
    s->stream_epoll = -1;
    s->stream_fd = o->watch_fd >= 0 ? o->watch_fd : extra;
    if (o->watch_fd >= 0 && extra >= 0) {
        /* the transports watch one extra fd: an epoll set of both becomes readable with either */
        s->stream_epoll = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event a = {.events = EPOLLIN, .data.fd = extra};
        struct epoll_event b = {.events = EPOLLIN, .data.fd = o->watch_fd};
        if (s->stream_epoll < 0 || epoll_ctl(s->stream_epoll, EPOLL_CTL_ADD, extra, &a) < 0 ||
            epoll_ctl(s->stream_epoll, EPOLL_CTL_ADD, o->watch_fd, &b) < 0) {
            pr_error_set(err, "epoll: %s", strerror(errno));
            if (s->stream_epoll >= 0) close(s->stream_epoll);
            s->stream_epoll = -1;
            return -1;
        }
        s->stream_fd = s->stream_epoll;
    }
    s->saved_max_run_fail = s->cfg.max_run_fail;
    if (o->max_run_fail > 0) s->cfg.max_run_fail = o->max_run_fail;
    s->stream_submitted = s->stream_cancelled = 0;
    s->handed = 0;
    s->stream_workers = 0;
    s->streaming = 1;
    return 0;
}

static int slot_busy(const struct sched *s, size_t slot)
{
    for (size_t i = 0; i < s->nworkers; i++)
        if (s->workers[i].state == W_BUSY && s->workers[i].key.batch == s->batch &&
            s->workers[i].run == slot)
            return 1;
    return 0;
}

static void free_slot(struct sched *s, size_t slot)
{
    set_rstate(s, &s->runs[slot], R_GONE);
    free(s->sinfo[slot]);
    s->sinfo[slot] = NULL;
    if (s->nfree == s->capfree) {
        s->capfree = s->capfree ? 2 * s->capfree : 16;
        s->free_slots = xrealloc(s->free_slots, s->capfree * sizeof(size_t));
    }
    s->free_slots[s->nfree++] = slot;
}

/* A free slot no worker is still busy on (a killed copy may not have confirmed yet), or a new
 * one: a slot's keys restart at attempt 0, so it must not be reused while a copy could answer. */
static size_t take_slot(struct sched *s)
{
    for (size_t i = 0; i < s->nfree; i++) {
        size_t slot = s->free_slots[i];
        if (slot_busy(s, slot)) continue;
        s->free_slots[i] = s->free_slots[--s->nfree];
        return slot;
    }
    size_t slot = s->n++;
    s->runs = xrealloc(s->runs, s->n * sizeof(*s->runs));
    s->svalues = xrealloc(s->svalues, (s->n * s->npar + 1) * sizeof(double));
    s->sinfo = xrealloc(s->sinfo, s->n * sizeof(char *));
    memset(&s->runs[slot], 0, sizeof(s->runs[slot]));
    s->runs[slot].failed_on = xcalloc((size_t)s->cfg.max_run_fail, sizeof(int));
    s->sinfo[slot] = NULL;
    s->values = s->svalues;
    s->info = (const char *const *)s->sinfo;
    return slot;
}

size_t sched_stream_submit(struct sched *s, const double *values, const char *info)
{
    size_t slot = take_slot(s);
    struct brun *r = &s->runs[slot];
    int *failed_on = r->failed_on;

    free(r->last_reason);
    memset(r, 0, sizeof(*r));
    r->failed_on = failed_on;
    memcpy(s->svalues + slot * s->npar, values, s->npar * sizeof(double));
    s->sinfo[slot] = info ? xstrdup(info) : NULL;
    s->stream_submitted++;
    queue_push(s, slot, 0);
    return slot;
}

void sched_stream_cancel(struct sched *s, size_t id)
{
    if (!s->streaming || id >= s->n || run_ended(s->runs[id].state)) return;
    cancel_other_copies(s, id, -1);
    s->stream_cancelled++;
    free_slot(s, id);
}

size_t sched_stream_outstanding(const struct sched *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        k += !run_ended(s->runs[i].state);
    return k + s->npending - s->handed;
}

/* Hand out the next finished run; the previous one's slot becomes free. */
static int take_pending(struct sched *s, struct sched_stream_event *ev)
{
    if (s->handed > 0) {
        free_result(&s->pending[s->handed - 1]);
        free_slot(s, s->pending_index[s->handed - 1]);
    }
    if (s->handed == s->npending) {
        s->npending = s->handed = 0;
        return 0;
    }
    ev->type = SCHED_STREAM_RESULT;
    ev->id = s->pending_index[s->handed];
    ev->result = s->pending[s->handed];
    s->handed++;
    return 1;
}

/* After the combined fd woke the transport's poll: which of the two is readable. */
static int ready_fds(const struct sched *s, int *extra_ready, int *watch_ready)
{
    struct pollfd p[2] = {{.fd = s->cfg.extra_fd, .events = POLLIN},
                          {.fd = s->sopts.watch_fd, .events = POLLIN}};
    if (poll(p, 2, 0) < 0) return -1;
    *extra_ready = p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR));
    *watch_ready = p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR));
    return 0;
}

int sched_stream_poll(struct sched *s, int timeout_ms, struct sched_stream_event *ev,
                      struct pr_error *err)
{
    double deadline = timeout_ms < 0 ? -1 : now(s) + timeout_ms / 1000.0;

    memset(ev, 0, sizeof(*ev));
    for (;;) {
        if (take_pending(s, ev)) return 1;
        if (stop_requested(s)) {
            ev->type = SCHED_STREAM_STOP;
            return 1;
        }
        dispatch(s, err);
        double wait = s->cfg.progress_interval_s;
        if (s->sopts.overdue) {
            double next = check_overdue(s, err);
            if (next < 0) return -1;
            dispatch(s, err);
            if (next < wait) wait = next;
            if (s->npending) continue; /* a run was given up on */
        }
        if (deadline >= 0 && deadline - now(s) < wait) wait = deadline - now(s);
        if (wait > 60.0) wait = 60.0;
        int t = wait <= 0 ? 0 : (int)(wait * 1000.0) + 1;
        struct tr_event tev;
        int got = s->tr.ops->poll(s->tr.impl, &tev, t, s->stream_fd, err);
        if (got < 0) return -1;
        if (got > 0 && tev.type == TR_EV_EXTRA_FD) {
            int extra = 0, watch = 0;
            if (s->stream_epoll < 0) {
                extra = s->stream_fd == s->cfg.extra_fd;
                watch = !extra;
            } else if (ready_fds(s, &extra, &watch) < 0) {
                return pr_error_set(err, "poll: %s", strerror(errno));
            }
            if (extra && s->cfg.on_extra_fd && s->cfg.on_extra_fd(s->cfg.ctx)) {
                ev->type = SCHED_STREAM_STOP;
                return 1;
            }
            if (watch) {
                ev->type = SCHED_STREAM_FD;
                return 1;
            }
        } else if (got > 0) {
            if (handle_event(s, &tev, err) < 0) return -1;
            if (!stop_requested(s)) dispatch(s, err); /* before progress() samples, as in a batch */
            size_t alive = workers_in(s, W_IDLE) + workers_in(s, W_BUSY);
            if (alive != s->stream_workers && !s->npending) {
                s->stream_workers = alive;
                ev->type = SCHED_STREAM_WORKERS;
                ev->workers = alive;
                return 1;
            }
        }
        progress(s, 0);
        if (deadline >= 0 && now(s) >= deadline && s->npending == 0) return 0;
    }
}

void sched_stream_end(struct sched *s)
{
    if (!s->streaming) return;
    if (s->handed > 0) free_result(&s->pending[s->handed - 1]);
    s->handed = 0;
    stop_batch(s);
    for (size_t i = 0; i < s->npending; i++)
        free_result(&s->pending[i]);
    s->npending = 0;
    for (size_t i = 0; i < s->n; i++)
        free(s->sinfo[i]);
    free_batch(s); /* frees runs and their failed_on, with s->n slots */
    s->n = 0;
    free(s->svalues);
    free(s->sinfo);
    free(s->free_slots);
    s->svalues = NULL;
    s->sinfo = NULL;
    s->free_slots = NULL;
    s->nfree = s->capfree = 0;
    s->values = NULL;
    s->info = NULL;
    if (s->stream_epoll >= 0) close(s->stream_epoll);
    s->stream_epoll = -1;
    s->cfg.max_run_fail = s->saved_max_run_fail;
    s->streaming = 0;
}
