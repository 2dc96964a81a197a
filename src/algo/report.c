#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pest/outputs.h"
#include "util/csv.h"
#include "util/strbuf.h"
#include "util/svgplot.h"
#include "util/text.h"

/* Tableau 10: distinct on screen and in print; groups and parameters cycle through it. */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define NPALETTE 10
static const enum svg_mark marks[] = {SVG_MARK_CIRCLE, SVG_MARK_SQUARE, SVG_MARK_TRIANGLE,
                                      SVG_MARK_DIAMOND};
#define WIDE 1140 /* px: a chart across the page */
#define TOP_RESIDUALS 10
#define MAX_TOKENS 16 /* per line of CASE.rei and CASE.par; a row has 6 */

struct iobj {
    size_t n, ng;
    double *iter, *runs, *total, *meas, *regul;
    double *group;      /* n x ng */
    int *gidx;          /* case observation group of each group column */
    char *first, *last; /* total phi of the first and last rows, as printed */
};

struct ipar {
    size_t n;
    double *iter, *val; /* n x npar, NAN where the file has no column */
};

struct iruns {
    size_t n;
    double *iter, *runs, *elapsed;
};

struct resid {
    char *name;
    int group;
    double meas, mod, res, weight;
};

/* One row of CASE.par.usum.csv or CASE.pred.usum.csv (FOSM, as pestpp-glm writes them). */
struct usum_row {
    char *name; /* lower case */
    int index;  /* parameter or observation of the case */
    double prior_mean, prior_sd, post_mean, post_sd;
};

struct usum {
    int have; /* the file exists */
    size_t n;
    struct usum_row *row;
};

struct report {
    const struct pst_case *c;
    const char *pst_path;
    char *case_name;
    char **pname, **gname; /* lower case, as the outputs spell them */
    struct iobj io;
    struct ipar ip;
    struct iruns ir;
    int have_iruns;
    struct resid *res;
    size_t nres;
    int rei_iter;            /* -2 when the header does not say */
    double *final;           /* npar, NAN when CASE.par lacks the parameter */
    char *stop;              /* NULL when CASE.rec holds no stop line */
    struct usum upar, upred; /* optional FOSM summaries */
    char when_outputs[64], when_now[64];
};

/* ------------------------------------------------------------------------------------------ */
/* reading the outputs                                                                        */

static char *output_path(const struct report *r, const char *ext)
{
    return pst_output_path(r->pst_path, ext);
}

static char *lower_dup(const char *s)
{
    char *d = xstrdup(s);
    pr_lower(d);
    return d;
}

/* A required output: a missing one says which command writes it. */
static char *read_output(const struct report *r, const char *path, size_t *len,
                         struct pr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        pr_error_set(err,
                     "%s: cannot read: %s (run 'pestrun glm %s' first: it writes the "
                     "calibration outputs beside the control file)",
                     path, strerror(errno), r->pst_path);
        return NULL;
    }
    return pr_read_file(path, len, err);
}

/* Line number of the first line that is neither blank nor a comment (the CSV header). */
static int header_line(const char *text)
{
    int line = 1;
    for (const char *p = text; *p; line++) {
        size_t n = strcspn(p, "\n");
        size_t sp = strspn(p, " \t\r");
        if (sp < n && p[sp] != '#') return line;
        p += n;
        if (*p) p++;
    }
    return 1;
}

static int obsgp_index(const struct pst_case *c, const char *name)
{
    for (size_t g = 0; g < pst_nobsgps(c); g++)
        if (pr_strieq(pst_obsgp(c, g)->name, name)) return (int)g;
    return -1;
}

static int need_col(const struct csv *t, const char *path, int line, const char *name,
                    struct pr_error *err)
{
    const char *const names[] = {name, NULL};
    int k = csv_find(t, names);
    if (k < 0) pr_error_set(err, "%s:%d: no column '%s' in the header", path, line, name);
    return k;
}

static int field_num(const struct csv *t, const char *path, size_t row, int col, double *out,
                     struct pr_error *err)
{
    const char *s = csv_field(t, row, (size_t)col);
    if (pr_parse_double(s, out, 0) == 0) return 0;
    char name[256];
    snprintf(name, sizeof(name), "%s", csv_colname(t, (size_t)col));
    pr_lower(name);
    return pr_error_set(err, "%s:%d: column '%s': expected a number, got '%s'", path,
                        csv_row_line(t, row), name, s);
}

/* The CSV output at path, parsed; NULL with err set. text receives the file's bytes. */
static struct csv *read_csv(const struct report *r, const char *path, char **text,
                            struct pr_error *err)
{
    size_t len;
    *text = read_output(r, path, &len, err);
    if (!*text) return NULL;
    struct csv *t = csv_parse(*text, len, path, ',', err);
    if (t && csv_nrows(t) == 0) {
        pr_error_set(err, "%s:%d: a header and no rows: no iteration was recorded", path,
                     header_line(*text) + 1);
        csv_destroy(t);
        return NULL;
    }
    return t;
}

/* The group columns of CASE.iobj: every column after the fixed ones names a group. */
static int iobj_groups(struct report *r, const struct csv *t, const char *path, int hl,
                       const int *fixed, size_t nfixed, int *gcol, struct pr_error *err)
{
    struct iobj *io = &r->io;
    for (size_t k = 0; k < csv_ncols(t); k++) {
        int is_fixed = 0;
        for (size_t f = 0; f < nfixed; f++)
            is_fixed |= fixed[f] == (int)k;
        if (is_fixed) continue;
        int g = obsgp_index(r->c, csv_colname(t, k));
        if (g < 0) {
            char *name = lower_dup(csv_colname(t, k));
            pr_error_set(err,
                         "%s:%d: column '%s' is not an observation group of %s (are these the "
                         "outputs of another case?)",
                         path, hl, name, r->pst_path);
            free(name);
            return -1;
        }
        io->gidx[io->ng] = g;
        gcol[io->ng++] = (int)k;
    }
    return 0;
}

static int read_iobj(struct report *r, struct pr_error *err)
{
    struct iobj *io = &r->io;
    char *path = output_path(r, "iobj"), *text = NULL;
    int *gcol = NULL, rc = -1;
    struct csv *t = read_csv(r, path, &text, err);
    if (!t) goto done;
    int hl = header_line(text);
    int ci = need_col(t, path, hl, "iteration", err);
    int cr = ci < 0 ? -1 : need_col(t, path, hl, "model_runs_completed", err);
    int ct = cr < 0 ? -1 : need_col(t, path, hl, "total_phi", err);
    if (ct < 0) goto done;
    const char *const meas[] = {"measurement_phi", NULL}, *const regul[] = {"regularization_phi",
                                                                            NULL};
    int cm = csv_find(t, meas), cg = csv_find(t, regul);
    int fixed[5] = {ci, cr, ct, cm, cg};
    size_t n = csv_nrows(t), ncols = csv_ncols(t);
    io->gidx = xcalloc(ncols + 1, sizeof(int));
    gcol = xcalloc(ncols + 1, sizeof(int));
    if (iobj_groups(r, t, path, hl, fixed, 5, gcol, err) < 0) goto done;
    io->n = n;
    io->iter = xcalloc(n, sizeof(double));
    io->runs = xcalloc(n, sizeof(double));
    io->total = xcalloc(n, sizeof(double));
    io->meas = xcalloc(n, sizeof(double));
    io->regul = xcalloc(n, sizeof(double));
    io->group = xcalloc(n * io->ng + 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (field_num(t, path, i, ci, &io->iter[i], err) < 0 ||
            field_num(t, path, i, cr, &io->runs[i], err) < 0 ||
            field_num(t, path, i, ct, &io->total[i], err) < 0 ||
            (cm >= 0 && field_num(t, path, i, cm, &io->meas[i], err) < 0) ||
            (cg >= 0 && field_num(t, path, i, cg, &io->regul[i], err) < 0))
            goto done;
        for (size_t g = 0; g < io->ng; g++)
            if (field_num(t, path, i, gcol[g], &io->group[i * io->ng + g], err) < 0) goto done;
    }
    io->first = xstrdup(csv_field(t, 0, (size_t)ct));
    io->last = xstrdup(csv_field(t, n - 1, (size_t)ct));
    rc = 0;
done:
    csv_destroy(t);
    free(text);
    free(gcol);
    free(path);
    return rc;
}

static int read_ipar(struct report *r, struct pr_error *err)
{
    size_t npar = pst_nparams(r->c);
    char *path = output_path(r, "ipar"), *text = NULL;
    int *pcol = NULL, rc = -1;
    struct csv *t = read_csv(r, path, &text, err);
    if (!t) goto done;
    int hl = header_line(text), ci = need_col(t, path, hl, "iteration", err);
    if (ci < 0) goto done;
    size_t n = csv_nrows(t);
    pcol = xcalloc(npar + 1, sizeof(int));
    for (size_t i = 0; i < npar; i++)
        pcol[i] = -1;
    for (size_t k = 0; k < csv_ncols(t); k++) {
        if ((int)k == ci) continue;
        int i = names_find(pst_param_names(r->c), csv_colname(t, k));
        if (i < 0) {
            char *name = lower_dup(csv_colname(t, k));
            pr_error_set(err,
                         "%s:%d: column '%s' is not a parameter of %s (are these the outputs "
                         "of another case?)",
                         path, hl, name, r->pst_path);
            free(name);
            goto done;
        }
        pcol[i] = (int)k;
    }
    r->ip.n = n;
    r->ip.iter = xcalloc(n, sizeof(double));
    r->ip.val = xcalloc(n * npar + 1, sizeof(double));
    for (size_t row = 0; row < n; row++) {
        if (field_num(t, path, row, ci, &r->ip.iter[row], err) < 0) goto done;
        for (size_t i = 0; i < npar; i++) {
            double *v = &r->ip.val[row * npar + i];
            *v = NAN;
            if (pcol[i] >= 0 && field_num(t, path, row, pcol[i], v, err) < 0) goto done;
        }
    }
    rc = 0;
done:
    csv_destroy(t);
    free(text);
    free(pcol);
    free(path);
    return rc;
}

/* CASE.iruns.csv is optional (older calibrations lack it); a malformed one is an error. */
static int read_iruns(struct report *r, struct pr_error *err)
{
    char *path = output_path(r, "iruns.csv"), *text = NULL;
    struct csv *t = NULL;
    int rc = -1;
    if (access(path, F_OK) != 0) {
        rc = 0;
        goto done;
    }
    t = read_csv(r, path, &text, err);
    if (!t) goto done;
    int hl = header_line(text);
    int ci = need_col(t, path, hl, "iteration", err);
    int cr = ci < 0 ? -1 : need_col(t, path, hl, "model_runs_completed", err);
    int ce = cr < 0 ? -1 : need_col(t, path, hl, "elapsed_s", err);
    if (ce < 0) goto done;
    size_t n = csv_nrows(t);
    r->ir.n = n;
    r->ir.iter = xcalloc(n, sizeof(double));
    r->ir.runs = xcalloc(n, sizeof(double));
    r->ir.elapsed = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        if (field_num(t, path, i, ci, &r->ir.iter[i], err) < 0 ||
            field_num(t, path, i, cr, &r->ir.runs[i], err) < 0 ||
            field_num(t, path, i, ce, &r->ir.elapsed[i], err) < 0)
            goto done;
    r->have_iruns = 1;
    rc = 0;
done:
    csv_destroy(t);
    free(text);
    free(path);
    return rc;
}

static int is_prior(const struct pst_case *c, const char *name)
{
    for (size_t i = 0; i < pst_nprior(c); i++)
        if (pr_strieq(pst_prior(c, i)->name, name)) return 1;
    return 0;
}

/* One row " name group measured modelled residual weight" of CASE.rei. */
static int rei_row(struct report *r, const char *path, int line, char **tok, size_t k,
                   struct pr_error *err)
{
    static const char *const what[] = {"measured", "modelled", "residual", "weight"};
    if (k != 6)
        return pr_error_set(err,
                            "%s:%d: %zu fields where a residual row has 6 (name group measured "
                            "modelled residual weight)",
                            path, line, k);
    if (names_find(pst_obs_names(r->c), tok[0]) < 0 && !is_prior(r->c, tok[0]))
        return pr_error_set(err,
                            "%s:%d: '%s' is neither an observation nor prior information of %s "
                            "(are these the outputs of another case?)",
                            path, line, tok[0], r->pst_path);
    int g = obsgp_index(r->c, tok[1]);
    if (g < 0)
        return pr_error_set(err, "%s:%d: '%s' is not an observation group of %s", path, line,
                            tok[1], r->pst_path);
    double v[4];
    for (int i = 0; i < 4; i++)
        if (pr_parse_double(tok[2 + i], &v[i], 0) < 0)
            return pr_error_set(err, "%s:%d: %s of '%s': expected a number, got '%s'", path, line,
                                what[i], tok[0], tok[2 + i]);
    r->res = xrealloc(r->res, (r->nres + 1) * sizeof(*r->res));
    r->res[r->nres++] = (struct resid){lower_dup(tok[0]), g, v[0], v[1], v[2], v[3]};
    return 0;
}

static int read_rei(struct report *r, struct pr_error *err)
{
    char *path = output_path(r, "rei"), *text;
    size_t len;
    int rc = -1, line = 0, header = 0;
    text = read_output(r, path, &len, err);
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n'), *tok[MAX_TOKENS];
        if (nl) *nl = '\0';
        size_t k = pr_tokenize(p, " \t\r", tok, MAX_TOKENS);
        p = nl ? nl + 1 : NULL;
        line++;
        if (k == 0) continue;
        if (header) {
            if (rei_row(r, path, line, tok, k, err) < 0) goto done;
        } else if (k >= 2 && pr_strieq(tok[0], "name") && pr_strieq(tok[1], "group")) {
            header = line;
        } else {
            for (size_t j = 0; j + 1 < k && j + 1 < MAX_TOKENS; j++)
                if (pr_strieq(tok[j], "NO.") && sscanf(tok[j + 1], "%d", &r->rei_iter) != 1)
                    r->rei_iter = -2;
        }
    }
    if (!text) goto done;
    if (!header)
        pr_error_set(err,
                     "%s: no 'Name Group Measured Modelled Residual Weight' header line: is "
                     "this a residuals file?",
                     path);
    else if (r->nres == 0)
        pr_error_set(err, "%s:%d: no residual rows after the header", path, header);
    else
        rc = 0;
done:
    free(text);
    free(path);
    return rc;
}

static int read_par(struct report *r, struct pr_error *err)
{
    char *path = output_path(r, "par"), *text;
    size_t len;
    int rc = -1, line = 0, first = 1;
    text = read_output(r, path, &len, err);
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n'), *tok[MAX_TOKENS];
        if (nl) *nl = '\0';
        size_t k = pr_tokenize(p, " \t\r", tok, MAX_TOKENS);
        p = nl ? nl + 1 : NULL;
        line++;
        if (k == 0) continue;
        if (first) {
            if (!pr_strieq(tok[0], "single") && !pr_strieq(tok[0], "double")) {
                pr_error_set(err, "%s:%d: expected 'single point' or 'double point', got '%s'",
                             path, line, tok[0]);
                goto done;
            }
            first = 0;
            continue;
        }
        int i = k >= 2 ? names_find(pst_param_names(r->c), tok[0]) : -1;
        if (k < 2)
            pr_error_set(err, "%s:%d: expected 'name value scale offset'", path, line);
        else if (i < 0)
            pr_error_set(err,
                         "%s:%d: '%s' is not a parameter of %s (are these the outputs of "
                         "another case?)",
                         path, line, tok[0], r->pst_path);
        else if (pr_parse_double(tok[1], &r->final[i], 0) < 0)
            pr_error_set(err, "%s:%d: value of '%s': expected a number, got '%s'", path, line,
                         tok[0], tok[1]);
        else
            continue;
        goto done;
    }
    if (text && first)
        pr_error_set(err, "%s: empty: expected 'single point' and a line per parameter", path);
    else if (text)
        rc = 0;
done:
    free(text);
    free(path);
    return rc;
}

/* CASE.par.usum.csv (params) or CASE.pred.usum.csv, when it exists: every row must name a
 * parameter (an observation) of the case and hold numbers in the four columns the charts use. */
static int read_usum(struct report *r, const char *ext, int params, struct usum *u,
                     struct pr_error *err)
{
    char *path = output_path(r, ext), *text = NULL;
    struct csv *t = NULL;
    int rc = -1;
    if (access(path, F_OK) != 0) {
        rc = 0;
        goto done;
    }
    size_t len;
    text = read_output(r, path, &len, err);
    t = text ? csv_parse(text, len, path, ',', err) : NULL;
    if (!t) goto done;
    int hl = header_line(text);
    static const char *const cols[] = {"prior_mean", "prior_stdev", "post_mean", "post_stdev"};
    int cn = need_col(t, path, hl, "name", err), ci[4];
    for (int k = 0; k < 4 && cn >= 0; k++)
        if ((ci[k] = need_col(t, path, hl, cols[k], err)) < 0) cn = -1;
    if (cn < 0) goto done;
    u->n = csv_nrows(t);
    u->row = xcalloc(u->n + 1, sizeof(*u->row));
    for (size_t i = 0; i < u->n; i++) {
        struct usum_row *w = &u->row[i];
        const char *name = csv_field(t, i, (size_t)cn);
        w->name = lower_dup(name);
        w->index = names_find(params ? pst_param_names(r->c) : pst_obs_names(r->c), name);
        if (w->index < 0) {
            pr_error_set(err,
                         "%s:%d: '%s' is not %s of %s (are these the outputs of another case?)",
                         path, csv_row_line(t, i), w->name,
                         params ? "a parameter" : "an observation", r->pst_path);
            goto done;
        }
        double *v[4] = {&w->prior_mean, &w->prior_sd, &w->post_mean, &w->post_sd};
        for (int k = 0; k < 4; k++)
            if (field_num(t, path, i, ci[k], v[k], err) < 0) goto done;
    }
    u->have = 1;
    rc = 0;
done:
    csv_destroy(t);
    free(text);
    free(path);
    return rc;
}

/* The stop reason: the last "stopped: REASON" line of CASE.rec, when there is one. */
static void read_rec(struct report *r)
{
    char *path = output_path(r, "rec");
    size_t len;
    char *text = pr_read_file(path, &len, NULL);
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *s = pr_strip(p, " \t\r");
        if (strncmp(s, "stopped: ", 9) == 0) {
            free(r->stop);
            r->stop = xstrdup(s + 9);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    free(path);
}

static void stamp(char *buf, size_t n, time_t t)
{
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, n, "unknown");
}

static void report_init(struct report *r, const struct pst_case *c, const char *pst_path)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->pst_path = pst_path;
    r->rei_iter = -2;
    const char *b = strrchr(pst_path, '/');
    b = b ? b + 1 : pst_path;
    size_t n = strlen(b);
    if (n > 4 && strcasecmp(b + n - 4, ".pst") == 0) n -= 4;
    r->case_name = xstrndup(b, n);
    size_t npar = pst_nparams(c), ng = pst_nobsgps(c);
    r->pname = xcalloc(npar + 1, sizeof(char *));
    r->gname = xcalloc(ng + 1, sizeof(char *));
    r->final = xcalloc(npar + 1, sizeof(double));
    for (size_t i = 0; i < npar; i++) {
        r->pname[i] = lower_dup(pst_param(c, i)->name);
        r->final[i] = NAN;
    }
    for (size_t g = 0; g < ng; g++)
        r->gname[g] = lower_dup(pst_obsgp(c, g)->name);
}

static void report_free(struct report *r)
{
    for (size_t i = 0; i < pst_nparams(r->c); i++)
        free(r->pname[i]);
    for (size_t g = 0; g < pst_nobsgps(r->c); g++)
        free(r->gname[g]);
    free(r->pname);
    free(r->gname);
    free(r->case_name);
    struct iobj *io = &r->io;
    free(io->iter);
    free(io->runs);
    free(io->total);
    free(io->meas);
    free(io->regul);
    free(io->group);
    free(io->gidx);
    free(io->first);
    free(io->last);
    free(r->ip.iter);
    free(r->ip.val);
    free(r->ir.iter);
    free(r->ir.runs);
    free(r->ir.elapsed);
    for (size_t i = 0; i < r->nres; i++)
        free(r->res[i].name);
    free(r->res);
    free(r->final);
    free(r->stop);
    struct usum *us[2] = {&r->upar, &r->upred};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < us[k]->n; i++)
            free(us[k]->row[i].name);
        free(us[k]->row);
    }
}

static int read_all(struct report *r, struct pr_error *err)
{
    if (read_iobj(r, err) < 0 || read_ipar(r, err) < 0 || read_iruns(r, err) < 0 ||
        read_rei(r, err) < 0 || read_par(r, err) < 0 ||
        read_usum(r, "par.usum.csv", 1, &r->upar, err) < 0 ||
        read_usum(r, "pred.usum.csv", 0, &r->upred, err) < 0)
        return -1;
    read_rec(r);
    char *iobj = output_path(r, "iobj");
    struct stat st;
    stamp(r->when_outputs, sizeof(r->when_outputs), stat(iobj, &st) == 0 ? st.st_mtime : 0);
    stamp(r->when_now, sizeof(r->when_now), time(NULL));
    free(iobj);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* small HTML pieces                                                                          */

static void put_num(struct strbuf *sb, double v)
{
    char buf[64];
    if (isnan(v)) {
        sb_puts(sb, "&#8211;");
        return;
    }
    svg_fmt(buf, sizeof(buf), v);
    sb_puts(sb, buf);
}

static const char *group_color(int g)
{
    return palette[(size_t)g % NPALETTE];
}

static int is_adjustable(const struct pst_param *p)
{
    return p->trans == PST_TRANS_NONE || p->trans == PST_TRANS_LOG;
}

/* Position of control value v between the bounds of p: 0 at the lower, 1 at the upper bound,
 * measured in log10 for log-transformed parameters (the space the calibration moves in). */
static double bound_position(const struct pst_param *p, double v)
{
    if (p->trans == PST_TRANS_LOG && p->lbnd > 0 && v > 0)
        return (log10(v) - log10(p->lbnd)) / (log10(p->ubnd) - log10(p->lbnd));
    return (v - p->lbnd) / (p->ubnd - p->lbnd);
}

static void caption(struct strbuf *sb, const char *text)
{
    sb_puts(sb, "<p class=\"caption\">");
    svg_escape(sb, text);
    sb_puts(sb, "</p>\n");
}

static void render_plot(struct svg_plot *p, struct strbuf *sb)
{
    svg_plot_render(p, sb);
    svg_plot_destroy(p);
}

/* ------------------------------------------------------------------------------------------ */
/* 1. phi per iteration                                                                       */

static void phi_series(struct svg_plot *p, const struct iobj *io, const double *y,
                       const struct svg_style *st, const char *name, enum svg_scale scale,
                       int *zeros)
{
    int all_zero = 1, some_zero = 0;
    for (size_t i = 0; i < io->n; i++) {
        all_zero &= !(y[i] > 0);
        some_zero |= !(y[i] > 0);
    }
    struct strbuf label = {0};
    sb_puts(&label, name);
    if (scale == SVG_LOG10 && all_zero)
        sb_puts(&label, " (0 throughout)");
    else if (scale == SVG_LOG10 && some_zero)
        *zeros = 1;
    svg_plot_line(p, io->iter, y, io->n, st, label.data);
    sb_free(&label);
}

static void chart_phi(const struct report *r, struct strbuf *sb)
{
    const struct iobj *io = &r->io;
    double *col = xcalloc(io->n * (io->ng + 1) + 1, sizeof(double));
    int parts = 0, zeros = 0;
    for (size_t i = 0; i < io->n; i++) {
        parts |= io->regul[i] > 0;
        for (size_t g = 0; g < io->ng; g++)
            col[g * io->n + i] = io->group[i * io->ng + g];
    }
    double lo = INFINITY, hi = -INFINITY, llo = INFINITY, lhi = -INFINITY;
    svg_extent(&lo, &hi, io->total, io->n, SVG_LOG10);
    svg_extent(&llo, &lhi, io->total, io->n, SVG_LINEAR);
    svg_extent(&lo, &hi, col, io->n * io->ng, SVG_LOG10);
    svg_extent(&llo, &lhi, col, io->n * io->ng, SVG_LINEAR);
    struct svg_axis x = {.integer = 1, .label = "iteration"}, y = {.label = "phi"};
    double xlo = INFINITY, xhi = -INFINITY;
    svg_extent(&xlo, &xhi, io->iter, io->n, SVG_LINEAR);
    svg_axis_fit(&x, xlo, xhi, 0.03);
    if (lo > 0 && hi / lo >= 100) {
        y.scale = SVG_LOG10;
        y.label = "phi (log scale)";
        svg_axis_fit(&y, lo, hi, 0.03);
    } else {
        svg_axis_fit(&y, fmin(0, llo), lhi, 0.04);
        if (llo >= 0) y.lo = 0;
    }
    struct svg_plot *p =
        svg_plot_create(WIDE, 400, "Objective function (phi) per iteration", &x, &y);
    struct svg_style total = {.color = "#111", .width = 2.6, .mark = SVG_MARK_CIRCLE};
    phi_series(p, io, io->total, &total, "total", y.scale, &zeros);
    if (parts) {
        struct svg_style m = {.color = "#555", .dash = "6,3"}, g = {.color = "#999", .dash = "2,3"};
        phi_series(p, io, io->meas, &m, "measurement", y.scale, &zeros);
        phi_series(p, io, io->regul, &g, "regularization", y.scale, &zeros);
    }
    for (size_t g = 0; g < io->ng; g++) {
        int gi = io->gidx[g];
        struct svg_style st = {
            .color = group_color(gi), .width = 1.8, .size = 3, .mark = marks[(size_t)gi % 4]};
        phi_series(p, io, col + g * io->n, &st, r->gname[gi], y.scale, &zeros);
    }
    render_plot(p, sb);
    free(col);
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Phi of every observation group and in total after each iteration "
              "(iteration 0: the initial parameters), from %s.iobj.",
              r->case_name);
    if (zeros) sb_puts(&cap, " Zero values cannot be drawn on a log scale and are left out.");
    caption(sb, cap.data);
    sb_free(&cap);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. measured against modelled                                                               */

/* Points of group g (or all groups when g < 0) with weight > 0 (positive) or 0. */
static size_t fit_points(const struct report *r, int g, int positive, double *x, double *y,
                         char **tips)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nres; i++) {
        const struct resid *o = &r->res[i];
        if (o->group != g || (o->weight > 0) != positive) continue;
        x[n] = o->meas;
        y[n] = o->mod;
        struct strbuf sb = {0};
        char a[64], b[64], w[64];
        svg_fmt(a, sizeof(a), o->meas);
        svg_fmt(b, sizeof(b), o->mod);
        svg_fmt(w, sizeof(w), o->weight);
        sb_printf(&sb, "%s (%s): measured %s, modelled %s, weight %s", o->name, r->gname[o->group],
                  a, b, w);
        tips[n++] = sb_take(&sb);
    }
    return n;
}

static void free_tips(char **tips, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tips[i]);
}

/* Equal axes over measured and modelled values of group g (all when g < 0). */
static void fit_axes(const struct report *r, int g, struct svg_axis *x, struct svg_axis *y)
{
    double lo = INFINITY, hi = -INFINITY;
    int positive = 1;
    for (size_t i = 0; i < r->nres; i++) {
        const struct resid *o = &r->res[i];
        if (g >= 0 && o->group != g) continue;
        double v[2] = {o->meas, o->mod};
        svg_extent(&lo, &hi, v, 2, SVG_LINEAR);
        positive &= v[0] > 0 && v[1] > 0;
    }
    x->scale = positive && lo > 0 && hi / lo >= 100 ? SVG_LOG10 : SVG_LINEAR;
    x->label = x->scale == SVG_LOG10 ? "measured (log scale)" : "measured";
    svg_axis_fit(x, lo, hi, 0.06);
    *y = *x;
    y->label = x->scale == SVG_LOG10 ? "modelled (log scale)" : "modelled";
}

static void fit_plot(const struct report *r, struct strbuf *sb, int only, int w, int h)
{
    struct svg_axis x = {0}, y = {0};
    fit_axes(r, only, &x, &y);
    struct strbuf title = {0};
    if (only >= 0)
        sb_printf(&title, "Group %s", r->gname[only]);
    else
        sb_puts(&title, "Measured against modelled, all groups");
    struct svg_plot *p = svg_plot_create(w, h, title.data, &x, &y);
    svg_plot_square(p);
    sb_free(&title);
    struct svg_style one = {.color = "#888", .width = 1, .dash = "5,4"};
    svg_plot_segment(p, x.lo, x.lo, x.hi, x.hi, &one, only < 0 ? "1:1" : NULL);
    double *px = xcalloc(r->nres + 1, sizeof(double)), *py = xcalloc(r->nres + 1, sizeof(double));
    char **tips = xcalloc(r->nres + 1, sizeof(char *));
    int any_zero = 0;
    for (size_t g = 0; g < pst_nobsgps(r->c); g++) {
        if (only >= 0 && (int)g != only) continue;
        struct svg_style st = {.color = group_color((int)g),
                               .size = 4,
                               .mark = only < 0 ? marks[g % 4] : SVG_MARK_CIRCLE};
        size_t n = fit_points(r, (int)g, 0, px, py, tips);
        st.hollow = 1;
        svg_plot_points(p, px, py, n, &st, NULL, (const char *const *)tips);
        free_tips(tips, n);
        any_zero |= n > 0;
        n = fit_points(r, (int)g, 1, px, py, tips);
        st.hollow = 0;
        svg_plot_points(p, px, py, n, &st, only < 0 && n ? r->gname[g] : NULL,
                        (const char *const *)tips);
        free_tips(tips, n);
    }
    if (only < 0 && any_zero) {
        struct svg_style hollow = {
            .color = "#666", .size = 4, .hollow = 1, .mark = SVG_MARK_CIRCLE};
        svg_plot_legend(p, &hollow, "weight 0 (open)");
    }
    render_plot(p, sb);
    free(px);
    free(py);
    free(tips);
}

static void chart_fit(const struct report *r, struct strbuf *sb)
{
    size_t ng = pst_nobsgps(r->c), present = 0;
    unsigned char *has = xcalloc(ng + 1, 1);
    for (size_t i = 0; i < r->nres; i++)
        has[r->res[i].group] = 1;
    for (size_t g = 0; g < ng; g++)
        present += has[g];
    sb_puts(sb, "<div class=\"charts\">\n");
    if (present > 1) fit_plot(r, sb, -1, 560, 470);
    for (size_t g = 0; g < ng; g++)
        if (has[g]) fit_plot(r, sb, (int)g, present > 1 ? 274 : 560, present > 1 ? 300 : 470);
    sb_puts(sb, "</div>\n");
    free(has);
    struct strbuf cap = {0};
    sb_puts(&cap, "Measured against modelled values at the best parameters");
    if (r->rei_iter >= 0) sb_printf(&cap, " (iteration %d)", r->rei_iter);
    sb_printf(&cap,
              ", from %s.rei. Filled markers: weight above 0; open markers: weight 0 (not in "
              "phi). Dashed line: 1:1. Hover a marker for its observation.",
              r->case_name);
    caption(sb, cap.data);
    sb_free(&cap);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. residuals by group                                                                      */

static void chart_resid(const struct report *r, struct strbuf *sb)
{
    size_t ng = pst_nobsgps(r->c), ncat = 0, zero_weight = 0;
    int *cat = xcalloc(ng + 1, sizeof(int));
    const char **cats = xcalloc(ng + 1, sizeof(char *));
    for (size_t g = 0; g < ng; g++)
        cat[g] = -1;
    for (size_t i = 0; i < r->nres; i++)
        if (cat[r->res[i].group] < 0) cat[r->res[i].group] = 0;
    for (size_t g = 0; g < ng; g++)
        if (cat[g] == 0) {
            cat[g] = (int)ncat;
            cats[ncat++] = r->gname[g];
        }
    double *x = xcalloc(r->nres + 1, sizeof(double)), *y = xcalloc(r->nres + 1, sizeof(double));
    char **tips = xcalloc(r->nres + 1, sizeof(char *));
    double big = 0;
    for (size_t i = 0; i < r->nres; i++)
        if (r->res[i].weight > 0) big = fmax(big, fabs(r->res[i].weight * r->res[i].res));
    struct svg_axis xa = {.categories = cats, .ncategories = ncat, .label = "observation group"};
    struct svg_axis ya = {.label = "residual x weight"};
    svg_axis_fit(&ya, -big, big, 0.06);
    int w = (int)fmin(WIDE, fmax(560, 260 + 110 * (double)ncat));
    struct svg_plot *p = svg_plot_create(w, 380, "Weighted residuals by group", &xa, &ya);
    struct svg_style zero = {.color = "#888", .width = 1};
    svg_plot_segment(p, -0.5, 0, (double)ncat - 0.5, 0, &zero, NULL);
    for (size_t g = 0; g < ng; g++) {
        size_t n = 0, k = 0;
        for (size_t i = 0; i < r->nres && cat[g] >= 0; i++) {
            const struct resid *o = &r->res[i];
            if (o->group != (int)g) continue;
            if (!(o->weight > 0)) {
                zero_weight++;
                continue;
            }
            /* a deterministic spread (golden ratio) so that equal residuals stay apart */
            double jitter = fmod((double)k++ * 0.6180339887, 1.0) - 0.5;
            x[n] = cat[g] + 0.5 * jitter;
            y[n] = o->weight * o->res;
            char a[64], b[64], c[64];
            svg_fmt(a, sizeof(a), o->res);
            svg_fmt(b, sizeof(b), o->weight);
            svg_fmt(c, sizeof(c), y[n]);
            struct strbuf t = {0};
            sb_printf(&t, "%s: residual %s x weight %s = %s", o->name, a, b, c);
            tips[n++] = sb_take(&t);
        }
        struct svg_style st = {.color = group_color((int)g), .size = 4, .mark = SVG_MARK_CIRCLE};
        svg_plot_points(p, x, y, n, &st, NULL, (const char *const *)tips);
        free_tips(tips, n);
    }
    if (big == 0) svg_plot_note(p, "every weighted residual is 0");
    render_plot(p, sb);
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Each dot is one observation with weight above 0 (spread sideways within its "
              "group): (measured - modelled) x weight, from %s.rei; phi is the sum of their "
              "squares.",
              r->case_name);
    if (zero_weight)
        sb_printf(&cap, " %zu observation%s with weight 0 %s not shown.", zero_weight,
                  zero_weight == 1 ? "" : "s", zero_weight == 1 ? "is" : "are");
    caption(sb, cap.data);
    sb_free(&cap);
    free(x);
    free(y);
    free(tips);
    free(cat);
    free(cats);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. parameter paths                                                                         */

static void chart_params(const struct report *r, struct strbuf *sb)
{
    size_t npar = pst_nparams(r->c), n = r->ip.n, shown = 0, nadj = 0;
    for (size_t i = 0; i < npar; i++)
        nadj += is_adjustable(pst_param(r->c, i));
    double *y = xcalloc(n * npar + 1, sizeof(double));
    double lo = 0, hi = 1, xlo = INFINITY, xhi = -INFINITY;
    for (size_t i = 0; i < npar; i++)
        for (size_t k = 0; k < n; k++) {
            y[i * n + k] = bound_position(pst_param(r->c, i), r->ip.val[k * npar + i]);
            if (is_adjustable(pst_param(r->c, i)))
                svg_extent(&lo, &hi, &y[i * n + k], 1, SVG_LINEAR);
        }
    svg_extent(&xlo, &xhi, r->ip.iter, n, SVG_LINEAR);
    struct svg_axis x = {.integer = 1, .label = "iteration"};
    struct svg_axis ya = {.label = "position between bounds (0 lower, 1 upper)"};
    svg_axis_fit(&x, xlo, xhi, 0.03);
    svg_axis_fit(&ya, lo, hi, 0.03);
    struct svg_plot *p =
        svg_plot_create(WIDE, 420, "Parameter paths between their bounds", &x, &ya);
    struct svg_style bound = {.color = "#999", .width = 1, .dash = "2,3"};
    svg_plot_segment(p, x.lo, 0, x.hi, 0, &bound, NULL);
    svg_plot_segment(p, x.lo, 1, x.hi, 1, &bound, NULL);
    for (size_t i = 0; i < npar; i++) {
        const struct pst_param *par = pst_param(r->c, i);
        if (!is_adjustable(par) || !(par->ubnd > par->lbnd)) continue;
        struct svg_style st = {.color = palette[shown % NPALETTE],
                               .width = 1.8,
                               .size = 3,
                               .mark = nadj > 40 ? SVG_MARK_NONE : marks[(shown / NPALETTE) % 4],
                               .dash = shown >= 4 * NPALETTE ? "6,3" : NULL};
        struct strbuf label = {0};
        sb_printf(&label, "%s%s", r->pname[i], par->trans == PST_TRANS_LOG ? " (log)" : "");
        svg_plot_line(p, r->ip.iter, y + i * n, n, &st, label.data);
        sb_free(&label);
        shown++;
    }
    if (shown == 0) svg_plot_note(p, "no adjustable parameter");
    render_plot(p, sb);
    free(y);
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Each adjustable parameter from %s.ipar, as (value - lower) / (upper - lower); "
              "log-transformed parameters (log) in log10 of value and bounds, the space the "
              "calibration moves in.",
              r->case_name);
    if (npar > shown)
        sb_printf(&cap, " %zu fixed or tied parameter%s not shown.", npar - shown,
                  npar - shown == 1 ? "" : "s");
    caption(sb, cap.data);
    sb_free(&cap);
}

/* ------------------------------------------------------------------------------------------ */
/* 5. model runs and wall time                                                                */

static void bar_chart(struct strbuf *sb, const char *title, const char *ylabel, const double *iter,
                      const double *v, size_t n, const char *color, const char *unit)
{
    double xlo = INFINITY, xhi = -INFINITY, lo = 0, hi = 0;
    svg_extent(&xlo, &xhi, iter, n, SVG_LINEAR);
    svg_extent(&lo, &hi, v, n, SVG_LINEAR);
    struct svg_axis x = {.integer = 1, .label = "iteration"}, y = {.label = ylabel};
    svg_axis_fit(&x, xlo, xhi, 0);
    x.lo -= 0.6;
    x.hi += 0.6;
    svg_axis_fit(&y, lo, hi, 0.05);
    if (lo >= 0) y.lo = 0;
    char **tips = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char a[64];
        svg_fmt(a, sizeof(a), v[i]);
        struct strbuf t = {0};
        sb_printf(&t, "iteration %.0f: %s %s", iter[i], a, unit);
        tips[i] = sb_take(&t);
    }
    struct svg_plot *p = svg_plot_create(560, 320, title, &x, &y);
    struct svg_style st = {.color = color, .barw = 0.7};
    svg_plot_bars(p, iter, v, n, &st, NULL, (const char *const *)tips);
    render_plot(p, sb);
    free_tips(tips, n);
    free(tips);
}

static void chart_runs(const struct report *r, struct strbuf *sb)
{
    int have = r->have_iruns;
    size_t n = have ? r->ir.n : r->io.n;
    const double *iter = have ? r->ir.iter : r->io.iter, *cum = have ? r->ir.runs : r->io.runs;
    double *runs = xcalloc(n + 1, sizeof(double)), *wall = xcalloc(n + 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        runs[i] = cum[i] - (i ? cum[i - 1] : 0);
        if (have) wall[i] = r->ir.elapsed[i] - (i ? r->ir.elapsed[i - 1] : 0);
    }
    sb_puts(sb, "<div class=\"charts\">\n");
    bar_chart(sb, "Model runs per iteration", "model runs", iter, runs, n, palette[0], "runs");
    if (have) bar_chart(sb, "Wall time per iteration", "seconds", iter, wall, n, palette[1], "s");
    sb_puts(sb, "</div>\n");
    struct strbuf cap = {0};
    if (have)
        sb_printf(&cap,
                  "From %s.iruns.csv. Iteration 0 holds the base run and the first Jacobian; "
                  "each later iteration its lambda tests and the next Jacobian.",
                  r->case_name);
    else
        sb_printf(&cap, "From %s.iobj (%s.iruns.csv was not found, so the wall time is not shown).",
                  r->case_name, r->case_name);
    caption(sb, cap.data);
    sb_free(&cap);
    free(runs);
    free(wall);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. FOSM uncertainty: forecasts prior against posterior, parameter uncertainty reduction     */

#define MAX_FORECAST_CHARTS 24 /* small charts; the table lists every forecast */
#define MAX_PARAM_BARS 40      /* more parameters: one bar per parameter group */

static void interval_tip(char *buf, size_t n, const char *what, double mean, double sd)
{
    char m[32], s[32], lo[32], hi[32];
    svg_fmt(m, sizeof(m), mean);
    svg_fmt(s, sizeof(s), sd);
    svg_fmt(lo, sizeof(lo), mean - 2 * sd);
    svg_fmt(hi, sizeof(hi), mean + 2 * sd);
    snprintf(buf, n, "%s: mean %s, stdev %s (%s to %s)", what, m, s, lo, hi);
}

/* One forecast: its prior and posterior mean (a diamond) and mean +/- 2 stdev (a bar). */
static void forecast_chart(const struct usum_row *w, struct strbuf *sb)
{
    static const char *const cats[] = {"prior", "posterior"};
    const double mean[2] = {w->prior_mean, w->post_mean}, sd[2] = {w->prior_sd, w->post_sd};
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < 2; k++) {
        double v[2] = {mean[k] - 2 * sd[k], mean[k] + 2 * sd[k]};
        svg_extent(&lo, &hi, v, 2, SVG_LINEAR);
    }
    struct svg_axis x = {.categories = cats, .ncategories = 2}, y = {.label = "value"};
    svg_axis_fit(&y, lo, hi, 0.08);
    struct svg_plot *p = svg_plot_create(270, 260, w->name, &x, &y);
    for (int k = 0; k < 2; k++) {
        double xk = k;
        char tip[256];
        const char *tips[1] = {tip};
        interval_tip(tip, sizeof(tip), cats[k], mean[k], sd[k]);
        struct svg_style bar = {.color = palette[k], .width = 16};
        struct svg_style dot = {.color = "#111", .mark = SVG_MARK_DIAMOND, .size = 4.5};
        if (isfinite(sd[k]) && sd[k] > 0)
            svg_plot_segment(p, xk, mean[k] - 2 * sd[k], xk, mean[k] + 2 * sd[k], &bar, NULL);
        svg_plot_points(p, &xk, &mean[k], 1, &dot, NULL, tips);
    }
    render_plot(p, sb);
}

static double reduction(const struct usum_row *w)
{
    return w->prior_sd > 0 ? 1 - w->post_sd / w->prior_sd : NAN;
}

static void table_forecasts(const struct report *r, struct strbuf *sb)
{
    sb_puts(sb, "<table>\n<tr><th class=\"name\">forecast</th><th>prior mean</th><th>prior "
                "stdev</th><th>posterior mean</th><th>posterior stdev</th><th>stdev "
                "reduction</th></tr>\n");
    for (size_t i = 0; i < r->upred.n; i++) {
        const struct usum_row *w = &r->upred.row[i];
        sb_puts(sb, "<tr><td class=\"name\">");
        svg_escape(sb, w->name);
        const double v[] = {w->prior_mean, w->prior_sd, w->post_mean, w->post_sd};
        for (size_t j = 0; j < 4; j++) {
            sb_puts(sb, "</td><td>");
            put_num(sb, v[j]);
        }
        double red = reduction(w);
        if (isfinite(red))
            sb_printf(sb, "</td><td>%.1f%%</td></tr>\n", 100 * red);
        else
            sb_puts(sb, "</td><td>&#8211;</td></tr>\n");
    }
    sb_puts(sb, "</table>\n");
}

static void chart_forecasts(const struct report *r, struct strbuf *sb)
{
    const struct usum *u = &r->upred;
    sb_puts(sb, "<div class=\"charts\">\n");
    for (size_t i = 0; i < u->n && i < MAX_FORECAST_CHARTS; i++)
        forecast_chart(&u->row[i], sb);
    sb_puts(sb, "</div>\n");
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Each forecast from %s.pred.usum.csv: the mean (diamond) and mean +/- 2 standard "
              "deviations (bar) before calibration (prior: the value simulated with the initial "
              "parameters, the spread the prior parameter uncertainty gives it) and after "
              "(posterior: at the best parameters, conditioned on the observations). First-order, "
              "second-moment (linear) estimates.",
              r->case_name);
    if (u->n > MAX_FORECAST_CHARTS)
        sb_printf(&cap, " The first %d of %zu forecasts are drawn; the table lists them all.",
                  MAX_FORECAST_CHARTS, u->n);
    caption(sb, cap.data);
    sb_free(&cap);
    table_forecasts(r, sb);
}

/* Bars of 1 - posterior/prior stdev: one per parameter, or the mean of each parameter group. */
static void chart_reduction(const struct report *r, struct strbuf *sb)
{
    const struct usum *u = &r->upar;
    size_t ngp = pst_npargps(r->c), n = u->n, ncat = 0;
    int by_group = n > MAX_PARAM_BARS;
    const char **cats = xcalloc((by_group ? ngp : n) + 1, sizeof(char *));
    char **gnames = xcalloc(ngp + 1, sizeof(char *));
    int *gcat = xcalloc(ngp + 1, sizeof(int));
    double *x = xcalloc(n + ngp + 1, sizeof(double)), *y = xcalloc(n + ngp + 1, sizeof(double));
    char **tips = xcalloc(n + ngp + 1, sizeof(char *));
    double lo = 0, hi = 1;
    for (size_t g = 0; g < ngp; g++) {
        gnames[g] = lower_dup(pst_pargp(r->c, g)->name);
        gcat[g] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        int g = pst_param(r->c, (size_t)u->row[i].index)->group;
        if (by_group && gcat[g] < 0) {
            gcat[g] = (int)ncat;
            cats[ncat++] = gnames[g];
        } else if (!by_group) {
            cats[ncat++] = u->row[i].name;
        }
        double v = reduction(&u->row[i]);
        if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
    }
    struct svg_axis xa = {.categories = cats,
                          .ncategories = ncat,
                          .label = by_group ? "parameter group" : "parameter"};
    struct svg_axis ya = {.label = "1 - posterior / prior stdev"};
    svg_axis_fit(&ya, lo, hi, 0.04);
    if (lo >= 0) ya.lo = 0;
    int w = (int)fmin(WIDE, fmax(560, 260 + 34 * (double)ncat));
    struct svg_plot *p = svg_plot_create(w, 380, "Parameter uncertainty reduction", &xa, &ya);
    for (size_t g = 0; g < ngp; g++) {
        size_t m = 0, cnt = 0;
        double sum = 0, mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            const struct usum_row *row = &u->row[i];
            if (pst_param(r->c, (size_t)row->index)->group != (int)g) continue;
            double v = reduction(row);
            if (by_group) {
                if (isfinite(v)) sum += v, cnt++, mn = fmin(mn, v), mx = fmax(mx, v);
                continue;
            }
            char tip[256], a[32], b[32], c[32];
            svg_fmt(a, sizeof(a), row->prior_sd);
            svg_fmt(b, sizeof(b), row->post_sd);
            svg_fmt(c, sizeof(c), v);
            snprintf(tip, sizeof(tip), "%s (%s): stdev %s prior, %s posterior: reduction %s",
                     row->name, gnames[g], a, b, c);
            x[m] = (double)i;
            y[m] = v;
            tips[m++] = xstrdup(tip);
        }
        if (by_group && gcat[g] >= 0 && cnt) {
            char tip[256], a[32], b[32], c[32];
            svg_fmt(a, sizeof(a), sum / (double)cnt);
            svg_fmt(b, sizeof(b), mn);
            svg_fmt(c, sizeof(c), mx);
            snprintf(tip, sizeof(tip), "%s: %zu parameters, mean reduction %s (%s to %s)",
                     gnames[g], cnt, a, b, c);
            x[m] = gcat[g];
            y[m] = sum / (double)cnt;
            tips[m++] = xstrdup(tip);
        }
        struct svg_style st = {.color = palette[g % NPALETTE], .barw = 0.7};
        if (m)
            svg_plot_bars(p, x, y, m, &st, ngp > 1 && !by_group ? gnames[g] : NULL,
                          (const char *const *)tips);
        free_tips(tips, m);
        struct svg_style range = {.color = "#333", .width = 1.5};
        if (by_group && m && mx > mn) svg_plot_segment(p, x[0], mn, x[0], mx, &range, NULL);
    }
    if (n == 0) svg_plot_note(p, "no parameter in the analysis");
    render_plot(p, sb);
    struct strbuf cap = {0};
    sb_printf(&cap,
              "1 - posterior stdev / prior stdev %s, from %s.par.usum.csv (numeric space: log10 "
              "for log-transformed parameters): 0 when the observations say nothing about a "
              "parameter, near 1 when they pin it down.",
              by_group ? "averaged over each parameter group (the line spans its smallest to "
                         "largest)"
                       : "of each adjustable parameter",
              r->case_name);
    caption(sb, cap.data);
    sb_free(&cap);
    for (size_t g = 0; g < ngp; g++)
        free(gnames[g]);
    free(gnames);
    free(gcat);
    free(cats);
    free(x);
    free(y);
    free(tips);
}

static void section_uncertainty(const struct report *r, struct strbuf *sb)
{
    if (r->upred.have && r->upred.n)
        chart_forecasts(r, sb);
    else if (r->upred.have)
        caption(sb, "The forecast summary lists no forecast.");
    else {
        struct strbuf cap = {0};
        sb_printf(&cap,
                  "No forecast summary (%s.pred.usum.csv): ++forecasts(NAMES) or zero-weight "
                  "observations give one.",
                  r->case_name);
        caption(sb, cap.data);
        sb_free(&cap);
    }
    if (r->upar.have) chart_reduction(r, sb);
}

/* ------------------------------------------------------------------------------------------ */
/* header and tables                                                                          */

const char report_page_style[] =
    "body{margin:0;background:#f4f5f7;color:#222;font:14px/1.45 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
    "main{max-width:1180px;margin:0 auto;padding:18px 20px 48px}\n"
    "h1{font-size:24px;margin:6px 0 2px}\n"
    "h2{font-size:18px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid #d5d8dd}\n"
    ".sub{color:#666;margin:0 0 14px}\n"
    "nav a{color:#2b5d95;margin-right:14px;text-decoration:none}\n"
    "dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));"
    "gap:10px 24px;margin:12px 0;padding:14px 18px;background:#fff;border:1px solid #d5d8dd;"
    "border-radius:6px}\n"
    "dl.facts div{min-width:0}\n"
    "dt{font-size:12px;color:#666}\n"
    "dd{margin:0;font-size:16px;font-weight:600;overflow-wrap:anywhere}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\n"
    "svg.chart{display:block;max-width:100%;height:auto;background:#fff;border:1px solid "
    "#d5d8dd;border-radius:4px}\n"
    ".caption{color:#555;font-size:13px;margin:6px 0 0;max-width:900px}\n"
    "table{border-collapse:collapse;background:#fff;border:1px solid #d5d8dd;font-size:13px}\n"
    "th,td{padding:4px 12px;border-bottom:1px solid #e6e8eb;text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "th{background:#eef0f3;font-weight:600}\n"
    "th.name,td.name{text-align:left}\n"
    "tr.bound td{background:#fff3e0}\n"
    "td.flag{color:#b35c00;font-weight:600}\n"
    ".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}\n";

static void fact(struct strbuf *sb, const char *name, const char *value)
{
    sb_puts(sb, "<div><dt>");
    svg_escape(sb, name);
    sb_puts(sb, "</dt><dd>");
    svg_escape(sb, value);
    sb_puts(sb, "</dd></div>\n");
}

static void facts(const struct report *r, struct strbuf *sb)
{
    const struct pst_case *c = r->c;
    size_t npar = pst_nparams(c), nadj = 0, nfixed = 0, nobs = pst_nobs(c), nw = 0;
    for (size_t i = 0; i < npar; i++) {
        nadj += is_adjustable(pst_param(c, i));
        nfixed += pst_param(c, i)->trans == PST_TRANS_FIXED;
    }
    for (size_t i = 0; i < nobs; i++)
        nw += pst_obs(c, i)->weight > 0;
    struct strbuf v = {0};
    sb_puts(sb, "<dl class=\"facts\">\n");
    sb_printf(&v, "%zu (%zu adjustable, %zu fixed, %zu tied)", npar, nadj, nfixed,
              npar - nadj - nfixed);
    fact(sb, "parameters", v.data);
    sb_reset(&v);
    sb_printf(&v, "%zu (%zu with weight > 0)", nobs, nw);
    fact(sb, "observations", v.data);
    sb_reset(&v);
    for (size_t g = 0; g < pst_nobsgps(c); g++)
        sb_printf(&v, "%s%s", g ? ", " : "", r->gname[g]);
    fact(sb, "observation groups", pst_nobsgps(c) ? v.data : "none");
    if (pst_nprior(c)) {
        sb_reset(&v);
        sb_printf(&v, "%zu", pst_nprior(c));
        fact(sb, "prior information", v.data);
    }
    sb_reset(&v);
    sb_printf(&v, "%.0f", r->io.iter[r->io.n - 1]);
    fact(sb, "iterations", v.data);
    sb_reset(&v);
    sb_printf(&v, "%.0f", r->have_iruns ? r->ir.runs[r->ir.n - 1] : r->io.runs[r->io.n - 1]);
    if (r->have_iruns) sb_printf(&v, " in %.4g s", r->ir.elapsed[r->ir.n - 1]);
    fact(sb, "model runs", v.data);
    fact(sb, "starting phi", r->io.first);
    fact(sb, "final phi", r->io.last);
    sb_reset(&v);
    double a = r->io.total[0], b = r->io.total[r->io.n - 1];
    if (a > 0) sb_printf(&v, "%.4g of the starting phi", b / a);
    fact(sb, "final / starting phi", a > 0 ? v.data : "-");
    sb_reset(&v);
    sb_printf(&v, "not recorded (no 'stopped:' line in %s.rec)", r->case_name);
    fact(sb, "stopped", r->stop ? r->stop : v.data);
    sb_puts(sb, "</dl>\n");
    sb_free(&v);
}

static void head(const struct report *r, struct strbuf *sb)
{
    sb_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
                "<title>");
    svg_escape(sb, r->case_name);
    sb_printf(sb, ": calibration report</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n",
              report_page_style);
    sb_puts(sb, "<h1>Calibration report: ");
    svg_escape(sb, r->case_name);
    sb_puts(sb, "</h1>\n<p class=\"sub\">");
    svg_escape(sb, r->pst_path);
    sb_printf(sb, " &#183; outputs of %s &#183; report written %s by pestrun %s</p>\n",
              r->when_outputs, r->when_now, PESTRUN_VERSION);
    sb_puts(sb, "<nav><a href=\"#phi\">phi</a><a href=\"#fit\">fit</a><a href=\"#residuals\">"
                "residuals</a><a href=\"#parameters\">parameters</a><a href=\"#runs\">runs</a>"
                "<a href=\"#final\">final parameters</a><a href=\"#largest\">largest residuals"
                "</a>");
    if (r->upar.have || r->upred.have) sb_puts(sb, "<a href=\"#uncertainty\">uncertainty</a>");
    sb_puts(sb, "</nav>\n");
    facts(r, sb);
}

static void param_row(const struct report *r, struct strbuf *sb, size_t i)
{
    const struct pst_param *p = pst_param(r->c, i);
    static const char *const trans[] = {"none", "log", "fixed", "tied"};
    double v = r->final[i];
    if (isnan(v) && r->ip.n) v = r->ip.val[(r->ip.n - 1) * pst_nparams(r->c) + i];
    int adj = is_adjustable(p) && p->ubnd > p->lbnd;
    double pos = adj ? bound_position(p, v) : NAN, tol = 1e-6;
    const char *flag = !isfinite(pos) ? "" : pos <= tol ? "lower" : pos >= 1 - tol ? "upper" : "";
    sb_printf(sb, "<tr%s><td class=\"name\">", *flag ? " class=\"bound\"" : "");
    svg_escape(sb, r->pname[i]);
    sb_puts(sb, "</td><td class=\"name\">");
    char *group = lower_dup(pst_pargp(r->c, (size_t)p->group)->name);
    svg_escape(sb, group);
    free(group);
    sb_printf(sb, "</td><td class=\"name\">%s", trans[p->trans]);
    if (p->trans == PST_TRANS_TIED && p->tied_parent >= 0) {
        sb_puts(sb, " to ");
        svg_escape(sb, r->pname[p->tied_parent]);
    }
    sb_puts(sb, "</td><td>");
    put_num(sb, p->parval1);
    sb_puts(sb, "</td><td><b>");
    put_num(sb, v);
    sb_puts(sb, "</b></td><td>");
    put_num(sb, p->lbnd);
    sb_puts(sb, "</td><td>");
    put_num(sb, p->ubnd);
    if (isfinite(pos))
        sb_printf(sb, "</td><td>%.3f", pos);
    else
        sb_puts(sb, "</td><td>&#8211;");
    sb_printf(sb, "</td><td class=\"flag\">%s</td></tr>\n", flag);
}

static void table_params(const struct report *r, struct strbuf *sb)
{
    sb_puts(sb, "<table>\n<tr><th class=\"name\">parameter</th><th class=\"name\">group</th>"
                "<th class=\"name\">transform</th><th>initial</th><th>final</th><th>lower</th>"
                "<th>upper</th><th>position</th><th>at bound</th></tr>\n");
    for (size_t i = 0; i < pst_nparams(r->c); i++)
        param_row(r, sb, i);
    sb_puts(sb, "</table>\n");
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Final values from %s.par (control space, as in the control file); position 0 "
              "is the lower bound and 1 the upper (log10 for log-transformed parameters).",
              r->case_name);
    caption(sb, cap.data);
    sb_free(&cap);
}

struct ranked {
    double key; /* |weighted residual| */
    size_t i;
};

static int by_key_desc(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->i < y->i ? -1 : 1; /* file order among equals */
}

static void table_resid(const struct report *r, struct strbuf *sb)
{
    struct ranked *idx = xcalloc(r->nres + 1, sizeof(*idx));
    size_t n = 0;
    double phi = 0;
    for (size_t i = 0; i < r->nres; i++)
        if (r->res[i].weight > 0) {
            double wr = r->res[i].weight * r->res[i].res;
            idx[n++] = (struct ranked){isnan(wr) ? INFINITY : fabs(wr), i};
            phi += wr * wr;
        }
    qsort(idx, n, sizeof(*idx), by_key_desc);
    sb_puts(sb, "<table>\n<tr><th>#</th><th class=\"name\">observation</th><th class=\"name\">"
                "group</th><th>measured</th><th>modelled</th><th>residual</th><th>weight</th>"
                "<th>weighted residual</th><th>share of phi</th></tr>\n");
    for (size_t k = 0; k < n && k < TOP_RESIDUALS; k++) {
        const struct resid *o = &r->res[idx[k].i];
        double wr = o->weight * o->res;
        sb_printf(sb, "<tr><td>%zu</td><td class=\"name\">", k + 1);
        svg_escape(sb, o->name);
        sb_printf(sb,
                  "</td><td class=\"name\"><span class=\"swatch\" style=\"background:%s\">"
                  "</span>",
                  group_color(o->group));
        svg_escape(sb, r->gname[o->group]);
        const double v[] = {o->meas, o->mod, o->res, o->weight, wr};
        for (size_t j = 0; j < 5; j++) {
            sb_puts(sb, "</td><td>");
            put_num(sb, v[j]);
        }
        sb_printf(sb, "</td><td>%.1f%%</td></tr>\n", phi > 0 ? 100 * wr * wr / phi : 0.0);
    }
    sb_puts(sb, "</table>\n");
    free(idx);
    struct strbuf cap = {0};
    sb_printf(&cap, "The %d observations with the largest |residual x weight| in %s.rei%s.",
              TOP_RESIDUALS, r->case_name, n ? "" : " (none has a weight above 0)");
    caption(sb, cap.data);
    sb_free(&cap);
}

static void section(struct strbuf *sb, const char *id, const char *title)
{
    sb_printf(sb, "<h2 id=\"%s\">%s</h2>\n", id, title);
}

static void render(const struct report *r, struct strbuf *sb)
{
    head(r, sb);
    section(sb, "phi", "Phi per iteration");
    chart_phi(r, sb);
    section(sb, "fit", "Measured and modelled");
    chart_fit(r, sb);
    section(sb, "residuals", "Residuals by group");
    chart_resid(r, sb);
    section(sb, "parameters", "Parameter paths");
    chart_params(r, sb);
    section(sb, "runs", "Model runs and wall time");
    chart_runs(r, sb);
    section(sb, "final", "Final parameters");
    table_params(r, sb);
    section(sb, "largest", "Largest weighted residuals");
    table_resid(r, sb);
    if (r->upar.have || r->upred.have) {
        section(sb, "uncertainty", "Uncertainty (FOSM)");
        section_uncertainty(r, sb);
    }
    sb_puts(sb, "</main>\n</body>\n</html>\n");
}

int report_write(const struct pst_case *c, const char *pst_path, const char *html_path,
                 struct pr_error *err)
{
    struct report r;
    struct strbuf sb = {0};
    int rc = -1;

    report_init(&r, c, pst_path);
    char *iobj = output_path(&r, "iobj"), *phi = output_path(&r, "phi.actual.csv");
    int ensemble = access(iobj, F_OK) != 0 && access(phi, F_OK) == 0;
    free(iobj);
    free(phi);
    if (ensemble) { /* the outputs of pestrun ies (or pestpp-ies) */
        report_free(&r);
        return report_ies_write(c, pst_path, html_path, err);
    }
    if (read_all(&r, err) == 0) {
        render(&r, &sb);
        rc = pr_write_file(html_path, sb.data, sb.len, err);
    }
    sb_free(&sb);
    report_free(&r);
    return rc;
}
