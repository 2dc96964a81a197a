#include "options.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HELP_WIDTH 80
#define HELP_COLUMN 26 /* where an option's text starts */

static const struct cli_option help_option[] = {
    {"help", CLI_HELP, NULL, "this help"},
    {NULL, 0, NULL, NULL},
};

static int is_short(int id)
{
    return id > 0 && id < 128 && ((id >= 'a' && id <= 'z') || (id >= 'A' && id <= 'Z'));
}

/* Every option of cmd in help order, --help last: calls fn(o, ctx) for each. */
static void each_option(const struct cli_command *cmd,
                        void (*fn)(const struct cli_option *o, void *ctx), void *ctx)
{
    for (const struct cli_group *g = cmd->groups; g && g->options; g++)
        for (const struct cli_option *o = g->options; o->name; o++)
            fn(o, ctx);
    fn(&help_option[0], ctx);
}

static void die(const struct cli_parser *p, const char *what, const char *name)
{
    fprintf(stderr, "pestrun %s: option table: %s '%s'\n", p->cmd->name, what, name);
    abort();
}

static void add_option(const struct cli_option *o, void *ctx)
{
    struct cli_parser *p = ctx;
    size_t n = 0;
    while (p->longopts[n].name)
        n++;
    if (n >= CLI_MAX_OPTIONS) die(p, "more than CLI_MAX_OPTIONS options at", o->name);
    if (!is_short(o->id) && o->id < 256)
        die(p, "an id that is neither a letter nor >= 256 for", o->name);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->longopts[i].name, o->name) == 0) die(p, "a name given twice:", o->name);
        if (p->longopts[i].val == o->id) die(p, "an id given twice, at", o->name);
    }
    p->longopts[n] =
        (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
    if (is_short(o->id)) {
        size_t k = strlen(p->shortopts);
        p->shortopts[k++] = (char)o->id;
        if (o->arg) p->shortopts[k++] = ':';
        p->shortopts[k] = '\0';
    }
}

void cli_parser_init(struct cli_parser *p, const struct cli_command *cmd, int argc, char **argv)
{
    memset(p, 0, sizeof(*p));
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->shortopts[0] = ':'; /* a missing value returns ':', told apart from an unknown option */
    each_option(cmd, add_option, p);
    optind = 0; /* glibc: 0 also forgets a word left half-read by an earlier parse */
    opterr = 0;
}

static const struct option *by_id(const struct cli_parser *p, int id)
{
    for (const struct option *o = p->longopts; o->name; o++)
        if (o->val == id) return o;
    return NULL;
}

/* "pestrun CMD: MESSAGE (see 'pestrun CMD --help')" on stderr; status 2. Returns CLI_STOP. */
static int usage_error(struct cli_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(struct cli_parser *p, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pestrun %s: ", p->cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'pestrun %s --help')\n", p->cmd->name);
    p->status = 2;
    return CLI_STOP;
}

/* An unknown or ambiguous long option: say which, and the candidates of an abbreviation. */
static int unknown_long(struct cli_parser *p, const char *text)
{
    size_t len = strcspn(text + 2, "=");
    char could[512] = "";
    int matches = 0;
    for (const struct option *o = p->longopts; o->name; o++)
        if (strncmp(o->name, text + 2, len) == 0) {
            size_t k = strlen(could);
            snprintf(could + k, sizeof(could) - k, "%s--%s", matches ? ", " : "", o->name);
            matches++;
        }
    if (matches < 2) return usage_error(p, "unknown option '%.*s'", (int)len + 2, text);
    return usage_error(p, "ambiguous option '%.*s': %s?", (int)len + 2, text, could);
}

int cli_next(struct cli_parser *p, const char **arg)
{
    int opt = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
    *arg = optarg;
    if (opt == -1) {
        p->next = optind;
        return CLI_END;
    }
    if (opt == CLI_HELP) {
        cli_help(p->cmd, stdout);
        p->status = 0;
        return CLI_STOP;
    }
    const struct option *o = optopt ? by_id(p, optopt) : NULL;
    if (opt == ':' && o && is_short(o->val))
        return usage_error(p, "option '--%s' (-%c) needs a value", o->name, o->val);
    if (opt == ':') return usage_error(p, "option '--%s' needs a value", o ? o->name : "?");
    if (opt == '?' && o) /* only a long option can be given a value with '=' */
        return usage_error(p, "option '--%s' takes no value", o->name);
    if (opt == '?' && optopt) return usage_error(p, "unknown option '-%c'", optopt);
    if (opt == '?') /* an unknown long option: getopt_long has just stepped over it */
        return unknown_long(p, optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "--?");
    return opt;
}

int cli_operands(struct cli_parser *p, int min, int max, const char *names)
{
    int n = p->argc - p->next;
    if (n >= min && n <= max) return 0;
    if (n < min)
        usage_error(p, "expected %s", names);
    else
        usage_error(p, "unexpected argument '%s': expected %s", p->argv[p->next + max], names);
    return -1;
}

int cli_bad_value(struct cli_parser *p, const char *option, const char *expected, const char *got)
{
    fprintf(stderr, "pestrun %s: %s: expected %s, got '%s'\n", p->cmd->name, option, expected, got);
    p->status = 2;
    return 2;
}

/* ------------------------------------------------------------------------------------------ */
/* the help                                                                                   */

void cli_wrap(FILE *out, const char *text, int first, int indent, int width)
{
    int col = first, empty = 1; /* empty: nothing written on this line yet */
    for (const char *p = text; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (*p == '\n') { /* a line break the text asks for */
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            empty = 1;
            p++;
            continue;
        }
        size_t len = strcspn(p, " \n");
        if (!empty && col + 1 + (int)len > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            empty = 1;
        }
        if (!empty) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, len, out);
        col += (int)len;
        empty = 0;
        p += len;
    }
    fputc('\n', out);
}

int cli_option_label(const struct cli_option *o, char *buf, size_t n)
{
    char sh[8] = "    ";
    if (is_short(o->id)) snprintf(sh, sizeof(sh), "-%c, ", o->id);
    return snprintf(buf, n, "%s--%s%s%s", sh, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void print_option(const struct cli_option *o, void *ctx)
{
    FILE *out = ctx;
    char label[128];
    int len = 2 + cli_option_label(o, label, sizeof(label));
    fprintf(out, "  %s", label);
    if (len + 2 > HELP_COLUMN) {
        fprintf(out, "\n%*s", HELP_COLUMN, "");
        len = HELP_COLUMN;
    } else {
        fprintf(out, "%*s", HELP_COLUMN - len, "");
        len = HELP_COLUMN;
    }
    cli_wrap(out, o->help, len, HELP_COLUMN, HELP_WIDTH);
}

void cli_help(const struct cli_command *cmd, FILE *out)
{
    static const char *const codes[] = {"0", "1", "2", "130"};
    fprintf(out, "usage: pestrun %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->about);
    fputs("exit status:\n", out);
    for (int i = 0; i < 4; i++) {
        if (!cmd->exit_status[i]) continue;
        fprintf(out, "  %-5s", codes[i]);
        cli_wrap(out, cmd->exit_status[i], 7, 7, HELP_WIDTH);
    }
    /* --help goes with the command's own options (the untitled first group), or first */
    const struct cli_group *g = cmd->groups;
    if (!g || !g->options || g->title) {
        fputs("\noptions:\n", out);
        print_option(&help_option[0], out);
    }
    for (; g && g->options; g++) {
        fputc('\n', out);
        if (g->title)
            cli_wrap(out, g->title, 0, 2, HELP_WIDTH);
        else
            fputs("options:\n", out);
        for (const struct cli_option *o = g->options; o->name; o++)
            print_option(o, out);
        if (g == cmd->groups && !g->title) print_option(&help_option[0], out);
    }
}
