/* A FIFO of transport events, for transports that decode several events from one read. */
#ifndef PR_EVQ_H
#define PR_EVQ_H

#include <stddef.h>

#include "transport.h"

struct evq {
    struct tr_event *ev;
    size_t head, len, cap;
    struct run_result lent; /* arrays of the event last handed out by evq_lend */
};

/* A new zeroed event at the back of the queue. */
struct tr_event *evq_push(struct evq *q);
/* Take the front event into *out: 1, or 0 when the queue is empty. */
int evq_pop(struct evq *q, struct tr_event *out);
/* A transport's poll hands events out with evq_lend: the result arrays of the event lent stay
 * valid until the next evq_lend, evq_return or evq_free (the contract of tr_ops.poll). */
int evq_lend(struct evq *q, struct tr_event *out);
/* Free the arrays of the event last lent (at the start of the next poll). */
void evq_return(struct evq *q);
/* Free the queue, the result arrays of the events still in it and of the one lent. */
void evq_free(struct evq *q);

#endif
