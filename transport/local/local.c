#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "model/pin.h"
#include "sched/evq.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

struct slot {
    int fd; /* master end of the socketpair, -1 when the worker is gone */
    pid_t pid;
    int generation;   /* how many times this slot's worker was started */
    int pu;           /* core it is bound to, -1 when not pinned */
    pid_t model_pgid; /* process group of the model it runs, 0 when none */
    int up;           /* HELLO received */
    struct strbuf in;
};

struct local {
    const struct pst_case *c;
    struct local_opts opts;
    char *workroot;
    int own_workroot;
    int n;
    struct slot *slots;
    hwloc_topology_t topo;
    struct pin_plan plan;
    int respawns_left;
    char last_loss[512]; /* why the last worker was lost, for the error when none is left */
    /* decoded events not yet handed out */
    struct evq events;
    struct strbuf scratch, out;
};

/* ------------------------------------------------------------------------------------------ */
/* the worker process                                                                         */

struct worker_io {
    int fd;
    struct strbuf in, scratch, out;
};

static int wio_wait(void *impl, int model_fd, int timeout_ms)
{
    struct worker_io *w = impl;
    struct pollfd p[2] = {{.fd = w->fd, .events = POLLIN}, {.fd = model_fd, .events = POLLIN}};
    if (wire_message_size(w->in.data, w->in.len) > 0 &&
        (size_t)wire_message_size(w->in.data, w->in.len) <= w->in.len)
        return AGENT_MSG;
    int n = poll(p, model_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    int ev = 0;
    if (p[0].revents) {
        struct pr_error err;
        long got = wire_read_fd(w->fd, &w->in, &err);
        if (got == 0 || got == -1) return -1;
        ev |= AGENT_MSG;
    }
    if (model_fd >= 0 && p[1].revents) ev |= AGENT_MODEL;
    return ev;
}

static int wio_recv(void *impl, struct wire_msg *m)
{
    struct worker_io *w = impl;
    struct pr_error err;
    return wire_take(&w->in, m, &w->scratch, &err);
}

static int wio_send(void *impl, const struct wire_msg *m)
{
    struct worker_io *w = impl;
    struct pr_error err;
    return wire_send_fd(w->fd, m, &w->out, &err);
}

/* In the child: bind, copy the model folder, run the agent loop. Never returns. */
static void worker_main(struct local *l, int k, int fd)
{
    struct pr_error err;
    struct worker_io wio = {.fd = fd};
    struct agent_io io = {wio_wait, wio_recv, wio_send, &wio};
    struct strbuf dir = {0}, hello = {0};
    struct model_runner *r = NULL;
    int rc = 1;
    char cpus[128];

    signal(SIGINT, SIG_IGN); /* the master decides what Ctrl-C means */
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    struct slot *s = &l->slots[k];
    if (s->pu >= 0 && pin_bind_self(l->topo, s->pu, &err) < 0) goto fail;
    sb_printf(&dir, "%s/worker-%d", l->workroot, k);
    if (s->generation > 1) sb_printf(&dir, ".%d", s->generation);
    if (pr_copy_tree(pst_dir(l->c), dir.data, l->workroot, &err) < 0) goto fail;
    r = runner_create(l->c, dir.data, &l->opts.ropts, &err);
    if (!r) goto fail;
    pin_describe_self(cpus, sizeof(cpus));
    sb_printf(&hello, "worker %d pid %d cpus %s dir %s", k, (int)getpid(), cpus, dir.data);
    rc = agent_loop(&io, r, hello.data);
    runner_destroy(r);
    _exit(rc == 0 ? 0 : 1);
fail:
    /* tell the master why this worker cannot work, then leave */
    wio_send(&wio, &(struct wire_msg){.type = WIRE_HELLO, .status = -1, .text = err.msg});
    _exit(2);
}

static int spawn_worker(struct local *l, int k, struct pr_error *err)
{
    int sv[2];
    struct slot *s = &l->slots[k];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return pr_error_set(err, "socketpair: %s", strerror(errno));
    s->generation++;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return pr_error_set(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < l->n; i++) /* other workers' master ends must not stay open here */
            if (l->slots[i].fd >= 0) close(l->slots[i].fd);
        worker_main(l, k, sv[1]);
    }
    close(sv[1]);
    s->fd = sv[0];
    s->pid = pid;
    s->up = 0;
    s->model_pgid = 0;
    sb_reset(&s->in);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* events                                                                                     */

static void worker_gone(struct local *l, int k, const char *why, int respawn)
{
    struct slot *s = &l->slots[k];
    snprintf(l->last_loss, sizeof(l->last_loss), "%s", why);
    if (s->fd < 0) return;
    close(s->fd);
    s->fd = -1;
    if (s->model_pgid > 0)
        killpg(s->model_pgid, SIGKILL); /* the orphaned model of a killed worker */
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (s->up) {
        struct tr_event *ev = evq_push(&l->events);
        ev->type = TR_EV_WORKER_LOST;
        ev->worker = k;
        snprintf(ev->detail, sizeof(ev->detail), "%s", why);
    }
    s->up = 0;
    s->model_pgid = 0;
    if (respawn && l->respawns_left > 0) {
        struct pr_error err;
        l->respawns_left--;
        spawn_worker(l, k, &err);
    }
}

/* Copy a result's arrays out of the scratch buffer: they must outlive the next decode. */
static void keep_result(struct local *l, struct tr_event *ev, const struct wire_msg *m)
{
    size_t np = m->npar, no = m->nobs;
    ev->result.key = m->key;
    ev->result.status = (enum run_status)m->status;
    ev->result.seconds = m->seconds;
    ev->result.npar = np;
    ev->result.nobs = no;
    if (np) {
        ev->result.processed = xmalloc(np * sizeof(double));
        memcpy(ev->result.processed, m->values, np * sizeof(double));
    }
    if (no) {
        ev->result.obs = xmalloc(no * sizeof(double));
        memcpy(ev->result.obs, m->obs, no * sizeof(double));
    }
    if (m->text) ev->result.reason = xstrdup(m->text);
    (void)l;
}

static void on_message(struct local *l, int k, const struct wire_msg *m)
{
    struct slot *s = &l->slots[k];
    struct tr_event *ev;
    switch (m->type) {
    case WIRE_HELLO:
        if (m->status < 0) { /* the worker could not start */
            s->up = 1;       /* so that its loss is reported with the reason */
            /* starting again would fail the same way: no respawn */
            worker_gone(l, k, m->text ? m->text : "the worker could not start", 0);
            return;
        }
        s->up = 1;
        ev = evq_push(&l->events);
        ev->type = TR_EV_WORKER_UP;
        ev->worker = k;
        snprintf(ev->detail, sizeof(ev->detail), "%s", m->text ? m->text : "");
        return;
    case WIRE_STARTED:
        s->model_pgid = (pid_t)m->pgid;
        ev = evq_push(&l->events);
        ev->type = TR_EV_STARTED;
        ev->worker = k;
        ev->key = m->key;
        return;
    case WIRE_RESULT:
        s->model_pgid = 0;
        ev = evq_push(&l->events);
        ev->type = TR_EV_RESULT;
        ev->worker = k;
        ev->key = m->key;
        keep_result(l, ev, m);
        return;
    default:
        return;
    }
}

static void read_worker(struct local *l, int k)
{
    struct slot *s = &l->slots[k];
    struct pr_error err;
    struct wire_msg m;
    long n = wire_read_fd(s->fd, &s->in, &err);
    if (n == -2) return;
    if (n <= 0) {
        worker_gone(l, k, n == 0 ? "the worker process ended" : err.msg, 1);
        return;
    }
    int got;
    while ((got = wire_take(&s->in, &m, &l->scratch, &err)) == 1) {
        on_message(l, k, &m);
        if (s->fd < 0) return;
    }
    if (got < 0) worker_gone(l, k, err.msg, 1);
}

static int local_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                      struct pr_error *err)
{
    struct local *l = impl;
    struct pollfd *p;
    int *who;

    evq_return(&l->events);
    if (l->events.len == 0) {
        p = xcalloc((size_t)l->n + 1, sizeof(*p));
        who = xcalloc((size_t)l->n + 1, sizeof(int));
        int np = 0;
        for (int k = 0; k < l->n; k++)
            if (l->slots[k].fd >= 0) {
                p[np].fd = l->slots[k].fd;
                p[np].events = POLLIN;
                who[np++] = k;
            }
        if (extra_fd >= 0) {
            p[np].fd = extra_fd;
            p[np].events = POLLIN;
            who[np++] = -1;
        }
        int rc = poll(p, (nfds_t)np, timeout_ms);
        if (rc < 0 && errno != EINTR) {
            free(p);
            free(who);
            return pr_error_set(err, "poll: %s", strerror(errno));
        }
        int extra = 0;
        for (int i = 0; rc > 0 && i < np; i++) {
            if (!p[i].revents) continue;
            if (who[i] < 0)
                extra = 1;
            else
                read_worker(l, who[i]);
        }
        free(p);
        free(who);
        if (l->events.len == 0 && extra) {
            memset(ev, 0, sizeof(*ev));
            ev->type = TR_EV_EXTRA_FD;
            ev->worker = -1;
            return 1;
        }
        if (l->events.len == 0) {
            int alive = 0;
            for (int k = 0; k < l->n; k++)
                alive += l->slots[k].fd >= 0;
            if (!alive)
                return pr_error_set(err, "every worker has stopped; the last one: %s",
                                    l->last_loss);
            return 0;
        }
    }
    evq_lend(&l->events, ev);
    return 1;
}

static int local_submit(void *impl, int worker, const struct run_request *run, struct pr_error *err)
{
    struct local *l = impl;
    if (worker < 0 || worker >= l->n || l->slots[worker].fd < 0)
        return pr_error_set(err, "worker %d is not running", worker);
    struct wire_msg m = {.type = WIRE_RUN,
                         .key = run->key,
                         .npar = run->npar,
                         .values = run->values,
                         .text = run->info};
    if (wire_send_fd(l->slots[worker].fd, &m, &l->out, err) < 0) {
        worker_gone(l, worker, err->msg, 1);
        return -1;
    }
    return 0;
}

static void local_cancel(void *impl, int worker, const struct run_key *key)
{
    struct local *l = impl;
    struct pr_error err;
    if (worker < 0 || worker >= l->n || l->slots[worker].fd < 0) return;
    struct wire_msg m = {.type = WIRE_CANCEL, .key = *key};
    if (wire_send_fd(l->slots[worker].fd, &m, &l->out, &err) < 0)
        worker_gone(l, worker, err.msg, 1);
}

static void local_destroy(void *impl)
{
    struct local *l = impl;
    struct pr_error err;
    if (!l) return;
    for (int k = 0; k < l->n; k++)
        if (l->slots[k].fd >= 0) {
            wire_send_fd(l->slots[k].fd, &(struct wire_msg){.type = WIRE_QUIT}, &l->out, &err);
            shutdown(l->slots[k].fd, SHUT_WR);
        }
    for (int k = 0; k < l->n; k++) {
        struct slot *s = &l->slots[k];
        if (s->fd >= 0) {
            while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            close(s->fd);
        }
        sb_free(&s->in);
    }
    if (l->workroot && !l->opts.keep_workdirs) {
        if (l->own_workroot)
            pr_remove_tree(l->workroot, &err);
        else
            for (int k = 0; k < l->n; k++)
                for (int g = 1; g <= l->slots[k].generation; g++) {
                    char path[4096];
                    if (g == 1)
                        snprintf(path, sizeof(path), "%s/worker-%d", l->workroot, k);
                    else
                        snprintf(path, sizeof(path), "%s/worker-%d.%d", l->workroot, k, g);
                    pr_remove_tree(path, &err);
                }
    }
    evq_free(&l->events);
    sb_free(&l->scratch);
    sb_free(&l->out);
    pin_plan_free(&l->plan);
    if (l->topo) hwloc_topology_destroy(l->topo);
    free(l->slots);
    free(l->workroot);
    free(l);
}

static const struct tr_ops local_ops = {
    .name = "local",
    .submit = local_submit,
    .cancel = local_cancel,
    .poll = local_poll,
    .destroy = local_destroy,
};

int local_create(const struct pst_case *c, const struct local_opts *opts, struct transport *tr,
                 struct pr_error *err)
{
    struct local *l = xcalloc(1, sizeof(*l));
    hwloc_bitmap_t allowed = NULL;

    l->c = c;
    l->opts = *opts;
    if (pin_topology_load(&l->topo, err) < 0) goto error;
    allowed = hwloc_bitmap_alloc();
    if (pin_allowed_cpuset(l->topo, allowed, err) < 0) goto error;
    l->n = opts->nworkers > 0 ? opts->nworkers : pin_default_workers(l->topo, allowed);
    if (l->n < 1) l->n = 1;
    if (opts->pin && pin_plan_make(l->topo, allowed, l->n, &l->plan, err) < 0) goto error;
    if (opts->workroot) {
        l->workroot = xstrdup(opts->workroot);
        if (mkdir(l->workroot, 0755) < 0 && errno != EEXIST) {
            pr_error_set(err, "%s: cannot create the work folder: %s", l->workroot,
                         strerror(errno));
            goto error;
        }
    } else {
        l->workroot = pr_make_temp_dir(NULL, "pestrun-work", err);
        if (!l->workroot) goto error;
        l->own_workroot = 1;
    }
    l->respawns_left = 3 * l->n;
    l->slots = xcalloc((size_t)l->n, sizeof(*l->slots));
    for (int k = 0; k < l->n; k++) {
        l->slots[k].fd = -1;
        l->slots[k].pu = opts->pin ? l->plan.pu[k] : -1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int k = 0; k < l->n; k++)
        if (spawn_worker(l, k, err) < 0) goto error;
    hwloc_bitmap_free(allowed);
    tr->ops = &local_ops;
    tr->impl = l;
    return 0;
error:
    hwloc_bitmap_free(allowed);
    if (l->slots)
        local_destroy(l);
    else {
        pin_plan_free(&l->plan);
        if (l->topo) hwloc_topology_destroy(l->topo);
        free(l->workroot);
        free(l);
    }
    return -1;
}

int local_nworkers(const struct transport *tr)
{
    return ((const struct local *)tr->impl)->n;
}

const char *local_workroot(const struct transport *tr)
{
    return ((const struct local *)tr->impl)->workroot;
}

int local_respawns_left(const struct transport *tr)
{
    return ((const struct local *)tr->impl)->respawns_left;
}
