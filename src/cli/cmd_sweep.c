#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/sweep.h"
#include "cli.h"
#include "engine.h"

enum { SWEEP_OPT_IN = 2001, SWEEP_OPT_OUT };

static const struct cli_option sweep_options[] = {
    {"in", SWEEP_OPT_IN, "FILE", "the input CSV (overrides ++sweep_parameter_file)"},
    {"out", SWEEP_OPT_OUT, "FILE", "the output CSV (overrides ++sweep_output_file)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group sweep_groups[] = {
    {NULL, sweep_options},
    {engine_case_title, engine_case_options},
    {engine_workers_title, engine_worker_options},
    {engine_progress_title, engine_progress_options},
    {engine_journal_title, engine_journal_options},
    {engine_sqs_title, engine_sqs_options},
    {NULL, NULL},
};

const struct cli_command cli_cmd_sweep = {
    .name = "sweep",
    .fn = cmd_sweep,
    .summary = "run the model for every row of a CSV of parameter values, in parallel",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Runs the model for every row of a CSV file of parameter values, in parallel, like\n"
             "pestpp-swp: the input is ++sweep_parameter_file (default sweep_in.csv: a label\n"
             "column, then one column per parameter, control-space values), the output\n"
             "++sweep_output_file (default sweep_out.csv: run_id, input_run_id, failed_flag,\n"
             "phi, meas_phi, regul_phi, phi per observation group, every observation; failed\n"
             "runs have failed_flag 1 and -1e+100 observations). ++sweep_chunk rows (500) run\n"
             "as one batch. Every finished run goes to the journal first: after a crash or a\n"
             "stop, --resume gives the same output without running any row twice.\n",
    .exit_status = {"every row was run and written (rows whose model run failed are in the "
                    "output with failed_flag 1)",
                    "the sweep could not go on: the input CSV is missing or malformed (the "
                    "message names the file and line), the output cannot be written, or the "
                    "workers, the journal or the transport failed",
                    CLI_EXIT_INVALID_CASE("sweep"), CLI_EXIT_STOPPED},
    .groups = sweep_groups,
};

struct sweep_cmd {
    const char *in, *out; /* --in, --out */
    struct sweep_opts so;
    struct sweep_summary sum;
};

static void sweep_option(void *ctx, int opt, const char *arg)
{
    struct sweep_cmd *w = ctx;
    if (opt == SWEEP_OPT_IN) w->in = arg;
    if (opt == SWEEP_OPT_OUT) w->out = arg;
}

static int sweep_prepare(void *ctx, const struct pst_case *c, struct pr_error *err)
{
    struct sweep_cmd *w = ctx;
    int chunk;
    w->so.in_path = w->in ? w->in : pst_opt_str(c, "sweep_parameter_file", "sweep_in.csv");
    w->so.out_path = w->out ? w->out : pst_opt_str(c, "sweep_output_file", "sweep_out.csv");
    if (pst_opt_int(c, "sweep_chunk", 500, &chunk, err) < 0 ||
        pst_opt_bool(c, "sweep_forgive", 0, &w->so.forgive, err) < 0 ||
        pst_opt_bool(c, "sweep_include_regul_phi", 0, &w->so.include_regul, err) < 0)
        return -1;
    w->so.chunk = chunk > 0 ? (size_t)chunk : 500;
    return 0;
}

static int sweep_algo_run(void *ctx, const struct pst_case *c, const char *pst, struct sched *s,
                          struct pr_error *err)
{
    struct sweep_cmd *w = ctx;
    (void)pst;
    return sweep_run(c, s, &w->so, &w->sum, err);
}

/* also when stopped: the rows written so far are a clean prefix */
static void sweep_report(void *ctx, const char *pst, int r, const struct engine_opts *eo)
{
    struct sweep_cmd *w = ctx;
    (void)r;
    if (eo->json) {
        fprintf(stderr, "{\"event\":\"sweep_done\",\"rows\":%zu,\"failed\":%zu,\"from_journal\":%zu,"
                "\"out\":", w->sum.rows, w->sum.failed, w->sum.from_journal);
        cli_json_string(stderr, w->so.out_path);
        fputs("}\n", stderr);
    } else {
        fprintf(stderr, "%s: %zu rows (%zu failed, %zu from the journal) written to %s\n", pst,
                w->sum.rows, w->sum.failed, w->sum.from_journal, w->so.out_path);
    }
}

int cmd_sweep(int argc, char **argv)
{
    struct sweep_cmd w;
    memset(&w, 0, sizeof(w));
    const struct engine_algo a = {
        .spec = &cli_cmd_sweep,
        .cmd = PST_CMD_SWEEP,
        .ctx = &w,
        .option = sweep_option,
        .prepare = sweep_prepare,
        .run = sweep_algo_run,
        .report = sweep_report,
    };
    struct engine_opts eo;
    engine_opts_init(&eo);
    return engine_main(argc, argv, &eo, &a);
}
