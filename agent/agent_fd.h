/* The agent loop's plumbing over one stream file descriptor (a socketpair, a Unix or a TCP
 * socket): the wire protocol's framing, and a poll() on that fd and the model's pidfd. Every
 * transport whose workers talk to the master over a socket uses it (local, MPI). */
#ifndef PR_AGENT_FD_H
#define PR_AGENT_FD_H

#include <signal.h>

#include "agent.h"

struct agent_fd {
    int fd;
    double ping_s; /* send a PING after this long without sending (liveness); <= 0: never */
    const volatile sig_atomic_t *stop; /* the loop ends when *stop is set (a signal handler) */
    double last_sent;
    struct strbuf in, scratch, out;
};

/* Prepare a to carry the loop over fd (not owned) and fill io to use it. stop may be NULL. */
void agent_fd_init(struct agent_fd *a, int fd, double ping_s, const volatile sig_atomic_t *stop,
                   struct agent_io *io);
void agent_fd_free(struct agent_fd *a);

/* Send m. Returns 0, -1 when the master is gone. */
int agent_fd_send(struct agent_fd *a, const struct wire_msg *m);
/* Block until one whole message is in and take it (1; m points into a's buffers), 0 when
 * timeout_ms passed, -1 when the master is gone or *stop was set. */
int agent_fd_next(struct agent_fd *a, struct wire_msg *m, int timeout_ms);

#endif
