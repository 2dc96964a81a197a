#include <stdio.h>
#include <stdlib.h>

#include "algo/report.h"
#include "cli.h"
#include "pest/pst.h"

static const struct cli_option report_options[] = {
    {"out", 'o', "FILE", "write the report to FILE instead"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group report_groups[] = {{NULL, report_options}, {NULL, NULL}};

const struct cli_command cli_cmd_report = {
    .name = "report",
    .fn = cmd_report,
    .summary = "write CASE.report.html: phi, fits, residuals and parameter paths of a calibration",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Writes CASE.report.html beside the control file from the outputs of\n"
             "'pestrun glm': phi per iteration and group, measured against modelled values,\n"
             "residuals by group, each parameter's path between its bounds, model runs and\n"
             "wall time per iteration, the final parameters and the largest weighted\n"
             "residuals, and with the FOSM summaries each forecast's prior and posterior\n"
             "(mean +/- 2 stdev) and each parameter's uncertainty reduction. One\n"
             "self-contained file: charts are inline SVG; no network, no JavaScript. Reads\n"
             "CASE.iobj, CASE.ipar, CASE.rei and CASE.par (and CASE.iruns.csv, CASE.rec,\n"
             "CASE.par.usum.csv and CASE.pred.usum.csv when present). After 'pestrun ies'\n"
             "(a CASE.phi.actual.csv and no CASE.iobj): the ensemble's phi per iteration as\n"
             "box plots, prior against posterior parameter histograms and the realizations\n"
             "dropped, from CASE.phi.actual.csv, CASE.0.par.csv and the last CASE.N.par.csv.\n",
    .exit_status = {"the report was written",
                    "an output of 'pestrun glm' or 'pestrun ies' it reads is missing or "
                    "malformed (the message "
                    "names the file and line), or the report cannot be written",
                    "bad usage, or the control file cannot be read", NULL},
    .groups = report_groups,
};

int cmd_report(int argc, char **argv)
{
    const char *out = NULL, *arg;
    struct pr_error err;
    struct cli_parser p;
    int opt;

    cli_parser_init(&p, &cli_cmd_report, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0)
        if (opt == 'o') out = arg;
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0) return p.status;
    const char *pst = argv[p.next];
    struct pst_case *c = pst_load(pst, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg); /* "file:line: ...", as every command says it */
        return 2;
    }
    char *html = out ? NULL : cli_case_output(pst, "report.html");
    int rc = report_write(c, pst, out ? out : html, &err);
    if (rc < 0)
        cli_error("%s", err.msg);
    else
        printf("%s: report written to %s\n", pst, out ? out : html);
    free(html);
    pst_destroy(c);
    return rc < 0 ? 1 : 0;
}
