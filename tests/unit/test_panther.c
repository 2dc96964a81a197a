/* The PANTHER codec and agent (src/panther/) against SPEC.md §5.2-§5.5: frames assembled by
 * hand byte by byte, decoding of partial, concatenated and corrupt input, name tables in hash
 * order, and one agent driven by a master played by this test over a loopback socket. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "panther/agent.h"
#include "panther/frame.h"

/* ------------------------------------------------------------------------------------------ */
/* hand-assembled frames: little-endian integers written byte by byte                          */

struct bytes {
    unsigned char b[4096];
    size_t n;
};

static void put_le(struct bytes *f, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        f->b[f->n++] = (unsigned char)(v >> (8 * i));
}

static void hand_frame(struct bytes *f, uint32_t type, int64_t gid, int64_t rid, const char *desc,
                       const void *data, size_t len)
{
    static const unsigned char code[5] = {0x01, 0x03, 0x05, 0x07, 0x09};
    f->n = 0;
    memcpy(f->b, code, 5);
    f->n = 5;
    put_le(f, 1029 + len, 8);
    put_le(f, type, 4);
    put_le(f, (uint64_t)gid, 8);
    put_le(f, (uint64_t)rid, 8);
    memset(f->b + f->n, 0, 1001);
    memcpy(f->b + f->n, desc, strlen(desc));
    f->n += 1001;
    if (len) memcpy(f->b + f->n, data, len);
    f->n += len;
}

static int little_endian(void)
{
    uint16_t one = 1;
    return *(unsigned char *)&one == 1;
}

static void test_encode(void)
{
    struct strbuf sb = {0};
    struct bytes f;

    /* PING: no data (N = 0); the frame is 1034 bytes */
    panther_encode(&sb, PANTHER_PING, 0, 0, "", NULL, 0);
    hand_frame(&f, 15, 0, 0, "", NULL, 0);
    CHECK(sb.len == 1034 && f.n == 1034);
    CHECK(memcmp(sb.data, f.b, f.n) == 0);
    /* the header: security code, buf_sz = 1029 at offset 5, type at 13 */
    CHECK((unsigned char)sb.data[5] == 0x05 && (unsigned char)sb.data[6] == 0x04);
    CHECK((unsigned char)sb.data[13] == 15);

    /* START_RUN gid 2 rid 0 "par_name:__base__" with two doubles (SPEC §5.4's trace) */
    double v[2] = {1.5, -2.25};
    unsigned char raw[16];
    uint64_t bits;
    for (int i = 0; i < 2; i++) {
        memcpy(&bits, &v[i], 8);
        for (int k = 0; k < 8; k++)
            raw[8 * i + k] = (unsigned char)(bits >> (8 * k));
    }
    sb_reset(&sb);
    panther_encode(&sb, PANTHER_START_RUN, 2, 0, "par_name:__base__", v, sizeof(v));
    hand_frame(&f, 10, 2, 0, "par_name:__base__", raw, sizeof(raw));
    CHECK(sb.len == 1050);
    CHECK(memcmp(sb.data, f.b, f.n) == 0);
    CHECK(sb.data[33] == 'p' && sb.data[1034] == raw[0]);

    /* REQ_RUNDIR carries one NUL data byte */
    sb_reset(&sb);
    panther_encode(&sb, PANTHER_REQ_RUNDIR, 0, 0, NULL, "", 1);
    hand_frame(&f, 4, 0, 0, "", "", 1);
    CHECK(sb.len == 1035 && memcmp(sb.data, f.b, f.n) == 0);

    /* senders drop bytes outside 32..126 and cut the text at 1000 bytes */
    char long_desc[1200];
    memset(long_desc, 'a', sizeof(long_desc) - 1);
    long_desc[sizeof(long_desc) - 1] = 0;
    long_desc[3] = '\t';
    sb_reset(&sb);
    panther_encode(&sb, PANTHER_READY, 0, 0, long_desc, NULL, 0);
    CHECK(sb.len == 1034);
    CHECK(sb.data[33 + 999] == 'a' && sb.data[33 + 1000] == 0);
    CHECK(memchr(sb.data + 33, '\t', 1001) == NULL);
    sb_free(&sb);
}

static void test_decode(void)
{
    struct bytes f;
    struct panther_msg m;
    struct pr_error err;
    size_t used = 0;
    double v[3] = {0.1, 2e300, -0.0};

    hand_frame(&f, 11, 7, 42, "par_name:K_02 run took 1 seconds", v, sizeof(v));
    /* every strict prefix is incomplete and consumes nothing */
    int partial = 0;
    for (size_t n = 0; n < f.n; n++)
        partial += panther_decode(f.b, n, &m, &used, &err) == 0;
    CHECK(partial == (int)f.n);
    CHECK(panther_decode(f.b, f.n, &m, &used, &err) == 1);
    CHECK(used == f.n && m.type == PANTHER_RUN_FINISHED && m.group == 7 && m.run == 42);
    CHECK_STR(m.desc, "par_name:K_02 run took 1 seconds");
    CHECK(m.len == sizeof(v) && memcmp(m.data, v, sizeof(v)) == 0);

    /* two frames back to back: the first is decoded, the rest stays */
    unsigned char two[4096];
    struct bytes g;
    hand_frame(&g, 15, 0, 0, "", NULL, 0);
    memcpy(two, g.b, g.n);
    memcpy(two + g.n, f.b, f.n);
    CHECK(panther_decode(two, g.n + f.n, &m, &used, &err) == 1 && used == g.n &&
          m.type == PANTHER_PING && m.len == 0);
    CHECK(panther_decode(two + used, f.n, &m, &used, &err) == 1 && m.run == 42);

    /* desc[1000] is forced to 0 on receive */
    hand_frame(&f, 3, 0, 0, "", NULL, 0);
    memset(f.b + 33, 'z', 1001);
    CHECK(panther_decode(f.b, f.n, &m, &used, &err) == 1 && strlen(m.desc) == 1000);

    /* corrupt: security code, all-zero code, size, a non-printable desc byte */
    hand_frame(&f, 15, 0, 0, "", NULL, 0);
    f.b[4] = 8;
    CHECK(panther_decode(f.b, f.n, &m, &used, &err) == -1 && strstr(err.msg, "security code"));
    memset(f.b, 0, 5);
    CHECK(panther_decode(f.b, 5, &m, &used, &err) == -1);
    hand_frame(&f, 15, 0, 0, "", NULL, 0);
    f.b[5] = 0x04; /* buf_sz 1028: below the header */
    CHECK(panther_decode(f.b, f.n, &m, &used, &err) == -1 && strstr(err.msg, "size"));
    hand_frame(&f, 15, 0, 0, "", NULL, 0);
    f.b[12] = 0x7f; /* an absurd size is refused before waiting for its bytes */
    CHECK(panther_decode(f.b, 13, &m, &used, &err) == -1);
    f.b[12] = 0xff; /* negative */
    CHECK(panther_decode(f.b, 13, &m, &used, &err) == -1);
    hand_frame(&f, 12, 1, 1, "ok", NULL, 0);
    f.b[33 + 5] = 0x07;
    CHECK(panther_decode(f.b, f.n, &m, &used, &err) == -1 && strstr(err.msg, "non-printable"));
    CHECK_STR(panther_type_name(10), "START_RUN");
    CHECK_STR(panther_type_name(99), "type 99");
}

static struct names *names_of(const char *const *list)
{
    struct names *n = names_create();
    for (; *list; list++)
        names_add(n, *list);
    return n;
}

static void test_names(void)
{
    static const char *const local_list[] = {"x1", "x2", "k_long_name", NULL};
    struct names *local = names_of(local_list);
    struct pr_error err;
    size_t *map;

    /* hash order, upper case, an empty piece ignored */
    static const unsigned char wire[] = "K_LONG_NAME\0X2\0\0x1";
    long n = panther_map_names(wire, sizeof(wire), local, "parameter", &map, &err);
    CHECK(n == 3 && map && map[0] == 2 && map[1] == 1 && map[2] == 0);
    free(map);

    static const unsigned char other[] = "X1\0X3\0K_LONG_NAME\0";
    CHECK(panther_map_names(other, sizeof(other), local, "parameter", &map, &err) == -1 && !map);
    CHECK(strstr(err.msg, "only the master has X3") && strstr(err.msg, "only this case has X2"));

    static const unsigned char twice[] = "X1\0X2\0X1\0K_LONG_NAME\0";
    CHECK(panther_map_names(twice, sizeof(twice), local, "parameter", &map, &err) == -1);
    CHECK(strstr(err.msg, "twice") != NULL);
    static const unsigned char fewer[] = "X1\0";
    CHECK(panther_map_names(fewer, sizeof(fewer), local, "observation", &map, &err) == -1);
    CHECK(strstr(err.msg, "observation") && strstr(err.msg, "X2, K_LONG_NAME"));
    static const unsigned char bad[] = "X1\0X\x01\0";
    CHECK(panther_map_names(bad, sizeof(bad), local, "parameter", &map, &err) == -1);
    names_destroy(local);
}

/* ------------------------------------------------------------------------------------------ */
/* one agent against a master played here                                                    */

struct fake {
    int runs, kills;
    double values[2];
    char info[128];
};

static void f_start(void *ctx, int slot, const double *values, const char *info)
{
    struct fake *f = ctx;
    f->runs++;
    memcpy(f->values, values, sizeof(f->values));
    snprintf(f->info, sizeof(f->info), "%s", info);
}

static void f_kill(void *ctx, int slot)
{
    ((struct fake *)ctx)->kills++;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Drive the agent until the master's socket has a whole frame; returns it in *m. */
static int master_recv(int ms, int ep, struct strbuf *in, struct panther_msg *m, size_t *used)
{
    struct pr_error err;
    for (int spins = 0; spins < 200; spins++) {
        int rc = panther_decode(in->data, in->len, m, used, &err);
        if (rc) return rc;
        struct epoll_event ev;
        if (epoll_wait(ep, &ev, 1, 10) == 1) panther_agent_io(ev.data.ptr, ev.events, mono());
        char buf[8192];
        ssize_t n = recv(ms, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) sb_append(in, buf, (size_t)n);
        if (n == 0) return -1;
    }
    return 0;
}

static void consume(struct strbuf *in, size_t used)
{
    memmove(in->data, in->data + used, in->len - used);
    in->len -= used;
}

static void master_send(int ms, uint32_t type, int64_t g, int64_t r, const char *desc,
                        const void *data, size_t len)
{
    struct strbuf sb = {0};
    panther_encode(&sb, type, g, r, desc, data, len);
    CHECK(send(ms, sb.data, sb.len, MSG_NOSIGNAL) == (ssize_t)sb.len);
    sb_free(&sb);
}

static void pump(int ep, int ms_wait)
{
    struct epoll_event ev;
    while (epoll_wait(ep, &ev, 1, ms_wait) == 1)
        panther_agent_io(ev.data.ptr, ev.events, mono());
}

static void test_agent(void)
{
    static const char *const pl[] = {"x1", "x2", NULL}, *const ol[] = {"r1", "r2", NULL};
    struct names *pn = names_of(pl), *on = names_of(ol);
    struct fake fk = {0};
    struct panther_agent_ops ops = {f_start, f_kill, NULL};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t alen = sizeof(addr);
    int ls = socket(AF_INET, SOCK_STREAM, 0), ep = epoll_create1(0);
    addr.sin_addr.s_addr = htonl(0x7f000001);
    CHECK(bind(ls, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(ls, 4) == 0);
    getsockname(ls, (struct sockaddr *)&addr, &alen);
    struct panther_agent_cfg cfg = {.master = addr,
                                    .master_name = "test",
                                    .par_names = pn,
                                    .obs_names = on,
                                    .rundir = "/work/dir",
                                    .retry_min_s = 0.01,
                                    .retry_max_s = 0.05,
                                    .epoll_fd = ep,
                                    .ops = &ops,
                                    .ctx = &fk};
    struct panther_agent *a = panther_agent_create(&cfg, 0, mono());
    int ms = accept(ls, NULL, NULL);
    struct strbuf in = {0};
    struct panther_msg m;
    size_t used;
    pump(ep, 20);
    CHECK(panther_agent_state(a) == PANTHER_AGENT_CONNECTED);

    master_send(ms, PANTHER_REQ_RUNDIR, 0, 0, "", "", 1);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_RUNDIR);
    CHECK(m.len == 9 && memcmp(m.data, "/work/dir", 9) == 0 && m.desc[0] == 0);
    consume(&in, used);
    master_send(ms, PANTHER_PAR_NAMES, 0, 0, "", "X2\0X1\0", 6);
    master_send(ms, PANTHER_OBS_NAMES, 0, 0, "", "R2\0R1\0", 6);
    master_send(ms, PANTHER_REQ_LINPACK, 0, 0, "", "", 1);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_LINPACK && m.len == 0);
    consume(&in, used);

    /* a run in hash order reaches the bridge in the case's order, info lower-cased */
    double wire[2] = {2.0, 1.0}; /* X2, X1 */
    master_send(ms, PANTHER_START_RUN, 3, 5, "PAR_NAME:X2", wire, sizeof(wire));
    master_send(ms, PANTHER_PING, 0, 0, "", NULL, 0);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_PING);
    consume(&in, used);
    CHECK(fk.runs == 1 && fk.values[0] == 1.0 && fk.values[1] == 2.0);
    CHECK_STR(fk.info, "par_name:x2");
    CHECK(panther_agent_busy(a));
    double proc[2] = {1.0, 2.0}, obs[2] = {10.0, 0.0};
    struct run_result res = {
        .status = RUN_OK, .seconds = 0.5, .npar = 2, .nobs = 2, .processed = proc, .obs = obs};
    panther_agent_finish(a, &res, mono());
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_RUN_FINISHED);
    CHECK(m.group == 3 && m.run == 5 && m.len == 5 * sizeof(double));
    double back[5];
    memcpy(back, m.data, sizeof(back));
    CHECK(back[0] == 2.0 && back[1] == 1.0 && back[2] == 0.0 && back[3] == 10.0 && back[4] == 0.5);
    consume(&in, used);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_READY);
    consume(&in, used);

    /* REQ_KILL during a run: the bridge is told, RUN_KILLED(gid, rid) then READY */
    master_send(ms, PANTHER_START_RUN, 3, 6, "", wire, sizeof(wire));
    master_send(ms, PANTHER_REQ_KILL, 0, 0, "", "", 1);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_RUN_KILLED &&
          m.group == 3 && m.run == 6);
    consume(&in, used);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_READY);
    consume(&in, used);
    CHECK(fk.runs == 2 && fk.kills == 1 && !panther_agent_busy(a));

    /* a failed run: RUN_FAILED naming it, then READY */
    master_send(ms, PANTHER_START_RUN, 4, 0, "normal", wire, sizeof(wire));
    pump(ep, 20);
    struct run_result bad = {.status = RUN_FAILED, .reason = "model exited 1"};
    panther_agent_finish(a, &bad, mono());
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_RUN_FAILED && m.len == 0);
    CHECK(strstr(m.desc, "group_id:4 run_id:0") && strstr(m.desc, "model exited 1"));
    consume(&in, used);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_READY);
    consume(&in, used);

    /* a START_RUN with the wrong size is corrupt: CORRUPT_MESG, then a reconnection */
    master_send(ms, PANTHER_START_RUN, 4, 1, "", wire, 8);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_CORRUPT_MESG);
    CHECK(panther_agent_state(a) == PANTHER_AGENT_RETRY);
    close(ms);
    sb_reset(&in);
    double t0 = mono();
    while (panther_agent_state(a) != PANTHER_AGENT_CONNECTED && mono() - t0 < 2) {
        double at = panther_agent_next_timer(a);
        struct pollfd p = {.fd = ep, .events = POLLIN};
        poll(&p, 1, at > mono() ? (int)((at - mono()) * 1000) + 1 : 0);
        if (mono() >= panther_agent_next_timer(a)) panther_agent_timer(a, mono());
        pump(ep, 0);
    }
    CHECK(panther_agent_state(a) == PANTHER_AGENT_CONNECTED);
    ms = accept(ls, NULL, NULL);

    /* a name table that differs: IO_ERROR naming the names, and the agent refuses */
    master_send(ms, PANTHER_OBS_NAMES, 0, 0, "", "R1\0R3\0", 6);
    CHECK(master_recv(ms, ep, &in, &m, &used) == 1 && m.type == PANTHER_IO_ERROR);
    CHECK(strstr(m.desc, "R3") && strstr(m.desc, "R2"));
    CHECK(panther_agent_state(a) == PANTHER_AGENT_REFUSED);
    CHECK(strstr(panther_agent_error(a), "R3") != NULL);
    panther_agent_destroy(a);
    close(ms);

    /* TERMINATE ends the agent for good */
    a = panther_agent_create(&cfg, 1, mono());
    ms = accept(ls, NULL, NULL);
    pump(ep, 20);
    master_send(ms, PANTHER_TERMINATE, 0, 0, "", NULL, 0);
    pump(ep, 50);
    CHECK(panther_agent_state(a) == PANTHER_AGENT_TERMINATED);
    CHECK(panther_agent_next_timer(a) == HUGE_VAL);
    panther_agent_destroy(a);
    panther_agent_destroy(NULL);
    close(ms);
    close(ls);
    close(ep);
    sb_free(&in);
    names_destroy(pn);
    names_destroy(on);
}

int main(void)
{
    if (!little_endian()) {
        printf("skipped: the hand-assembled frames are little-endian\n");
        return 77;
    }
    test_encode();
    test_decode();
    test_names();
    test_agent();
    return check_done();
}
