/* No silent options: what each pestrun command does with the ++ options and control-data fields
 * a case sets. An option that changes the result and that the command does not implement stops
 * it (unless forgiven); one it reads without implementing (output, performance, transport
 * settings pestrun replaces) is a warning; another program's option, one PEST++ itself
 * ignores and one set to its default say nothing. The table is in pst_options.c. */
#ifndef PR_PST_SUPPORT_H
#define PR_PST_SUPPORT_H

#include <stdio.h>

#include "pst.h"

enum pst_cmd {
    PST_CMD_CHECK, /* pestrun check: every finding of every command below, as a warning */
    PST_CMD_RUN,
    PST_CMD_SWEEP,
    PST_CMD_JACOBIAN,
    PST_CMD_GLM,
    PST_CMD_PANTHER,
    PST_CMD_IES,
};

enum pst_support {
    PST_SUPPORT_UNUSED,         /* another program's option, or no meaning for this command */
    PST_SUPPORT_IGNORED,        /* PEST++ itself ignores it */
    PST_SUPPORT_IMPLEMENTED,    /* pestrun does what PEST++ does */
    PST_SUPPORT_TRANSPORT,      /* honoured by pestrun's scheduler or transport */
    PST_SUPPORT_REPLACED,       /* a transport setting pestrun's own transport replaces */
    PST_SUPPORT_HARMLESS,       /* read, not implemented, does not change the result */
    PST_SUPPORT_CHANGES_RESULT, /* not implemented, changes the result */
    PST_SUPPORT_UNKNOWN,        /* not an option of PEST++ 5.2.23 */
};

struct pst_support_finding {
    const char *option;      /* the table's name ("N_ITER_SUPER", "SPLITSWH") or the unknown key */
    struct pst_loc loc;      /* where the case gives it */
    enum pst_support status; /* for PST_CMD_CHECK the most serious over the commands */
    int is_error;            /* the command must stop */
    char *text;              /* "file:line: message" */
};

struct pst_support_report {
    struct pst_support_finding *findings; /* in file order: ++ options, then control data */
    size_t n;
    int errors, warnings;
};

/* What cmd does with the ++ options and control-data fields case c gives. forgive
 * (--forgive-unimplemented) turns the errors into warnings. out is filled in every case (free
 * it with pst_support_report_free). Returns 0 when cmd may go on, -1 when some finding is an
 * error: err holds the first one ("file:line: ... is not implemented by 'pestrun glm' ..."). */
int pst_check_support(const struct pst_case *c, enum pst_cmd cmd, int forgive,
                      struct pst_support_report *out, struct pr_error *err);
void pst_support_report_free(struct pst_support_report *r);

/* The findings as text, one "indent" + "file:line: message" line each; "" when none.
 * The caller frees it. */
char *pst_support_text(const struct pst_support_report *r, const char *indent);
/* For a command's record file (CASE.rec): a heading and the findings, nothing when there are
 * none. Called once the command runs, so unimplemented options that change the result were
 * forgiven: they are written as ignored. */
void pst_support_fprint(FILE *f, const struct pst_case *c, enum pst_cmd cmd);

/* "glm", "sweep", ... */
const char *pst_command_name(enum pst_cmd cmd);

#endif
