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

#include "agent/agent_fd.h"
#include "model/pin.h"
#include "sched/evq.h"
#include "sched/wlinks.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

struct slot {
    pid_t pid;        /* its link (the master end of a socketpair) is in links */
    int generation;   /* how many times this slot's worker was started */
    int pu;           /* core it is bound to, -1 when not pinned */
    pid_t model_pgid; /* process group of the model it runs, 0 when none */
    int up;           /* HELLO received */
};

struct local {
    const struct pst_case *c;
    struct local_opts opts;
    char *workroot;
    int own_workroot;
    int n;
    struct slot *slots;
    struct wlinks *links;
    hwloc_topology_t topo;
    struct pin_plan plan;
    int respawns_left;
    char last_loss[512]; /* why the last worker was lost, for the error when none is left */
    /* decoded events not yet handed out */
    struct evq events;
};

/* ------------------------------------------------------------------------------------------ */
/* the worker process                                                                         */

/* In the child: bind, copy the model folder, run the agent loop. Never returns. */
static void worker_main(struct local *l, int k, int fd)
{
    struct pr_error err;
    struct agent_fd afd;
    struct agent_io io;
    struct strbuf dir = {0}, hello = {0};
    struct model_runner *r = NULL;
    int rc = 1;
    char cpus[128];

    agent_fd_init(&afd, fd, 0, NULL, &io);
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
    agent_fd_send(&afd, &(struct wire_msg){.type = WIRE_HELLO, .status = -1, .text = err.msg});
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
            if (wlinks_fd(l->links, i) >= 0) close(wlinks_fd(l->links, i));
        worker_main(l, k, sv[1]);
    }
    close(sv[1]);
    wlinks_attach(l->links, k, sv[0]);
    s->pid = pid;
    s->up = 0;
    s->model_pgid = 0;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* events                                                                                     */

static void worker_gone(struct local *l, int k, const char *why, int respawn)
{
    struct slot *s = &l->slots[k];
    snprintf(l->last_loss, sizeof(l->last_loss), "%s", why);
    if (wlinks_fd(l->links, k) < 0) return;
    wlinks_close(l->links, k);
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

static void on_message(void *ctx, int k, const struct wire_msg *m)
{
    struct local *l = ctx;
    struct slot *s = &l->slots[k];
    if (m->type == WIRE_HELLO && m->status < 0) { /* the worker could not start */
        s->up = 1;                                /* so that its loss is reported with the reason */
        /* starting again would fail the same way: no respawn */
        worker_gone(l, k, m->text ? m->text : "the worker could not start", 0);
        return;
    }
    if (m->type == WIRE_HELLO) s->up = 1;
    if (m->type == WIRE_STARTED) s->model_pgid = (pid_t)m->pgid;
    if (m->type == WIRE_RESULT) s->model_pgid = 0;
    wlinks_event(&l->events, k, m);
}

static void on_end(void *ctx, int k, const char *why)
{
    struct local *l = ctx;
    worker_gone(l, k, why ? why : "the worker process ended", 1);
}

static int local_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                      struct pr_error *err)
{
    struct local *l = impl;
    struct wlinks_cb cb = {on_message, on_end, l};

    evq_return(&l->events);
    if (l->events.len == 0) {
        struct pollfd x = {.fd = extra_fd, .events = POLLIN};
        int rc = wlinks_poll(l->links, &x, extra_fd >= 0, timeout_ms, &cb, err);
        if (rc < 0) return -1;
        if (l->events.len == 0 && extra_fd >= 0 && x.revents) {
            memset(ev, 0, sizeof(*ev));
            ev->type = TR_EV_EXTRA_FD;
            ev->worker = -1;
            return 1;
        }
        if (l->events.len == 0) {
            if (wlinks_open(l->links) == 0)
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
    if (worker < 0 || worker >= l->n || wlinks_fd(l->links, worker) < 0)
        return pr_error_set(err, "worker %d is not running", worker);
    struct wire_msg m = {.type = WIRE_RUN,
                         .key = run->key,
                         .npar = run->npar,
                         .values = run->values,
                         .text = run->info};
    if (wlinks_send(l->links, worker, &m, err) < 0) {
        worker_gone(l, worker, err->msg, 1);
        return -1;
    }
    return 0;
}

static void local_cancel(void *impl, int worker, const struct run_key *key)
{
    struct local *l = impl;
    struct pr_error err;
    if (worker < 0 || worker >= l->n || wlinks_fd(l->links, worker) < 0) return;
    struct wire_msg m = {.type = WIRE_CANCEL, .key = *key};
    if (wlinks_send(l->links, worker, &m, &err) < 0) worker_gone(l, worker, err.msg, 1);
}

static void local_destroy(void *impl)
{
    struct local *l = impl;
    struct pr_error err;
    if (!l) return;
    for (int k = 0; k < l->n; k++)
        if (wlinks_fd(l->links, k) >= 0) {
            wlinks_send(l->links, k, &(struct wire_msg){.type = WIRE_QUIT}, &err);
            shutdown(wlinks_fd(l->links, k), SHUT_WR);
        }
    for (int k = 0; k < l->n; k++)
        if (wlinks_fd(l->links, k) >= 0) {
            while (waitpid(l->slots[k].pid, NULL, 0) < 0 && errno == EINTR)
                ;
            wlinks_close(l->links, k);
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
    wlinks_destroy(l->links);
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

int local_default_nworkers(struct pr_error *err)
{
    hwloc_topology_t topo;
    if (pin_topology_load(&topo, err) < 0) return -1;
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    int n = -1;
    if (pin_allowed_cpuset(topo, allowed, err) == 0) {
        n = pin_default_workers(topo, allowed);
        if (n < 1) n = 1;
    }
    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(topo);
    return n;
}

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
    l->links = wlinks_create(l->n);
    for (int k = 0; k < l->n; k++) {
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
