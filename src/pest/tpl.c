/* PEST template files (SPEC §2).
 *
 * A template is compiled once into its body text (every line after the first, each ending in
 * '\n') and a list of parameter spaces (offset and width in that text). Filling walks the list,
 * copying the literal bytes between spaces and formatting each value straight into the output
 * buffer, so a fill does no parsing and no allocation beyond the growth of the output. */
#include "tpl.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tpl_field {
    size_t off;   /* first byte of the space (the opening marker) in body */
    int width;    /* bytes from marker to marker inclusive */
    int line;     /* 1-based line in the template file */
    size_t param; /* index into the template's distinct names */
};

struct tpl {
    char *name;
    char *body;
    size_t body_len;
    struct tpl_field *fields;
    size_t nfields;
    struct names *params; /* distinct names, in order of first appearance */
    int *param_line;      /* line of first appearance, per distinct name */
    int *bound;           /* per distinct name: index in the bound table (NULL until bound) */
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* --- number formatting ------------------------------------------------------------------ */

/* Longest string the formatting loop can need outside out[]: the desperate-measures attempt is
 * made at precision <= 1 (or 6 when the precision went negative, as in printf and libstdc++),
 * i.e. at most sign + 309 integer digits + '.' + 6 decimals. */
#define TPL_SCRATCH 512

/* The "desperate measures" of PEST++ applied to s (formatted at the last precision tried), which
 * is longer than width. Returns the length of the result written to s, or -1 when PEST++ gives up.
 * A result longer than width is possible (fixed notation, integer part too long): the caller's
 * final length check turns it into an error, as in PEST++. */
static int desperate(char *s, int n, int width)
{
    char *dot, *e;
    int r, ei;

    if (n >= 2 && s[n - 2] == '0') { /* drop a leading zero of the exponent */
        s[n - 2] = s[n - 1];
        s[--n] = '\0';
        if (n <= width) return n;
    }
    dot = strchr(s, '.');
    e = strpbrk(s, "eE");
    r = dot ? (int)(dot - s) + 1 : 0; /* std::string::npos + 1 == 0 */
    ei = e ? (int)(e - s) : -1;
    if (ei != -1 && r != ei) {
        char frac[TPL_SCRATCH];
        memcpy(frac, s + r, (size_t)(ei - r));
        frac[ei - r] = '\0';
        if (strtod(frac, NULL) == 0.0) {
            /* with no radix PEST++'s substr(0, npos) keeps the whole string */
            int keep = r ? r - 1 : n;
            int tail = n - ei;
            if (keep + tail >= TPL_SCRATCH) return -1;
            memmove(s + keep, s + ei, (size_t)tail);
            n = keep + tail;
            s[n] = '\0';
            if (n <= width) return n;
        }
        return -1;
    }
    if (ei == -1) { /* fixed notation: truncate to the integer part if that fits */
        int keep = r ? r - 1 : n;
        if (keep <= width) {
            s[keep] = '\0';
            n = keep;
        }
        return n;
    }
    return -1;
}

#define FAST_PREC 18

/* The formatting loop of cast_to_fixed_len_string. Leaves the unpadded text in out (len
 * returned) or returns -1. out has width + 1 bytes. */
static int format_unpadded(double v, int width, int force_decimal, char *out)
{
    int prec = width;
    int sci = 0, last_len = -1, n;

    if (v < 0) prec--;
    if (!force_decimal && (fabs(v) >= 100 || fabs(v) < 0.01)) {
        prec -= 2;
        sci = 1;
    }
    /* Skip the precisions that cannot fit, so wide fields cost two or three snprintf calls, not
     * a dozen. At FAST_PREC digits or more no rounding carry can change a length (a double
     * never rounds to a power of ten at 16 or more significant digits), so below that the
     * length is len(FAST_PREC) - FAST_PREC + prec: every precision above guess + 1 is too long,
     * and none of them can end the loop through the equal-length rule. */
    if (!force_decimal && prec > FAST_PREC + 1) {
        char s[TPL_SCRATCH];
        int m = snprintf(s, sizeof(s), sci ? "%.*e" : "%.*f", FAST_PREC, v);
        if (m > 0 && m < (int)sizeof(s)) {
            int start = width - (m - FAST_PREC) + 1;
            if (start < FAST_PREC) start = FAST_PREC;
            if (start < prec) prec = start;
        }
    }
    for (;;) {
        /* a negative precision means 6 in printf, as in libstdc++'s float output */
        n = snprintf(out, (size_t)width + 1, sci ? "%.*e" : "%.*f", prec, v);
        if (n < 0) return -1;
        if (n <= width) return n;
        prec--;
        if (prec <= 0) {
            char s[TPL_SCRATCH];
            int m = snprintf(s, sizeof(s), sci ? "%.*e" : "%.*f", prec + 1, v);
            if (m < 0 || m >= (int)sizeof(s)) return -1;
            m = desperate(s, m, width);
            if (m < 0 || m > width) return -1;
            memcpy(out, s, (size_t)m + 1);
            return m;
        }
        if (n == last_len) {
            if (sci) return -1; /* PEST++: "val_str size not decreasing" */
            out[width] = '\0';  /* snprintf kept exactly the first width bytes */
            return width;
        }
        last_len = n;
    }
}

/* PEST++ reads every field back with std::stod, which throws when strtod reports ERANGE: a
 * field that rounds to a denormal near DBL_MIN (2.2e-308) or overflows (1.8e+308) fails the
 * run. errno is left as it was. */
static int reads_back(const char *field)
{
    int saved = errno, rc;

    errno = 0;
    (void)strtod(field, NULL);
    rc = errno == ERANGE ? -1 : 0;
    errno = saved;
    return rc;
}

int tpl_format(double v, int width, const struct tpl_opts *opts, char *out)
{
    int force_decimal = opts ? opts->force_decimal : 0;
    int fill_zeros = opts ? opts->fill_zeros : 0;
    int n, pad;
    char *num;

    if (!out || width < 1) {
        if (out && width == 0) out[0] = '\0';
        return -1;
    }
    n = format_unpadded(v, width, force_decimal, out);
    if (n < 0) {
        out[0] = '\0';
        return -1;
    }
    pad = width - n;
    if (pad > 0) {
        num = out;
        if (fill_zeros && out[0] == '-') num++; /* the sign stays in front of the zeros */
        memmove(num + pad, num, (size_t)(out + n - num));
        memset(num, fill_zeros ? '0' : ' ', (size_t)pad);
        out[width] = '\0';
    }
    if (reads_back(out) < 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* --- parsing ------------------------------------------------------------------------------ */

void tpl_destroy(struct tpl *t)
{
    if (!t) return;
    free(t->name);
    free(t->body);
    free(t->fields);
    names_destroy(t->params);
    free(t->param_line);
    free(t->bound);
    free(t);
}

/* Split the first line into whitespace tokens; fills at most 3. */
static int header_tokens(const char *s, size_t n, const char **tok, size_t *tlen)
{
    int count = 0;
    size_t i = 0;

    while (i < n) {
        size_t start;
        while (i < n && is_blank(s[i]))
            i++;
        if (i >= n) break;
        start = i;
        while (i < n && !is_blank(s[i]))
            i++;
        if (count < 3) {
            tok[count] = s + start;
            tlen[count] = i - start;
        }
        count++;
    }
    return count;
}

static int parse_header(const char *s, size_t n, const char *name, char *marker,
                        struct pr_error *err)
{
    const char *tok[3];
    size_t tlen[3];
    int count = header_tokens(s, n, tok, tlen);

    if (count < 2)
        return pr_error_set(err, "%s:1: expected 'ptf <marker>' on the first line", name);
    if (count > 2)
        return pr_error_set(err,
                            "%s:1: expected 'ptf <marker>' on the first line, found extra "
                            "items after the marker",
                            name);
    if (tlen[0] != 3 || (strncasecmp(tok[0], "ptf", 3) && strncasecmp(tok[0], "jtf", 3)))
        return pr_error_set(err, "%s:1: expected 'ptf <marker>' on the first line, not '%.*s'",
                            name, (int)(tlen[0] > 40 ? 40 : tlen[0]), tok[0]);
    if (tlen[1] != 1)
        return pr_error_set(err,
                            "%s:1: expected 'ptf <marker>' with a one-character marker, not "
                            "'%.*s'",
                            name, (int)(tlen[1] > 40 ? 40 : tlen[1]), tok[1]);
    *marker = tok[1][0];
    return 0;
}

/* Record the space body[s..e] (both markers) found on line lnum. */
static int add_field(struct tpl *t, size_t *cap, size_t s, size_t e, int lnum, struct pr_error *err)
{
    const char *p = t->body + s + 1, *q = t->body + e;
    char *pname;
    int idx;

    while (p < q && is_blank(*p))
        p++;
    while (q > p && is_blank(q[-1]))
        q--;
    if (p == q)
        return pr_error_set(err, "%s:%d: empty parameter name between markers '%c'", t->name, lnum,
                            t->body[s]);
    if (memchr(p, '\0', (size_t)(q - p)))
        return pr_error_set(err, "%s:%d: NUL byte in a parameter name", t->name, lnum);
    if (e - s + 1 > INT_MAX)
        return pr_error_set(err, "%s:%d: parameter space too wide", t->name, lnum);
    pname = xstrndup(p, (size_t)(q - p));
    idx = names_find(t->params, pname);
    if (idx < 0) {
        idx = names_add(t->params, pname);
        t->param_line = xrealloc(t->param_line, names_count(t->params) * sizeof(int));
        t->param_line[idx] = lnum;
    }
    free(pname);
    if (t->nfields == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        t->fields = xrealloc(t->fields, *cap * sizeof(*t->fields));
    }
    t->fields[t->nfields].off = s;
    t->fields[t->nfields].width = (int)(e - s + 1);
    t->fields[t->nfields].line = lnum;
    t->fields[t->nfields].param = (size_t)idx;
    t->nfields++;
    return 0;
}

/* Find the spaces of every body line. */
static int scan_body(struct tpl *t, char marker, struct pr_error *err)
{
    size_t cap = 0, pos = 0;
    int lnum = 1;

    while (pos < t->body_len) {
        const char *nl = memchr(t->body + pos, '\n', t->body_len - pos);
        size_t end = (size_t)(nl - t->body); /* the body always ends in '\n' */
        size_t i = pos;
        lnum++;
        for (;;) {
            const char *a = memchr(t->body + i, marker, end - i);
            const char *b;
            if (!a) break;
            b = memchr(a + 1, marker, end - (size_t)(a + 1 - t->body));
            if (!b)
                return pr_error_set(err, "%s:%d: unbalanced parameter marker '%c'", t->name, lnum,
                                    marker);
            if (add_field(t, &cap, (size_t)(a - t->body), (size_t)(b - t->body), lnum, err))
                return -1;
            i = (size_t)(b - t->body) + 1;
        }
        pos = end + 1;
    }
    return 0;
}

struct tpl *tpl_parse(const char *buf, size_t len, const char *name, struct pr_error *err)
{
    struct tpl *t = NULL;
    const char *nl;
    size_t hlen, rest;
    char marker = '\0';

    if (!name) name = "(template)";
    if (!buf && len) {
        pr_error_set(err, "%s: no template text", name);
        return NULL;
    }
    nl = len ? memchr(buf, '\n', len) : NULL;
    hlen = nl ? (size_t)(nl - buf) : len;
    if (parse_header(buf, hlen, name, &marker, err)) return NULL;
    if (marker == '\0') {
        pr_error_set(err, "%s:1: expected 'ptf <marker>' with a printable marker", name);
        return NULL;
    }

    t = xcalloc(1, sizeof(*t));
    t->name = xstrdup(name);
    t->params = names_create();
    rest = nl ? len - hlen - 1 : 0;
    t->body = xmalloc(rest + 2);
    if (rest) memcpy(t->body, nl + 1, rest);
    if (rest && t->body[rest - 1] != '\n') t->body[rest++] = '\n';
    t->body[rest] = '\0';
    t->body_len = rest;
    if (scan_body(t, marker, err)) goto error;
    return t;

error:
    tpl_destroy(t);
    return NULL;
}

size_t tpl_nparams(const struct tpl *t)
{
    return t ? names_count(t->params) : 0;
}

const char *tpl_param_name(const struct tpl *t, size_t i)
{
    return t ? names_get(t->params, i) : NULL;
}

int tpl_param_line(const struct tpl *t, size_t i)
{
    return t && i < names_count(t->params) ? t->param_line[i] : 0;
}

/* --- binding and filling ------------------------------------------------------------------ */

int tpl_bind(struct tpl *t, const struct names *params, struct pr_error *err)
{
    size_t n, i;
    int *bound;

    if (!t || !params) return pr_error_set(err, "tpl_bind: no template or no parameter table");
    n = names_count(t->params);
    bound = xmalloc((n ? n : 1) * sizeof(int));
    for (i = 0; i < n; i++) {
        bound[i] = names_find(params, names_get(t->params, i));
        if (bound[i] < 0) {
            pr_error_set(err, "%s:%d: parameter '%s' is not listed in the control file", t->name,
                         t->param_line[i], names_get(t->params, i));
            free(bound);
            return -1;
        }
    }
    free(t->bound);
    t->bound = bound;
    return 0;
}

/* Shortest "%.Ng" text that reads back as v, for messages. */
static void value_text(double v, char *buf, size_t size)
{
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Read back the value of a space that has just been written at out->data[off]: the byte after
 * the space is replaced by a NUL for strtod and then restored. */
static double read_back(struct strbuf *out, size_t off, int width)
{
    char *end = out->data + off + width;
    char saved = *end;
    double v;

    *end = '\0';
    v = strtod(out->data + off, NULL);
    *end = saved;
    return v;
}

int tpl_fill(const struct tpl *t, const double *values, const struct tpl_opts *opts,
             struct strbuf *out, double *processed, unsigned char *written, struct pr_error *err)
{
    size_t start, cursor = 0, pos;

    if (!t || !values || !out || !processed || !written)
        return pr_error_set(err, "tpl_fill: missing template, values or output");
    if (!t->bound && t->nfields)
        return pr_error_set(err, "%s: template filled before its parameters were bound", t->name);
    start = out->len;
    for (size_t i = 0; i < t->nfields; i++) {
        const struct tpl_field *f = &t->fields[i];
        double v = values[t->bound[f->param]];
        sb_append(out, t->body + cursor, f->off - cursor);
        sb_reserve(out, (size_t)f->width);
        if (tpl_format(v, f->width, opts, out->data + out->len)) {
            char vbuf[64];
            value_text(v, vbuf, sizeof(vbuf));
            out->len = start;
            out->data[start] = '\0';
            return pr_error_set(err,
                                "%s:%d: cannot write value %s of parameter '%s' in a space "
                                "of %d characters",
                                t->name, f->line, vbuf, names_get(t->params, f->param), f->width);
        }
        out->len += (size_t)f->width;
        cursor = f->off + (size_t)f->width;
    }
    sb_append(out, t->body + cursor, t->body_len - cursor);

    /* Only a successful fill records processed values (first occurrence wins). */
    pos = start;
    cursor = 0;
    for (size_t i = 0; i < t->nfields; i++) {
        const struct tpl_field *f = &t->fields[i];
        int idx = t->bound[f->param];
        pos += f->off - cursor;
        if (!written[idx]) {
            processed[idx] = read_back(out, pos, f->width);
            written[idx] = 1;
        }
        pos += (size_t)f->width;
        cursor = f->off + (size_t)f->width;
    }
    return 0;
}
