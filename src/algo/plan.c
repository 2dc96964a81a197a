#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algo/glm.h"
#include "algo/ies.h"
#include "sched/journal.h"
#include "sched/sched.h"
#include "transport/local/local.h"
#include "transport/sim/sim.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

static void add_batch(struct plan_work *w, size_t runs, const char *what, int iter)
{
    if (runs == 0) return;
    w->runs = xrealloc(w->runs, (w->nbatches + 1) * sizeof(size_t));
    w->what = xrealloc(w->what, (w->nbatches + 1) * sizeof(char *));
    w->iteration = xrealloc(w->iteration, (w->nbatches + 1) * sizeof(int));
    w->runs[w->nbatches] = runs;
    w->what[w->nbatches] = what;
    w->iteration[w->nbatches] = iter;
    w->nbatches++;
    w->total_runs += runs;
}

int plan_work_for(const struct pst_case *c, const char *method, size_t sweep_rows,
                  int iterations, struct plan_work *w, struct pr_error *err)
{
    memset(w, 0, sizeof(*w));
    int reals = 0, noptmax = pst_control(c)->noptmax;
    if (pst_opt_int(c, "ies_num_reals", 0, &reals, err) < 0) return -1;
    if (!method) method = pst_opt_str(c, "ies_num_reals", NULL) ? "ies" : "glm";
    int iters = iterations > 0 ? iterations : noptmax > 0 ? noptmax : 1;
    if (strcmp(method, "sweep") == 0) {
        w->method = "sweep";
        w->iterations = 1;
        add_batch(w, sweep_rows, "sweep rows", 1);
        return 0;
    }
    if (strcmp(method, "ies") == 0) {
        if (reals <= 0) reals = 50;
        size_t subset, tests;
        if (ies_lambda_tests(c, (size_t)reals, &subset, &tests, err) < 0) return -1;
        w->method = "ies";
        w->iterations = iters;
        add_batch(w, (size_t)reals, "prior ensemble", 0);
        for (int i = 1; i <= iters; i++) {
            add_batch(w, tests, "lambda tests on a subset", i);
            add_batch(w, (size_t)reals - subset, "rest of the ensemble", i);
        }
        return 0;
    }
    if (strcmp(method, "glm") != 0)
        return pr_error_set(err, "--method %s: expected glm, ies or sweep", method);
    size_t nadj = 0;
    for (size_t i = 0; i < pst_nparams(c); i++) {
        const struct pst_param *p = pst_param(c, i);
        if (p->trans == PST_TRANS_FIXED || p->trans == PST_TRANS_TIED) continue;
        nadj += pst_pargp(c, (size_t)p->group)->forcen == PST_FORCEN_ALWAYS_3 ? 2 : 1;
    }
    size_t tests, super_tests;
    if (glm_lambda_tests(c, &tests, &super_tests, err) < 0) return -1;
    int n_super = 0, n_base = 1000000, max_super = 1000000;
    if (pst_opt_int(c, "n_iter_super", 0, &n_super, err) < 0 ||
        pst_opt_int(c, "n_iter_base", 1000000, &n_base, err) < 0 ||
        pst_opt_int(c, "max_n_super", 1000000, &max_super, err) < 0)
        return -1;
    size_t nnz = 0;
    for (size_t i = 0; i < pst_nobs(c); i++)
        nnz += pst_obs(c, i)->weight > 0;
    size_t k = (size_t)max_super < nadj ? (size_t)max_super : nadj;
    if (k > nnz && nnz > 0) k = nnz;
    w->method = n_super > 0 ? "glm with SVD-assist" : "glm";
    w->iterations = iters;
    /* the initial run goes in the first Jacobian's batch, as glm runs it */
    size_t first = 1;
    int it = 0;
    while (it < iters) {
        int nb = n_super > 0 ? (n_base < 0 ? 0 : n_base) : iters;
        for (int b = 0; b < nb && it < iters; b++) {
            it++;
            add_batch(w, nadj + first, first ? "initial run and Jacobian" : "Jacobian", it);
            add_batch(w, tests, "lambda tests", it);
            first = 0;
        }
        if (n_super <= 0) break;
        if (nb == 0) {
            add_batch(w, nadj + first, first ? "initial run and base Jacobian" : "base Jacobian", it + 1);
            first = 0;
        }
        for (int s = 0; s < n_super && it < iters; s++) {
            it++;
            if (s > 0) add_batch(w, k, "super-parameter Jacobian", it);
            add_batch(w, super_tests, "super-parameter lambda tests", it);
        }
    }
    return 0;
}

void plan_work_free(struct plan_work *w)
{
    free(w->runs);
    free(w->what);
    free(w->iteration);
    memset(w, 0, sizeof(*w));
}

static double sim_clock(void *ctx)
{
    return sim_now(ctx);
}

static void ignore(void *ctx, size_t index, const struct run_result *res, int from_journal)
{
    (void)ctx;
    (void)index;
    (void)res;
    (void)from_journal;
}

/* A scheduler over simulated transport tr (virtual clock), no journal, as the engine sets
 * the overdue rules. */
static struct sched *sim_sched(const struct pst_case *c, struct transport *tr)
{
    struct sched_config cfg;
    sched_config_defaults(&cfg);
    cfg.now = sim_clock;
    cfg.ctx = tr;
    return sched_create(*tr, &cfg, NULL, pst_nparams(c), pst_nobs(c));
}

double plan_batch_seconds(const struct pst_case *c, size_t n, size_t workers, double mean_s,
                          double sd_s, const char *times_journal, double *eff,
                          struct pr_error *err)
{
    struct sim_opts so;
    struct transport tr;
    struct runner_opts ro;
    sim_opts_init(&so);
    memset(&ro, 0, sizeof(ro));
    so.workers = workers;
    so.mean_s = mean_s;
    so.sd_s = sd_s;
    so.times_from = times_journal;
    so.seed = 42;
    if (sim_create(c, &so, &ro, NULL, &tr, err) < 0) return -1;
    struct sched *s = sim_sched(c, &tr);
    size_t np = pst_nparams(c);
    double *values = xcalloc(n * np + 1, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < np; j++)
            values[i * np + j] = pst_param(c, j)->parval1 + (double)i;
    double wall = -1;
    if (sched_run_batch(s, n, values, NULL, ignore, NULL, err) == 0) {
        struct sim_stats st;
        sim_stats(&tr, &st);
        wall = st.virtual_s;
        *eff = st.worker_s > 0 ? st.useful_s / st.worker_s : 0;
    }
    free(values);
    sched_destroy(s);
    tr.ops->destroy(tr.impl);
    return wall;
}

int plan_master_seconds(const char *pst_path, const char *method, int iterations,
                        double *per_iter, struct pr_error *err)
{
    *per_iter = 0;
    if (method && strcmp(method, "sweep") == 0) return 0;
    struct pst_case *c = pst_load(pst_path, err);
    if (!c) return -1;
    if (!method) method = pst_opt_str(c, "ies_num_reals", NULL) ? "ies" : "glm";
    int n = iterations < 1 ? 1 : iterations > 6 ? 6 : iterations, rc = -1;
    pst_set_noptmax(c, n);
    char dir[] = "/tmp/pestrun-plan-XXXXXX";
    if (!mkdtemp(dir)) {
        pst_destroy(c);
        return pr_error_set(err, "cannot create a folder for the master's timing in /tmp");
    }
    const char *base = strrchr(pst_path, '/');
    char *out = pr_path_join(dir, base ? base + 1 : pst_path);
    struct sim_opts so;
    struct transport tr;
    struct runner_opts ro;
    sim_opts_init(&so);
    memset(&ro, 0, sizeof(ro));
    so.workers = 1000; /* the virtual clock is not what is timed: only the master is real */
    so.mean_s = 1;
    so.sd_s = 0;
    so.seed = 42;
    if (sim_create(c, &so, &ro, NULL, &tr, err) < 0) goto done;
    struct sched *s = sim_sched(c, &tr);
    double t0 = pr_now_s();
    int done_iters = 0, r;
    if (strcmp(method, "ies") == 0) {
        struct ies_summary sum;
        r = ies_run(c, out, s, &sum, err);
        done_iters = sum.iterations;
    } else {
        struct glm_summary sum;
        r = glm_run(c, out, s, 0, &sum, err);
        done_iters = sum.iterations;
    }
    double wall = pr_now_s() - t0;
    sched_destroy(s);
    tr.ops->destroy(tr.impl);
    if (r < 0) goto done;
    *per_iter = wall / (done_iters > 0 ? done_iters : 1);
    rc = 0;
done:
    {
        struct pr_error e2;
        pr_remove_tree(dir, &e2);
    }
    free(out);
    pst_destroy(c);
    return rc;
}

void plan_mean_sd(const double *t, size_t n, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += t[i];
        s2 += t[i] * t[i];
    }
    *mean = n ? s / (double)n : 0;
    *sd = n > 1 ? sqrt(fmax(0, (s2 - s * s / (double)n) / (double)(n - 1))) : 0;
}

struct measure_ctx {
    double *t; /* each run's own time (seconds, as the worker timed it) */
    size_t n;
    int failed;
    char reason[256];
};

static void timed(void *ctx, size_t index, const struct run_result *res, int from_journal)
{
    struct measure_ctx *m = ctx;
    (void)index;
    (void)from_journal;
    if (res->status != RUN_OK && !m->failed) {
        m->failed = 1;
        snprintf(m->reason, sizeof(m->reason), "%s", res->reason ? res->reason : "the run failed");
    }
    m->t[m->n++] = res->seconds;
}

/* What is timed: rows of model-space values, taken in turn, each run a hair apart from the
 * others (1e-12 relative, far below what a template writes) so that the journal runs every
 * one. */
struct measure_rows {
    const double *v;
    size_t n, np, serial;
};

/* One batch of n runs; its wall time. */
static double measure_batch(struct sched *s, struct measure_rows *mr, size_t n,
                            struct measure_ctx *m, int *rc, struct pr_error *err)
{
    double *values = xcalloc(n * mr->np + 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const double *row = mr->v + (mr->serial % mr->n) * mr->np;
        double f = 1 + 1e-12 * (double)++mr->serial;
        for (size_t j = 0; j < mr->np; j++) values[i * mr->np + j] = row[j] * f;
    }
    m->n = 0;
    double t0 = pr_now_s();
    *rc = sched_run_batch(s, n, values, NULL, timed, m, err);
    double wall = pr_now_s() - t0;
    free(values);
    if (*rc == 0 && m->failed) *rc = pr_error_set(err, "%s", m->reason);
    return wall;
}

int plan_measure(const struct pst_case *c, int n, int workers, const double *rows,
                 size_t nrows, struct plan_timing *out, struct pr_error *err)
{
    struct local_opts lo;
    struct transport tr;
    char jpath[] = "/tmp/pestrun-plan-XXXXXX";
    memset(out, 0, sizeof(*out));
    memset(&lo, 0, sizeof(lo));
    lo.nworkers = workers;
    lo.pin = 1; /* as the engine does by default */
    lo.ropts.exec = RUNNER_SHELL;
    lo.ropts.log_name = RUNNER_LOG_NAME; /* the model's output goes where a real run sends it */
    int fd = mkstemp(jpath);
    if (fd < 0) return pr_error_set(err, "cannot create a journal for the timing in /tmp");
    close(fd);
    size_t np = pst_nparams(c), no = pst_nobs(c);
    struct journal *j = journal_open(jpath, journal_case_id_names(pst_param_names(c), pst_obs_names(c)),
                                     np, no, 0, err);
    if (!j) {
        unlink(jpath);
        return -1;
    }
    double t0 = pr_now_s();
    if (local_create(c, &lo, &tr, err) < 0) {
        journal_close(j);
        unlink(jpath);
        return -1;
    }
    size_t k = (size_t)local_nworkers(&tr);
    double *initial = NULL;
    if (!rows || nrows == 0) {
        double *ctl = xcalloc(np + 1, sizeof(double));
        initial = xcalloc(np + 1, sizeof(double));
        pst_initial_values(c, ctl);
        pst_ctl_to_model(c, ctl, initial);
        free(ctl);
        rows = initial;
        nrows = 1;
    }
    struct measure_rows mr = {rows, nrows, np, 0};
    /* the scheduler as the engine configures it (src/cli/engine.c): journal, group commit */
    struct sched_config cfg;
    sched_config_defaults(&cfg);
    cfg.max_run_fail = 1;
    cfg.overdue_min_mean_s = 1e30; /* no copies: the runs are all alike */
    cfg.sync_group_s = 0.05;
    struct sched *s = sched_create(tr, &cfg, j, np, no);
    struct measure_ctx m = {0};
    size_t cap = 4000 + (size_t)n * k;
    m.t = xcalloc(cap + 1, sizeof(double));
    int rc = 0;
    /* a first wave waits for the workers to come up */
    measure_batch(s, &mr, k, &m, &rc, err);
    double up = pr_now_s();
    if (rc == 0) {
        /* n runs a worker; then, for a fast model, at least a second of runs (less is noise) */
        size_t waves = (size_t)n;
        double wall = measure_batch(s, &mr, waves * k, &m, &rc, err);
        if (rc == 0 && wall < 1.0) {
            double per = wall > 0 ? wall / (double)waves : 1e-4;
            waves = (size_t)ceil(1.0 / per);
            if (waves * k > cap - 1) waves = (cap - 1) / k;
            if (waves < 1) waves = 1;
            wall = measure_batch(s, &mr, waves * k, &m, &rc, err);
        }
        if (rc == 0 && m.n > 0) {
            /* runs at the same values take the same time: each worker ran `waves` in a row */
            out->mean_s = wall / (double)waves;
            double mw, sdw;
            plan_mean_sd(m.t, m.n, &mw, &sdw);
            out->sd_s = mw > 0 ? sdw * out->mean_s / mw : 0.1 * out->mean_s;
            out->runs = m.n;
        }
        /* what a batch costs beyond its runs (dispatch, the journal's sync, the report):
         * one-wave batches against the time of one wave within a long batch */
        if (rc == 0 && out->mean_s < 1) {
            double extra = 0;
            int nb = 5;
            for (int b = 0; b < nb && rc == 0; b++)
                extra += measure_batch(s, &mr, k, &m, &rc, err) - out->mean_s;
            out->batch_s = fmax(0, extra / nb);
        }
    }
    sched_destroy(s);
    double t_stop = pr_now_s();
    tr.ops->destroy(tr.impl);
    double stop = pr_now_s() - t_stop;
    journal_close(j);
    unlink(jpath);
    if (rc == 0 && out->runs == 0) rc = pr_error_set(err, "no run was timed");
    if (rc == 0) {
        out->workers = (int)k;
        /* start-up: from the start to the first wave's end, less one run; plus the stop */
        out->startup_s = fmax(0, up - t0 - out->mean_s) + stop;
    }
    free(m.t);
    free(initial);
    return rc < 0 || rc == 1 ? -1 : 0;
}
