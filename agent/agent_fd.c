#include "agent_fd.h"

#include <errno.h>
#include <poll.h>

#include "util/clock.h"

static int whole_message_in(const struct agent_fd *a)
{
    long size = wire_message_size(a->in.data, a->in.len);
    return size != 0 && (size < 0 || (size_t)size <= a->in.len); /* a bad one is taken too */
}

int agent_fd_send(struct agent_fd *a, const struct wire_msg *m)
{
    struct pr_error err;
    a->last_sent = pr_now_s();
    return wire_send_fd(a->fd, m, &a->out, &err);
}

/* Blocks in poll() only: the wake-ups are the master's bytes, the model's end, the caller's
 * time-out and the next liveness PING. */
static int fd_wait(void *impl, int model_fd, int timeout_ms)
{
    struct agent_fd *a = impl;
    double end = timeout_ms >= 0 ? pr_now_s() + timeout_ms / 1000.0 : 0;
    for (;;) {
        if (a->stop && *a->stop) return -1;
        if (whole_message_in(a)) return AGENT_MSG;
        double now = pr_now_s();
        int t = timeout_ms < 0 ? -1 : (end > now ? (int)((end - now) * 1000 + 0.999) : 0);
        int ping = 0;
        if (a->ping_s > 0) {
            double due = a->last_sent + a->ping_s - now;
            int tp = due > 0 ? (int)(due * 1000 + 0.999) : 0;
            if (t < 0 || tp < t) {
                t = tp;
                ping = 1;
            }
        }
        struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = model_fd, .events = POLLIN}};
        int n = poll(p, model_fd >= 0 ? 2 : 1, t);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        int ev = 0;
        if (p[0].revents) {
            struct pr_error err;
            long got = wire_read_fd(a->fd, &a->in, &err);
            if (got == 0 || got == -1) return -1;
            if (whole_message_in(a)) ev |= AGENT_MSG;
        }
        if (model_fd >= 0 && p[1].revents) ev |= AGENT_MODEL;
        if (ev) return ev;
        if (n == 0 && ping) {
            if (agent_fd_send(a, &(struct wire_msg){.type = WIRE_PING}) < 0) return -1;
            continue;
        }
        if (n == 0) return 0;
    }
}

static int fd_recv(void *impl, struct wire_msg *m)
{
    struct agent_fd *a = impl;
    struct pr_error err;
    return wire_take(&a->in, m, &a->scratch, &err);
}

static int fd_send(void *impl, const struct wire_msg *m)
{
    return agent_fd_send(impl, m);
}

void agent_fd_init(struct agent_fd *a, int fd, double ping_s, const volatile sig_atomic_t *stop,
                   struct agent_io *io)
{
    *a = (struct agent_fd){.fd = fd, .ping_s = ping_s, .stop = stop, .last_sent = pr_now_s()};
    *io = (struct agent_io){fd_wait, fd_recv, fd_send, a};
}

void agent_fd_free(struct agent_fd *a)
{
    sb_free(&a->in);
    sb_free(&a->scratch);
    sb_free(&a->out);
}

int agent_fd_next(struct agent_fd *a, struct wire_msg *m, int timeout_ms)
{
    for (;;) {
        int got = fd_recv(a, m);
        if (got != 0) return got;
        int ev = fd_wait(a, -1, timeout_ms);
        if (ev <= 0) return ev;
    }
}
