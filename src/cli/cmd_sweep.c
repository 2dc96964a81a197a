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

int cmd_sweep(int argc, char **argv)
{
    struct engine_opts eo;
    struct sweep_opts so;
    struct sweep_summary sum;
    struct pr_error err;
    struct cli_parser p;
    const char *in = NULL, *out = NULL, *arg;
    int opt, rc = 2;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};

    engine_opts_init(&eo);
    cli_parser_init(&p, &cli_cmd_sweep, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0) {
        int e = engine_parse_opt(&eo, opt, arg);
        if (e < 0) return 2;
        if (opt == SWEEP_OPT_IN) in = arg;
        if (opt == SWEEP_OPT_OUT) out = arg;
    }
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0 ||
        engine_check_opts(&eo, "sweep") < 0)
        return 2;
    const char *pst = argv[p.next];
    c = cli_load_checked(pst, PST_CMD_SWEEP, eo.forgive_unimplemented, &rc, &sup);
    if (!c) goto done;
    memset(&so, 0, sizeof(so));
    so.in_path = in ? in : pst_opt_str(c, "sweep_parameter_file", "sweep_in.csv");
    so.out_path = out ? out : pst_opt_str(c, "sweep_output_file", "sweep_out.csv");
    int chunk;
    if (pst_opt_int(c, "sweep_chunk", 500, &chunk, &err) < 0 ||
        pst_opt_bool(c, "sweep_forgive", 0, &so.forgive, &err) < 0 ||
        pst_opt_bool(c, "sweep_include_regul_phi", 0, &so.include_regul, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        rc = 2;
        goto done;
    }
    so.chunk = chunk > 0 ? (size_t)chunk : 500;
    struct engine *e = engine_start(c, pst, &eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo.quiet, eo.json);
    int s = sweep_run(c, engine_sched(e), &so, &sum, &err);
    if (s < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    int stop_rc = engine_finish(e);
    if (s >= 0 && !eo.quiet && eo.json) {
        fprintf(stderr, "{\"event\":\"sweep_done\",\"rows\":%zu,\"failed\":%zu,\"from_journal\":%zu,"
                "\"out\":", sum.rows, sum.failed, sum.from_journal);
        cli_json_string(stderr, so.out_path);
        fputs("}\n", stderr);
    } else if (s >= 0 && !eo.quiet) {
        fprintf(stderr, "%s: %zu rows (%zu failed, %zu from the journal) written to %s\n", pst,
                sum.rows, sum.failed, sum.from_journal, so.out_path);
    }
    rc = s < 0 ? 1 : stop_rc;
done:
    pst_support_report_free(&sup);
    pst_destroy(c);
    return rc;
}
