#include "agent.h"

#include <string.h>

struct agent {
    const struct agent_io *io;
    struct model_runner *r;
    int running;
    struct run_key key;
    size_t npar, nobs;
};

static int send_result(struct agent *a, enum run_status st, const char *reason)
{
    struct wire_msg m = {.type = WIRE_RESULT, .key = a->key, .status = st};
    if (st == RUN_OK) {
        m.values = runner_processed(a->r);
        m.npar = a->npar;
        m.obs = runner_observations(a->r);
        m.nobs = a->nobs;
        m.seconds = runner_seconds(a->r);
    } else {
        m.text = reason;
    }
    a->running = 0;
    return a->io->send(a->io->impl, &m);
}

static int step_model(struct agent *a);

static int start_run(struct agent *a, const struct wire_msg *m)
{
    struct pr_error err;
    a->key = m->key;
    a->running = 1;
    if (m->npar != a->npar) {
        pr_error_set(&err, "the run has %zu parameter values where the case has %zu", m->npar,
                     a->npar);
        return send_result(a, RUN_FAILED, err.msg);
    }
    if (runner_start(a->r, m->values, &err) < 0) return send_result(a, RUN_FAILED, err.msg);
    if (runner_fd(a->r) < 0) /* nothing to wait for (a dry run) */
        return step_model(a);
    struct wire_msg s = {.type = WIRE_STARTED, .key = a->key, .pgid = runner_pid(a->r)};
    return a->io->send(a->io->impl, &s);
}

/* Handle one message. Returns 0 to go on, 1 to quit, -1 when the master is gone. */
static int handle(struct agent *a, const struct wire_msg *m)
{
    switch (m->type) {
    case WIRE_RUN:
        if (a->running) /* one run at a time: refuse a second without losing the first */
            return a->io->send(a->io->impl, &(struct wire_msg){.type = WIRE_RESULT,
                                                               .key = m->key,
                                                               .status = RUN_CANCELLED,
                                                               .text = "worker busy"});
        return start_run(a, m);
    case WIRE_CANCEL:
        if (a->running && run_key_eq(&a->key, &m->key)) {
            runner_kill(a->r, "cancelled");
            return send_result(a, RUN_CANCELLED, "cancelled by the master");
        }
        return 0;
    case WIRE_QUIT:
        return 1;
    case WIRE_PING:
        return a->io->send(a->io->impl, &(struct wire_msg){.type = WIRE_PING});
    default:
        return 0;
    }
}

static int step_model(struct agent *a)
{
    struct pr_error err;
    int rc = runner_step(a->r, &err);
    if (rc == 1) return 0;
    return send_result(a, rc == 0 ? RUN_OK : RUN_FAILED, rc == 0 ? NULL : err.msg);
}

int agent_loop(const struct agent_io *io, struct model_runner *r, const char *hello)
{
    struct agent a = {.io = io, .r = r};
    struct wire_msg m;
    int rc = 1;

    a.npar = runner_nparams(r);
    a.nobs = runner_nobs(r);
    if (io->send(io->impl, &(struct wire_msg){.type = WIRE_HELLO, .text = hello}) < 0) goto done;
    for (;;) {
        int model_fd = a.running ? runner_fd(r) : -1;
        int timeout = a.running ? runner_timeout_ms(r) : -1;
        int ev = io->wait(io->impl, model_fd, timeout);
        if (ev < 0) goto done;
        if (a.running && (ev & AGENT_MODEL || (ev == 0 && timeout >= 0)))
            if (step_model(&a) < 0) goto done;
        int got;
        while ((got = io->recv(io->impl, &m)) == 1) {
            int h = handle(&a, &m);
            if (h < 0) goto done;
            if (h > 0) {
                rc = 0;
                goto done;
            }
        }
        if (got < 0) goto done;
    }
done:
    if (a.running) runner_kill(r, "the worker is stopping");
    return rc;
}
