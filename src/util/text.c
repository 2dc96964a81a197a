#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strbuf.h"

int pr_read_file_into(const char *path, struct strbuf *sb, struct pr_error *err)
{
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;

    sb_reset(sb);
    if (fd < 0) return pr_error_set(err, "%s: cannot read: %s", path, strerror(errno));
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return pr_error_set(err, "%s: cannot read: it is a directory", path);
    }
    if (fstat(fd, &st) == 0 && st.st_size > 0) sb_reserve(sb, (size_t)st.st_size);
    for (;;) {
        size_t room = sb->cap > sb->len + 1 ? sb->cap - sb->len - 1 : 0;
        char *dst = room >= sizeof(chunk) ? sb->data + sb->len : chunk;
        size_t want = room >= sizeof(chunk) ? room : sizeof(chunk);
        ssize_t n = read(fd, dst, want);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return pr_error_set(err, "%s: cannot read: %s", path, strerror(e));
        }
        if (dst == chunk) {
            sb_append(sb, chunk, (size_t)n);
        } else {
            sb->len += (size_t)n;
            sb->data[sb->len] = '\0';
        }
    }
    close(fd);
    if (!sb->data) { /* an empty file: still hand back an empty string */
        sb_reserve(sb, 0);
        sb->data[0] = '\0';
    }
    return 0;
}

char *pr_read_file(const char *path, size_t *len, struct pr_error *err)
{
    struct strbuf sb = {0};
    if (pr_read_file_into(path, &sb, err) < 0) {
        sb_free(&sb);
        return NULL;
    }
    if (len) *len = sb.len;
    return sb_take(&sb);
}

int pr_write_file(const char *path, const char *data, size_t len, struct pr_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t off = 0;

    if (fd < 0) return pr_error_set(err, "%s: cannot write: %s", path, strerror(errno));
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            pr_error_set(err, "%s: cannot write: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0) return pr_error_set(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

size_t pr_tokenize(char *s, const char *delims, char **tok, size_t max)
{
    size_t n = 0;
    char *p = s;

    for (;;) {
        p += strspn(p, delims);
        if (!*p) break;
        char *end = p + strcspn(p, delims);
        if (n < max) tok[n] = p;
        n++;
        if (!*end) break;
        *end = '\0';
        p = end + 1;
    }
    return n;
}

int pr_parse_double(const char *s, double *out, int finite_normal)
{
    char *end;
    double v;

    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0') return -1;
    if (finite_normal && v != 0.0 && !isnormal(v)) return -1;
    if (errno == ERANGE) /* overflow or underflow: std::stod throws on both */
        return -1;
    *out = v;
    return 0;
}

int pr_parse_int(const char *s, int *out)
{
    char *end;
    long v;

    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v > INT_MAX || v < INT_MIN) return -1;
    *out = (int)v;
    return 0;
}

int pr_parse_bool(const char *s, int *out)
{
    int v;
    if (pr_strieq(s, "true") || pr_strieq(s, "t")) {
        *out = 1;
        return 0;
    }
    if (pr_strieq(s, "false") || pr_strieq(s, "f")) {
        *out = 0;
        return 0;
    }
    if (pr_parse_int(s, &v) == 0) {
        *out = v != 0;
        return 0;
    }
    return -1;
}

void pr_upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

void pr_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

int pr_strieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

int pr_istarts(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

char *pr_strip(char *s, const char *set)
{
    size_t n;
    s += strspn(s, set);
    n = strlen(s);
    while (n > 0 && strchr(set, s[n - 1]))
        s[--n] = '\0';
    return s;
}

char *pr_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return xstrdup(".");
    if (slash == path) return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

char *pr_path_join(const char *dir, const char *name)
{
    struct strbuf sb = {0};
    if (!dir || name[0] == '/' || strcmp(dir, ".") == 0) return xstrdup(name);
    sb_puts(&sb, dir);
    if (sb.len && sb.data[sb.len - 1] != '/') sb_putc(&sb, '/');
    sb_puts(&sb, name);
    return sb_take(&sb);
}

int pr_parse_double_list(const char *text, double **out, size_t *n)
{
    char *copy = xstrdup(text);
    char *tok[256];
    size_t k = pr_tokenize(copy, ", \t", tok, 256);
    *out = xcalloc(k + 2, sizeof(double));
    *n = 0;
    for (size_t i = 0; i < k && i < 256; i++) {
        double v;
        if (pr_parse_double(tok[i], &v, 1) < 0) {
            free(copy);
            return -1;
        }
        (*out)[(*n)++] = v;
    }
    free(copy);
    return 0;
}
