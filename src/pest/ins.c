/* PEST instruction files (SPEC §3).
 *
 * An instruction file is compiled once into a flat array of instructions; applying it walks
 * that array over the output text with a cursor (the current line and the offset of its
 * unconsumed remainder), so a run does no tokenizing of the instruction file and no allocation
 * beyond a scratch copy of an over-long number.
 *
 * The semantics are those of PEST++'s InstructionFile wherever PEST++ succeeds, including its
 * quirks (fixed reads by absolute column, the cursor moving past the first occurrence of the
 * text read, the restart of an instruction line when a secondary marker is missing and nothing
 * has been read yet). Where PEST++ fails on something the PEST manual defines, the manual is
 * followed instead: the tab instruction tN, '&' continuation lines, and a non-fixed observation
 * ending at the first character of a following secondary marker. */
#include "ins.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/strbuf.h"

enum ins_op { OP_LINE, OP_PRIMARY, OP_SECONDARY, OP_WS, OP_TAB, OP_FIXED, OP_SEMI, OP_FREE };

struct instr {
    enum ins_op op;
    int line;           /* physical line in the instruction file */
    size_t start;       /* index of the first instruction of its (logical) instruction line */
    size_t src, len;    /* the instruction as written, in ins->src */
    long a, b;          /* lN/tN: N; fixed and semi-fixed: columns c1, c2 (1-based) */
    int obs;            /* reads: index into the observation list, -1 for dum */
    size_t mtext, mlen; /* markers: the text between the marker characters, in ins->src */
};

struct ins {
    char *name;
    char *src; /* copy of the instruction file */
    struct instr *v;
    size_t n, cap;
    char **obs_name; /* upper case */
    int *obs_line;
    size_t nobs, obs_cap;
    int *bound; /* per observation: index in the bound table */
    int is_bound;
    unsigned char ws_delim[256];   /* w: blank, tab and the additional delimiters */
    unsigned char free_delim[256]; /* !obs! and the start of (obs): also comma, CR, LF */
};

/* Longest excerpt of instruction or output text quoted in a message. */
#define CLIP 60
/* Print at most CLIP bytes of s in a message: "%.*s%s" with these three arguments. */
#define CLIPPED(s, n) (int)((n) > CLIP ? CLIP : (n)), (s), ((n) > CLIP ? "..." : "")

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* --- numbers ----------------------------------------------------------------------------- */

/* std::stod as PEST++ uses it: leading white space is skipped, every other byte must be
 * consumed, and a result that is out of range (overflow, and underflow to a denormal or to
 * zero: stod throws on ERANGE), nan or inf is rejected. pr_parse_double rejects leading
 * blanks, which fixed reads need, and accepts underflow to zero, so strtod is called here. */
static int parse_number(const char *s, size_t n, double *out)
{
    char small[64], *tmp = small, *p, *end;
    double v;
    int rc = -1;

    if (memchr(s, '\0', n)) /* C++ strings hold NULs; stod stops there and fails */
        return -1;
    if (n >= sizeof(small)) tmp = xmalloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (p = tmp; isspace((unsigned char)*p); p++)
        ;
    errno = 0;
    v = strtod(p, &end);
    if (end != p && *end == '\0' && errno != ERANGE && (v == 0.0 || isnormal(v))) {
        *out = v;
        rc = 0;
    }
    if (tmp != small) free(tmp);
    return rc;
}

/* std::stoi: skips white space, optional sign, at least one digit, ignores what follows. */
static int parse_stoi(const char *s, size_t n, long *out)
{
    size_t i = 0;
    long v = 0;
    int neg = 0, digits = 0;

    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    for (; i < n && isdigit((unsigned char)s[i]); i++, digits++) {
        v = v * 10 + (s[i] - '0');
        if (v > (long)INT_MAX + 1) return -1;
    }
    if (!digits || (!neg && v > INT_MAX)) return -1;
    *out = neg ? -v : v;
    return 0;
}

/* A whole token of digits (the tab column: PEST's own syntax, so no stoi leniency). */
static int parse_count(const char *s, size_t n, long *out)
{
    long v = 0;

    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
        if (v > INT_MAX) return -1;
    }
    *out = v;
    return 0;
}

/* --- compiling ---------------------------------------------------------------------------- */

struct parser {
    struct ins *in;
    struct names *seen; /* observation names so far, to reject duplicates */
    char marker;
    int line;
    struct pr_error *err;
};

static int perr(struct parser *p, const char *fmt, ...) PR_PRINTF(2, 3);
static int perr(struct parser *p, const char *fmt, ...)
{
    char msg[PR_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pr_error_set(p->err, "%s:%d: %s", p->in->name, p->line, msg);
}

static struct instr *push(struct parser *p, enum ins_op op, size_t src, size_t len, size_t start)
{
    struct ins *in = p->in;
    struct instr *x;

    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 32;
        in->v = xrealloc(in->v, in->cap * sizeof(*in->v));
    }
    x = &in->v[in->n++];
    memset(x, 0, sizeof(*x));
    x->op = op;
    x->line = p->line;
    x->start = start;
    x->src = src;
    x->len = len;
    x->obs = -1;
    return x;
}

/* Register an observation name (name/n, any case). Sets *obs to its index, -1 for dum. */
static int add_obs(struct parser *p, const char *name, size_t n, const char *tok, size_t toklen,
                   int *obs)
{
    struct ins *in = p->in;
    char *up;
    int idx;

    if (n == 0)
        return perr(p, "instruction '%.*s%s': the observation name is empty", CLIPPED(tok, toklen));
    up = xstrndup(name, n);
    for (char *c = up; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    if (strcmp(up, "DUM") == 0) {
        free(up);
        *obs = -1;
        return 0;
    }
    idx = names_add(p->seen, up);
    if (idx < 0) {
        int first = in->obs_line[names_find(p->seen, up)];
        perr(p, "observation '%s' is read twice in this file (first at line %d)", up, first);
        free(up);
        return -1;
    }
    if (in->nobs == in->obs_cap) {
        in->obs_cap = in->obs_cap ? in->obs_cap * 2 : 16;
        in->obs_name = xrealloc(in->obs_name, in->obs_cap * sizeof(char *));
        in->obs_line = xrealloc(in->obs_line, in->obs_cap * sizeof(int));
    }
    in->obs_name[in->nobs] = up;
    in->obs_line[in->nobs] = p->line;
    *obs = (int)in->nobs++;
    return 0;
}

/* [name]c1:c2 or (name)c1:c2, parsed as PEST++ does (first closing bracket, then stoi of each
 * side of the first ':'). Columns that PEST++ always fails on at run time (c1 < 1) and ranges
 * the PEST manual forbids (c2 < c1) are rejected here. */
static int compile_columns(struct parser *p, struct instr *x, const char *tok, size_t len,
                           char close)
{
    const char *c = memchr(tok, close, len);
    const char *colon;
    long c1, c2;

    if (!c)
        return perr(p, "instruction '%.*s%s': expected '%c' after the observation name",
                    CLIPPED(tok, len), close);
    colon = memchr(c + 1, ':', len - (size_t)(c + 1 - tok));
    if (!colon || parse_stoi(c + 1, (size_t)(colon - c - 1), &c1) < 0 ||
        parse_stoi(colon + 1, len - (size_t)(colon + 1 - tok), &c2) < 0)
        return perr(p, "instruction '%.*s%s': expected columns 'c1:c2' after '%c'",
                    CLIPPED(tok, len), close);
    if (c1 < 1 || c2 < c1)
        return perr(p, "instruction '%.*s%s': columns %ld:%ld must satisfy 1 <= c1 <= c2",
                    CLIPPED(tok, len), c1, c2);
    x->a = c1;
    x->b = c2;
    return add_obs(p, tok + 1, (size_t)(c - tok - 1), tok, len, &x->obs);
}

/* One token of an instruction line: src[off..off+len). span: it is a marker span. */
static int compile_token(struct parser *p, size_t off, size_t len, int span, size_t start)
{
    struct ins *in = p->in;
    const char *tok = in->src + off;
    int first = in->n == start;
    char c = span ? p->marker : (char)toupper((unsigned char)tok[0]);
    struct instr *x;

    /* The order of the tests is PEST++'s, which classifies a token by its first character. */
    if (first && c != 'L' && !span)
        return perr(p,
                    "instruction '%.*s%s': an instruction line must start with a line advance "
                    "(lN) or a primary marker",
                    CLIPPED(tok, len));
    if (c == 'L') {
        x = push(p, OP_LINE, off, len, start);
        if (parse_stoi(tok + 1, len - 1, &x->a) < 0 || x->a < 1)
            return perr(p, "instruction '%.*s%s': expected l followed by a number of lines >= 1",
                        CLIPPED(tok, len));
    } else if (c == 'W') {
        push(p, OP_WS, off, len, start);
    } else if (c == '[') {
        x = push(p, OP_FIXED, off, len, start);
        return compile_columns(p, x, tok, len, ']');
    } else if (c == '(') {
        x = push(p, OP_SEMI, off, len, start);
        return compile_columns(p, x, tok, len, ')');
    } else if (c == '!') {
        x = push(p, OP_FREE, off, len, start);
        if (len < 2 || tok[len - 1] != '!')
            return perr(p, "instruction '%.*s%s': expected '!' after the observation name",
                        CLIPPED(tok, len));
        return add_obs(p, tok + 1, len - 2, tok, len, &x->obs);
    } else if (span) {
        x = push(p, first ? OP_PRIMARY : OP_SECONDARY, off, len, start);
        x->mtext = off + 1;
        x->mlen = len - 2;
    } else if (c == 'T') { /* PEST's tab; PEST++ rejects it */
        x = push(p, OP_TAB, off, len, start);
        if (parse_count(tok + 1, len - 1, &x->a) < 0 || x->a < 1)
            return perr(p, "instruction '%.*s%s': expected t followed by a column number >= 1",
                        CLIPPED(tok, len));
    } else {
        return perr(p,
                    "unrecognized instruction '%.*s%s': expected lN, tN, w, a marker, [obs]c1:c2, "
                    "(obs)c1:c2 or !obs!",
                    CLIPPED(tok, len));
    }
    return 0;
}

/* Tokenize src[s..e) as PEST++'s tokenize_ins_line: marker spans are single tokens kept
 * verbatim, the text between them is split on blanks. */
static int compile_segment(struct parser *p, size_t s, size_t e, size_t start)
{
    const char *src = p->in->src;
    size_t i = s;

    while (i < e) {
        if (src[i] == p->marker) {
            const char *close = memchr(src + i + 1, p->marker, e - i - 1);
            if (!close)
                return perr(p, "unbalanced marker '%c': expected a closing '%c'", p->marker,
                            p->marker);
            size_t j = (size_t)(close - src) + 1;
            if (compile_token(p, i, j - i, 1, start) < 0) return -1;
            i = j;
        } else if (is_blank((unsigned char)src[i])) {
            i++;
        } else {
            size_t j = i;
            while (j < e && !is_blank((unsigned char)src[j]) && src[j] != p->marker)
                j++;
            if (compile_token(p, i, j - i, 0, start) < 0) return -1;
            i = j;
        }
    }
    return 0;
}

/* Line 1: "pif X" or "jif X" (any case), tokenized on blanks as PEST++ does. */
static int compile_header(struct parser *p, const char *s, size_t n)
{
    const char *tok[3];
    size_t len[3], count = 0, i = 0;

    while (i < n) {
        if (is_blank((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_blank((unsigned char)s[j]))
            j++;
        if (count < 3) {
            tok[count] = s + i;
            len[count] = j - i;
        }
        count++;
        i = j;
    }
    if (count < 2) return perr(p, "expected the header 'pif X', X being the marker character");
    if (count > 2)
        return perr(p, "expected only 'pif X' on the first line, not '%.*s' after the marker",
                    (int)(len[2] > CLIP ? CLIP : len[2]), tok[2]);
    if (len[0] != 3 || (strncasecmp(tok[0], "pif", 3) != 0 && strncasecmp(tok[0], "jif", 3) != 0))
        return perr(p, "expected 'pif' or 'jif' at the start of the first line, not '%.*s'",
                    (int)(len[0] > CLIP ? CLIP : len[0]), tok[0]);
    if (len[1] != 1)
        return perr(p, "the marker must be a single character, not '%.*s'",
                    (int)(len[1] > CLIP ? CLIP : len[1]), tok[1]);
    if (tok[1][0] == '!')
        return perr(p, "'!' cannot be the marker: it delimits non-fixed observations");
    p->marker = tok[1][0];
    return 0;
}

static int compile(struct parser *p, size_t len)
{
    const char *src = p->in->src;
    size_t pos = 0, group = 0;
    int have_group = 0;

    for (p->line = 1; pos <= len; p->line++) {
        const char *nl = memchr(src + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - src) : len;
        size_t s = pos, start;
        int cont = 0;

        pos = e + 1;
        if (e > s && src[e - 1] == '\r') /* CRLF instruction files: PEST++ drops the CR too */
            e--;
        if (memchr(src + s, '\0', e - s))
            return perr(p, "unexpected NUL byte: an instruction file is text");
        if (p->line == 1) {
            if (compile_header(p, src + s, e - s) < 0) return -1;
            continue;
        }
        while (s < e && (src[s] == ' ' || src[s] == '\t'))
            s++;
        if (s < e && src[s] == '&' && p->marker != '&') { /* PEST's continuation line */
            if (!have_group)
                return perr(p, "'&' continues an instruction line, but none comes before it");
            start = group;
            cont = 1;
            s++;
        } else {
            start = p->in->n;
        }
        if (compile_segment(p, s, e, start) < 0) return -1;
        if (!cont && p->in->n > start) { /* blank lines are skipped by continuations */
            group = start;
            have_group = 1;
        }
    }
    return 0;
}

struct ins *ins_parse(const char *buf, size_t len, const char *name, const char *extra_delims,
                      struct pr_error *err)
{
    struct ins *in = xcalloc(1, sizeof(*in));
    struct parser p = {0};

    in->name = xstrdup(name ? name : "(instructions)");
    in->src = xmalloc(len + 1);
    if (len) memcpy(in->src, buf, len);
    in->src[len] = '\0';
    for (const char *c = " \t"; *c; c++)
        in->ws_delim[(unsigned char)*c] = 1;
    for (const char *c = ", \t\n\r"; *c; c++)
        in->free_delim[(unsigned char)*c] = 1;
    for (const char *c = extra_delims ? extra_delims : ""; *c; c++)
        in->ws_delim[(unsigned char)*c] = in->free_delim[(unsigned char)*c] = 1;

    p.in = in;
    p.seen = names_create();
    p.err = err;
    if (compile(&p, len) < 0) goto error;
    names_destroy(p.seen);
    return in;

error:
    names_destroy(p.seen);
    ins_destroy(in);
    return NULL;
}

void ins_destroy(struct ins *in)
{
    if (!in) return;
    for (size_t i = 0; i < in->nobs; i++)
        free(in->obs_name[i]);
    free(in->obs_name);
    free(in->obs_line);
    free(in->bound);
    free(in->v);
    free(in->src);
    free(in->name);
    free(in);
}

size_t ins_nobs(const struct ins *in)
{
    return in->nobs;
}

const char *ins_obs_name(const struct ins *in, size_t i)
{
    return i < in->nobs ? in->obs_name[i] : NULL;
}

int ins_obs_line(const struct ins *in, size_t i)
{
    return i < in->nobs ? in->obs_line[i] : 0;
}

int ins_bind(struct ins *in, const struct names *obs, struct pr_error *err)
{
    int *bound = xmalloc((in->nobs ? in->nobs : 1) * sizeof(int));

    for (size_t i = 0; i < in->nobs; i++) {
        bound[i] = names_find(obs, in->obs_name[i]);
        if (bound[i] < 0) {
            pr_error_set(err, "%s:%d: observation '%s' is not in the control file", in->name,
                         in->obs_line[i], in->obs_name[i]);
            free(bound);
            return -1;
        }
    }
    free(in->bound);
    in->bound = bound;
    in->is_bound = 1;
    return 0;
}

/* --- applying ----------------------------------------------------------------------------- */

/* The output file as PEST++ reads it with getline: the text after the last '\n' is one more
 * line (empty when the file ends with '\n'), and reading past it is an error. A '\r' before the
 * line end is not part of the line, so fixed reads whose range covers it work (PEST++ keeps it
 * and fails there: a deliberate improvement). */
struct cursor {
    const char *buf;
    size_t len;
    size_t next; /* offset of the next line */
    int eof;     /* the last line has been read */
    int lineno;
    const char *line; /* current line, without its end */
    size_t llen;
    int cr;     /* the line ended in "\r\n" (or a final "\r") */
    size_t cur; /* the unconsumed remainder is line[cur..llen) */
};

static int next_line(struct cursor *c)
{
    const char *p, *nl;
    size_t left, n;

    if (c->eof) return -1;
    p = c->buf + c->next;
    left = c->len - c->next;
    nl = left ? memchr(p, '\n', left) : NULL;
    n = nl ? (size_t)(nl - p) : left;
    c->line = p;
    c->llen = n;
    c->cr = n && p[n - 1] == '\r';
    c->llen -= (size_t)c->cr;
    c->next += nl ? n + 1 : n;
    c->eof = !nl;
    c->lineno++;
    c->cur = 0;
    return 0;
}

struct run {
    const struct ins *in;
    struct cursor c;
    const char *out_name;
    struct pr_error *err;
};

static int rerr(struct run *r, const struct instr *x, const char *fmt, ...) PR_PRINTF(3, 4);
static int rerr(struct run *r, const struct instr *x, const char *fmt, ...)
{
    char msg[PR_ERROR_MAX];
    va_list ap;
    int clip = x->len > CLIP;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pr_error_set(r->err, "%s:%d: instruction '%.*s%s': %s (%s line %d)", r->in->name,
                        x->line, (int)(clip ? CLIP : x->len), r->in->src + x->src,
                        clip ? "..." : "", msg, r->out_name, r->c.lineno);
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0) return hay;
    return hlen ? memmem(hay, hlen, needle, nlen) : NULL;
}

static void store(struct run *r, const struct instr *x, double v, double *values,
                  unsigned char *seen)
{
    int idx = r->in->bound[x->obs];
    values[idx] = v;
    seen[idx] = 1;
}

/* After a (semi-)fixed read of text t: the cursor moves past the first occurrence of t in the
 * remainder (PEST++'s line.find); PEST++ fails when there is none. */
static int skip_past(struct run *r, const struct instr *x, const char *t, size_t n)
{
    struct cursor *c = &r->c;
    const char *at = find(c->line + c->cur, c->llen - c->cur, t, n);

    if (!at)
        return rerr(r, x,
                    "'%.*s%s' read at columns %ld-%ld is not after the cursor: fixed and "
                    "semi-fixed reads may not move back over text already read",
                    CLIPPED(t, n), x->a, x->b);
    c->cur = (size_t)(at - c->line) + n;
    return 0;
}

static int do_fixed(struct run *r, const struct instr *x, double *values, unsigned char *seen)
{
    struct cursor *c = &r->c;
    size_t a = (size_t)x->a - 1, b = (size_t)x->b;
    double v;

    /* PEST++'s substr throws only when c1 is past the end of the (raw) line */
    if (a > c->llen + (size_t)c->cr) return rerr(r, x, "the line has only %zu characters", c->llen);
    if (a > c->llen) a = c->llen;
    if (b > c->llen) b = c->llen;
    if (x->obs >= 0) {
        if (parse_number(c->line + a, b - a, &v) < 0)
            return rerr(r, x, "cannot read a number from '%.*s%s' (columns %ld-%ld)",
                        CLIPPED(c->line + a, b - a), x->a, x->b);
        store(r, x, v, values, seen);
    }
    return skip_past(r, x, c->line + a, b - a);
}

static int do_semi(struct run *r, const struct instr *x, double *values, unsigned char *seen)
{
    struct cursor *c = &r->c;
    const unsigned char *d = r->in->free_delim;
    size_t a = (size_t)x->a - 1, e;
    double v;

    while (a < c->llen && d[(unsigned char)c->line[a]])
        a++;
    if (a >= c->llen || a > (size_t)x->b - 1)
        return rerr(r, x, "no value between columns %ld and %ld", x->a, x->b);
    for (e = a; e < c->llen && !is_blank((unsigned char)c->line[e]); e++)
        ;
    if (x->obs >= 0) {
        if (parse_number(c->line + a, e - a, &v) < 0)
            return rerr(r, x, "cannot read a number from '%.*s%s'", CLIPPED(c->line + a, e - a));
        store(r, x, v, values, seen);
    }
    return skip_past(r, x, c->line + a, e - a);
}

/* A non-fixed read: the first piece of the remainder between delimiters. When it is directly
 * followed by a secondary marker, PEST ends the number at the first character of that marker
 * (`!sws! ~%~` reading "21.3%"); PEST++ does not. The PEST reading is taken only where PEST++
 * would fail on this instruction or on the marker, so every file PEST++ reads is read the same. */
static int do_free(struct run *r, size_t i, double *values, unsigned char *seen)
{
    const struct ins *in = r->in;
    const struct instr *x = &in->v[i], *m = i + 1 < in->n ? &in->v[i + 1] : NULL;
    struct cursor *c = &r->c;
    const unsigned char *d = in->free_delim;
    size_t a = c->cur, e;
    double v = 0;
    int ok;

    while (a < c->llen && d[(unsigned char)c->line[a]])
        a++;
    if (a == c->llen) return rerr(r, x, "no value left on the line");
    for (e = a; e < c->llen && !d[(unsigned char)c->line[e]]; e++)
        ;
    ok = parse_number(c->line + a, e - a, &v) == 0;
    if (m && m->op == OP_SECONDARY && m->start == x->start && m->mlen > 0) {
        const char *mt = in->src + m->mtext;
        int pestpp_fails = (x->obs >= 0 && !ok) || !find(c->line + e, c->llen - e, mt, m->mlen);
        const char *at = find(c->line + a, e - a, mt, m->mlen);
        if (pestpp_fails && at && at > c->line + a) {
            e = (size_t)(at - c->line);
            ok = parse_number(c->line + a, e - a, &v) == 0;
        }
    }
    if (x->obs >= 0) {
        if (!ok)
            return rerr(r, x, "cannot read a number from '%.*s%s'", CLIPPED(c->line + a, e - a));
        store(r, x, v, values, seen);
    }
    c->cur = e;
    return 0;
}

/* w: skip the piece under the cursor (if any), then the delimiters after it. */
static int do_ws(struct run *r, const struct instr *x)
{
    struct cursor *c = &r->c;
    const unsigned char *d = r->in->ws_delim;
    size_t p = c->cur;

    if (p < c->llen && !d[(unsigned char)c->line[p]])
        while (p < c->llen && !d[(unsigned char)c->line[p]])
            p++;
    while (p < c->llen && d[(unsigned char)c->line[p]])
        p++;
    if (p == c->llen) return rerr(r, x, "end of line reached while skipping white space");
    c->cur = p;
    return 0;
}

/* Returns 1 when the instruction line must restart from its first instruction. */
static int do_marker(struct run *r, const struct instr *x, int all_markers)
{
    struct cursor *c = &r->c;
    const char *mt = r->in->src + x->mtext, *at;

    if (x->op == OP_PRIMARY) {
        /* the search starts at the next line: the current one is never searched */
        for (;;) {
            if (next_line(c) < 0)
                return rerr(r, x, "end of file reached while searching for marker '%.*s%s'",
                            CLIPPED(mt, x->mlen));
            at = find(c->line, c->llen, mt, x->mlen);
            if (at) break;
        }
        c->cur = (size_t)(at - c->line) + x->mlen;
        return 0;
    }
    at = find(c->line + c->cur, c->llen - c->cur, mt, x->mlen);
    if (!at) {
        /* PEST++: nothing read yet on this instruction line, so look further on */
        if (all_markers) return 1;
        return rerr(r, x, "marker '%.*s%s' not found in the rest of the line",
                    CLIPPED(mt, x->mlen));
    }
    c->cur = (size_t)(at - c->line) + x->mlen;
    return 0;
}

int ins_apply(const struct ins *in, const char *out, size_t len, const char *out_name,
              double *values, unsigned char *seen, struct pr_error *err)
{
    struct run r = {0};
    int all_markers = 1;

    if (!in->is_bound)
        return pr_error_set(err, "%s: instructions applied before their observations were bound",
                            in->name);
    r.in = in;
    r.out_name = out_name ? out_name : "(output)";
    r.err = err;
    r.c.buf = out && len ? out : "";
    r.c.len = out ? len : 0;
    r.c.line = "";
    for (size_t i = 0; i < in->n;) {
        const struct instr *x = &in->v[i];
        int rc = 0;

        if (i == x->start) all_markers = 1;
        switch (x->op) {
        case OP_LINE:
            for (long k = 0; k < x->a; k++)
                if (next_line(&r.c) < 0)
                    return rerr(&r, x, "end of file reached while advancing %ld lines", x->a);
            break;
        case OP_PRIMARY:
        case OP_SECONDARY:
            rc = do_marker(&r, x, all_markers);
            if (rc == 1) { /* every pass reads at least one more line, so this ends */
                i = x->start;
                continue;
            }
            break;
        case OP_WS:
            rc = do_ws(&r, x);
            break;
        case OP_TAB: /* PEST: the cursor sits on column N, the remainder starts after it */
            r.c.cur = (size_t)x->a < r.c.llen ? (size_t)x->a : r.c.llen;
            break;
        case OP_FIXED:
            rc = do_fixed(&r, x, values, seen);
            all_markers = 0;
            break;
        case OP_SEMI:
            rc = do_semi(&r, x, values, seen);
            all_markers = 0;
            break;
        case OP_FREE:
            rc = do_free(&r, i, values, seen);
            all_markers = 0;
            break;
        }
        if (rc < 0) return -1;
        i++;
    }
    return 0;
}
