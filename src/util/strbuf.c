#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
    fputs("pestrun: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sb_reserve(struct strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
}

void sb_append(struct strbuf *sb, const char *s, size_t n)
{
    sb_reserve(sb, n);
    if (n) memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

void sb_putc(struct strbuf *sb, char c)
{
    sb_append(sb, &c, 1);
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sb_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->data) sb->data[0] = '\0';
}

void sb_free(struct strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

char *sb_take(struct strbuf *sb)
{
    char *p;
    if (!sb->data) return xstrdup("");
    p = sb->data;
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return p;
}

void sb_put_xml(struct strbuf *sb, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&':
            sb_puts(sb, "&amp;");
            break;
        case '<':
            sb_puts(sb, "&lt;");
            break;
        case '>':
            sb_puts(sb, "&gt;");
            break;
        case '"':
            sb_puts(sb, "&quot;");
            break;
        case '\'':
            sb_puts(sb, "&#39;");
            break;
        default:
            if (ch >= 0x20 || ch == '\n' || ch == '\t') sb_putc(sb, (char)ch);
        }
    }
}
