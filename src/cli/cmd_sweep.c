#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/sweep.h"
#include "cli.h"
#include "engine.h"

static void sweep_usage(FILE *out)
{
    fprintf(out,
            "usage: pestrun sweep [OPTIONS] CASE.pst\n\n"
            "Runs the model for every row of a CSV file of parameter values, in parallel, like\n"
            "pestpp-swp: the input is ++sweep_parameter_file (default sweep_in.csv: a label\n"
            "column, then one column per parameter, control-space values), the output\n"
            "++sweep_output_file (default sweep_out.csv: run_id, input_run_id, failed_flag,\n"
            "phi, meas_phi, regul_phi, phi per observation group, every observation; failed\n"
            "runs have failed_flag 1 and -1e+100 observations). ++sweep_chunk rows (500) run\n"
            "as one batch. Every finished run goes to the journal first: after a crash or a\n"
            "stop, --resume gives the same output without running any row twice.\n\n"
            "      --in FILE        the input CSV (overrides ++sweep_parameter_file)\n"
            "      --out FILE       the output CSV (overrides ++sweep_output_file)\n"
            "%s  -h, --help           this help\n",
            engine_help);
}

int cmd_sweep(int argc, char **argv)
{
    static const struct option own[] = {{"in", required_argument, NULL, 2001},
                                        {"out", required_argument, NULL, 2002},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
    struct option *longopts = engine_merge_longopts(own);
    struct engine_opts eo;
    struct sweep_opts so;
    struct sweep_summary sum;
    struct pr_error err;
    const char *in = NULL, *out = NULL;
    int opt, rc = 2;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};

    engine_opts_init(&eo);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "j:qh", longopts, NULL)) != -1) {
        int e = engine_parse_opt(&eo, opt, optarg);
        if (e < 0) goto done;
        if (e > 0) continue;
        switch (opt) {
        case 2001:
            in = optarg;
            break;
        case 2002:
            out = optarg;
            break;
        case 'h':
            sweep_usage(stdout);
            rc = 0;
            goto done;
        default:
            sweep_usage(stderr);
            goto done;
        }
    }
    if (optind != argc - 1) {
        sweep_usage(stderr);
        goto done;
    }
    c = cli_load_checked(argv[optind], PST_CMD_SWEEP, eo.forgive_unimplemented, &rc, &sup);
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
    struct engine *e = engine_start(c, argv[optind], &eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo.quiet, eo.json);
    int s = sweep_run(c, engine_sched(e), &so, &sum, &err);
    if (s < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    int stop_rc = engine_finish(e);
    if (s >= 0 && !eo.quiet)
        fprintf(stderr, "%s: %zu rows (%zu failed, %zu from the journal) written to %s\n",
                argv[optind], sum.rows, sum.failed, sum.from_journal, so.out_path);
    rc = s < 0 ? 1 : stop_rc;
done:
    pst_support_report_free(&sup);
    pst_destroy(c);
    free(longopts);
    return rc;
}
