/* Sockets for the MPI transport: the master's listeners (a Unix socket in a private folder for
 * the ranks of its own node, TCP on one address for the others), the workers' connections,
 * and the random token a rank must show before the master takes it for a worker. */
#ifndef PR_MPI_NET_H
#define PR_MPI_NET_H

#include <stddef.h>

#include "util/pr_error.h"

#define NET_TOKEN_LEN 32 /* hex digits */

/* A fresh random token of NET_TOKEN_LEN hex digits (buf holds NET_TOKEN_LEN + 1). */
int net_token(char *buf, struct pr_error *err);
/* 1 when a and b (NUL-terminated) are equal, in time independent of where they differ. */
int net_token_eq(const char *a, const char *b);

/* Listen on a Unix socket in a new folder only this user may enter, under $TMPDIR (or /tmp
 * when that path is too long). Returns the fd (non-blocking, close-on-exec) with the socket's
 * path in path (n bytes), or -1 with err set. Remove with net_unix_remove. */
int net_listen_unix(char *path, size_t n, struct pr_error *err);
void net_unix_remove(const char *path);

/* The local address a TCP connection to host would come from (the route's source), in addr
 * (n bytes, numeric). -1 with err set when host does not resolve. */
int net_source_address(const char *host, char *addr, size_t n, struct pr_error *err);
/* Listen on TCP at the numeric address addr, on a port the kernel picks (written to *port).
 * Returns the fd (non-blocking, close-on-exec) or -1 with err set. */
int net_listen_tcp(const char *addr, int *port, struct pr_error *err);

/* Accept one pending connection (non-blocking listener): its fd (blocking, close-on-exec,
 * TCP_NODELAY on TCP), -2 when none is waiting, -1 with err set on an error. */
int net_accept(int listen_fd, struct pr_error *err);
/* Connect to the Unix socket at path, or to host:port over TCP (TCP_NODELAY set). Returns the
 * fd (blocking, close-on-exec) or -1 with err set. */
int net_connect_unix(const char *path, struct pr_error *err);
int net_connect_tcp(const char *host, int port, struct pr_error *err);

#endif
