/* The scheduler (src/sched/sched.c) against its promises (sched.h, ARCHITECTURE.md, SPEC.md §5.7),
 * through the in-memory loop transport: simulated workers answer, fail, vanish and hang under a
 * fake clock, with no process and no sleep.
 *
 * The scheduler talks to a thin wrapper around the loop transport that checks every submit
 * (the worker has no other copy going, the request carries the batch's values) and every cancel
 * (it names the copy the worker is running), and notes the fake time of each. */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "sched/journal.h"
#include "sched/loop.h"
#include "sched/sched.h"

#define MAXW 256
#define NO_TIME (-1.0)

/* ------------------------------------------------------------------------------------------ */
/* journal syncs: the durability point is journal_sync -> fdatasync(2) (journal.h). The test    */
/* interposes fdatasync and fsync and notes how many records the journal under test held at    */
/* its latest sync, so a report can be checked to come after the sync of its record.            */

static struct journal *g_journal;
static size_t g_synced_records, g_syncs;

static void note_sync(void)
{
    g_syncs++;
    if (g_journal) g_synced_records = journal_count(g_journal);
}

int fdatasync(int fd)
{
    note_sync();
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
    note_sync();
    return (int)syscall(SYS_fsync, fd);
}

/* ------------------------------------------------------------------------------------------ */
/* the simulation                                                                             */

struct report {
    int count; /* times done() was called for this index */
    int from_journal;
    enum run_status status;
    struct run_key key;
    double seconds;
    double *obs, *proc; /* NULL when the result had none */
    char reason[256];
    size_t order;   /* rank among the batch's reports */
    size_t nsub;    /* submits made when it was reported */
    int synced;     /* with a journal: its record had been synced when reported */
    int in_journal; /* with a journal: journal_lookup found these observations */
};

struct sim {
    struct loop *l;
    struct transport inner;
    size_t npar, nobs;
    double t, tick; /* the fake clock; advanced by tick when an idle call pushes nothing */
    volatile sig_atomic_t stop;
    size_t idle_calls, idle_limit;
    int hung;
    size_t pushed, first_open;
    void (*step)(struct sim *s); /* the test's workers */
    double run_s;                /* default run time */
    size_t mode, count, count2;  /* test state */
    uint64_t rng;

    /* the wrapper's checks and log */
    int busy[MAXW];
    struct run_key busy_key[MAXW];
    size_t double_busy, bad_cancel, bad_request, submit_calls, submits_failed;
    double *sub_t, *cancel_t; /* per loop submit index */
    size_t capt;

    /* the current batch */
    uint64_t batch;
    size_t n;
    const double *values;
    const char *const *info;
    struct report *rep;
    size_t nreported, double_reports, bad_index;
    size_t *reported; /* index reported k-th */
    struct journal *j;
    size_t first_sub; /* loop submit index of the batch's first submit */

    /* progress */
    struct sched_stats_view prog[512];
    double prog_t[512];
    size_t nprog;

    /* extra fd */
    int pipefd[2];
    int extra_calls;
};

static uint64_t rnd(struct sim *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static double sim_now(void *ctx)
{
    return ((struct sim *)ctx)->t;
}

/* The i-th submit; a blank one (worker -1) past the end, so that a failed count check does
 * not crash the checks that follow it. */
static struct loop_submit *sub_at(struct sim *s, size_t i)
{
    static struct loop_submit blank;
    struct loop_submit *u = loop_submit_at(s->l, i);
    if (u) return u;
    memset(&blank, 0, sizeof(blank));
    blank.worker = -1;
    blank.key.run = UINT32_MAX;
    return &blank;
}

/* Fake times of the i-th submit and of its cancel (NO_TIME: none). */
static double sub_time(struct sim *s, size_t i)
{
    return i < s->capt ? s->sub_t[i] : NO_TIME;
}

static double cancel_time(struct sim *s, size_t i)
{
    return i < s->capt ? s->cancel_t[i] : NO_TIME;
}

static size_t nsub(struct sim *s)
{
    return loop_nsubmits(s->l);
}

static int is_open(const struct loop_submit *u)
{
    return !u->answered && !u->cancelled;
}

static void grow_times(struct sim *s, size_t need)
{
    if (need <= s->capt) return;
    size_t cap = s->capt ? s->capt * 2 : 256;
    while (cap < need)
        cap *= 2;
    s->sub_t = realloc(s->sub_t, cap * sizeof(double));
    s->cancel_t = realloc(s->cancel_t, cap * sizeof(double));
    for (size_t i = s->capt; i < cap; i++)
        s->sub_t[i] = s->cancel_t[i] = NO_TIME;
    s->capt = cap;
}

static int w_submit(void *impl, int worker, const struct run_request *run, struct pr_error *err)
{
    struct sim *s = impl;
    s->submit_calls++;
    if (worker < 0 || worker >= MAXW) {
        s->bad_request++;
        return pr_error_set(err, "no worker %d", worker);
    }
    if (s->busy[worker]) s->double_busy++;
    if (run->key.batch != s->batch || run->key.run >= s->n || run->npar != s->npar ||
        memcmp(run->values, s->values + run->key.run * s->npar, s->npar * sizeof(double)) != 0)
        s->bad_request++;
    else if (s->info && (!run->info || strcmp(run->info, s->info[run->key.run]) != 0))
        s->bad_request++;
    int rc = s->inner.ops->submit(s->inner.impl, worker, run, err);
    if (rc < 0) {
        s->submits_failed++;
        return rc;
    }
    s->busy[worker] = 1;
    s->busy_key[worker] = run->key;
    grow_times(s, nsub(s));
    s->sub_t[nsub(s) - 1] = s->t;
    return 0;
}

static void w_cancel(void *impl, int worker, const struct run_key *key)
{
    struct sim *s = impl;
    if (worker < 0 || worker >= MAXW || !s->busy[worker] || !run_key_eq(&s->busy_key[worker], key))
        s->bad_cancel++;
    s->inner.ops->cancel(s->inner.impl, worker, key);
    for (size_t i = nsub(s); i-- > 0;)
        if (sub_at(s, i)->worker == worker && run_key_eq(&sub_at(s, i)->key, key)) {
            if (s->cancel_t[i] == NO_TIME) s->cancel_t[i] = s->t;
            break;
        }
}

static int w_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                  struct pr_error *err)
{
    struct sim *s = impl;
    int rc = s->inner.ops->poll(s->inner.impl, ev, timeout_ms, extra_fd, err);
    if (rc == 1 && ev->worker >= 0 && ev->worker < MAXW) {
        if (ev->type == TR_EV_RESULT && s->busy[ev->worker] &&
            run_key_eq(&s->busy_key[ev->worker], &ev->key))
            s->busy[ev->worker] = 0;
        else if (ev->type == TR_EV_WORKER_LOST)
            s->busy[ev->worker] = 0;
    }
    return rc;
}

static void w_destroy(void *impl)
{
    (void)impl;
}

static const struct tr_ops wrap_ops = {"wrap", w_submit, w_cancel, w_poll, w_destroy};

/* pushing events, as the simulated workers */

static void answer_obs(struct sim *s, size_t i, const double *obs, double seconds)
{
    struct loop_submit *u = sub_at(s, i);
    loop_push_result(s->l, u->worker, u->key, RUN_OK, obs, seconds, NULL);
    u->answered = 1;
    s->pushed++;
}

static void answer_ok(struct sim *s, size_t i)
{
    answer_obs(s, i, NULL, s->run_s);
}

static void answer_fail(struct sim *s, size_t i, const char *reason)
{
    struct loop_submit *u = sub_at(s, i);
    loop_push_result(s->l, u->worker, u->key, RUN_FAILED, NULL, s->run_s, reason);
    u->answered = 1;
    s->pushed++;
}

/* The worker vanishes: its open copies are never answered. */
static void lose(struct sim *s, int worker)
{
    for (size_t i = s->first_open; i < nsub(s); i++)
        if (sub_at(s, i)->worker == worker) sub_at(s, i)->answered = 1;
    loop_push_lost(s->l, worker);
    s->pushed++;
}

static void up(struct sim *s, int worker)
{
    loop_push_up(s->l, worker);
    s->pushed++;
}

static void sim_idle(void *ctx, struct loop *l)
{
    struct sim *s = ctx;
    size_t before = s->pushed;
    s->idle_calls++;
    if (s->idle_calls > s->idle_limit && !s->hung) { /* a stuck scheduler: fail, don't hang */
        s->hung = 1;
        s->stop = 1;
    }
    if (s->idle_calls > s->idle_limit + 20000) { /* and one that does not even stop */
        printf("FAIL %s:%d: the scheduler ignores the stop flag: giving up\n", __FILE__, __LINE__);
        check_failed++;
        exit(check_done());
    }
    if (s->step && !s->hung) s->step(s);
    /* workers confirm every cancel they got (unless the step answered otherwise) */
    for (size_t i = s->first_open; i < loop_nsubmits(l); i++) {
        struct loop_submit *u = loop_submit_at(l, i);
        if (u->cancelled && !u->answered) {
            loop_push_result(l, u->worker, u->key, RUN_CANCELLED, NULL, 0, "cancelled");
            u->answered = 1;
            s->pushed++;
        }
    }
    while (s->first_open < loop_nsubmits(l) && loop_submit_at(l, s->first_open)->answered)
        s->first_open++;
    if (s->pushed == before) s->t += s->tick;
}

/* Every open copy answered ok (the loop's model) at once. */
static void step_all_ok(struct sim *s)
{
    for (size_t i = s->first_open; i < nsub(s); i++)
        if (is_open(sub_at(s, i))) answer_ok(s, i);
}

/* Open copies answered ok once they have run for run_s of fake time. */
static void step_due(struct sim *s)
{
    for (size_t i = s->first_open; i < nsub(s); i++)
        if (is_open(sub_at(s, i)) && s->t >= s->sub_t[i] + s->run_s) answer_ok(s, i);
}

static void sim_init(struct sim *s, size_t npar, size_t nobs)
{
    memset(s, 0, sizeof(*s));
    s->npar = npar;
    s->nobs = nobs;
    s->l = loop_create(npar, nobs);
    s->inner = loop_transport(s->l);
    loop_set_idle(s->l, sim_idle, s);
    s->t = 1000.0;
    s->tick = 0.01;
    s->idle_limit = 200000;
    s->run_s = 1.0;
    s->rng = 0x9e3779b97f4a7c15ull;
    s->pipefd[0] = s->pipefd[1] = -1;
}

static struct transport sim_transport(struct sim *s)
{
    struct transport t = {&wrap_ops, s};
    return t;
}

static void free_reports(struct sim *s)
{
    for (size_t i = 0; s->rep && i < s->n; i++) {
        free(s->rep[i].obs);
        free(s->rep[i].proc);
    }
    free(s->rep);
    free(s->reported);
    s->rep = NULL;
    s->reported = NULL;
}

static void sim_free(struct sim *s)
{
    free_reports(s);
    loop_destroy(s->l);
    free(s->sub_t);
    free(s->cancel_t);
    if (s->pipefd[0] >= 0) close(s->pipefd[0]);
    if (s->pipefd[1] >= 0) close(s->pipefd[1]);
}

static void ups(struct sim *s, int from, int count)
{
    for (int w = from; w < from + count; w++)
        loop_push_up(s->l, w);
}

static struct sched_config base_cfg(struct sim *s)
{
    struct sched_config c;
    memset(&c, 0, sizeof(c));
    c.max_run_fail = 3;
    c.overdue_resched_fac = 1.15;
    c.overdue_giveup_fac = 100;
    c.overdue_giveup_minutes = 1e30;
    c.overdue_min_mean_s = 0.6;
    c.stop_flag = &s->stop;
    c.extra_fd = -1;
    c.progress_interval_s = 1.0;
    c.ctx = s;
    c.now = sim_now;
    return c;
}

static double *make_values(size_t n, size_t npar, double base)
{
    double *v = malloc((n * npar + 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < npar; k++)
            v[i * npar + k] = base + 0.5 * (double)i + 0.001 * k;
    return v;
}

static void on_done(void *ctx, size_t index, const struct run_result *res, int from_journal)
{
    struct sim *s = ctx;
    if (index >= s->n) {
        s->bad_index++;
        return;
    }
    struct report *r = &s->rep[index];
    if (r->count++) {
        s->double_reports++;
        return;
    }
    r->from_journal = from_journal;
    r->status = res->status;
    r->key = res->key;
    r->seconds = res->seconds;
    if (res->obs) {
        r->obs = malloc((s->nobs + 1) * sizeof(double));
        memcpy(r->obs, res->obs, s->nobs * sizeof(double));
    }
    if (res->processed) {
        r->proc = malloc((s->npar + 1) * sizeof(double));
        memcpy(r->proc, res->processed, s->npar * sizeof(double));
    }
    snprintf(r->reason, sizeof(r->reason), "%s", res->reason ? res->reason : "");
    r->order = s->nreported;
    r->nsub = nsub(s);
    s->reported[s->nreported++] = index;
    if (s->j && !from_journal) {
        r->synced = g_synced_records == journal_count(s->j) && g_synced_records > 0;
        if (res->status == RUN_OK) {
            double *o = malloc((s->nobs + 1) * sizeof(double));
            r->in_journal =
                journal_lookup(s->j, s->values + index * s->npar, NULL, o, NULL, NULL) == 1 &&
                memcmp(o, res->obs, s->nobs * sizeof(double)) == 0;
            free(o);
        }
    }
}

static int sim_run(struct sim *s, struct sched *sc, size_t n, const double *values)
{
    struct pr_error err;
    err.msg[0] = 0;
    free_reports(s);
    s->batch++;
    s->n = n;
    s->values = values;
    s->rep = calloc(n + 1, sizeof(*s->rep));
    s->reported = calloc(n + 1, sizeof(size_t));
    s->nreported = s->double_reports = s->bad_index = 0;
    s->first_sub = nsub(s);
    int rc = sched_run_batch(sc, n, values, s->info, on_done, s, &err);
    if (rc < 0) printf("sched_run_batch: %s\n", err.msg);
    return rc;
}

/* Runs of the current batch reported ok, once, not from the journal, with the loop model's
 * observations and the requested values as processed values. Returns the count of others. */
static size_t bad_ok_reports(struct sim *s, size_t from, size_t to)
{
    size_t bad = 0;
    double *want = malloc((s->nobs + 1) * sizeof(double));
    for (size_t i = from; i < to; i++) {
        const struct report *r = &s->rep[i];
        loop_model(s->values + i * s->npar, s->npar, want, s->nobs);
        if (r->count != 1 || r->status != RUN_OK || r->from_journal || !r->obs || !r->proc ||
            r->key.run != i || r->key.batch != s->batch ||
            memcmp(r->obs, want, s->nobs * sizeof(double)) != 0 ||
            memcmp(r->proc, s->values + i * s->npar, s->npar * sizeof(double)) != 0) {
            if (bad < 3) printf("  run %zu: count %d status %d\n", i, r->count, (int)r->status);
            bad++;
        }
    }
    free(want);
    return bad;
}

/* Submits of run `run` of the current batch, in order: their loop indexes (up to max). */
static size_t submits_of(struct sim *s, size_t run, size_t *idx, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < max; i++)
        idx[i] = SIZE_MAX;
    for (size_t i = s->first_sub; i < nsub(s); i++) {
        const struct loop_submit *u = sub_at(s, i);
        if (u->key.batch == s->batch && u->key.run == run) {
            if (k < max) idx[k] = i;
            k++;
        }
    }
    return k;
}

static size_t batch_submits(struct sim *s)
{
    return nsub(s) - s->first_sub;
}

static void check_clean(struct sim *s, const char *what)
{
    CHECK_MSG(s->double_busy == 0, "%s: %zu submits to a busy worker", what, s->double_busy);
    CHECK_MSG(s->bad_cancel == 0, "%s: %zu cancels of no running copy", what, s->bad_cancel);
    CHECK_MSG(s->bad_request == 0, "%s: %zu bad requests", what, s->bad_request);
    CHECK_MSG(s->double_reports == 0, "%s: %zu double reports", what, s->double_reports);
    CHECK_MSG(s->bad_index == 0, "%s: %zu reports of no index", what, s->bad_index);
    CHECK_MSG(!s->hung, "%s: the scheduler did not finish (idle limit)", what);
}

static struct sched_stats_view stats(struct sched *sc)
{
    struct sched_stats_view v;
    sched_stats(sc, &v);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* 1. many workers                                                                            */

/* A third of the polls time out; otherwise each open copy is answered with probability 1/2, so
 * results come back in a shuffled order. */
static void step_random(struct sim *s)
{
    if (s->idle_calls % 3 == 0) return;
    for (size_t i = s->first_open; i < nsub(s); i++)
        if (is_open(sub_at(s, i)) && rnd(s) % 2) answer_ok(s, i);
}

static void test_many_workers(void)
{
    enum { N = 1000, W = 64 };
    struct sim s;
    sim_init(&s, 3, 4);
    s.tick = 0.001; /* far from the 1.15 s overdue mark of 1 s runs */
    s.step = step_random;
    char **info = malloc(N * sizeof(char *));
    for (size_t i = 0; i < N; i++) {
        info[i] = malloc(32);
        snprintf(info[i], 32, "run_%zu", i);
    }
    s.info = (const char *const *)info;
    double *v = make_values(N, 3, 1.0);
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 3, 4);
    ups(&s, 0, W);

    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "many workers");
    CHECK(s.nreported == N);
    CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "many workers: bad reports");
    CHECK(nsub(&s) == N);
    CHECK(loop_ncancels(s.l) == 0);
    size_t attempts = 0, workers_used = 0;
    int used[W] = {0};
    for (size_t i = 0; i < N; i++)
        attempts += s.rep[i].key.attempt;
    for (size_t i = 0; i < nsub(&s); i++)
        if (sub_at(&s, i)->worker >= 0 && sub_at(&s, i)->worker < W) used[sub_at(&s, i)->worker]++;
    for (int w = 0; w < W; w++)
        workers_used += used[w] > 0;
    CHECK(attempts == 0);
    CHECK(workers_used == W);
    /* reported in completion order, and as they finished, not all at the end */
    size_t in_order = 0;
    for (size_t k = 0; k < N; k++)
        in_order += s.reported[k] == k;
    CHECK(in_order < N);
    CHECK(s.rep[s.reported[0]].nsub < N);

    struct sched_stats_view st = stats(sc);
    CHECK(st.batch_total == N && st.batch_done == N && st.batch_failed == 0);
    CHECK(st.batch_running == 0);
    CHECK(st.runs_done == N && st.runs_failed == 0 && st.from_journal == 0);
    CHECK(st.attempts_failed == 0 && st.workers_lost == 0 && st.results_dropped == 0);
    CHECK(st.copies_started == N && st.copies_cancelled == 0);
    CHECK(st.workers_alive == W && st.workers_busy == 0);
    CHECK_NEAR(st.mean_run_s, 1.0, 1e-12);
    CHECK_NEAR(st.max_run_s, 1.0, 1e-12);
    CHECK_NEAR(st.busy_s, (double)N, 1e-9);
    CHECK_NEAR(st.eta_s, 0, 0);
    CHECK(sched_failure_count(sc) == 0);

    /* an empty batch ends at once */
    CHECK(sim_run(&s, sc, 0, v) == 0);
    CHECK(nsub(&s) == N && s.nreported == 0);
    CHECK(stats(sc).batch_total == 0 && stats(sc).runs_done == N);

    sched_destroy(sc);
    for (size_t i = 0; i < N; i++)
        free(info[i]);
    free(info);
    free(v);
    sim_free(&s);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. workers that vanish                                                                     */

static void step_lose_some(struct sim *s)
{
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (!is_open(u)) continue;
        if (u->key.run % 25 == 3 && u->key.attempt == 0)
            lose(s, u->worker);
        else
            answer_ok(s, i);
    }
}

static void test_lost_workers(void)
{
    enum { N = 100, W = 8 };
    struct sim s;
    sim_init(&s, 2, 3);
    s.step = step_lose_some;
    double *v = make_values(N, 2, 3.0);
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 3);
    ups(&s, 0, W);

    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "lost workers");
    CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "lost workers: bad reports");
    struct sched_stats_view st = stats(sc);
    CHECK(st.attempts_failed == 0 && st.runs_failed == 0 && st.batch_failed == 0);
    CHECK(st.workers_lost == 4 && st.workers_alive == W - 4);
    CHECK(st.copies_started == N + 4 && nsub(&s) == N + 4);
    for (size_t run = 3; run < N; run += 25) {
        size_t idx[4];
        CHECK(submits_of(&s, run, idx, 4) == 2);
        const struct loop_submit *a = sub_at(&s, idx[0]), *b = sub_at(&s, idx[1]);
        CHECK(a->key.attempt == 0 && b->key.attempt == 1);
        CHECK(a->worker != b->worker);
        CHECK(s.rep[run].key.attempt == 1);
        /* nothing more went to the lost worker */
        for (size_t i = idx[0] + 1; i < nsub(&s); i++)
            CHECK(sub_at(&s, i)->worker != a->worker);
    }
    sched_destroy(sc);
    free(v);
    sim_free(&s);
}

/* Every worker vanishes at once; nothing happens for a while; new workers come up. */
static void step_all_vanish(struct sim *s)
{
    if (s->mode == 0 && nsub(s) == 4) {
        for (int w = 0; w < 4; w++)
            lose(s, w);
        lose(s, 99); /* never came up: not counted */
        s->mode = 1;
        return;
    }
    if (s->mode == 1) { /* no worker at all: the scheduler waits */
        if (++s->count < 20) return;
        for (int w = 10; w < 14; w++)
            up(s, w);
        s->mode = 2;
        return;
    }
    step_all_ok(s);
}

static void test_all_vanish(void)
{
    enum { N = 20 };
    struct sim s;
    sim_init(&s, 2, 3);
    s.step = step_all_vanish;
    double *v = make_values(N, 2, -4.0);
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 3);
    ups(&s, 0, 4);

    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "all vanish");
    CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "all vanish: bad reports");
    CHECK(s.mode == 2);
    struct sched_stats_view st = stats(sc);
    CHECK(st.attempts_failed == 0 && st.runs_failed == 0);
    CHECK(st.workers_lost == 4 && st.workers_alive == 4);
    CHECK(nsub(&s) == N + 4);
    size_t on_old = 0;
    for (size_t i = 0; i < nsub(&s); i++)
        on_old += sub_at(&s, i)->worker < 4;
    CHECK(on_old == 4);
    /* the lost runs went to the front of the queue (each in front of the one lost before it):
     * the new workers took them first */
    for (size_t i = 4; i < 8; i++)
        CHECK(sub_at(&s, i)->key.run == 7 - i && sub_at(&s, i)->key.attempt == 1);
    for (size_t run = 0; run < 4; run++) {
        size_t idx[4];
        CHECK(submits_of(&s, run, idx, 4) == 2);
        CHECK(sub_at(&s, idx[0])->worker < 4 && sub_at(&s, idx[1])->worker >= 10);
        CHECK(s.rep[run].key.attempt == 1);
    }
    sched_destroy(sc);
    free(v);
    sim_free(&s);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. model failures and retries                                                              */

/* run 5 fails once; run 7 always fails ("model exit <attempt>"); runs 8 and 9 always fail with
 * "disk full". mode 1: only run 7 fails. */
static void step_failures(struct sim *s)
{
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (!is_open(u)) continue;
        char why[64];
        snprintf(why, sizeof(why), "model exit %u", u->key.attempt);
        if (s->mode == 0 && u->key.run == 5 && u->key.attempt == 0)
            answer_fail(s, i, "exit code 1");
        else if (u->key.run == 7)
            answer_fail(s, i, why);
        else if (s->mode == 0 && (u->key.run == 8 || u->key.run == 9))
            answer_fail(s, i, "disk full");
        else
            answer_ok(s, i);
    }
}

static void test_failures(void)
{
    enum { N = 12 };
    double *v = make_values(N, 2, 0.25);
    struct sim s;
    sim_init(&s, 2, 2);
    s.step = step_failures;
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, 4);

    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "failures");
    CHECK(s.nreported == N);
    CHECK_MSG(bad_ok_reports(&s, 0, 5) + bad_ok_reports(&s, 6, 7) + bad_ok_reports(&s, 10, N) == 0,
              "failures: bad reports");
    size_t idx[8];
    /* failed once, then done on another worker */
    CHECK(submits_of(&s, 5, idx, 8) == 2);
    CHECK(sub_at(&s, idx[0])->worker != sub_at(&s, idx[1])->worker);
    CHECK(s.rep[5].status == RUN_OK && s.rep[5].key.attempt == 1);
    CHECK_MSG(bad_ok_reports(&s, 5, 6) == 0, "run 5");
    /* failed for good after max_run_fail attempts, each on another worker, last reason kept */
    CHECK(submits_of(&s, 7, idx, 8) == 3);
    CHECK(sub_at(&s, idx[0])->worker != sub_at(&s, idx[1])->worker);
    CHECK(sub_at(&s, idx[1])->worker != sub_at(&s, idx[2])->worker);
    CHECK(sub_at(&s, idx[0])->worker != sub_at(&s, idx[2])->worker);
    CHECK(s.rep[7].count == 1 && s.rep[7].status == RUN_FAILED && !s.rep[7].obs);
    CHECK_STR(s.rep[7].reason, "model exit 2");
    CHECK(submits_of(&s, 8, idx, 8) == 3 && submits_of(&s, 9, idx, 8) == 3);
    CHECK(s.rep[8].status == RUN_FAILED && s.rep[9].status == RUN_FAILED);
    CHECK_STR(s.rep[9].reason, "disk full");
    struct sched_stats_view st = stats(sc);
    CHECK(st.attempts_failed == 1 + 3 + 3 + 3);
    CHECK(st.runs_failed == 3 && st.batch_failed == 3 && st.batch_done == N - 3);
    CHECK(st.runs_done == N - 3 && st.workers_lost == 0);
    CHECK(sched_failure_count(sc) == 2);
    size_t runs = 0, exit2 = 0, disk = 0;
    for (size_t k = 0; k < sched_failure_count(sc); k++) {
        const char *r = sched_failure_reason(sc, k, &runs);
        if (r && strcmp(r, "model exit 2") == 0) exit2 = runs;
        if (r && strcmp(r, "disk full") == 0) disk = runs;
    }
    CHECK(exit2 == 1 && disk == 2);
    CHECK(sched_failure_reason(sc, 2, &runs) == NULL);
    sched_destroy(sc);
    sim_free(&s);

    /* max_run_fail = 1: a single attempt */
    sim_init(&s, 2, 2);
    s.step = step_failures;
    s.mode = 1;
    cfg = base_cfg(&s);
    cfg.max_run_fail = 1;
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, 4);
    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "max_run_fail 1");
    CHECK(submits_of(&s, 7, idx, 8) == 1);
    CHECK(s.rep[7].status == RUN_FAILED);
    CHECK_STR(s.rep[7].reason, "model exit 0");
    CHECK(stats(sc).attempts_failed == 1 && stats(sc).runs_failed == 1);
    CHECK(nsub(&s) == N);
    CHECK_MSG(bad_ok_reports(&s, 0, 7) + bad_ok_reports(&s, 8, N) == 0, "max_run_fail 1");
    sched_destroy(sc);
    sim_free(&s);

    /* one worker: the retry goes to the same worker */
    sim_init(&s, 2, 2);
    s.step = step_failures;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, 1);
    CHECK(sim_run(&s, sc, 7, v) == 0); /* runs 0-6: run 5 fails once */
    check_clean(&s, "one worker");
    CHECK_MSG(bad_ok_reports(&s, 0, 7) == 0, "one worker");
    CHECK(submits_of(&s, 5, idx, 8) == 2);
    CHECK(sub_at(&s, idx[0])->worker == 0 && sub_at(&s, idx[1])->worker == 0);
    CHECK(idx[1] == idx[0] + 1); /* a failed run goes to the front of the queue */
    CHECK(stats(sc).attempts_failed == 1);
    sched_destroy(sc);
    sim_free(&s);
    free(v);
}

/* Two workers: run 0 fails on worker 0 while worker 1 runs run 1 for a while: the retry waits
 * for worker 1 rather than going back to worker 0 (SPEC.md §5.7 rule 1). */
static void step_wait_other(struct sim *s)
{
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (!is_open(u)) continue;
        if (u->key.run == 0 && u->key.attempt == 0)
            answer_fail(s, i, "exit code 2");
        else if (u->key.run == 1 && ++s->count < 30)
            continue;
        else
            answer_ok(s, i);
    }
}

static void test_retry_waits(void)
{
    double *v = make_values(2, 2, 7.0);
    struct sim s;
    sim_init(&s, 2, 2);
    s.step = step_wait_other;
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, 2);
    CHECK(sim_run(&s, sc, 2, v) == 0);
    check_clean(&s, "retry waits");
    CHECK_MSG(bad_ok_reports(&s, 0, 2) == 0, "retry waits");
    size_t idx[4];
    CHECK(nsub(&s) == 3);
    CHECK(submits_of(&s, 0, idx, 4) == 2);
    CHECK(sub_at(&s, idx[0])->worker == 0 && sub_at(&s, idx[1])->worker == 1);
    CHECK(s.count >= 30);
    sched_destroy(sc);
    sim_free(&s);
    free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. duplicate, late, out-of-order and stale results                                         */

static void step_twice(struct sim *s)
{
    double junk[3] = {-1, -1, -1};
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (!is_open(u)) continue;
        answer_ok(s, i);
        if (u->key.run % 4 == 1) { /* the same key again, with other observations */
            loop_push_result(s->l, u->worker, u->key, RUN_OK, junk, 1.0, NULL);
            s->pushed++;
        }
    }
}

static void step_late_after_loss(struct sim *s)
{
    double junk[3] = {-1, -1, -1};
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (!is_open(u)) continue;
        if (u->key.run == 0 && u->key.attempt == 0) {
            s->count = (size_t)u->worker;
            lose(s, u->worker);
            continue;
        }
        answer_ok(s, i);
        if (u->key.run == 0) { /* done elsewhere: now the lost worker's copy turns up */
            struct run_key k = {s->batch, 0, 0};
            loop_push_result(s->l, (int)s->count, k, RUN_OK, junk, 1.0, NULL);
            up(s, (int)s->count);
        }
    }
}

static void step_reverse(struct sim *s)
{
    for (size_t i = nsub(s); i-- > s->first_open;)
        if (is_open(sub_at(s, i))) answer_ok(s, i);
}

/* In the second batch, results keyed with the first batch's id turn up first. */
static void step_stale(struct sim *s)
{
    double junk[3] = {999, 999, 999};
    if (s->batch == 2 && s->mode == 0) {
        struct run_key k0 = {1, 0, 0}, k3 = {1, 3, 0}, far = {1, 50, 0}, never = {2, 1, 7};
        loop_push_result(s->l, 0, k0, RUN_OK, junk, 1.0, NULL); /* worker 0 runs {2,0,0} */
        loop_push_result(s->l, 1, k3, RUN_FAILED, NULL, 1.0, "old failure");
        loop_push_result(s->l, 0, far, RUN_OK, junk, 1.0, NULL);
        loop_push_result(s->l, 1, never, RUN_OK, junk, 1.0, NULL);
        loop_push_result(s->l, -1, never, RUN_OK, junk, 1.0, NULL); /* no such workers */
        loop_push_result(s->l, 77, never, RUN_OK, junk, 1.0, NULL);
        s->pushed += 6;
        s->mode = 1;
        return;
    }
    step_all_ok(s);
}

static void test_drops(void)
{
    double *v = make_values(40, 2, 2.0), *v2 = make_values(4, 2, 50.0);
    struct sim s;
    struct sched_config cfg;
    struct sched *sc;

    /* the same result twice */
    sim_init(&s, 2, 3);
    s.step = step_twice;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 3);
    ups(&s, 0, 4);
    CHECK(sim_run(&s, sc, 12, v) == 0);
    check_clean(&s, "twice");
    CHECK(s.nreported == 12);
    CHECK_MSG(bad_ok_reports(&s, 0, 12) == 0, "twice: bad reports");
    CHECK(stats(sc).results_dropped == 3);
    CHECK(stats(sc).copies_started == 12 && stats(sc).attempts_failed == 0);
    sched_destroy(sc);
    sim_free(&s);

    /* a lost worker's result arriving after its run was done elsewhere */
    sim_init(&s, 2, 3);
    s.step = step_late_after_loss;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 3);
    ups(&s, 0, 2);
    CHECK(sim_run(&s, sc, 4, v) == 0);
    check_clean(&s, "late");
    CHECK(s.nreported == 4);
    CHECK_MSG(bad_ok_reports(&s, 0, 4) == 0, "late: bad reports");
    CHECK(stats(sc).results_dropped == 1 && stats(sc).workers_lost == 1);
    CHECK(stats(sc).attempts_failed == 0 && stats(sc).workers_alive == 2);
    sched_destroy(sc);
    sim_free(&s);

    /* answers in reverse order */
    sim_init(&s, 2, 3);
    s.step = step_reverse;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 3);
    ups(&s, 0, 8);
    CHECK(sim_run(&s, sc, 40, v) == 0);
    check_clean(&s, "reverse");
    CHECK(s.nreported == 40);
    CHECK_MSG(bad_ok_reports(&s, 0, 40) == 0, "reverse: bad reports");
    for (size_t k = 0; k < 8; k++)
        CHECK(s.reported[k] == 7 - k);
    CHECK(stats(sc).results_dropped == 0);
    sched_destroy(sc);
    sim_free(&s);

    /* results of an old batch */
    sim_init(&s, 2, 3);
    s.step = step_stale;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 3);
    ups(&s, 0, 2);
    CHECK(sim_run(&s, sc, 4, v) == 0);
    CHECK(sub_at(&s, 0)->key.batch == 1);
    CHECK_MSG(bad_ok_reports(&s, 0, 4) == 0, "stale: batch 1");
    CHECK(sim_run(&s, sc, 4, v2) == 0);
    check_clean(&s, "stale");
    CHECK(s.mode == 1);
    CHECK(sub_at(&s, s.first_sub)->key.batch == 2);
    CHECK(s.nreported == 4);
    CHECK_MSG(bad_ok_reports(&s, 0, 4) == 0, "stale: batch 2");
    CHECK(stats(sc).results_dropped == 6);
    CHECK(stats(sc).attempts_failed == 0 && stats(sc).runs_failed == 0);
    CHECK(stats(sc).workers_alive == 2 && stats(sc).workers_lost == 0);
    CHECK(stats(sc).runs_done == 8 && batch_submits(&s) == 4);
    sched_destroy(sc);
    sim_free(&s);
    free(v);
    free(v2);
}

/* ------------------------------------------------------------------------------------------ */
/* 5. overdue runs                                                                            */

/* The simulated workers of the overdue tests, by mode. */
static void step_overdue(struct sim *s)
{
    double obs42[2] = {42, 42}, obs7[2] = {7, 7};
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (u->answered) continue;
        double age = s->t - s->sub_t[i];
        switch (s->mode) {
        case 0: /* every copy takes run_s */
            if (!u->cancelled && age >= s->run_s) answer_ok(s, i);
            break;
        case 1: /* the first copy hangs; a duplicate answers after 0.5 s */
            if (u->key.attempt > 0 && !u->cancelled && age >= 0.5) answer_obs(s, i, obs42, 0.5);
            break;
        case 2: /* the first copy answers once count2 copies were started */
            if (u->key.attempt == 0 && !u->cancelled && batch_submits(s) >= s->count2)
                answer_ok(s, i);
            break;
        case 3: /* the first copy hangs; later ones take 1 s */
            if (u->key.attempt > 0 && !u->cancelled && age >= 1.0) answer_ok(s, i);
            break;
        case 4: /* hangs for ever */
            break;
        case 5: /* takes 50 s */
            if (!u->cancelled && age >= 50.0) answer_ok(s, i);
            break;
        case 7: /* first copies hang, and answer a late ok when cancelled; later ones take 0.5 s */
            if (u->key.attempt == 0 && u->cancelled) {
                answer_obs(s, i, obs7, 9.0);
                s->count++;
            } else if (u->key.attempt > 0 && !u->cancelled && age >= 0.5) {
                answer_obs(s, i, obs42, 0.5);
            }
            break;
        case 8: /* run 0 fails at once, then takes 1 s; run 1 hangs, its copies take 0.5 s; run 2
                 * takes 2 s */
            if (u->cancelled) break;
            if (u->key.run == 0 && u->key.attempt == 0)
                answer_fail(s, i, "exit code 1");
            else if ((u->key.run == 0 && age >= 1.0) || (u->key.run == 2 && age >= 2.0) ||
                     (u->key.run == 1 && u->key.attempt > 0 && age >= 0.5))
                answer_ok(s, i);
            break;
        case 9: /* the model starts 1 s after the submit (the worker was busy), runs 1 s */
            if (age >= 1.0 && !s->count) {
                loop_push_started(s->l, u->worker, u->key);
                s->pushed++;
                s->count = 1;
            } else if (age >= 2.0) {
                answer_ok(s, i);
            }
            break;
        case 6: /* cancelled copies answer a late ok instead of confirming the cancel */
            if (u->cancelled) {
                answer_obs(s, i, obs7, 9.0);
                s->count++;
            } else if (age >= s->run_s) {
                answer_ok(s, i);
            }
            break;
        }
    }
}

/* backup_copies for the cases overdue_setup makes (test_backup_copies sets it) */
static int g_backup;

struct overdue_case {
    struct sim s;
    struct sched *sc;
    struct sched_config cfg;
    double *warm, *v;
};

/* A scheduler whose mean run time is warm_s (a batch of 6 runs of warm_s each; none when 0). */
static void overdue_setup(struct overdue_case *c, int workers, double warm_s, int max_run_fail,
                          double resched_fac, double giveup_fac, double giveup_min)
{
    sim_init(&c->s, 2, 2);
    c->s.step = step_overdue;
    c->s.tick = 0.05;
    c->cfg = base_cfg(&c->s);
    c->cfg.max_run_fail = max_run_fail;
    c->cfg.overdue_resched_fac = resched_fac;
    c->cfg.overdue_giveup_fac = giveup_fac;
    c->cfg.overdue_giveup_minutes = giveup_min;
    c->cfg.backup_copies = g_backup;
    c->warm = make_values(6, 2, 10.0);
    c->v = make_values(1, 2, 20.0);
    c->sc = sched_create(sim_transport(&c->s), &c->cfg, NULL, 2, 2);
    ups(&c->s, 0, workers);
    if (warm_s > 0) {
        c->s.run_s = warm_s;
        c->s.mode = 0;
        CHECK(sim_run(&c->s, c->sc, 6, c->warm) == 0);
        CHECK_NEAR(stats(c->sc).mean_run_s, warm_s, 1e-12);
        /* with backup copies the last runs of the warm-up get backups too */
        CHECK(g_backup ? nsub(&c->s) >= 6 && nsub(&c->s) <= 9
                       : nsub(&c->s) == 6 && loop_ncancels(c->s.l) == 0);
        CHECK_MSG(bad_ok_reports(&c->s, 0, 6) == 0, "overdue warm-up");
    }
    c->s.run_s = 1.0;
}

static void overdue_free(struct overdue_case *c)
{
    sched_destroy(c->sc);
    sim_free(&c->s);
    free(c->warm);
    free(c->v);
}

static void test_overdue(void)
{
    struct overdue_case c;
    struct sched_stats_view st;
    size_t idx[8];
    double dt;

    /* past 1.15 x mean, with an idle worker and an empty queue: a second copy elsewhere; the
     * duplicate wins and the first copy is cancelled */
    overdue_setup(&c, 3, 1.0, 2, 1.15, 100, 1e30);
    c.s.mode = 1;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "overdue dup");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2); /* max_run_fail 2: at most 2 copies */
    const struct loop_submit *a = sub_at(&c.s, idx[0]), *b = sub_at(&c.s, idx[1]);
    CHECK(a->worker != b->worker && a->key.attempt == 0 && b->key.attempt == 1);
    dt = sub_time(&c.s, idx[1]) - sub_time(&c.s, idx[0]);
    CHECK_MSG(dt >= 1.15 - 1e-9 && dt < 1.15 + 0.05 + 1e-9, "duplicated after %g s", dt);
    CHECK(c.s.rep[0].count == 1 && c.s.rep[0].status == RUN_OK && c.s.rep[0].key.attempt == 1);
    CHECK(c.s.rep[0].obs && c.s.rep[0].obs[0] == 42 && c.s.rep[0].obs[1] == 42);
    CHECK(a->cancelled && !b->cancelled && loop_ncancels(c.s.l) == 1);
    st = stats(c.sc);
    CHECK(st.copies_started == 6 + 2 && st.copies_cancelled == 1);
    CHECK(st.attempts_failed == 0 && st.runs_failed == 0);
    CHECK(st.workers_busy == 1); /* the cancelled copy has not answered yet */
    /* it answers during the next batch, with an ok result: dropped; its worker is free again */
    size_t dropped = st.results_dropped;
    c.s.mode = 6;
    c.s.run_s = 0.5;
    CHECK(sim_run(&c.s, c.sc, 1, c.warm) == 0);
    check_clean(&c.s, "overdue late");
    CHECK(c.s.count == 1);
    CHECK_MSG(bad_ok_reports(&c.s, 0, 1) == 0, "overdue late: reported the late copy");
    CHECK(stats(c.sc).results_dropped == dropped + 1);
    CHECK(stats(c.sc).workers_busy == 0 && stats(c.sc).runs_done == 8);
    overdue_free(&c);

    /* a late result in the same batch: run 0's first copy answers ok after its duplicate won,
     * while run 1 is still going */
    overdue_setup(&c, 3, 1.0, 2, 1.15, 100, 1e30);
    c.s.mode = 7;
    double *v2 = make_values(2, 2, 30.0);
    CHECK(sim_run(&c.s, c.sc, 2, v2) == 0);
    check_clean(&c.s, "late in batch");
    CHECK(c.s.count == 1 && batch_submits(&c.s) == 4);
    for (size_t run = 0; run < 2; run++) {
        CHECK(c.s.rep[run].count == 1 && c.s.rep[run].status == RUN_OK);
        CHECK(c.s.rep[run].key.attempt == 1 && c.s.rep[run].obs && c.s.rep[run].obs[0] == 42);
    }
    CHECK(stats(c.sc).results_dropped == 1 && stats(c.sc).copies_cancelled == 2);
    CHECK(stats(c.sc).attempts_failed == 0);
    free(v2);
    overdue_free(&c);

    /* no duplicate while runs wait in the queue: run 0 failed on worker 0 and waits for
     * another worker, so the overdue run 1 is not duplicated on the idle worker 0 until run 0
     * has left the queue (when run 2 ends, at 2 s) */
    overdue_setup(&c, 3, 1.0, 3, 1.15, 100, 1e30);
    c.s.mode = 8;
    double *v3 = make_values(3, 2, 40.0);
    double t0 = c.s.t;
    CHECK(sim_run(&c.s, c.sc, 3, v3) == 0);
    check_clean(&c.s, "queue first");
    CHECK_MSG(bad_ok_reports(&c.s, 0, 3) == 0, "queue first: bad reports");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2);
    CHECK(sub_at(&c.s, idx[0])->worker == 0 && sub_at(&c.s, idx[1])->worker == 2);
    CHECK(submits_of(&c.s, 1, idx, 8) == 2);
    CHECK(sub_at(&c.s, idx[1])->worker == 0);
    CHECK_MSG(sub_time(&c.s, idx[1]) >= t0 + 2.0 - 1e-9, "duplicated at +%g s",
              sub_time(&c.s, idx[1]) - t0);
    CHECK(submits_of(&c.s, 2, idx, 8) == 1);
    CHECK(stats(c.sc).attempts_failed == 1);
    free(v3);
    overdue_free(&c);

    /* the overdue clock starts at STARTED, not at the submit */
    overdue_setup(&c, 3, 1.0, 3, 1.15, 100, 1e30);
    c.s.mode = 9;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "started");
    CHECK(c.s.count == 1 && batch_submits(&c.s) == 1 && loop_ncancels(c.s.l) == 0);
    CHECK_MSG(bad_ok_reports(&c.s, 0, 1) == 0, "started");
    overdue_free(&c);

    /* the first copy wins: the duplicate is cancelled */
    overdue_setup(&c, 3, 1.0, 2, 1.15, 100, 1e30);
    c.s.mode = 2;
    c.s.count2 = 2;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "overdue first wins");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2);
    CHECK(c.s.rep[0].status == RUN_OK && c.s.rep[0].key.attempt == 0);
    CHECK_MSG(bad_ok_reports(&c.s, 0, 1) == 0, "first wins");
    CHECK(!sub_at(&c.s, idx[0])->cancelled && sub_at(&c.s, idx[1])->cancelled);
    CHECK(loop_ncancels(c.s.l) == 1 && stats(c.sc).copies_cancelled == 1);
    overdue_free(&c);

    /* at most max_run_fail copies of one run, each on its own worker */
    overdue_setup(&c, 6, 1.0, 3, 1.15, 100, 1e30);
    c.s.mode = 2;
    c.s.count2 = 3;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "overdue 3 copies");
    CHECK(submits_of(&c.s, 0, idx, 8) == 3);
    CHECK(sub_at(&c.s, idx[0])->worker != sub_at(&c.s, idx[1])->worker);
    CHECK(sub_at(&c.s, idx[1])->worker != sub_at(&c.s, idx[2])->worker);
    CHECK(sub_at(&c.s, idx[0])->worker != sub_at(&c.s, idx[2])->worker);
    CHECK(sub_at(&c.s, idx[1])->cancelled && sub_at(&c.s, idx[2])->cancelled);
    CHECK(loop_ncancels(c.s.l) == 2 && stats(c.sc).copies_cancelled == 2);
    CHECK(c.s.t - sub_time(&c.s, idx[0]) < 2.0); /* no waiting for more copies than allowed */
    overdue_free(&c);

    /* past overdue_giveup_fac x mean: killed, counted as a failure, retried elsewhere */
    overdue_setup(&c, 3, 1.0, 3, 1e6, 3, 1e30);
    c.s.mode = 3;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "giveup fac");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2);
    CHECK(sub_at(&c.s, idx[0])->cancelled && !sub_at(&c.s, idx[1])->cancelled);
    CHECK(sub_at(&c.s, idx[0])->worker != sub_at(&c.s, idx[1])->worker);
    dt = cancel_time(&c.s, idx[0]) - sub_time(&c.s, idx[0]);
    CHECK_MSG(dt >= 3.0 - 1e-9 && dt < 3.0 + 0.05 + 1e-9, "killed after %g s", dt);
    CHECK(c.s.rep[0].status == RUN_OK && c.s.rep[0].key.attempt == 1);
    CHECK_MSG(bad_ok_reports(&c.s, 0, 1) == 0, "giveup fac");
    st = stats(c.sc);
    CHECK(st.attempts_failed == 1 && st.runs_failed == 0 && st.copies_cancelled == 1);
    overdue_free(&c);

    /* a run that always hangs: killed max_run_fail times, then failed with the reason */
    overdue_setup(&c, 3, 1.0, 2, 1e6, 3, 1e30);
    c.s.mode = 4;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "always hangs");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2);
    CHECK(sub_at(&c.s, idx[0])->cancelled && sub_at(&c.s, idx[1])->cancelled);
    CHECK(sub_at(&c.s, idx[0])->worker != sub_at(&c.s, idx[1])->worker);
    CHECK(c.s.rep[0].count == 1 && c.s.rep[0].status == RUN_FAILED);
    CHECK_MSG(strstr(c.s.rep[0].reason, "overdue") != NULL, "reason '%s'", c.s.rep[0].reason);
    st = stats(c.sc);
    CHECK(st.attempts_failed == 2 && st.runs_failed == 1 && st.batch_failed == 1);
    CHECK(st.copies_cancelled == 2 && sched_failure_count(c.sc) == 1);
    overdue_free(&c);

    /* past overdue_giveup_minutes, with no mean run time yet */
    overdue_setup(&c, 3, 0, 3, 1.15, 100, 0.05);
    c.s.mode = 3;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "giveup minutes");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2);
    dt = cancel_time(&c.s, idx[0]) - sub_time(&c.s, idx[0]);
    CHECK_MSG(dt >= 3.0 - 1e-9 && dt < 3.0 + 0.05 + 1e-9, "killed after %g s", dt);
    CHECK(sub_at(&c.s, idx[0])->worker != sub_at(&c.s, idx[1])->worker);
    CHECK(c.s.rep[0].status == RUN_OK && c.s.rep[0].key.attempt == 1);
    CHECK(stats(c.sc).attempts_failed == 1 && stats(c.sc).runs_failed == 0);
    overdue_free(&c);

    /* a mean below overdue_min_mean_s: never duplicated nor killed (giveup_fac x mean = 10 s) */
    overdue_setup(&c, 3, 0.1, 3, 1.15, 100, 1e30);
    c.s.tick = 0.5;
    c.s.mode = 5;
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "min mean");
    CHECK(submits_of(&c.s, 0, idx, 8) == 1);
    CHECK(loop_ncancels(c.s.l) == 0);
    CHECK(c.s.t - sub_time(&c.s, idx[0]) >= 50.0);
    CHECK(c.s.rep[0].status == RUN_OK && c.s.rep[0].key.attempt == 0);
    CHECK(stats(c.sc).attempts_failed == 0 && stats(c.sc).copies_cancelled == 0);
    overdue_free(&c);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. submit failures                                                                         */

static void step_revive(struct sim *s)
{
    if (nsub(s) == 0 && ++s->count == 10) {
        loop_fail_submits(s->l, 5, 0);
        up(s, 5);
        return;
    }
    step_all_ok(s);
}

/* --backup-copies: at the end of a batch, with workers idle, a run still going gets one backup
 * at once (not after 1.15 x the mean); the backup's result wins and the first copy is killed.
 * Without the option nothing is copied before the overdue time (test_overdue). */
static void test_backup_copies(void)
{
    struct overdue_case c;
    size_t idx[8];
    g_backup = 1;
    overdue_setup(&c, 3, 1.0, 3, 1.15, 100, 1e30);
    c.s.mode = 1; /* the first copy hangs; a later one answers after 0.5 s */
    CHECK(sim_run(&c.s, c.sc, 1, c.v) == 0);
    check_clean(&c.s, "backup copy");
    CHECK(submits_of(&c.s, 0, idx, 8) == 2); /* one backup, no more */
    double dt = sub_time(&c.s, idx[1]) - sub_time(&c.s, idx[0]);
    CHECK_MSG(dt < 0.1 + 1e-9, "backup after %g s", dt);
    CHECK(sub_at(&c.s, idx[0])->worker != sub_at(&c.s, idx[1])->worker);
    CHECK(c.s.rep[0].count == 1 && c.s.rep[0].status == RUN_OK && c.s.rep[0].key.attempt == 1);
    CHECK(sub_at(&c.s, idx[0])->cancelled && !sub_at(&c.s, idx[1])->cancelled);
    /* a batch with more runs than workers: no backup while runs are queued */
    overdue_free(&c);
    overdue_setup(&c, 2, 1.0, 3, 1.15, 100, 1e30);
    c.s.mode = 0; /* every copy takes 1 s */
    double *v4 = make_values(4, 2, 30.0);
    size_t before = nsub(&c.s);
    CHECK(sim_run(&c.s, c.sc, 4, v4) == 0);
    /* 4 runs on 2 workers: the first two start together, the last two when they end; then
     * nothing is queued but no worker is idle until one of the last two ends: no backup
     * until then, and at most one a run */
    CHECK(nsub(&c.s) - before >= 4 && nsub(&c.s) - before <= 6);
    for (size_t r = 0; r < 4; r++)
        CHECK(c.s.rep[r].count == 1 && c.s.rep[r].status == RUN_OK);
    free(v4);
    overdue_free(&c);
    g_backup = 0;
}

static void test_submit_failure(void)
{
    double *v = make_values(6, 2, 1.5);
    struct sim s;
    sim_init(&s, 2, 2);
    s.step = step_all_ok;
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, 3);
    loop_fail_submits(s.l, 0, 1);
    CHECK(sim_run(&s, sc, 6, v) == 0);
    check_clean(&s, "submit failure");
    CHECK_MSG(bad_ok_reports(&s, 0, 6) == 0, "submit failure: bad reports");
    CHECK(s.submits_failed == 1 && nsub(&s) == 6);
    for (size_t i = 0; i < nsub(&s); i++)
        CHECK(sub_at(&s, i)->worker != 0);
    size_t idx[4];
    CHECK(submits_of(&s, 0, idx, 4) == 1);
    CHECK(sub_at(&s, idx[0])->worker == 1 && sub_at(&s, idx[0])->key.attempt == 1);
    struct sched_stats_view st = stats(sc);
    CHECK(st.workers_lost == 1 && st.workers_alive == 2 && st.attempts_failed == 0);
    sched_destroy(sc);
    sim_free(&s);

    /* every worker refuses; a new one comes up later */
    sim_init(&s, 2, 2);
    s.step = step_revive;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, 2);
    loop_fail_submits(s.l, 0, 1);
    loop_fail_submits(s.l, 1, 1);
    loop_fail_submits(s.l, 5, 1);
    CHECK(sim_run(&s, sc, 6, v) == 0);
    check_clean(&s, "all refuse");
    CHECK_MSG(bad_ok_reports(&s, 0, 6) == 0, "all refuse: bad reports");
    CHECK(s.submits_failed == 2 && s.count == 10);
    for (size_t i = 0; i < nsub(&s); i++)
        CHECK(sub_at(&s, i)->worker == 5);
    CHECK(stats(sc).workers_lost == 2 && stats(sc).attempts_failed == 0);
    sched_destroy(sc);
    sim_free(&s);
    free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* 7. stopping                                                                                */

/* One open copy answered per poll; after 6 answers, a stop: mode 0 the flag, mode 1 the extra
 * fd, mode 2 the flag set with the 6th answer. */
static void step_stop(struct sim *s)
{
    if (s->count == 6) {
        if (s->mode == 0) {
            s->stop = 1; /* as a signal handler would */
        } else if (s->mode == 1) {
            (void)!write(s->pipefd[1], "1", 1);
        }
        s->count++;
        return;
    }
    if (s->count > 6) return;
    if (s->count == 3 && s->mode == 1 && !s->count2) { /* an extra-fd wake-up that goes on */
        (void)!write(s->pipefd[1], "0", 1);
        s->count2 = 1;
        return;
    }
    long i = loop_next_unanswered(s->l);
    if (i >= 0) {
        answer_ok(s, (size_t)i);
        s->count++;
    }
    if (s->mode == 2 && s->count == 6) { /* the stop comes with the 6th result, still pending */
        s->stop = 1;
        s->count++;
    }
}

static int on_extra(void *ctx)
{
    struct sim *s = ctx;
    char c = 0;
    s->extra_calls++;
    if (read(s->pipefd[0], &c, 1) != 1) return 0;
    return c == '1';
}

static void test_stop(void)
{
    enum { N = 40 };
    double *v = make_values(N, 2, 0.5);
    for (int mode = 0; mode < 3; mode++) {
        struct sim s;
        sim_init(&s, 2, 2);
        s.step = step_stop;
        s.mode = (size_t)mode;
        struct sched_config cfg = base_cfg(&s);
        if (mode == 1) {
            CHECK(pipe(s.pipefd) == 0);
            cfg.extra_fd = s.pipefd[0];
            cfg.on_extra_fd = on_extra;
        }
        struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
        ups(&s, 0, 4);
        CHECK(sim_run(&s, sc, N, v) == 1);
        check_clean(&s, mode == 1 ? "stop extra fd" : "stop flag");
        CHECK(s.count == 7);
        CHECK(s.nreported == 6);
        size_t answered = 0, cancelled = 0;
        for (size_t i = 0; i < nsub(&s); i++) {
            const struct loop_submit *u = sub_at(&s, i);
            if (u->cancelled)
                cancelled++;
            else if (u->key.run < N && s.rep[u->key.run].count == 1)
                answered++;
            else
                CHECK_MSG(0, "submit %zu (run %u) neither reported nor cancelled", i, u->key.run);
        }
        /* mode 2 stops before the 6th result's worker gets another run */
        size_t running = mode == 2 ? 3 : 4;
        CHECK(answered == 6 && cancelled == running && loop_ncancels(s.l) == running);
        CHECK(nsub(&s) == 6 + running);
        CHECK_MSG(bad_ok_reports(&s, 0, 6) == 0, "stop: the 6 reported runs");
        struct sched_stats_view st = stats(sc);
        CHECK(st.batch_done == 6 && st.batch_failed == 0 && st.workers_busy == 0);
        if (mode == 1) CHECK(s.extra_calls == 2);

        /* the scheduler goes on with a new batch */
        s.stop = 0;
        s.step = step_all_ok;
        CHECK(sim_run(&s, sc, N, v) == 0);
        check_clean(&s, "after stop");
        CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "after stop: bad reports");
        CHECK(batch_submits(&s) == N);
        sched_destroy(sc);
        sim_free(&s);
    }
    free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* 9. progress                                                                                */

static void on_progress(void *ctx, const struct sched_stats_view *st)
{
    struct sim *s = ctx;
    if (s->nprog < sizeof(s->prog) / sizeof(s->prog[0])) {
        s->prog[s->nprog] = *st;
        s->prog_t[s->nprog] = s->t;
    }
    s->nprog++;
}

/* Results keep coming: one per poll, 0.25 s apart, never a poll that times out. */
static void step_stream(struct sim *s)
{
    long i = loop_next_unanswered(s->l);
    s->t += 0.25;
    if (i >= 0) answer_ok(s, (size_t)i);
}

static void test_progress(void)
{
    enum { N = 40 };
    double *v = make_values(N, 2, 0.5);
    for (int stream = 0; stream < 2; stream++) {
        struct sim s;
        sim_init(&s, 2, 2);
        s.step = stream ? step_stream : step_due;
        s.tick = 0.25;
        struct sched_config cfg = base_cfg(&s);
        cfg.progress = on_progress;
        cfg.overdue_resched_fac = 1e6;
        struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
        ups(&s, 0, 4);
        double t0 = s.t;
        CHECK(sim_run(&s, sc, N, v) == 0);
        check_clean(&s, "progress");
        CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "progress: bad reports");
        double span = s.t - t0;
        /* 40 runs of 1 s on 4 workers: ~10 s; one line a second, and the final one */
        CHECK_MSG(s.nprog >= (size_t)(span / 1.0) - 1 && s.nprog <= (size_t)(span / 1.0) + 2,
                  "%s: %zu progress calls over %g s", stream ? "stream" : "due", s.nprog, span);
        size_t last_done = 0, bad = 0;
        for (size_t k = 0; k < s.nprog && k < 512; k++) {
            const struct sched_stats_view *p = &s.prog[k];
            bad += p->batch_total != N || p->batch_done + p->batch_failed > N ||
                   p->batch_running > p->workers_busy || p->workers_busy > p->workers_alive ||
                   p->workers_alive > 4 || p->batch_done < last_done ||
                   fabs(p->elapsed_s - (s.prog_t[k] - 1000.0)) > 1e-9;
            if (k + 1 < s.nprog && k > 0 && s.prog_t[k] - s.prog_t[k - 1] < 1.0 - 1e-9) bad++;
            if (k + 1 < s.nprog && p->mean_run_s > 0 && p->workers_alive > 0)
                bad += fabs(p->eta_s - p->mean_run_s * (double)(N - p->batch_done) /
                                           (double)p->workers_alive) > 1e-9;
            last_done = p->batch_done;
        }
        CHECK_MSG(bad == 0, "%zu bad progress views", bad);
        static const struct sched_stats_view none;
        const struct sched_stats_view *f = s.nprog ? &s.prog[s.nprog - 1] : &none;
        CHECK(f->batch_done + f->batch_failed == f->batch_total && f->batch_total == N);
        CHECK(f->batch_running == 0 && f->eta_s == 0 && f->runs_done == N);
        CHECK_NEAR(f->mean_run_s, 1.0, 1e-12);
        CHECK(f->workers_alive == 4);
        /* reports kept up with the results: the first came long before the last submit */
        CHECK_MSG(s.rep[s.reported[0]].nsub < N / 2, "%s: first report after %zu submits",
                  stream ? "stream" : "due", s.rep[s.reported[0]].nsub);
        sched_destroy(sc);
        sim_free(&s);
    }

    /* an empty batch still ends with a progress call */
    struct sim s;
    sim_init(&s, 2, 2);
    struct sched_config cfg = base_cfg(&s);
    cfg.progress = on_progress;
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    CHECK(sim_run(&s, sc, 0, v) == 0);
    CHECK(s.nprog == 1 && s.prog[0].batch_total == 0 && s.prog[0].eta_s == 0);
    sched_destroy(sc);
    sim_free(&s);
    free(v);
}

/* The busy count a progress line shows is the number of models running: while runs wait in the
 * queue, a worker whose result was just taken is given the next run before the line is sampled
 * (a worker is never shown idle between its result and its next run). 2 workers, runs of 1 s
 * and 1.5 s so that results arrive one at a time, a progress view after nearly every event. */
static void step_two_lengths(struct sim *s)
{
    s->t += 0.125; /* time passes in every poll, as it does while a result travels */
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        double len = u->worker == 0 ? 1.0 : 1.5;
        if (is_open(u) && s->t >= s->sub_t[i] + len) answer_obs(s, i, NULL, len);
    }
}

static void test_progress_busy(void)
{
    enum { N = 30, W = 2 };
    double *v = make_values(N, 2, 0.5);
    struct sim s;
    sim_init(&s, 2, 2);
    s.step = step_two_lengths;
    s.tick = 0.25;
    struct sched_config cfg = base_cfg(&s);
    cfg.progress = on_progress;
    cfg.progress_interval_s = 0.1;
    cfg.overdue_resched_fac = 1e6;
    struct sched *sc = sched_create(sim_transport(&s), &cfg, NULL, 2, 2);
    ups(&s, 0, W);
    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "progress busy");
    CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "progress busy: bad reports");
    size_t under = 0, sampled = 0, first_bad = SIZE_MAX;
    for (size_t k = 0; k + 1 < s.nprog && k < 512; k++) {
        const struct sched_stats_view *p = &s.prog[k];
        size_t left = p->batch_total - p->batch_done - p->batch_failed;
        size_t want = left < p->workers_alive ? left : p->workers_alive;
        sampled++;
        if (p->workers_busy != want || p->batch_running != want) {
            under++;
            if (first_bad == SIZE_MAX) first_bad = k;
        }
    }
    /* 30 runs over ~18 s of fake time, a view every 0.25 s at least */
    CHECK_MSG(sampled >= 40, "progress busy: only %zu progress views", sampled);
    CHECK_MSG(under == 0,
              "progress busy: %zu of %zu views show fewer busy workers than models running "
              "(first: view %zu, busy %zu, running %zu, %zu left)",
              under, sampled, first_bad, first_bad < 512 ? s.prog[first_bad].workers_busy : 0,
              first_bad < 512 ? s.prog[first_bad].batch_running : 0,
              first_bad < 512 ? N - s.prog[first_bad].batch_done : 0);
    /* the final view: nothing left, nobody busy */
    CHECK(s.nprog > 0 && s.prog[s.nprog - 1].workers_busy == 0 &&
          s.prog[s.nprog - 1].batch_done == N);
    sched_destroy(sc);
    sim_free(&s);
    free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* 8. the journal (needs src/sched/journal.c)                                                 */

/* run 13 always fails */
static void step_journal(struct sim *s)
{
    if (s->idle_calls % 3 == 0) return;
    for (size_t i = s->first_open; i < nsub(s); i++) {
        struct loop_submit *u = sub_at(s, i);
        if (!is_open(u)) continue;
        if (s->mode == 1 && u->key.run == 13)
            answer_fail(s, i, "exit code 3");
        else if (rnd(s) % 2)
            answer_obs(s, i, NULL, 1.0 + 0.001 * u->key.run);
    }
}

static size_t bad_sync_reports(struct sim *s)
{
    size_t bad = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rep[i].count && !s->rep[i].from_journal &&
            (!s->rep[i].synced || (s->rep[i].status == RUN_OK && !s->rep[i].in_journal)))
            bad++;
    return bad;
}

static void test_journal(void)
{
    enum { N = 1000, W = 64, H = N / 2 };
    char dir[] = "/tmp/pestrun-test-sched-XXXXXX", path[256];
    struct pr_error err;
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/runs.journal", dir);
    double *v = make_values(N, 3, 1.0), *v2 = make_values(N, 3, 1.0);
    for (size_t i = H; i < N; i++)
        v2[i * 3] += 1e-9; /* the second half: new rows */

    /* a batch of 1,000 runs on 64 workers: each run synced before it is reported */
    struct journal *j = journal_open(path, 7, 3, 4, 0, &err);
    CHECK_MSG(j != NULL, "journal_open: %s", err.msg);
    if (!j) goto out;
    g_journal = j;
    struct sim s;
    sim_init(&s, 3, 4);
    s.tick = 0.001;
    s.step = step_journal;
    s.j = j;
    struct sched_config cfg = base_cfg(&s);
    struct sched *sc = sched_create(sim_transport(&s), &cfg, j, 3, 4);
    ups(&s, 0, W);
    size_t syncs = g_syncs;
    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "journal");
    CHECK_MSG(bad_ok_reports(&s, 0, N) == 0, "journal: bad reports");
    CHECK(g_syncs > syncs + 1);
    CHECK_MSG(bad_sync_reports(&s) == 0, "journal: %zu runs reported before their sync",
              bad_sync_reports(&s));
    CHECK(journal_count(j) == N && journal_count_ok(j) == N);
    CHECK(s.rep[s.reported[0]].nsub < N);
    double *first_obs = malloc(N * 4 * sizeof(double)), *first_s = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        if (s.rep[i].obs) memcpy(first_obs + i * 4, s.rep[i].obs, 4 * sizeof(double));
        first_s[i] = s.rep[i].seconds;
    }
    sched_destroy(sc);
    sim_free(&s);
    g_journal = NULL;
    journal_close(j);

    /* resume: the same values come back from the journal, with no submit at all */
    j = journal_open(path, 7, 3, 4, 1, &err);
    CHECK_MSG(j != NULL, "journal_open resume: %s", err.msg);
    if (!j) goto out_free;
    g_journal = j;
    CHECK(journal_count(j) == N && journal_count_ok(j) == N && journal_truncated(j) == 0);
    sim_init(&s, 3, 4);
    s.tick = 0.001;
    s.step = step_journal;
    s.j = j;
    cfg = base_cfg(&s);
    sc = sched_create(sim_transport(&s), &cfg, j, 3, 4);
    ups(&s, 0, W);
    CHECK(sim_run(&s, sc, N, v) == 0);
    check_clean(&s, "resume");
    CHECK(nsub(&s) == 0 && s.nreported == N);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        const struct report *r = &s.rep[i];
        bad += r->count != 1 || !r->from_journal || r->status != RUN_OK || !r->obs || !r->proc ||
               memcmp(r->obs, first_obs + i * 4, 4 * sizeof(double)) != 0 ||
               memcmp(r->proc, v + i * 3, 3 * sizeof(double)) != 0 || r->seconds != first_s[i];
    }
    CHECK_MSG(bad == 0, "resume: %zu runs not reused as they were", bad);
    CHECK(stats(sc).from_journal == N && stats(sc).runs_done == N && stats(sc).batch_done == N);
    CHECK(journal_count(j) == N);

    /* half the rows new: only those are run */
    CHECK(sim_run(&s, sc, N, v2) == 0);
    check_clean(&s, "half new");
    CHECK(nsub(&s) == H);
    bad = 0;
    for (size_t i = 0; i < nsub(&s); i++)
        bad += sub_at(&s, i)->key.run < H;
    CHECK(bad == 0);
    bad = 0;
    for (size_t i = 0; i < H; i++)
        bad += !s.rep[i].from_journal || s.rep[i].count != 1;
    CHECK(bad == 0);
    CHECK_MSG(bad_ok_reports(&s, H, N) == 0, "half new: bad reports");
    CHECK_MSG(bad_sync_reports(&s) == 0, "half new: reported before their sync");
    CHECK(journal_count(j) == N + H && stats(sc).from_journal == N + H);

    /* a failed run is journaled, and run again next time */
    double *v3 = make_values(20, 3, -1000.0);
    s.mode = 1;
    CHECK(sim_run(&s, sc, 20, v3) == 0);
    check_clean(&s, "failed journaled");
    CHECK(s.rep[13].status == RUN_FAILED && s.rep[13].synced);
    CHECK(journal_count(j) == N + H + 20 && journal_count_ok(j) == N + H + 19);
    size_t before = nsub(&s);
    s.mode = 0;
    CHECK(sim_run(&s, sc, 20, v3) == 0);
    check_clean(&s, "failed rerun");
    CHECK(nsub(&s) == before + 1 && sub_at(&s, before)->key.run == 13);
    CHECK(s.rep[13].status == RUN_OK && !s.rep[13].from_journal && s.rep[13].synced);
    bad = 0;
    for (size_t i = 0; i < 20; i++)
        bad += (i != 13) != s.rep[i].from_journal;
    CHECK(bad == 0);
    CHECK(journal_count_ok(j) == N + H + 20);

    /* stopped: the runs that ended are synced, then reported */
    double *v4 = make_values(40, 3, 5000.0);
    s.step = step_stop;
    s.mode = 2;
    s.count = 0;
    CHECK(sim_run(&s, sc, 40, v4) == 1);
    check_clean(&s, "journal stop");
    CHECK_MSG(s.nreported == 6, "journal stop: %zu reported, count %zu", s.nreported, s.count);
    CHECK_MSG(bad_sync_reports(&s) == 0, "journal stop: reported before their sync");
    CHECK(journal_count(j) == N + H + 21 + 6 && journal_count_ok(j) == N + H + 20 + 6);
    free(v4);
    free(v3);
    sched_destroy(sc);
    sim_free(&s);
    g_journal = NULL;
    journal_close(j);

out_free:
    free(first_obs);
    free(first_s);
out:
    unlink(path);
    rmdir(dir);
    free(v);
    free(v2);
}

int main(void)
{
    test_many_workers();
    test_lost_workers();
    test_all_vanish();
    test_failures();
    test_retry_waits();
    test_drops();
    test_overdue();
    test_backup_copies();
    test_submit_failure();
    test_stop();
    test_progress();
    test_progress_busy();
    test_journal();
    return check_done();
}
