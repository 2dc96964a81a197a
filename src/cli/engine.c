#include "engine.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sched/journal.h"
#include "transport/local/local.h"
#include "transport/sim/sim.h"
#include "transport/sqs/master.h"
#ifdef PESTRUN_HAVE_MPI
#include "transport/mpi/mpi.h"
#endif
#include "util/clock.h"
#include "util/strbuf.h"
#include "util/text.h"

/* Set by the signal handlers: the one piece of process-wide state, as signals require. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

struct engine {
    const struct pst_case *c;
    struct engine_opts o;
    struct transport tr;
    int have_tr;
    struct journal *journal;
    struct sched *sched;
    int inotify_fd;
    const char *stopped_by;
    int tty;
    int line_open;
    int nworkers;
    const char *workroot; /* for the start line */
    int sim;              /* the transport is the simulation: its clock is virtual */
    char case_name[256];  /* the control file's name without folder and .pst (metrics) */
    struct sigaction old_int, old_term;
};

const char engine_case_title[] = "the case:";
const char engine_workers_title[] = "workers and model runs:";
const char engine_progress_title[] = "progress:";
const char engine_journal_title[] = "run journal:";
const char engine_sqs_title[] =
    "SQS/S3 transport (only with --transport sqs, which needs the first three; credentials and "
    "region from the standard AWS chain, endpoints from AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS "
    "and AWS_ENDPOINT_URL_S3):";

const struct cli_option engine_case_options[] = {
    {"forgive-unimplemented", ENGINE_OPT_FORGIVE, NULL,
     "go on, with a warning, when the case sets an option that changes the result and that "
     "pestrun does not implement (without it the command stops with status 2 before any model "
     "run)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_option engine_worker_options[] = {
    {"workers", 'j', "N", "worker processes (default: one per core this process may use)"},
    {"no-pin", ENGINE_OPT_NO_PIN, NULL, "do not bind each worker and its model to its own core"},
    {"workdir", ENGINE_OPT_WORKDIR, "DIR",
     "put the workers' copies of the model folder under DIR (default: a new folder under "
     "$TMPDIR or /tmp)"},
    {"keep-workdirs", ENGINE_OPT_KEEP_WORKDIRS, NULL, "keep the workers' folders at the end"},
    {"timeout", ENGINE_OPT_TIMEOUT, "SEC",
     "kill a model run (its whole process group) after SEC seconds; it counts as a failed run "
     "and is retried"},
    {"exec", ENGINE_OPT_EXEC, NULL, "run model commands as PEST++ does on Linux (no shell)"},
    {"dry", ENGINE_OPT_DRY, NULL,
     "do not run the model: each run returns the observed values at once (measures the run "
     "engine itself)"},
    {"transport", ENGINE_OPT_TRANSPORT, "T",
     "local (worker processes on this machine), mpi (rank 0 is the master, the other ranks are "
     "workers), sqs (runs go through Amazon SQS to `pestrun agent`s, the model folder through "
     "S3) or sim (simulated workers on a virtual clock, see --sim); default: mpi when started "
     "by mpirun or srun with more than one rank, else local"},
    {"sim", ENGINE_OPT_SIM, "SPEC",
     "with --transport sim: comma-separated items workers=N (100), mean=S and sd=S (lognormal "
     "run times, 60 and 15 s), times=JOURNAL (resample a journal's run times instead), "
     "seed=N, model=synthetic|real, faults (the standard mix) or lost=P, reclaim=P, dup=P, "
     "late=P, late_s=S, fail=P, slow=F, slow_factor=X, rejoin=S, ramp=S, kill=S (SIGKILL the "
     "master at virtual time S), trace=FILE"},
    {"backup-copies", ENGINE_OPT_BACKUP, NULL,
     "at the end of each batch, when workers are idle, give each run still going one backup "
     "copy (the first result wins): shorter batches on many workers, more model runs in all"},
    {"worker-silence", ENGINE_OPT_WORKER_SILENCE, "SEC",
     "MPI only: a worker rank silent for SEC seconds is lost and its run is given to another "
     "(default 60)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_option engine_progress_options[] = {
    {"quiet", 'q', NULL, "no progress lines, no summary"},
    {"log-format", ENGINE_OPT_LOG_FORMAT, "F",
     "text (default) or json: one JSON object a line on stderr"},
    {NULL, 0, NULL, NULL},
};

const struct cli_option engine_journal_options[] = {
    {"resume", ENGINE_OPT_RESUME, NULL, "reuse the runs in the journal: none is run again"},
    {"journal", ENGINE_OPT_JOURNAL, "FILE",
     "the run journal (default: CASE.journal beside the control file)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_option engine_sqs_options[] = {
    {"queue-url", ENGINE_OPT_QUEUE_URL, "URL", "the task queue (give it a dead-letter queue)"},
    {"result-queue-url", ENGINE_OPT_RESULT_QUEUE_URL, "URL", "the result queue (one per master)"},
    {"bucket", ENGINE_OPT_BUCKET, "NAME", "the bucket for the model bundle and large payloads"},
    {"prefix", ENGINE_OPT_PREFIX, "P", "key prefix in the bucket (default pestrun)"},
    {"kms-key-id", ENGINE_OPT_KMS_KEY_ID, "K", "SSE-KMS with this key for what the master stores"},
    {"max-inflight", ENGINE_OPT_MAX_INFLIGHT, "N",
     "runs out at once (default: the slots of the registered agents)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_group engine_command_groups[] = {
    {engine_case_title, engine_case_options},
    {engine_workers_title, engine_worker_options},
    {engine_progress_title, engine_progress_options},
    {engine_journal_title, engine_journal_options},
    {engine_sqs_title, engine_sqs_options},
    {NULL, NULL},
};

void engine_opts_init(struct engine_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->pin = 1;
    o->default_max_run_fail = 3;
    o->default_overdue_giveup_fac = 100.0;
    o->ropts.exec = RUNNER_SHELL;
    o->ropts.log_name = RUNNER_LOG_NAME;
}

int engine_parse_opt(struct engine_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case 'j':
        if (pr_parse_int(arg, &o->nworkers) < 0 || o->nworkers < 1) {
            cli_error("-j: expected a number of workers, got '%s'", arg);
            return -1;
        }
        return 1;
    case ENGINE_OPT_NO_PIN:
        o->pin = 0;
        return 1;
    case ENGINE_OPT_WORKDIR:
        o->workroot = arg;
        return 1;
    case ENGINE_OPT_KEEP_WORKDIRS:
        o->keep_workdirs = 1;
        return 1;
    case ENGINE_OPT_TIMEOUT:
        if (pr_parse_double(arg, &o->ropts.timeout_s, 1) < 0 || o->ropts.timeout_s <= 0) {
            cli_error("--timeout: expected a number of seconds, got '%s'", arg);
            return -1;
        }
        return 1;
    case ENGINE_OPT_EXEC:
        o->ropts.exec = RUNNER_EXEC;
        return 1;
    case ENGINE_OPT_RESUME:
        o->resume = 1;
        return 1;
    case ENGINE_OPT_JOURNAL:
        o->journal_path = arg;
        return 1;
    case 'q':
        o->quiet = 1;
        return 1;
    case ENGINE_OPT_LOG_FORMAT:
        if (strcmp(arg, "json") == 0)
            o->json = 1;
        else if (strcmp(arg, "text") == 0)
            o->json = 0;
        else {
            cli_error("--log-format: expected text or json, got '%s'", arg);
            return -1;
        }
        return 1;
    case ENGINE_OPT_TRANSPORT:
        if (strcmp(arg, "local") == 0)
            o->transport = ENGINE_TR_LOCAL;
        else if (strcmp(arg, "mpi") == 0)
            o->transport = ENGINE_TR_MPI;
        else if (strcmp(arg, "sqs") == 0)
            o->transport = ENGINE_TR_SQS;
        else if (strcmp(arg, "sim") == 0)
            o->transport = ENGINE_TR_SIM;
        else {
            cli_error("--transport: expected local, mpi, sqs or sim, got '%s'", arg);
            return -1;
        }
        return 1;
    case ENGINE_OPT_DRY:
        o->ropts.dry = 1;
        return 1;
    case ENGINE_OPT_WORKER_SILENCE:
        if (pr_parse_double(arg, &o->worker_silence_s, 1) < 0 || o->worker_silence_s <= 0) {
            cli_error("--worker-silence: expected a number of seconds, got '%s'", arg);
            return -1;
        }
        return 1;
    case ENGINE_OPT_QUEUE_URL:
        o->queue_url = arg;
        return 1;
    case ENGINE_OPT_RESULT_QUEUE_URL:
        o->result_queue_url = arg;
        return 1;
    case ENGINE_OPT_BUCKET:
        o->bucket = arg;
        return 1;
    case ENGINE_OPT_PREFIX:
        o->prefix = arg;
        return 1;
    case ENGINE_OPT_KMS_KEY_ID:
        o->kms_key_id = arg;
        return 1;
    case ENGINE_OPT_MAX_INFLIGHT:
        if (pr_parse_int(arg, &o->max_inflight) < 0 || o->max_inflight < 1) {
            cli_error("--max-inflight: expected a number of runs, got '%s'", arg);
            return -1;
        }
        return 1;
    case ENGINE_OPT_FORGIVE:
        o->forgive_unimplemented = 1;
        return 1;
    case ENGINE_OPT_BACKUP:
        o->backup_copies = 1;
        return 1;
    case ENGINE_OPT_SIM: {
        struct sim_opts so;
        struct pr_error e = {{0}};
        sim_opts_init(&so);
        if (sim_parse_spec(&so, arg, &e) < 0) {
            cli_error("%s", e.msg);
            return -1;
        }
        o->sim_spec = arg;
        return 1;
    }
    default:
        return 0;
    }
}

int engine_check_opts(const struct engine_opts *o, const char *cmd)
{
    int sqs_given = o->queue_url || o->result_queue_url || o->bucket || o->prefix ||
                    o->kms_key_id || o->max_inflight > 0;
    if (o->transport != ENGINE_TR_SQS && sqs_given) {
        fprintf(stderr,
                "pestrun %s: --queue-url, --result-queue-url, --bucket, --prefix, --kms-key-id "
                "and --max-inflight go with --transport sqs\n",
                cmd);
        return -1;
    }
    if (o->transport == ENGINE_TR_SQS && (!o->queue_url || !o->result_queue_url || !o->bucket)) {
        fprintf(stderr,
                "pestrun %s: --transport sqs needs --queue-url, --result-queue-url and --bucket\n",
                cmd);
        return -1;
    }
    if (o->sim_spec && o->transport != ENGINE_TR_SIM) {
        fprintf(stderr, "pestrun %s: --sim goes with --transport sim\n", cmd);
        return -1;
    }
#ifndef PESTRUN_HAVE_MPI
    if (o->transport == ENGINE_TR_MPI) {
        fprintf(stderr, "pestrun %s: --transport mpi: this pestrun was built without MPI\n", cmd);
        return -1;
    }
#endif
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* progress                                                                                   */

static void fmt_duration(char *buf, size_t n, double s)
{
    if (s < 0)
        snprintf(buf, n, "?");
    else if (s < 120)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 7200)
        snprintf(buf, n, "%.0fm%02.0fs", s / 60 - 0.5 < 0 ? 0 : (double)(long)(s / 60),
                 s - 60 * (double)(long)(s / 60));
    else
        snprintf(buf, n, "%.1fh", s / 3600);
}

/* The embedded-metric-format header of a JSON line: "_aws":{...},"Case":"NAME", */
static void emf_head(struct strbuf *sb, const struct engine *e, double phi)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sb_printf(sb,
              "\"_aws\":{\"Timestamp\":%lld,\"CloudWatchMetrics\":[{\"Namespace\":\"pestrun\","
              "\"Dimensions\":[[\"Case\"],[]],\"Metrics\":["
              "{\"Name\":\"RunsDone\",\"Unit\":\"Count\"},{\"Name\":\"RunsFailed\",\"Unit\":\"Count\"},"
              "{\"Name\":\"RunsInFlight\",\"Unit\":\"Count\"},{\"Name\":\"WorkersAlive\",\"Unit\":\"Count\"},"
              "{\"Name\":\"WorkersBusy\",\"Unit\":\"Count\"},{\"Name\":\"WorkersLost\",\"Unit\":\"Count\"},"
              "{\"Name\":\"MeanRunSeconds\",\"Unit\":\"Seconds\"}%s]}]},\"Case\":\"",
              (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
              isfinite(phi) ? ",{\"Name\":\"Phi\",\"Unit\":\"None\"}" : "");
    for (const char *p = e->case_name; *p; p++) /* a file name: escape what JSON needs */
        if (*p == '"' || *p == '\\')
            sb_printf(sb, "\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            sb_printf(sb, "%c", *p);
    sb_printf(sb, "\",");
    if (isfinite(phi)) sb_printf(sb, "\"Phi\":%.10g,", phi);
}

static void progress(void *ctx, const struct sched_stats_view *v)
{
    struct engine *e = ctx;
    if (e->o.quiet) return;
    if (e->o.json) {
        /* one JSON object a line, in CloudWatch's embedded metric format: shipped to
         * CloudWatch Logs as they are, they become metrics with no API call (namespace
         * pestrun, dimension Case) */
        struct strbuf emf = {0};
        emf_head(&emf, e, v->phi);
        fprintf(stderr,
                "{%s\"event\":\"progress\",\"elapsed_s\":%.3f,\"done\":%zu,\"failed\":%zu,"
                "\"running\":%zu,\"total\":%zu,\"workers\":%zu,\"busy\":%zu,"
                "\"mean_run_s\":%.4f,\"eta_s\":%.1f,\"RunsDone\":%zu,\"RunsFailed\":%zu,"
                "\"RunsInFlight\":%zu,\"WorkersAlive\":%zu,\"WorkersBusy\":%zu,"
                "\"WorkersLost\":%zu,\"MeanRunSeconds\":%.4f}\n",
                emf.data, v->elapsed_s, v->batch_done, v->batch_failed, v->batch_running,
                v->batch_total, v->workers_alive, v->workers_busy, v->mean_run_s, v->eta_s,
                v->runs_done, v->runs_failed, v->batch_running, v->workers_alive, v->workers_busy,
                v->workers_lost, v->mean_run_s);
        sb_free(&emf);
        return;
    }
    char eta[32];
    fmt_duration(eta, sizeof(eta), v->eta_s);
    fprintf(stderr,
            "%sdone %zu  failed %zu  running %zu  of %zu | workers %zu/%zu busy | mean run "
            "%.3fs | eta %s%s",
            e->tty ? "\r\033[K" : "", v->batch_done, v->batch_failed, v->batch_running,
            v->batch_total, v->workers_busy, v->workers_alive, v->mean_run_s, eta,
            e->tty ? "" : "\n");
    e->line_open = e->tty;
}

/* ------------------------------------------------------------------------------------------ */
/* stopping                                                                                   */

/* pest.stp in the working directory: first token 1 or 2 stops (SPEC §4.5). */
static int read_stop_file(void)
{
    FILE *f = fopen("pest.stp", "r");
    int v = 0;
    if (!f) return 0;
    if (fscanf(f, "%d", &v) != 1) v = 1; /* an empty or unreadable pest.stp still means stop */
    fclose(f);
    return v == 1 || v == 2 || v == 4;
}

static int on_inotify(void *ctx)
{
    struct engine *e = ctx;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;
    for (;;) {
        ssize_t n = read(e->inotify_fd, buf, sizeof(buf));
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)(void *)p;
            if (ev->len && strcmp(ev->name, "pest.stp") == 0) hit = 1;
            p += sizeof(*ev) + ev->len;
        }
    }
    if (hit && read_stop_file()) {
        e->stopped_by = "pest.stp";
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

/* The scheduler's clock: the simulation's virtual one under --transport sim. */
static double engine_now(void *ctx)
{
    struct engine *e = ctx;
    return e->sim && e->have_tr ? sim_now(&e->tr) : pr_now_s();
}

static int case_max_run_fail(const struct pst_case *c, int dflt, struct pr_error *err)
{
    int v;
    if (pst_opt_int(c, "max_run_fail", dflt, &v, err) < 0) return -1;
    if (pst_control(c)->noptmax == 0) v = 1; /* PEST++: NOPTMAX = 0 allows one attempt per run */
    return v < 1 ? 1 : v;
}

/* Choose the transport: MPI when forced, or when launched by mpirun/srun with more than one
 * rank and not forbidden. On a worker rank mpi_start never returns. 0 (e->have_tr set when
 * MPI is used) or -1 with err set. */
static int start_mpi(struct engine *e, struct pr_error *err)
{
    const struct engine_opts *o = &e->o;
#ifdef PESTRUN_HAVE_MPI
    if (o->transport == ENGINE_TR_LOCAL || o->transport == ENGINE_TR_SQS ||
        o->transport == ENGINE_TR_SIM ||
        (o->transport == ENGINE_TR_AUTO && !mpi_launched()))
        return 0;
    struct mpi_opts mo;
    memset(&mo, 0, sizeof(mo));
    mo.pin = o->pin;
    mo.workroot = o->workroot;
    mo.keep_workdirs = o->keep_workdirs;
    mo.lost_after_s = o->worker_silence_s;
    mo.ropts = o->ropts;
    if (mpi_start(e->c, &mo, &e->tr, err) < 0) return -1;
    e->have_tr = 1;
    e->nworkers = mpi_nworkers(&e->tr);
    e->workroot = mpi_workroot(&e->tr);
    return 0;
#else
    if (o->transport == ENGINE_TR_MPI)
        return pr_error_set(err, "--transport mpi: this pestrun was built without MPI");
    return 0;
#endif
}

struct engine *engine_start(const struct pst_case *c, const char *pst_path,
                            const struct engine_opts *o, struct pr_error *err)
{
    struct engine *e = xcalloc(1, sizeof(*e));
    struct sched_config cfg;
    struct local_opts lo;
    char *journal_path = NULL;

    e->c = c;
    e->o = *o;
    const char *base = strrchr(pst_path, '/');
    snprintf(e->case_name, sizeof(e->case_name), "%s", base ? base + 1 : pst_path);
    char *dot = strrchr(e->case_name, '.');
    if (dot && pr_strieq(dot, ".pst")) *dot = '\0';
    e->inotify_fd = -1;
    e->tty = isatty(2);
    /* MPI first: worker ranks leave here for good, before the journal or any output */
    if (start_mpi(e, err) < 0) goto error;
    if (access("pest.stp", F_OK) == 0) {
        pr_error_set(err, "pest.stp exists in this folder: remove it to start (it asks pestrun "
                          "to stop)");
        goto error;
    }
    sched_config_defaults(&cfg);
    cfg.max_run_fail = case_max_run_fail(c, o->default_max_run_fail, err);
    if (cfg.max_run_fail < 0 ||
        pst_opt_double(c, "overdue_resched_fac", 1.15, &cfg.overdue_resched_fac, err) < 0 ||
        pst_opt_double(c, "overdue_giveup_fac", o->default_overdue_giveup_fac,
                       &cfg.overdue_giveup_fac, err) < 0 ||
        pst_opt_double(c, "overdue_giveup_minutes", 1e30, &cfg.overdue_giveup_minutes, err) < 0)
        goto error;
    cfg.sync_group_s = 0.05;      /* at most 20 journal syncs a second */
    cfg.backup_copies = o->backup_copies;

    size_t np = pst_nparams(c), no = pst_nobs(c);
    journal_path =
        o->journal_path ? xstrdup(o->journal_path) : cli_case_output(pst_path, "journal");
    if (!o->no_journal) {
        e->journal =
            journal_open(journal_path, journal_case_id_names(pst_param_names(c), pst_obs_names(c)),
                         np, no, o->resume, err);
        if (!e->journal) goto error;
    }
    if (!e->journal) {
        /* nothing to report */
    } else if (o->resume && !o->quiet && !o->json)
        fprintf(stderr, "resuming: %zu completed runs in %s\n", journal_count_ok(e->journal),
                journal_path);
    if (e->journal && journal_truncated(e->journal) && !o->quiet)
        fprintf(stderr, "pestrun: %zu torn or damaged records were cut off the end of %s\n",
                journal_truncated(e->journal), journal_path);

    if (!e->have_tr && o->transport == ENGINE_TR_SQS) {
        struct sqs_opts so;
        memset(&so, 0, sizeof(so));
        so.queue_url = o->queue_url;
        so.result_queue_url = o->result_queue_url;
        so.bucket = o->bucket;
        so.prefix = o->prefix;
        so.kms_key_id = o->kms_key_id;
        so.sse_kms = o->kms_key_id != NULL;
        so.max_inflight = o->max_inflight;
        so.ropts = o->ropts;
        so.journal_path = journal_path;
        so.quiet = o->quiet || o->json;
        if (sqs_master_create(c, &so, &e->tr, err) < 0) goto error;
        e->have_tr = 1;
        e->nworkers = sqs_master_nworkers(&e->tr);
        e->workroot = sqs_master_describe(&e->tr);
    } else if (o->transport != ENGINE_TR_SQS &&
               (o->queue_url || o->result_queue_url || o->bucket)) {
        pr_error_set(err, "--queue-url, --result-queue-url and --bucket go with --transport sqs");
        goto error;
    }
    if (!e->have_tr && o->transport == ENGINE_TR_SIM) {
        struct sim_opts so;
        sim_opts_init(&so);
        if (sim_parse_spec(&so, o->sim_spec, err) < 0 ||
            sim_create(c, &so, &o->ropts, o->workroot, &e->tr, err) < 0)
            goto error;
        e->have_tr = 1;
        e->sim = 1;
        e->nworkers = (int)so.workers;
        e->workroot = "a virtual clock";
        cfg.now = engine_now;
    }
    if (!e->have_tr) {
        memset(&lo, 0, sizeof(lo));
        lo.nworkers = o->nworkers;
        lo.pin = o->pin;
        lo.workroot = o->workroot;
        lo.keep_workdirs = o->keep_workdirs;
        lo.ropts = o->ropts;
        if (local_create(c, &lo, &e->tr, err) < 0) goto error;
        e->have_tr = 1;
        e->nworkers = local_nworkers(&e->tr);
        e->workroot = local_workroot(&e->tr);
    }

    e->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (e->inotify_fd >= 0 &&
        inotify_add_watch(e->inotify_fd, ".", IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        close(e->inotify_fd);
        e->inotify_fd = -1;
    }
    cfg.extra_fd = e->inotify_fd;
    cfg.on_extra_fd = on_inotify;
    cfg.stop_flag = &stop_signal;
    cfg.progress = progress;
    cfg.progress_interval_s = e->tty && !o->json ? 0.5 : 5.0;
    cfg.ctx = e;
    e->sched = sched_create(e->tr, &cfg, e->journal, np, no);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &e->old_int);
    sigaction(SIGTERM, &sa, &e->old_term);
    if (!o->quiet && !o->json && o->transport == ENGINE_TR_SQS)
        fprintf(stderr, "SQS transport, %d agent slot%s now; %s\n", e->nworkers,
                e->nworkers == 1 ? "" : "s", e->workroot);
    else if (!o->quiet && !o->json && e->sim)
        fprintf(stderr, "%d simulated workers on a virtual clock\n", e->nworkers);
    else if (!o->quiet && !o->json)
        fprintf(stderr, "%d worker%s%s, work folders in %s\n", e->nworkers,
                e->nworkers == 1 ? "" : "s", o->pin ? " pinned to cores" : "", e->workroot);
    free(journal_path);
    return e;
error:
    free(journal_path);
    journal_close(e->journal);
    if (e->have_tr) e->tr.ops->destroy(e->tr.impl);
    free(e);
    return NULL;
}

struct sched *engine_sched(struct engine *e)
{
    return e->sched;
}

const char *engine_stop_reason(const struct engine *e)
{
    if (e->stopped_by) return e->stopped_by;
    if (stop_signal == SIGINT) return "SIGINT";
    if (stop_signal == SIGTERM) return "SIGTERM";
    return NULL;
}

static void summary(struct engine *e)
{
    struct sched_stats_view v;
    sched_stats(e->sched, &v);
    double util =
        v.elapsed_s > 0 && e->nworkers > 0 ? v.busy_s / (v.elapsed_s * (double)e->nworkers) : 0;
    if (e->line_open) fputc('\n', stderr);
    if (e->o.json) {
        struct strbuf emf = {0};
        emf_head(&emf, e, v.phi);
        fprintf(stderr,
                "{%s\"RunsDone\":%zu,\"RunsFailed\":%zu,\"RunsInFlight\":0,\"WorkersAlive\":%zu,"
                "\"WorkersBusy\":0,\"WorkersLost\":%zu,\"MeanRunSeconds\":%.4f,"
                "\"event\":\"summary\",\"runs_done\":%zu,\"runs_failed\":%zu,"
                "\"from_journal\":%zu,\"model_failures\":%zu,\"workers_lost\":%zu,"
                "\"copies_cancelled\":%zu,\"mean_run_s\":%.4f,\"max_run_s\":%.4f,"
                "\"elapsed_s\":%.3f,\"workers\":%d,\"utilisation\":%.3f}\n",
                emf.data, v.runs_done, v.runs_failed, v.workers_alive, v.workers_lost, v.mean_run_s,
                v.runs_done, v.runs_failed, v.from_journal, v.attempts_failed, v.workers_lost,
                v.copies_cancelled, v.mean_run_s, v.max_run_s, v.elapsed_s, e->nworkers, util);
        sb_free(&emf);
        return;
    }
    fprintf(stderr,
            "runs: %zu done (%zu from the journal), %zu failed; %zu model failures retried or "
            "final, %zu workers lost, %zu copies cancelled\n",
            v.runs_done, v.from_journal, v.runs_failed, v.attempts_failed, v.workers_lost,
            v.copies_cancelled);
    fprintf(stderr,
            "run time: mean %.3fs, max %.3fs; wall %.1fs on %d workers, utilisation %.0f%%\n",
            v.mean_run_s, v.max_run_s, v.elapsed_s, e->nworkers, 100 * util);
    if (sched_last_lost(e->sched))
        fprintf(stderr, "  last worker lost: %s\n", sched_last_lost(e->sched));
    size_t nr = sched_failure_count(e->sched);
    for (size_t i = 0; i < nr && i < 10; i++) {
        size_t runs;
        const char *why = sched_failure_reason(e->sched, i, &runs);
        fprintf(stderr, "  %zu run%s failed: %s\n", runs, runs == 1 ? "" : "s", why);
    }
    if (nr > 10) fprintf(stderr, "  ... and %zu other reasons\n", nr - 10);
}

int engine_finish(struct engine *e)
{
    const char *stop = engine_stop_reason(e);
    int rc = stop ? 130 : 0;
    if (!e->o.quiet) summary(e);
    if (stop && !e->o.quiet)
        fprintf(stderr,
                "stopped by %s: every finished run is in the journal; run again with "
                "--resume to continue\n",
                stop);
    sigaction(SIGINT, &e->old_int, NULL);
    sigaction(SIGTERM, &e->old_term, NULL);
    sched_destroy(e->sched);
    if (e->sim) { /* the simulation's own account, even when quiet: it is what was asked for */
        char line[1024];
        sim_describe(&e->tr, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    e->tr.ops->destroy(e->tr.impl);
    journal_close(e->journal);
    if (e->inotify_fd >= 0) close(e->inotify_fd);
    free(e);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* the skeleton of the commands that run an algorithm                                         */

int engine_main(int argc, char **argv, struct engine_opts *eo, const struct engine_algo *a)
{
    struct pr_error err;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};
    struct cli_parser p;
    const char *arg;
    int opt, rc = 2;

    cli_parser_init(&p, a->spec, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0) {
        int e = engine_parse_opt(eo, opt, arg);
        if (e < 0) return 2;
        if (e == 0 && a->option) a->option(a->ctx, opt, arg);
    }
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0 ||
        engine_check_opts(eo, a->spec->name) < 0)
        return 2;
    const char *pst = argv[p.next];
    c = cli_load_checked(pst, a->cmd, eo->forgive_unimplemented, &rc, &sup);
    if (!c) goto done;
    if (a->prepare && a->prepare(a->ctx, c, &err) < 0) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    struct engine *e = engine_start(c, pst, eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo->quiet, eo->json);
    int r = a->run(a->ctx, c, pst, engine_sched(e), &err);
    if (r < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    int stop_rc = engine_finish(e);
    if (r >= 0 && !eo->quiet && a->report) a->report(a->ctx, pst, r, eo);
    rc = r < 0 ? 1 : stop_rc;
done:
    pst_support_report_free(&sup);
    pst_destroy(c);
    return rc;
}
