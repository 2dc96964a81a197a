/* The master's ends of the links to its workers when they are stream file descriptors
 * (socketpairs, Unix or TCP sockets): the wire framing per worker, the standard events, and
 * one poll() over every link and the caller's own fds. Shared by the transports that carry
 * the wire protocol over sockets (local, MPI), so they differ only in how workers start,
 * connect and are replaced. */
#ifndef PR_WLINKS_H
#define PR_WLINKS_H

#include <poll.h>

#include "evq.h"
#include "wire.h"

struct wlinks;

struct wlinks_cb {
    /* a whole message from worker k (m points into scratch until the next message) */
    void (*msg)(void *ctx, int k, const struct wire_msg *m);
    /* worker k's link ended: end of file (why NULL), a read error or a malformed message
     * (why says which). Its fd is still open: the callback closes it (wlinks_close) or
     * replaces it. */
    void (*end)(void *ctx, int k, const char *why);
    void *ctx;
};

/* n links, all closed. Never NULL. */
struct wlinks *wlinks_create(int n);
/* Close every link still open and free everything. NULL-safe. */
void wlinks_destroy(struct wlinks *l);

/* Worker k now talks over fd (owned from now on); what was buffered for k is dropped. */
void wlinks_attach(struct wlinks *l, int k, int fd);
/* Close worker k's link (when open). */
void wlinks_close(struct wlinks *l, int k);
/* Worker k's fd, -1 when its link is closed. */
int wlinks_fd(const struct wlinks *l, int k);
/* How many links are open. */
int wlinks_open(const struct wlinks *l);

/* Encode m and write it to worker k (blocking). Returns 0, or -1 with err set (the caller
 * decides what a failed send means for k). */
int wlinks_send(struct wlinks *l, int k, const struct wire_msg *m, struct pr_error *err);
/* Read what worker k has sent and hand every whole message to cb (one read; call after poll
 * said readable). */
void wlinks_read(struct wlinks *l, int k, const struct wlinks_cb *cb);

/* Worker k's first bytes, read by the caller before the link was attached (a handshake): they
 * are taken as if read from its fd. */
void wlinks_feed(struct wlinks *l, int k, const char *data, size_t len, const struct wlinks_cb *cb);

/* poll() every open link and the nextra fds of extra (their revents are filled) for up to
 * timeout_ms (-1: no limit), then read each readable link into cb. Returns how many fds were
 * ready (0 after the time-out or a signal), -1 with err set when poll fails. */
int wlinks_poll(struct wlinks *l, struct pollfd *extra, int nextra, int timeout_ms,
                const struct wlinks_cb *cb, struct pr_error *err);

/* The transport event a worker's message stands for, pushed on q: HELLO with status >= 0
 * (WORKER_UP, detail = its text), STARTED, RESULT (the arrays copied out of the message).
 * Returns NULL, pushing nothing, for the other messages. */
struct tr_event *wlinks_event(struct evq *q, int k, const struct wire_msg *m);

#endif
