/* A FIFO of transport events, for transports that decode several events from one read. */
#ifndef PR_EVQ_H
#define PR_EVQ_H

#include <stddef.h>

#include "transport.h"

struct evq {
    struct tr_event *ev;
    size_t head, len, cap;
};

/* A new zeroed event at the back of the queue. */
struct tr_event *evq_push(struct evq *q);
/* Take the front event into *out: 1, or 0 when the queue is empty. */
int evq_pop(struct evq *q, struct tr_event *out);
/* Free the queue and the result arrays of the events still in it. */
void evq_free(struct evq *q);

#endif
