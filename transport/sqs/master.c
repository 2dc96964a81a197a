#include "master.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "bundle.h"
#include "msg.h"
#include "poller.h"
#include "registry.h"
#include "sched/evq.h"
#include "sched/journal.h"
#include "util/fsutil.h"
#include "util/text.h"
#include "util/clock.h"

enum vw_state { VW_ABSENT = 0, VW_IDLE, VW_BUSY };

/* A worker as the scheduler sees it: one run copy out, running on an agent slot, held there
 * as the slot's next run, or waiting in the task queue. */
struct vworker {
    enum vw_state state;
    struct run_key key;
    char *payload_key; /* the run's S3 payload, when it did not fit in the message */
    int agent;         /* the agent running it (index in agents), -1: not known yet */
};

/* An agent as its results and status messages describe it. */
struct agent_rec {
    char *id;
    char *ctl; /* its control queue, NULL: none */
    int slots;
    double last_heard;
    int running; /* copies of this job it ran when last heard: it speaks again within 10 s */
    int dead;    /* silent past AGENT_SILENCE_S while running runs: its slots no longer count */
};

/* Run copies out per agent slot: the one running, the slot's next one (held by the agent) and
 * two waiting in the task queue or in the master's next SendMessageBatch, so that agents
 * receive in batches and no slot waits for the master between runs. */
#define RUNS_PER_SLOT 4
/* An agent running runs of this job sends a status at least every 10 s (agent/sqs_agent.c): one
 * silent this long is taken for dead. */
#define AGENT_SILENCE_S 25.0
/* The longest the master lets results gather before the next receive. */
#define RECEIVE_WINDOW_MAX_S 0.5

struct pending_delete {
    char *receipt;
    int dlq; /* from the dead-letter queue */
};

struct sqs_master {
    const struct pst_case *c;
    struct sqs_opts o;
    char *prefix;
    char *queue_url, *result_queue_url, *bucket, *dlq_url;
    struct aws_creds_provider *creds;
    struct aws_client *client;
    struct sqs_poller *poller;
    char job[17], case_id[17];
    char *bundle_key;
    char *pst_name;
    char describe[1024];

    struct vworker *vw;
    size_t nvw;
    int target; /* slots the agents offer */
    int agents;
    double next_registry, next_dlq, started;
    struct agent_rec *agents_seen; /* agents that sent results or status */
    size_t nseen;
    double sum_run_s;
    unsigned long nrun_s;
    int waiting_said;

    struct evq events;

    double window_s; /* how long results and sends gather (tune_windows) */
    double sends_since;
    struct strbuf *sends; /* message bodies waiting for a SendMessageBatch */
    int *send_worker;
    size_t nsends, capsends;
    struct pending_delete *dels;
    size_t ndels, capdels;
    double dels_since;

    struct run_key *cancels; /* cancelled copies whose agent is not known yet */
    size_t ncancels;
    struct strbuf *ctl_out; /* cancels to send: control queue URL and keys */
    struct run_key *ctl_keys;
    size_t nctl;

    unsigned long duplicates;
    int foreign_said;
    struct strbuf scratch;
};

static void say(const struct sqs_master *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct sqs_master *m, const char *fmt, ...)
{
    if (m->o.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pestrun: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------------------------------ */
/* workers                                                                                    */

static int live_workers(const struct sqs_master *m)
{
    int k = 0;
    for (size_t i = 0; i < m->nvw; i++)
        k += m->vw[i].state != VW_ABSENT;
    return k;
}

/* Bring the number of workers to the target: new ones come up at once; extra ones go when
 * they are idle (a busy one finishes its run first). */
static int wanted_workers(const struct sqs_master *m)
{
    return m->o.max_inflight > 0 ? m->target : m->target * RUNS_PER_SLOT;
}

static void adjust_workers(struct sqs_master *m)
{
    int live = live_workers(m), want = wanted_workers(m);
    for (size_t i = 0; live < want; i++) {
        if (i == m->nvw) {
            m->vw = xrealloc(m->vw, (m->nvw + 1) * sizeof(*m->vw));
            memset(&m->vw[m->nvw], 0, sizeof(*m->vw));
            m->nvw++;
        }
        if (m->vw[i].state != VW_ABSENT) continue;
        m->vw[i].state = VW_IDLE;
        m->vw[i].agent = -1;
        struct tr_event *ev = evq_push(&m->events);
        ev->type = TR_EV_WORKER_UP;
        ev->worker = (int)i;
        snprintf(ev->detail, sizeof(ev->detail), "an agent slot on %s", m->queue_url);
        live++;
    }
    for (size_t i = m->nvw; i-- > 0 && live > want;) {
        if (m->vw[i].state != VW_IDLE) continue;
        m->vw[i].state = VW_ABSENT;
        struct tr_event *ev = evq_push(&m->events);
        ev->type = TR_EV_WORKER_LOST;
        ev->worker = (int)i;
        snprintf(ev->detail, sizeof(ev->detail), "fewer agent slots are registered (%d)",
                 m->target);
        live--;
    }
}

static void refresh_registry(struct sqs_master *m)
{
    double t = pr_now_s();
    if (t < m->next_registry) return;
    if (m->o.max_inflight > 0) {
        m->target = m->o.max_inflight;
        m->next_registry = 1e300;
        adjust_workers(m);
        return;
    }
    struct pr_error err;
    int slots = 0, agents = 0;
    const char *dead[64];
    size_t ndead = 0;
    for (size_t i = 0; i < m->nseen && ndead < 64; i++)
        if (m->agents_seen[i].dead) dead[ndead++] = m->agents_seen[i].id;
    if (registry_scan(m->client, m->bucket, m->prefix, m->queue_url, time(NULL), dead, ndead,
                      &slots, &agents, &err) < 0) {
        say(m, "cannot list the agents (keeping %d slots): %s", m->target, err.msg);
        m->next_registry = t + 10;
        return;
    }
    if (slots != m->target || agents != m->agents)
        say(m, "%d agent%s with %d slot%s on the task queue", agents, agents == 1 ? "" : "s", slots,
            slots == 1 ? "" : "s");
    m->target = slots;
    m->agents = agents;
    if (slots == 0 && !m->waiting_said) {
        char *folder = registry_folder(m->prefix, m->queue_url);
        say(m,
            "waiting for agents (none registered under s3://%s/%s): start `pestrun agent "
            "--queue-url %s --bucket %s%s%s`",
            m->bucket, folder, m->queue_url, m->bucket,
            strcmp(m->prefix, "pestrun") ? " --prefix " : "",
            strcmp(m->prefix, "pestrun") ? m->prefix : "");
        free(folder);
        m->waiting_said = 1;
    }
    /* often while nobody serves the queue and in the first half minute (agents starting with
     * the master), then now and then; at once when an agent not yet seen sends a result */
    m->next_registry = t + (slots == 0 || t - m->started < 30 ? 2.0 : 15.0);
    adjust_workers(m);
}

static struct vworker *busy_with(struct sqs_master *m, const struct run_key *k, int *wid)
{
    for (size_t i = 0; i < m->nvw; i++)
        if (m->vw[i].state == VW_BUSY && run_key_eq(&m->vw[i].key, k)) {
            *wid = (int)i;
            return &m->vw[i];
        }
    return NULL;
}

static void free_payload(struct sqs_master *m, struct vworker *w)
{
    if (!w->payload_key) return;
    struct pr_error err;
    s3_delete(m->client, m->bucket, w->payload_key, &err);
    free(w->payload_key);
    w->payload_key = NULL;
}

/* The worker's run ended (result, failure, cancel): the RESULT event for the scheduler, with
 * the worker, key and status filled (the caller adds the rest). The worker takes another run,
 * or goes when there are more workers than slots (adjust_workers). */
static struct tr_event *end_run(struct sqs_master *m, int wid, enum run_status status)
{
    struct vworker *w = &m->vw[wid];
    free_payload(m, w);
    w->state = VW_IDLE;
    w->agent = -1;
    struct tr_event *ev = evq_push(&m->events);
    ev->type = TR_EV_RESULT;
    ev->worker = wid;
    ev->key = w->key;
    ev->result.key = w->key;
    ev->result.status = status;
    return ev;
}

/* ------------------------------------------------------------------------------------------ */
/* sending                                                                                    */

static void send_failed(struct sqs_master *m, int wid, const char *why)
{
    struct vworker *w = &m->vw[wid];
    if (w->state != VW_BUSY) return;
    free_payload(m, w);
    w->state = VW_ABSENT; /* the scheduler re-queues its run; the next registry scan refills */
    struct tr_event *ev = evq_push(&m->events);
    ev->type = TR_EV_WORKER_LOST;
    ev->worker = wid;
    snprintf(ev->detail, sizeof(ev->detail), "the run could not be sent: %s", why);
    m->next_registry = 0;
}

static void flush_sends(struct sqs_master *m)
{
    size_t i = 0;
    while (i < m->nsends) {
        const char *bodies[SQS_MAX_BATCH];
        int ok[SQS_MAX_BATCH];
        size_t n = 0, bytes = 0;
        while (i + n < m->nsends && n < SQS_MAX_BATCH &&
               (n == 0 || bytes + m->sends[i + n].len <= SQS_MAX_MESSAGE_BYTES)) {
            bodies[n] = m->sends[i + n].data;
            bytes += m->sends[i + n].len;
            n++;
        }
        struct pr_error err;
        int rc = sqs_send_batch(m->client, m->queue_url, bodies, n, ok, &err);
        for (size_t k = 0; k < n; k++)
            if (rc < 0 || !ok[k]) send_failed(m, m->send_worker[i + k], err.msg);
        if (rc != 0) say(m, "sending runs to the task queue: %s", err.msg);
        i += n;
    }
    for (size_t k = 0; k < m->nsends; k++)
        sb_free(&m->sends[k]);
    m->nsends = 0;
}

static void flush_deletes(struct sqs_master *m, int force)
{
    if (m->ndels == 0) return;
    if (!force && m->ndels < SQS_MAX_BATCH && pr_now_s() - m->dels_since < 1.0) return;
    for (int dlq = 0; dlq <= 1; dlq++) {
        const char *r[SQS_MAX_BATCH];
        size_t n = 0;
        for (size_t i = 0; i <= m->ndels; i++) {
            if (i < m->ndels && m->dels[i].dlq == dlq) r[n++] = m->dels[i].receipt;
            if (n == SQS_MAX_BATCH || (i == m->ndels && n)) {
                struct pr_error err;
                if (sqs_delete_batch(m->client, dlq ? m->dlq_url : m->result_queue_url, r, n, NULL,
                                     &err) != 0)
                    say(m, "deleting received messages: %s", err.msg);
                n = 0;
            }
        }
    }
    for (size_t i = 0; i < m->ndels; i++)
        free(m->dels[i].receipt);
    m->ndels = 0;
}

static void delete_later(struct sqs_master *m, const char *receipt, int dlq)
{
    if (m->ndels == m->capdels) {
        m->capdels = m->capdels ? m->capdels * 2 : 16;
        m->dels = xrealloc(m->dels, m->capdels * sizeof(*m->dels));
    }
    if (m->ndels == 0) m->dels_since = pr_now_s();
    m->dels[m->ndels].receipt = xstrdup(receipt);
    m->dels[m->ndels].dlq = dlq;
    m->ndels++;
}

static int sqs_submit(void *impl, int worker, const struct run_request *run, struct pr_error *err)
{
    struct sqs_master *m = impl;
    if (worker < 0 || (size_t)worker >= m->nvw || m->vw[worker].state != VW_IDLE)
        return pr_error_set(err, "no such idle agent slot %d", worker);
    struct vworker *w = &m->vw[worker];
    struct wire_msg wm = {.type = WIRE_RUN,
                          .key = run->key,
                          .npar = run->npar,
                          .values = run->values,
                          .text = run->info};
    struct sqs_msg sm = {.type = SQS_MSG_RUN,
                         .bundle = m->bundle_key,
                         .pst = m->pst_name,
                         .result_queue = m->result_queue_url,
                         .exec = m->o.ropts.exec == RUNNER_EXEC,
                         .timeout_s = m->o.ropts.timeout_s};
    memcpy(sm.job, m->job, 17);
    memcpy(sm.case_id, m->case_id, 17);
    wire_encode(&wm, &sm.wire);
    if (sm.wire.len > SQS_MSG_INLINE_MAX) {
        struct strbuf key = {0};
        sb_printf(&key, "%s/jobs/%s/runs/%llu-%u-%u", m->prefix, m->job,
                  (unsigned long long)run->key.batch, run->key.run, run->key.attempt);
        struct s3_put_opts po = {.kms_key_id = m->o.kms_key_id, .sse_kms = m->o.sse_kms};
        if (s3_put(m->client, m->bucket, key.data, sm.wire.data, sm.wire.len, &po, err) < 0) {
            sb_free(&key);
            sb_free(&sm.wire);
            return -1;
        }
        w->payload_key = sb_take(&key);
        sm.payload_key = w->payload_key;
    }
    if (m->nsends == m->capsends) {
        m->capsends = m->capsends ? m->capsends * 2 : 16;
        m->sends = xrealloc(m->sends, m->capsends * sizeof(*m->sends));
        m->send_worker = xrealloc(m->send_worker, m->capsends * sizeof(int));
    }
    if (m->nsends == 0) m->sends_since = pr_now_s();
    memset(&m->sends[m->nsends], 0, sizeof(struct strbuf));
    sqs_msg_encode(&sm, &m->sends[m->nsends]);
    m->send_worker[m->nsends++] = worker;
    sm.payload_key = NULL;
    sb_free(&sm.wire);
    w->state = VW_BUSY;
    w->key = run->key;
    w->agent = -1;
    if (m->nsends >= SQS_MAX_BATCH) flush_sends(m);
    return 0;
}

static void cancel_on(struct sqs_master *m, int agent, const struct run_key *key)
{
    const struct agent_rec *ag = &m->agents_seen[agent];
    if (!ag->ctl) return; /* an agent without a control queue runs it to its end */
    m->ctl_out = xrealloc(m->ctl_out, (m->nctl + 1) * sizeof(*m->ctl_out));
    m->ctl_keys = xrealloc(m->ctl_keys, (m->nctl + 1) * sizeof(*m->ctl_keys));
    memset(&m->ctl_out[m->nctl], 0, sizeof(struct strbuf));
    sb_puts(&m->ctl_out[m->nctl], ag->ctl);
    m->ctl_keys[m->nctl++] = *key;
}

/* Send the cancels waiting: one message per control queue naming all its copies. */
static void flush_cancels(struct sqs_master *m)
{
    for (size_t i = 0; i < m->nctl; i++) {
        if (!m->ctl_out[i].data) continue;
        struct sqs_msg sm = {.type = SQS_MSG_CANCEL};
        memcpy(sm.job, m->job, 17);
        memcpy(sm.case_id, m->case_id, 17);
        struct run_key keys[SQS_MSG_MAX_KEYS];
        for (size_t k = i; k < m->nctl && sm.nkeys < SQS_MSG_MAX_KEYS; k++)
            if (m->ctl_out[k].data && strcmp(m->ctl_out[k].data, m->ctl_out[i].data) == 0) {
                keys[sm.nkeys++] = m->ctl_keys[k];
                if (k != i) sb_free(&m->ctl_out[k]);
            }
        sm.keys = keys;
        struct strbuf body = {0};
        sqs_msg_encode(&sm, &body);
        const char *b = body.data;
        struct pr_error err;
        if (sqs_send_batch(m->client, m->ctl_out[i].data, &b, 1, NULL, &err) != 0)
            say(m, "sending a cancel to an agent: %s", err.msg);
        sb_free(&body);
        sb_free(&m->ctl_out[i]);
    }
    m->nctl = 0;
}

static void sqs_cancel(void *impl, int worker, const struct run_key *key)
{
    /* The copy is written off here at once (its result, if it ever comes, is dropped as
     * stale) and the agent running it is told to kill it; when that agent is not known yet,
     * the cancel waits for its start notice. */
    struct sqs_master *m = impl;
    if (worker < 0 || (size_t)worker >= m->nvw) return;
    struct vworker *w = &m->vw[worker];
    if (w->state != VW_BUSY || !run_key_eq(&w->key, key)) return;
    if (w->agent >= 0) {
        cancel_on(m, w->agent, key);
    } else {
        m->cancels = xrealloc(m->cancels, (m->ncancels + 1) * sizeof(*m->cancels));
        m->cancels[m->ncancels++] = *key;
    }
    struct tr_event *ev = end_run(m, worker, RUN_CANCELLED);
    ev->result.reason = xstrdup("cancelled by the master");
    adjust_workers(m);
}

/* ------------------------------------------------------------------------------------------ */
/* receiving                                                                                  */

/* The wire bytes of a message: inline, or fetched from S3. */
static int message_wire(struct sqs_master *m, struct sqs_msg *sm, struct pr_error *err)
{
    if (!sm->payload_key) return 0;
    int rc = s3_get(m->client, m->bucket, sm->payload_key, &sm->wire, err);
    if (rc == 0)
        return pr_error_set(err, "the payload s3://%s/%s is missing", m->bucket, sm->payload_key);
    return rc < 0 ? -1 : 0;
}

/* The agent that sent sm: heard now; the copies it runs are tied to it, and the scheduler's
 * clock for each copy it tells for the first time starts now (a copy may have waited in the
 * queue or as a slot's next run). */
static void note_agent(struct sqs_master *m, const struct sqs_msg *sm)
{
    size_t a = 0;
    while (a < m->nseen && strcmp(m->agents_seen[a].id, sm->agent) != 0)
        a++;
    if (a == m->nseen) {
        m->agents_seen = xrealloc(m->agents_seen, (m->nseen + 1) * sizeof(*m->agents_seen));
        memset(&m->agents_seen[a], 0, sizeof(*m->agents_seen));
        m->agents_seen[a].id = xstrdup(sm->agent);
        m->nseen++;
        m->next_registry = 0;
    }
    struct agent_rec *ag = &m->agents_seen[a];
    ag->last_heard = pr_now_s();
    ag->running = (int)sm->nkeys;
    if (sm->slots > 0) ag->slots = sm->slots;
    if (sm->ctl && (!ag->ctl || strcmp(ag->ctl, sm->ctl) != 0)) {
        free(ag->ctl);
        ag->ctl = xstrdup(sm->ctl);
    }
    if (ag->dead) {
        say(m, "agent %s answers again: its slots count again", ag->id);
        ag->dead = 0;
        m->next_registry = 0;
    }
    for (size_t k = 0; k < sm->nkeys; k++) {
        int wid;
        struct vworker *vw = busy_with(m, &sm->keys[k], &wid);
        if (vw) {
            if (vw->agent >= 0) {
                vw->agent = (int)a;
                continue;
            }
            vw->agent = (int)a;
            struct tr_event *ev = evq_push(&m->events);
            ev->type = TR_EV_STARTED;
            ev->worker = wid;
            ev->key = vw->key;
            continue;
        }
        for (size_t c = 0; c < m->ncancels; c++)
            if (run_key_eq(&m->cancels[c], &sm->keys[k])) {
                cancel_on(m, (int)a, &sm->keys[k]);
                m->cancels[c] = m->cancels[--m->ncancels];
                break;
            }
    }
}

/* Agents silent past AGENT_SILENCE_S while running runs are taken for dead: their copies go
 * back to the scheduler (to other agents, without waiting for the visibility timeout) and
 * their slots no longer count. Returns when the next agent falls silent. */
static double check_agents(struct sqs_master *m)
{
    double t = pr_now_s(), next = 1e300;
    for (size_t a = 0; a < m->nseen; a++) {
        struct agent_rec *ag = &m->agents_seen[a];
        if (ag->dead || !ag->running) continue;
        int running = ag->running;
        if (t - ag->last_heard < AGENT_SILENCE_S) {
            if (ag->last_heard + AGENT_SILENCE_S < next) next = ag->last_heard + AGENT_SILENCE_S;
            continue;
        }
        ag->dead = 1;
        say(m,
            "agent %s silent for %.0fs while running %d run%s: taken for dead, its %d slot%s no "
            "longer count and its runs go to other agents",
            ag->id, t - ag->last_heard, running, running == 1 ? "" : "s", ag->slots,
            ag->slots == 1 ? "" : "s");
        for (size_t i = 0; i < m->nvw; i++) {
            struct vworker *w = &m->vw[i];
            if (w->state != VW_BUSY || w->agent != (int)a) continue;
            free_payload(m, w);
            w->state = VW_ABSENT;
            w->agent = -1;
            struct tr_event *ev = evq_push(&m->events);
            ev->type = TR_EV_WORKER_LOST;
            ev->worker = (int)i;
            snprintf(ev->detail, sizeof(ev->detail), "agent %.200s stopped answering", ag->id);
        }
        m->next_registry = 0;
    }
    return next;
}

/* Results gather before the next receive, and runs before a send, for half the mean run
 * time (at most RECEIVE_WINDOW_MAX_S) while every worker is busy: the queue holds runs to
 * spare for as long. While one is idle (a batch starts or ends) nothing waits. */
static void tune_windows(struct sqs_master *m)
{
    int idle = 0;
    for (size_t i = 0; i < m->nvw && !idle; i++)
        idle = m->vw[i].state == VW_IDLE;
    double w = m->nrun_s ? m->sum_run_s / (double)m->nrun_s / 2.0 : 0.0;
    if (w > RECEIVE_WINDOW_MAX_S) w = RECEIVE_WINDOW_MAX_S;
    if (idle) w = 0;
    m->window_s = w;
    sqs_poller_set_gap(m->poller, (int)(w * 1000.0));
}

/* Whether the runs waiting for a SendMessageBatch go now: ten of them; more than one a slot
 * (the queue may be running dry: the agents hold two a slot); a worker idle (the scheduler
 * has no more to send for now); or the window is over. */
static int send_due(const struct sqs_master *m)
{
    if (m->nsends == 0) return 0;
    if (m->nsends >= SQS_MAX_BATCH || (int)m->nsends > m->target) return 1;
    if (m->events.len) return 0; /* the scheduler is still taking the events of a receive */
    for (size_t i = 0; i < m->nvw; i++)
        if (m->vw[i].state == VW_IDLE) return 1;
    return pr_now_s() - m->sends_since >= m->window_s;
}

static void on_result_message(struct sqs_master *m, const struct sqs_message *qm)
{
    struct sqs_msg sm;
    struct pr_error err;
    struct wire_msg w = {0};
    if (sqs_msg_decode(qm->body, &sm, &err) < 0 ||
        (sm.type != SQS_MSG_RESULT && sm.type != SQS_MSG_STATUS)) {
        say(m, "dropping a message on the result queue that is not a pestrun result (%s)",
            sm.type ? "a run or cancel" : err.msg);
        if (sm.type) sqs_msg_free(&sm);
        delete_later(m, qm->receipt_handle, 0);
        return;
    }
    if (strcmp(sm.job, m->job) != 0) {
        /* an earlier master of this case (before --resume) or another job on this queue */
        if (strcmp(sm.case_id, m->case_id) == 0) {
            delete_later(m, qm->receipt_handle, 0);
            if (sm.payload_key) s3_delete(m->client, m->bucket, sm.payload_key, &err);
        } else if (!m->foreign_said++) {
            say(m,
                "the result queue also carries results of job %s (another case): they are "
                "left for their master; give each master its own result queue",
                sm.job);
        }
        sqs_msg_free(&sm);
        return;
    }
    delete_later(m, qm->receipt_handle, 0);
    if (sm.type == SQS_MSG_STATUS) {
        note_agent(m, &sm);
        sqs_msg_free(&sm);
        return;
    }
    if (message_wire(m, &sm, &err) < 0 ||
        wire_decode(sm.wire.data, sm.wire.len, &w, &m->scratch, &err) < 0 ||
        w.type != WIRE_RESULT) {
        say(m, "dropping a result from agent %s: %s", sm.agent,
            w.type != WIRE_RESULT ? "not a result" : err.msg);
        sqs_msg_free(&sm);
        return;
    }
    if (sm.payload_key) s3_delete(m->client, m->bucket, sm.payload_key, &err);
    int wid;
    struct vworker *vw = busy_with(m, &w.key, &wid);
    if (!vw) {
        m->duplicates++; /* a second delivery, a cancelled copy, or a stale attempt */
        note_agent(m, &sm);
        sqs_msg_free(&sm);
        return;
    }
    if (w.status == RUN_OK) {
        m->sum_run_s += w.seconds;
        m->nrun_s++;
    }
    struct tr_event *ev = end_run(m, wid, (enum run_status)w.status);
    ev->result.seconds = w.seconds;
    ev->result.npar = w.npar;
    ev->result.nobs = w.nobs;
    if (w.npar) {
        ev->result.processed = xmalloc(w.npar * sizeof(double));
        memcpy(ev->result.processed, w.values, w.npar * sizeof(double));
    }
    if (w.nobs) {
        ev->result.obs = xmalloc(w.nobs * sizeof(double));
        memcpy(ev->result.obs, w.obs, w.nobs * sizeof(double));
    }
    if (w.status != RUN_OK) {
        struct strbuf r = {0};
        sb_printf(&r, "%s (agent %s)", w.text && *w.text ? w.text : "failed", sm.agent);
        ev->result.reason = sb_take(&r);
    }
    note_agent(m, &sm); /* after the result: the slot's next run started as this one ended */
    sqs_msg_free(&sm);
    adjust_workers(m);
}

/* Runs whose message SQS gave up on: reported failed, so the scheduler retries or fails them. */
static void check_dlq(struct sqs_master *m)
{
    double t = pr_now_s();
    if (!m->dlq_url || t < m->next_dlq) return;
    m->next_dlq = t + 5.0;
    int busy = 0;
    for (size_t i = 0; i < m->nvw; i++)
        busy += m->vw[i].state == VW_BUSY;
    if (!busy) return;
    for (;;) {
        struct sqs_message *qm = NULL;
        size_t n = 0;
        struct pr_error err;
        if (sqs_receive(m->client, m->dlq_url, SQS_MAX_BATCH, 0, 30, &qm, &n, &err) < 0) {
            say(m, "reading the dead-letter queue: %s", err.msg);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            struct sqs_msg sm;
            struct wire_msg w = {0};
            if (sqs_msg_decode(qm[i].body, &sm, &err) < 0) continue; /* not ours: leave it */
            if (sm.type != SQS_MSG_RUN || strcmp(sm.case_id, m->case_id) != 0) {
                sqs_msg_free(&sm);
                continue;
            }
            int wid;
            struct vworker *vw = NULL;
            if (strcmp(sm.job, m->job) == 0 && message_wire(m, &sm, &err) == 0 &&
                wire_decode(sm.wire.data, sm.wire.len, &w, &m->scratch, &err) == 0 &&
                w.type == WIRE_RUN)
                vw = busy_with(m, &w.key, &wid);
            delete_later(m, qm[i].receipt_handle, 1);
            sqs_msg_free(&sm);
            if (!vw) continue;
            struct tr_event *ev = end_run(m, wid, RUN_FAILED);
            struct strbuf r = {0};
            sb_printf(&r,
                      "agents took the run's message %d times without returning a result (each "
                      "agent died or was killed while running it); SQS moved it to the "
                      "dead-letter queue",
                      qm[i].receive_count);
            ev->result.reason = sb_take(&r);
        }
        sqs_messages_free(qm, n);
        flush_deletes(m, 1);
        if (n < SQS_MAX_BATCH) break;
    }
    adjust_workers(m);
}

static void take_results(struct sqs_master *m)
{
    struct sqs_message *qm;
    size_t n = sqs_poller_take(m->poller, &qm);
    sqs_poller_want(m->poller, SQS_MAX_BATCH); /* results are always welcome */
    for (size_t i = 0; i < n; i++)
        on_result_message(m, &qm[i]);
    sqs_messages_free(qm, n);
}

static int sqs_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                    struct pr_error *err)
{
    struct sqs_master *m = impl;
    double deadline = timeout_ms < 0 ? 1e300 : pr_now_s() + timeout_ms / 1000.0;

    evq_return(&m->events);
    for (;;) {
        /* the runs the scheduler submits while it takes the events of one receive go out
         * together */
        tune_windows(m);
        if (send_due(m)) flush_sends(m);
        flush_cancels(m);
        double silent = check_agents(m);
        refresh_registry(m);
        check_dlq(m);
        flush_deletes(m, 0);
        char why[512];
        if (sqs_poller_failures(m->poller, why, sizeof(why)) >= 10)
            return pr_error_set(err, "cannot receive results from %s: %s", m->result_queue_url,
                                why);
        if (evq_lend(&m->events, ev)) return 1;
        double t = pr_now_s();
        if (t >= deadline) return 0;
        double wake = deadline;
        if (m->next_registry < wake) wake = m->next_registry;
        if (silent < wake) wake = silent;
        if (m->nsends && m->sends_since + m->window_s < wake) wake = m->sends_since + m->window_s;
        if (m->dlq_url && m->next_dlq < wake) wake = m->next_dlq;
        if (m->ndels && m->dels_since + 1.0 < wake) wake = m->dels_since + 1.0;
        double ms = (wake - t) * 1000.0;
        int wait_ms = ms > 600000 ? 600000 : ms < 0 ? 0 : (int)ms + 1;
        struct pollfd p[2] = {{.fd = sqs_poller_fd(m->poller), .events = POLLIN},
                              {.fd = extra_fd, .events = POLLIN}};
        int rc = poll(p, extra_fd >= 0 ? 2 : 1, wait_ms);
        if (rc < 0) {
            if (errno == EINTR) return 0; /* a signal: the scheduler looks at its stop flag */
            return pr_error_set(err, "poll: %s", strerror(errno));
        }
        if (p[0].revents) take_results(m);
        if (extra_fd >= 0 && p[1].revents && m->events.len == 0) {
            memset(ev, 0, sizeof(*ev));
            ev->type = TR_EV_EXTRA_FD;
            return 1;
        }
    }
}

/* The job is over: each agent that served it drops the copies it still has or will get (the
 * overdue copies written off before any agent took them). One request an agent. */
static void say_ended(struct sqs_master *m)
{
    for (size_t a = 0; a < m->nseen; a++) {
        if (!m->agents_seen[a].ctl || m->agents_seen[a].dead) continue;
        struct sqs_msg sm = {.type = SQS_MSG_CANCEL, .ended = 1};
        memcpy(sm.job, m->job, 17);
        memcpy(sm.case_id, m->case_id, 17);
        struct strbuf body = {0};
        sqs_msg_encode(&sm, &body);
        const char *b = body.data;
        struct pr_error err;
        if (sqs_send_batch(m->client, m->agents_seen[a].ctl, &b, 1, NULL, &err) != 0)
            say(m, "telling agent %s the job is over: %s", m->agents_seen[a].id, err.msg);
        sb_free(&body);
    }
}

static void sqs_destroy(void *impl)
{
    struct sqs_master *m = impl;
    if (!m) return;
    if (m->client && m->poller && getenv("PESTRUN_SQS_STATS"))
        say(m, "%lu requests to SQS and S3 (receiving results %lu)",
            sqs_master_requests(&(struct transport){.impl = m}), sqs_poller_requests(m->poller));
    if (m->poller) {
        struct sqs_message *left;
        size_t n;
        sqs_poller_stop(m->poller, &left, &n);
        for (size_t i = 0; i < n; i++)
            on_result_message(m, &left[i]);
        sqs_messages_free(left, n);
    }
    if (m->client) {
        flush_sends(m);
        flush_cancels(m);
        flush_deletes(m, 1);
        say_ended(m);
        for (size_t i = 0; i < m->nvw; i++)
            free_payload(m, &m->vw[i]);
    }
    if (m->duplicates && !m->o.quiet)
        say(m, "%lu duplicate or stale results dropped", m->duplicates);
    evq_free(&m->events);
    for (size_t i = 0; i < m->nvw; i++)
        free(m->vw[i].payload_key);
    free(m->vw);
    for (size_t i = 0; i < m->nseen; i++) {
        free(m->agents_seen[i].id);
        free(m->agents_seen[i].ctl);
    }
    free(m->agents_seen);
    free(m->cancels);
    for (size_t i = 0; i < m->nctl; i++)
        sb_free(&m->ctl_out[i]);
    free(m->ctl_out);
    free(m->ctl_keys);
    free(m->sends);
    free(m->send_worker);
    free(m->dels);
    aws_client_free(m->client);
    aws_creds_provider_free(m->creds);
    free(m->prefix);
    free(m->queue_url);
    free(m->result_queue_url);
    free(m->bucket);
    free(m->dlq_url);
    free(m->bundle_key);
    free(m->pst_name);
    sb_free(&m->scratch);
    free(m);
}

static const struct tr_ops sqs_ops = {
    .name = "sqs",
    .submit = sqs_submit,
    .cancel = sqs_cancel,
    .poll = sqs_poll,
    .destroy = sqs_destroy,
};

/* ------------------------------------------------------------------------------------------ */
/* setup                                                                                      */

/* The dead-letter queue from the task queue's redrive policy, or NULL with a warning. */
static int find_dlq(struct sqs_master *m, struct pr_error *err)
{
    const char *names[] = {"RedrivePolicy", "VisibilityTimeout"};
    cJSON *attrs = NULL;
    if (sqs_get_attributes(m->client, m->queue_url, names, 2, &attrs, err) != 0) return -1;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(attrs, "RedrivePolicy");
    cJSON *pol = cJSON_IsString(rp) ? cJSON_Parse(rp->valuestring) : NULL;
    const cJSON *arn = pol ? cJSON_GetObjectItemCaseSensitive(pol, "deadLetterTargetArn") : NULL;
    if (cJSON_IsString(arn)) {
        /* arn:aws:sqs:REGION:ACCOUNT:NAME */
        char *a = xstrdup(arn->valuestring), *f[6] = {0};
        int k = 0;
        for (char *p = a, *tok; k < 6 && (tok = strsep(&p, ":"));)
            f[k++] = tok;
        if (k == 6 && sqs_get_queue_url(m->client, f[5], f[4], &m->dlq_url, err) != 0) {
            free(a);
            cJSON_Delete(pol);
            cJSON_Delete(attrs);
            return -1;
        }
        free(a);
    }
    if (!m->dlq_url)
        say(m, "warning: the task queue has no dead-letter queue (RedrivePolicy): a run that "
               "kills its agent every time is retried for ever; give the queue one");
    cJSON_Delete(pol);
    cJSON_Delete(attrs);
    return 0;
}

static char *relative_to(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) == 0 && path[n] == '/') return xstrdup(path + n + 1);
    if (strcmp(dir, ".") == 0 && path[0] != '/') return xstrdup(path);
    return NULL;
}

static int upload_bundle(struct sqs_master *m, struct pr_error *err)
{
    const char *dir = pst_dir(m->c);
    char *tmpdir = pr_make_temp_dir(NULL, "pestrun-bundle-", err);
    if (!tmpdir) return -1;
    struct strbuf path = {0};
    sb_printf(&path, "%s/bundle", tmpdir);
    const char *exclude[4];
    size_t nex = 0;
    char *jrel = m->o.journal_path ? relative_to(dir, m->o.journal_path) : NULL;
    if (jrel) exclude[nex++] = jrel;
    exclude[nex++] = "pest.stp";
    struct bundle_info info;
    double t0 = pr_now_s();
    int rc = bundle_pack(dir, exclude, nex, path.data, &info, err);
    if (rc == 0) {
        struct strbuf key = {0};
        sb_printf(&key, "%s/bundles/%s%s", m->prefix, info.sha256, info.ext);
        m->bundle_key = sb_take(&key);
        long long size;
        rc = s3_head(m->client, m->bucket, m->bundle_key, &size, err);
        if (rc == 0) {
            struct s3_put_opts po = {.kms_key_id = m->o.kms_key_id,
                                     .sse_kms = m->o.sse_kms,
                                     .content_type = "application/octet-stream"};
            rc = s3_put_file(m->client, m->bucket, m->bundle_key, path.data, &po, err);
            if (rc == 0)
                say(m,
                    "case folder %s packed (%llu files, %.1f MB -> %.1f MB) and stored as "
                    "s3://%s/%s in %.1fs",
                    dir, (unsigned long long)info.files, info.bytes / 1e6, info.archive_bytes / 1e6,
                    m->bucket, m->bundle_key, pr_now_s() - t0);
        } else if (rc == 1) {
            rc = 0; /* already there: the same bytes */
        }
    }
    unlink(path.data);
    rmdir(tmpdir);
    free(tmpdir);
    free(jrel);
    sb_free(&path);
    return rc < 0 ? -1 : 0;
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int sqs_master_create(const struct pst_case *c, const struct sqs_opts *o, struct transport *tr,
                      struct pr_error *err)
{
    if (!o->queue_url || !o->result_queue_url || !o->bucket)
        return pr_error_set(err, "--transport sqs needs --queue-url, --result-queue-url and "
                                 "--bucket");
    struct sqs_master *m = xcalloc(1, sizeof(*m));
    m->c = c;
    m->o = *o;
    m->prefix = xstrdup(o->prefix ? o->prefix : "pestrun");
    while (*m->prefix && m->prefix[strlen(m->prefix) - 1] == '/')
        m->prefix[strlen(m->prefix) - 1] = '\0';
    m->queue_url = xstrdup(o->queue_url);
    m->result_queue_url = xstrdup(o->result_queue_url);
    m->bucket = xstrdup(o->bucket);
    m->pst_name = xstrdup(basename_of(pst_path(c)));
    sqs_new_job_id(m->job);
    m->started = pr_now_s();
    sqs_hex64(journal_case_id_names(pst_param_names(c), pst_obs_names(c)), m->case_id);

    m->creds = aws_creds_chain_new();
    char *region = sqs_region_for(m->queue_url);
    m->client = aws_client_new(m->creds, region, err);
    free(region);
    if (!m->client) goto error;
    if (find_dlq(m, err) < 0) {
        pr_error_prefix(err, "task queue %s", m->queue_url);
        goto error;
    }
    if (upload_bundle(m, err) < 0) {
        pr_error_prefix(err, "bucket %s", m->bucket);
        goto error;
    }
    m->poller = sqs_poller_start(m->creds, aws_client_region(m->client), m->result_queue_url, err);
    if (!m->poller) goto error;
    sqs_poller_want(m->poller, SQS_MAX_BATCH);
    refresh_registry(m);
    snprintf(m->describe, sizeof(m->describe),
             "job %s: runs to %s, results from %s, bundle s3://%s/%s", m->job, m->queue_url,
             m->result_queue_url, m->bucket, m->bundle_key);
    tr->ops = &sqs_ops;
    tr->impl = m;
    return 0;
error:
    aws_creds_explain(m->creds, err);
    sqs_destroy(m);
    return -1;
}

int sqs_master_nworkers(const struct transport *tr)
{
    const struct sqs_master *m = tr->impl;
    return m->target;
}

const char *sqs_master_describe(const struct transport *tr)
{
    const struct sqs_master *m = tr->impl;
    return m->describe;
}

unsigned long sqs_master_requests(const struct transport *tr)
{
    const struct sqs_master *m = tr->impl;
    struct aws_client_stats st;
    aws_client_stats(m->client, &st);
    return st.requests + sqs_poller_requests(m->poller);
}
