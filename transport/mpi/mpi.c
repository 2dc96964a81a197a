#include "mpi.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_fd.h"
#include "launch.h"
#include "model/pin.h"
#include "net.h"
#include "spawn.h"
#include "sched/evq.h"
#include "sched/journal.h"
#include "sched/wlinks.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/strbuf.h"

#define KEY_WHO "pestrun.who"       /* a worker rank: its scope, then its launch description */
#define KEY_MASTER "pestrun.master" /* rank 0: the connection details (struct master_info) */
#define KEY_PLACE "pestrun.place"   /* rank 0: each worker's index and count on its node */
#define KEY_MODE "pestrun.mode"     /* rank 0: "spawned" or "launch" */
#define INFO_VERSION "pestrun-mpi-1"

static double lost_after(const struct mpi_opts *o)
{
    return o->lost_after_s > 0 ? o->lost_after_s : 60.0;
}

static int force_tcp(void)
{
    const char *s = getenv("PESTRUN_MPI_TCP");
    return s && *s && strcmp(s, "0") != 0;
}

static uint64_t scope_hash(const char *scope)
{
    return pr_hash64(scope, strlen(scope), 0x70657374);
}

int mpi_launched(void)
{
    if (spawn_worker_rank() > 0) return 1; /* its own job may have a single rank */
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (s) return atoi(s) > 1;
    s = getenv("PMI_SIZE");
    if (s) return atoi(s) > 1;
    if (getenv("PMIX_RANK")) {
        s = getenv("SLURM_NTASKS");
        return s ? atoi(s) > 1 : 1; /* the size is checked again after joining */
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* what a worker needs to reach the master: lines of text, in PMIx and in a spawned worker's
 * environment                                                                                */

struct master_info {
    char token[NET_TOKEN_LEN + 1];
    uint64_t case_id, scope;
    int index, count; /* this worker's place among its node's workers; -1 when in KEY_PLACE */
    char host[256];   /* TCP, "-" when the master does not listen on TCP */
    int port;
    char unix_path[4096]; /* "-" when the master has no Unix socket */
};

static void info_format(const struct master_info *mi, struct strbuf *b)
{
    sb_printf(b, "%s\n%s\n%016" PRIx64 "\n%016" PRIx64 "\n%d\n%d\n%s\n%d\n%s", INFO_VERSION,
              mi->token, mi->case_id, mi->scope, mi->index, mi->count, mi->host, mi->port,
              mi->unix_path);
}

static int info_parse(const char *s, struct master_info *mi, struct pr_error *err)
{
    char ver[32];
    memset(mi, 0, sizeof(*mi));
    if (sscanf(s,
               "%31[^\n]\n%32[0-9a-f]\n%" SCNx64 "\n%" SCNx64 "\n%d\n%d\n%255[^\n]\n%d\n%4095[^\n]",
               ver, mi->token, &mi->case_id, &mi->scope, &mi->index, &mi->count, mi->host,
               &mi->port, mi->unix_path) != 9 ||
        strcmp(ver, INFO_VERSION) != 0)
        return pr_error_set(err, "the master's connection details are not in the form of this "
                                 "pestrun (another version on this node?)");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the worker                                                                                 */

/* Set by a worker's SIGTERM handler (mpirun's or Slurm's tear-down sends SIGTERM before
 * SIGKILL): the worker kills its model and removes its folder. Process-wide, as signals are. */
static volatile sig_atomic_t worker_terminated;

static void on_worker_term(int sig)
{
    (void)sig;
    worker_terminated = 1;
}

/* The worker's core: its index among the node's workers picks a PU from a plan over this
 * process's allowed cpuset; a rank already bound to one core (mpirun --bind-to core, Slurm,
 * taskset) keeps it. */
static int worker_pin(int index, int count, struct pr_error *err)
{
    hwloc_topology_t topo = NULL;
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    struct pin_plan plan = {0};
    int rc = -1;
    if (pin_topology_load(&topo, err) < 0) goto done;
    if (pin_allowed_cpuset(topo, allowed, err) < 0) goto done;
    int ncores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, allowed, HWLOC_OBJ_CORE);
    if (ncores <= 1) {
        rc = 0;
        goto done;
    }
    if (pin_plan_make(topo, allowed, count, &plan, err) < 0) goto done;
    rc = pin_bind_self(topo, plan.pu[index % plan.n], err);
done:
    pin_plan_free(&plan);
    hwloc_bitmap_free(allowed);
    if (topo) hwloc_topology_destroy(topo);
    return rc;
}

/* Connect to the master and show the token: the Unix socket when it shares this node (and
 * TCP is not forced), else TCP. Returns the fd or -1 with err set. */
static int worker_connect(const struct master_info *mi, int rank, const char *scope,
                          struct pr_error *err)
{
    int has_unix = strcmp(mi->unix_path, "-") != 0, has_tcp = strcmp(mi->host, "-") != 0;
    int fd;
    if (has_unix && (!has_tcp || (!force_tcp() && scope && scope_hash(scope) == mi->scope)))
        fd = net_connect_unix(mi->unix_path, err);
    else if (has_tcp)
        fd = net_connect_tcp(mi->host, mi->port, err);
    else
        return pr_error_set(err, "the master is on another node and does not listen on TCP");
    if (fd < 0) return -1;
    struct strbuf tmp = {0};
    struct wire_msg hi = {
        .type = WIRE_PING, .key = {.run = (uint32_t)rank}, .pgid = getpid(), .text = mi->token};
    int rc = wire_send_fd(fd, &hi, &tmp, err);
    sb_free(&tmp);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connected to the master over fd (owned): copy the case, run the agent loop until QUIT, clean
 * up and exit the process. Never returns. */
static void worker_main(const struct pst_case *c, const struct mpi_opts *o, int fd, int rank,
                        const struct master_info *mi)
{
    struct pr_error err;
    struct agent_fd afd;
    struct agent_io io;
    struct strbuf dir = {0}, hello = {0};
    struct model_runner *r = NULL;
    char *root = NULL;
    int own_root = 0, rc = 1;
    char cpus[128], host[256];

    double ping_s = lost_after(o) / 12;
    if (ping_s > 5) ping_s = 5;
    if (ping_s < 0.2) ping_s = 0.2;
    agent_fd_init(&afd, fd, ping_s, &worker_terminated, &io);
    if (gethostname(host, sizeof(host)) < 0) snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = 0;

    uint64_t mine = journal_case_id_names(pst_param_names(c), pst_obs_names(c));
    if (mine != mi->case_id) {
        pr_error_set(&err,
                     "rank %d on %s: its case %s has other parameter or observation names than "
                     "the master's (name hash %016llx, the master's %016llx)",
                     rank, host, pst_dir(c), (unsigned long long)mine,
                     (unsigned long long)mi->case_id);
        goto fail;
    }
    if (o->pin && worker_pin(mi->index, mi->count, &err) < 0) goto fail;
    if (o->workroot) {
        root = xstrdup(o->workroot);
        if (mkdir(root, 0755) < 0 && errno != EEXIST) {
            pr_error_set(&err, "%s: cannot create the work folder: %s", root, strerror(errno));
            goto fail;
        }
    } else {
        root = pr_make_temp_dir(NULL, "pestrun-mpi", &err);
        if (!root) goto fail;
        own_root = 1;
    }
    sb_printf(&dir, "%s/rank-%d", root, rank);
    if (pr_copy_tree(pst_dir(c), dir.data, root, &err) < 0) goto fail;
    r = runner_create(c, dir.data, &o->ropts, &err);
    if (!r) goto fail;
    pin_describe_self(cpus, sizeof(cpus));
    sb_printf(&hello, "rank %d host %s pid %d cpus %s dir %s", rank, host, (int)getpid(), cpus,
              dir.data);
    rc = agent_loop(&io, r, hello.data);
    runner_destroy(r);
    goto out;
fail:
    /* tell the master why this rank cannot work, then wait for it to let go */
    rc = 0;
    if (agent_fd_send(&afd,
                      &(struct wire_msg){.type = WIRE_HELLO, .status = -1, .text = err.msg}) == 0) {
        struct wire_msg m;
        int got;
        while ((got = agent_fd_next(&afd, &m, -1)) == 1 && m.type != WIRE_QUIT)
            ;
    }
out:
    if (root && !o->keep_workdirs) {
        struct pr_error e2;
        if (dir.data) pr_remove_tree(dir.data, &e2);
        if (own_root) pr_remove_tree(root, &e2);
    }
    free(root);
    sb_free(&dir);
    sb_free(&hello);
    agent_fd_free(&afd);
    close(fd); /* the master takes the end of the link as this worker's goodbye */
    if (worker_terminated) _exit(143);
    exit(rc == 0 ? 0 : 1);
}

static void worker_signals(int rank)
{
    char num[16];
    signal(SIGINT, SIG_IGN); /* the master decides what Ctrl-C means */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_worker_term; /* no SA_RESTART: poll() returns to see the flag */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    snprintf(num, sizeof(num), "%d", rank);
    setenv(SPAWN_ENV_RANK, num, 1); /* the models see which rank runs them */
}

static void worker_start(const struct pst_case *c, const struct mpi_opts *o, int rank,
                         const struct master_info *mi, const char *scope)
{
    struct pr_error err;
    worker_signals(rank);
    int fd = worker_connect(mi, rank, scope, &err);
    if (fd < 0) {
        fprintf(stderr, "pestrun: rank %d: %s\n", rank, err.msg);
        exit(1);
    }
    worker_main(c, o, fd, rank, mi);
}

/* A worker the master spawned (spawn.h). Never returns. */
static void spawned_worker(const struct pst_case *c, const struct mpi_opts *o, int rank)
{
    struct master_info mi;
    struct pr_error err;
    if (info_parse(getenv(SPAWN_ENV_MASTER), &mi, &err) < 0) {
        fprintf(stderr, "pestrun: rank %d: %s\n", rank, err.msg);
        exit(1);
    }
    unsetenv(SPAWN_ENV_MASTER);          /* the token is not the models' business */
    worker_start(c, o, rank, &mi, NULL); /* the master chose its address */
}

/* ------------------------------------------------------------------------------------------ */
/* the master                                                                                 */

enum { W_STARTING = 0, W_UP = 1, W_LOST = 2 };

struct mworker {
    int state;
    int pid;
    double last_heard; /* STARTING: when the master started waiting for it */
};

/* A connection that has not shown the token yet. */
struct pending {
    int fd;
    double deadline;
    struct strbuf in;
};

#define PENDING_MAX 64
#define PENDING_S 10.0

struct mpi_master {
    int n; /* worker k stands for launch rank k + 1 */
    struct mworker *w;
    struct wlinks *links;
    int lfd[2]; /* listeners: Unix, TCP; -1 when closed */
    char unix_path[4096];
    char token[NET_TOKEN_LEN + 1];
    struct pending pend[PENDING_MAX];
    int npend;
    double lost_after_s;
    char workroot[1024];
    char last_loss[512];
    struct evq events;
    struct strbuf scratch;
};

static void close_listeners(struct mpi_master *m)
{
    for (int i = 0; i < 2; i++)
        if (m->lfd[i] >= 0) close(m->lfd[i]);
    m->lfd[0] = m->lfd[1] = -1;
    net_unix_remove(m->unix_path);
    m->unix_path[0] = 0;
}

/* Once no worker can still connect, no one else may either. */
static void maybe_close_listeners(struct mpi_master *m)
{
    for (int k = 0; k < m->n; k++)
        if (m->w[k].state == W_STARTING && wlinks_fd(m->links, k) < 0) return;
    close_listeners(m);
}

/* Worker k is lost (the scheduler re-queues its run): its link is closed, which ends it
 * should it still be there. */
static void worker_lost(struct mpi_master *m, int k, const char *why)
{
    if (m->w[k].state == W_LOST) return;
    snprintf(m->last_loss, sizeof(m->last_loss), "%s", why);
    m->w[k].state = W_LOST;
    wlinks_close(m->links, k);
    struct tr_event *ev = evq_push(&m->events);
    ev->type = TR_EV_WORKER_LOST;
    ev->worker = k;
    snprintf(ev->detail, sizeof(ev->detail), "%s", why);
    maybe_close_listeners(m);
}

static void on_message(void *ctx, int k, const struct wire_msg *msg)
{
    struct mpi_master *m = ctx;
    if (m->w[k].state == W_LOST) return;
    m->w[k].last_heard = pr_now_s();
    if (msg->type == WIRE_HELLO && msg->status < 0) {
        worker_lost(m, k, msg->text ? msg->text : "the worker rank could not start");
        return;
    }
    if (msg->type == WIRE_HELLO) m->w[k].state = W_UP;
    wlinks_event(&m->events, k, msg); /* PING: liveness only */
}

static void on_end(void *ctx, int k, const char *why)
{
    struct mpi_master *m = ctx;
    char buf[600];
    if (why)
        snprintf(buf, sizeof(buf), "rank %d: %s", k + 1, why);
    else
        snprintf(buf, sizeof(buf), "rank %d (pid %d) ended", k + 1, m->w[k].pid);
    worker_lost(m, k, buf);
}

static void drop_pending(struct mpi_master *m, int i)
{
    close(m->pend[i].fd);
    sb_free(&m->pend[i].in);
    m->pend[i] = m->pend[--m->npend];
}

/* A pending connection said something: a worker's first message is a PING with the token, its
 * rank (key.run) and pid (pgid). Anything else, or a rank already connected, is shut out. */
static void check_pending(struct mpi_master *m, int i, const struct wlinks_cb *cb)
{
    struct pending *p = &m->pend[i];
    struct pr_error err;
    struct wire_msg msg;
    long n = wire_read_fd(p->fd, &p->in, &err);
    if (n == -2) return;
    if (n <= 0) {
        drop_pending(m, i);
        return;
    }
    int got = wire_take(&p->in, &msg, &m->scratch, &err);
    if (got == 0 && p->in.len < 4096) return;
    int k = got == 1 ? (int)msg.key.run - 1 : -1;
    if (got != 1 || msg.type != WIRE_PING || !msg.text || !net_token_eq(msg.text, m->token) ||
        k < 0 || k >= m->n || m->w[k].state != W_STARTING || wlinks_fd(m->links, k) >= 0) {
        drop_pending(m, i);
        return;
    }
    int fd = p->fd;
    struct strbuf rest = p->in;
    m->pend[i] = m->pend[--m->npend];
    wlinks_attach(m->links, k, fd);
    m->w[k].pid = (int)msg.pgid;
    m->w[k].last_heard = pr_now_s();
    wlinks_feed(m->links, k, rest.data, rest.len, cb);
    sb_free(&rest);
    maybe_close_listeners(m);
}

static void accept_all(struct mpi_master *m, int lfd)
{
    struct pr_error err;
    for (;;) {
        int fd = net_accept(lfd, &err);
        if (fd < 0) return;
        if (m->npend == PENDING_MAX) { /* a flood: the oldest waits longest */
            close(fd);
            continue;
        }
        m->pend[m->npend++] = (struct pending){.fd = fd, .deadline = pr_now_s() + PENDING_S};
    }
}

/* Lose the workers silent too long; returns the ms until the next such deadline (-1: none). */
static int check_deadlines(struct mpi_master *m)
{
    double t = pr_now_s(), next = -1;
    for (int k = 0; k < m->n; k++) {
        struct mworker *w = &m->w[k];
        if (w->state == W_LOST) continue;
        /* a rank still starting or copying its case folder gets ten times longer */
        double limit = w->state == W_UP ? m->lost_after_s : 10 * m->lost_after_s;
        if (t - w->last_heard > limit) {
            char why[160];
            if (wlinks_fd(m->links, k) < 0)
                snprintf(why, sizeof(why), "rank %d did not connect in %.0f s", k + 1,
                         t - w->last_heard);
            else
                snprintf(why, sizeof(why), "rank %d was silent for %.0f s", k + 1,
                         t - w->last_heard);
            worker_lost(m, k, why);
            continue;
        }
        double due = w->last_heard + limit - t;
        if (next < 0 || due < next) next = due;
    }
    for (int i = m->npend - 1; i >= 0; i--) {
        if (m->pend[i].deadline <= t) {
            drop_pending(m, i);
            continue;
        }
        double due = m->pend[i].deadline - t;
        if (next < 0 || due < next) next = due;
    }
    return next < 0 ? -1 : (int)(next * 1000) + 1;
}

/* One poll() over the links, the listeners, the pending connections and extra_fd. Returns 1
 * when extra_fd is readable, 0 otherwise, -1 with err set. */
static int wait_once(struct mpi_master *m, int extra_fd, int t, struct pr_error *err)
{
    struct wlinks_cb cb = {on_message, on_end, m};
    struct pollfd x[3 + PENDING_MAX];
    int nx = 0;
    x[nx++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
    for (int i = 0; i < 2; i++)
        x[nx++] = (struct pollfd){.fd = m->lfd[i], .events = POLLIN};
    int npend = m->npend;
    for (int i = 0; i < npend; i++)
        x[nx++] = (struct pollfd){.fd = m->pend[i].fd, .events = POLLIN};
    if (wlinks_poll(m->links, x, nx, t, &cb, err) < 0) return -1;
    for (int i = npend - 1; i >= 0; i--) /* from the end: drop_pending moves the last one */
        if (x[3 + i].revents) check_pending(m, i, &cb);
    for (int i = 0; i < 2; i++)
        if (x[1 + i].revents && m->lfd[i] >= 0) accept_all(m, m->lfd[i]);
    return extra_fd >= 0 && x[0].revents != 0;
}

static int mpi_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                    struct pr_error *err)
{
    struct mpi_master *m = impl;
    double end = timeout_ms >= 0 ? pr_now_s() + timeout_ms / 1000.0 : 0;

    evq_return(&m->events);
    while (m->events.len == 0) {
        int t = check_deadlines(m);
        if (m->events.len) break;
        int alive = 0;
        for (int k = 0; k < m->n; k++)
            alive += m->w[k].state != W_LOST;
        if (!alive)
            return pr_error_set(err, "every worker rank has stopped; the last one: %s",
                                m->last_loss);
        if (timeout_ms >= 0) {
            double left = end - pr_now_s();
            int tl = left > 0 ? (int)(left * 1000 + 0.999) : 0;
            if (t < 0 || tl < t) t = tl;
        }
        int rc = wait_once(m, extra_fd, t, err);
        if (rc < 0) return -1;
        if (rc > 0 && m->events.len == 0) {
            memset(ev, 0, sizeof(*ev));
            ev->type = TR_EV_EXTRA_FD;
            ev->worker = -1;
            return 1;
        }
        if (m->events.len == 0 && timeout_ms >= 0 && pr_now_s() >= end) return 0;
    }
    evq_lend(&m->events, ev);
    return 1;
}

static int mpi_submit(void *impl, int worker, const struct run_request *run, struct pr_error *err)
{
    struct mpi_master *m = impl;
    if (worker < 0 || worker >= m->n || m->w[worker].state != W_UP)
        return pr_error_set(err, "worker %d is not running", worker);
    struct wire_msg msg = {.type = WIRE_RUN,
                           .key = run->key,
                           .npar = run->npar,
                           .values = run->values,
                           .text = run->info};
    if (wlinks_send(m->links, worker, &msg, err) < 0) {
        char why[1100];
        snprintf(why, sizeof(why), "rank %d: %s", worker + 1, err->msg);
        worker_lost(m, worker, why);
        return -1;
    }
    return 0;
}

static void mpi_cancel(void *impl, int worker, const struct run_key *key)
{
    struct mpi_master *m = impl;
    struct pr_error err;
    if (worker < 0 || worker >= m->n || m->w[worker].state == W_LOST) return;
    if (wlinks_send(m->links, worker, &(struct wire_msg){.type = WIRE_CANCEL, .key = *key}, &err) <
        0) {
        char why[1100];
        snprintf(why, sizeof(why), "rank %d: %s", worker + 1, err.msg);
        worker_lost(m, worker, why);
    }
}

static void bye_message(void *ctx, int k, const struct wire_msg *msg)
{
    (void)ctx, (void)k, (void)msg; /* late results and pings, of no use now */
}

static void bye_end(void *ctx, int k, const char *why)
{
    struct mpi_master *m = ctx;
    (void)why;
    wlinks_close(m->links, k);
}

/* Wait (at most 10 s in all, blocked in poll) for the workers still starting to connect, so
 * that none is left trying a closed listener; then QUIT to every worker, and wait for each to
 * close its end, which a worker does last, after removing its folder. */
static void say_goodbye(struct mpi_master *m)
{
    struct pr_error err;
    struct wlinks_cb cb = {bye_message, bye_end, m};
    double end = pr_now_s() + 10;
    for (;;) {
        int starting = 0;
        for (int k = 0; k < m->n; k++)
            starting += m->w[k].state != W_LOST && wlinks_fd(m->links, k) < 0;
        int t = check_deadlines(m); /* a rank that never connects is given up on */
        double left = end - pr_now_s();
        if (t < 0 || t > left * 1000) t = (int)(left * 1000) + 1;
        if (!starting || left <= 0 || wait_once(m, -1, t, &err) < 0) break;
    }
    for (int k = 0; k < m->n; k++) {
        int fd = wlinks_fd(m->links, k);
        if (fd < 0) continue;
        if (wlinks_send(m->links, k, &(struct wire_msg){.type = WIRE_QUIT}, &err) < 0)
            wlinks_close(m->links, k);
        else
            shutdown(fd, SHUT_WR);
    }
    while (wlinks_open(m->links) > 0) {
        double left = end - pr_now_s();
        if (left <= 0) break;
        if (wlinks_poll(m->links, NULL, 0, (int)(left * 1000) + 1, &cb, &err) < 0) break;
    }
}

static void mpi_destroy(void *impl)
{
    struct mpi_master *m = impl;
    if (!m) return;
    say_goodbye(m);
    close_listeners(m);
    while (m->npend > 0)
        drop_pending(m, m->npend - 1);
    wlinks_destroy(m->links);
    evq_free(&m->events);
    sb_free(&m->scratch);
    free(m->w);
    free(m);
}

static const struct tr_ops mpi_ops = {
    .name = "mpi",
    .submit = mpi_submit,
    .cancel = mpi_cancel,
    .poll = mpi_poll,
    .destroy = mpi_destroy,
};

/* ------------------------------------------------------------------------------------------ */
/* the start                                                                                  */

/* A worker rank's part of what the launch exchanges: its scope, NUL, its launch description. */
struct who {
    char *data;
    size_t len;
};

static const char *who_scope(const struct who *w)
{
    return w->data;
}

static const char *who_desc(const struct who *w, size_t *len)
{
    size_t sl = strlen(w->data) + 1;
    *len = w->len > sl ? w->len - sl : 0;
    return w->data + sl;
}

/* The master's listeners: a Unix socket when a worker shares its node, TCP (on
 * PESTRUN_MPI_ADDR, or the address this node reaches the first other node from, or loopback
 * when PESTRUN_MPI_TCP forces it on one node) when one does not. link (n bytes) says which. */
static int master_listen(struct mpi_master *m, const struct who *who, const char *scope,
                         struct master_info *mi, char *link, size_t n, struct pr_error *err)
{
    const char *other = NULL;
    int local = 0;
    for (int k = 0; k < m->n; k++) {
        if (strcmp(who_scope(&who[k]), scope) == 0)
            local = 1;
        else if (!other)
            other = who_scope(&who[k]);
    }
    snprintf(mi->unix_path, sizeof(mi->unix_path), "-");
    snprintf(mi->host, sizeof(mi->host), "-");
    if (local && !force_tcp()) {
        m->lfd[0] = net_listen_unix(m->unix_path, sizeof(m->unix_path), err);
        if (m->lfd[0] < 0) return -1;
        snprintf(mi->unix_path, sizeof(mi->unix_path), "%s", m->unix_path);
    }
    if (other || force_tcp()) {
        const char *addr = getenv("PESTRUN_MPI_ADDR");
        if (addr && *addr) {
            snprintf(mi->host, sizeof(mi->host), "%s", addr);
        } else if (other) {
            char node[256];
            snprintf(node, sizeof(node), "%.*s", (int)strcspn(other, "/"), other);
            if (net_source_address(node, mi->host, sizeof(mi->host), err) < 0)
                return pr_error_prefix(err, "choosing the address the other nodes reach the "
                                            "master at (set PESTRUN_MPI_ADDR)");
        } else {
            snprintf(mi->host, sizeof(mi->host), "127.0.0.1");
        }
        m->lfd[1] = net_listen_tcp(mi->host, &mi->port, err);
        if (m->lfd[1] < 0) return -1;
    }
    snprintf(link, n, "%s%s%s%s%s", m->lfd[0] >= 0 ? "a Unix socket" : "",
             m->lfd[0] >= 0 && m->lfd[1] >= 0 ? " and " : "", m->lfd[1] >= 0 ? "TCP " : "",
             m->lfd[1] >= 0 ? mi->host : "",
             m->lfd[1] >= 0 ? (other ? " (the address that reaches the other nodes)" : "") : "");
    return 0;
}

/* Each worker's index among the workers of its node, and how many they are (pinning). */
static void place_workers(const struct who *who, int n, int32_t *place)
{
    for (int k = 0; k < n; k++) {
        int index = 0, count = 0;
        for (int j = 0; j < n; j++)
            if (strcmp(who_scope(&who[j]), who_scope(&who[k])) == 0) {
                if (j < k) index++;
                count++;
            }
        place[2 * k] = index;
        place[2 * k + 1] = count;
    }
}

/* Spawn the workers (spawn.h): each gets the connection details with only the address it is
 * to use. 0, or -1 with why set. */
static int master_spawn(const struct who *who, int n, const struct master_info *mi,
                        const int32_t *place, const char *scope, char *why, size_t whylen)
{
    char **desc = xcalloc((size_t)n, sizeof(char *)), **info = xcalloc((size_t)n, sizeof(char *));
    size_t *len = xcalloc((size_t)n, sizeof(size_t));
    for (int k = 0; k < n; k++) {
        struct master_info w = *mi;
        int unix_ok = strcmp(mi->unix_path, "-") != 0 && strcmp(who_scope(&who[k]), scope) == 0 &&
                      !force_tcp();
        if (unix_ok)
            snprintf(w.host, sizeof(w.host), "-");
        else
            snprintf(w.unix_path, sizeof(w.unix_path), "-");
        w.index = place[2 * k];
        w.count = place[2 * k + 1];
        struct strbuf b = {0};
        info_format(&w, &b);
        info[k] = sb_take(&b);
        desc[k] = (char *)(uintptr_t)who_desc(&who[k], &len[k]);
    }
    int rc = spawn_workers(desc, len, n, info, why, whylen);
    for (int k = 0; k < n; k++)
        free(info[k]);
    free(info);
    free(desc);
    free(len);
    return rc;
}

/* Rank 0: read what the workers published, listen, spawn or not, publish the details. */
static struct mpi_master *master_start(struct launch *L, const struct pst_case *c,
                                       const struct mpi_opts *opts, struct pr_error *err)
{
    int n = launch_size(L) - 1, spawned = 0;
    char scope[1024], why[256] = "", link[512];
    struct master_info mi;
    struct mpi_master *m = xcalloc(1, sizeof(*m));
    struct who *who = xcalloc((size_t)n, sizeof(*who));
    int32_t *place = xcalloc(2 * (size_t)n, sizeof(int32_t));
    struct strbuf b = {0};

    m->n = n;
    m->w = xcalloc((size_t)n, sizeof(*m->w));
    m->links = wlinks_create(n);
    m->lfd[0] = m->lfd[1] = -1;
    m->lost_after_s = lost_after(opts);
    launch_scope(L, scope, sizeof(scope));
    memset(&mi, 0, sizeof(mi));
    mi.case_id = journal_case_id_names(pst_param_names(c), pst_obs_names(c));
    mi.scope = scope_hash(scope);
    mi.index = mi.count = -1;
    if (net_token(m->token, err) < 0) goto error;
    snprintf(mi.token, sizeof(mi.token), "%s", m->token);
    if (launch_fence(L, err) < 0) goto error;
    for (int k = 0; k < n; k++)
        if (launch_get(L, k + 1, KEY_WHO, &who[k].data, &who[k].len, err) < 0) goto error;
    if (master_listen(m, who, scope, &mi, link, sizeof(link), err) < 0) goto error;
    place_workers(who, n, place);
    if (spawn_wanted(why, sizeof(why)))
        spawned = master_spawn(who, n, &mi, place, scope, why, sizeof(why)) == 0;
    info_format(&mi, &b);
    const char *mode = spawned ? "spawned" : "launch";
    if (launch_put(L, KEY_MASTER, b.data, b.len, err) < 0 ||
        launch_put(L, KEY_PLACE, place, 2 * (size_t)n * sizeof(int32_t), err) < 0 ||
        launch_put(L, KEY_MODE, mode, strlen(mode), err) < 0 || launch_fence(L, err) < 0)
        goto error;
    double t = pr_now_s();
    for (int k = 0; k < n; k++)
        m->w[k].last_heard = t;
    const char *tmp = getenv("TMPDIR");
    snprintf(m->workroot, sizeof(m->workroot), "%s on each node (%s%s; over %s)",
             opts->workroot ? opts->workroot : (tmp && *tmp ? tmp : "/tmp"),
             spawned ? "worker ranks spawned as a recoverable job"
                     : "the launch's ranks are the workers: ",
             spawned ? "" : why, link);
    for (int k = 0; k < n; k++)
        free(who[k].data);
    free(who);
    free(place);
    sb_free(&b);
    return m;
error:
    for (int k = 0; k < n; k++)
        free(who[k].data);
    free(who);
    free(place);
    sb_free(&b);
    mpi_destroy(m);
    return NULL;
}

/* A rank other than 0: publish where it runs (and how to start it again), learn how to reach
 * the master; leave when the master spawned its stand-in, else work. Never returns. */
static void launch_worker(struct launch *L, const struct pst_case *c, const struct mpi_opts *o)
{
    struct pr_error err;
    struct strbuf who = {0};
    char scope[1024], why[256];
    char *info = NULL, *mode = NULL, *place = NULL;
    size_t len;
    struct master_info mi;
    int rank = launch_rank(L);

    launch_scope(L, scope, sizeof(scope));
    sb_append(&who, scope, strlen(scope) + 1);
    if (spawn_wanted(why, sizeof(why))) spawn_describe(&who);
    if (launch_put(L, KEY_WHO, who.data, who.len, &err) < 0 || launch_fence(L, &err) < 0 ||
        launch_fence(L, &err) < 0 || launch_get(L, 0, KEY_MODE, &mode, &len, &err) < 0)
        goto fail;
    if (strcmp(mode, "spawned") == 0) { /* the spawned worker stands for this rank: leave */
        launch_leave(L);
        exit(0);
    }
    if (launch_get(L, 0, KEY_MASTER, &info, &len, &err) < 0 ||
        launch_get(L, 0, KEY_PLACE, &place, &len, &err) < 0 || info_parse(info, &mi, &err) < 0)
        goto fail;
    if (len >= 2 * (size_t)rank * sizeof(int32_t)) {
        int32_t p[2];
        memcpy(p, place + 2 * (size_t)(rank - 1) * sizeof(int32_t), sizeof(p));
        mi.index = p[0];
        mi.count = p[1];
    }
    launch_leave(L); /* nothing more goes through the launcher */
    free(info);
    free(mode);
    free(place);
    sb_free(&who);
    worker_start(c, o, rank, &mi, scope);
fail:
    fprintf(stderr, "pestrun: rank %d: %s\n", rank, err.msg);
    launch_leave(L);
    exit(1);
}

int mpi_start(const struct pst_case *c, const struct mpi_opts *opts, struct transport *tr,
              struct pr_error *err)
{
    if (spawn_worker_rank()) spawned_worker(c, opts, spawn_worker_rank()); /* never returns */
    struct launch *L = launch_join(err);
    if (!L)
        return pr_error_prefix(err, "the MPI transport needs at least 2 ranks (a master and a "
                                    "worker)");
    if (launch_size(L) < 2) {
        int size = launch_size(L);
        launch_leave(L);
        return pr_error_set(err,
                            "the MPI transport needs at least 2 ranks (a master and a "
                            "worker); this job has %d",
                            size);
    }
    if (launch_rank(L) != 0) launch_worker(L, c, opts); /* never returns */
    signal(SIGPIPE, SIG_IGN);
    struct mpi_master *m = master_start(L, c, opts, err);
    launch_leave(L);
    if (!m) return -1;
    tr->ops = &mpi_ops;
    tr->impl = m;
    return 0;
}

int mpi_nworkers(const struct transport *tr)
{
    return ((const struct mpi_master *)tr->impl)->n;
}

const char *mpi_workroot(const struct transport *tr)
{
    return ((const struct mpi_master *)tr->impl)->workroot;
}
