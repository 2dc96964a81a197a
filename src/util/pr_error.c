#include "pr_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pr_error_set(struct pr_error *err, const char *fmt, ...)
{
    va_list ap;

    if (!err) return -1;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int pr_error_prefix(struct pr_error *err, const char *fmt, ...)
{
    char prefix[PR_ERROR_MAX];
    char old[PR_ERROR_MAX];
    va_list ap;

    if (!err) return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t n = strnlen(prefix, sizeof(prefix) - 1);
    if (n > sizeof(err->msg) - 3) n = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof(err->msg) - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return -1;
}
