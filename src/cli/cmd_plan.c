#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "algo/plan.h"
#include "algo/sweep.h"
#include "cli.h"
#include "model/runner.h"
#include "transport/local/local.h"
#include "sched/journal.h"
#include "util/clock.h"
#include "util/csv.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/svgplot.h"
#include "util/text.h"

enum {
    OPT_METHOD = 2001,
    OPT_RUN_SECONDS,
    OPT_RUN_SD,
    OPT_JOURNAL,
    OPT_MEASURE,
    OPT_IN,
    OPT_MAX_AGENTS,
    OPT_VCPUS,
    OPT_MEMORY,
    OPT_VCPU_PRICE,
    OPT_GB_PRICE,
    OPT_SPOT_VCPU_PRICE,
    OPT_SPOT_GB_PRICE,
    OPT_CSV,
    OPT_SVG,
    OPT_ITERATIONS,
    OPT_LOCAL,
};

/* AWS Fargate, Linux x86, US East (N. Virginia) list prices: on-demand $0.04048 per vCPU-hour
 * and $0.004445 per GB-hour (unchanged since 2019, as published in 2026-03); Fargate Spot at
 * the 70% discount AWS states as its maximum (Spot prices move: give today's). */
#define OD_VCPU 0.04048
#define OD_GB 0.004445
#define SPOT_VCPU (OD_VCPU * 0.3)
#define SPOT_GB (OD_GB * 0.3)

static const struct cli_option plan_options[] = {
    {"method", OPT_METHOD, "M", "glm, ies or sweep (default: ies when ++ies_num_reals is set, else glm)"},
    {"run-seconds", OPT_RUN_SECONDS, "SEC", "a model run takes SEC seconds (default: measured)"},
    {"run-sd", OPT_RUN_SD, "SEC", "spread of the run times with --run-seconds (default 10%)"},
    {"journal", OPT_JOURNAL, "FILE",
     "take the run times recorded in this run journal (default: CASE.journal when it holds at "
     "least 5 runs; not with --local, which times the model here)"},
    {"measure", OPT_MEASURE, "N", "otherwise run the model N times here to time it (default 3)"},
    {"iterations", OPT_ITERATIONS, "N",
     "plan for N iterations (default NOPTMAX, an upper bound: the stopping rules may end the "
     "calibration sooner; a previous calibration's CASE.iobj tells how many it took)"},
    {"local", OPT_LOCAL, NULL,
     "plan for local workers on this machine (pestrun -j N) instead of agents with a vCPU each: "
     "counts up to the cores here, the model timed with one worker and with all cores busy"},
    {"in", OPT_IN, "FILE", "--method sweep: the sweep's input CSV (default: sweep_in.csv or ++sweep_parameter_csv_file)"},
    {"max-agents", OPT_MAX_AGENTS, "N", "the largest agent count tried (default: the largest batch, at most 10000)"},
    {"agent-vcpus", OPT_VCPUS, "N", "vCPUs of one agent (default 1: one model run each)"},
    {"agent-memory", OPT_MEMORY, "GB", "memory of one agent in GB (default 2)"},
    {"vcpu-price", OPT_VCPU_PRICE, "USD", "on-demand price of a vCPU-hour (default 0.04048, Fargate US East)"},
    {"gb-price", OPT_GB_PRICE, "USD", "on-demand price of a GB-hour (default 0.004445)"},
    {"spot-vcpu-price", OPT_SPOT_VCPU_PRICE, "USD", "Spot price of a vCPU-hour (default: 70% off on-demand)"},
    {"spot-gb-price", OPT_SPOT_GB_PRICE, "USD", "Spot price of a GB-hour (default: 70% off on-demand)"},
    {"csv", OPT_CSV, "FILE", "the table as CSV (default CASE.plan.csv)"},
    {"svg", OPT_SVG, "FILE", "the plot (default CASE.plan.svg)"},
    {"quiet", 'q', NULL, "print only the recommendation"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group plan_groups[] = {{NULL, plan_options}, {NULL, NULL}};

const struct cli_command cli_cmd_plan = {
    .name = "plan",
    .fn = cmd_plan,
    .summary = "size a deployment: wall time, agent-hours and cost against the number of agents",
    .synopsis = "[OPTIONS] CASE.pst",
    .about =
        "Counts the model runs each batch of the calibration needs (glm: the Jacobian and the\n"
        "lambda tests of each iteration, with SVD-assist when ++n_iter_super is set; ies: the\n"
        "ensemble and its lambda tests; sweep: the rows), takes the model's run time (measured\n"
        "here, from a run journal, or --run-seconds), and runs pestrun's own scheduler over\n"
        "simulated agents to find the wall time of every batch for a range of agent counts.\n"
        "Prints, for each count, the wall time per iteration and in total, the agent-hours and\n"
        "the cost on demand and on Spot, and recommends the count past which one more agent\n"
        "saves less than 5% of the time. Writes the table as CSV and a plot as SVG.\n"
        "\n"
        "A measured run time is the time of one run as the master sees it (templates, model,\n"
        "instruction files, messages, the journal), and each batch is charged what a batch\n"
        "costs beyond its runs, measured too. With --local the agents are local workers\n"
        "sharing this machine: the model is timed with one worker and with one a core, and\n"
        "the counts between take a run time in proportion.\n",
    .exit_status = {"the plan was printed", "the model could not be timed, or an output could not be written",
                    "bad usage, or the control file cannot be read", NULL},
    .groups = plan_groups,
};

/* Agent counts: every count up to 8, then about 12% apart, up to max. */
static size_t counts(size_t max, size_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t w = 1; w <= max && n < cap;) {
        out[n++] = w;
        size_t next = w < 8 ? w + 1 : (size_t)ceil((double)w * 1.12);
        w = next > w ? next : w + 1;
    }
    if (n && out[n - 1] != max && n < cap) out[n++] = max;
    return n;
}

extern char **environ;

/* The wall time of starting pestrun itself (exec, the dynamic linker, exit): the least of three
 * runs of `pestrun --version`; 0 when it cannot be timed. A real run pays it once. */
static double self_start_seconds(void)
{
    char *const argv[] = {"pestrun", "--version", NULL};
    posix_spawn_file_actions_t fa;
    double best = 0;
    if (posix_spawn_file_actions_init(&fa) != 0) return 0;
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < 3; i++) {
        pid_t pid;
        int st;
        double t0 = pr_now_s();
        if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ) != 0) break;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        double t = pr_now_s() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) break;
        if (i == 0 || t < best) best = t;
    }
    posix_spawn_file_actions_destroy(&fa);
    return best;
}

static size_t count_rows(const char *path, struct pr_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        pr_error_set(err, "%s: cannot read the sweep's input", path);
        return 0;
    }
    size_t n = 0;
    int ch, last = '\n';
    while ((ch = getc(f)) != EOF) {
        if (ch == '\n') n++;
        last = ch;
    }
    if (last != '\n') n++;
    fclose(f);
    return n > 0 ? n - 1 : 0; /* the header */
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (s < 1)
        snprintf(buf, n, "%.0fms", s * 1000);
    else if (s < 120)
        snprintf(buf, n, "%.1fs", s);
    else if (s < 7200)
        snprintf(buf, n, "%.1fm", s / 60);
    else
        snprintf(buf, n, "%.1fh", s / 3600);
}

int cmd_plan(int argc, char **argv)
{
    struct cli_parser p;
    const char *arg, *method = NULL, *journal = NULL, *in = NULL, *csv = NULL, *svg = NULL;
    double run_s = -1, run_sd = -1, vcpus = 1, mem = 2, pv = OD_VCPU, pg = OD_GB, sv = -1, sg = -1;
    int nmeasure = 3, quiet = 0, opt, max_agents = 0, iterations = 0, local = 0;
    struct pr_error err;

    cli_parser_init(&p, &cli_cmd_plan, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0) {
        double *d = NULL;
        switch (opt) {
        case OPT_METHOD: method = arg; break;
        case OPT_JOURNAL: journal = arg; break;
        case OPT_IN: in = arg; break;
        case OPT_CSV: csv = arg; break;
        case OPT_SVG: svg = arg; break;
        case 'q': quiet = 1; break;
        case OPT_LOCAL: local = 1; break;
        case OPT_MEASURE:
        case OPT_ITERATIONS:
        case OPT_MAX_AGENTS: {
            int v;
            if (pr_parse_int(arg, &v) < 0 || v < 1) {
                cli_error("--%s: expected a number >= 1, got '%s'",
                          opt == OPT_MEASURE      ? "measure"
                          : opt == OPT_ITERATIONS ? "iterations"
                                                  : "max-agents",
                          arg);
                return 2;
            }
            *(opt == OPT_MEASURE ? &nmeasure : opt == OPT_ITERATIONS ? &iterations : &max_agents) = v;
            break;
        }
        case OPT_RUN_SECONDS: d = &run_s; break;
        case OPT_RUN_SD: d = &run_sd; break;
        case OPT_VCPUS: d = &vcpus; break;
        case OPT_MEMORY: d = &mem; break;
        case OPT_VCPU_PRICE: d = &pv; break;
        case OPT_GB_PRICE: d = &pg; break;
        case OPT_SPOT_VCPU_PRICE: d = &sv; break;
        case OPT_SPOT_GB_PRICE: d = &sg; break;
        }
        if (d && (pr_parse_double(arg, d, 1) < 0 || *d < 0)) {
            cli_error("expected a number >= 0, got '%s'", arg);
            return 2;
        }
    }
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0) return 2;
    if (method && strcmp(method, "glm") && strcmp(method, "ies") && strcmp(method, "sweep")) {
        cli_error("--method: expected glm, ies or sweep, got '%s'", method);
        return 2;
    }
    if (run_s == 0) {
        cli_error("--run-seconds must be > 0");
        return 2;
    }
    if (sv < 0) sv = pv * 0.3;
    if (sg < 0) sg = pg * 0.3;
    const char *pst = argv[p.next];
    struct pst_case *c = pst_load(pst, &err);
    if (!c) {
        fprintf(stderr, "pestrun plan: %s\n", err.msg);
        return 2;
    }
    int rc = 1;
    double *sweep_rows = NULL;
    long nsweep = 0;
    char *jdefault = cli_case_output(pst, "journal"), *in_path = NULL;
    char *csv_path = csv ? xstrdup(csv) : cli_case_output(pst, "plan.csv");
    char *svg_path = svg ? xstrdup(svg) : cli_case_output(pst, "plan.svg");
    struct plan_work w = {0};
    double mean = run_s, sd = run_sd, startup = 0, batch_s = 0;
    /* --local: the run time with every core busy, for the counts between 1 and ncores */
    double mean_n = -1, sd_n = 0, batch_n = 0, startup_n = 0;
    int ncores = 1;
    char source[768];
    const char *times = NULL;
    size_t rows = 0;

    if (local && (journal || run_s > 0)) {
        cli_error("--local times the model here, with one worker and with one a core: it takes "
                  "neither --journal nor --run-seconds");
        rc = 2;
        goto done;
    }
    if (local) {
        if ((ncores = local_default_nworkers(&err)) < 0) {
            fprintf(stderr, "pestrun plan: %s\n", err.msg);
            goto done;
        }
        if (max_agents > ncores) {
            cli_error("--local: at most %d workers here (the cores pestrun may use), got --max-agents %d",
                      ncores, max_agents);
            rc = 2;
            goto done;
        }
    }
    /* a sweep: its rows, and the first of them to time the model on */
    if (method && strcmp(method, "sweep") == 0) {
        in_path = in ? xstrdup(in)
                     : pr_path_join(pst_dir(c), pst_opt_str(c, "sweep_parameter_csv_file", "sweep_in.csv"));
        rows = count_rows(in_path, &err);
        if (rows == 0) {
            fprintf(stderr, "pestrun plan: %s\n", err.msg[0] ? err.msg : "the sweep's input has no rows");
            goto done;
        }
        struct sweep_opts so = {0};
        so.in_path = in_path;
        size_t np = pst_nparams(c), cap = 4000000 / (np ? np : 1);
        if (pst_opt_bool(c, "sweep_forgive", 0, &so.forgive, &err) < 0 ||
            (nsweep = sweep_read_rows(c, &so, cap < 1 ? 1 : cap > 1000 ? 1000 : cap, &sweep_rows, &err)) < 0) {
            fprintf(stderr, "pestrun plan: %s\n", err.msg);
            rc = 2;
            goto done;
        }
    }
    /* the run time */
    if (run_s > 0) {
        if (sd < 0) sd = 0.1 * mean;
        snprintf(source, sizeof(source), "given (--run-seconds %g, sd %g)", mean, sd);
    } else {
        const char *jp = journal ? journal : (access(jdefault, R_OK) == 0 ? jdefault : NULL);
        double *t = NULL;
        size_t nt = 0;
        if (jp && journal_read_times(jp, &t, &nt, &err) < 0) {
            if (journal) {
                fprintf(stderr, "pestrun plan: %s\n", err.msg);
                goto done;
            }
            nt = 0;
        }
        if (nt >= 5 && !local) {
            plan_mean_sd(t, nt, &mean, &sd);
            times = jp;
            snprintf(source, sizeof(source), "%zu runs recorded in %s", nt, jp);
        } else if (journal && !local) {
            fprintf(stderr, "pestrun plan: %s: fewer than 5 successful runs recorded\n", journal);
            free(t);
            goto done;
        } else {
            struct plan_timing one, all;
            if (!quiet) {
                fprintf(stderr, "timing the model: %d runs a worker %s%s...\n", nmeasure,
                        nsweep > 0 ? "on the sweep's first rows" : "at the initial values",
                        local && ncores > 1 ? ", on one worker, then on one a core" : "");
                fflush(stderr);
            }
            if (plan_measure(c, nmeasure, 1, sweep_rows, (size_t)nsweep, &one, &err) < 0 ||
                (local && ncores > 1 &&
                 plan_measure(c, nmeasure, ncores, sweep_rows, (size_t)nsweep, &all, &err) < 0)) {
                fprintf(stderr, "pestrun plan: the model run failed: %s\n", err.msg);
                free(t);
                goto done;
            }
            double self = self_start_seconds();
            mean = one.mean_s;
            sd = one.sd_s;
            startup = one.startup_s + self;
            startup_n = startup;
            batch_s = one.batch_s;
            int len = snprintf(source, sizeof(source),
                               "%zu runs timed here on one worker, %.3g s a batch beyond its runs",
                               one.runs, batch_s);
            if (local && ncores > 1) {
                mean_n = all.mean_s;
                sd_n = all.sd_s;
                batch_n = all.batch_s;
                startup_n = all.startup_s + self;
                snprintf(source + len, sizeof(source) - (size_t)len,
                         "; %zu on %d at once: mean %.3g s, %.3g s a batch", all.runs, ncores,
                         mean_n, batch_n);
            }
            len = (int)strlen(source);
            snprintf(source + len, sizeof(source) - (size_t)len,
                     "; starting pestrun %.3g s, its workers %.3g s", self, startup - self);
        }
        free(t);
    }
    if (mean <= 0) mean = 1e-3;

    if (plan_work_for(c, method, rows, iterations, &w, &err) < 0) {
        fprintf(stderr, "pestrun plan: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    /* the master's own work each iteration (the algorithm and its outputs) */
    double master_s = 0;
    if (plan_master_seconds(pst, w.method, w.iterations, &master_s, &err) < 0) {
        fprintf(stderr, "pestrun plan: timing the %s algorithm on simulated workers: %s\n", w.method,
                err.msg);
        goto done;
    }
    size_t biggest = 0;
    for (size_t b = 0; b < w.nbatches; b++)
        if (w.runs[b] > biggest) biggest = w.runs[b];
    size_t maxw = max_agents > 0 ? (size_t)max_agents : (biggest < 10000 ? biggest : 10000);
    if (local && max_agents <= 0 && maxw > (size_t)ncores) maxw = (size_t)ncores;
    if (maxw < 1) maxw = 1;
    size_t grid[512];
    size_t ng = counts(maxw, grid, 512);
    double *total = xcalloc(ng, sizeof(double)), *per_it = xcalloc(ng, sizeof(double));
    double *eff = xcalloc(ng, sizeof(double)), *hours = xcalloc(ng, sizeof(double));
    /* each distinct batch size is simulated once per count */
    for (size_t g = 0; g < ng; g++) {
        double busy = 0, m_g = mean, sd_g = sd, b_g = batch_s, s_g = startup;
        if (mean_n > 0) { /* --local: in proportion between one worker and one a core */
            double f = ncores > 1 ? (double)(grid[g] - 1) / (double)(ncores - 1) : 0;
            m_g = mean + f * (mean_n - mean);
            sd_g = sd + f * (sd_n - sd);
            b_g = batch_s + f * (batch_n - batch_s);
            s_g = startup + f * (startup_n - startup);
        }
        size_t nd = 0, *dn = xcalloc(w.nbatches + 1, sizeof(size_t));
        double *dt = xcalloc(w.nbatches + 1, sizeof(double)), *de = xcalloc(w.nbatches + 1, sizeof(double));
        for (size_t b = 0; b < w.nbatches; b++) {
            size_t k = 0;
            while (k < nd && dn[k] != w.runs[b]) k++;
            if (k == nd) {
                dn[nd] = w.runs[b];
                dt[nd] = plan_batch_seconds(c, w.runs[b], grid[g], m_g, sd_g, times, &de[nd], &err);
                nd++;
            }
            if (dt[k] < 0) {
                fprintf(stderr, "pestrun plan: the simulation failed: %s\n", err.msg);
                free(dn);
                free(dt);
                free(de);
                goto free_all;
            }
            total[g] += dt[k] + b_g;
            busy += de[k] * dt[k] * (double)grid[g];
        }
        free(dn);
        free(dt);
        free(de);
        total[g] += s_g + master_s * w.iterations; /* measured here: pestrun's and the workers'
                                                      * start and stop, the master's work */
        per_it[g] = (total[g] - s_g) / (w.iterations > 0 ? w.iterations : 1);
        eff[g] = total[g] > 0 ? busy / (total[g] * (double)grid[g]) : 0;
        hours[g] = (double)grid[g] * total[g] / 3600.0;
    }
    /* the recommendation: the first count from which one more agent saves < 5% of the time */
    size_t rec = ng - 1;
    for (size_t g = 0; g + 1 < ng; g++) {
        double per_agent = (total[g] - total[g + 1]) / total[g] / (double)(grid[g + 1] - grid[g]);
        if (per_agent < 0.05) {
            rec = g;
            break;
        }
    }
    double agent_od = vcpus * pv + mem * pg, agent_spot = vcpus * sv + mem * sg;
    if (!quiet) {
        printf("%s: %s, %d iteration%s, %zu model runs in %zu batches (largest %zu)%s\n", pst,
               w.method, w.iterations, w.iterations == 1 ? "" : "s", w.total_runs, w.nbatches,
               biggest, w.iterations > 1 ? ", at most: the stopping rules may end it sooner" : "");
        printf("model run time: mean %.3g s, sd %.3g s (%s)\n", mean, sd, source);
        if (master_s > 0)
            printf("master's own work: %.3g s an iteration (the algorithm and its outputs, timed "
                   "here on simulated workers)\n", master_s);
        if (local)
            printf("agents: local workers on this machine (%d core%s), priced as agents of %g vCPU, "
                   "%g GB\n\n", ncores, ncores == 1 ? "" : "s", vcpus, mem);
        else
            printf("agent: %g vCPU, %g GB; $%.5f an hour on demand, $%.5f on Spot\n\n", vcpus, mem,
                   agent_od, agent_spot);
        printf("%8s %14s %14s %12s %12s %12s %10s\n", "agents", "per iteration", "total",
               "agent-hours", "on-demand $", "Spot $", "efficiency");
        for (size_t g = 0; g < ng; g++) {
            char a[32], b[32];
            fmt_time(a, sizeof(a), per_it[g]);
            fmt_time(b, sizeof(b), total[g]);
            printf("%8zu %14s %14s %12.3f %12.4f %12.4f %10.3f%s\n", grid[g], a, b, hours[g],
                   hours[g] * agent_od, hours[g] * agent_spot, eff[g], g == rec ? "  <-" : "");
        }
        printf("\n");
    }
    char t1[32], tr[32];
    fmt_time(t1, sizeof(t1), total[0]);
    fmt_time(tr, sizeof(tr), total[rec]);
    printf("recommended: %zu agent%s (%s in all, against %s on one; past it one more agent saves "
           "less than 5%% of the time); table %s, plot %s\n",
           grid[rec], grid[rec] == 1 ? "" : "s", tr, t1, csv_path, svg_path);

    /* the table and the plot */
    struct strbuf sb = {0};
    sb_printf(&sb, "agents,seconds_per_iteration,seconds_total,agent_hours,cost_on_demand_usd,"
                   "cost_spot_usd,efficiency,recommended\n");
    for (size_t g = 0; g < ng; g++)
        sb_printf(&sb, "%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.4f,%d\n", grid[g], per_it[g], total[g],
                  hours[g], hours[g] * agent_od, hours[g] * agent_spot, eff[g], g == rec);
    if (pr_write_file(csv_path, sb.data, sb.len, &err) < 0) {
        fprintf(stderr, "pestrun plan: %s\n", err.msg);
        sb_free(&sb);
        goto free_all;
    }
    sb.len = 0;
    double *x = xcalloc(ng, sizeof(double)), *y = xcalloc(ng, sizeof(double));
    double lo = INFINITY, hi = -INFINITY;
    for (size_t g = 0; g < ng; g++) {
        x[g] = (double)grid[g];
        y[g] = total[g] / 3600.0;
    }
    struct svg_axis ax = {SVG_LOG10, 1, (double)(grid[ng - 1] > 1 ? grid[ng - 1] : 2), "agents", 0, NULL, 0};
    struct svg_axis ay = {SVG_LOG10, 0, 0, "wall time of the calibration (hours)", 0, NULL, 0};
    svg_extent(&lo, &hi, y, ng, SVG_LOG10);
    svg_axis_fit(&ay, lo, hi, 0.05);
    struct svg_plot *pl = svg_plot_create(720, 420, "wall time against agents", &ax, &ay);
    struct svg_style line = {"#1f77b4", 2, NULL, SVG_MARK_CIRCLE, 0, 2.5, 0};
    struct svg_style mark = {"#d62728", 0, NULL, SVG_MARK_DIAMOND, 0, 6, 0};
    svg_plot_line(pl, x, y, ng, &line, "simulated wall time");
    svg_plot_points(pl, &x[rec], &y[rec], 1, &mark, "recommended", NULL);
    svg_plot_render(pl, &sb);
    svg_plot_destroy(pl);
    free(x);
    free(y);
    if (pr_write_file(svg_path, sb.data, sb.len, &err) < 0) {
        fprintf(stderr, "pestrun plan: %s\n", err.msg);
        sb_free(&sb);
        goto free_all;
    }
    sb_free(&sb);
    rc = 0;
free_all:
    free(total);
    free(per_it);
    free(eff);
    free(hours);
done:
    free(sweep_rows);
    plan_work_free(&w);
    free(jdefault);
    free(in_path);
    free(csv_path);
    free(svg_path);
    pst_destroy(c);
    return rc;
}
