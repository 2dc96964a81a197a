/* pestrun panther: serve a PEST++ master (pestpp-ies, -glm, -mou, -da, -sen, -swp started with
 * /h :PORT) as PANTHER agents, one connection per pestrun worker, and run every model run it
 * sends through the scheduler and pestrun's transports (src/panther/, SPEC.md §5). */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "panther/agent.h"
#include "util/strbuf.h"
#include "util/clock.h"

struct bridge {
    struct sched *sched;
    int epfd;
    struct panther_agent_cfg cfg;
    struct panther_agent **agents;
    long *run_of; /* the scheduler's id of each slot's run, -1 when none */
    int nagents, cap;
    int quiet;
    size_t ok, failed;
};

enum { PANTHER_OPT_MASTER = 2001, PANTHER_OPT_ALLOW_REMOTE };

static const struct cli_option panther_options[] = {
    {"master", PANTHER_OPT_MASTER, "HOST:PORT",
     "the PEST++ master (needed; HOST empty: this machine)"},
    {"allow-remote", PANTHER_OPT_ALLOW_REMOTE, NULL,
     "allow a master that is not on this machine: PANTHER has no authentication or encryption "
     "(see docs/panther.md: use an SSH tunnel or a private subnet)"},
    {NULL, 0, NULL, NULL},
};

/* No journal options: the PEST++ master keeps the books of its runs. */
static const struct cli_group panther_groups[] = {
    {NULL, panther_options},
    {engine_case_title, engine_case_options},
    {engine_workers_title, engine_worker_options},
    {engine_progress_title, engine_progress_options},
    {engine_sqs_title, engine_sqs_options},
    {NULL, NULL},
};

const struct cli_command cli_cmd_panther = {
    .name = "panther",
    .fn = cmd_panther,
    .summary = "serve a PEST++ master (PANTHER) with pestrun's workers",
    .synopsis = "[OPTIONS] CASE.pst --master HOST:PORT",
    .about = "Serves a PEST++ master (pestpp-ies, -glm, -mou, -da, -sen, -swp started with\n"
             "'/h :PORT') as PANTHER agents: one connection per pestrun worker, each run the\n"
             "master sends is run by pestrun's workers (local cores, MPI ranks, SQS agents)\n"
             "with their pinning and retries of lost workers, and its result is sent back at\n"
             "once. CASE.pst must have the master's parameter and observation names. The\n"
             "master keeps the books, so the bridge keeps no journal and has no --resume. A\n"
             "lost connection is retried with a back-off (the master may restart); the\n"
             "command ends when the master says TERMINATE.\n",
    .exit_status = {"the master said TERMINATE",
                    "the master refused the bridge (names that differ from the case's: the "
                    "message names them), or the workers or the transport failed",
                    "nothing was run: bad usage (no --master, a master that is not this "
                    "machine without --allow-remote), or the control file cannot be read, the "
                    "case has errors or sets an option that changes the result and that "
                    "'pestrun panther' does not implement",
                    "stopped by Ctrl-C, SIGTERM or a pest.stp file"},
    .groups = panther_groups,
};

/* HOST:PORT to an IPv4 address (PANTHER is IPv4 only); loopback unless allow_remote. */
static int resolve_master(const char *spec, int allow_remote, struct sockaddr_in *out,
                          struct pr_error *err)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1])
        return pr_error_set(err, "--master: expected HOST:PORT, got '%s'", spec);
    char *host = colon == spec ? xstrdup("127.0.0.1") : xstrndup(spec, (size_t)(colon - spec));
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res) {
        pr_error_set(err, "--master %s: cannot resolve it: %s", spec, gai_strerror(rc));
        free(host);
        return -1;
    }
    memcpy(out, res->ai_addr, sizeof(*out));
    freeaddrinfo(res);
    uint32_t a = ntohl(out->sin_addr.s_addr);
    if ((a >> 24) != 127 && !allow_remote) {
        pr_error_set(err,
                     "--master %s: %s (%u.%u.%u.%u) is not this machine, and PANTHER has no "
                     "authentication or encryption: reach it through an SSH tunnel "
                     "(ssh -N -L PORT:localhost:PORT HOST, then --master localhost:PORT) or, "
                     "inside a private network, give --allow-remote (docs/panther.md)",
                     spec, host, a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
        free(host);
        return -1;
    }
    free(host);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the agents' callbacks                                                                      */

static void on_start_run(void *ctx, int slot, const double *values, const char *info)
{
    struct bridge *b = ctx;
    b->run_of[slot] = (long)sched_stream_submit(b->sched, values, info);
}

static void on_kill_run(void *ctx, int slot)
{
    struct bridge *b = ctx;
    if (b->run_of[slot] >= 0) sched_stream_cancel(b->sched, (size_t)b->run_of[slot]);
    b->run_of[slot] = -1;
}

static void on_log(void *ctx, int slot, const char *msg)
{
    struct bridge *b = ctx;
    if (!b->quiet) fprintf(stderr, "panther agent %d: %s\n", slot, msg);
}

static const struct panther_agent_ops bridge_ops = {on_start_run, on_kill_run, on_log};

static void add_agents(struct bridge *b, size_t want)
{
    while ((size_t)b->nagents < want) {
        if (b->nagents == b->cap) {
            b->cap = b->cap ? 2 * b->cap : 8;
            b->agents = xrealloc(b->agents, (size_t)b->cap * sizeof(*b->agents));
            b->run_of = xrealloc(b->run_of, (size_t)b->cap * sizeof(*b->run_of));
        }
        b->run_of[b->nagents] = -1;
        b->agents[b->nagents] = panther_agent_create(&b->cfg, b->nagents, pr_now_s());
        b->nagents++;
    }
}

static void on_result(struct bridge *b, const struct sched_stream_event *ev)
{
    for (int k = 0; k < b->nagents; k++)
        if (b->run_of[k] == (long)ev->id) {
            b->run_of[k] = -1;
            if (ev->result.status == RUN_OK)
                b->ok++;
            else
                b->failed++;
            panther_agent_finish(b->agents[k], &ev->result, pr_now_s());
            return;
        }
}

static void on_sockets(struct bridge *b)
{
    struct epoll_event evs[64];
    int n = epoll_wait(b->epfd, evs, 64, 0);
    for (int i = 0; i < n; i++)
        panther_agent_io(evs[i].data.ptr, evs[i].events, pr_now_s());
}

/* Timers due now; returns the milliseconds to the next one (-1: none). */
static int run_timers(struct bridge *b)
{
    double next = HUGE_VAL, t = pr_now_s();
    for (int k = 0; k < b->nagents; k++) {
        if (panther_agent_next_timer(b->agents[k]) <= t) panther_agent_timer(b->agents[k], t);
        double at = panther_agent_next_timer(b->agents[k]);
        if (at < next) next = at;
    }
    if (next == HUGE_VAL) return -1;
    double ms = (next - pr_now_s()) * 1000.0;
    return ms <= 0 ? 0 : (ms > 60000 ? 60000 : (int)ms + 1);
}

/* 1 once the master said TERMINATE and no connection is left to serve; -1 on a refusal. */
static int session_state(struct bridge *b, struct pr_error *err)
{
    int terminated = 0, open = 0;
    for (int k = 0; k < b->nagents; k++) {
        enum panther_agent_state st = panther_agent_state(b->agents[k]);
        if (st == PANTHER_AGENT_REFUSED)
            return pr_error_set(err, "%s", panther_agent_error(b->agents[k]));
        terminated |= st == PANTHER_AGENT_TERMINATED;
        open |= st == PANTHER_AGENT_CONNECTED;
    }
    return terminated && !open;
}

static int serve(struct bridge *b, struct pr_error *err)
{
    for (;;) {
        int st = session_state(b, err);
        if (st) return st < 0 ? -1 : 0;
        int timeout = run_timers(b);
        struct sched_stream_event ev;
        int got = sched_stream_poll(b->sched, timeout, &ev, err);
        if (got < 0) return -1;
        if (got == 0) continue;
        switch (ev.type) {
        case SCHED_STREAM_RESULT:
            on_result(b, &ev);
            break;
        case SCHED_STREAM_FD:
            on_sockets(b);
            break;
        case SCHED_STREAM_WORKERS:
            for (int k = 0; k < b->nagents; k++) /* after TERMINATE, no new connections */
                if (panther_agent_state(b->agents[k]) == PANTHER_AGENT_TERMINATED) ev.workers = 0;
            add_agents(b, ev.workers);
            break;
        case SCHED_STREAM_STOP:
            return 1;
        }
    }
}

/* The case's names as a table indexed in the case's order. */
static struct names *case_names(const struct pst_case *c, int obs)
{
    struct names *n = names_create();
    size_t count = obs ? pst_nobs(c) : pst_nparams(c);
    for (size_t i = 0; i < count; i++)
        names_add(n, obs ? pst_obs(c, i)->name : pst_param(c, i)->name);
    return n;
}

int cmd_panther(int argc, char **argv)
{
    struct engine_opts eo;
    struct pr_error err;
    struct bridge b;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    struct cli_parser p;
    const char *master = NULL, *arg;
    int opt, rc = 2, allow_remote = 0;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};
    struct names *pn = NULL, *on = NULL;
    char cwd[4096];

    memset(&b, 0, sizeof(b));
    b.epfd = -1;
    engine_opts_init(&eo);
    cli_parser_init(&p, &cli_cmd_panther, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0) {
        if (engine_parse_opt(&eo, opt, arg) < 0) return 2;
        if (opt == PANTHER_OPT_MASTER) master = arg;
        if (opt == PANTHER_OPT_ALLOW_REMOTE) allow_remote = 1;
    }
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0 ||
        engine_check_opts(&eo, "panther") < 0)
        return 2;
    if (!master) {
        cli_error("panther: --master HOST:PORT is needed (the PEST++ master to serve)");
        return 2;
    }
    const char *pst = argv[p.next];
    if (resolve_master(master, allow_remote, &addr, &err) < 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    c = cli_load_checked(pst, PST_CMD_PANTHER, eo.forgive_unimplemented, &rc, &sup);
    if (!c) goto done;
    double poll_s, no_ping_s;
    if (pst_opt_double(c, "panther_poll_interval", 1.0, &poll_s, &err) < 0 ||
        pst_opt_double(c, "panther_agent_no_ping_timeout_secs", -1, &no_ping_s, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        rc = 2;
        goto done;
    }
    if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), "pestrun");
    for (char *ch = cwd; *ch; ch++) /* the master drops an agent whose RUNDIR is not printable */
        if ((unsigned char)*ch < 32 || (unsigned char)*ch > 126) *ch = '?';
    eo.no_journal = 1; /* the PEST++ master keeps the books of its runs */

    struct engine *e = engine_start(c, pst, &eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo.quiet, eo.json);
    rc = 1;
    pn = case_names(c, 0);
    on = case_names(c, 1);
    b.sched = engine_sched(e);
    b.quiet = eo.quiet;
    b.epfd = epoll_create1(EPOLL_CLOEXEC);
    b.cfg = (struct panther_agent_cfg){
        .master = addr,
        .master_name = master,
        .par_names = pn,
        .obs_names = on,
        .rundir = cwd,
        .retry_min_s = 0.05,
        .retry_max_s = poll_s > 0.05 ? poll_s : 0.05,
        .no_ping_timeout_s = no_ping_s,
        .epoll_fd = b.epfd,
        .ops = &bridge_ops,
        .ctx = &b,
    };
    struct sched_stream_opts so = {.max_run_fail = 1, .overdue = 0, .watch_fd = b.epfd};
    int s = -1;
    if (b.epfd < 0)
        pr_error_set(&err, "epoll: %s", strerror(errno));
    else if (sched_stream_begin(b.sched, &so, &err) == 0)
        s = serve(&b, &err);
    if (s < 0) fprintf(stderr, "pestrun: panther: %s\n", err.msg);
    for (int k = 0; k < b.nagents; k++)
        panther_agent_destroy(b.agents[k]);
    sched_stream_end(b.sched);
    int stop_rc = engine_finish(e);
    if (s >= 0 && !eo.quiet)
        fprintf(stderr, "panther: %zu runs sent back to %s (%zu failed) over %d connections\n",
                b.ok + b.failed, master, b.failed, b.nagents);
    rc = s < 0 ? 1 : stop_rc;
done:
    if (b.epfd >= 0) close(b.epfd);
    free(b.agents);
    free(b.run_of);
    names_destroy(pn);
    names_destroy(on);
    pst_support_report_free(&sup);
    pst_destroy(c);
    return rc;
}
