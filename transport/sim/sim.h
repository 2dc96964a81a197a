/* The simulated transport: thousands of virtual workers and a virtual clock under the real
 * scheduler, journal and algorithms, so that a million runs on 10,000 workers take seconds.
 *
 * Nothing waits: poll() jumps the virtual clock to the next event. Run times are drawn from a
 * lognormal distribution (mean and spread) or resampled from the times recorded in a journal;
 * the model is either a cheap deterministic function of the parameters (model=synthetic) or
 * the real model run once per run in a work folder (model=real; the outputs are then those of
 * a real calibration). Faults come from the seed: workers lost mid-run, Spot reclaims with a
 * two-minute notice, duplicated and late results (SQS's at-least-once delivery, which also
 * reorders them), slow workers, model failures on a first attempt, and a kill -9 of the
 * master at a chosen virtual time (then `--resume`). Every draw is a hash of the seed and of
 * what it is about (the run's key, the worker), so the same seed gives the same event trace. */
#ifndef PR_SIM_H
#define PR_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "model/runner.h"
#include "pest/pst.h"
#include "sched/transport.h"

struct sim_opts {
    size_t workers;        /* workers=N (default 100) */
    double mean_s, sd_s;   /* mean=S, sd=S: lognormal run times (default 60 and 15) */
    uint64_t seed;         /* seed=N */
    int real_model;        /* model=real|synthetic (default synthetic) */
    double p_lost;         /* lost=P: a worker dies during a run (per run) */
    double p_reclaim;      /* reclaim=P: a Spot notice during a run (per run); 120 s to go */
    double p_dup;          /* dup=P: a result delivered twice */
    double p_late;         /* late=P: a result delivered up to late_s late */
    double late_s;         /* late_s=S (default 10) */
    double p_fail;         /* fail=P: a first attempt fails (a retry succeeds) */
    double slow_frac;      /* slow=F: this fraction of workers ... */
    double slow_factor;    /* slow_factor=X: ... runs X times slower (default 4) */
    double rejoin_s;       /* rejoin=S: a lost worker is replaced after S s (default 90) */
    double ramp_s;         /* ramp=S: workers come up over the first S s (default 0) */
    double kill_at_s;      /* kill=S: the master is killed (SIGKILL) at virtual time S */
    const char *times_from; /* times=JOURNAL: resample the run times recorded there */
    const char *trace;      /* trace=FILE: every event, one line each */
};

/* The default options, then "key=value,key=value,..." on top ("faults" sets the standard
 * fault mix). 0, or -1 with err naming the bad item. */
void sim_opts_init(struct sim_opts *o);
int sim_parse_spec(struct sim_opts *o, const char *spec, struct pr_error *err);

/* A simulated transport for case c. ropts is used by model=real (its work folder is a copy
 * of the case folder under workroot, or under $TMPDIR). 0 with *tr set, or -1 with err. */
int sim_create(const struct pst_case *c, const struct sim_opts *o, const struct runner_opts *ropts,
               const char *workroot, struct transport *tr, struct pr_error *err);

/* The virtual clock in seconds (for the scheduler's config.now). */
double sim_now(const struct transport *tr);

struct sim_stats {
    double virtual_s;    /* virtual time now */
    double useful_s;     /* run time of the first good result of each run */
    double worker_s;     /* worker time on offer: sum over workers of the time they were up */
    double busy_s;       /* worker time spent running models, wasted copies included */
    size_t submits, results, duplicates_sent, late_sent, lost, reclaims, fails, cancels;
};
void sim_stats(const struct transport *tr, struct sim_stats *out);
/* One line: "sim: ..." with the figures above and this process's CPU time and peak memory. */
void sim_describe(const struct transport *tr, char *buf, size_t len);

#endif
