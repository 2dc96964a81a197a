/* The worker-side loop shared by every transport: receive a run, hand it to the model runner,
 * send the result; answer cancels and pings while the model runs. A transport supplies only
 * the message plumbing (struct agent_io). */
#ifndef PR_AGENT_H
#define PR_AGENT_H

#include "model/runner.h"
#include "sched/wire.h"

enum { AGENT_MSG = 1, AGENT_MODEL = 2 };

struct agent_io {
    /* Block until a message may be waiting (AGENT_MSG), model_fd is readable (AGENT_MODEL),
     * or timeout_ms passed (0 returned). -1 when the master is gone. */
    int (*wait)(void *impl, int model_fd, int timeout_ms);
    /* Take one message if one is whole: 1, 0 when none is, -1 when the master is gone. */
    int (*recv)(void *impl, struct wire_msg *m);
    /* Send a message. Returns 0, -1 when the master is gone. */
    int (*send)(void *impl, const struct wire_msg *m);
    void *impl;
};

/* Run the loop until the master says QUIT or goes away. hello is the worker's description
 * (sent in HELLO). A running model is always killed (its whole process group) before the
 * loop returns. Returns 0 after QUIT, 1 when the master went away. */
int agent_loop(const struct agent_io *io, struct model_runner *r, const char *hello);

#endif
