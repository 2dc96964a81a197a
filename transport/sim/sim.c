#include "sim.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sched/journal.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

/* ------------------------------------------------------------------------------------------ */
/* options                                                                                    */

void sim_opts_init(struct sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->workers = 100;
    o->mean_s = 60.0;
    o->sd_s = 15.0;
    o->seed = 1;
    o->late_s = 10.0;
    o->slow_factor = 4.0;
    o->rejoin_s = 90.0;
    o->kill_at_s = -1.0;
}

/* The standard fault mix: every kind of fault, at rates that make thousands of them in a
 * million runs. */
static void standard_faults(struct sim_opts *o)
{
    o->p_lost = 0.001;
    o->p_reclaim = 0.001;
    o->p_dup = 0.01;
    o->p_late = 0.01;
    o->p_fail = 0.002;
    o->slow_frac = 0.01;
}

static int parse_prob(const char *key, const char *v, double *out, struct pr_error *err)
{
    if (pr_parse_double(v, out, 1) < 0 || *out < 0 || *out > 1)
        return pr_error_set(err, "--sim: %s=%s: expected a probability (0 to 1)", key, v);
    return 0;
}

static int parse_secs(const char *key, const char *v, double *out, struct pr_error *err)
{
    if (pr_parse_double(v, out, 1) < 0 || *out < 0)
        return pr_error_set(err, "--sim: %s=%s: expected seconds (>= 0)", key, v);
    return 0;
}

int sim_parse_spec(struct sim_opts *o, const char *spec, struct pr_error *err)
{
    if (!spec) return 0;
    char *copy = xstrdup(spec), *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        const char *v = eq ? eq + 1 : "";
        if (eq) *eq = '\0';
        double d;
        if (strcmp(item, "faults") == 0 && !eq) {
            standard_faults(o);
        } else if (strcmp(item, "workers") == 0) {
            int n;
            if (pr_parse_int(v, &n) < 0 || n < 1)
                rc = pr_error_set(err, "--sim: workers=%s: expected a number >= 1", v);
            else
                o->workers = (size_t)n;
        } else if (strcmp(item, "seed") == 0) {
            char *end;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end) rc = pr_error_set(err, "--sim: seed=%s: expected a number", v);
            o->seed = s;
        } else if (strcmp(item, "model") == 0) {
            if (strcmp(v, "real") == 0)
                o->real_model = 1;
            else if (strcmp(v, "synthetic") == 0)
                o->real_model = 0;
            else
                rc = pr_error_set(err, "--sim: model=%s: expected real or synthetic", v);
        } else if (strcmp(item, "mean") == 0) {
            rc = parse_secs(item, v, &o->mean_s, err);
            if (rc == 0 && o->mean_s <= 0) rc = pr_error_set(err, "--sim: mean must be > 0");
        } else if (strcmp(item, "sd") == 0) {
            rc = parse_secs(item, v, &o->sd_s, err);
        } else if (strcmp(item, "lost") == 0) {
            rc = parse_prob(item, v, &o->p_lost, err);
        } else if (strcmp(item, "reclaim") == 0) {
            rc = parse_prob(item, v, &o->p_reclaim, err);
        } else if (strcmp(item, "dup") == 0) {
            rc = parse_prob(item, v, &o->p_dup, err);
        } else if (strcmp(item, "late") == 0) {
            rc = parse_prob(item, v, &o->p_late, err);
        } else if (strcmp(item, "late_s") == 0) {
            rc = parse_secs(item, v, &o->late_s, err);
        } else if (strcmp(item, "fail") == 0) {
            rc = parse_prob(item, v, &o->p_fail, err);
        } else if (strcmp(item, "slow") == 0) {
            rc = parse_prob(item, v, &o->slow_frac, err);
        } else if (strcmp(item, "slow_factor") == 0) {
            rc = parse_secs(item, v, &o->slow_factor, err);
            if (rc == 0 && o->slow_factor < 1)
                rc = pr_error_set(err, "--sim: slow_factor must be >= 1");
        } else if (strcmp(item, "rejoin") == 0) {
            rc = parse_secs(item, v, &o->rejoin_s, err);
        } else if (strcmp(item, "ramp") == 0) {
            rc = parse_secs(item, v, &o->ramp_s, err);
        } else if (strcmp(item, "kill") == 0) {
            rc = parse_secs(item, v, &d, err);
            o->kill_at_s = d;
        } else if (strcmp(item, "times") == 0 && *v) {
            o->times_from = spec + (v - copy); /* points into the caller's string */
        } else if (strcmp(item, "trace") == 0 && *v) {
            o->trace = spec + (v - copy);
        } else {
            rc = pr_error_set(err,
                              "--sim: unknown item '%s' (expected workers, mean, sd, seed, model, "
                              "faults, lost, reclaim, dup, late, late_s, fail, slow, slow_factor, "
                              "rejoin, ramp, kill, times or trace)",
                              item);
        }
    }
    free(copy);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* draws: a hash of the seed and of what the draw is about                                    */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct draw {
    uint64_t state;
};

static struct draw draw_for(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    struct draw d = {mix(mix(mix(seed ^ 0x5151) ^ a) ^ b) ^ c};
    return d;
}

/* uniform in (0, 1) */
static double u01(struct draw *d)
{
    d->state = mix(d->state);
    return ((double)(d->state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(struct draw *d)
{
    double a = u01(d), b = u01(d);
    return sqrt(-2.0 * log(a)) * cos(2.0 * M_PI * b);
}

/* ------------------------------------------------------------------------------------------ */
/* events                                                                                     */

enum ev_kind { EV_UP = 1, EV_LOST, EV_RESULT };

/* A run's outcome, shared by its result and its duplicates. */
struct payload {
    int refs;
    enum run_status status;
    double seconds;
    double *processed, *obs;
    char *reason;
};

struct sev {
    double t;
    uint64_t seq; /* ties in time go in creation order */
    enum ev_kind kind;
    int worker;
    uint32_t tag; /* RESULT: the worker's job generation; LOST: the worker's instance */
    int dup;      /* RESULT: a second delivery of a result already sent */
    struct run_key key;
    struct payload *p;
};

struct sworker {
    int up;             /* alive and known to the scheduler */
    uint32_t inst;      /* incarnation: a replaced worker is a new one */
    uint32_t gen;       /* bumped at each job, and when its job is cancelled or dies with it */
    uint32_t killed;    /* the generation of the last job killed before it ended */
    int busy;           /* runs a job (until job_end) */
    struct run_key key; /* of the job */
    double job_end;
    double up_since;
    int slow;
};

struct sim {
    struct sim_opts o;
    const struct pst_case *c;
    size_t npar, nobs;
    double now;
    struct sev *heap;
    size_t nheap, capheap;
    uint64_t seq;
    struct sworker *w;
    double mu, sigma; /* lognormal */
    double *times;    /* resampled run times (times=), sorted as read */
    size_t ntimes;
    /* the model */
    double *obs0; /* the case's observed values */
    struct model_runner *runner;
    char *workdir;
    /* the event handed out by the last poll (its payload is released at the next) */
    struct payload *handed;
    /* runs with a good result delivered (hash set of batch<<32|run, 0 = empty) */
    uint64_t *seen;
    size_t nseen, capseen;
    struct sim_stats st;
    FILE *trace;
};

static void payload_unref(struct payload *p)
{
    if (!p || --p->refs > 0) return;
    free(p->processed);
    free(p->obs);
    free(p->reason);
    free(p);
}

static int ev_less(const struct sev *a, const struct sev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(struct sim *s, struct sev e)
{
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 1024;
        s->heap = xrealloc(s->heap, s->capheap * sizeof(*s->heap));
    }
    e.seq = s->seq++;
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&e, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static struct sev pop(struct sim *s)
{
    struct sev top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct sev *best = &last;
        if (l < n && ev_less(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (r < n && ev_less(&s->heap[r], best)) m = r;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------------------------------ */
/* runs: the seen set, run times, the model                                                   */

static int seen_add(struct sim *s, uint64_t k)
{
    k = k * 2 + 1; /* never 0 */
    if ((s->nseen + 1) * 2 > s->capseen) {
        size_t cap = s->capseen ? s->capseen * 2 : 4096;
        uint64_t *t = xcalloc(cap, sizeof(uint64_t));
        for (size_t i = 0; i < s->capseen; i++)
            if (s->seen[i]) {
                size_t h = mix(s->seen[i]) & (cap - 1);
                while (t[h]) h = (h + 1) & (cap - 1);
                t[h] = s->seen[i];
            }
        free(s->seen);
        s->seen = t;
        s->capseen = cap;
    }
    size_t h = mix(k) & (s->capseen - 1);
    while (s->seen[h]) {
        if (s->seen[h] == k) return 0;
        h = (h + 1) & (s->capseen - 1);
    }
    s->seen[h] = k;
    s->nseen++;
    return 1;
}

static double run_time(struct sim *s, struct draw *d, const struct sworker *w)
{
    double t;
    if (s->ntimes)
        t = s->times[(size_t)(u01(d) * (double)s->ntimes) % s->ntimes];
    else if (s->sigma > 0)
        t = exp(s->mu + s->sigma * normal(d));
    else
        t = s->o.mean_s;
    return w->slow ? t * s->o.slow_factor : t;
}

/* The synthetic model: smooth, cheap, deterministic, every observation depends on every
 * parameter. */
static void synthetic(const struct sim *s, const double *v, double *obs)
{
    double a = 0, b = 0;
    for (size_t j = 0; j < s->npar; j++) {
        a += v[j] * (double)(j % 7 + 1);
        b += v[j] * v[j];
    }
    for (size_t k = 0; k < s->nobs; k++)
        obs[k] = s->obs0[k] + 1e-3 * a * (double)(k % 5 + 1) + 1e-4 * b;
}

static struct payload *outcome(struct sim *s, const struct run_request *req, struct draw *d)
{
    struct payload *p = xcalloc(1, sizeof(*p));
    p->refs = 1;
    if (req->key.attempt == 0 && s->o.p_fail > 0 && u01(d) < s->o.p_fail) {
        p->status = RUN_FAILED;
        p->reason = xstrdup("simulated model failure (first attempt)");
        s->st.fails++;
        return p;
    }
    p->processed = xmalloc((s->npar + 1) * sizeof(double));
    p->obs = xmalloc((s->nobs + 1) * sizeof(double));
    if (s->runner) {
        struct pr_error e = {{0}};
        if (runner_run(s->runner, req->values, &e) < 0) {
            p->status = RUN_FAILED;
            p->reason = xstrdup(e.msg);
            return p;
        }
        memcpy(p->processed, runner_processed(s->runner), s->npar * sizeof(double));
        memcpy(p->obs, runner_observations(s->runner), s->nobs * sizeof(double));
    } else {
        memcpy(p->processed, req->values, s->npar * sizeof(double));
        synthetic(s, req->values, p->obs);
    }
    p->status = RUN_OK;
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* the transport                                                                              */

static void trace(struct sim *s, const char *what, int worker, const struct run_key *k)
{
    if (!s->trace) return;
    if (k)
        fprintf(s->trace, "%.6f %s %d %llu:%u:%u\n", s->now, what, worker,
                (unsigned long long)k->batch, k->run, k->attempt);
    else
        fprintf(s->trace, "%.6f %s %d\n", s->now, what, worker);
}

static void schedule_up(struct sim *s, int w, double t)
{
    struct sev e = {.t = t, .kind = EV_UP, .worker = w};
    push(s, e);
}

static int sim_submit(void *impl, int wid, const struct run_request *req, struct pr_error *err)
{
    struct sim *s = impl;
    if (wid < 0 || (size_t)wid >= s->o.workers || !s->w[wid].up) {
        pr_error_set(err, "simulated worker %d is not up", wid);
        return -1;
    }
    struct sworker *w = &s->w[wid];
    struct draw d = draw_for(s->o.seed, req->key.batch, ((uint64_t)req->key.run << 20) ^ req->key.attempt,
                             ((uint64_t)w->inst << 32) | (uint32_t)wid);
    double dur = run_time(s, &d, w);
    struct payload *p = outcome(s, req, &d);
    if (p->status == RUN_FAILED) dur *= u01(&d); /* a failure shows before the end */
    p->seconds = dur;
    w->busy = 1;
    w->key = req->key;
    w->job_end = s->now + dur;
    w->gen++;
    s->st.submits++;
    s->st.busy_s += dur;
    trace(s, "submit", wid, &req->key);

    double end = s->now + dur, u_lost = u01(&d), u_reclaim = u01(&d), at = u01(&d);
    if (u_lost < s->o.p_lost) { /* dies in the middle of the run: no result */
        struct sev e = {.t = s->now + at * dur, .kind = EV_LOST, .worker = wid, .tag = w->inst};
        push(s, e);
        s->st.busy_s -= (1 - at) * dur;
        payload_unref(p);
        return 0;
    }
    if (u_reclaim < s->o.p_reclaim) { /* a Spot notice: two minutes to finish, then gone */
        double notice = s->now + at * dur, gone = notice + 120.0;
        struct sev e = {.t = end < gone ? end : gone, .kind = EV_LOST, .worker = wid,
                        .tag = w->inst};
        s->st.reclaims++;
        if (end >= gone) {
            push(s, e);
            s->st.busy_s -= end - gone;
            payload_unref(p);
            return 0;
        }
        /* the result goes first (created first), then the worker leaves */
        struct sev r = {.t = end, .kind = EV_RESULT, .worker = wid, .tag = w->gen,
                        .key = req->key, .p = p};
        push(s, r);
        push(s, e);
        return 0;
    }
    double deliver = end;
    if (u01(&d) < s->o.p_late) {
        deliver += u01(&d) * s->o.late_s;
        s->st.late_sent++;
    }
    struct sev r = {.t = deliver, .kind = EV_RESULT, .worker = wid, .tag = w->gen,
                    .key = req->key, .p = p};
    push(s, r);
    if (u01(&d) < s->o.p_dup) { /* delivered again, later: never invalidated (already sent) */
        p->refs++;
        r.t = deliver + u01(&d) * s->o.late_s;
        r.dup = 1;
        push(s, r);
        s->st.duplicates_sent++;
    }
    return 0;
}

static void sim_cancel(void *impl, int wid, const struct run_key *key)
{
    struct sim *s = impl;
    if (wid < 0 || (size_t)wid >= s->o.workers) return;
    struct sworker *w = &s->w[wid];
    if (!w->up || !w->busy || !run_key_eq(&w->key, key) || s->now >= w->job_end) return;
    /* killed before it ended: its result will never come; a cancelled result a second later */
    s->st.busy_s -= w->job_end - (s->now + 1.0 < w->job_end ? s->now + 1.0 : w->job_end);
    w->killed = w->gen;
    w->gen++;
    w->busy = 0;
    s->st.cancels++;
    struct payload *p = xcalloc(1, sizeof(*p));
    p->refs = 1;
    p->status = RUN_CANCELLED;
    p->reason = xstrdup("cancelled");
    struct sev r = {.t = s->now + 1.0, .kind = EV_RESULT, .worker = wid, .tag = w->gen,
                    .key = *key, .p = p};
    push(s, r);
    trace(s, "cancel", wid, key);
}

static const struct tr_ops sim_ops;

static int sim_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                    struct pr_error *err)
{
    struct sim *s = impl;
    (void)extra_fd;
    payload_unref(s->handed);
    s->handed = NULL;
    for (;;) {
        if (s->nheap == 0) {
            if (timeout_ms < 0)
                return pr_error_set(err, "simulation: no event will ever come (no worker left)");
            s->now += timeout_ms / 1000.0;
            return 0;
        }
        if (timeout_ms >= 0 && s->heap[0].t > s->now + timeout_ms / 1000.0) {
            s->now += timeout_ms / 1000.0;
            return 0;
        }
        struct sev e = pop(s);
        if (e.t > s->now) s->now = e.t;
        if (s->o.kill_at_s >= 0 && s->now >= s->o.kill_at_s) {
            /* the simulation's account up to the kill (the master's state is not touched:
             * what it had not written is lost, as with a real kill -9) */
            char line[1024];
            struct transport self = {&sim_ops, s};
            sim_describe(&self, line, sizeof(line));
            fprintf(stderr, "%s, master killed\n", line);
            trace(s, "master-killed", -1, NULL);
            if (s->trace) fflush(s->trace);
            raise(SIGKILL);
        }
        struct sworker *w = &s->w[e.worker];
        memset(ev, 0, sizeof(*ev));
        ev->worker = e.worker;
        switch (e.kind) {
        case EV_UP:
            w->up = 1;
            w->busy = 0;
            w->inst++;
            w->up_since = s->now;
            ev->type = TR_EV_WORKER_UP;
            snprintf(ev->detail, sizeof(ev->detail), "simulated worker %d", e.worker);
            trace(s, "up", e.worker, NULL);
            return 1;
        case EV_LOST:
            if (!w->up || w->inst != e.tag) continue;
            w->up = 0;
            w->busy = 0;
            if (s->now < w->job_end) { /* whatever it was running dies with it */
                s->st.busy_s -= w->job_end - s->now;
                w->killed = w->gen;
            }
            w->gen++;
            s->st.lost++;
            s->st.worker_s += s->now - w->up_since;
            schedule_up(s, e.worker, s->now + s->o.rejoin_s);
            ev->type = TR_EV_WORKER_LOST;
            snprintf(ev->detail, sizeof(ev->detail), "simulated loss");
            trace(s, "lost", e.worker, NULL);
            return 1;
        case EV_RESULT:
            /* a result of a job killed before it ended never existed; a duplicate of one that
             * was sent stays valid whatever the worker did since */
            if (e.dup ? e.tag == w->killed : e.tag != w->gen) {
                payload_unref(e.p);
                continue;
            }
            if (!e.dup) w->busy = 0;
            ev->type = TR_EV_RESULT;
            ev->key = e.key;
            ev->result.key = e.key;
            ev->result.status = e.p->status;
            ev->result.seconds = e.p->status == RUN_CANCELLED ? 0 : e.p->seconds;
            ev->result.npar = s->npar;
            ev->result.nobs = s->nobs;
            ev->result.processed = e.p->processed;
            ev->result.obs = e.p->obs;
            ev->result.reason = e.p->reason;
            s->handed = e.p;
            s->st.results++;
            if (e.p->status == RUN_OK &&
                seen_add(s, (e.key.batch << 32) | e.key.run))
                s->st.useful_s += e.p->seconds;
            trace(s, e.dup ? "duplicate" : "result", e.worker, &e.key);
            return 1;
        }
    }
}

static void sim_destroy(void *impl)
{
    struct sim *s = impl;
    if (!s) return;
    payload_unref(s->handed);
    for (size_t i = 0; i < s->nheap; i++)
        payload_unref(s->heap[i].p);
    free(s->heap);
    free(s->w);
    free(s->times);
    free(s->seen);
    free(s->obs0);
    if (s->runner) runner_destroy(s->runner);
    if (s->workdir) {
        struct pr_error e;
        pr_remove_tree(s->workdir, &e);
        free(s->workdir);
    }
    if (s->trace) fclose(s->trace);
    free(s);
}

static const struct tr_ops sim_ops = {
    .name = "sim",
    .submit = sim_submit,
    .cancel = sim_cancel,
    .poll = sim_poll,
    .destroy = sim_destroy,
};

/* Run times recorded in a journal (its successful runs). */
static int load_times(struct sim *s, const char *path, struct pr_error *err)
{
    if (journal_read_times(path, &s->times, &s->ntimes, err) < 0) return -1;
    if (s->ntimes == 0)
        return pr_error_set(err, "%s: no successful run with a recorded time", path);
    return 0;
}

int sim_create(const struct pst_case *c, const struct sim_opts *o, const struct runner_opts *ropts,
               const char *workroot, struct transport *tr, struct pr_error *err)
{
    struct sim *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->c = c;
    s->npar = pst_nparams(c);
    s->nobs = pst_nobs(c);
    s->obs0 = xcalloc(s->nobs + 1, sizeof(double));
    for (size_t i = 0; i < s->nobs; i++)
        s->obs0[i] = pst_obs(c, i)->value;
    if (o->sd_s > 0) {
        s->sigma = sqrt(log(1.0 + (o->sd_s * o->sd_s) / (o->mean_s * o->mean_s)));
        s->mu = log(o->mean_s) - 0.5 * s->sigma * s->sigma;
    }
    if (o->times_from && load_times(s, o->times_from, err) < 0) goto fail;
    if (o->trace && !(s->trace = fopen(o->trace, "w"))) {
        pr_error_set(err, "%s: cannot write the simulation trace", o->trace);
        goto fail;
    }
    if (o->real_model) {
        s->workdir = pr_make_temp_dir(workroot, "pestrun-sim", err);
        if (!s->workdir) goto fail;
        struct strbuf dir = {0};
        sb_printf(&dir, "%s/model", s->workdir);
        if (pr_copy_tree(pst_dir(c), dir.data, s->workdir, err) < 0 ||
            !(s->runner = runner_create(c, dir.data, ropts, err))) {
            sb_free(&dir);
            goto fail;
        }
        sb_free(&dir);
    }
    s->w = xcalloc(o->workers, sizeof(*s->w));
    for (size_t i = 0; i < o->workers; i++) {
        struct draw d = draw_for(o->seed, 0xffffffffULL, i, 7);
        s->w[i].slow = u01(&d) < o->slow_frac;
        schedule_up(s, (int)i, o->ramp_s > 0 ? u01(&d) * o->ramp_s : 0.0);
    }
    tr->ops = &sim_ops;
    tr->impl = s;
    return 0;
fail:
    sim_destroy(s);
    return -1;
}

double sim_now(const struct transport *tr)
{
    return ((const struct sim *)tr->impl)->now;
}

void sim_stats(const struct transport *tr, struct sim_stats *out)
{
    const struct sim *s = tr->impl;
    *out = s->st;
    out->virtual_s = s->now;
    for (size_t i = 0; i < s->o.workers; i++)
        if (s->w[i].up) out->worker_s += s->now - s->w[i].up_since;
}

void sim_describe(const struct transport *tr, char *buf, size_t len)
{
    struct sim_stats st;
    struct rusage ru;
    sim_stats(tr, &st);
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    snprintf(buf, len,
             "sim: %zu workers, virtual time %.1f s, useful %.1f s, offered %.1f s, busy %.1f s, "
             "efficiency %.4f, submits %zu, results %zu, duplicates sent %zu, late %zu, "
             "workers lost %zu (reclaims %zu), first-attempt failures %zu, cancels %zu, "
             "cpu %.3f s, peak memory %.1f MB",
             ((const struct sim *)tr->impl)->o.workers, st.virtual_s, st.useful_s, st.worker_s,
             st.busy_s, st.worker_s > 0 ? st.useful_s / st.worker_s : 0.0, st.submits, st.results,
             st.duplicates_sent, st.late_sent, st.lost, st.reclaims, st.fails, st.cancels, cpu,
             (double)ru.ru_maxrss / 1024.0);
}
