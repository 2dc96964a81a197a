/* Error reporting shared by every module.
 *
 * Functions that can fail return -1 (or NULL) and fill a caller's struct pr_error with a message
 * a user can act on: it names the file, the line and what was expected, e.g.
 * "case.pst:12: parameter 'K1': lower bound 5 is above upper bound 1". */
#ifndef PR_ERROR_H
#define PR_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define PR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PR_PRINTF(a, b)
#endif

#define PR_ERROR_MAX 1024

struct pr_error {
    char msg[PR_ERROR_MAX];
};

/* Set the message (printf format). A NULL err is allowed. Always returns -1. */
int pr_error_set(struct pr_error *err, const char *fmt, ...) PR_PRINTF(2, 3);

/* Put "prefix: " in front of the current message. Always returns -1. */
int pr_error_prefix(struct pr_error *err, const char *fmt, ...) PR_PRINTF(2, 3);

#endif
