/* A command's options in one table, from which both its getopt_long parser and its --help are
 * made, so that a command lists exactly the options it accepts; and the command's exit
 * statuses, stated in the same help. */
#ifndef PR_CLI_OPTIONS_H
#define PR_CLI_OPTIONS_H

#include <getopt.h>
#include <stdio.h>

struct cli_option {
    const char *name; /* the long name without "--"; NULL ends a table */
    int id;           /* what cli_next returns: a letter for an option that also has a short
                         form (-j), else a number >= 256 */
    const char *arg;  /* the value's name in the help ("N", "DIR"); NULL: it takes no value */
    const char *help; /* one paragraph, wrapped by the help printer */
};

/* A titled part of a command's options (its own, the workers', the journal's, ...). */
struct cli_group {
    const char *title; /* the help's heading; NULL: "options:" */
    const struct cli_option *options;
};

struct cli_command {
    const char *name; /* "sweep" */
    int (*fn)(int argc, char **argv);
    const char *summary;            /* its line in 'pestrun --help' */
    const char *synopsis;           /* after "usage: pestrun NAME " */
    const char *about;              /* the description, printed as given (already wrapped) */
    const char *exit_status[4];     /* what 0, 1, 2 and 130 mean for it; NULL: not used */
    const struct cli_group *groups; /* ends with {NULL, NULL}; -h, --help is always added */
};

#define CLI_MAX_OPTIONS 48

enum {
    CLI_END = -1,  /* no more options: the operands start at cli_parser.next */
    CLI_STOP = -2, /* --help was printed, or a usage error: return cli_parser.status */
    CLI_HELP = 'h',
};

struct cli_parser {
    const struct cli_command *cmd;
    int argc;
    char **argv;
    int next;   /* after CLI_END: the index of the first operand */
    int status; /* after CLI_STOP: 0 (help printed) or 2 (usage error printed) */
    struct option longopts[CLI_MAX_OPTIONS + 2];
    char shortopts[3 * CLI_MAX_OPTIONS + 4];
};

/* Make the getopt_long table of cmd (argv[0] is the command's name). A table that is too long,
 * or gives a name or an id twice, is a programming error: it aborts with a message. */
void cli_parser_init(struct cli_parser *p, const struct cli_command *cmd, int argc, char **argv);
/* The next option: its id, with *arg its value (NULL when it takes none); CLI_END after the
 * last; CLI_STOP after --help (printed on stdout, status 0) or a usage error: an unknown or
 * ambiguous option, a missing value or a value given to an option that takes none (one line on
 * stderr naming it, status 2). Options and operands may be mixed (GNU getopt_long). */
int cli_next(struct cli_parser *p, const char **arg);
/* After CLI_END: 0 when there are between min and max operands (names: what they are, for the
 * message, "CASE.pst"); else -1 with the usage error printed (status 2). */
int cli_operands(struct cli_parser *p, int min, int max, const char *names);
/* A bad value of an option ("expected ..., got ..."): print it and set status 2. Returns 2. */
int cli_bad_value(struct cli_parser *p, const char *option, const char *expected, const char *got);

/* The command's help: usage, description, exit statuses and every option of its table. */
void cli_help(const struct cli_command *cmd, FILE *out);
/* The option's name as the help shows it: "-j, --workers N" or "    --in FILE". */
int cli_option_label(const struct cli_option *o, char *buf, size_t n);
/* Print text wrapped to width, the first line after `first` characters already on it, the
 * others indented by indent spaces. */
void cli_wrap(FILE *out, const char *text, int first, int indent, int width);

#endif
