/* pestrun's subcommands. Each takes argc/argv from the subcommand name on and returns the
 * process exit status, the same convention for every command (README, "Exit status"):
 *   0    the work was done;
 *   1    the work failed or found problems: check's errors, a failed model run (run), a data
 *        file the work reads (a sweep's CSV, glm's outputs for report) that cannot be read,
 *        workers, journal or transport that failed;
 *   2    nothing was done: bad usage, or the control file cannot be read, the case has errors
 *        or sets an option that changes the result and that the command does not implement;
 *   130  stopped by SIGINT, SIGTERM or a pest.stp file.
 * Each command's cli_command (options.h) states what they mean for it in its --help. */
#ifndef PR_CLI_H
#define PR_CLI_H

#include "options.h"
#include <stdio.h>

#include "pest/pst_support.h"

/* The exit statuses every command that loads and checks a case shares (cli_command). */
#define CLI_EXIT_INVALID_CASE(cmd)                                                                 \
    "nothing was run: bad usage, or the control file cannot be read, the case has errors "         \
    "('pestrun check' lists them) or sets an option that changes the result and that "             \
    "'pestrun " cmd "' does not implement"
#define CLI_EXIT_STOPPED                                                                           \
    "stopped by Ctrl-C, SIGTERM or a pest.stp file: every finished run is in the journal, and "    \
    "the same command with --resume goes on"

extern const struct cli_command cli_cmd_check, cli_cmd_run, cli_cmd_sweep, cli_cmd_jacobian,
    cli_cmd_glm, cli_cmd_ies, cli_cmd_report, cli_cmd_panther, cli_cmd_agent, cli_cmd_plan;

int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_glm(int argc, char **argv);
int cmd_ies(int argc, char **argv);
int cmd_jacobian(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_panther(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_plan(int argc, char **argv);

/* s as a JSON string (quoted, escaped) on f. */
void cli_json_string(FILE *f, const char *s);

/* Print "pestrun: message" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Path of an output file beside the control file: DIR/CASE.ext. malloc'd. */
char *cli_case_output(const char *pst_path, const char *ext);

/* Load a control file, run every check on it and judge its options for command cmd
 * (pst_check_support; forgive: --forgive-unimplemented). Returns the case, or NULL with
 * *status set to the exit status: 2 when it cannot be read, has errors (the count is printed,
 * pointing at 'pestrun check') or sets an option that changes the result and that cmd does not
 * implement (each printed); 0 when ++debug_parse_only(true) asks for no run. rep gets the
 * findings either way: print the warnings with cli_support_warnings(), free it with
 * pst_support_report_free(). */
struct pst_case *cli_load_checked(const char *path, enum pst_cmd cmd, int forgive, int *status,
                                  struct pst_support_report *rep);
/* The option part of cli_load_checked for a case checked by other means: 0 to go on, -1 (the
 * errors printed) to stop with status 2. */
int cli_check_support(const struct pst_case *c, const char *path, enum pst_cmd cmd, int forgive,
                      struct pst_support_report *rep);
/* ++debug_parse_only(true) (or a malformed value, printed: *status 2): 1 with *status set when
 * the command must stop here, 0 to go on. */
int cli_parse_only(const struct pst_case *c, const char *path, int *status);
/* Print the warnings of rep on stderr, "pestrun: warning: file:line: ...", or one JSON object a
 * line when json; nothing when quiet. Commands that start workers call it after engine_start,
 * so that under MPI only rank 0 prints. */
void cli_support_warnings(const struct pst_support_report *rep, int quiet, int json);

#endif
