#include "evq.h"

#include <stdlib.h>
#include <string.h>

#include "../util/strbuf.h"

struct tr_event *evq_push(struct evq *q)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 32;
        struct tr_event *e = xcalloc(cap, sizeof(*e));
        for (size_t i = 0; i < q->len; i++)
            e[i] = q->ev[(q->head + i) % q->cap];
        free(q->ev);
        q->ev = e;
        q->cap = cap;
        q->head = 0;
    }
    struct tr_event *ev = &q->ev[(q->head + q->len) % q->cap];
    memset(ev, 0, sizeof(*ev));
    q->len++;
    return ev;
}

int evq_pop(struct evq *q, struct tr_event *out)
{
    if (q->len == 0) return 0;
    *out = q->ev[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return 1;
}

void evq_return(struct evq *q)
{
    free(q->lent.processed);
    free(q->lent.obs);
    free(q->lent.reason);
    memset(&q->lent, 0, sizeof(q->lent));
}

int evq_lend(struct evq *q, struct tr_event *out)
{
    evq_return(q);
    if (!evq_pop(q, out)) return 0;
    q->lent = out->result;
    return 1;
}

void evq_free(struct evq *q)
{
    evq_return(q);
    for (size_t i = 0; i < q->len; i++) {
        struct tr_event *ev = &q->ev[(q->head + i) % q->cap];
        free(ev->result.processed);
        free(ev->result.obs);
        free(ev->result.reason);
    }
    free(q->ev);
    memset(q, 0, sizeof(*q));
}
