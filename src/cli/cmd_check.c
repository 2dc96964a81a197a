#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pest/check.h"
#include "pest/pst.h"

static void check_usage(FILE *out)
{
    fprintf(
        out,
        "usage: pestrun check [--quiet] CASE.pst\n\n"
        "Reads the control file, every template and instruction file, and reports what\n"
        "pestchek, tempchek and inschek would: bad bounds and transforms, parameters in\n"
        "templates but not in the control file and the reverse, observations in instruction\n"
        "files but not in the control file and the reverse, duplicates, unreadable files.\n"
        "It also warns of every ++ option and control-data field that a pestrun command reads\n"
        "but does not implement (those that change the result stop that command unless it\n"
        "is given --forgive-unimplemented) and of options PEST++ does not know.\n"
        "Each finding is one 'file:line: message' line. Exit status: 0 when there are no\n"
        "errors (warnings allowed), 1 when there are, 2 when the control file cannot be read.\n\n"
        "  -q, --quiet   print errors only\n  -h, --help    this help\n");
}

struct sink_ctx {
    int quiet;
};

static void emit(void *ctx, int is_error, const char *msg)
{
    struct sink_ctx *s = ctx;
    if (is_error)
        printf("%s\n", msg);
    else if (!s->quiet)
        printf("warning: %s\n", msg);
}

int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct sink_ctx ctx = {0};
    struct pst_check_sink sink = {emit, &ctx, 0, 0};
    struct pr_error err;
    struct pst_case *c;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'q':
            ctx.quiet = 1;
            break;
        case 'h':
            check_usage(stdout);
            return 0;
        default:
            check_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        check_usage(stderr);
        return 2;
    }
    c = pst_load(argv[optind], &err);
    if (!c) {
        printf("%s\n", err.msg);
        return 1;
    }
    pst_check(c, NULL, &sink);
    printf("%s: %d error%s, %d warning%s; %zu parameters, %zu observations, %zu prior "
           "information, %zu templates, %zu instruction files\n",
           argv[optind], sink.errors, sink.errors == 1 ? "" : "s", sink.warnings,
           sink.warnings == 1 ? "" : "s", pst_nparams(c), pst_nobs(c), pst_nprior(c),
           pst_ninputs(c), pst_noutputs(c));
    pst_destroy(c);
    return sink.errors ? 1 : 0;
}
