/* A growable byte buffer, always NUL-terminated after the last byte. A zeroed struct is an
 * empty buffer. Allocation failure aborts: these buffers hold small texts and model files. */
#ifndef PR_STRBUF_H
#define PR_STRBUF_H

#include <stddef.h>

#include "pr_error.h"

struct strbuf {
    char *data;
    size_t len;
    size_t cap;
};

void sb_reserve(struct strbuf *sb, size_t extra);
void sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) PR_PRINTF(2, 3);
/* Append s with &, <, >, " and ' escaped for XML text or attributes; control characters other
 * than newline and tab are dropped (XML 1.0 cannot carry them). s may be NULL. */
void sb_put_xml(struct strbuf *sb, const char *s);
void sb_reset(struct strbuf *sb);
void sb_free(struct strbuf *sb);
/* Hand the buffer to the caller (free() it); the strbuf is left empty. Never NULL. */
char *sb_take(struct strbuf *sb);

/* malloc/calloc/realloc/strdup that abort with a message when memory is exhausted. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
