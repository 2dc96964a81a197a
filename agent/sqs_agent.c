#include "sqs_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "pest/check.h"
#include "pest/pst.h"
#include "sched/journal.h"
#include "transport/local/local.h"
#include "transport/sqs/bundle.h"
#include "transport/sqs/msg.h"
#include "transport/sqs/poller.h"
#include "transport/sqs/registry.h"
#include "util/fsutil.h"
#include "util/text.h"
#include "util/clock.h"

/* A task message this agent holds (invisible to the others until it lets it go). */
struct held {
    struct sqs_message qm;
    struct sqs_msg sm;
    struct run_key key;
    struct wire_msg run; /* the run, decoded once: its arrays and text live in decoded */
    struct strbuf decoded;
    int worker; /* local worker running it, -1 while it waits */
    double started, next_beat;
    int reported;  /* its start was told to the master */
    int cancelled; /* the master wrote it off: killed, and its task deleted */
};

struct outgoing {
    char *queue_url;
    struct sqs_msg sm; /* the result; its envelope is written when it is sent */
    char *receipt;     /* the task message to delete once the result is sent; NULL: none */
};

/* A job whose runs this agent took: where its master listens, and when it last heard us. */
struct job_link {
    char job[17], case_id[17];
    char *result_queue;
    double last_sent;
    int ended; /* its master is done: its runs are dropped */
};

/* A second copy of a run held here goes back to the queue, visible again after this long. */
#define SIBLING_DELAY_S 2
/* Finished runs' task messages are deleted in batches gathered this long (well inside any
 * visibility timeout: the result is already sent). */
#define DELETE_WINDOW_S 2.0
/* While every slot has a run, results wait for others to share their SendMessageBatch a
 * quarter of the mean run time, at most this long: the slot that ended is already running its
 * next run, and the master has runs in the queue to spare (master.c). */
#define RESULT_WINDOW_MAX_S 0.25
/* A start not yet told to the master (no result went out with it) is told after this long. */
#define START_NOTICE_S 1.0
/* A job's master hears from an agent running its runs at least this often (its liveness). */
#define AGENT_HEARTBEAT_S 10.0

enum { WS_ABSENT = 0, WS_IDLE, WS_BUSY };

struct agent {
    struct sqs_agent_opts o;
    char *prefix;
    char id[96];
    int slots;
    int vt; /* the task queue's visibility timeout */
    struct aws_creds_provider *creds;
    struct aws_client *client;
    struct sqs_poller *poller;
    char *workroot;
    int own_workroot;
    char *registry_key;
    double next_registry, next_health;

    /* the bundle being served */
    char *bundle_key;
    int exec;
    double timeout_s;
    char case_id[17];
    struct pst_case *c;
    struct transport tr;
    int have_tr;
    int *ws;
    int nws;
    int generation;

    struct held *held;
    size_t nheld, capheld;
    struct outgoing *out;
    size_t nout, capout;
    double out_since;
    struct job_link *links;
    size_t nlinks;
    char *ctl_url; /* this agent's control queue (cancels), NULL when it could not be made */
    struct sqs_poller *ctl_poller;
    unsigned long cancelled;
    unsigned long rx_requests, ctl_requests; /* of pollers stopped */
    char **dels;
    size_t ndels, capdels;
    double dels_since;

    double last_activity;
    double sum_run_s;
    unsigned long runs_ok, runs_failed, released, bundles;
    int draining;
    double drain_deadline;
    int epfd;
};

static volatile sig_atomic_t stop_signal;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    stop_signal = sig;
    if (sig_pipe[1] >= 0) {
        ssize_t w = write(sig_pipe[1], "x", 1);
        (void)w;
    }
    errno = saved;
}

static unsigned long client_requests(const struct aws_client *c)
{
    struct aws_client_stats st = {0};
    if (c) aws_client_stats(c, &st);
    return st.requests;
}

static void say(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct agent *a, const char *fmt, ...)
{
    if (a->o.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pestrun agent %s: ", a->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int sqs_agent_default_slots(void)
{
    cpu_set_t set;
    int n = 1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
    /* cgroup v2 "QUOTA PERIOD" or "max PERIOD"; v1 cfs files */
    long long quota = -1, period = 0;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char q[32];
        if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0) quota = atoll(q);
        fclose(f);
    } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
        if (fscanf(f, "%lld", &quota) != 1) quota = -1;
        fclose(f);
        if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
            if (fscanf(f, "%lld", &period) != 1) period = 0;
            fclose(f);
        }
    }
    if (quota > 0 && period > 0) {
        int q = (int)((quota + period - 1) / period);
        if (q < n) n = q;
    }
    return n < 1 ? 1 : n;
}

/* ------------------------------------------------------------------------------------------ */
/* messages held                                                                              */

static void held_free(struct held *h)
{
    free(h->qm.message_id);
    free(h->qm.receipt_handle);
    free(h->qm.body);
    sqs_msg_free(&h->sm);
    sb_free(&h->decoded);
}

static void held_remove(struct agent *a, size_t i)
{
    held_free(&a->held[i]);
    a->held[i] = a->held[--a->nheld];
}

/* Make messages visible again at once, so another agent takes them now. */
static void release_receipts(struct agent *a, const char *const *r, size_t n)
{
    for (size_t i = 0; i < n; i += SQS_MAX_BATCH) {
        size_t k = n - i < SQS_MAX_BATCH ? n - i : SQS_MAX_BATCH;
        struct pr_error err;
        if (sqs_change_visibility_batch(a->client, a->o.queue_url, r + i, k, 0, NULL, &err) != 0)
            say(a, "returning messages to the queue: %s", err.msg);
        a->released += k;
    }
}

static void release_held(struct agent *a, size_t i)
{
    const char *r = a->held[i].qm.receipt_handle;
    release_receipts(a, &r, 1);
    held_remove(a, i);
}

static void flush_deletes(struct agent *a, int force)
{
    if (a->ndels == 0 ||
        (!force && a->ndels < SQS_MAX_BATCH && pr_now_s() - a->dels_since < DELETE_WINDOW_S))
        return;
    for (size_t i = 0; i < a->ndels; i += SQS_MAX_BATCH) {
        size_t k = a->ndels - i < SQS_MAX_BATCH ? a->ndels - i : SQS_MAX_BATCH;
        struct pr_error err;
        if (sqs_delete_batch(a->client, a->o.queue_url, (const char *const *)a->dels + i, k, NULL,
                             &err) != 0)
            say(a, "deleting finished runs' messages: %s", err.msg);
    }
    for (size_t i = 0; i < a->ndels; i++)
        free(a->dels[i]);
    a->ndels = 0;
}

static void delete_later(struct agent *a, char *receipt)
{
    if (a->ndels == a->capdels) {
        a->capdels = a->capdels ? a->capdels * 2 : 16;
        a->dels = xrealloc(a->dels, a->capdels * sizeof(char *));
    }
    if (a->ndels == 0) a->dels_since = pr_now_s();
    a->dels[a->ndels++] = receipt;
}

static struct job_link *link_for(struct agent *a, const char *job)
{
    for (size_t i = 0; i < a->nlinks; i++)
        if (strcmp(a->links[i].job, job) == 0) return &a->links[i];
    return NULL;
}

static void add_link(struct agent *a, const struct sqs_msg *sm)
{
    if (link_for(a, sm->job)) return;
    a->links = xrealloc(a->links, (a->nlinks + 1) * sizeof(*a->links));
    struct job_link *l = &a->links[a->nlinks++];
    memset(l, 0, sizeof(*l));
    memcpy(l->job, sm->job, 17);
    memcpy(l->case_id, sm->case_id, 17);
    l->result_queue = xstrdup(sm->result_queue);
    l->last_sent = pr_now_s();
}

/* The envelope of a result or status for job l: who we are and the copies of the job running
 * here, whose starts the master then knows (the clock of its overdue rule, and where to send
 * a cancel). */
static void encode_envelope(struct agent *a, struct job_link *l, struct sqs_msg *sm,
                            struct strbuf *out)
{
    struct run_key keys[SQS_MSG_MAX_KEYS];
    size_t n = 0;
    for (size_t i = 0; i < a->nheld && n < SQS_MSG_MAX_KEYS; i++) {
        struct held *h = &a->held[i];
        if (h->worker < 0 || h->cancelled || strcmp(h->sm.job, l->job) != 0) continue;
        keys[n++] = h->key;
        h->reported = 1;
    }
    sm->agent = a->id;
    sm->ctl = a->ctl_url;
    sm->slots = a->slots;
    sm->keys = keys;
    sm->nkeys = n;
    sqs_msg_encode(sm, out);
    sm->agent = sm->ctl = NULL;
    sm->keys = NULL;
    sm->nkeys = 0;
    l->last_sent = pr_now_s();
}

/* A new, zeroed entry at the end of the outgoing messages. */
static struct outgoing *out_push(struct agent *a)
{
    if (a->nout == a->capout) {
        a->capout = a->capout ? a->capout * 2 : 16;
        a->out = xrealloc(a->out, a->capout * sizeof(*a->out));
    }
    struct outgoing *o = &a->out[a->nout++];
    memset(o, 0, sizeof(*o));
    return o;
}

/* A status message (the runs running now) to job link l's master, queued with the results. */
static void queue_status(struct agent *a, const struct job_link *l)
{
    struct outgoing *o = out_push(a);
    o->queue_url = xstrdup(l->result_queue);
    o->sm.type = SQS_MSG_STATUS;
    memcpy(o->sm.job, l->job, 17);
    memcpy(o->sm.case_id, l->case_id, 17);
}

/* A status for each job whose master should hear from us: a start not told for
 * START_NOTICE_S, or no word for AGENT_HEARTBEAT_S while its runs run here. Jobs with results
 * waiting need none (the results carry the same). */
static void queue_statuses(struct agent *a)
{
    double t = pr_now_s();
    for (size_t k = 0; k < a->nlinks; k++) {
        struct job_link *l = &a->links[k];
        int due = 0, running = 0;
        for (size_t i = 0; i < a->nheld; i++) {
            const struct held *h = &a->held[i];
            if (h->worker < 0 || h->cancelled || strcmp(h->sm.job, l->job) != 0) continue;
            running = 1;
            if (!h->reported && t - h->started >= START_NOTICE_S) due = 1;
        }
        if (!running || (!due && t - l->last_sent < AGENT_HEARTBEAT_S)) continue;
        int waiting = 0;
        for (size_t i = 0; i < a->nout && !waiting; i++)
            waiting = strcmp(a->out[i].sm.job, l->job) == 0;
        if (waiting) continue;
        queue_status(a, l);
        a->out_since = t - RESULT_WINDOW_MAX_S; /* nothing to wait for */
    }
}

/* Before the agent goes: a last status (nothing running) to the masters that heard from it
 * lately, so that they do not wait for it (and do not take it for dead). */
static void queue_goodbyes(struct agent *a)
{
    double t = pr_now_s();
    for (size_t k = 0; k < a->nlinks; k++) {
        struct job_link *l = &a->links[k];
        if (t - l->last_sent > 3 * AGENT_HEARTBEAT_S) continue;
        queue_status(a, l);
    }
}

/* When the earliest status is due (a large number when none is; a job with results waiting
 * needs none). */
static double next_status(const struct agent *a)
{
    double t = 1e300;
    for (size_t k = 0; k < a->nlinks; k++) {
        const struct job_link *l = &a->links[k];
        int waiting = 0;
        for (size_t i = 0; i < a->nout && !waiting; i++)
            waiting = strcmp(a->out[i].sm.job, l->job) == 0;
        if (waiting) continue;
        for (size_t i = 0; i < a->nheld; i++) {
            const struct held *h = &a->held[i];
            if (h->worker < 0 || h->cancelled || strcmp(h->sm.job, l->job) != 0) continue;
            double due = l->last_sent + AGENT_HEARTBEAT_S;
            if (!h->reported && h->started + START_NOTICE_S < due)
                due = h->started + START_NOTICE_S;
            if (due < t) t = due;
        }
    }
    return t;
}

static int idle_workers(const struct agent *a);

static double result_window(const struct agent *a)
{
    if (!a->have_tr || idle_workers(a) > 0) return 0; /* a slot waits for more: go now */
    double w = a->runs_ok ? a->sum_run_s / (double)a->runs_ok / 4.0 : 0.0;
    return w > RESULT_WINDOW_MAX_S ? RESULT_WINDOW_MAX_S : w;
}

/* Send the results waiting, ten to a batch per result queue, then delete their tasks. Results
 * wait result_window() for company, unless force (a stop) or ten are there. */
static void flush_results(struct agent *a, int force)
{
    queue_statuses(a);
    if (a->nout && !force && a->nout < SQS_MAX_BATCH &&
        pr_now_s() - a->out_since < result_window(a)) {
        flush_deletes(a, 0);
        return;
    }
    while (a->nout) {
        const char *q = a->out[0].queue_url;
        struct strbuf bodies[SQS_MAX_BATCH];
        const char *bp[SQS_MAX_BATCH];
        size_t idx[SQS_MAX_BATCH], n = 0, bytes = 0;
        for (size_t i = 0; i < a->nout && n < SQS_MAX_BATCH; i++) {
            struct outgoing *o = &a->out[i];
            if (strcmp(o->queue_url, q) != 0) continue;
            struct job_link *l = link_for(a, o->sm.job);
            struct strbuf body = {0};
            if (l)
                encode_envelope(a, l, &o->sm, &body);
            else
                sqs_msg_encode(&o->sm, &body);
            if (n && bytes + body.len > SQS_MAX_MESSAGE_BYTES) {
                sb_free(&body);
                break;
            }
            bytes += body.len;
            bodies[n] = body;
            bp[n] = body.data;
            idx[n++] = i;
        }
        int ok[SQS_MAX_BATCH];
        struct pr_error err;
        int rc = sqs_send_batch(a->client, q, bp, n, ok, &err);
        if (rc != 0) say(a, "sending results to %s: %s", q, err.msg);
        char *rel[SQS_MAX_BATCH];
        size_t nrel = 0;
        for (size_t k = n; k-- > 0;) { /* from the back: removal keeps the lower indexes */
            struct outgoing *o = &a->out[idx[k]];
            if (o->receipt && rc >= 0 && ok[k])
                delete_later(a, o->receipt);
            else if (o->receipt)
                rel[nrel++] = o->receipt; /* let another agent run it again */
            free(o->queue_url);
            sqs_msg_free(&o->sm);
            sb_free(&bodies[k]);
            a->out[idx[k]] = a->out[--a->nout];
        }
        release_receipts(a, (const char *const *)rel, nrel);
        for (size_t k = 0; k < nrel; k++)
            free(rel[k]);
    }
    flush_deletes(a, force);
}

static void queue_result(struct agent *a, size_t hi, const struct run_result *res)
{
    struct held *h = &a->held[hi];
    struct wire_msg w = {.type = WIRE_RESULT,
                         .key = h->key,
                         .status = (int32_t)res->status,
                         .seconds = res->seconds};
    if (res->status == RUN_OK) {
        w.npar = res->npar;
        w.values = res->processed;
        w.nobs = res->nobs;
        w.obs = res->obs;
    } else {
        w.text = res->reason ? res->reason : "failed";
    }
    struct sqs_msg sm = {.type = SQS_MSG_RESULT, .agent = a->id};
    memcpy(sm.job, h->sm.job, 17);
    memcpy(sm.case_id, h->sm.case_id, 17);
    wire_encode(&w, &sm.wire);
    if (sm.wire.len > SQS_MSG_INLINE_MAX) {
        struct strbuf key = {0};
        struct pr_error err;
        sb_printf(&key, "%s/jobs/%s/results/%llu-%u-%u-%s", a->prefix, h->sm.job,
                  (unsigned long long)h->key.batch, h->key.run, h->key.attempt, a->id);
        if (s3_put(a->client, a->o.bucket, key.data, sm.wire.data, sm.wire.len, NULL, &err) < 0) {
            say(a, "storing a large result: %s", err.msg);
            sb_free(&key);
            sb_free(&sm.wire);
            release_held(a, hi);
            return;
        }
        sm.payload_key = sb_take(&key);
    }
    if (a->nout == 0) a->out_since = pr_now_s();
    sm.agent = NULL;
    struct outgoing *o = out_push(a);
    o->queue_url = xstrdup(h->sm.result_queue);
    o->sm = sm;
    o->receipt = h->qm.receipt_handle;
    h->qm.receipt_handle = NULL;
    held_remove(a, hi);
}

/* A result that never ran (bad bundle, bad message): reported so the master sees why. */
static void fail_held(struct agent *a, size_t hi, const char *why)
{
    struct run_result res = {.status = RUN_FAILED, .reason = (char *)why};
    say(a, "run %llu/%u failed before it started: %s", (unsigned long long)a->held[hi].key.batch,
        a->held[hi].key.run, why);
    queue_result(a, hi, &res);
}

/* Keep running runs' messages invisible. */
static void heartbeats(struct agent *a)
{
    double t = pr_now_s();
    const char *r[SQS_MAX_BATCH];
    size_t n = 0;
    for (size_t i = 0; i <= a->nheld; i++) {
        if (i < a->nheld && a->held[i].next_beat <= t) {
            r[n++] = a->held[i].qm.receipt_handle;
            a->held[i].next_beat = t + a->vt / 2.0;
        }
        if (n == SQS_MAX_BATCH || (i == a->nheld && n)) {
            struct pr_error err;
            if (sqs_change_visibility_batch(a->client, a->o.queue_url, r, n, a->vt, NULL, &err) !=
                0)
                say(a, "extending the invisibility of running runs: %s", err.msg);
            n = 0;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* bundles and workers                                                                        */

static int busy_workers(const struct agent *a)
{
    int k = 0;
    for (int i = 0; i < a->nws; i++)
        k += a->ws[i] == WS_BUSY;
    return k;
}

static int idle_workers(const struct agent *a)
{
    int k = 0;
    for (int i = 0; i < a->nws; i++)
        k += a->ws[i] == WS_IDLE;
    return k;
}

static void stop_workers(struct agent *a)
{
    if (!a->have_tr) return;
    a->tr.ops->destroy(a->tr.impl);
    a->have_tr = 0;
    free(a->ws);
    a->ws = NULL;
    a->nws = 0;
    pst_destroy(a->c);
    a->c = NULL;
}

/* Download and extract the bundle (once: kept by its hash), load its control file and start
 * the workers. Returns 0, or -1 with err (the message's run is then reported failed). */
static int serve_bundle(struct agent *a, const struct sqs_msg *sm, struct pr_error *err)
{
    stop_workers(a);
    const char *base = strrchr(sm->bundle, '/');
    base = base ? base + 1 : sm->bundle;
    if (!*base || strchr(base, '\\') || strcmp(base, "..") == 0 || base[0] == '.')
        return pr_error_set(err, "bad bundle key '%s'", sm->bundle);
    struct strbuf dir = {0}, file = {0}, pst = {0}, work = {0};
    sb_printf(&dir, "%s/bundles/%s", a->workroot, base);
    sb_printf(&file, "%s/bundles/%s.download", a->workroot, base);
    int rc = -1;
    struct stat st;
    if (stat(dir.data, &st) != 0) {
        char *bdir = pr_dirname(dir.data);
        mkdir(bdir, 0700);
        free(bdir);
        double t0 = pr_now_s();
        int got = s3_get_file(a->client, a->o.bucket, sm->bundle, file.data, err);
        if (got == 0)
            pr_error_set(err, "the bundle s3://%s/%s is missing", a->o.bucket, sm->bundle);
        if (got <= 0) goto out;
        struct bundle_limits lim = {0};
        int x = bundle_extract(file.data, dir.data, &lim, err);
        unlink(file.data);
        if (x < 0) goto out;
        a->bundles++;
        say(a, "bundle %s downloaded and extracted in %.2fs", sm->bundle, pr_now_s() - t0);
    }
    if (strchr(sm->pst, '/') || strcmp(sm->pst, "..") == 0) {
        pr_error_set(err, "bad control file name '%s'", sm->pst);
        goto out;
    }
    sb_printf(&pst, "%s/%s", dir.data, sm->pst);
    a->c = pst_load(pst.data, err);
    if (!a->c) goto out;
    struct pst_check_sink sink = {NULL, NULL, 0, 0};
    if (pst_check(a->c, NULL, &sink) > 0) {
        pr_error_set(err, "%s: the bundle's case has problems ('pestrun check' shows them)",
                     sm->pst);
        goto out_case;
    }
    char cid[17];
    sqs_hex64(journal_case_id_names(pst_param_names(a->c), pst_obs_names(a->c)), cid);
    int same = strcmp(cid, sm->case_id) == 0;
    if (!same) {
        pr_error_set(err,
                     "the bundle's control file %s has other parameter or observation names "
                     "than the master's",
                     sm->pst);
        goto out_case;
    }
    struct local_opts lo = {
        .nworkers = a->slots, .pin = a->o.pin, .keep_workdirs = a->o.keep_workdirs};
    lo.ropts.exec = sm->exec ? RUNNER_EXEC : RUNNER_SHELL;
    lo.ropts.timeout_s = sm->timeout_s;
    lo.ropts.log_name = "pestrun-model.log";
    sb_printf(&work, "%s/work-%d", a->workroot, ++a->generation);
    lo.workroot = work.data;
    if (local_create(a->c, &lo, &a->tr, err) < 0) goto out_case;
    a->have_tr = 1;
    a->nws = local_nworkers(&a->tr);
    a->ws = xcalloc((size_t)a->nws, sizeof(int));
    free(a->bundle_key);
    a->bundle_key = xstrdup(sm->bundle);
    a->exec = sm->exec;
    a->timeout_s = sm->timeout_s;
    memcpy(a->case_id, sm->case_id, 17);
    rc = 0;
    goto out;
out_case:
    pst_destroy(a->c);
    a->c = NULL;
out:
    if (rc < 0) pr_remove_tree(dir.data, &(struct pr_error){0}); /* fetched again next time */
    sb_free(&dir);
    sb_free(&file);
    sb_free(&pst);
    sb_free(&work);
    return rc;
}

static int serves(const struct agent *a, const struct sqs_msg *sm)
{
    return a->have_tr && a->bundle_key && strcmp(a->bundle_key, sm->bundle) == 0 &&
           a->exec == sm->exec && a->timeout_s == sm->timeout_s &&
           strcmp(a->case_id, sm->case_id) == 0;
}

/* Start waiting runs on idle workers; switch bundles when nothing runs. */
static void dispatch(struct agent *a)
{
    for (size_t i = 0; i < a->nheld;) {
        struct held *h = &a->held[i];
        if (h->worker >= 0) {
            i++;
            continue;
        }
        if (!serves(a, &h->sm)) {
            if (busy_workers(a) > 0) { /* another job's runs first */
                i++;
                continue;
            }
            struct pr_error err;
            if (serve_bundle(a, &h->sm, &err) < 0) {
                fail_held(a, i, err.msg);
                continue;
            }
        }
        int w = -1;
        for (int k = 0; k < a->nws && w < 0; k++)
            if (a->ws[k] == WS_IDLE) w = k;
        if (w < 0) {
            i++;
            continue;
        }
        struct pr_error err;
        struct run_request rq = {
            .key = h->run.key, .npar = h->run.npar, .values = h->run.values, .info = h->run.text};
        if (a->tr.ops->submit(a->tr.impl, w, &rq, &err) < 0) {
            a->ws[w] = WS_ABSENT;
            continue; /* tried again on another worker */
        }
        a->ws[w] = WS_BUSY;
        h->worker = w;
        h->started = pr_now_s();
        i++;
    }
}

static int holds_copy_of(const struct agent *a, const struct held *h)
{
    for (size_t i = 0; i < a->nheld; i++) {
        const struct held *o = &a->held[i];
        if (o->key.batch == h->key.batch && o->key.run == h->key.run &&
            o->key.attempt != h->key.attempt && strcmp(o->sm.job, h->sm.job) == 0)
            return 1;
    }
    return 0;
}

/* Take new task messages from the poller. */
static void take_messages(struct agent *a)
{
    if (!a->poller) return;
    struct sqs_message *qm;
    size_t n = sqs_poller_take(a->poller, &qm);
    for (size_t i = 0; i < n; i++) {
        struct held h = {.qm = qm[i], .worker = -1};
        struct pr_error err;
        a->last_activity = pr_now_s();
        if (a->draining) { /* came after the stop: give it back */
            const char *r = qm[i].receipt_handle;
            release_receipts(a, &r, 1);
            held_free(&h);
            continue;
        }
        int ok = sqs_msg_decode(qm[i].body, &h.sm, &err) == 0 && h.sm.type == SQS_MSG_RUN;
        if (ok && h.sm.payload_key) {
            int got = s3_get(a->client, a->o.bucket, h.sm.payload_key, &h.sm.wire, &err);
            if (got == 0) pr_error_set(&err, "payload %s is missing", h.sm.payload_key);
            ok = got == 1;
        }
        if (ok && (wire_decode(h.sm.wire.data, h.sm.wire.len, &h.run, &h.decoded, &err) < 0 ||
                   h.run.type != WIRE_RUN))
            ok = 0;
        if (!ok) {
            /* not ours to judge: left alone, it comes back after the visibility timeout and
             * the queue's redrive policy moves it to the dead-letter queue in the end */
            say(a, "message %s is not a pestrun run (%s); left to the dead-letter queue",
                qm[i].message_id, err.msg);
            held_free(&h);
            continue;
        }
        h.key = h.run.key;
        sb_free(&h.sm.wire);
        if (holds_copy_of(a, &h)) {
            /* a second copy of a run held here (the master's overdue copy) must not wait
             * behind the first: others take it, in a moment */
            const char *r = h.qm.receipt_handle;
            if (sqs_change_visibility_batch(a->client, a->o.queue_url, &r, 1, SIBLING_DELAY_S, NULL,
                                            &err) != 0)
                say(a, "returning a second copy to the queue: %s", err.msg);
            held_free(&h);
            continue;
        }
        add_link(a, &h.sm);
        if (link_for(a, h.sm.job)->ended) { /* its master is gone: nobody wants the result */
            delete_later(a, h.qm.receipt_handle);
            h.qm.receipt_handle = NULL;
            held_free(&h);
            a->cancelled++;
            continue;
        }
        h.next_beat = pr_now_s() + a->vt / 2.0;
        if (a->nheld == a->capheld) {
            a->capheld = a->capheld ? a->capheld * 2 : 16;
            a->held = xrealloc(a->held, a->capheld * sizeof(*a->held));
        }
        a->held[a->nheld++] = h;
    }
    free(qm);
}

/* Cancels from the master: kill the copies named (a RESULT cancelled follows for each) and
 * drop those not started; their task messages are deleted, as the master wrote them off. */
static void take_cancels(struct agent *a)
{
    if (!a->ctl_poller) return;
    struct sqs_message *qm;
    size_t n = sqs_poller_take(a->ctl_poller, &qm);
    sqs_poller_want(a->ctl_poller, SQS_MAX_BATCH);
    const char *done[SQS_MAX_BATCH];
    for (size_t i = 0; i < n; i++) {
        struct sqs_msg sm;
        struct pr_error err;
        done[i] = qm[i].receipt_handle;
        if (sqs_msg_decode(qm[i].body, &sm, &err) < 0 || sm.type != SQS_MSG_CANCEL) {
            say(a, "dropping a message on the control queue that is not a cancel");
            if (sm.type) sqs_msg_free(&sm);
            continue;
        }
        struct job_link *l = link_for(a, sm.job);
        if (sm.ended && l) l->ended = 1;
        for (size_t j = 0; j < a->nheld;) {
            struct held *h = &a->held[j];
            int named = 0;
            for (size_t k = 0; k < sm.nkeys && !named; k++)
                named = run_key_eq(&h->key, &sm.keys[k]);
            if (h->cancelled || strcmp(h->sm.job, sm.job) != 0 || !(named || sm.ended)) {
                j++;
                continue;
            }
            h->cancelled = 1;
            if (h->worker >= 0) {
                a->tr.ops->cancel(a->tr.impl, h->worker, &h->key);
                j++;
            } else {
                delete_later(a, h->qm.receipt_handle);
                h->qm.receipt_handle = NULL;
                held_remove(a, j);
                a->cancelled++;
            }
        }
        sqs_msg_free(&sm);
    }
    struct pr_error err;
    if (n && sqs_delete_batch(a->client, a->ctl_url, done, n, NULL, &err) != 0)
        say(a, "deleting cancels: %s", err.msg);
    sqs_messages_free(qm, n);
}

static long held_by_worker(const struct agent *a, int w)
{
    for (size_t i = 0; i < a->nheld; i++)
        if (a->held[i].worker == w) return (long)i;
    return -1;
}

static void on_event(struct agent *a, struct tr_event *ev)
{
    long hi;
    switch (ev->type) {
    case TR_EV_WORKER_UP:
        if (ev->worker >= 0 && ev->worker < a->nws) a->ws[ev->worker] = WS_IDLE;
        break;
    case TR_EV_WORKER_LOST:
        if (ev->worker < 0 || ev->worker >= a->nws) break;
        a->ws[ev->worker] = WS_ABSENT;
        hi = held_by_worker(a, ev->worker);
        if (hi >= 0) {
            /* the worker died under this run (maybe the run killed it): back to the queue at
             * once, so the redrive policy counts it */
            say(a,
                "worker %d died running run %llu/%u (%s); its message goes back to the "
                "queue",
                ev->worker, (unsigned long long)a->held[hi].key.batch, a->held[hi].key.run,
                ev->detail);
            release_held(a, (size_t)hi);
        }
        if (a->have_tr && local_respawns_left(&a->tr) == 0 &&
            idle_workers(a) + busy_workers(a) == 0)
            stop_workers(a); /* started again for the next run */
        break;
    case TR_EV_RESULT:
        if (ev->worker < 0 || ev->worker >= a->nws) break;
        a->ws[ev->worker] = WS_IDLE;
        hi = held_by_worker(a, ev->worker);
        if (hi < 0 || !run_key_eq(&a->held[hi].key, &ev->key)) break;
        a->last_activity = pr_now_s();
        if (a->held[hi].cancelled) { /* written off by the master: nobody runs it again */
            say(a, "run %llu/%u/%u cancelled by the master: killed after %.2fs",
                (unsigned long long)a->held[hi].key.batch, a->held[hi].key.run,
                a->held[hi].key.attempt, pr_now_s() - a->held[hi].started);
            delete_later(a, a->held[hi].qm.receipt_handle);
            a->held[hi].qm.receipt_handle = NULL;
            held_remove(a, (size_t)hi);
            a->cancelled++;
            break;
        }
        if (ev->result.status == RUN_CANCELLED) { /* killed by the drain */
            release_held(a, (size_t)hi);
            break;
        }
        if (ev->result.status == RUN_OK) {
            a->runs_ok++;
            a->sum_run_s += ev->result.seconds;
        } else {
            a->runs_failed++;
        }
        queue_result(a, (size_t)hi, &ev->result);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* the loop                                                                                   */

static void start_drain(struct agent *a)
{
    a->draining = 1;
    a->drain_deadline = pr_now_s() + a->o.drain_s;
    /* no more receiving: a long poll in progress is cut short, and what it got goes back */
    struct sqs_message *left;
    size_t nleft;
    a->rx_requests += sqs_poller_requests(a->poller);
    sqs_poller_stop(a->poller, &left, &nleft);
    a->poller = NULL;
    for (size_t i = 0; i < nleft; i++) {
        const char *r = left[i].receipt_handle;
        release_receipts(a, &r, 1);
    }
    sqs_messages_free(left, nleft);
    /* others take over the runs not started, and those that cannot end in time */
    double mean = a->runs_ok ? a->sum_run_s / (double)a->runs_ok : -1;
    int kept = 0;
    for (size_t i = 0; i < a->nheld;) {
        struct held *h = &a->held[i];
        if (h->worker < 0) {
            release_held(a, i);
            continue;
        }
        int fits = a->o.drain_s > 0 && (mean < 0 || h->started + mean <= a->drain_deadline);
        if (!fits) {
            a->tr.ops->cancel(a->tr.impl, h->worker, &h->key);
        } else {
            kept++;
        }
        i++;
    }
    if (a->registry_key) {
        struct pr_error err;
        s3_delete(a->client, a->o.bucket, a->registry_key, &err);
        free(a->registry_key);
        a->registry_key = NULL;
    }
    say(a, "%s: stopping; %d run%s may finish within %.0fs, the others go back to the queue",
        stop_signal == SIGINT ? "SIGINT" : "SIGTERM", kept, kept == 1 ? "" : "s", a->o.drain_s);
}

static void touch_health(struct agent *a)
{
    if (!a->o.health_file || pr_now_s() < a->next_health) return;
    int fd = open(a->o.health_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
    a->next_health = pr_now_s() + 10;
}

static int refresh_registry(struct agent *a, struct pr_error *err)
{
    if (a->draining || pr_now_s() < a->next_registry) return 0;
    if (registry_put(a->client, a->o.bucket, a->prefix, a->o.queue_url, a->id, a->slots,
                     time(NULL) + REGISTRY_TTL_S, &a->registry_key, err) < 0)
        return -1;
    a->next_registry = pr_now_s() + REGISTRY_REFRESH_S;
    return 0;
}

/* The agent's own control queue, long-polled for cancels (one request every 20 s while
 * nothing comes). Without it (no sqs:CreateQueue permission) cancelled copies run to their
 * end, as they did before. */
static void start_control(struct agent *a)
{
    char name[128];
    struct pr_error err;
    snprintf(name, sizeof(name), "pestrun-ctl-%s", a->id);
    if (sqs_create_queue(a->client, name, 30, &a->ctl_url, &err) != 0) {
        say(a, "warning: no control queue (%s): cancelled runs will run to their end", err.msg);
        return;
    }
    a->ctl_poller = sqs_poller_start(a->creds, aws_client_region(a->client), a->ctl_url, &err);
    if (!a->ctl_poller) {
        say(a, "warning: cannot receive from the control queue: %s", err.msg);
        return;
    }
    sqs_poller_want(a->ctl_poller, SQS_MAX_BATCH);
}

static int setup(struct agent *a, struct pr_error *err)
{
    char host[64] = "agent";
    gethostname(host, sizeof(host) - 1);
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '-';
    char rnd[17];
    sqs_new_job_id(rnd);
    snprintf(a->id, sizeof(a->id), "%.40s-%d-%.4s", host, (int)getpid(), rnd);
    a->prefix = xstrdup(a->o.prefix ? a->o.prefix : "pestrun");
    while (*a->prefix && a->prefix[strlen(a->prefix) - 1] == '/')
        a->prefix[strlen(a->prefix) - 1] = '\0';
    a->slots = a->o.slots > 0 ? a->o.slots : sqs_agent_default_slots();
    if (a->o.workdir) {
        a->workroot = xstrdup(a->o.workdir);
        if (mkdir(a->workroot, 0700) < 0 && errno != EEXIST)
            return pr_error_set(err, "%s: cannot create the work folder: %s", a->workroot,
                                strerror(errno));
    } else {
        a->workroot = pr_make_temp_dir(NULL, "pestrun-agent", err);
        if (!a->workroot) return -1;
        a->own_workroot = 1;
    }
    a->creds = aws_creds_chain_new();
    char *region = sqs_region_for(a->o.queue_url);
    a->client = aws_client_new(a->creds, region, err);
    free(region);
    if (!a->client) return -1;
    const char *names[] = {"VisibilityTimeout"};
    cJSON *attrs = NULL;
    if (sqs_get_attributes(a->client, a->o.queue_url, names, 1, &attrs, err) != 0)
        return pr_error_prefix(err, "task queue %s", a->o.queue_url), -1;
    const cJSON *vt = cJSON_GetObjectItemCaseSensitive(attrs, "VisibilityTimeout");
    a->vt = cJSON_IsString(vt) ? atoi(vt->valuestring) : 30;
    if (a->vt < 2) a->vt = 2;
    cJSON_Delete(attrs);
    if (refresh_registry(a, err) < 0) return pr_error_prefix(err, "bucket %s", a->o.bucket), -1;
    a->poller = sqs_poller_start(a->creds, aws_client_region(a->client), a->o.queue_url, err);
    if (!a->poller) return -1;
    start_control(a);
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0 || pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return pr_error_set(err, "epoll/pipe: %s", strerror(errno));
    struct epoll_event e1 = {.events = EPOLLIN, .data.fd = sqs_poller_fd(a->poller)};
    struct epoll_event e2 = {.events = EPOLLIN, .data.fd = sig_pipe[0]};
    epoll_ctl(a->epfd, EPOLL_CTL_ADD, e1.data.fd, &e1);
    epoll_ctl(a->epfd, EPOLL_CTL_ADD, e2.data.fd, &e2);
    if (a->ctl_poller) {
        struct epoll_event e3 = {.events = EPOLLIN, .data.fd = sqs_poller_fd(a->ctl_poller)};
        epoll_ctl(a->epfd, EPOLL_CTL_ADD, e3.data.fd, &e3);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void drain_sig_pipe(void)
{
    char buf[64];
    while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
        ;
}

static double next_wake(const struct agent *a)
{
    double t = pr_now_s() + 3600;
    for (size_t i = 0; i < a->nheld; i++)
        if (a->held[i].next_beat < t) t = a->held[i].next_beat;
    if (!a->draining && a->next_registry < t) t = a->next_registry;
    if (a->o.health_file && a->next_health < t) t = a->next_health;
    if (a->ndels && a->dels_since + DELETE_WINDOW_S < t) t = a->dels_since + DELETE_WINDOW_S;
    if (a->nout && a->out_since + result_window(a) < t) t = a->out_since + result_window(a);
    double st = next_status(a);
    if (st < t) t = st;
    if (a->draining && a->drain_deadline < t) t = a->drain_deadline;
    if (a->o.idle_exit_s > 0 && a->nheld == 0 && a->last_activity + a->o.idle_exit_s < t)
        t = a->last_activity + a->o.idle_exit_s;
    return t;
}

/* How many task messages to ask for now. Each slot holds its next run while the current one
 * runs (2 messages a slot), so a slot never waits a round trip between runs; a busy agent
 * asks again only when a message a slot is missing, so that receives come in batches. */
static int room(const struct agent *a)
{
    int waiting = 0;
    for (size_t i = 0; i < a->nheld; i++)
        waiting += a->held[i].worker < 0;
    if (!a->have_tr) return a->nheld ? 0 : a->slots; /* the first run brings the bundle */
    int live = idle_workers(a) + busy_workers(a);
    if (live == 0) return 0; /* workers starting: their WORKER_UP comes first */
    int free = 2 * live - (int)a->nheld;
    if (free <= 0) return 0;
    if (idle_workers(a) > waiting) return free; /* a slot has nothing to do */
    return free >= live ? free : 0;
}

static int loop(struct agent *a, struct pr_error *err)
{
    a->last_activity = pr_now_s();
    for (;;) {
        if (stop_signal && !a->draining) start_drain(a);
        dispatch(a);
        flush_results(a, a->draining);
        heartbeats(a);
        touch_health(a);
        if (refresh_registry(a, err) < 0) say(a, "cannot renew the registration: %s", err->msg);
        if (a->draining) {
            if (a->nheld == 0) return 0;
            if (pr_now_s() >= a->drain_deadline) {
                say(a, "drain time over: %zu run%s killed and returned to the queue", a->nheld,
                    a->nheld == 1 ? "" : "s");
                stop_workers(a);
                while (a->nheld)
                    release_held(a, 0);
                return 0;
            }
        } else if (a->o.idle_exit_s > 0 && a->nheld == 0 && a->nout == 0 &&
                   pr_now_s() - a->last_activity >= a->o.idle_exit_s) {
            say(a, "no run for %.0fs: exiting", a->o.idle_exit_s);
            return 0;
        }
        char why[512];
        if (a->poller && sqs_poller_failures(a->poller, why, sizeof(why)) >= 10)
            return pr_error_set(err, "cannot receive from %s: %s", a->o.queue_url, why);
        if (a->poller) sqs_poller_want(a->poller, room(a));

        double ms = (next_wake(a) - pr_now_s()) * 1000.0;
        int wait_ms = ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms + 1;
        struct tr_event ev;
        int rc;
        if (a->have_tr) {
            rc = a->tr.ops->poll(a->tr.impl, &ev, wait_ms, a->epfd, err);
            if (rc < 0) return -1;
            if (rc == 1 && ev.type != TR_EV_EXTRA_FD) {
                on_event(a, &ev);
                continue;
            }
        } else {
            struct pollfd p = {.fd = a->epfd, .events = POLLIN};
            rc = poll(&p, 1, wait_ms);
            if (rc < 0 && errno != EINTR) return pr_error_set(err, "poll: %s", strerror(errno));
        }
        drain_sig_pipe();
        take_messages(a);
        take_cancels(a);
    }
}

static void teardown(struct agent *a)
{
    if (a->poller) {
        struct sqs_message *left;
        size_t n;
        a->rx_requests += sqs_poller_requests(a->poller);
        sqs_poller_stop(a->poller, &left, &n);
        for (size_t i = 0; i < n; i++) {
            const char *r = left[i].receipt_handle;
            release_receipts(a, &r, 1);
        }
        sqs_messages_free(left, n);
    }
    if (a->client) {
        while (a->nheld)
            release_held(a, 0);
        flush_results(a, 1);
        queue_goodbyes(a);
        flush_results(a, 1);
        flush_deletes(a, 1);
        if (a->ctl_poller) a->ctl_requests += sqs_poller_requests(a->ctl_poller);
        sqs_poller_stop(a->ctl_poller, NULL, NULL);
        a->ctl_poller = NULL;
        struct pr_error err;
        if (a->ctl_url && sqs_delete_queue(a->client, a->ctl_url, &err) != 0)
            say(a, "removing the control queue: %s", err.msg);
        if (a->registry_key) s3_delete(a->client, a->o.bucket, a->registry_key, &err);
    }
    stop_workers(a);
    if (a->own_workroot && !a->o.keep_workdirs && a->workroot) {
        struct pr_error err;
        pr_remove_tree(a->workroot, &err);
    }
    if (a->ctl_poller) a->ctl_requests += sqs_poller_requests(a->ctl_poller);
    a->rx_requests += a->ctl_requests;
    if (a->epfd >= 0) /* it served: the summary (not after a failed start) */
        say(a,
            "%lu runs done, %lu failed, %lu cancelled by the master, %lu messages returned to "
            "the queue, %lu bundle%s downloaded, %lu requests (receive %lu, control %lu)",
            a->runs_ok, a->runs_failed, a->cancelled, a->released, a->bundles,
            a->bundles == 1 ? "" : "s", client_requests(a->client) + a->rx_requests, a->rx_requests,
            a->ctl_requests);
    if (a->epfd >= 0) close(a->epfd);
    for (int k = 0; k < 2; k++)
        if (sig_pipe[k] >= 0) {
            close(sig_pipe[k]);
            sig_pipe[k] = -1;
        }
    sqs_poller_stop(a->ctl_poller, NULL, NULL);
    free(a->ctl_url);
    for (size_t i = 0; i < a->nlinks; i++)
        free(a->links[i].result_queue);
    free(a->links);
    free(a->held);
    free(a->out);
    free(a->dels);
    free(a->bundle_key);
    free(a->registry_key);
    free(a->workroot);
    free(a->prefix);
    aws_client_free(a->client);
    aws_creds_provider_free(a->creds);
}

int sqs_agent_main(const struct sqs_agent_opts *o)
{
    struct agent a;
    struct pr_error err;
    memset(&a, 0, sizeof(a));
    a.o = *o;
    a.epfd = -1;
    if (a.o.drain_s < 0) a.o.drain_s = 0;
    int rc = setup(&a, &err);
    if (rc == 0) {
        say(&a, "%d slot%s on %s (bucket %s, prefix %s, visibility timeout %ds), work folder %s",
            a.slots, a.slots == 1 ? "" : "s", o->queue_url, o->bucket, a.prefix, a.vt, a.workroot);
        rc = loop(&a, &err);
    }
    if (rc < 0) {
        aws_creds_explain(a.creds, &err);
        fprintf(stderr, "pestrun agent: %s\n", err.msg);
    }
    teardown(&a);
    return rc < 0 ? 1 : 0;
}
