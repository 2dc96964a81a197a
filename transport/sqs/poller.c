#include "poller.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct sqs_poller {
    struct aws_client *client;
    char *queue_url;
    int efd;
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int want;
    int gap_ms; /* after a receive that got messages, let more gather this long */
    struct sqs_message *ready;
    size_t nready, capready;
    int failures;
    char error[512];
};

static void signal_owner(struct sqs_poller *p)
{
    uint64_t one = 1;
    ssize_t w = write(p->efd, &one, sizeof(one));
    (void)w;
}

/* The batching window: a bounded wait on the stop condition, so that the messages arriving
 * meanwhile come in one receive instead of one each. */
static void gather(struct sqs_poller *p)
{
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    pthread_mutex_lock(&p->mu);
    /* the owner may shorten the window meanwhile (sqs_poller_set_gap signals) */
    while (!atomic_load(&p->stop) && p->gap_ms > 0) {
        struct timespec until = t0;
        until.tv_nsec += (long)p->gap_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&p->mu);
}

static void *poll_thread(void *arg)
{
    struct sqs_poller *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!atomic_load(&p->stop) && p->want - (int)p->nready <= 0)
            pthread_cond_wait(&p->cv, &p->mu);
        int ask = p->want - (int)p->nready;
        int backoff = p->failures;
        pthread_mutex_unlock(&p->mu);
        if (atomic_load(&p->stop)) break;
        if (ask > SQS_MAX_BATCH) ask = SQS_MAX_BATCH;

        struct sqs_message *m = NULL;
        size_t n = 0;
        struct pr_error err;
        int rc = sqs_receive(p->client, p->queue_url, ask, 20, -1, &m, &n, &err);
        if (atomic_load(&p->stop)) {
            /* keep what came: the owner releases it */
            if (rc == 0 && n) {
                pthread_mutex_lock(&p->mu);
                goto keep;
            }
            sqs_messages_free(m, n);
            break;
        }
        pthread_mutex_lock(&p->mu);
        if (rc < 0) {
            p->failures++;
            snprintf(p->error, sizeof(p->error), "%s", err.msg);
            pthread_mutex_unlock(&p->mu);
            signal_owner(p);
            /* wait before the next try (the client already retried), stop ends it at once */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += backoff < 5 ? 1 << backoff : 30;
            pthread_mutex_lock(&p->mu);
            while (!atomic_load(&p->stop) &&
                   pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT)
                ;
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        p->failures = 0;
    keep:
        if (n) {
            if (p->nready + n > p->capready) {
                p->capready = (p->nready + n) * 2;
                p->ready = xrealloc(p->ready, p->capready * sizeof(*p->ready));
            }
            memcpy(p->ready + p->nready, m, n * sizeof(*m));
            p->nready += n;
        }
        free(m);
        pthread_mutex_unlock(&p->mu);
        if (n) signal_owner(p);
        if (atomic_load(&p->stop)) break;
        if (n) gather(p);
    }
    return NULL;
}

struct sqs_poller *sqs_poller_start(struct aws_creds_provider *cp, const char *region,
                                    const char *queue_url, struct pr_error *err)
{
    struct sqs_poller *p = xcalloc(1, sizeof(*p));
    p->efd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->queue_url = xstrdup(queue_url);
    p->client = aws_client_new(cp, region, err);
    if (!p->client) goto error;
    aws_client_set_abort_flag(p->client, &p->stop);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        pr_error_set(err, "eventfd: %s", strerror(errno));
        goto error;
    }
    if (pthread_create(&p->thread, NULL, poll_thread, p) != 0) {
        pr_error_set(err, "cannot start the SQS receiving thread");
        goto error;
    }
    p->started = 1;
    return p;
error:
    sqs_poller_stop(p, NULL, NULL);
    return NULL;
}

int sqs_poller_fd(const struct sqs_poller *p)
{
    return p->efd;
}

void sqs_poller_want(struct sqs_poller *p, int n)
{
    pthread_mutex_lock(&p->mu);
    if (n != p->want) {
        p->want = n;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void sqs_poller_set_gap(struct sqs_poller *p, int ms)
{
    pthread_mutex_lock(&p->mu);
    if (ms < 0) ms = 0;
    if (ms < p->gap_ms) pthread_cond_signal(&p->cv);
    p->gap_ms = ms;
    pthread_mutex_unlock(&p->mu);
}

size_t sqs_poller_take(struct sqs_poller *p, struct sqs_message **out)
{
    uint64_t v;
    ssize_t r = read(p->efd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&p->mu);
    size_t n = p->nready;
    *out = p->ready;
    p->ready = NULL;
    p->nready = p->capready = 0;
    /* what was taken fills the owner's room: no new receive until it says it has more */
    p->want -= (int)n;
    if (p->want < 0) p->want = 0;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int sqs_poller_failures(struct sqs_poller *p, char *buf, size_t n)
{
    pthread_mutex_lock(&p->mu);
    int f = p->failures;
    if (buf && n) snprintf(buf, n, "%s", p->error);
    pthread_mutex_unlock(&p->mu);
    return f;
}

unsigned long sqs_poller_requests(struct sqs_poller *p)
{
    struct aws_client_stats st;
    aws_client_stats(p->client, &st);
    return st.requests;
}

void sqs_poller_stop(struct sqs_poller *p, struct sqs_message **left, size_t *nleft)
{
    if (left) *left = NULL;
    if (nleft) *nleft = 0;
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->stop, 1);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (left && nleft) {
        *left = p->ready;
        *nleft = p->nready;
    } else {
        sqs_messages_free(p->ready, p->nready);
    }
    if (p->efd >= 0) close(p->efd);
    aws_client_free(p->client);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->queue_url);
    free(p);
}
