#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "algo/report.h"
#include "cli.h"
#include "pest/pst.h"

static void report_usage(FILE *out)
{
    fprintf(out, "usage: pestrun report [--out FILE] CASE.pst\n\n"
                 "Writes CASE.report.html beside the control file from the outputs of\n"
                 "'pestrun glm': phi per iteration and group, measured against modelled values,\n"
                 "residuals by group, each parameter's path between its bounds, model runs and\n"
                 "wall time per iteration, the final parameters and the largest weighted\n"
                 "residuals, and with the FOSM summaries each forecast's prior and posterior\n"
                 "(mean +/- 2 stdev) and each parameter's uncertainty reduction. One\n"
                 "self-contained file: charts are inline SVG; no network, no JavaScript. Reads\n"
                 "CASE.iobj, CASE.ipar, CASE.rei and CASE.par (and CASE.iruns.csv, CASE.rec,\n"
                 "CASE.par.usum.csv and CASE.pred.usum.csv when present). Exit status: 0 written,\n"
                 "1 an input is missing or malformed (the message names the file and line), 2 bad\n"
                 "usage.\n\n"
                 "  -o, --out FILE   write the report to FILE instead\n"
                 "  -h, --help       this help\n");
}

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *out = NULL;
    struct pr_error err;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'h':
            report_usage(stdout);
            return 0;
        default:
            report_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        report_usage(stderr);
        return 2;
    }
    const char *pst = argv[optind];
    struct pst_case *c = pst_load(pst, &err);
    if (!c) {
        cli_error("%s", err.msg);
        return 1;
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
