#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "pest/check.h"
#include "pest/outputs.h"

static const struct cli_command *const commands[] = {
    &cli_cmd_check, &cli_cmd_run,    &cli_cmd_sweep,   &cli_cmd_jacobian, &cli_cmd_glm,
    &cli_cmd_ies,   &cli_cmd_report, &cli_cmd_panther, &cli_cmd_agent,    &cli_cmd_plan,
    NULL,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pestrun COMMAND [OPTIONS] CASE.pst\n\n"
                 "pestrun reads PEST and PEST++ cases (control, template and instruction files)\n"
                 "and runs their model evaluations.\n\ncommands:\n");
    for (size_t i = 0; commands[i]; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\n'pestrun COMMAND --help' describes a command's options.\n"
            "  --version  print the version\n  --help     print this help\n\n"
            "exit status, the same for every command (its --help says what each means there):\n"
            "  0    the work was done\n"
            "  1    the work failed or found problems (check's errors, a failed model run, a\n"
            "       data file the work reads that cannot be read, workers that failed)\n"
            "  2    nothing was done: bad usage, or the control file cannot be read, the case\n"
            "       has errors or sets an option the command does not implement\n"
            "  130  stopped by Ctrl-C, SIGTERM or a pest.stp file\n");
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

int cli_check_support(const struct pst_case *c, const char *path, enum pst_cmd cmd, int forgive,
                      struct pst_support_report *rep)
{
    struct pr_error err;
    if (pst_check_support(c, cmd, forgive, rep, &err) == 0) return 0;
    for (size_t i = 0; i < rep->n; i++)
        if (rep->findings[i].is_error) fprintf(stderr, "%s\n", rep->findings[i].text);
    fprintf(stderr,
            "pestrun: %s sets %d option%s that 'pestrun %s' does not implement and that change%s "
            "the result; nothing was run\n",
            path, rep->errors, rep->errors == 1 ? "" : "s", pst_command_name(cmd),
            rep->errors == 1 ? "s" : "");
    return -1;
}

int cli_parse_only(const struct pst_case *c, const char *path, int *status)
{
    struct pr_error err;
    int parse_only;
    if (pst_opt_bool(c, "debug_parse_only", 0, &parse_only, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        *status = 2;
        return 1;
    }
    if (!parse_only) return 0;
    printf("%s: ++debug_parse_only(true): the case was read and checked; no model was run\n", path);
    *status = 0;
    return 1;
}

struct pst_case *cli_load_checked(const char *path, enum pst_cmd cmd, int forgive, int *status,
                                  struct pst_support_report *rep)
{
    struct pst_check_sink sink = {NULL, NULL, 0, 0};
    struct pr_error err;
    struct pst_case *c = pst_load(path, &err);

    memset(rep, 0, sizeof(*rep));
    *status = 2;
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    if (pst_check(c, NULL, &sink) > 0) {
        fprintf(stderr, "pestrun: %s has %d error%s: run 'pestrun check %s'\n", path, sink.errors,
                sink.errors == 1 ? "" : "s", path);
        goto stop;
    }
    if (cli_check_support(c, path, cmd, forgive, rep) < 0 || cli_parse_only(c, path, status))
        goto stop;
    return c;
stop:
    pst_destroy(c);
    return NULL;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void cli_support_warnings(const struct pst_support_report *rep, int quiet, int json)
{
    for (size_t i = 0; !quiet && i < rep->n; i++) {
        if (rep->findings[i].is_error) continue;
        if (json) {
            fputs("{\"event\":\"warning\",\"message\":", stderr);
            cli_json_string(stderr, rep->findings[i].text);
            fputs("}\n", stderr);
        } else {
            fprintf(stderr, "pestrun: warning: %s\n", rep->findings[i].text);
        }
    }
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
    for (size_t i = 0; commands[i]; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) return commands[i]->fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see 'pestrun --help')", argv[1]);
    return 2;
}
