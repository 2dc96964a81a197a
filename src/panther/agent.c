#include "agent.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "util/strbuf.h"

struct panther_agent {
    const struct panther_agent_cfg *cfg;
    int slot;
    enum panther_agent_state state;
    int fd;
    struct strbuf in, out;
    double retry_at, delay, last_rx;
    int reported_unreachable;
    /* the name tables of this connection: map[wire index] = local index */
    size_t *par_map, *obs_map;
    size_t npar, nobs;
    /* the run out, if any */
    int busy;
    int64_t group, run;
    char info[PANTHER_DESC_SIZE];
    double *values;
    char error[PR_ERROR_MAX];
    size_t connects, runs, answered;
};

static void logf_(struct panther_agent *a, const char *fmt, ...) PR_PRINTF(2, 3);

static void logf_(struct panther_agent *a, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    if (!a->cfg->ops->log) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->cfg->ops->log(a->cfg->ctx, a->slot, msg);
}

static void watch(struct panther_agent *a, int op)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = a};
    if (a->state == PANTHER_AGENT_CONNECTING || a->out.len) ev.events |= EPOLLOUT;
    epoll_ctl(a->cfg->epoll_fd, op, a->fd, &ev);
}

static void close_socket(struct panther_agent *a)
{
    if (a->fd >= 0) {
        epoll_ctl(a->cfg->epoll_fd, EPOLL_CTL_DEL, a->fd, NULL);
        close(a->fd);
    }
    a->fd = -1;
    sb_reset(&a->in);
    sb_reset(&a->out);
    free(a->par_map);
    free(a->obs_map);
    a->par_map = a->obs_map = NULL;
    a->npar = a->nobs = 0;
}

static void drop_run(struct panther_agent *a)
{
    if (!a->busy) return;
    a->busy = 0;
    a->cfg->ops->kill_run(a->cfg->ctx, a->slot);
}

/* The connection is gone or unusable: drop the run, close, and retry after the back-off. */
static void restart(struct panther_agent *a, const char *why, double now)
{
    if (a->state == PANTHER_AGENT_CONNECTED)
        logf_(a, "connection to the master %s lost (%s); reconnecting", a->cfg->master_name, why);
    else if (!a->reported_unreachable)
        logf_(a, "cannot reach the master %s (%s); retrying", a->cfg->master_name, why);
    if (a->state != PANTHER_AGENT_CONNECTED) a->reported_unreachable = 1;
    drop_run(a);
    close_socket(a);
    a->state = PANTHER_AGENT_RETRY;
    a->retry_at = now + a->delay;
    a->delay = a->delay * 2 > a->cfg->retry_max_s ? a->cfg->retry_max_s : a->delay * 2;
}

static void connected(struct panther_agent *a, double now)
{
    a->state = PANTHER_AGENT_CONNECTED;
    a->delay = a->cfg->retry_min_s;
    a->last_rx = now;
    a->reported_unreachable = 0;
    a->connects++;
    watch(a, EPOLL_CTL_MOD);
    logf_(a, "connected to the master %s", a->cfg->master_name);
}

static void try_connect(struct panther_agent *a, double now)
{
    int one = 1;
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->fd < 0) {
        restart(a, strerror(errno), now);
        return;
    }
    /* runs and results are small messages answered at once: no Nagle delay */
    setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(a->fd, (const struct sockaddr *)&a->cfg->master, sizeof(a->cfg->master));
    if (rc < 0 && errno != EINPROGRESS) {
        restart(a, strerror(errno), now);
        return;
    }
    a->state = rc == 0 ? PANTHER_AGENT_CONNECTED : PANTHER_AGENT_CONNECTING;
    watch(a, EPOLL_CTL_ADD);
    if (rc == 0) connected(a, now);
}

struct panther_agent *panther_agent_create(const struct panther_agent_cfg *cfg, int slot,
                                           double now)
{
    struct panther_agent *a = xcalloc(1, sizeof(*a));
    a->cfg = cfg;
    a->slot = slot;
    a->fd = -1;
    a->delay = cfg->retry_min_s;
    a->values = xcalloc(names_count(cfg->par_names) + 1, sizeof(double));
    try_connect(a, now);
    return a;
}

void panther_agent_destroy(struct panther_agent *a)
{
    if (!a) return;
    close_socket(a);
    sb_free(&a->in);
    sb_free(&a->out);
    free(a->values);
    free(a);
}

/* ------------------------------------------------------------------------------------------ */
/* sending                                                                                    */

static int flush(struct panther_agent *a, double now)
{
    size_t off = 0;
    while (off < a->out.len) {
        ssize_t n = send(a->fd, a->out.data + off, a->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0) {
            restart(a, strerror(errno), now);
            return -1;
        }
        off += (size_t)n;
    }
    int had = a->out.len > 0;
    memmove(a->out.data, a->out.data + off, a->out.len - off);
    a->out.len -= off;
    if (had) watch(a, EPOLL_CTL_MOD); /* EPOLLOUT only while bytes wait */
    return 0;
}

static int send_msg(struct panther_agent *a, uint32_t type, int64_t group, int64_t run,
                    const char *desc, const void *data, size_t len, double now)
{
    if (a->fd < 0) return -1;
    panther_encode(&a->out, type, group, run, desc, data, len);
    return flush(a, now);
}

/* ------------------------------------------------------------------------------------------ */
/* receiving                                                                                  */

static void refuse(struct panther_agent *a, const char *why, double now)
{
    snprintf(a->error, sizeof(a->error), "%s", why);
    send_msg(a, PANTHER_IO_ERROR, 0, 0, why, NULL, 0, now);
    drop_run(a);
    close_socket(a);
    a->state = PANTHER_AGENT_REFUSED;
}

static void corrupt(struct panther_agent *a, const char *why, double now)
{
    char desc[PANTHER_DESC_SIZE];
    snprintf(desc, sizeof(desc), "corrupt/incorrect message received from master: %s", why);
    if (a->busy) {
        send_msg(a, PANTHER_RUN_KILLED, a->group, a->run, desc, NULL, 0, now);
    } else {
        send_msg(a, PANTHER_CORRUPT_MESG, 0, 0, desc, NULL, 0, now);
    }
    restart(a, desc, now);
}

static void start_run(struct panther_agent *a, const struct panther_msg *m, double now)
{
    char why[160];
    if (a->busy) {
        corrupt(a, "START_RUN during a run", now);
        return;
    }
    if (!a->par_map || !a->obs_map) {
        corrupt(a, "START_RUN before PAR_NAMES and OBS_NAMES", now);
        return;
    }
    if (m->len != a->npar * sizeof(double)) {
        snprintf(why, sizeof(why), "START_RUN with %zu data bytes for %zu parameters", m->len,
                 a->npar);
        corrupt(a, why, now);
        return;
    }
    for (size_t i = 0; i < a->npar; i++)
        memcpy(&a->values[a->par_map[i]], m->data + i * sizeof(double), sizeof(double));
    size_t k;
    for (k = 0; m->desc[k]; k++)
        a->info[k] = (char)tolower((unsigned char)m->desc[k]);
    a->info[k] = 0;
    a->busy = 1;
    a->group = m->group;
    a->run = m->run;
    a->runs++;
    a->cfg->ops->start_run(a->cfg->ctx, a->slot, a->values, a->info);
}

static void names_msg(struct panther_agent *a, const struct panther_msg *m, double now)
{
    struct pr_error err;
    int par = m->type == PANTHER_PAR_NAMES;
    size_t *map;
    long n = panther_map_names(m->data, m->len, par ? a->cfg->par_names : a->cfg->obs_names,
                               par ? "parameter" : "observation", &map, &err);
    if (n < 0) {
        refuse(a, err.msg, now);
        return;
    }
    free(par ? a->par_map : a->obs_map);
    if (par) {
        a->par_map = map;
        a->npar = (size_t)n;
    } else {
        a->obs_map = map;
        a->nobs = (size_t)n;
    }
}

static void kill_req(struct panther_agent *a, double now)
{
    if (!a->busy) return; /* the run already ended: PEST++ agents ignore it too */
    drop_run(a);
    a->answered++;
    if (send_msg(a, PANTHER_RUN_KILLED, a->group, a->run, "run killed at the master's request",
                 NULL, 0, now) == 0)
        send_msg(a, PANTHER_READY, 0, 0, "run killed", NULL, 0, now);
}

static void on_msg(struct panther_agent *a, const struct panther_msg *m, double now)
{
    const char *cwd = a->cfg->rundir;
    switch (m->type) {
    case PANTHER_REQ_RUNDIR:
        send_msg(a, PANTHER_RUNDIR, 0, 0, "", cwd, strlen(cwd), now);
        return;
    case PANTHER_PAR_NAMES:
    case PANTHER_OBS_NAMES:
        if (a->busy)
            corrupt(a, "name table during a run", now);
        else
            names_msg(a, m, now);
        return;
    case PANTHER_REQ_LINPACK:
        send_msg(a, PANTHER_LINPACK, 0, 0, "", NULL, 0, now);
        return;
    case PANTHER_START_RUN:
        start_run(a, m, now);
        return;
    case PANTHER_PING:
        send_msg(a, PANTHER_PING, 0, 0, "", NULL, 0, now);
        return;
    case PANTHER_REQ_KILL:
        kill_req(a, now);
        return;
    case PANTHER_TERMINATE:
        drop_run(a);
        close_socket(a);
        a->state = PANTHER_AGENT_TERMINATED;
        logf_(a, "the master %s ended the session (TERMINATE)", a->cfg->master_name);
        return;
    default: {
        char why[64];
        snprintf(why, sizeof(why), "unexpected %s", panther_type_name(m->type));
        corrupt(a, why, now);
        return;
    }
    }
}

static void read_input(struct panther_agent *a, double now)
{
    /* one read per readiness (epoll is level-triggered): the buffer never holds more than
     * one frame and a read's worth, whatever a peer sends */
    sb_reserve(&a->in, 65536);
    ssize_t n = recv(a->fd, a->in.data + a->in.len, a->in.cap - a->in.len - 1, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
        restart(a, n == 0 ? "the master closed it" : strerror(errno), now);
        return;
    }
    a->in.len += (size_t)n;
    a->last_rx = now;
    size_t off = 0;
    while (a->state == PANTHER_AGENT_CONNECTED) {
        struct panther_msg m;
        struct pr_error err;
        size_t used;
        int rc = panther_decode(a->in.data + off, a->in.len - off, &m, &used, &err);
        if (rc < 0) {
            corrupt(a, err.msg, now);
            return;
        }
        if (rc == 0) break;
        on_msg(a, &m, now);
        off += used;
    }
    if (a->state != PANTHER_AGENT_CONNECTED) return; /* the buffer went with the socket */
    memmove(a->in.data, a->in.data + off, a->in.len - off);
    a->in.len -= off;
}

void panther_agent_io(struct panther_agent *a, uint32_t events, double now)
{
    if (a->state == PANTHER_AGENT_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof(e);
        if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) e = errno;
        if (e) {
            restart(a, strerror(e), now);
            return;
        }
        connected(a, now);
        return;
    }
    if (a->state != PANTHER_AGENT_CONNECTED) return;
    if ((events & EPOLLOUT) && flush(a, now) < 0) return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_input(a, now);
}

void panther_agent_timer(struct panther_agent *a, double now)
{
    if (a->state == PANTHER_AGENT_RETRY && now >= a->retry_at) {
        try_connect(a, now);
    } else if (a->state == PANTHER_AGENT_CONNECTED && a->cfg->no_ping_timeout_s > 0 &&
               now >= a->last_rx + a->cfg->no_ping_timeout_s) {
        send_msg(a, PANTHER_CORRUPT_MESG, 0, 0, "ping overdue", NULL, 0, now);
        if (a->state == PANTHER_AGENT_CONNECTED)
            restart(a, "nothing from the master: ping overdue", now);
    }
}

double panther_agent_next_timer(const struct panther_agent *a)
{
    if (a->state == PANTHER_AGENT_RETRY) return a->retry_at;
    if (a->state == PANTHER_AGENT_CONNECTED && a->cfg->no_ping_timeout_s > 0)
        return a->last_rx + a->cfg->no_ping_timeout_s;
    return HUGE_VAL;
}

/* ------------------------------------------------------------------------------------------ */
/* results                                                                                    */

void panther_agent_finish(struct panther_agent *a, const struct run_result *res, double now)
{
    char desc[PANTHER_DESC_SIZE];
    if (!a->busy || a->state != PANTHER_AGENT_CONNECTED) return;
    a->busy = 0;
    a->answered++;
    if (res->status == RUN_OK) {
        size_t n = a->npar + a->nobs + 1;
        double *data = xmalloc(n * sizeof(double));
        for (size_t i = 0; i < a->npar; i++)
            data[i] = res->processed[a->par_map[i]];
        for (size_t i = 0; i < a->nobs; i++)
            data[a->npar + i] = res->obs[a->obs_map[i]];
        data[n - 1] = res->seconds;
        snprintf(desc, sizeof(desc), "%s, run took %g seconds", a->info, res->seconds);
        int rc = send_msg(a, PANTHER_RUN_FINISHED, a->group, a->run, desc, data, n * sizeof(double),
                          now);
        free(data);
        if (rc < 0) return;
    } else {
        snprintf(desc, sizeof(desc), "group_id:%lld run_id:%lld %s %s", (long long)a->group,
                 (long long)a->run, a->info, res->reason ? res->reason : "run failed");
        if (send_msg(a, PANTHER_RUN_FAILED, a->group, a->run, desc, NULL, 0, now) < 0) return;
    }
    send_msg(a, PANTHER_READY, 0, 0, "ready", NULL, 0, now);
}

enum panther_agent_state panther_agent_state(const struct panther_agent *a)
{
    return a->state;
}

const char *panther_agent_error(const struct panther_agent *a)
{
    return a->state == PANTHER_AGENT_REFUSED ? a->error : NULL;
}

int panther_agent_busy(const struct panther_agent *a)
{
    return a->busy;
}

void panther_agent_counts(const struct panther_agent *a, size_t *connects, size_t *runs,
                          size_t *answered)
{
    *connects = a->connects;
    *runs = a->runs;
    *answered = a->answered;
}
