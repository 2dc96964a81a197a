#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pest/check.h"
#include "pest/pst.h"

static const struct cli_option check_options[] = {
    {"quiet", 'q', NULL, "print errors only (and the summary line)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group check_groups[] = {{NULL, check_options}, {NULL, NULL}};

const struct cli_command cli_cmd_check = {
    .name = "check",
    .fn = cmd_check,
    .summary = "check a PEST case: control file, templates, instruction files",
    .synopsis = "[OPTIONS] CASE.pst",
    .about =
        "Reads the control file, every template and instruction file, and reports what\n"
        "pestchek, tempchek and inschek would: bad bounds and transforms, parameters in\n"
        "templates but not in the control file and the reverse, observations in instruction\n"
        "files but not in the control file and the reverse, duplicates, unreadable files.\n"
        "It also warns of every ++ option and control-data field that a pestrun command reads\n"
        "but does not implement (those that change the result stop that command unless it\n"
        "is given --forgive-unimplemented) and of options PEST++ does not know.\n"
        "Each finding is one 'file:line: message' line on stdout, then a summary line.\n",
    .exit_status = {"no errors (warnings allowed)", "errors were found: each one is printed",
                    "bad usage, or the control file cannot be read: it is missing, binary or "
                    "UTF-16, or a line cannot be parsed (the first such line is named, and "
                    "nothing else is checked)",
                    NULL},
    .groups = check_groups,
};

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
    struct sink_ctx ctx = {0};
    struct pst_check_sink sink = {emit, &ctx, 0, 0};
    struct pr_error err;
    struct cli_parser p;
    const char *arg;
    int opt;

    cli_parser_init(&p, &cli_cmd_check, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0)
        if (opt == 'q') ctx.quiet = 1;
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0) return p.status;
    const char *path = argv[p.next];
    struct pst_case *c = pst_load(path, &err);
    if (!c) {
        printf("%s\n", err.msg);
        return 2;
    }
    pst_check(c, NULL, &sink);
    printf("%s: %d error%s, %d warning%s; %zu parameters, %zu observations, %zu prior "
           "information, %zu templates, %zu instruction files\n",
           path, sink.errors, sink.errors == 1 ? "" : "s", sink.warnings,
           sink.warnings == 1 ? "" : "s", pst_nparams(c), pst_nobs(c), pst_nprior(c),
           pst_ninputs(c), pst_noutputs(c));
    pst_destroy(c);
    return sink.errors ? 1 : 0;
}
