#include "fosm.h"

#include <dirent.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pest/objective.h"
#include "pest/outputs.h"
#include "util/csv.h"
#include "util/fsutil.h"
#include "util/names.h"
#include "util/rng.h"
#include "util/strbuf.h"
#include "util/text.h"

#define DEFAULT_SEED 358183147u /* PEST++ ++random_seed */
#define ZERO_WEIGHT_VAR 1.0e60  /* PEST++'s noise variance for a zero-weight observation */
#define MAX_LISTED 10           /* names listed in a message before "..." */
#define MAX_TOKENS 8

/* ------------------------------------------------------------------------------------------ */
/* named matrices                                                                             */

struct fosm_matrix {
    size_t nr, nc;
    char **rn, **cn; /* upper case */
    double *v;       /* nr x nc, row-major */
};

static struct fosm_matrix *matrix_new(size_t nr, size_t nc)
{
    struct fosm_matrix *m = xcalloc(1, sizeof(*m));
    m->nr = nr;
    m->nc = nc;
    m->rn = xcalloc(nr + 1, sizeof(char *));
    m->cn = xcalloc(nc + 1, sizeof(char *));
    m->v = xcalloc(nr * nc + 1, sizeof(double));
    return m;
}

void fosm_matrix_destroy(struct fosm_matrix *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nr; i++)
        free(m->rn[i]);
    for (size_t j = 0; j < m->nc; j++)
        free(m->cn[j]);
    free(m->rn);
    free(m->cn);
    free(m->v);
    free(m);
}

size_t fosm_matrix_nrows(const struct fosm_matrix *m)
{
    return m->nr;
}

size_t fosm_matrix_ncols(const struct fosm_matrix *m)
{
    return m->nc;
}

const char *fosm_matrix_rowname(const struct fosm_matrix *m, size_t i)
{
    return m->rn[i];
}

const char *fosm_matrix_colname(const struct fosm_matrix *m, size_t j)
{
    return m->cn[j];
}

double fosm_matrix_get(const struct fosm_matrix *m, size_t i, size_t j)
{
    return m->v[i * m->nc + j];
}

static char *upper_dup(const char *s, size_t n)
{
    char *d = xstrndup(s, n);
    pr_upper(d);
    return d;
}

static char *lower_dup(const char *s)
{
    char *d = xstrdup(s);
    pr_lower(d);
    return d;
}

/* A cursor over text that counts lines. */
struct lex {
    const char *p, *end;
    int line;
};

/* The next blank-separated token (across lines); 0 at the end of the text. */
static int lex_token(struct lex *lx, const char **tok, size_t *n, int *line)
{
    while (lx->p < lx->end &&
           (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n' || *lx->p == ',')) {
        if (*lx->p == '\n') lx->line++;
        lx->p++;
    }
    if (lx->p >= lx->end) return 0;
    *tok = lx->p;
    *line = lx->line;
    while (lx->p < lx->end && !strchr(" \t\r\n,", *lx->p))
        lx->p++;
    *n = (size_t)(lx->p - *tok);
    return 1;
}

/* The next line (without its end of line, \r dropped); 0 at the end of the text. */
static int lex_line(struct lex *lx, const char **s, size_t *n, int *line)
{
    if (lx->p >= lx->end) return 0;
    const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
    const char *e = nl ? nl : lx->end;
    *s = lx->p;
    *line = lx->line;
    *n = (size_t)(e - lx->p);
    if (*n && (*s)[*n - 1] == '\r') (*n)--;
    lx->p = nl ? nl + 1 : lx->end;
    lx->line++;
    return 1;
}

/* The line to name in an end-of-file message: the last line of the text. */
static int lex_eof_line(const struct lex *lx)
{
    return lx->line > 1 && lx->end[-1] == '\n' ? lx->line - 1 : lx->line;
}

/* Skip what is left of the current line. */
static void lex_end_line(struct lex *lx)
{
    const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
    lx->p = nl ? nl + 1 : lx->end;
    if (nl) lx->line++;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r", s[i])) return 0;
    return 1;
}

/* Copy a token into buf (NUL-terminated, truncated) for messages and number parsing. */
static const char *tokcpy(char *buf, size_t bufsz, const char *s, size_t n)
{
    snprintf(buf, bufsz, "%.*s", (int)(n < bufsz - 1 ? n : bufsz - 1), s);
    return buf;
}

static int lex_int(struct lex *lx, const char *name, const char *what, int *out,
                   struct pr_error *err)
{
    const char *t;
    size_t n;
    int line = lx->line;
    char buf[64];
    if (!lex_token(lx, &t, &n, &line))
        return pr_error_set(err, "%s:%d: end of file where %s was expected", name, lex_eof_line(lx),
                            what);
    if (n >= sizeof(buf) || pr_parse_int(tokcpy(buf, sizeof(buf), t, n), out) < 0)
        return pr_error_set(err, "%s:%d: %s: expected an integer, got '%s'", name, line, what,
                            tokcpy(buf, sizeof(buf), t, n));
    return 0;
}

/* A list of n names, one a line (stripped), none empty, none with '*', no duplicates. */
static int read_namelist(struct lex *lx, const char *name, const char *what, size_t n, char **out,
                         struct pr_error *err)
{
    struct names *seen = names_create();
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        int line = lx->line;
        if (!lex_line(lx, &s, &len, &line)) {
            pr_error_set(err, "%s:%d: end of file after %zu of the %zu %s", name, lex_eof_line(lx),
                         i, n, what);
            goto done;
        }
        while (len && strchr(" \t", *s))
            s++, len--;
        while (len && strchr(" \t", s[len - 1]))
            len--;
        char buf[256];
        if (len == 0 || memchr(s, '*', len) || memchr(s, ' ', len) || memchr(s, '\t', len)) {
            pr_error_set(err, "%s:%d: expected one of the %zu %s (name %zu), got '%s'", name, line,
                         n, what, i + 1, tokcpy(buf, sizeof(buf), s, len));
            goto done;
        }
        out[i] = upper_dup(s, len);
        if (names_add(seen, out[i]) < 0) {
            pr_error_set(err, "%s:%d: '%s' is listed twice in the %s", name, line,
                         tokcpy(buf, sizeof(buf), s, len), what);
            goto done;
        }
    }
    rc = 0;
done:
    names_destroy(seen);
    return rc;
}

/* The next non-blank line must be a "* ..." header holding every word of want (upper case). */
static int expect_header(struct lex *lx, const char *name, const char *shown,
                         const char *const *want, struct pr_error *err)
{
    const char *s;
    size_t n;
    int line = lx->line;
    while (lex_line(lx, &s, &n, &line)) {
        if (is_blank(s, n)) continue;
        char *up = upper_dup(s, n);
        int ok = 1;
        for (size_t i = 0; want[i]; i++)
            ok &= strstr(up, want[i]) != NULL;
        free(up);
        if (ok) return 0;
        char buf[128];
        return pr_error_set(err, "%s:%d: expected '%s', got '%s'", name, line, shown,
                            tokcpy(buf, sizeof(buf), s, n));
    }
    return pr_error_set(err, "%s:%d: end of file where '%s' was expected", name, lex_eof_line(lx),
                        shown);
}

struct fosm_matrix *fosm_matrix_parse_ascii(const char *buf, size_t len, const char *name,
                                            struct pr_error *err)
{
    struct lex lx = {buf, buf + len, 1};
    struct fosm_matrix *m = NULL;
    int nrow, ncol, icode;
    if (lex_int(&lx, name, "NROW (first of 'NROW NCOL ICODE')", &nrow, err) < 0 ||
        lex_int(&lx, name, "NCOL (second of 'NROW NCOL ICODE')", &ncol, err) < 0 ||
        lex_int(&lx, name, "ICODE (third of 'NROW NCOL ICODE')", &icode, err) < 0)
        return NULL;
    if (nrow <= 0 || ncol <= 0 || (icode != 1 && icode != 2 && icode != -1) ||
        (icode != 2 && nrow != ncol)) {
        pr_error_set(err,
                     "%s:%d: NROW NCOL ICODE %d %d %d: expected NROW, NCOL above 0 and ICODE 1 "
                     "(square, one name list), 2 (row and column names) or -1 (diagonal); "
                     "ICODE 1 and -1 need NROW = NCOL",
                     name, lx.line, nrow, ncol, icode);
        return NULL;
    }
    m = matrix_new((size_t)nrow, (size_t)ncol);
    size_t want = icode == -1 ? (size_t)nrow : (size_t)nrow * (size_t)ncol;
    for (size_t k = 0; k < want; k++) {
        const char *t;
        size_t n;
        int line = lx.line;
        char tb[128];
        double v;
        if (!lex_token(&lx, &t, &n, &line)) {
            pr_error_set(err, "%s:%d: end of file after %zu of the %zu matrix values", name,
                         lex_eof_line(&lx), k, want);
            goto error;
        }
        if (n >= sizeof(tb) || pr_parse_double(tokcpy(tb, sizeof(tb), t, n), &v, 0) < 0 ||
            !isfinite(v)) {
            pr_error_set(err, "%s:%d: matrix value %zu of %zu: expected a number, got '%s'", name,
                         line, k + 1, want, tokcpy(tb, sizeof(tb), t, n));
            goto error;
        }
        size_t at = icode == -1 ? k * (size_t)ncol + k : k;
        m->v[at] = v;
    }
    lex_end_line(&lx);
    if (icode == 2) {
        static const char *const rows[] = {"ROW", NULL}, *const cols[] = {"COLUMN", NULL};
        if (expect_header(&lx, name, "* row names", rows, err) < 0 ||
            read_namelist(&lx, name, "row names", m->nr, m->rn, err) < 0 ||
            expect_header(&lx, name, "* column names", cols, err) < 0 ||
            read_namelist(&lx, name, "column names", m->nc, m->cn, err) < 0)
            goto error;
    } else {
        static const char *const both[] = {"ROW", "COLUMN", NULL};
        if (expect_header(&lx, name, "* row and column names", both, err) < 0 ||
            read_namelist(&lx, name, "row and column names", m->nr, m->rn, err) < 0)
            goto error;
        for (size_t j = 0; j < m->nc; j++)
            m->cn[j] = xstrdup(m->rn[j]);
    }
    return m;
error:
    fosm_matrix_destroy(m);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* uncertainty files (.unc)                                                                   */

/* Blocks of an uncertainty file, assembled block-diagonally. */
struct unc_block {
    size_t n;
    char **names;
    double *v; /* n x n */
};

struct unc {
    const char *name, *dir;
    const struct pst_case *c;
    struct unc_block *b;
    size_t nb;
    struct names *seen;
};

static void unc_free(struct unc *u)
{
    for (size_t i = 0; i < u->nb; i++) {
        for (size_t k = 0; k < u->b[i].n; k++)
            free(u->b[i].names[k]);
        free(u->b[i].names);
        free(u->b[i].v);
    }
    free(u->b);
    names_destroy(u->seen);
}

static struct unc_block *unc_add(struct unc *u, size_t n)
{
    u->b = xrealloc(u->b, (u->nb + 1) * sizeof(*u->b));
    struct unc_block *b = &u->b[u->nb++];
    b->n = n;
    b->names = xcalloc(n + 1, sizeof(char *));
    b->v = xcalloc(n * n + 1, sizeof(double));
    return b;
}

/* Split an upper-cased copy of line into at most MAX_TOKENS blank-separated tokens. */
static size_t unc_tokens(const char *s, size_t n, char **copy, char **tok)
{
    *copy = upper_dup(s, n);
    return pr_tokenize(*copy, " \t\r", tok, MAX_TOKENS);
}

static int unc_claim(struct unc *u, const char *pname, int line, struct pr_error *err)
{
    if (names_add(u->seen, pname) >= 0) return 0;
    return pr_error_set(err, "%s:%d: '%s' is given more than once in the uncertainty file", u->name,
                        line, pname);
}

/* START STANDARD_DEVIATION ... END STANDARD_DEVIATION: "NAME STDEV" lines; STD_MULTIPLIER F
 * multiplies the standard deviations after it (PEST's and pyemu's reading; PEST++ 5.2.23
 * ignores the multiplier). */
static int unc_stdev(struct unc *u, struct lex *lx, int start, struct pr_error *err)
{
    const char *s;
    size_t n;
    int line = lx->line;
    double mult = 1.0;
    size_t cap = 0, count = 0;
    char **nm = NULL;
    double *sd = NULL;
    int rc = -1;
    for (;;) {
        if (!lex_line(lx, &s, &n, &line)) {
            pr_error_set(err,
                         "%s:%d: end of file inside the STANDARD_DEVIATION block of line %d "
                         "(no END STANDARD_DEVIATION)",
                         u->name, lex_eof_line(lx), start);
            goto done;
        }
        if (is_blank(s, n) || s[0] == '#') continue;
        char *copy, *tok[MAX_TOKENS];
        size_t k = unc_tokens(s, n, &copy, tok);
        if (strcmp(tok[0], "END") == 0) {
            int ok = k >= 2 && strcmp(tok[1], "STANDARD_DEVIATION") == 0;
            free(copy);
            if (!ok) {
                pr_error_set(err, "%s:%d: expected 'END STANDARD_DEVIATION'", u->name, line);
                goto done;
            }
            break;
        }
        double v;
        if (k != 2 || pr_parse_double(tok[1], &v, 1) < 0 || !(v > 0) || !isfinite(v)) {
            char buf[128];
            pr_error_set(err,
                         "%s:%d: expected 'NAME STDEV' (a standard deviation above 0), got '%s'",
                         u->name, line, tokcpy(buf, sizeof(buf), s, n));
            free(copy);
            goto done;
        }
        if (strcmp(tok[0], "STD_MULTIPLIER") == 0) {
            mult = v;
        } else if (unc_claim(u, tok[0], line, err) < 0) {
            free(copy);
            goto done;
        } else {
            if (count == cap) {
                cap = cap ? 2 * cap : 16;
                nm = xrealloc(nm, cap * sizeof(char *));
                sd = xrealloc(sd, cap * sizeof(double));
            }
            nm[count] = xstrdup(tok[0]);
            sd[count++] = v * mult;
        }
        free(copy);
    }
    for (size_t i = 0; i < count; i++) {
        struct unc_block *b = unc_add(u, 1);
        b->names[0] = nm[i];
        nm[i] = NULL;
        b->v[0] = sd[i] * sd[i];
    }
    rc = 0;
done:
    for (size_t i = 0; i < count; i++)
        free(nm[i]);
    free(nm);
    free(sd);
    return rc;
}

/* The adjustable parameters of the case from FIRST to LAST (inclusive), in control-file
 * order, into names (n of them). */
static int unc_range(struct unc *u, const char *first, const char *last, int line,
                     struct fosm_matrix *m, struct pr_error *err)
{
    if (!u->c)
        return pr_error_set(err, "%s:%d: FIRST_PARAMETER needs the control file's parameters",
                            u->name, line);
    long a = -1, z = -1, k = 0;
    for (size_t i = 0; i < pst_nparams(u->c); i++) {
        const struct pst_param *p = pst_param(u->c, i);
        if (p->trans != PST_TRANS_NONE && p->trans != PST_TRANS_LOG) continue;
        if (pr_strieq(p->name, first)) a = k;
        if (pr_strieq(p->name, last)) z = k;
        k++;
    }
    if (a < 0 || z < 0 || z < a)
        return pr_error_set(err,
                            "%s:%d: FIRST_PARAMETER %s and LAST_PARAMETER %s: expected two "
                            "adjustable parameters of %s, the first one first",
                            u->name, line, first, last, pst_path(u->c));
    if ((size_t)(z - a + 1) != m->nr)
        return pr_error_set(err,
                            "%s:%d: %ld adjustable parameters from %s to %s, but the matrix has "
                            "%zu rows",
                            u->name, line, z - a + 1, first, last, m->nr);
    k = 0;
    for (size_t i = 0; i < pst_nparams(u->c); i++) {
        const struct pst_param *p = pst_param(u->c, i);
        if (p->trans != PST_TRANS_NONE && p->trans != PST_TRANS_LOG) continue;
        if (k >= a && k <= z) {
            free(m->rn[k - a]);
            free(m->cn[k - a]);
            m->rn[k - a] = xstrdup(p->name);
            m->cn[k - a] = xstrdup(p->name);
        }
        k++;
    }
    return 0;
}

/* Names one a line (first word) from a PARAMETER_LIST_FILE, replacing the matrix's names. */
static int unc_list(struct unc *u, const char *file, int line, struct fosm_matrix *m,
                    struct pr_error *err)
{
    char *path = pr_resolve_file(u->dir, file);
    size_t len;
    char *text = pr_read_file(path, &len, err);
    int rc = -1;
    if (!text) {
        pr_error_prefix(err, "%s:%d: PARAMETER_LIST_FILE", u->name, line);
        goto done;
    }
    size_t k = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *tok[2];
        if (pr_tokenize(p, " \t\r", tok, 2) == 0) continue;
        if (k < m->nr) {
            free(m->rn[k]);
            free(m->cn[k]);
            m->rn[k] = upper_dup(tok[0], strlen(tok[0]));
            m->cn[k] = xstrdup(m->rn[k]);
        }
        k++;
    }
    if (k != m->nr)
        pr_error_set(err, "%s:%d: %s lists %zu names, but the matrix has %zu rows", u->name, line,
                     path, k, m->nr);
    else
        rc = 0;
done:
    free(text);
    free(path);
    return rc;
}

/* START COVARIANCE_MATRIX ... END COVARIANCE_MATRIX: FILE, VARIANCE_MULTIPLIER, and optionally
 * FIRST_PARAMETER/LAST_PARAMETER or PARAMETER_LIST_FILE naming the matrix's rows. */
static int unc_matrix(struct unc *u, struct lex *lx, int start, struct pr_error *err)
{
    const char *s;
    size_t n;
    int line = lx->line, fline = 0, rline = 0;
    char *file = NULL, *first = NULL, *last = NULL, *list = NULL;
    double mult = 1.0;
    struct fosm_matrix *m = NULL;
    int rc = -1;
    for (;;) {
        if (!lex_line(lx, &s, &n, &line)) {
            pr_error_set(err,
                         "%s:%d: end of file inside the COVARIANCE_MATRIX block of line %d (no "
                         "END COVARIANCE_MATRIX)",
                         u->name, lex_eof_line(lx), start);
            goto done;
        }
        if (is_blank(s, n) || s[0] == '#') continue;
        char *copy, *tok[MAX_TOKENS], buf[256];
        size_t k = unc_tokens(s, n, &copy, tok);
        int bad = 0;
        if (strcmp(tok[0], "END") == 0) {
            free(copy);
            break;
        }
        /* the value in its original case: file names */
        char *orig = xstrndup(s, n), *otok[MAX_TOKENS];
        pr_tokenize(orig, " \t\r\"'", otok, MAX_TOKENS);
        if (k != 2) {
            bad = 1;
        } else if (strcmp(tok[0], "FILE") == 0) {
            free(file);
            file = xstrdup(otok[1]);
            fline = line;
        } else if (strcmp(tok[0], "VARIANCE_MULTIPLIER") == 0) {
            bad = pr_parse_double(tok[1], &mult, 1) < 0 || !(mult > 0);
        } else if (strcmp(tok[0], "FIRST_PARAMETER") == 0) {
            free(first);
            first = xstrdup(tok[1]);
            rline = line;
        } else if (strcmp(tok[0], "LAST_PARAMETER") == 0) {
            free(last);
            last = xstrdup(tok[1]);
            rline = line;
        } else if (strcmp(tok[0], "PARAMETER_LIST_FILE") == 0) {
            free(list);
            list = xstrdup(otok[1]);
            rline = line;
        } else {
            bad = 1;
        }
        free(orig);
        free(copy);
        if (bad) {
            pr_error_set(err,
                         "%s:%d: expected FILE NAME, VARIANCE_MULTIPLIER F (above 0), "
                         "FIRST_PARAMETER NAME, LAST_PARAMETER NAME or PARAMETER_LIST_FILE NAME, "
                         "got '%s'",
                         u->name, line, tokcpy(buf, sizeof(buf), s, n));
            goto done;
        }
    }
    if (!file) {
        pr_error_set(err, "%s:%d: the COVARIANCE_MATRIX block has no FILE line", u->name, start);
        goto done;
    }
    if ((first != NULL) != (last != NULL) || (first && list)) {
        pr_error_set(err,
                     "%s:%d: give both FIRST_PARAMETER and LAST_PARAMETER, or a "
                     "PARAMETER_LIST_FILE, not a mixture",
                     u->name, rline);
        goto done;
    }
    char *path = pr_resolve_file(u->dir, file);
    size_t len;
    char *text = pr_read_file(path, &len, err);
    if (text) m = fosm_matrix_parse_ascii(text, len, path, err);
    free(text);
    free(path);
    if (!m) {
        pr_error_prefix(err, "%s:%d: FILE", u->name, fline);
        goto done;
    }
    if (m->nr != m->nc) {
        pr_error_set(err, "%s:%d: %s is %zu x %zu: a covariance matrix is square", u->name, fline,
                     file, m->nr, m->nc);
        goto done;
    }
    if ((first && unc_range(u, first, last, rline, m, err) < 0) ||
        (list && unc_list(u, list, rline, m, err) < 0))
        goto done;
    struct unc_block *b = unc_add(u, m->nr);
    for (size_t i = 0; i < m->nr; i++) {
        b->names[i] = xstrdup(m->rn[i]);
        if (unc_claim(u, m->rn[i], fline, err) < 0) goto done;
        for (size_t j = 0; j < m->nr; j++) { /* columns by name: ICODE 2 may order them apart */
            size_t jj = strcmp(m->cn[j], m->rn[j]) == 0 ? j : 0;
            while (jj < m->nc && strcmp(m->cn[jj], m->rn[j]) != 0)
                jj++;
            if (jj == m->nc) {
                pr_error_set(err, "%s:%d: %s: row '%s' has no column of the same name", u->name,
                             fline, file, m->rn[j]);
                goto done;
            }
            b->v[i * m->nr + j] = mult * m->v[i * m->nc + jj];
        }
    }
    rc = 0;
done:
    fosm_matrix_destroy(m);
    free(file);
    free(first);
    free(last);
    free(list);
    return rc;
}

struct fosm_matrix *fosm_matrix_parse_unc(const char *buf, size_t len, const char *name,
                                          const char *dir, const struct pst_case *c,
                                          struct pr_error *err)
{
    struct unc u = {name, dir, c, NULL, 0, names_create()};
    struct lex lx = {buf, buf + len, 1};
    struct fosm_matrix *m = NULL;
    const char *s;
    size_t n;
    int line = 1;
    while (lex_line(&lx, &s, &n, &line)) {
        if (is_blank(s, n) || s[0] == '#') continue;
        char *copy, *tok[MAX_TOKENS], tb[128];
        size_t k = unc_tokens(s, n, &copy, tok);
        int start = k == 2 && strcmp(tok[0], "START") == 0;
        int stdev = start && strcmp(tok[1], "STANDARD_DEVIATION") == 0;
        int matrix = start && strcmp(tok[1], "COVARIANCE_MATRIX") == 0;
        free(copy);
        if (!stdev && !matrix) {
            pr_error_set(err,
                         "%s:%d: expected 'START STANDARD_DEVIATION' or 'START "
                         "COVARIANCE_MATRIX', got '%s'",
                         name, line, tokcpy(tb, sizeof(tb), s, n));
            goto done;
        }
        if ((stdev ? unc_stdev(&u, &lx, line, err) : unc_matrix(&u, &lx, line, err)) < 0) goto done;
    }
    size_t total = 0, at = 0;
    for (size_t i = 0; i < u.nb; i++)
        total += u.b[i].n;
    if (total == 0) {
        pr_error_set(err, "%s: no standard deviation and no covariance matrix in it", name);
        goto done;
    }
    m = matrix_new(total, total);
    for (size_t i = 0; i < u.nb; i++) {
        const struct unc_block *b = &u.b[i];
        for (size_t r = 0; r < b->n; r++) {
            m->rn[at + r] = xstrdup(b->names[r]);
            m->cn[at + r] = xstrdup(b->names[r]);
            for (size_t q = 0; q < b->n; q++)
                m->v[(at + r) * total + at + q] = b->v[r * b->n + q];
        }
        at += b->n;
    }
done:
    unc_free(&u);
    return m;
}

/* ------------------------------------------------------------------------------------------ */
/* binary (.jcb, .jco) and CSV matrices                                                       */

static int32_t get_i32(const char *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static char *fixed_name(const char *p, size_t width)
{
    size_t n = width;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\0'))
        n--;
    return upper_dup(p, n);
}

static struct fosm_matrix *parse_dense(const char *buf, size_t len, const char *name, size_t ncol,
                                       struct pr_error *err)
{
    size_t at = 12;
    struct fosm_matrix *m = NULL;
    char **cn = xcalloc(ncol + 1, sizeof(char *));
    size_t *lens = xcalloc(ncol + 1, sizeof(size_t));
    size_t nrow = 0, cap = 0;
    char **rn = NULL;
    double *v = NULL;
    if (len < at + 4 * ncol) goto truncated;
    for (size_t j = 0; j < ncol; j++) {
        int32_t l = get_i32(buf + at + 4 * j);
        if (l <= 0 || l > 4096) goto truncated;
        lens[j] = (size_t)l;
    }
    at += 4 * ncol;
    for (size_t j = 0; j < ncol; j++) {
        if (len < at + lens[j]) goto truncated;
        cn[j] = upper_dup(buf + at, lens[j]);
        at += lens[j];
    }
    while (at < len) {
        if (len < at + 4) goto truncated;
        int32_t l = get_i32(buf + at);
        if (l <= 0 || len < at + 4 + (size_t)l + 8 * ncol) goto truncated;
        if (nrow == cap) {
            cap = cap ? 2 * cap : 64;
            rn = xrealloc(rn, cap * sizeof(char *));
            v = xrealloc(v, cap * ncol * sizeof(double));
        }
        rn[nrow] = upper_dup(buf + at + 4, (size_t)l);
        memcpy(v + nrow * ncol, buf + at + 4 + l, 8 * ncol);
        at += 4 + (size_t)l + 8 * ncol;
        nrow++;
    }
    m = matrix_new(nrow, ncol);
    for (size_t i = 0; i < nrow; i++)
        m->rn[i] = rn[i];
    for (size_t j = 0; j < ncol; j++)
        m->cn[j] = cn[j];
    if (nrow) memcpy(m->v, v, nrow * ncol * sizeof(double));
    free(rn);
    free(cn);
    free(v);
    free(lens);
    return m;
truncated:
    pr_error_set(err, "%s: a dense binary matrix cut short or malformed at byte %zu", name, at);
    for (size_t i = 0; i < nrow; i++)
        free(rn[i]);
    for (size_t j = 0; j < ncol; j++)
        free(cn[j]);
    free(rn);
    free(cn);
    free(v);
    free(lens);
    return NULL;
}

struct fosm_matrix *fosm_matrix_parse_binary(const char *buf, size_t len, const char *name,
                                             struct pr_error *err)
{
    if (len < 12) {
        pr_error_set(err, "%s: %zu bytes: too short for a binary matrix header", name, len);
        return NULL;
    }
    int32_t a = get_i32(buf), b = get_i32(buf + 4), nnz = get_i32(buf + 8);
    if (a == 0 && b < 0 && b == nnz) return parse_dense(buf, len, name, (size_t) - (int64_t)b, err);
    int ext = a > 0 && b > 0;
    if ((!ext && !(a < 0 && b < 0)) || nnz < 0) {
        pr_error_set(err,
                     "%s: header %d %d %d: expected -NCOL -NROW NNZ (PEST), NCOL NROW NNZ "
                     "(long names) or 0 -NCOL -NCOL (dense)",
                     name, (int)a, (int)b, (int)nnz);
        return NULL;
    }
    size_t ncol = (size_t)(ext ? a : -(int64_t)a), nrow = (size_t)(ext ? b : -(int64_t)b);
    size_t rec = ext ? 16 : 12, wc = ext ? 200 : 12, wr = ext ? 200 : 20;
    size_t need = 12 + (size_t)nnz * rec + ncol * wc + nrow * wr;
    if (len < need) {
        pr_error_set(err, "%s: %zu bytes where a %zu x %zu matrix with %d entries needs %zu", name,
                     len, nrow, ncol, (int)nnz, need);
        return NULL;
    }
    struct fosm_matrix *m = matrix_new(nrow, ncol);
    const char *p = buf + 12;
    for (int32_t k = 0; k < nnz; k++, p += rec) {
        size_t r, c;
        double v;
        if (ext) {
            r = (size_t)get_i32(p);
            c = (size_t)get_i32(p + 4);
            memcpy(&v, p + 8, 8);
        } else {
            int64_t idx = (int64_t)get_i32(p) - 1;
            r = idx < 0 ? nrow : (size_t)idx % nrow;
            c = idx < 0 ? ncol : (size_t)idx / nrow;
            memcpy(&v, p + 4, 8);
        }
        if (r >= nrow || c >= ncol) {
            pr_error_set(err, "%s: entry %d is outside the %zu x %zu matrix", name, (int)k + 1,
                         nrow, ncol);
            fosm_matrix_destroy(m);
            return NULL;
        }
        m->v[r * ncol + c] = v;
    }
    for (size_t j = 0; j < ncol; j++, p += wc)
        m->cn[j] = fixed_name(p, wc);
    for (size_t i = 0; i < nrow; i++, p += wr)
        m->rn[i] = fixed_name(p, wr);
    return m;
}

/* A CSV matrix as PEST++ reads one: a header of column names after a first label, then one row
 * a line, its name first. */
struct fosm_matrix *fosm_matrix_parse_csv(const char *buf, size_t len, const char *name,
                                          struct pr_error *err)
{
    struct csv *t = csv_parse(buf, len, name, ',', err);
    if (!t) return NULL;
    struct fosm_matrix *m = NULL;
    if (csv_ncols(t) < 2 || csv_nrows(t) == 0) {
        pr_error_set(err, "%s: expected a header of column names and a row per matrix row", name);
        goto done;
    }
    m = matrix_new(csv_nrows(t), csv_ncols(t) - 1);
    for (size_t j = 0; j < m->nc; j++)
        m->cn[j] = xstrdup(csv_colname(t, j + 1));
    for (size_t i = 0; i < m->nr; i++) {
        m->rn[i] = upper_dup(csv_field(t, i, 0), strlen(csv_field(t, i, 0)));
        for (size_t j = 0; j < m->nc; j++)
            if (pr_parse_double(csv_field(t, i, j + 1), &m->v[i * m->nc + j], 1) < 0) {
                pr_error_set(err, "%s:%d: column '%s': expected a number, got '%s'", name,
                             csv_row_line(t, i), csv_colname(t, j + 1), csv_field(t, i, j + 1));
                fosm_matrix_destroy(m);
                m = NULL;
                goto done;
            }
    }
done:
    csv_destroy(t);
    return m;
}

static int ends_with(const char *s, const char *ext)
{
    size_t n = strlen(s), e = strlen(ext);
    return n >= e && strcasecmp(s + n - e, ext) == 0;
}

struct fosm_matrix *fosm_matrix_load(const char *path, const char *dir, const struct pst_case *c,
                                     struct pr_error *err)
{
    size_t len;
    char *text = pr_read_file(path, &len, err);
    if (!text) return NULL;
    struct fosm_matrix *m;
    if (ends_with(path, ".unc"))
        m = fosm_matrix_parse_unc(text, len, path, dir, c, err);
    else if (ends_with(path, ".jcb") || ends_with(path, ".jco"))
        m = fosm_matrix_parse_binary(text, len, path, err);
    else if (ends_with(path, ".csv"))
        m = fosm_matrix_parse_csv(text, len, path, err);
    else
        m = fosm_matrix_parse_ascii(text, len, path, err);
    free(text);
    return m;
}

/* ------------------------------------------------------------------------------------------ */
/* the analysis                                                                               */

struct fosm {
    const struct parspace *ps;
    const struct pst_case *c;
    char *pst_path;
    int enabled, iter_mc, precision;
    size_t num_reals;
    double sigma_range;
    struct pr_rng rng;
    size_t nfc, *fc;      /* forecast observations, in upper-case name order */
    unsigned char *is_fc; /* per observation */
    char *prior_how;      /* how the prior was formed, for CASE.rec */
    char *disabled_why;   /* why the default analysis is left out, or NULL */
    double *parcov;       /* nadj x nadj from ++parcov, NULL: from the bounds */
    /* the last analysis */
    int have;
    size_t n, *col;       /* numeric indices of the parameters in it */
    double *prior, *post; /* n x n */
    double *prior_mean, *post_mean;
    double *w; /* per observation, after re-weighting */
    size_t nconditioning, nreweighted;
    double *ctl; /* the point analysed (npar) */
    double *fc_prior_mean, *fc_post_mean, *fc_prior_var, *fc_post_var;
    double phi_meas;
};

static const struct pst_option *find_opt(const struct pst_case *c, const char *key)
{
    for (size_t i = 0; i < pst_noptions(c); i++)
        if (strcmp(pst_option(c, i)->key, key) == 0) return pst_option(c, i);
    return NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Forecast observations: ++forecasts (names, or one file of names) or every zero-weight one. */
static int read_forecasts(struct fosm *f, struct pr_error *err)
{
    const struct pst_case *c = f->c;
    const struct pst_option *o = find_opt(c, "FORECASTS");
    const char **names = xcalloc(pst_nobs(c) + 1, sizeof(char *));
    char *copy = NULL, *text = NULL, **tok = NULL;
    char *path = NULL;
    size_t nn = 0, ntok = 0;
    int rc = -1;
    if (o) {
        copy = xstrdup(o->value);
        size_t cap = strlen(copy) + 2;
        tok = xcalloc(cap, sizeof(char *));
        ntok = pr_tokenize(copy, ", \t", tok, cap);
        path = ntok == 1 ? pr_resolve_file(pst_dir(c), tok[0]) : NULL;
        if (path && (names_find(pst_obs_names(c), tok[0]) >= 0 || access(path, R_OK) != 0)) {
            free(path);
            path = NULL;
        }
        if (path) { /* one value naming a file: the forecasts one a line, as PEST++ reads it */
            size_t len;
            text = pr_read_file(path, &len, err);
            if (!text) goto done;
            free(tok);
            cap = len + 2;
            tok = xcalloc(cap, sizeof(char *));
            ntok = pr_tokenize(text, " \t\r\n,", tok, cap);
        }
        names = xrealloc(names, (ntok + pst_nobs(c) + 1) * sizeof(char *));
    }
    for (size_t k = 0; k < ntok; k++) {
        int i = names_find(pst_obs_names(c), tok[k]);
        if (i < 0) {
            char *low = lower_dup(tok[k]);
            if (path)
                pr_error_set(err, "%s: '%s' is not an observation of %s (++forecasts at %s:%d)",
                             path, low, pst_path(c), o->loc.file, o->loc.line);
            else
                pr_error_set(err,
                             "%s:%d: ++forecasts: '%s' is not an observation of the control "
                             "file (a forecast's sensitivity is its row of the Jacobian)",
                             o->loc.file, o->loc.line, low);
            free(low);
            goto done;
        }
        names[nn++] = pst_obs(c, (size_t)i)->name;
    }
    if (ntok == 0) /* no ++forecasts (or an empty one): every zero-weight observation */
        for (size_t i = 0; i < pst_nobs(c); i++)
            if (pst_obs(c, i)->weight == 0.0) names[nn++] = pst_obs(c, i)->name;
    qsort(names, nn, sizeof(char *), cmp_name); /* PEST++ keeps them in a std::map */
    f->fc = xcalloc(nn + 1, sizeof(size_t));
    f->is_fc = xcalloc(pst_nobs(c) + 1, 1);
    for (size_t k = 0; k < nn; k++)
        if (k == 0 || strcmp(names[k], names[k - 1]) != 0) {
            f->fc[f->nfc] = (size_t)names_find(pst_obs_names(c), names[k]);
            f->is_fc[f->fc[f->nfc++]] = 1;
        }
    rc = 0;
done:
    free(names);
    free(copy);
    free(text);
    free(tok);
    free(path);
    return rc;
}

static const char *pname(const struct fosm *f, size_t k)
{
    return pst_param(f->c, f->ps->adj[k])->name;
}

/* Cholesky factor (lower, in place) of the n x n symmetric a; 0, or the 1-based row where it is
 * not positive definite. */
static int cholesky(double *a, size_t n)
{
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
    for (size_t i = 0; info == 0 && i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            a[i * n + j] = 0.0;
    return (int)info;
}

/* Invert the symmetric positive definite n x n a in place; as cholesky() returns. */
static int spd_inverse(double *a, size_t n)
{
    int diag = 1;
    for (size_t i = 0; i < n && diag; i++)
        for (size_t j = 0; j < n && diag; j++)
            diag = i == j || a[i * n + j] == 0.0;
    if (diag) {
        for (size_t i = 0; i < n; i++) {
            if (!(a[i * n + i] > 0)) return (int)i + 1;
            a[i * n + i] = 1.0 / a[i * n + i];
        }
        return 0;
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
    if (info == 0) info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
    if (info != 0) return info < 0 ? 1 : (int)info;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            a[i * n + j] = a[j * n + i];
    return 0;
}

/* The name of numeric parameter k. */
static const char *ps_name(const struct parspace *ps, size_t k)
{
    return pst_param(ps->c, ps->adj[k])->name;
}

/* ++parcov (option o): the matrix of every adjustable parameter, in numeric order, into *out
 * (na x na, malloc'd) and how it was formed into *how (malloc'd). */
static int load_parcov(const struct parspace *ps, const struct pst_option *o, double **out,
                       char **how_out, struct pr_error *err)
{
    const struct pst_case *c = ps->c;
    size_t na = ps->nadj;
    double *parcov = NULL;
    char *path = pr_resolve_file(pst_dir(c), o->value);
    struct fosm_matrix *m = fosm_matrix_load(path, pst_dir(c), c, err);
    long *ri = xcalloc(na + 1, sizeof(long)), *ci = xcalloc(na + 1, sizeof(long));
    struct names *rows = names_create(), *cols = names_create();
    struct strbuf miss = {0};
    size_t nmiss = 0;
    int rc = -1;
    if (!m) {
        pr_error_prefix(err, "%s:%d: ++parcov", o->loc.file, o->loc.line);
        goto done;
    }
    for (size_t i = 0; i < m->nr; i++)
        names_add(rows, m->rn[i]);
    for (size_t j = 0; j < m->nc; j++)
        names_add(cols, m->cn[j]);
    for (size_t k = 0; k < na; k++) {
        ri[k] = names_find(rows, ps_name(ps, k));
        ci[k] = names_find(cols, ps_name(ps, k));
        if (ri[k] >= 0 && ci[k] >= 0) continue;
        if (nmiss++ < MAX_LISTED) {
            char *low = lower_dup(ps_name(ps, k));
            sb_printf(&miss, "%s%s", nmiss > 1 ? ", " : "", low);
            free(low);
        }
    }
    if (nmiss) {
        pr_error_set(err,
                     "%s: %zu adjustable parameter%s not in the prior covariance matrix: %s%s "
                     "(PEST++ stops too: add %s, or fix %s)",
                     path, nmiss, nmiss == 1 ? " is" : "s are", miss.data,
                     nmiss > MAX_LISTED ? ", ..." : "", nmiss == 1 ? "it" : "them",
                     nmiss == 1 ? "it" : "them");
        goto done;
    }
    parcov = xcalloc(na * na + 1, sizeof(double));
    for (size_t a = 0; a < na; a++)
        for (size_t b = 0; b < na; b++)
            parcov[a * na + b] = m->v[(size_t)ri[a] * m->nc + (size_t)ci[b]];
    for (size_t a = 0; a < na; a++) {
        double d = parcov[a * na + a];
        if (!(d > 0)) {
            char *low = lower_dup(ps_name(ps, a));
            pr_error_set(err, "%s: the prior variance of %s is %g: expected a value above 0", path,
                         low, d);
            free(low);
            goto done;
        }
        for (size_t b = a + 1; b < na; b++) {
            double x = parcov[a * na + b], y = parcov[b * na + a];
            if (fabs(x - y) > 1e-9 * sqrt(d * parcov[b * na + b])) {
                char *la = lower_dup(ps_name(ps, a)), *lb = lower_dup(ps_name(ps, b));
                pr_error_set(err,
                             "%s: not symmetric: (%s, %s) is %g but (%s, %s) is %g: expected a "
                             "covariance matrix",
                             path, la, lb, x, lb, la, y);
                free(la);
                free(lb);
                goto done;
            }
        }
    }
    double *tmp = xcalloc(na * na + 1, sizeof(double));
    memcpy(tmp, parcov, na * na * sizeof(double));
    int bad = cholesky(tmp, na);
    free(tmp);
    if (bad) {
        char *low = lower_dup(ps_name(ps, (size_t)bad - 1));
        pr_error_set(err,
                     "%s: the prior covariance of the adjustable parameters is not positive "
                     "definite (it fails at %s): expected a valid covariance matrix",
                     path, low);
        free(low);
        goto done;
    }
    struct strbuf how = {0};
    const char *base = strrchr(path, '/');
    sb_printf(&how, "from ++parcov: %s", base ? base + 1 : path);
    if (m->nr > na)
        sb_printf(&how, " (%zu entr%s for names that are not adjustable parameters ignored)",
                  m->nr - na, m->nr - na == 1 ? "y" : "ies");
    *how_out = sb_take(&how);
    *out = parcov;
    parcov = NULL;
    rc = 0;
done:
    free(parcov);
    fosm_matrix_destroy(m);
    names_destroy(rows);
    names_destroy(cols);
    sb_free(&miss);
    free(ri);
    free(ci);
    free(path);
    return rc;
}

static int read_parcov(struct fosm *f, const struct pst_option *o, struct pr_error *err)
{
    return load_parcov(f->ps, o, &f->parcov, &f->prior_how, err);
}

int fosm_load_parcov(const struct parspace *ps, double **out, char **how, struct pr_error *err)
{
    const struct pst_option *o = find_opt(ps->c, "PARCOV");
    *out = NULL;
    *how = NULL;
    if (!o || !o->value[0]) return 0;
    return load_parcov(ps, o, out, how, err) < 0 ? -1 : 1;
}

static int check_bounds(struct fosm *f, struct pr_error *err)
{
    for (size_t k = 0; k < f->ps->nadj; k++) {
        const struct pst_param *p = pst_param(f->c, f->ps->adj[k]);
        int lg = f->ps->is_log[k];
        if (p->ubnd > p->lbnd && (!lg || p->lbnd > 0)) continue;
        char *low = lower_dup(p->name);
        pr_error_set(err,
                     "%s:%d: parameter %s: bounds %g and %g give no prior standard deviation "
                     "(upper - lower) / %g%s: widen them or give ++parcov",
                     p->loc.file, p->loc.line, low, p->lbnd, p->ubnd, f->sigma_range,
                     lg ? " in log10" : "");
        free(low);
        return -1;
    }
    struct strbuf how = {0};
    sb_printf(&how,
              "from the parameter bounds: stdev = (upper - lower) / %g, in log10 for "
              "log-transformed parameters",
              f->sigma_range);
    f->prior_how = sb_take(&how);
    return 0;
}

static int read_options(struct fosm *f, struct pr_error *err)
{
    const struct pst_case *c = f->c;
    int seed, nreals;
    if (pst_opt_bool(c, "uncertainty", 1, &f->enabled, err) < 0 ||
        pst_opt_bool(c, "glm_iter_mc", 0, &f->iter_mc, err) < 0 ||
        pst_opt_int(c, "glm_num_reals", 0, &nreals, err) < 0 ||
        pst_opt_int(c, "random_seed", (int)DEFAULT_SEED, &seed, err) < 0 ||
        pst_opt_int(c, "ensemble_output_precision", 20, &f->precision, err) < 0 ||
        pst_opt_double(c, "par_sigma_range", 4.0, &f->sigma_range, err) < 0)
        return -1;
    const struct pst_option *o = find_opt(c, "PAR_SIGMA_RANGE");
    if (!(f->sigma_range > 0))
        return pr_error_set(err, "%s:%d: ++par_sigma_range: expected a number above 0, got '%s'",
                            o->loc.file, o->loc.line, o->value);
    if (f->precision < 1 || f->precision > 40) f->precision = 20;
    f->num_reals = nreals > 0 ? (size_t)nreals : 0;
    pr_rng_seed(&f->rng, (uint32_t)seed);
    return 0;
}

struct fosm *fosm_create(const struct parspace *ps, const char *pst_path, struct pr_error *err)
{
    struct fosm *f = xcalloc(1, sizeof(*f));
    f->ps = ps;
    f->c = ps->c;
    f->pst_path = xstrdup(pst_path);
    if (read_options(f, err) < 0) goto error;
    if (!f->enabled) return f;
    const struct pst_option *pc = find_opt(f->c, "PARCOV");
    if (read_forecasts(f, err) < 0 || (pc && pc->value[0] && read_parcov(f, pc, err) < 0))
        goto error;
    if (!(pc && pc->value[0]) && check_bounds(f, err) < 0) {
        /* asked for (forecasts, realizations, ++uncertainty): an error; the default analysis
         * of a case whose bounds give no prior is left out, and says why */
        if (find_opt(f->c, "UNCERTAINTY") || find_opt(f->c, "FORECASTS") || f->num_reals > 0)
            goto error;
        f->enabled = 0;
        f->disabled_why = xstrdup(err->msg);
    }
    return f;
error:
    fosm_destroy(f);
    return NULL;
}

static void free_analysis(struct fosm *f)
{
    free(f->col);
    free(f->prior);
    free(f->post);
    free(f->prior_mean);
    free(f->post_mean);
    free(f->w);
    free(f->ctl);
    free(f->fc_prior_mean);
    free(f->fc_post_mean);
    free(f->fc_prior_var);
    free(f->fc_post_var);
    f->col = NULL;
    f->prior = f->post = f->prior_mean = f->post_mean = f->w = f->ctl = NULL;
    f->fc_prior_mean = f->fc_post_mean = f->fc_prior_var = f->fc_post_var = NULL;
    f->have = 0;
    f->n = 0;
}

void fosm_destroy(struct fosm *f)
{
    if (!f) return;
    free_analysis(f);
    free(f->pst_path);
    free(f->fc);
    free(f->is_fc);
    free(f->prior_how);
    free(f->disabled_why);
    free(f->parcov);
    free(f);
}

int fosm_enabled(const struct fosm *f)
{
    return f->enabled;
}

const double *fosm_parcov(const struct fosm *f)
{
    return f->parcov;
}

const char *fosm_disabled_why(const struct fosm *f)
{
    return f->disabled_why;
}

size_t fosm_num_reals(const struct fosm *f, int iteration)
{
    if (!f->enabled) return 0;
    return iteration < 0 || f->iter_mc ? f->num_reals : 0;
}

/* PEST++'s re-weighting: w' = w sqrt(1 / (w r)^2), never above w. */
static double reweight(double w, double r)
{
    if (!(w > 0)) return 0.0;
    double swr = (r * w) * (r * w), nw = w * sqrt(1.0 / swr);
    if (nw > w) return w;
    if (nw <= DBL_MIN) return 0.0;
    if (nw >= DBL_MAX) return 1.0e30;
    return nw;
}

static double quad(const double *y, const double *C, size_t n)
{
    double v = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 0.0) continue;
        double t = 0;
        for (size_t j = 0; j < n; j++)
            t += C[i * n + j] * y[j];
        v += y[i] * t;
    }
    return v;
}

static double numeric_value(const struct fosm *f, size_t k, double ctl)
{
    return f->ps->is_log[k] ? log10(ctl) : ctl;
}

static int fill_prior(struct fosm *f)
{
    size_t n = f->n, na = f->ps->nadj;
    for (size_t a = 0; a < n; a++) {
        size_t ka = f->col[a];
        if (f->parcov) {
            for (size_t b = 0; b < n; b++)
                f->prior[a * n + b] = f->parcov[ka * na + f->col[b]];
            continue;
        }
        const struct pst_param *p = pst_param(f->c, f->ps->adj[ka]);
        double lo = p->lbnd, hi = p->ubnd;
        if (f->ps->is_log[ka]) {
            lo = log10(lo);
            hi = log10(hi);
        }
        double sd = (hi - lo) / f->sigma_range;
        f->prior[a * n + a] = sd * sd;
    }
    return 0;
}

/* Jacobian row r over the parameters in the analysis. */
static void jrow(const struct fosm *f, const struct jacobian *jac, size_t r, double *y)
{
    for (size_t a = 0; a < f->n; a++)
        y[a] = jac->J[r * jac->ncols + f->col[a]];
}

static int posterior(struct fosm *f, const struct jacobian *jac, struct pr_error *err)
{
    size_t n = f->n, nobs = pst_nobs(f->c);
    double *A = xcalloc(n * n + 1, sizeof(double)), *y = xcalloc(n + 1, sizeof(double));
    int rc = -1;
    memcpy(A, f->prior, n * n * sizeof(double));
    int bad = spd_inverse(A, n);
    if (bad) {
        char *low = lower_dup(pname(f, f->col[bad - 1]));
        pr_error_set(err, "the prior parameter covariance is not positive definite (at %s)", low);
        free(low);
        goto done;
    }
    for (size_t r = 0; r < nobs; r++) {
        if (f->is_fc[r]) continue; /* PEST++ takes the forecasts' rows out of J */
        double q = f->w[r] > 0 ? f->w[r] * f->w[r] : 1.0 / ZERO_WEIGHT_VAR;
        jrow(f, jac, r, y);
        for (size_t a = 0; a < n; a++) { /* the lower triangle, mirrored below */
            if (y[a] == 0.0) continue;
            double qa = q * y[a];
            for (size_t b = 0; b <= a; b++)
                A[a * n + b] += qa * y[b];
        }
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            A[a * n + b] = A[b * n + a];
    bad = spd_inverse(A, n);
    if (bad) {
        char *low = lower_dup(pname(f, f->col[bad - 1]));
        pr_error_set(err,
                     "J'QJ + Cp^-1 is not positive definite (at %s): the posterior covariance "
                     "cannot be formed",
                     low);
        free(low);
        goto done;
    }
    memcpy(f->post, A, n * n * sizeof(double));
    rc = 0;
done:
    free(A);
    free(y);
    return rc;
}

static int check_input(const struct fosm *f, const struct fosm_input *in, struct pr_error *err)
{
    if (!in->jac || !in->ctl || !in->sim)
        return pr_error_set(err, "FOSM: a Jacobian, parameter values and simulated values are "
                                 "needed");
    if (in->jac->ncols != f->ps->nadj || in->jac->nrows < pst_nobs(f->c))
        return pr_error_set(err, "FOSM: the Jacobian is %zu x %zu where %zu x %zu was expected",
                            in->jac->nrows, in->jac->ncols, pst_nobs(f->c) + pst_nprior(f->c),
                            f->ps->nadj);
    for (size_t i = 0; i < pst_nobs(f->c); i++)
        if (!isfinite(in->sim[i]) || (in->sim_initial && !isfinite(in->sim_initial[i]))) {
            char *low = lower_dup(pst_obs(f->c, i)->name);
            pr_error_set(err, "FOSM: the simulated value of %s is not a finite number", low);
            free(low);
            return -1;
        }
    return 0;
}

int fosm_compute(struct fosm *f, const struct fosm_input *in, struct pr_error *err)
{
    const struct pst_case *c = f->c;
    size_t nobs = pst_nobs(c), npar = pst_nparams(c), nfc = f->nfc;
    free_analysis(f);
    if (!f->enabled) return pr_error_set(err, "FOSM is off (++uncertainty(false))");
    if (check_input(f, in, err) < 0) return -1;
    f->col = xcalloc(f->ps->nadj + 1, sizeof(size_t));
    for (size_t k = 0; k < f->ps->nadj; k++)
        if (in->jac->ok[k]) f->col[f->n++] = k;
    if (f->n == 0) {
        free_analysis(f);
        return pr_error_set(err, "FOSM: no parameter has a derivative, nothing to analyse");
    }
    size_t n = f->n;
    f->prior = xcalloc(n * n + 1, sizeof(double));
    f->post = xcalloc(n * n + 1, sizeof(double));
    f->prior_mean = xcalloc(n + 1, sizeof(double));
    f->post_mean = xcalloc(n + 1, sizeof(double));
    f->w = xcalloc(nobs + 1, sizeof(double));
    f->ctl = xcalloc(npar + 1, sizeof(double));
    memcpy(f->ctl, in->ctl, npar * sizeof(double));
    f->nconditioning = f->nreweighted = 0;
    for (size_t i = 0; i < nobs; i++) {
        const struct pst_obs *o = pst_obs(c, i);
        f->w[i] = reweight(o->weight, o->value - in->sim[i]);
        f->nconditioning += o->weight > 0 && !f->is_fc[i];
        f->nreweighted += f->w[i] != o->weight && !f->is_fc[i];
    }
    for (size_t a = 0; a < n; a++) {
        size_t k = f->col[a];
        f->prior_mean[a] = numeric_value(f, k, pst_param(c, f->ps->adj[k])->parval1);
        f->post_mean[a] = numeric_value(f, k, in->ctl[f->ps->adj[k]]);
    }
    fill_prior(f);
    if (posterior(f, in->jac, err) < 0) {
        free_analysis(f);
        return -1;
    }
    f->fc_prior_mean = xcalloc(nfc + 1, sizeof(double));
    f->fc_post_mean = xcalloc(nfc + 1, sizeof(double));
    f->fc_prior_var = xcalloc(nfc + 1, sizeof(double));
    f->fc_post_var = xcalloc(nfc + 1, sizeof(double));
    double *y = xcalloc(n + 1, sizeof(double));
    for (size_t k = 0; k < nfc; k++) {
        size_t i = f->fc[k];
        jrow(f, in->jac, i, y);
        f->fc_prior_var[k] = quad(y, f->prior, n);
        f->fc_post_var[k] = quad(y, f->post, n);
        f->fc_prior_mean[k] = in->sim_initial ? in->sim_initial[i] : in->sim[i];
        f->fc_post_mean[k] = in->sim[i];
    }
    free(y);
    struct phi_parts parts = {0};
    pst_phi(c, in->sim, in->ctl, &parts);
    f->phi_meas = parts.meas;
    f->have = 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* files                                                                                      */

/* CASE.NUM.what, or CASE.what when num < 0. */
static char *out_path(const struct fosm *f, int num, const char *what)
{
    char ext[128];
    if (num >= 0)
        snprintf(ext, sizeof(ext), "%d.%s", num, what);
    else
        snprintf(ext, sizeof(ext), "%s", what);
    return pst_output_path(f->pst_path, ext);
}

static const char usum_header[] = "name,prior_mean,prior_stdev,prior_lower_bound,"
                                  "prior_upper_bound,post_mean,post_stdev,post_lower_bound,"
                                  "post_upper_bound\n";

/* One row of a usum file: numbers as C++ streams print them by default (%g). */
static void usum_row(struct strbuf *sb, const struct fosm_summary *s)
{
    char *low = lower_dup(s->name);
    sb_printf(sb, "%s,%g,%g,%g,%g,%g,%g,%g,%g\n", low, s->prior_mean, s->prior_sd,
              s->prior_mean - 2 * s->prior_sd, s->prior_mean + 2 * s->prior_sd, s->post_mean,
              s->post_sd, s->post_mean - 2 * s->post_sd, s->post_mean + 2 * s->post_sd);
    free(low);
}

/* The same rows as a table for CASE.rec. */
static void rec_table(struct strbuf *rec, const struct fosm *f, int forecasts)
{
    size_t n = forecasts ? f->nfc : f->n;
    int width = 20;
    struct fosm_summary s;
    for (size_t k = 0; k < n; k++) {
        forecasts ? fosm_forecast(f, k, &s) : fosm_param(f, k, &s);
        if ((int)strlen(s.name) > width) width = (int)strlen(s.name);
    }
    sb_printf(rec, "%-*s%20s%20s%20s%20s%20s%20s%20s%20s\n", width, " name", "prior_mean",
              "prior_stdev", "prior_lower_bound", "prior_upper_bound", "post_mean", "post_stdev",
              "post_lower_bound", "post_upper_bound");
    for (size_t k = 0; k < n; k++) {
        forecasts ? fosm_forecast(f, k, &s) : fosm_param(f, k, &s);
        char *low = lower_dup(s.name);
        sb_printf(rec, "%-*s%20g%20g%20g%20g%20g%20g%20g%20g\n", width + 1, low, s.prior_mean,
                  s.prior_sd, s.prior_mean - 2 * s.prior_sd, s.prior_mean + 2 * s.prior_sd,
                  s.post_mean, s.post_sd, s.post_mean - 2 * s.post_sd, s.post_mean + 2 * s.post_sd);
        free(low);
    }
}

/* A PEST ASCII matrix as PEST++ writes one (Mat::to_ascii: the header in fields of 6, the values
 * as Eigen prints a dense matrix, right-aligned to the widest, then the names). */
static void put_cov(struct strbuf *sb, const struct fosm *f, const double *C)
{
    size_t n = f->n;
    int width = 0;
    char buf[64];
    for (size_t i = 0; i < n * n; i++) {
        int w = snprintf(buf, sizeof(buf), "%g", C[i]);
        if (w > width) width = w;
    }
    sb_printf(sb, "%6zu%6zu%6d\n", n, n, 1);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            sb_printf(sb, "%s%*g", j ? " " : "", width, C[i * n + j]);
        sb_putc(sb, '\n');
    }
    sb_puts(sb, "* row and column names\n");
    for (size_t i = 0; i < n; i++) {
        char *low = lower_dup(pname(f, f->col[i]));
        sb_printf(sb, "%s\n", low);
        free(low);
    }
}

/* The re-weighted residuals as PEST++ writes CASE.fosm_reweight.rei (its .rec table layout). */
static void put_reweight(struct strbuf *sb, const struct fosm *f, const double *sim)
{
    const struct pst_case *c = f->c;
    int w = 20;
    for (size_t i = 0; i < pst_nobs(c); i++)
        if ((int)strlen(pst_obs(c, i)->name) > w) w = (int)strlen(pst_obs(c, i)->name);
    sb_printf(sb, "%*s%13s%21s%21s%21s%21s\n", w + 1, " Name", " Group", " Measured", " Modelled",
              " Residual", " Weight");
    for (size_t i = 0; i < pst_nobs(c); i++) {
        const struct pst_obs *o = pst_obs(c, i);
        char *name = lower_dup(o->name), *group = lower_dup(pst_obsgp(c, (size_t)o->group)->name);
        sb_printf(sb, " %*s %12s %#20.6g %#20.6g %#20.6g %#20.6g\n", w, name, group, o->value,
                  sim[i], o->value - sim[i], f->w[i]);
        free(name);
        free(group);
    }
}

static int write_text(const char *path, const struct strbuf *sb, struct pr_error *err)
{
    return pr_write_file(path, sb->data ? sb->data : "", sb->len, err);
}

static void rec_intro(struct strbuf *rec, const struct fosm *f, const struct fosm_input *in,
                      int iteration, const char *rei)
{
    const struct pst_case *c = f->c;
    if (iteration > 0)
        sb_printf(rec, "FOSM uncertainty analysis of iteration %d (at its base parameters)\n",
                  iteration);
    else
        sb_puts(rec, "FOSM uncertainty analysis at the best parameters\n");
    sb_printf(rec,
              "  first-order, second-moment: Cpost = (J'QJ + Cp^-1)^-1 (Schur's complement), "
              "in numeric space (log10 for log-transformed parameters)\n"
              "  prior parameter covariance Cp %s\n",
              f->prior_how);
    size_t nout = f->ps->nadj - f->n;
    sb_printf(rec, "  %zu parameter%s in the analysis", f->n, f->n == 1 ? "" : "s");
    if (nout) {
        sb_puts(rec, "; not in it (its derivative failed):");
        for (size_t k = 0; k < f->ps->nadj; k++)
            if (!in->jac->ok[k]) {
                char *low = lower_dup(pname(f, k));
                sb_printf(rec, " %s", low);
                free(low);
            }
    }
    sb_printf(rec,
              "\n  Q from the %zu observations with weight > 0 that are not forecasts; "
              "zero-weight observations%s do not condition the posterior\n",
              f->nconditioning, pst_nprior(c) ? " and prior information" : "");
    sb_printf(rec,
              "  %zu weight%s lowered to 1/|residual|, where the residual is larger than "
              "1/weight (PEST++'s re-weighting); the weights used are in '%s'\n",
              f->nreweighted, f->nreweighted == 1 ? "" : "s", rei);
    for (size_t k = 0; k < f->nfc; k++)
        if (pst_obs(c, f->fc[k])->weight != 0.0) {
            char *low = lower_dup(pst_obs(c, f->fc[k])->name);
            sb_printf(rec,
                      "  WARNING: forecast %s has a non-zero weight: as a forecast it does "
                      "not condition the posterior\n",
                      low);
            free(low);
        }
}

int fosm_write(struct fosm *f, const struct fosm_input *in, int iteration, struct strbuf *rec,
               struct pr_error *err)
{
    if (!f->enabled) return 0;
    if (iteration == 0 || iteration < -1)
        return pr_error_set(err, "FOSM: iteration %d: expected 1 or more, or -1 (final)",
                            iteration);
    if (fosm_compute(f, in, err) < 0) return -1;
    int un = iteration > 0 ? iteration - 1 : -1; /* PEST++'s numbering */
    char *p_par = out_path(f, un, "par.usum.csv"), *p_pred = out_path(f, un, "pred.usum.csv"),
         *p_rei = out_path(f, un, "fosm_reweight.rei"), *p_cov = out_path(f, iteration, "post.cov");
    struct strbuf sb = {0};
    struct fosm_summary s;
    int rc = -1;

    put_reweight(&sb, f, in->sim);
    if (write_text(p_rei, &sb, err) < 0) goto done;
    sb_reset(&sb);
    put_cov(&sb, f, f->post);
    if (write_text(p_cov, &sb, err) < 0) goto done;
    sb_reset(&sb);
    sb_puts(&sb, usum_header);
    for (size_t k = 0; k < f->n; k++) {
        fosm_param(f, k, &s);
        usum_row(&sb, &s);
    }
    if (write_text(p_par, &sb, err) < 0) goto done;
    if (f->nfc) {
        sb_reset(&sb);
        sb_puts(&sb, usum_header);
        for (size_t k = 0; k < f->nfc; k++) {
            fosm_forecast(f, k, &s);
            usum_row(&sb, &s);
        }
        if (write_text(p_pred, &sb, err) < 0) goto done;
    }
    if (rec) {
        rec_intro(rec, f, in, iteration, p_rei);
        sb_printf(rec, "  posterior parameter covariance matrix written to file '%s'\n\n", p_cov);
        sb_puts(rec, "current parameter uncertainty summary:\n\n");
        rec_table(rec, f, 0);
        sb_printf(rec, "the above parameter uncertainty summary was written to file '%s'\n\n",
                  p_par);
        if (f->nfc) {
            sb_puts(rec, "current forecast uncertainty summary:\n\n");
            rec_table(rec, f, 1);
            sb_printf(rec, "the above forecast uncertainty summary was written to file '%s'\n\n",
                      p_pred);
        } else {
            sb_puts(rec, "no forecasts (no ++forecasts and no zero-weight observation)\n\n");
        }
    }
    rc = 0;
done:
    sb_free(&sb);
    free(p_par);
    free(p_pred);
    free(p_rei);
    free(p_cov);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* posterior realizations                                                                     */

/* P with P P' = Cpost: the Cholesky factor, or V |L|^1/2 from the eigen-decomposition when
 * Cpost is only semi-definite (as PEST++ takes the absolute eigenvalues). */
static int projection(const struct fosm *f, double *P, struct pr_error *err)
{
    size_t n = f->n;
    memcpy(P, f->post, n * n * sizeof(double));
    if (cholesky(P, n) == 0) return 0;
    double *V = xcalloc(n * n + 1, sizeof(double)), *ev = xcalloc(n + 1, sizeof(double));
    memcpy(V, f->post, n * n * sizeof(double));
    lapack_int info =
        LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'L', (lapack_int)n, V, (lapack_int)n, ev);
    if (info == 0)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                P[i * n + j] = V[i * n + j] * sqrt(fabs(ev[j]));
    free(V);
    free(ev);
    if (info != 0)
        return pr_error_set(err,
                            "the eigen-decomposition of the posterior covariance failed "
                            "(LAPACK info %d)",
                            (int)info);
    return 0;
}

double *fosm_draw(struct fosm *f, size_t nreals, struct pr_error *err)
{
    if (!f->have) {
        pr_error_set(err, "FOSM: no analysis to draw realizations from");
        return NULL;
    }
    size_t n = f->n, npar = pst_nparams(f->c);
    double *P = xcalloc(n * n + 1, sizeof(double)), *z = xcalloc(n + 1, sizeof(double));
    double *out = xcalloc(nreals * npar + 1, sizeof(double));
    if (projection(f, P, err) < 0) {
        free(P);
        free(z);
        free(out);
        return NULL;
    }
    for (size_t r = 0; r < nreals; r++) {
        double *ctl = out + r * npar;
        memcpy(ctl, f->ctl, npar * sizeof(double));
        for (size_t a = 0; a < n; a++)
            z[a] = pr_rng_normal(&f->rng);
        for (size_t a = 0; a < n; a++) {
            size_t k = f->col[a], i = f->ps->adj[k];
            const struct pst_param *p = pst_param(f->c, i);
            double x = f->post_mean[a];
            for (size_t b = 0; b < n; b++)
                x += P[a * n + b] * z[b];
            double lo = numeric_value(f, k, p->lbnd), hi = numeric_value(f, k, p->ubnd);
            x = x < lo ? lo : x > hi ? hi : x;
            ctl[i] = f->ps->is_log[k] ? pow(10.0, x) : x;
        }
        parspace_fix_tied(f->ps, ctl);
    }
    free(P);
    free(z);
    return out;
}

static void ensemble_row(struct strbuf *sb, size_t real, const double *v, size_t n, int prec)
{
    sb_printf(sb, "%zu", real);
    for (size_t i = 0; i < n; i++)
        sb_printf(sb, ",%.*g", prec, v[i]);
    sb_putc(sb, '\n');
}

int fosm_write_reals(struct fosm *f, int iteration, const double *reals, const double *sim,
                     const unsigned char *ok, size_t n, struct strbuf *rec, struct pr_error *err)
{
    const struct pst_case *c = f->c;
    size_t npar = pst_nparams(c), nobs = pst_nobs(c), nfail = 0;
    char *p_par = out_path(f, iteration > 0 ? iteration : -1, "post.paren.csv");
    char *p_obs = out_path(f, iteration > 0 ? iteration : -1, "post.obsen.csv");
    struct strbuf sb = {0};
    int rc = -1;
    pst_ensemble_header(&sb, c, 1);
    for (size_t r = 0; r < n; r++)
        ensemble_row(&sb, r, reals + r * npar, npar, f->precision);
    if (write_text(p_par, &sb, err) < 0) goto done;
    sb_reset(&sb);
    pst_ensemble_header(&sb, c, 0);
    for (size_t r = 0; r < n; r++) {
        if (ok[r])
            ensemble_row(&sb, r, sim + r * nobs, nobs, f->precision);
        else
            nfail++;
    }
    if (write_text(p_obs, &sb, err) < 0) goto done;
    if (rec) {
        sb_printf(rec, "...posterior parameter ensemble saved to %s\n", p_par);
        sb_printf(rec, "...posterior observation ensemble saved to %s\n", p_obs);
        if (nfail)
            sb_printf(rec,
                      "   %zu of the %zu realization runs failed and are not in it (PEST++ "
                      "5.2.23 writes a row of zeros for each)\n",
                      nfail, n);
        sb_printf(rec, "\n  FOSM-based Monte Carlo phi summary:\n%15s%20s\n", "realization", "phi");
        for (size_t r = 0; r < n; r++) {
            if (!ok[r]) {
                sb_printf(rec, "%20zu%20s\n", r, "run failed");
                continue;
            }
            struct phi_parts parts = {0};
            pst_phi(c, sim + r * nobs, reals + r * npar, &parts);
            sb_printf(rec, "%20zu%20g", r, parts.meas);
            if (f->phi_meas > 0)
                sb_printf(rec, " (%g%% of starting phi)", 100 * parts.meas / f->phi_meas);
            sb_putc(rec, '\n');
        }
        sb_putc(rec, '\n');
    }
    rc = 0;
done:
    sb_free(&sb);
    free(p_par);
    free(p_obs);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* the last analysis                                                                          */

size_t fosm_nparams(const struct fosm *f)
{
    return f->n;
}

size_t fosm_param_numeric(const struct fosm *f, size_t k)
{
    return f->col[k];
}

void fosm_param(const struct fosm *f, size_t k, struct fosm_summary *out)
{
    out->name = pname(f, f->col[k]);
    out->prior_mean = f->prior_mean[k];
    out->prior_sd = sqrt(f->prior[k * f->n + k]);
    out->post_mean = f->post_mean[k];
    out->post_sd = sqrt(f->post[k * f->n + k]);
}

double fosm_prior_cov(const struct fosm *f, size_t i, size_t j)
{
    return f->prior[i * f->n + j];
}

double fosm_post_cov(const struct fosm *f, size_t i, size_t j)
{
    return f->post[i * f->n + j];
}

size_t fosm_nforecasts(const struct fosm *f)
{
    return f->nfc;
}

void fosm_forecast(const struct fosm *f, size_t k, struct fosm_summary *out)
{
    out->name = pst_obs(f->c, f->fc[k])->name;
    out->prior_mean = f->fc_prior_mean ? f->fc_prior_mean[k] : NAN;
    out->prior_sd = f->fc_prior_var ? sqrt(f->fc_prior_var[k]) : NAN;
    out->post_mean = f->fc_post_mean ? f->fc_post_mean[k] : NAN;
    out->post_sd = f->fc_post_var ? sqrt(f->fc_post_var[k]) : NAN;
}

double fosm_weight(const struct fosm *f, size_t i)
{
    return f->w ? f->w[i] : NAN;
}
