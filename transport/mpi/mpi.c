#include "mpi.h"

#include <mpi.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "model/pin.h"
#include "spawn.h"
#include "sched/evq.h"
#include "sched/journal.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/clock.h"

enum { TAG_MSG = 17 };
/* A worker's last message, the answer to a QUIT with status 0: a PING with this status. The
 * master waits for it before it finalises, as MPI_Finalize no longer synchronises the ranks. */
enum { PING_BYE = 1 };
/* A QUIT with this status goes to a worker the master has given up on: it need not answer. */
enum { QUIT_LOST = 1 };
enum { BACKOFF_MIN_MS = 1, BACKOFF_MAX_MS = 50 };

/* How long to keep testing for messages without sleeping after activity. */
#define SPIN_S 0.0005

static int next_backoff(int ms)
{
    return ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

static const char *mpi_errstr(int rc, char *buf)
{
    int len = 0;
    if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) snprintf(buf, 64, "MPI error %d", rc);
    return buf;
}

static double lost_after(const struct mpi_opts *o)
{
    return o->lost_after_s > 0 ? o->lost_after_s : 60.0;
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
        return s ? atoi(s) > 1 : 1; /* the size is checked again after MPI_Init */
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the worker rank                                                                            */

/* Set by a worker rank's SIGTERM handler (mpirun's abort of the job sends SIGTERM before
 * SIGKILL): the rank kills its model and removes its folder. Process-wide, as signals are. */
static volatile sig_atomic_t worker_terminated;

static void on_worker_term(int sig)
{
    (void)sig;
    worker_terminated = 1;
}

struct worker_io {
    MPI_Comm comm;
    int quit_status; /* of the QUIT received, -1 before one */
    int backoff_ms;
    double last_activity;
    double ping_s, last_sent;
    char *buf;
    size_t cap;
    struct strbuf scratch, out;
};

static int wio_send(void *impl, const struct wire_msg *m)
{
    struct worker_io *w = impl;
    sb_reset(&w->out);
    wire_encode(m, &w->out);
    if (w->out.len > INT_MAX) return -1;
    if (MPI_Send(w->out.data, (int)w->out.len, MPI_BYTE, 0, TAG_MSG, w->comm) != MPI_SUCCESS)
        return -1;
    w->last_sent = pr_now_s();
    w->backoff_ms = BACKOFF_MIN_MS; /* an answer (the next run) usually follows soon */
    return 0;
}

/* MPI has no fd to block on: Iprobe, then poll() on the model's pidfd with a back-off of
 * 1 ms doubling to 50 ms while idle; a PING goes to the master every ping_s seconds. */
static int wio_wait(void *impl, int model_fd, int timeout_ms)
{
    struct worker_io *w = impl;
    double start = pr_now_s();
    for (;;) {
        int flag = 0;
        if (worker_terminated) return -1;
        if (pr_now_s() - w->last_sent >= w->ping_s &&
            wio_send(w, &(struct wire_msg){.type = WIRE_PING}) < 0)
            return -1;
        if (MPI_Iprobe(0, TAG_MSG, w->comm, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        if (flag) {
            w->backoff_ms = BACKOFF_MIN_MS;
            return AGENT_MSG;
        }
        int t = w->backoff_ms;
        /* just after sending, spin for SPIN_S: the next message usually follows at once */
        int spinning = pr_now_s() - w->last_sent < SPIN_S;
        if (spinning) t = 0;
        if (timeout_ms >= 0) {
            int left = timeout_ms - (int)((pr_now_s() - start) * 1000);
            if (left <= 0) return 0;
            if (left < t) t = left;
        }
        struct pollfd p = {.fd = model_fd, .events = POLLIN};
        int rc = poll(&p, model_fd >= 0 ? 1 : 0, t);
        if (rc > 0) {
            w->backoff_ms = BACKOFF_MIN_MS;
            return AGENT_MODEL;
        }
        if (rc < 0 && errno != EINTR) return -1;
        if (!spinning) w->backoff_ms = next_backoff(w->backoff_ms);
    }
}

static int wio_recv(void *impl, struct wire_msg *m)
{
    struct worker_io *w = impl;
    struct pr_error err;
    MPI_Message msg;
    MPI_Status st;
    int flag = 0, count = 0;
    if (MPI_Improbe(0, TAG_MSG, w->comm, &flag, &msg, &st) != MPI_SUCCESS) return -1;
    if (!flag) return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if ((size_t)count > w->cap) {
        w->cap = (size_t)count;
        w->buf = xrealloc(w->buf, w->cap);
    }
    if (MPI_Mrecv(w->buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
    if (wire_decode(w->buf, (size_t)count, m, &w->scratch, &err) < 0) return -1;
    if (m->type == WIRE_QUIT) w->quit_status = m->status;
    return 1;
}

/* The worker's core: its node-local index among the node's workers picks a PU from a plan
 * over this process's allowed cpuset; a rank mpirun already bound to one core keeps it. */
static int worker_pin(int index, int count, struct pr_error *err)
{
    hwloc_topology_t topo = NULL;
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    struct pin_plan plan = {0};
    int rc = -1;
    if (pin_topology_load(&topo, err) < 0) goto done;
    if (pin_allowed_cpuset(topo, allowed, err) < 0) goto done;
    int ncores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, allowed, HWLOC_OBJ_CORE);
    if (ncores <= 1) { /* bound already (mpirun --bind-to core, Slurm, taskset): keep it */
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

/* Where a pid means something: the host, its boot and the pid namespace. */
static void pid_scope(char *buf, size_t n)
{
    char host[128], boot[64] = "", ns[64] = "";
    if (gethostname(host, sizeof(host)) < 0) snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof(boot), f)) boot[0] = 0;
        fclose(f);
        boot[strcspn(boot, "\n")] = 0;
    }
    ssize_t len = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    ns[len > 0 ? len : 0] = 0;
    snprintf(buf, n, "%s %s %s", host, boot, ns);
}

/* What the master learns of each worker at the start (gathered as bytes): the launch rank it
 * stands for, and its pid with where that pid means something, so that the master can watch a
 * worker of its own node end (pidfd) instead of waiting for its silence. */
struct worker_ident {
    int32_t rank;
    int32_t pid;
    char scope[248];
};

static void worker_main(const struct pst_case *c, const struct mpi_opts *o, MPI_Comm comm, int rank,
                        int index, int count, uint64_t master_id)
{
    struct pr_error err;
    struct worker_io wio = {.comm = comm, .quit_status = -1, .backoff_ms = BACKOFF_MIN_MS};
    struct agent_io io = {wio_wait, wio_recv, wio_send, &wio};
    struct strbuf dir = {0}, hello = {0};
    struct model_runner *r = NULL;
    char *root = NULL;
    int own_root = 0, rc = 1;
    char cpus[128], host[256], num[16];

    signal(SIGINT, SIG_IGN); /* the master decides what Ctrl-C means */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_worker_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    snprintf(num, sizeof(num), "%d", rank);
    setenv(SPAWN_ENV_RANK, num, 1); /* the models see which rank runs them */
    wio.ping_s = lost_after(o) / 12;
    if (wio.ping_s > 5) wio.ping_s = 5;
    if (wio.ping_s < 0.2) wio.ping_s = 0.2;
    wio.last_sent = pr_now_s();
    if (gethostname(host, sizeof(host)) < 0) snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = 0;

    uint64_t mine = journal_case_id_names(pst_param_names(c), pst_obs_names(c));
    if (mine != master_id) {
        pr_error_set(&err,
                     "rank %d on %s: its case %s has other parameter or observation names than "
                     "the master's (name hash %016llx, the master's %016llx)",
                     rank, host, pst_dir(c), (unsigned long long)mine,
                     (unsigned long long)master_id);
        goto fail;
    }
    if (o->pin && worker_pin(index, count, &err) < 0) goto fail;
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
    /* tell the master why this rank cannot work, then wait for its QUIT */
    rc = 0;
    if (wio_send(&wio, &(struct wire_msg){.type = WIRE_HELLO, .status = -1, .text = err.msg}) ==
        0) {
        struct wire_msg m;
        for (;;) {
            int ev = wio_wait(&wio, -1, -1); /* -1 on SIGTERM too */
            if (ev < 0) break;
            int got = wio_recv(&wio, &m);
            if (got < 0 || (got == 1 && m.type == WIRE_QUIT)) break;
        }
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
    if (worker_terminated) _exit(143); /* the job is being torn down: no MPI_Finalize */
    /* the master finalises once every worker said goodbye; this is the last message */
    if (wio.quit_status == 0)
        wio_send(&wio, &(struct wire_msg){.type = WIRE_PING, .status = PING_BYE});
    sb_free(&wio.scratch);
    sb_free(&wio.out);
    free(wio.buf);
    MPI_Finalize();
    exit(rc == 0 ? 0 : 1);
}

/* The start every worker takes part in: the master's name table (journal_case_id) comes in,
 * this worker's identity goes out. comm is the world (root 0) or the intercommunicator to the
 * master (remote rank 0). */
static void worker_startup(MPI_Comm comm, int rank, uint64_t *master_id)
{
    struct worker_ident me;
    memset(&me, 0, sizeof(me));
    me.rank = rank;
    me.pid = (int32_t)getpid();
    pid_scope(me.scope, sizeof(me.scope));
    MPI_Bcast(master_id, 1, MPI_UINT64_T, 0, comm);
    MPI_Gather(&me, (int)sizeof(me), MPI_BYTE, NULL, 0, MPI_BYTE, 0, comm);
}

/* ------------------------------------------------------------------------------------------ */
/* the master rank                                                                            */

enum { W_STARTING = 0, W_UP = 1, W_LOST = 2 };

struct mworker {
    int state;
    int rank; /* the launch rank it stands for, in messages */
    int pid;
    int bye; /* it answered the last QUIT */
    double last_heard;
    double busy_since; /* when its run was sent, 0 when it has none */
};

struct pending_send {
    MPI_Request req;
    char *buf;
};

struct mpi_master {
    MPI_Comm comm; /* the world (workers are ranks 1..n) or the intercommunicator to them */
    int peer0;     /* the MPI rank of worker 0 in comm: 1 in the world, 0 across */
    int n;
    struct mworker *w;
    /* [0] the caller's extra fd, [1 + k] a pidfd on worker k when it shares this node, else -1 */
    struct pollfd *pfd;
    double lost_after_s;
    int backoff_ms;
    double last_activity;
    double mean_run_s; /* moving mean of submit-to-result times, 0 before the first */
    char workroot[768];
    char last_loss[512];
    struct pending_send *sends;
    size_t nsends, capsends;
    struct evq events;
    char *buf;
    size_t cap;
    struct strbuf scratch, out;
};

/* Complete what can be completed of the pending sends, without waiting. */
static void reap_sends(struct mpi_master *m)
{
    size_t j = 0;
    for (size_t i = 0; i < m->nsends; i++) {
        int done = 0;
        if (MPI_Test(&m->sends[i].req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) done = 1;
        if (done)
            free(m->sends[i].buf);
        else
            m->sends[j++] = m->sends[i];
    }
    m->nsends = j;
}

static int master_send(struct mpi_master *m, int k, const struct wire_msg *msg,
                       struct pr_error *err)
{
    char ebuf[MPI_MAX_ERROR_STRING];
    sb_reset(&m->out);
    wire_encode(msg, &m->out);
    if (m->nsends == m->capsends) {
        m->capsends = m->capsends ? 2 * m->capsends : 16;
        m->sends = xrealloc(m->sends, m->capsends * sizeof(*m->sends));
    }
    struct pending_send *p = &m->sends[m->nsends];
    p->buf = xmalloc(m->out.len ? m->out.len : 1);
    memcpy(p->buf, m->out.data, m->out.len);
    int rc = MPI_Isend(p->buf, (int)m->out.len, MPI_BYTE, k + m->peer0, TAG_MSG, m->comm, &p->req);
    if (rc != MPI_SUCCESS) {
        free(p->buf);
        return pr_error_set(err, "sending to rank %d: %s", m->w[k].rank, mpi_errstr(rc, ebuf));
    }
    m->nsends++;
    return 0;
}

/* Worker k is lost (the scheduler re-queues its run). gone: its process is known to have
 * ended; otherwise it is told to stop, should it still be there (only slow). */
static void worker_lost(struct mpi_master *m, int k, int gone, const char *why)
{
    struct pr_error err;
    if (m->w[k].state == W_LOST) return;
    snprintf(m->last_loss, sizeof(m->last_loss), "%s", why);
    m->w[k].state = W_LOST;
    if (m->pfd[1 + k].fd >= 0) close(m->pfd[1 + k].fd);
    m->pfd[1 + k].fd = -1;
    struct tr_event *ev = evq_push(&m->events);
    ev->type = TR_EV_WORKER_LOST;
    ev->worker = k;
    snprintf(ev->detail, sizeof(ev->detail), "%s", why);
    if (!gone) master_send(m, k, &(struct wire_msg){.type = WIRE_QUIT, .status = QUIT_LOST}, &err);
}

static void on_message(struct mpi_master *m, int k, const struct wire_msg *msg)
{
    struct tr_event *ev;
    switch (msg->type) {
    case WIRE_HELLO:
        if (msg->status < 0) {
            worker_lost(m, k, 0, msg->text ? msg->text : "the worker rank could not start");
            return;
        }
        m->w[k].state = W_UP;
        ev = evq_push(&m->events);
        ev->type = TR_EV_WORKER_UP;
        ev->worker = k;
        snprintf(ev->detail, sizeof(ev->detail), "%s", msg->text ? msg->text : "");
        return;
    case WIRE_STARTED:
        ev = evq_push(&m->events);
        ev->type = TR_EV_STARTED;
        ev->worker = k;
        ev->key = msg->key;
        return;
    case WIRE_RESULT:
        if (m->w[k].busy_since > 0) {
            double dt = pr_now_s() - m->w[k].busy_since;
            m->mean_run_s = m->mean_run_s > 0 ? 0.8 * m->mean_run_s + 0.2 * dt : dt;
            m->w[k].busy_since = 0;
        }
        ev = evq_push(&m->events);
        ev->type = TR_EV_RESULT;
        ev->worker = k;
        ev->key = msg->key;
        ev->result.key = msg->key;
        ev->result.status = (enum run_status)msg->status;
        ev->result.seconds = msg->seconds;
        ev->result.npar = msg->npar;
        ev->result.nobs = msg->nobs;
        if (msg->npar) {
            ev->result.processed = xmalloc(msg->npar * sizeof(double));
            memcpy(ev->result.processed, msg->values, msg->npar * sizeof(double));
        }
        if (msg->nobs) {
            ev->result.obs = xmalloc(msg->nobs * sizeof(double));
            memcpy(ev->result.obs, msg->obs, msg->nobs * sizeof(double));
        }
        if (msg->text) ev->result.reason = xstrdup(msg->text);
        return;
    default: /* PING: liveness, or the goodbye after QUIT */
        if (msg->status == PING_BYE) m->w[k].bye = 1;
        return;
    }
}

/* Receive every message that has arrived. Returns the number received, -1 with err set. */
static int drain(struct mpi_master *m, struct pr_error *err)
{
    char ebuf[MPI_MAX_ERROR_STRING];
    int got = 0;
    for (;;) {
        MPI_Message msg;
        MPI_Status st;
        int flag = 0, count = 0;
        int rc = MPI_Improbe(MPI_ANY_SOURCE, TAG_MSG, m->comm, &flag, &msg, &st);
        if (rc != MPI_SUCCESS) return pr_error_set(err, "MPI_Improbe: %s", mpi_errstr(rc, ebuf));
        if (!flag) return got;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if ((size_t)count > m->cap) {
            m->cap = (size_t)count;
            m->buf = xrealloc(m->buf, m->cap);
        }
        rc = MPI_Mrecv(m->buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return pr_error_set(err, "MPI_Mrecv: %s", mpi_errstr(rc, ebuf));
        got++;
        int k = st.MPI_SOURCE - m->peer0;
        if (k < 0 || k >= m->n || m->w[k].state == W_LOST) continue;
        m->w[k].last_heard = pr_now_s();
        struct wire_msg wm;
        struct pr_error derr;
        if (wire_decode(m->buf, (size_t)count, &wm, &m->scratch, &derr) < 0) {
            char why[300];
            snprintf(why, sizeof(why), "rank %d sent a malformed message: %s", m->w[k].rank,
                     derr.msg);
            worker_lost(m, k, 0, why);
            continue;
        }
        on_message(m, k, &wm);
    }
}

static void check_silence(struct mpi_master *m)
{
    double t = pr_now_s();
    for (int k = 0; k < m->n; k++) {
        struct mworker *w = &m->w[k];
        /* a rank still copying its case folder gets ten times longer to say HELLO */
        double limit = w->state == W_UP ? m->lost_after_s : 10 * m->lost_after_s;
        if (w->state != W_LOST && t - w->last_heard > limit) {
            char why[160];
            snprintf(why, sizeof(why), "rank %d was silent for %.0f s", w->rank, t - w->last_heard);
            worker_lost(m, k, 0, why);
        }
    }
}

/* After poll(): the workers whose process ended (their pidfd is readable) are lost; what
 * they sent before is taken first. */
static void check_ended(struct mpi_master *m)
{
    struct pr_error err;
    int any = 0;
    for (int k = 0; k < m->n; k++)
        any |= m->pfd[1 + k].fd >= 0 && m->pfd[1 + k].revents != 0;
    if (!any) return;
    drain(m, &err);
    for (int k = 0; k < m->n; k++) {
        if (m->pfd[1 + k].fd < 0 || m->pfd[1 + k].revents == 0) continue;
        char why[160];
        snprintf(why, sizeof(why), "rank %d (pid %d) ended", m->w[k].rank, m->w[k].pid);
        if (m->w[k].bye) { /* it said goodbye: not a loss */
            close(m->pfd[1 + k].fd);
            m->pfd[1 + k].fd = -1;
        } else {
            worker_lost(m, k, 1, why);
        }
    }
}

/* poll() the extra fd and the pidfds for t ms. 1 when the extra fd is readable, 0 otherwise,
 * -1 on a poll error other than EINTR. */
static int wait_fds(struct mpi_master *m, int extra_fd, int t)
{
    m->pfd[0].fd = extra_fd;
    for (int k = 0; k <= m->n; k++) {
        m->pfd[k].events = POLLIN;
        m->pfd[k].revents = 0;
    }
    int rc = poll(m->pfd, (nfds_t)m->n + 1, t);
    if (rc < 0) return errno == EINTR ? 0 : -1;
    if (rc == 0) return 0;
    check_ended(m);
    return extra_fd >= 0 && m->pfd[0].revents != 0;
}

static int mpi_poll(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                    struct pr_error *err)
{
    struct mpi_master *m = impl;
    double start = pr_now_s();

    evq_return(&m->events);
    while (m->events.len == 0) {
        reap_sends(m);
        if (drain(m, err) < 0) return -1;
        check_silence(m);
        if (m->events.len) break;
        int alive = 0;
        for (int k = 0; k < m->n; k++)
            alive += m->w[k].state != W_LOST;
        if (!alive)
            return pr_error_set(err, "every worker rank has stopped; the last one: %s",
                                m->last_loss);
        /* MPI has no fd to block on: poll() the extra fd and the pidfds for a back-off that
         * grows from 1 to 50 ms while idle and resets on activity */
        int t = m->backoff_ms;
        /* right after activity, spin for SPIN_S: with short runs the next result is close */
        int spinning = pr_now_s() - m->last_activity < SPIN_S;
        if (spinning) t = 0;
        if (timeout_ms >= 0) {
            int left = timeout_ms - (int)((pr_now_s() - start) * 1000);
            if (left <= 0) return 0;
            if (left < t) t = left;
        }
        int rc = wait_fds(m, extra_fd, t);
        if (rc < 0) return pr_error_set(err, "poll: %s", strerror(errno));
        if (rc > 0) {
            m->backoff_ms = BACKOFF_MIN_MS;
            memset(ev, 0, sizeof(*ev));
            ev->type = TR_EV_EXTRA_FD;
            ev->worker = -1;
            return 1;
        }
        if (m->events.len) break;
        if (!spinning) m->backoff_ms = next_backoff(m->backoff_ms);
        /* while runs are out, wake often enough that a result waits at most about 5% of a
         * mean run (short models would otherwise lose most of their time to the back-off) */
        int busy = 0;
        for (int k = 0; k < m->n; k++)
            busy |= m->w[k].state == W_UP && m->w[k].busy_since > 0;
        if (busy && m->mean_run_s > 0) {
            int cap = (int)(m->mean_run_s * 1000 / 20);
            if (cap < BACKOFF_MIN_MS) cap = BACKOFF_MIN_MS;
            if (m->backoff_ms > cap) m->backoff_ms = cap;
        }
    }
    m->backoff_ms = BACKOFF_MIN_MS;
    m->last_activity = pr_now_s();
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
    if (master_send(m, worker, &msg, err) < 0) {
        worker_lost(m, worker, 0, err->msg);
        return -1;
    }
    m->w[worker].busy_since = pr_now_s();
    return 0;
}

static void mpi_cancel(void *impl, int worker, const struct run_key *key)
{
    struct mpi_master *m = impl;
    struct pr_error err;
    if (worker < 0 || worker >= m->n || m->w[worker].state == W_LOST) return;
    if (master_send(m, worker, &(struct wire_msg){.type = WIRE_CANCEL, .key = *key}, &err) < 0)
        worker_lost(m, worker, 0, err.msg);
}

/* QUIT to every worker, then wait (at most 10 s) for each one's goodbye or end: MPI_Finalize
 * does not synchronise the ranks (a lost one would hang it), so this is what keeps the master
 * from leaving while a worker still talks to it. */
static void say_goodbye(struct mpi_master *m)
{
    struct pr_error err;
    for (int k = 0; k < m->n; k++)
        if (m->w[k].state != W_LOST) master_send(m, k, &(struct wire_msg){.type = WIRE_QUIT}, &err);
    double start = pr_now_s();
    int t = BACKOFF_MIN_MS;
    for (;;) {
        reap_sends(m);
        drain(m, &err); /* late results and pings: a rank's blocking send must not stall */
        /* a goodbye means the QUIT arrived; sends to lost workers may never complete */
        int waiting = 0;
        for (int k = 0; k < m->n; k++)
            waiting += m->w[k].state != W_LOST && !m->w[k].bye;
        if (waiting == 0 || pr_now_s() - start > 10) break;
        if (wait_fds(m, -1, t) == 0) t = next_backoff(t);
    }
}

static void mpi_destroy(void *impl)
{
    struct mpi_master *m = impl;
    if (!m) return;
    say_goodbye(m);
    for (size_t i = 0; i < m->nsends; i++) {
        MPI_Request_free(&m->sends[i].req);
        /* the buffer of a send that never completed is left to the process's end */
    }
    for (int k = 0; k < m->n; k++)
        if (m->pfd[1 + k].fd >= 0) close(m->pfd[1 + k].fd);
    evq_free(&m->events);
    if (m->peer0 == 1) MPI_Comm_free(&m->comm);
    /* MPI_Finalize runs at exit (finalize_at_exit), after the command has written its outputs */
    free(m->sends);
    free(m->buf);
    free(m->w);
    free(m->pfd);
    sb_free(&m->scratch);
    sb_free(&m->out);
    free(m);
}

static const struct tr_ops mpi_ops = {
    .name = "mpi",
    .submit = mpi_submit,
    .cancel = mpi_cancel,
    .poll = mpi_poll,
    .destroy = mpi_destroy,
};

static void finalize_at_exit(void)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized) MPI_Finalize();
}

static int pidfd_of(int pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* The master's side of the start (see worker_startup). across: comm is the intercommunicator
 * to spawned workers. */
static struct mpi_master *master_startup(MPI_Comm comm, int across, int n, uint64_t id,
                                         const struct mpi_opts *opts)
{
    struct mpi_master *m = xcalloc(1, sizeof(*m));
    m->comm = comm;
    m->peer0 = across ? 0 : 1;
    m->n = n;
    m->w = xcalloc((size_t)n, sizeof(*m->w));
    m->pfd = xcalloc((size_t)n + 1, sizeof(*m->pfd));
    m->lost_after_s = lost_after(opts);
    m->backoff_ms = BACKOFF_MIN_MS;

    struct worker_ident *ids = xcalloc((size_t)n + 1, sizeof(*ids));
    struct worker_ident none;
    memset(&none, 0, sizeof(none));
    char scope[sizeof(none.scope)];
    pid_scope(scope, sizeof(scope));
    if (across) {
        MPI_Bcast(&id, 1, MPI_UINT64_T, MPI_ROOT, comm);
        MPI_Gather(NULL, 0, MPI_BYTE, ids + 1, (int)sizeof(*ids), MPI_BYTE, MPI_ROOT, comm);
    } else {
        MPI_Bcast(&id, 1, MPI_UINT64_T, 0, comm);
        MPI_Gather(&none, (int)sizeof(none), MPI_BYTE, ids, (int)sizeof(*ids), MPI_BYTE, 0, comm);
    }
    double t = pr_now_s();
    m->pfd[0].fd = -1;
    for (int k = 0; k < n; k++) {
        struct worker_ident *wi = &ids[k + 1];
        wi->scope[sizeof(wi->scope) - 1] = 0;
        m->w[k].rank = wi->rank;
        m->w[k].pid = wi->pid;
        m->w[k].last_heard = t;
        m->pfd[1 + k].fd = wi->pid > 0 && strcmp(wi->scope, scope) == 0 ? pidfd_of(wi->pid) : -1;
    }
    free(ids);
    return m;
}

/* A worker the master spawned (spawn.h): its job's world holds only workers, the master is
 * across the parent intercommunicator. Never returns. */
static void spawned_worker(const struct pst_case *c, const struct mpi_opts *opts, int rank)
{
    MPI_Comm parent, node;
    MPI_Comm_get_parent(&parent);
    if (parent == MPI_COMM_NULL) {
        fprintf(stderr, "pestrun: rank %d: spawned without a master to connect to\n", rank);
        MPI_Finalize();
        exit(1);
    }
    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    int index = 0, count = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &index);
    MPI_Comm_size(node, &count);
    MPI_Comm_free(&node);
    uint64_t id = 0;
    worker_startup(parent, rank, &id);
    worker_main(c, opts, parent, rank, index, count, id);
}

/* The ranks of the launch as the workers: on rank 0 the master over comm; the other ranks
 * work and never return. */
static struct mpi_master *launch_ranks(const struct pst_case *c, const struct mpi_opts *opts,
                                       MPI_Comm comm, int rank, int size)
{
    MPI_Comm node = MPI_COMM_NULL, nodew = MPI_COMM_NULL;
    /* node-local index of each worker among its node's workers */
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_split(node, rank == 0 ? MPI_UNDEFINED : 0, rank, &nodew);
    int index = 0, count = 1;
    if (nodew != MPI_COMM_NULL) {
        MPI_Comm_rank(nodew, &index);
        MPI_Comm_size(nodew, &count);
        MPI_Comm_free(&nodew);
    }
    MPI_Comm_free(&node);
    if (rank != 0) {
        uint64_t id = 0;
        worker_startup(comm, rank, &id);
        worker_main(c, opts, comm, rank, index, count, id); /* never returns */
    }
    return master_startup(comm, 0, size - 1,
                          journal_case_id_names(pst_param_names(c), pst_obs_names(c)), opts);
}

int mpi_start(const struct pst_case *c, const struct mpi_opts *opts, struct transport *tr,
              struct pr_error *err)
{
    char ebuf[MPI_MAX_ERROR_STRING], why[256] = "";
    int inited = 0, rank = 0, size = 0, rc;
    MPI_Comm comm = MPI_COMM_NULL, workers = MPI_COMM_NULL;
    struct mpi_master *m;

    MPI_Initialized(&inited);
    if (!inited) {
        /* No barrier in MPI_Finalize: with a lost rank it would never end. The ranks end in
         * order by themselves (QUIT, goodbye, see say_goodbye). Read by MPI_Init. */
        setenv("OMPI_MCA_ompi_async_mpi_finalize", "1", 0);
        int provided;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided);
        if (rc != MPI_SUCCESS) return pr_error_set(err, "MPI_Init: %s", mpi_errstr(rc, ebuf));
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (spawn_worker_rank()) spawned_worker(c, opts, spawn_worker_rank()); /* never returns */
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (size < 2) {
        MPI_Comm_free(&comm);
        MPI_Finalize();
        return pr_error_set(err,
                            "the MPI transport needs at least 2 ranks (a master and a "
                            "worker); this job has %d",
                            size);
    }
    if (spawn_workers(comm, 10 * lost_after(opts), &workers, why, sizeof(why))) {
        MPI_Comm_free(&comm);
        if (rank != 0) { /* the spawned worker standing for this rank has connected: leave */
            MPI_Finalize();
            exit(0);
        }
        MPI_Comm_set_errhandler(workers, MPI_ERRORS_RETURN);
        int n = 0;
        MPI_Comm_remote_size(workers, &n);
        m = master_startup(workers, 1, n,
                           journal_case_id_names(pst_param_names(c), pst_obs_names(c)), opts);
        snprintf(why, sizeof(why), "worker ranks spawned as a recoverable job");
    } else {
        m = launch_ranks(c, opts, comm, rank, size); /* returns on rank 0 only */
    }
    atexit(finalize_at_exit);
    const char *tmp = getenv("TMPDIR");
    snprintf(m->workroot, sizeof(m->workroot), "%s on each node (%s%s)",
             opts->workroot ? opts->workroot : (tmp && *tmp ? tmp : "/tmp"),
             m->peer0 == 0 ? "" : "the launch's ranks are the workers: ", why);
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
