/* Everything pestchek, tempchek and inschek would tell a user about a case, as
 * "file:line: message" lines: bounds, transforms, ties, templates and instruction files
 * against the control file in both directions; and, as warnings, the options and control-data
 * fields some pestrun command does not implement (pst_check_support with PST_CMD_CHECK). */
#ifndef PR_CHECK_H
#define PR_CHECK_H

#include "pst.h"

struct pst_check_sink {
    /* Called once per finding, in a stable order. msg is "file:line: text". */
    void (*emit)(void *ctx, int is_error, const char *msg);
    void *ctx;
    int errors;
    int warnings;
};

/* Check case c; its templates and instruction files are read from dir (NULL: the case's own
 * folder). Returns the number of errors (warnings are counted in sink->warnings). */
int pst_check(const struct pst_case *c, const char *dir, struct pst_check_sink *sink);

#endif
