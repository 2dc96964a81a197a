#include "wlinks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"

struct link {
    int fd;
    unsigned gen; /* bumped by every attach: a poll result is for the link it polled */
    struct strbuf in;
};

struct wlinks {
    int n;
    struct link *k;
    struct strbuf scratch, out;
    struct pollfd *pfd; /* links then the caller's extra fds, for wlinks_poll */
    int *who;
    unsigned *gen;
    size_t pfd_cap;
};

struct wlinks *wlinks_create(int n)
{
    struct wlinks *l = xcalloc(1, sizeof(*l));
    l->n = n;
    l->k = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*l->k));
    for (int i = 0; i < n; i++)
        l->k[i].fd = -1;
    return l;
}

void wlinks_destroy(struct wlinks *l)
{
    if (!l) return;
    int saved = errno;
    for (int i = 0; i < l->n; i++) {
        wlinks_close(l, i);
        sb_free(&l->k[i].in);
    }
    sb_free(&l->scratch);
    sb_free(&l->out);
    free(l->pfd);
    free(l->who);
    free(l->gen);
    free(l->k);
    free(l);
    errno = saved;
}

void wlinks_attach(struct wlinks *l, int k, int fd)
{
    wlinks_close(l, k);
    l->k[k].fd = fd;
    l->k[k].gen++;
    sb_reset(&l->k[k].in);
}

void wlinks_close(struct wlinks *l, int k)
{
    if (l->k[k].fd >= 0) close(l->k[k].fd);
    l->k[k].fd = -1;
}

int wlinks_fd(const struct wlinks *l, int k)
{
    return k >= 0 && k < l->n ? l->k[k].fd : -1;
}

int wlinks_open(const struct wlinks *l)
{
    int open = 0;
    for (int i = 0; i < l->n; i++)
        open += l->k[i].fd >= 0;
    return open;
}

int wlinks_send(struct wlinks *l, int k, const struct wire_msg *m, struct pr_error *err)
{
    if (k < 0 || k >= l->n || l->k[k].fd < 0)
        return pr_error_set(err, "worker %d is not connected", k);
    return wire_send_fd(l->k[k].fd, m, &l->out, err);
}

/* Hand every whole message buffered for k to cb. */
static void take_messages(struct wlinks *l, int k, const struct wlinks_cb *cb)
{
    struct link *s = &l->k[k];
    struct pr_error err;
    struct wire_msg m;
    unsigned gen = s->gen;
    int got = 0;
    /* a callback may close or replace the link: stop at once when it did */
    while (s->gen == gen && s->fd >= 0 && (got = wire_take(&s->in, &m, &l->scratch, &err)) == 1)
        cb->msg(cb->ctx, k, &m);
    if (s->gen == gen && s->fd >= 0 && got < 0) cb->end(cb->ctx, k, err.msg);
}

void wlinks_read(struct wlinks *l, int k, const struct wlinks_cb *cb)
{
    struct pr_error err;
    long n = wire_read_fd(l->k[k].fd, &l->k[k].in, &err);
    if (n == -2) return;
    if (n <= 0) {
        cb->end(cb->ctx, k, n == 0 ? NULL : err.msg);
        return;
    }
    take_messages(l, k, cb);
}

void wlinks_feed(struct wlinks *l, int k, const char *data, size_t len, const struct wlinks_cb *cb)
{
    if (l->k[k].fd < 0 || len == 0) return;
    sb_append(&l->k[k].in, data, len);
    take_messages(l, k, cb);
}

int wlinks_poll(struct wlinks *l, struct pollfd *extra, int nextra, int timeout_ms,
                const struct wlinks_cb *cb, struct pr_error *err)
{
    size_t need = (size_t)l->n + (size_t)nextra;
    if (need > l->pfd_cap) {
        l->pfd_cap = need;
        l->pfd = xrealloc(l->pfd, need * sizeof(*l->pfd));
        l->who = xrealloc(l->who, need * sizeof(*l->who));
        l->gen = xrealloc(l->gen, need * sizeof(*l->gen));
    }
    int np = 0;
    for (int k = 0; k < l->n; k++)
        if (l->k[k].fd >= 0) {
            l->pfd[np] = (struct pollfd){.fd = l->k[k].fd, .events = POLLIN};
            l->gen[np] = l->k[k].gen;
            l->who[np++] = k;
        }
    for (int i = 0; i < nextra; i++) {
        l->pfd[np] = extra[i];
        l->pfd[np].revents = 0;
        l->who[np++] = -1 - i;
    }
    int rc = poll(l->pfd, (nfds_t)np, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR) return 0;
        return pr_error_set(err, "poll: %s", strerror(errno));
    }
    for (int i = 0; rc > 0 && i < np; i++) {
        if (l->who[i] < 0) {
            extra[-1 - l->who[i]].revents = l->pfd[i].revents;
            continue;
        }
        int k = l->who[i];
        if (l->pfd[i].revents && l->k[k].fd >= 0 && l->k[k].gen == l->gen[i]) wlinks_read(l, k, cb);
    }
    return rc;
}

struct tr_event *wlinks_event(struct evq *q, int k, const struct wire_msg *m)
{
    struct tr_event *ev;
    switch (m->type) {
    case WIRE_HELLO:
        if (m->status < 0) return NULL;
        ev = evq_push(q);
        ev->type = TR_EV_WORKER_UP;
        snprintf(ev->detail, sizeof(ev->detail), "%s", m->text ? m->text : "");
        break;
    case WIRE_STARTED:
        ev = evq_push(q);
        ev->type = TR_EV_STARTED;
        ev->key = m->key;
        break;
    case WIRE_RESULT:
        ev = evq_push(q);
        ev->type = TR_EV_RESULT;
        ev->key = m->key;
        ev->result.key = m->key;
        ev->result.status = (enum run_status)m->status;
        ev->result.seconds = m->seconds;
        ev->result.npar = m->npar;
        ev->result.nobs = m->nobs;
        /* the arrays must outlive the next decode */
        if (m->npar) {
            ev->result.processed = xmalloc(m->npar * sizeof(double));
            memcpy(ev->result.processed, m->values, m->npar * sizeof(double));
        }
        if (m->nobs) {
            ev->result.obs = xmalloc(m->nobs * sizeof(double));
            memcpy(ev->result.obs, m->obs, m->nobs * sizeof(double));
        }
        if (m->text) ev->result.reason = xstrdup(m->text);
        break;
    default:
        return NULL;
    }
    ev->worker = k;
    return ev;
}
