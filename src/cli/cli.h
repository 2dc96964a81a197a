/* pestrun's subcommands. Each takes argc/argv from the subcommand name on and returns the
 * process exit status: 0 success, 1 the job failed (a failed run, problems found), 2 bad usage
 * or input that could not be read. */
#ifndef PR_CLI_H
#define PR_CLI_H

struct pst_case;

int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_glm(int argc, char **argv);
int cmd_jacobian(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_panther(int argc, char **argv);
int cmd_agent(int argc, char **argv);

/* Print "pestrun: message" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Path of an output file beside the control file: DIR/CASE.ext. malloc'd. */
char *cli_case_output(const char *pst_path, const char *ext);

/* Load a control file and run every check on it; on an error print it (or the count of
 * problems, pointing at 'pestrun check') and return NULL. */
struct pst_case *cli_load_checked(const char *path);

#endif
