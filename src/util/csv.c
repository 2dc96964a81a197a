#include "csv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "text.h"

struct csv {
    char **cols;
    size_t ncols;
    char **cells; /* nrows * ncols */
    int *lines;
    size_t nrows;
    char *text; /* owns the field bytes */
};

size_t csv_split(char *line, char sep, char **fields, size_t max)
{
    size_t n = 0;
    char *r = line, *w = line;

    if (sep == 'w') {
        while (*r) {
            r += strspn(r, " \t");
            if (!*r) break;
            char *start = w;
            int quoted = 0;
            while (*r && (quoted || (*r != ' ' && *r != '\t'))) {
                if (*r == '"')
                    quoted = !quoted;
                else
                    *w++ = *r;
                r++;
            }
            if (*r) r++;
            *w++ = '\0';
            if (n < max) fields[n] = start;
            n++;
        }
        return n;
    }
    for (;;) {
        char *start = w;
        int quoted = 0;
        while (*r && (quoted || *r != sep)) {
            if (*r == '"')
                quoted = !quoted;
            else
                *w++ = *r;
            r++;
        }
        int more = *r == sep;
        if (more) r++;
        *w++ = '\0';
        if (n < max) fields[n] = start;
        n++;
        if (!more) break;
    }
    return n;
}

void csv_destroy(struct csv *c)
{
    if (!c) return;
    free(c->cols);
    free(c->cells);
    free(c->lines);
    free(c->text);
    free(c);
}

static void strip_controls(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++)
        if (!iscntrl((unsigned char)*r)) *w++ = *r;
    *w = '\0';
}

struct csv *csv_parse(const char *buf, size_t len, const char *name, char sep, struct pr_error *err)
{
    struct csv *c = xcalloc(1, sizeof(*c));
    size_t cap = 0, nlines = 0;
    char **lines, **row = NULL;
    int *lineno;
    char *p;

    c->text = xstrndup(buf, len);
    /* Split into lines first; each line is then split in place. */
    for (p = c->text; p <= c->text + len; nlines++) {
        char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    lines = xcalloc(nlines + 2, sizeof(char *));
    lineno = xcalloc(nlines + 2, sizeof(int));
    size_t nl_count = 0;
    int ln = 0;
    for (p = c->text; p && *p != '\0';) {
        char *nl = strchr(p, '\n');
        ln++;
        if (nl) *nl = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = '\0';
        char *s = pr_strip(p, " \t");
        if (*s && *s != '#') {
            lines[nl_count] = s;
            lineno[nl_count++] = ln;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (nl_count == 0) {
        pr_error_set(err, "%s: empty file: expected a header line", name);
        goto error;
    }
    /* header */
    {
        char *tmp = xstrdup(lines[0]);
        size_t nh = csv_split(tmp, sep, NULL, 0);
        free(tmp);
        c->cols = xcalloc(nh, sizeof(char *));
        c->ncols = csv_split(lines[0], sep, c->cols, nh);
    }
    for (size_t i = 0; i < c->ncols; i++) {
        strip_controls(c->cols[i]);
        c->cols[i] = pr_strip(c->cols[i], " \t");
        pr_upper(c->cols[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->cols[i], c->cols[j]) == 0) {
                pr_error_set(err, "%s:%d: column '%s' appears twice in the header", name, lineno[0],
                             c->cols[i]);
                goto error;
            }
    }
    cap = nl_count - 1;
    c->cells = xcalloc(cap * c->ncols + 1, sizeof(char *));
    c->lines = xcalloc(cap + 1, sizeof(int));
    row = xcalloc(c->ncols + 1, sizeof(char *));
    for (size_t r = 1; r < nl_count; r++) {
        size_t n = csv_split(lines[r], sep, row, c->ncols + 1);
        if (n == c->ncols + 1 && row[c->ncols][0] == '\0')
            n = c->ncols; /* a trailing empty field is tolerated */
        if (n != c->ncols) {
            pr_error_set(err, "%s:%d: %zu fields where the header has %zu", name, lineno[r], n,
                         c->ncols);
            goto error;
        }
        for (size_t k = 0; k < c->ncols; k++)
            c->cells[c->nrows * c->ncols + k] = pr_strip(row[k], " \t");
        c->lines[c->nrows++] = lineno[r];
    }
    free(row);
    free(lines);
    free(lineno);
    return c;
error:
    free(row);
    free(lines);
    free(lineno);
    csv_destroy(c);
    return NULL;
}

size_t csv_ncols(const struct csv *c)
{
    return c->ncols;
}

const char *csv_colname(const struct csv *c, size_t col)
{
    return col < c->ncols ? c->cols[col] : NULL;
}

int csv_find(const struct csv *c, const char *const *names)
{
    for (; *names; names++)
        for (size_t i = 0; i < c->ncols; i++)
            if (pr_strieq(c->cols[i], *names)) return (int)i;
    return -1;
}

size_t csv_nrows(const struct csv *c)
{
    return c->nrows;
}

const char *csv_field(const struct csv *c, size_t row, size_t col)
{
    return c->cells[row * c->ncols + col];
}

int csv_row_line(const struct csv *c, size_t row)
{
    return c->lines[row];
}
