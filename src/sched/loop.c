#include "loop.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"
#include "../util/strbuf.h"

struct loop {
    size_t npar, nobs;
    struct evq events;
    struct loop_submit *submits;
    size_t nsubmits, capsubmits;
    size_t ncancels;
    int *fail_submit;
    size_t nfail;
    void (*idle)(void *ctx, struct loop *l);
    void *idle_ctx;
    int last_extra; /* the last poll returned TR_EV_EXTRA_FD */
    /* the arrays of the event handed out by the last poll */
    double *out_processed, *out_obs;
    char *out_reason;
};

struct loop *loop_create(size_t npar, size_t nobs)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    l->npar = npar;
    l->nobs = nobs;
    return l;
}

void loop_destroy(struct loop *l)
{
    if (!l) return;
    evq_free(&l->events);
    for (size_t i = 0; i < l->nsubmits; i++)
        free(l->submits[i].values);
    free(l->submits);
    free(l->fail_submit);
    free(l->out_processed);
    free(l->out_obs);
    free(l->out_reason);
    free(l);
}

static struct tr_event *push(struct loop *l)
{
    return evq_push(&l->events);
}

void loop_set_idle(struct loop *l, void (*idle)(void *ctx, struct loop *l), void *ctx)
{
    l->idle = idle;
    l->idle_ctx = ctx;
}

void loop_push_up(struct loop *l, int worker)
{
    struct tr_event *ev = push(l);
    ev->type = TR_EV_WORKER_UP;
    ev->worker = worker;
}

void loop_push_lost(struct loop *l, int worker)
{
    struct tr_event *ev = push(l);
    ev->type = TR_EV_WORKER_LOST;
    ev->worker = worker;
}

void loop_push_started(struct loop *l, int worker, struct run_key key)
{
    struct tr_event *ev = push(l);
    ev->type = TR_EV_STARTED;
    ev->worker = worker;
    ev->key = key;
}

void loop_model(const double *values, size_t npar, double *obs, size_t nobs)
{
    double sum = 0;
    for (size_t i = 0; i < npar; i++)
        sum += values[i];
    for (size_t k = 0; k < nobs; k++)
        obs[k] = sum + (double)k;
}

void loop_push_result(struct loop *l, int worker, struct run_key key, enum run_status status,
                      const double *obs, double seconds, const char *reason)
{
    const struct loop_submit *sub = NULL;
    for (size_t i = 0; i < l->nsubmits; i++)
        if (l->submits[i].worker == worker && run_key_eq(&l->submits[i].key, &key))
            sub = &l->submits[i];
    struct tr_event *ev = push(l);
    ev->type = TR_EV_RESULT;
    ev->worker = worker;
    ev->key = key;
    ev->result.key = key;
    ev->result.status = status;
    ev->result.seconds = seconds;
    ev->result.npar = l->npar;
    ev->result.nobs = l->nobs;
    if (status == RUN_OK) {
        ev->result.processed = xcalloc(l->npar + 1, sizeof(double));
        ev->result.obs = xcalloc(l->nobs + 1, sizeof(double));
        if (sub) memcpy(ev->result.processed, sub->values, l->npar * sizeof(double));
        if (obs)
            memcpy(ev->result.obs, obs, l->nobs * sizeof(double));
        else if (sub)
            loop_model(sub->values, l->npar, ev->result.obs, l->nobs);
    } else {
        ev->result.reason = xstrdup(reason ? reason : "failed");
    }
}

size_t loop_nsubmits(const struct loop *l)
{
    return l->nsubmits;
}

struct loop_submit *loop_submit_at(struct loop *l, size_t i)
{
    return i < l->nsubmits ? &l->submits[i] : NULL;
}

long loop_next_unanswered(struct loop *l)
{
    for (size_t i = 0; i < l->nsubmits; i++)
        if (!l->submits[i].answered && !l->submits[i].cancelled) return (long)i;
    return -1;
}

size_t loop_ncancels(const struct loop *l)
{
    return l->ncancels;
}

void loop_fail_submits(struct loop *l, int worker, int fail)
{
    if ((size_t)worker >= l->nfail) {
        l->fail_submit = xrealloc(l->fail_submit, ((size_t)worker + 1) * sizeof(int));
        memset(l->fail_submit + l->nfail, 0, ((size_t)worker + 1 - l->nfail) * sizeof(int));
        l->nfail = (size_t)worker + 1;
    }
    l->fail_submit[worker] = fail;
}

static int loop_submit(void *impl, int worker, const struct run_request *run, struct pr_error *err)
{
    struct loop *l = impl;
    if (worker >= 0 && (size_t)worker < l->nfail && l->fail_submit[worker])
        return pr_error_set(err, "worker %d cannot take runs", worker);
    if (l->nsubmits == l->capsubmits) {
        l->capsubmits = l->capsubmits ? l->capsubmits * 2 : 64;
        l->submits = xrealloc(l->submits, l->capsubmits * sizeof(*l->submits));
    }
    struct loop_submit *s = &l->submits[l->nsubmits++];
    memset(s, 0, sizeof(*s));
    s->worker = worker;
    s->key = run->key;
    s->npar = run->npar;
    s->values = xmalloc((run->npar + 1) * sizeof(double));
    memcpy(s->values, run->values, run->npar * sizeof(double));
    return 0;
}

static void loop_cancel(void *impl, int worker, const struct run_key *key)
{
    struct loop *l = impl;
    l->ncancels++;
    for (size_t i = 0; i < l->nsubmits; i++)
        if (l->submits[i].worker == worker && run_key_eq(&l->submits[i].key, key))
            l->submits[i].cancelled = 1;
}

static int loop_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                     struct pr_error *err)
{
    struct loop *l = impl;
    (void)timeout_ms;
    (void)err;
    if (l->events.len == 0 && l->idle) l->idle(l->idle_ctx, l);
    /* the extra fd is watched too, as on every transport (transport.h); when it stays readable
     * it alternates with the queued events, as poll(2) would report both */
    if (extra_fd >= 0 && (l->events.len == 0 || !l->last_extra)) {
        struct pollfd p = {.fd = extra_fd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP))) {
            memset(ev, 0, sizeof(*ev));
            ev->type = TR_EV_EXTRA_FD;
            ev->worker = -1;
            l->last_extra = 1;
            return 1;
        }
    }
    l->last_extra = 0;
    if (l->events.len == 0) return 0;
    free(l->out_processed);
    free(l->out_obs);
    free(l->out_reason);
    evq_pop(&l->events, ev);
    l->out_processed = ev->result.processed;
    l->out_obs = ev->result.obs;
    l->out_reason = ev->result.reason;
    return 1;
}

static void loop_destroy_impl(void *impl)
{
    (void)impl; /* the test owns the loop and destroys it with loop_destroy */
}

static const struct tr_ops loop_ops = {
    .name = "loop",
    .submit = loop_submit,
    .cancel = loop_cancel,
    .poll = loop_poll,
    .destroy = loop_destroy_impl,
};

struct transport loop_transport(struct loop *l)
{
    struct transport t = {&loop_ops, l};
    return t;
}
