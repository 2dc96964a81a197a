/* The agent side of one PANTHER connection (SPEC.md §5.4-§5.8): connects to a PEST++ master,
 * answers its handshake (RUNDIR, the name tables checked against the local case, LINPACK),
 * pings, runs, kill requests and TERMINATE, and reconnects with a back-off whenever the
 * connection is lost (PEST++'s panther_agent_restart_on_error behaviour).
 *
 * It never blocks and never sleeps: its socket is non-blocking and registered in the caller's
 * epoll set with the agent as data.ptr; the caller calls panther_agent_io when epoll reports
 * it, and panther_agent_timer once panther_agent_next_timer has passed. Runs are handed to the
 * caller (ops->start_run) in the local case's parameter order; the caller answers with
 * panther_agent_finish as soon as the run ended, and the agent sends the result and READY at
 * once (a PEST++ agent sleeps panther_poll_interval after each run; this one does not). */
#ifndef PR_PANTHER_AGENT_H
#define PR_PANTHER_AGENT_H

#include <netinet/in.h>
#include <stdint.h>

#include "sched/run.h"
#include "util/names.h"

struct panther_agent_ops {
    /* A run arrived: model-space values (local parameter order) and its info text, lower-cased
     * as PEST++ agents see it. Answer with panther_agent_finish. */
    void (*start_run)(void *ctx, int slot, const double *values, const char *info);
    /* The run given by start_run is no longer wanted (REQ_KILL, TERMINATE, a lost connection):
     * kill it and do not call panther_agent_finish for it. */
    void (*kill_run)(void *ctx, int slot);
    /* One line for the log; may be NULL. */
    void (*log)(void *ctx, int slot, const char *msg);
};

struct panther_agent_cfg {
    struct sockaddr_in master;
    const char *master_name;                   /* "HOST:PORT", for messages */
    const struct names *par_names, *obs_names; /* the local case's, in its order */
    const char *rundir;                        /* sent as RUNDIR (printable ASCII) */
    double retry_min_s, retry_max_s;           /* reconnection back-off, doubling */
    double no_ping_timeout_s;                  /* > 0: reconnect when nothing came for this long */
    int epoll_fd;
    const struct panther_agent_ops *ops;
    void *ctx;
};

enum panther_agent_state {
    PANTHER_AGENT_RETRY,      /* not connected; next attempt at panther_agent_next_timer */
    PANTHER_AGENT_CONNECTING, /* connect() in progress */
    PANTHER_AGENT_CONNECTED,
    PANTHER_AGENT_TERMINATED, /* the master said TERMINATE; no reconnection */
    PANTHER_AGENT_REFUSED,    /* the name tables differ from the case's; see panther_agent_error */
};

struct panther_agent;

/* Create the agent for slot and start connecting. cfg (and what it points to) must outlive
 * the agent. Never fails: a failed connect is retried. */
struct panther_agent *panther_agent_create(const struct panther_agent_cfg *cfg, int slot,
                                           double now);
/* Close the connection (the run, if any, is not reported). NULL is allowed. */
void panther_agent_destroy(struct panther_agent *a);

/* Its socket is ready (events from epoll). */
void panther_agent_io(struct panther_agent *a, uint32_t events, double now);
/* Call once now >= panther_agent_next_timer (reconnect, no-ping timeout). */
void panther_agent_timer(struct panther_agent *a, double now);
/* When the agent next needs panther_agent_timer (CLOCK_MONOTONIC seconds), or HUGE_VAL. */
double panther_agent_next_timer(const struct panther_agent *a);

/* The run given by start_run ended: send RUN_FINISHED (processed parameter values,
 * observations and run time, in the master's orders) or RUN_FAILED, then READY. */
void panther_agent_finish(struct panther_agent *a, const struct run_result *res, double now);

enum panther_agent_state panther_agent_state(const struct panther_agent *a);
/* Why the agent refused (PANTHER_AGENT_REFUSED), else NULL. */
const char *panther_agent_error(const struct panther_agent *a);
/* 1 while it has a run out. */
int panther_agent_busy(const struct panther_agent *a);
/* Counters: connections made, runs received, runs answered. */
void panther_agent_counts(const struct panther_agent *a, size_t *connects, size_t *runs,
                          size_t *answered);

#endif
