/* The socket plumbing below the transports: the master's links (src/sched/wlinks.h) and the
 * agent's fd (agent/agent_fd.h) over socketpairs. Messages split across reads or packed in one
 * come out whole and in order, result arrays outlive the next message, an end of file and a
 * malformed message end the link with their reasons, bytes read before a link was attached
 * are taken, an agent pings on its own while it waits and stops when its flag is set. */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent_fd.h"
#include "check.h"
#include "sched/wlinks.h"
#include "util/clock.h"
#include "util/strbuf.h"

struct seen {
    struct evq q;
    int msgs, pings, ends, end_with_reason, last_worker;
    struct wlinks *l;
};

static void on_msg(void *ctx, int k, const struct wire_msg *m)
{
    struct seen *s = ctx;
    s->msgs++;
    s->last_worker = k;
    if (m->type == WIRE_PING) s->pings++;
    wlinks_event(&s->q, k, m);
}

static void on_end(void *ctx, int k, const char *why)
{
    struct seen *s = ctx;
    s->ends++;
    s->end_with_reason += why != NULL;
    wlinks_close(s->l, k);
}

static void put(int fd, const struct wire_msg *m)
{
    struct strbuf b = {0};
    wire_encode(m, &b);
    CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
    sb_free(&b);
}

static void test_links(void)
{
    int sv[2];
    struct seen s = {.last_worker = -1};
    struct wlinks_cb cb = {on_msg, on_end, &s};
    struct pr_error err;
    double obs[3] = {1.5, 2.5, 3.5}, vals[2] = {7, 8};

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    s.l = wlinks_create(3);
    wlinks_attach(s.l, 2, sv[0]);
    CHECK(wlinks_open(s.l) == 1 && wlinks_fd(s.l, 2) == sv[0] && wlinks_fd(s.l, 0) == -1);

    /* three messages in one write, then a fourth in two halves */
    struct strbuf b = {0};
    wire_encode(&(struct wire_msg){.type = WIRE_HELLO, .text = "worker 2"}, &b);
    wire_encode(&(struct wire_msg){.type = WIRE_STARTED, .key = {1, 4, 0}, .pgid = 99}, &b);
    wire_encode(&(struct wire_msg){.type = WIRE_RESULT,
                                   .key = {1, 4, 0},
                                   .values = vals,
                                   .npar = 2,
                                   .obs = obs,
                                   .nobs = 3,
                                   .seconds = 0.25},
                &b);
    size_t three = b.len;
    wire_encode(&(struct wire_msg){.type = WIRE_PING}, &b);
    CHECK(write(sv[1], b.data, three + 10) == (ssize_t)(three + 10));
    CHECK(wlinks_poll(s.l, NULL, 0, 1000, &cb, &err) == 1);
    CHECK(s.msgs == 3 && s.last_worker == 2 && s.q.len == 3);
    CHECK(write(sv[1], b.data + three + 10, b.len - three - 10) == (ssize_t)(b.len - three - 10));
    CHECK(wlinks_poll(s.l, NULL, 0, 1000, &cb, &err) == 1);
    CHECK(s.msgs == 4 && s.pings == 1 && s.q.len == 3); /* a PING is no event */
    sb_free(&b);

    struct tr_event ev;
    CHECK(evq_lend(&s.q, &ev) == 1 && ev.type == TR_EV_WORKER_UP && ev.worker == 2);
    CHECK_STR(ev.detail, "worker 2");
    CHECK(evq_lend(&s.q, &ev) == 1 && ev.type == TR_EV_STARTED && ev.key.run == 4);
    CHECK(evq_lend(&s.q, &ev) == 1 && ev.type == TR_EV_RESULT && ev.result.nobs == 3 &&
          ev.result.npar == 2);
    CHECK(ev.result.obs[2] == 3.5 && ev.result.processed[1] == 8 && ev.result.seconds == 0.25);

    /* the caller's fds are polled too */
    int pv[2];
    CHECK(pipe(pv) == 0);
    CHECK(write(pv[1], "x", 1) == 1);
    struct pollfd x = {.fd = pv[0], .events = POLLIN};
    CHECK(wlinks_poll(s.l, &x, 1, 1000, &cb, &err) == 1 && x.revents & POLLIN);
    x.revents = 0;
    char c;
    CHECK(read(pv[0], &c, 1) == 1);
    CHECK(wlinks_poll(s.l, &x, 1, 10, &cb, &err) == 0 && x.revents == 0);
    close(pv[0]);
    close(pv[1]);

    /* the other end goes away: an end without a reason */
    close(sv[1]);
    CHECK(wlinks_poll(s.l, NULL, 0, 1000, &cb, &err) == 1);
    CHECK(s.ends == 1 && s.end_with_reason == 0 && wlinks_open(s.l) == 0);

    /* garbage: an end with a reason */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    wlinks_attach(s.l, 0, sv[0]);
    char junk[WIRE_HEADER_SIZE];
    memset(junk, 'j', sizeof(junk));
    CHECK(write(sv[1], junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    CHECK(wlinks_poll(s.l, NULL, 0, 1000, &cb, &err) == 1);
    CHECK(s.ends == 2 && s.end_with_reason == 1 && wlinks_fd(s.l, 0) == -1);
    close(sv[1]);

    /* bytes read before the link was attached (a handshake) are taken as the link's */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    wlinks_attach(s.l, 1, sv[0]);
    b = (struct strbuf){0};
    wire_encode(&(struct wire_msg){.type = WIRE_HELLO, .text = "early"}, &b);
    wire_encode(&(struct wire_msg){.type = WIRE_PING}, &b);
    int before = s.msgs;
    wlinks_feed(s.l, 1, b.data, b.len - 5, &cb);
    CHECK(s.msgs == before + 1);
    CHECK(write(sv[1], b.data + b.len - 5, 5) == 5);
    CHECK(wlinks_poll(s.l, NULL, 0, 1000, &cb, &err) == 1 && s.msgs == before + 2);
    sb_free(&b);
    close(sv[1]);
    evq_free(&s.q);
    wlinks_destroy(s.l); /* closes sv[0] */
}

static volatile sig_atomic_t stop_flag;

static void test_agent_fd(void)
{
    int sv[2];
    struct agent_fd a;
    struct agent_io io;
    struct wire_msg m;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    agent_fd_init(&a, sv[1], 0.05, &stop_flag, &io);
    /* nothing comes: the wait ends at its time-out, with liveness pings sent meanwhile */
    double t0 = pr_now_s();
    CHECK(agent_fd_next(&a, &m, 260) == 0);
    double dt = pr_now_s() - t0;
    CHECK_MSG(dt >= 0.25 && dt < 1.0, "waited %.3f s", dt);
    struct strbuf in = {0}, scratch = {0};
    struct pr_error err;
    int pings = 0;
    CHECK(wire_read_fd(sv[0], &in, &err) > 0);
    while (wire_take(&in, &m, &scratch, &err) == 1)
        pings += m.type == WIRE_PING;
    CHECK_MSG(pings >= 3 && pings <= 6, "%d pings in 0.26 s at one per 0.05 s", pings);

    /* a message from the master, whole */
    put(sv[0], &(struct wire_msg){.type = WIRE_CANCEL, .key = {3, 2, 1}});
    CHECK(agent_fd_next(&a, &m, 1000) == 1 && m.type == WIRE_CANCEL && m.key.attempt == 1);
    /* the stop flag ends the wait */
    stop_flag = 1;
    CHECK(agent_fd_next(&a, &m, 1000) == -1);
    stop_flag = 0;
    /* the master's end of the link closes: the agent sees it gone */
    close(sv[0]);
    CHECK(agent_fd_next(&a, &m, 1000) == -1);
    CHECK(agent_fd_send(&a, &(struct wire_msg){.type = WIRE_PING}) == -1);
    agent_fd_free(&a);
    close(sv[1]);
    sb_free(&in);
    sb_free(&scratch);
}

static void test_inval(void)
{
    struct pr_error err;
    struct wlinks *l = wlinks_create(2);
    CHECK(wlinks_send(l, 0, &(struct wire_msg){.type = WIRE_PING}, &err) == -1);
    CHECK(wlinks_send(l, 5, &(struct wire_msg){.type = WIRE_PING}, &err) == -1);
    CHECK(wlinks_fd(l, -1) == -1 && wlinks_fd(l, 2) == -1);
    wlinks_close(l, 1); /* closing a closed link is harmless */
    struct evq q = {0};
    CHECK(wlinks_event(&q, 0, &(struct wire_msg){.type = WIRE_PING}) == NULL);
    CHECK(wlinks_event(&q, 0, &(struct wire_msg){.type = WIRE_HELLO, .status = -1}) == NULL);
    CHECK(q.len == 0);
    wlinks_destroy(l);
    wlinks_destroy(NULL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_links();
    test_agent_fd();
    test_inval();
    return check_done();
}
