/* The transport interface: how the scheduler reaches workers, whatever carries the messages
 * (processes on this machine, MPI ranks, SQS queues). An ops table over an opaque
 * implementation, as flux-core's connectors. A transport only moves messages: retries,
 * duplicates, stale results and the journal are the scheduler's business. */
#ifndef PR_TRANSPORT_H
#define PR_TRANSPORT_H

#include "run.h"
#include "../util/pr_error.h"

enum tr_event_type {
    TR_EV_WORKER_UP = 1,   /* a worker is ready for runs */
    TR_EV_WORKER_LOST = 2, /* a worker died or stopped answering; its run is not a failure */
    TR_EV_STARTED = 3,     /* a worker started the model of key (its clock starts now) */
    TR_EV_RESULT = 4,      /* a run ended: ok, failed or cancelled */
    TR_EV_EXTRA_FD = 5,    /* the extra file descriptor given to poll became readable */
};

struct tr_event {
    enum tr_event_type type;
    int worker;
    struct run_key key;       /* STARTED, RESULT */
    struct run_result result; /* RESULT; arrays owned by the transport until the next poll */
    char detail[256];         /* WORKER_UP: where it runs; WORKER_LOST: why */
};

struct tr_ops {
    const char *name;
    /* Send run to worker (an id from a WORKER_UP event). Returns 0, or -1 with err set when
     * the worker cannot take it (the scheduler then treats the worker as lost). */
    int (*submit)(void *impl, int worker, const struct run_request *run, struct pr_error *err);
    /* Ask worker to kill run key if it is still going; a RESULT (cancelled) follows. */
    void (*cancel)(void *impl, int worker, const struct run_key *key);
    /* Wait up to timeout_ms (-1: no limit) for the next event. extra_fd (-1: none) is watched
     * too. Returns 1 with *ev filled, 0 when the time ran out or a signal arrived, -1 with err
     * set on a fatal error. Never sleeps: it blocks in the kernel on the transport's fds. */
    int (*poll)(void *impl, struct tr_event *ev, int timeout_ms, int extra_fd,
                struct pr_error *err);
    /* Stop every worker (killing running models) and free everything. */
    void (*destroy)(void *impl);
};

struct transport {
    const struct tr_ops *ops;
    void *impl;
};

#endif
