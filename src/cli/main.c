#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "pest/check.h"
#include "pest/outputs.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"check", cmd_check, "check a PEST case: control file, templates, instruction files"},
    {"run", cmd_run, "run the model once at the initial parameter values; write CASE.rei"},
    {"sweep", cmd_sweep, "run the model for every row of a CSV of parameter values, in parallel"},
    {"jacobian", cmd_jacobian, "fill the Jacobian in parallel and write CASE.jcb"},
    {"glm", cmd_glm, "calibrate with Gauss-Levenberg-Marquardt, in parallel"},
    {"report", cmd_report,
     "write CASE.report.html: phi, fits, residuals and parameter paths of a calibration"},
    {"panther", cmd_panther, "serve a PEST++ master (PANTHER) with pestrun's workers"},
    {"agent", cmd_agent, "serve an SQS task queue: run the model runs of masters using --transport sqs"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pestrun COMMAND [OPTIONS] CASE.pst\n\n"
                 "pestrun reads PEST and PEST++ cases (control, template and instruction files)\n"
                 "and runs their model evaluations.\n\ncommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'pestrun COMMAND --help' describes a command's options.\n"
                 "  --version  print the version\n  --help     print this help\n");
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("pestrun: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

char *cli_case_output(const char *pst_path, const char *ext)
{
    return pst_output_path(pst_path, ext);
}

struct pst_case *cli_load_checked(const char *path)
{
    struct pst_check_sink sink = {NULL, NULL, 0, 0};
    struct pr_error err;
    struct pst_case *c = pst_load(path, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    if (pst_check(c, NULL, &sink) > 0) {
        fprintf(stderr, "pestrun: %s has %d error%s: run 'pestrun check %s'\n", path, sink.errors,
                sink.errors == 1 ? "" : "s", path);
        pst_destroy(c);
        return NULL;
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("pestrun %s\n", PESTRUN_VERSION);
        return 0;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see 'pestrun --help')", argv[1]);
    return 2;
}
