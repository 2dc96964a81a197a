/* The in-memory loop transport: workers are simulated by the test that drives it, so every
 * scheduler rule is tested without processes — many workers, workers that vanish, results
 * that arrive twice, late or out of order.
 *
 * The test pushes events (loop_push_*); the scheduler's poll() takes them in order. When no
 * event is queued, poll() calls the test's idle hook, which may push more (for example answer
 * every submitted run) or advance a fake clock; if it pushes nothing, poll() returns 0. Every
 * submit and cancel is recorded for the test to inspect. */
#ifndef PR_LOOP_H
#define PR_LOOP_H

#include "transport.h"

struct loop;

struct loop_submit {
    int worker;
    struct run_key key;
    double *values; /* copy of the request's values */
    size_t npar;
    int cancelled; /* a cancel for this copy was received */
    int answered;  /* the test marked it answered (loop_answer helpers do) */
};

struct loop *loop_create(size_t npar, size_t nobs);
void loop_destroy(struct loop *l);
struct transport loop_transport(struct loop *l);

/* Hook called by poll() when the event queue is empty. */
void loop_set_idle(struct loop *l, void (*idle)(void *ctx, struct loop *l), void *ctx);

void loop_push_up(struct loop *l, int worker);
void loop_push_lost(struct loop *l, int worker);
void loop_push_started(struct loop *l, int worker, struct run_key key);
/* A result for key from worker; obs may be NULL (then filled with f(values) = sum of values +
 * observation index, a deterministic "model"); reason for failures. */
void loop_push_result(struct loop *l, int worker, struct run_key key, enum run_status status,
                      const double *obs, double seconds, const char *reason);

size_t loop_nsubmits(const struct loop *l);
struct loop_submit *loop_submit_at(struct loop *l, size_t i);
/* Submits not yet answered nor cancelled, oldest first: index into loop_submit_at or -1. */
long loop_next_unanswered(struct loop *l);
size_t loop_ncancels(const struct loop *l);
/* Make submit() to this worker fail (the worker is then lost). */
void loop_fail_submits(struct loop *l, int worker, int fail);

/* The deterministic model used when obs is NULL: obs[k] = sum(values) + k. */
void loop_model(const double *values, size_t npar, double *obs, size_t nobs);

#endif
