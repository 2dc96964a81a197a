/* A rank of an MPI launch that is not pestrun (tests/e2e/mpi.sh): it takes part in the
 * rendezvous as a worker rank does, so it learns where the master listens, but not the token.
 * It knocks three times: with a wrong token, with bytes that are no message, and with a
 * message that is not the handshake; it prints whether the master shut it out each time, and
 * leaves without ever becoming a worker. The key names and the connection details' lines are
 * those of transport/mpi/mpi.c. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/wire.h"
#include "transport/mpi/launch.h"
#include "transport/mpi/net.h"
#include "util/strbuf.h"

/* 1 when the master closes the connection within 5 s of what was sent. */
static int shut_out(int fd)
{
    char buf[256];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) return 0;
    return read(fd, buf, sizeof(buf)) <= 0;
}

static void knock(const char *path, const char *what, const void *data, size_t len)
{
    struct pr_error err;
    int fd = net_connect_unix(path, &err);
    if (fd < 0) {
        printf("%s: cannot connect: %s\n", what, err.msg);
        return;
    }
    if (write(fd, data, len) != (ssize_t)len) printf("%s: write failed\n", what);
    printf("%s: %s\n", what, shut_out(fd) ? "shut out" : "NOT shut out");
    close(fd);
}

int main(void)
{
    struct pr_error err;
    char scope[1024], *info = NULL, *mode = NULL;
    size_t len;
    struct launch *L = launch_join(&err);
    if (!L) {
        printf("no launch: %s\n", err.msg);
        return 1;
    }
    launch_scope(L, scope, sizeof(scope));
    /* a scope and no launch description: the master cannot spawn a stand-in for this rank */
    if (launch_put(L, "pestrun.who", scope, strlen(scope) + 1, &err) < 0 ||
        launch_fence(L, &err) < 0 || launch_fence(L, &err) < 0 ||
        launch_get(L, 0, "pestrun.mode", &mode, &len, &err) < 0 ||
        launch_get(L, 0, "pestrun.master", &info, &len, &err) < 0) {
        printf("rendezvous: %s\n", err.msg);
        return 1;
    }
    launch_leave(L);
    const char *path = strrchr(info, '\n'); /* the Unix socket is the last line */
    if (!path || strcmp(path + 1, "-") == 0) {
        printf("the master has no Unix socket\n");
        return 1;
    }
    path++;
    struct strbuf b = {0};
    wire_encode(&(struct wire_msg){.type = WIRE_PING,
                                   .key = {.run = 2},
                                   .text = "0123456789abcdef0123456789abcdef"},
                &b);
    knock(path, "wrong token", b.data, b.len);
    char junk[64];
    memset(junk, 'x', sizeof(junk));
    knock(path, "no message", junk, sizeof(junk));
    sb_reset(&b);
    wire_encode(&(struct wire_msg){.type = WIRE_HELLO, .text = "rank 2"}, &b);
    knock(path, "no handshake", b.data, b.len);
    sb_free(&b);
    free(info);
    free(mode);
    return 0;
}
