/* The scheduler's streaming entry point (sched_stream_*, sched.h): runs submitted one at a time
 * and polled for, through the in-memory loop transport under a fake clock. The batch promises
 * hold (a lost worker's run is re-queued, not failed; a failed run is retried up to the stream's
 * max_run_fail; results of cancelled copies are dropped), nothing is journaled, ids are reused
 * only when safe, the caller's fd and the config's extra fd are watched together. */
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "check.h"
#include "sched/journal.h"
#include "sched/loop.h"
#include "sched/sched.h"

#define NPAR 2
#define NOBS 3

struct sim {
    struct loop *l;
    double t;
    int answer;             /* the idle hook answers open submits */
    enum run_status status; /* ...with this status */
    int fail_worker;        /* submits to this worker fail as a model failure (-1: none) */
    int extra_calls, extra_stop;
    volatile sig_atomic_t stop;
};

static double sim_now(void *ctx)
{
    return ((struct sim *)ctx)->t;
}

static void idle(void *ctx, struct loop *l)
{
    struct sim *s = ctx;
    s->t += 0.01;
    if (!s->answer) return;
    for (size_t k = 0; k < loop_nsubmits(l); k++) { /* a cancel ends in a RESULT (cancelled) */
        struct loop_submit *u = loop_submit_at(l, k);
        if (u->cancelled && !u->answered) {
            loop_push_result(l, u->worker, u->key, RUN_CANCELLED, NULL, 0.1, "cancelled");
            u->answered = 1;
            return;
        }
    }
    long i = loop_next_unanswered(l);
    if (i < 0) return;
    struct loop_submit *u = loop_submit_at(l, (size_t)i);
    enum run_status st = u->worker == s->fail_worker ? RUN_FAILED : s->status;
    loop_push_result(l, u->worker, u->key, st, NULL, 0.5, st == RUN_OK ? NULL : "model failed");
    u->answered = 1;
}

static int on_extra(void *ctx)
{
    struct sim *s = ctx;
    s->extra_calls++;
    return s->extra_stop;
}

static struct sched *make(struct sim *s, int nworkers, struct journal *j, int extra_fd)
{
    struct sched_config cfg;
    memset(s, 0, sizeof(*s));
    s->l = loop_create(NPAR, NOBS);
    s->answer = 1;
    s->fail_worker = -1;
    loop_set_idle(s->l, idle, s);
    for (int w = 0; w < nworkers; w++)
        loop_push_up(s->l, w);
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_run_fail = 3;
    cfg.overdue_resched_fac = 1.15;
    cfg.overdue_giveup_fac = 100;
    cfg.overdue_giveup_minutes = 1e30;
    cfg.now = sim_now;
    cfg.ctx = s;
    cfg.extra_fd = extra_fd;
    cfg.on_extra_fd = on_extra;
    cfg.stop_flag = &s->stop;
    return sched_create(loop_transport(s->l), &cfg, j, NPAR, NOBS);
}

static void destroy(struct sim *s, struct sched *sc)
{
    sched_destroy(sc);
    loop_destroy(s->l);
}

/* Poll until a RESULT (1), or give up after many polls (0). */
static int next_result(struct sched *sc, struct sched_stream_event *ev)
{
    struct pr_error err;
    for (int i = 0; i < 1000; i++) {
        int rc = sched_stream_poll(sc, 0, ev, &err);
        if (rc < 0) return -1;
        if (rc == 1 && ev->type == SCHED_STREAM_RESULT) return 1;
    }
    return 0;
}

static void test_basic(void)
{
    struct sim s;
    struct pr_error err;
    char path[] = "/tmp/test_sched_stream.XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct journal *j = journal_open(path, 1, NPAR, NOBS, 0, &err);
    struct sched *sc = make(&s, 3, j, -1);
    struct sched_stream_opts so = {.max_run_fail = 1, .overdue = 0, .watch_fd = -1};
    struct sched_stream_event ev;
    CHECK(sched_stream_begin(sc, &so, &err) == 0);

    /* the workers coming up are announced, one event per change */
    size_t counts[3] = {0};
    for (int i = 0; i < 3; i++) {
        CHECK(sched_stream_poll(sc, 0, &ev, &err) == 1 && ev.type == SCHED_STREAM_WORKERS);
        counts[i] = ev.workers;
    }
    CHECK(counts[0] == 1 && counts[1] == 2 && counts[2] == 3);

    double v[5][NPAR];
    size_t id[5];
    int seen[5] = {0};
    for (int i = 0; i < 5; i++) {
        v[i][0] = i;
        v[i][1] = 10.0 * i;
        id[i] = sched_stream_submit(sc, v[i], i == 2 ? "par_name:x2" : NULL);
    }
    CHECK(sched_stream_outstanding(sc) == 5);
    for (int k = 0; k < 5; k++) {
        CHECK(next_result(sc, &ev) == 1);
        int i = -1;
        for (int m = 0; m < 5; m++)
            if (id[m] == ev.id) i = m;
        CHECK(i >= 0 && !seen[i]);
        if (i < 0) continue;
        seen[i] = 1;
        double want[NOBS];
        loop_model(v[i], NPAR, want, NOBS);
        CHECK(ev.result.status == RUN_OK && ev.result.obs[2] == want[2]);
        CHECK(ev.result.processed[1] == v[i][1] && ev.result.seconds == 0.5);
    }
    CHECK(sched_stream_outstanding(sc) == 0);
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 0);
    CHECK(journal_count(j) == 0); /* the master keeps the books */
    struct sched_stats_view st;
    sched_stats(sc, &st);
    CHECK(st.batch_total == 5 && st.batch_done == 5 && st.eta_s == 0);

    /* ids are reused: a long stream does not grow the tables */
    size_t max_id = 0;
    for (int k = 0; k < 200; k++) {
        size_t i = sched_stream_submit(sc, v[k % 5], NULL);
        if (i > max_id) max_id = i;
        CHECK(next_result(sc, &ev) == 1 && ev.id == i);
    }
    CHECK(max_id < 5);
    sched_stream_end(sc);

    destroy(&s, sc);
    journal_close(j);
    unlink(path);
}

static void done_cb(void *ctx, size_t index, const struct run_result *res, int from_journal)
{
    (*(int *)ctx)++;
}

static void test_batch_after_stream(void)
{
    struct sim s;
    struct pr_error err;
    struct sched *sc = make(&s, 2, NULL, -1);
    struct sched_stream_opts so = {.max_run_fail = 1, .watch_fd = -1};
    struct sched_stream_event ev;
    double v[NPAR] = {1, 2};
    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    sched_stream_submit(sc, v, NULL);
    sched_stream_submit(sc, v, NULL);
    s.answer = 0; /* leave them running: the end cancels them */
    for (int i = 0; i < 20; i++)
        sched_stream_poll(sc, 0, &ev, &err);
    s.answer = 1; /* the workers confirm the cancels */
    sched_stream_end(sc);
    CHECK(loop_ncancels(s.l) == 2);
    s.answer = 1;
    double bv[3 * NPAR] = {1, 2, 3, 4, 5, 6};
    int reported = 0;
    CHECK(sched_run_batch(sc, 3, bv, NULL, done_cb, &reported, &err) == 0);
    CHECK(reported == 3);
    destroy(&s, sc);
}

static void test_lost_and_failed(void)
{
    struct sim s;
    struct pr_error err;
    struct sched *sc = make(&s, 2, NULL, -1);
    struct sched_stream_opts so = {.max_run_fail = 1, .watch_fd = -1};
    struct sched_stream_event ev;
    double v[NPAR] = {1, 2};

    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    /* a lost worker's run is re-queued on the other worker: not a failure */
    s.answer = 0;
    size_t a = sched_stream_submit(sc, v, NULL);
    for (int i = 0; i < 5; i++)
        sched_stream_poll(sc, 0, &ev, &err);
    CHECK(loop_nsubmits(s.l) == 1);
    int w = loop_submit_at(s.l, 0)->worker;
    loop_submit_at(s.l, 0)->answered = 1;
    loop_push_lost(s.l, w);
    s.answer = 1;
    CHECK(next_result(sc, &ev) == 1 && ev.id == a && ev.result.status == RUN_OK);
    CHECK(loop_nsubmits(s.l) == 2 && loop_submit_at(s.l, 1)->worker != w);
    struct sched_stats_view st;
    sched_stats(sc, &st);
    CHECK(st.attempts_failed == 0 && st.workers_lost == 1);

    /* with max_run_fail 1 a model failure is reported at once, after one attempt */
    s.status = RUN_FAILED;
    size_t n0 = loop_nsubmits(s.l);
    size_t b = sched_stream_submit(sc, v, NULL);
    CHECK(next_result(sc, &ev) == 1 && ev.id == b && ev.result.status == RUN_FAILED);
    CHECK(ev.result.reason && strcmp(ev.result.reason, "model failed") == 0);
    CHECK(loop_nsubmits(s.l) == n0 + 1);
    sched_stream_end(sc);

    /* with max_run_fail 2, retried on another worker */
    loop_push_up(s.l, w);
    so.max_run_fail = 2;
    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    s.status = RUN_OK;
    s.fail_worker = 0;
    n0 = loop_nsubmits(s.l);
    int ok = 0;
    for (int k = 0; k < 4; k++) {
        sched_stream_submit(sc, v, NULL);
        ok += next_result(sc, &ev) == 1 && ev.result.status == RUN_OK;
    }
    CHECK(ok == 4);
    for (size_t i = n0; i < loop_nsubmits(s.l); i++)
        if (loop_submit_at(s.l, i)->worker == 0) /* each failure was followed by a retry on 1 */
            CHECK(i + 1 < loop_nsubmits(s.l) && loop_submit_at(s.l, i + 1)->worker == 1);
    destroy(&s, sc);
}

static void test_cancel(void)
{
    struct sim s;
    struct pr_error err;
    struct sched *sc = make(&s, 1, NULL, -1);
    struct sched_stream_opts so = {.max_run_fail = 1, .watch_fd = -1};
    struct sched_stream_event ev;
    double v[NPAR] = {1, 2};

    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    s.answer = 0;
    size_t a = sched_stream_submit(sc, v, NULL);
    size_t b = sched_stream_submit(sc, v, NULL); /* queued: one worker */
    for (int i = 0; i < 5; i++)
        sched_stream_poll(sc, 0, &ev, &err);
    CHECK(loop_nsubmits(s.l) == 1 && loop_submit_at(s.l, 0)->key.run == a);
    sched_stream_cancel(sc, b); /* a queued run is dropped without running */
    sched_stream_cancel(sc, a); /* a running one is killed */
    sched_stream_cancel(sc, a); /* twice is harmless */
    sched_stream_cancel(sc, 12345);
    CHECK(loop_ncancels(s.l) == 1 && loop_submit_at(s.l, 0)->cancelled);
    CHECK(sched_stream_outstanding(sc) == 0);
    /* the killed copy still holds its slot: a new run gets another id */
    size_t c = sched_stream_submit(sc, v, NULL);
    CHECK(c != a);
    /* the killed copy's late answer (even "ok") is dropped and reported nowhere */
    loop_push_result(s.l, 0, loop_submit_at(s.l, 0)->key, RUN_OK, NULL, 0.1, NULL);
    loop_submit_at(s.l, 0)->answered = 1;
    s.answer = 1;
    CHECK(next_result(sc, &ev) == 1 && ev.id == c);
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 0);
    CHECK(loop_nsubmits(s.l) == 2); /* b never ran */
    struct sched_stats_view st;
    sched_stats(sc, &st);
    CHECK(st.results_dropped == 1 && st.batch_total == 3 && st.eta_s == 0);
    destroy(&s, sc);
}

static void test_fds_and_stop(void)
{
    struct sim s;
    struct pr_error err;
    int watch[2], extra[2];
    CHECK(pipe(watch) == 0 && pipe(extra) == 0);
    struct sched *sc = make(&s, 1, NULL, extra[0]);
    struct sched_stream_opts so = {.max_run_fail = 1, .watch_fd = watch[0]};
    struct sched_stream_event ev;

    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 1 && ev.type == SCHED_STREAM_WORKERS);
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 0);
    CHECK(write(watch[1], "x", 1) == 1);
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 1 && ev.type == SCHED_STREAM_FD);
    char c;
    CHECK(read(watch[0], &c, 1) == 1);
    /* the config's extra fd (pest.stp's inotify) goes to on_extra_fd; 0 = go on */
    CHECK(write(extra[1], "x", 1) == 1);
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 0 && s.extra_calls >= 1);
    s.extra_stop = 1;
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 1 && ev.type == SCHED_STREAM_STOP);
    CHECK(read(extra[0], &c, 1) == 1);
    s.extra_stop = 0;
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 0);
    s.stop = 1;
    CHECK(sched_stream_poll(sc, 0, &ev, &err) == 1 && ev.type == SCHED_STREAM_STOP);
    s.stop = 0;
    /* the timeout is honoured with the fake clock */
    CHECK(sched_stream_poll(sc, 50, &ev, &err) == 0 && s.t >= 0.05);
    destroy(&s, sc);
    /* only a watch fd (no extra fd): used directly */
    sc = make(&s, 1, NULL, -1);
    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    CHECK(write(watch[1], "x", 1) == 1);
    int types = 0; /* both come, in either order */
    for (int i = 0; i < 2; i++)
        if (sched_stream_poll(sc, 0, &ev, &err) == 1) types |= 1 << ev.type;
    CHECK(types == ((1 << SCHED_STREAM_WORKERS) | (1 << SCHED_STREAM_FD)));
    destroy(&s, sc); /* destroy ends the stream */
    close(watch[0]);
    close(watch[1]);
    close(extra[0]);
    close(extra[1]);
}

static void test_overdue(void)
{
    struct sim s;
    struct pr_error err;
    struct sched *sc = make(&s, 2, NULL, -1);
    struct sched_stream_opts so = {.max_run_fail = 2, .overdue = 1, .watch_fd = -1};
    struct sched_stream_event ev;
    double v[NPAR] = {1, 2};

    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    for (int k = 0; k < 3; k++) { /* a mean run time of 0.5 s */
        sched_stream_submit(sc, v, NULL);
        CHECK(next_result(sc, &ev) == 1);
    }
    s.answer = 0;
    size_t a = sched_stream_submit(sc, v, NULL);
    double t0 = s.t;
    sched_stream_poll(sc, 0, &ev, &err); /* dispatched */
    size_t n0 = loop_nsubmits(s.l);
    for (int i = 0; i < 200 && loop_nsubmits(s.l) == n0; i++)
        sched_stream_poll(sc, 0, &ev, &err);
    /* past 1.15 x the mean a second copy starts on the idle worker */
    CHECK(loop_nsubmits(s.l) == n0 + 1 && s.t - t0 >= 0.5 * 1.15);
    s.answer = 1;
    CHECK(next_result(sc, &ev) == 1 && ev.id == a && ev.result.status == RUN_OK);
    CHECK(loop_ncancels(s.l) == 1);
    destroy(&s, sc);
}

/* Progress views while runs wait in the queue count every worker with a run as busy: a worker
 * whose result was just taken gets the next queued run before the view is sampled. */
static size_t g_views, g_under;

static void count_busy(void *ctx, const struct sched_stats_view *v)
{
    size_t left = v->batch_total - v->batch_done - v->batch_failed;
    size_t want = left < v->workers_alive ? left : v->workers_alive;
    g_views++;
    if (v->workers_busy != want) g_under++;
}

static void test_progress_busy(void)
{
    struct sim s;
    struct pr_error err;
    struct sched_config cfg;
    memset(&s, 0, sizeof(s));
    s.l = loop_create(NPAR, NOBS);
    s.answer = 1;
    s.fail_worker = -1;
    loop_set_idle(s.l, idle, &s);
    loop_push_up(s.l, 0);
    loop_push_up(s.l, 1);
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_run_fail = 1;
    cfg.now = sim_now;
    cfg.ctx = &s;
    cfg.extra_fd = -1;
    cfg.progress = count_busy;
    cfg.progress_interval_s = 0.005; /* the idle hook advances the clock 0.01 a poll */
    struct sched *sc = sched_create(loop_transport(s.l), &cfg, NULL, NPAR, NOBS);
    struct sched_stream_opts so = {.max_run_fail = 1, .overdue = 0, .watch_fd = -1};
    struct sched_stream_event ev;
    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(sched_stream_poll(sc, 0, &ev, &err) == 1 && ev.type == SCHED_STREAM_WORKERS);
    double v[NPAR] = {1, 2};
    for (int i = 0; i < 20; i++)
        sched_stream_submit(sc, v, NULL);
    g_views = g_under = 0;
    int results = 0;
    while (results < 20 && next_result(sc, &ev) == 1)
        results++;
    CHECK(results == 20);
    CHECK_MSG(g_views >= 20, "%zu progress views", g_views);
    CHECK_MSG(g_under == 0, "%zu of %zu views show fewer busy workers than runs going", g_under,
              g_views);
    sched_stream_end(sc);
    destroy(&s, sc);
}

static void test_inval(void)
{
    struct sim s;
    struct pr_error err;
    struct sched *sc = make(&s, 1, NULL, -1);
    struct sched_stream_opts so = {.max_run_fail = 0, .watch_fd = -1};
    sched_stream_cancel(sc, 0); /* not streaming: ignored */
    sched_stream_end(sc);       /* not streaming: nothing to do */
    CHECK(sched_stream_begin(sc, &so, &err) == 0);
    CHECK(sched_stream_begin(sc, &so, &err) == 0); /* begins again */
    CHECK(sched_stream_outstanding(sc) == 0);
    sched_stream_end(sc);
    sched_stream_end(sc);
    destroy(&s, sc);
}

int main(void)
{
    test_basic();
    test_batch_after_stream();
    test_lost_and_failed();
    test_cancel();
    test_fds_and_stop();
    test_overdue();
    test_progress_busy();
    test_inval();
    return check_done();
}
