#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int net_token(char *buf, struct pr_error *err)
{
    unsigned char raw[NET_TOKEN_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return pr_error_set(err, "getrandom: %s", strerror(errno));
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int net_token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on Unix */
}

int net_listen_unix(char *path, size_t n, struct pr_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    if (!tmp || !*tmp || strlen(tmp) + 40 > sizeof(sa.sun_path)) tmp = "/tmp";
    snprintf(dir, sizeof(dir), "%s/pestrun-sock.XXXXXX", tmp);
    if (!mkdtemp(dir)) return pr_error_set(err, "%s: cannot create: %s", dir, strerror(errno));
    snprintf(path, n, "%s/master", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
        pr_error_set(err, "%s: cannot listen: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        net_unix_remove(path);
        return -1;
    }
    return fd;
}

void net_unix_remove(const char *path)
{
    char dir[4096];
    if (!path || !*path) return;
    unlink(path);
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        rmdir(dir);
    }
}

int net_source_address(const char *host, char *addr, size_t n, struct pr_error *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int rc = getaddrinfo(host, "9", &hints, &ai);
    if (rc != 0) return pr_error_set(err, "%s: %s", host, gai_strerror(rc));
    int ok = -1;
    for (struct addrinfo *p = ai; p && ok < 0; p = p->ai_next) {
        /* connecting a datagram socket sends nothing: it only picks the route */
        int fd = socket(p->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_storage me;
        socklen_t len = sizeof(me);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) == 0 &&
            getsockname(fd, (struct sockaddr *)&me, &len) == 0 &&
            getnameinfo((struct sockaddr *)&me, len, addr, (socklen_t)n, NULL, 0, NI_NUMERICHOST) ==
                0)
            ok = 0;
        if (fd >= 0) close(fd);
    }
    freeaddrinfo(ai);
    if (ok < 0) return pr_error_set(err, "%s: no route to it from this node", host);
    return 0;
}

int net_listen_tcp(const char *addr, int *port, struct pr_error *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai = NULL;
    int rc = getaddrinfo(addr, "0", &hints, &ai);
    if (rc != 0) return pr_error_set(err, "%s: %s", addr, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_storage me;
    socklen_t len = sizeof(me);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&me, &len) < 0) {
        pr_error_set(err, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    *port = ntohs(me.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&me)->sin6_port
                                           : ((struct sockaddr_in *)&me)->sin_port);
    return fd;
}

int net_accept(int listen_fd, struct pr_error *err)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return -2;
        return pr_error_set(err, "accept: %s", strerror(errno));
    }
    nodelay(fd);
    return fd;
}

int net_connect_unix(const char *path, struct pr_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) return pr_error_set(err, "%s: path too long", path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        pr_error_set(err, "connecting to the master at %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

int net_connect_tcp(const char *host, int port, struct pr_error *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc != 0) return pr_error_set(err, "%s: %s", host, gai_strerror(rc));
    int fd = -1;
    for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
            pr_error_set(err, "connecting to the master at %s port %d: %s", host, port,
                         strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    nodelay(fd);
    return fd;
}
