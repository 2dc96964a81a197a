/* What travels between the scheduler, the transports and the agents: a run request and its
 * result, keyed by (batch, run, attempt) so that late, duplicate and stale results are
 * recognised by the scheduler, whatever the transport. */
#ifndef PR_RUN_H
#define PR_RUN_H

#include <stddef.h>
#include <stdint.h>

struct run_key {
    uint64_t batch;
    uint32_t run;
    uint32_t attempt;
};

/* A model run to do: model-space parameter values in the case's parameter order. */
struct run_request {
    struct run_key key;
    size_t npar;
    const double *values;
    const char *info; /* "par_name:K1", a realisation name, ...; may be NULL */
};

enum run_status {
    RUN_OK = 0,
    RUN_FAILED = 1,    /* the model failed (counts toward max_run_fail) */
    RUN_CANCELLED = 2, /* killed on request (another copy won, or a stop) */
};

/* The outcome of one run. The arrays are owned by whoever filled the struct. */
struct run_result {
    struct run_key key;
    enum run_status status;
    double seconds;
    size_t npar, nobs;
    double *processed; /* values as written to the templates (model space); npar */
    double *obs;       /* nobs */
    char *reason;      /* why it failed; NULL when ok */
};

static inline int run_key_eq(const struct run_key *a, const struct run_key *b)
{
    return a->batch == b->batch && a->run == b->run && a->attempt == b->attempt;
}

#endif
