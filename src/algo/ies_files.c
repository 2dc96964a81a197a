/* The ies module's files: the outputs with PEST++'s names and columns, and the ensembles it
 * reads (PEST++ CSVs and PEST binary matrices). */
#include "algo/ies_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "algo/fosm.h"
#include "algo/ies_solve.h"
#include "pest/outputs.h"
#include "util/csv.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

/* ------------------------------------------------------------------------------------------ */
/* outputs                                                                                    */

static FILE *open_out(const struct ies *e, const char *ext, struct pr_error *err)
{
    char *p = pst_output_path(e->pst_path, ext);
    FILE *f = fopen(p, "w");
    if (!f) pr_error_set(err, "cannot write %s", p);
    free(p);
    return f;
}

static void phi_header(const struct ies *e, FILE *f)
{
    fputs("iteration,total_runs,mean,standard_deviation,min,max", f);
    for (size_t i = 0; i < e->nreals; i++)
        fprintf(f, ",%s", e->names[i]);
    fputc('\n', f);
}

int ies__open_outputs(struct ies *e, struct pr_error *err)
{
    if (!(e->rec = open_out(e, "rec", err)) ||
        !(e->f_actual = open_out(e, "phi.actual.csv", err)) ||
        !(e->f_meas = open_out(e, "phi.meas.csv", err)) ||
        !(e->f_regul = open_out(e, "phi.regul.csv", err)) ||
        !(e->f_comp = open_out(e, "phi.composite.csv", err)) ||
        !(e->f_group = open_out(e, "phi.group.csv", err)) ||
        !(e->f_lambda = open_out(e, "phi.lambda.csv", err)))
        return -1;
    return 0;
}

void ies__write_headers(struct ies *e)
{
    phi_header(e, e->f_actual);
    phi_header(e, e->f_meas);
    phi_header(e, e->f_regul);
    phi_header(e, e->f_comp);
    fputs("iteration,total_runs,obs_realization,par_realization", e->f_group);
    for (size_t g = 0; g < pst_nobsgps(e->c); g++) {
        char *low = xstrdup(pst_obsgp(e->c, g)->name);
        pr_lower(low);
        fprintf(e->f_group, ",%s", low);
        free(low);
    }
    for (size_t g = 0; g < pst_npargps(e->c) && e->reg_factor != 0.0; g++) {
        char *low = xstrdup(pst_pargp(e->c, g)->name);
        pr_lower(low);
        fprintf(e->f_group, ",%s", low);
        free(low);
    }
    fputc('\n', e->f_group);
    fputs("iteration,num_reals,current_lambda,current_comp_mean_phi,current_comp_std_phi,"
          "lambda_scale_fac,lambda,comp_mean_phi,comp_std_phi\n",
          e->f_lambda);
    fflush(e->f_lambda);
}

/* One row of a phi file: the statistics, then each realization ever drawn (empty when dropped). */
static void phi_row(struct ies *e, FILE *f, enum phi_type t)
{
    double *v = xcalloc(e->en.n + 1, sizeof(double));
    double *by_id = xcalloc(e->nreals + 1, sizeof(double));
    unsigned char *have = xcalloc(e->nreals + 1, 1);
    for (size_t r = 0; r < e->en.n; r++) {
        v[r] = ies__phi_of(e, &e->en, r, t);
        by_id[e->en.id[r]] = v[r];
        have[e->en.id[r]] = 1;
    }
    struct stats s = ies__stats_of(v, e->en.n);
    fprintf(f, "%d,%zu,%g,%g,%g,%g", e->iter, e->runs, s.mean, s.std, s.min, s.max);
    for (size_t i = 0; i < e->nreals; i++) {
        fputc(',', f);
        if (have[i]) fprintf(f, "%g", by_id[i]);
    }
    fputc('\n', f);
    fflush(f);
    free(v);
    free(by_id);
    free(have);
}

static void group_rows(struct ies *e)
{
    size_t ng = pst_nobsgps(e->c);
    double *g = xcalloc(ng + 1, sizeof(double));
    for (size_t r = 0; r < e->en.n; r++) {
        const double *d = e->en.D + r * e->nobs;
        memset(g, 0, ng * sizeof(double));
        for (size_t i = 0; i < e->m; i++) {
            size_t k = e->act[i];
            double x = e->w[i] * ies__resid(e, i, d[k], pst_obs(e->c, k)->value);
            g[pst_obs(e->c, k)->group] += x * x;
        }
        const char *name = e->names[e->en.id[r]];
        fprintf(e->f_group, "%d,%zu,%s,%s", e->iter, e->runs, name, name);
        for (size_t k = 0; k < ng; k++)
            fprintf(e->f_group, ",%g", g[k]);
        if (e->reg_factor != 0.0) { /* the regularization phi by parameter group */
            size_t npg = pst_npargps(e->c);
            double *pg = xcalloc(npg + 1, sizeof(double));
            for (size_t j = 0; j < e->nadj; j++)
                pg[pst_param(e->c, e->ps.adj[j])->group] +=
                    ies__regul_term(e, e->en.P + r * e->nadj, e->en.P0 + r * e->nadj, j);
            for (size_t k = 0; k < npg; k++)
                fprintf(e->f_group, ",%g", pg[k]);
            free(pg);
        }
        fputc('\n', e->f_group);
    }
    fflush(e->f_group);
    free(g);
}

int ies__write_text(const char *path, const struct strbuf *sb, struct pr_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(sb->data ? sb->data : "", 1, sb->len, f) != sb->len) {
        if (f) fclose(f);
        return pr_error_set(err, "cannot write %s", path);
    }
    if (fclose(f) != 0) return pr_error_set(err, "cannot write %s", path);
    return 0;
}

/* CASE.<ext>: the parameters (control values) or the rows of vals (n x nobs) of en. */
int ies__write_ensemble(struct ies *e, const char *ext, const struct ensemble *en,
                        const double *vals, struct pr_error *err)
{
    struct strbuf sb = {0};
    double *ctl = xcalloc(e->npar + 1, sizeof(double));
    pst_ensemble_header(&sb, e->c, vals == NULL);
    for (size_t r = 0; r < en->n; r++) {
        const double *v = vals ? vals + r * e->nobs : ctl;
        size_t n = vals ? e->nobs : e->npar;
        if (!vals) ies__to_ctl(e, en->P + r * e->nadj, ctl);
        sb_puts(&sb, e->names[en->id[r]]);
        for (size_t i = 0; i < n; i++)
            sb_printf(&sb, ",%.*g", e->precision, v[i]);
        sb_putc(&sb, '\n');
    }
    char *path = pst_output_path(e->pst_path, ext);
    int rc = ies__write_text(path, &sb, err);
    free(path);
    free(ctl);
    sb_free(&sb);
    return rc;
}

int ies__write_iteration(struct ies *e, struct pr_error *err)
{
    char ext[64];
    snprintf(ext, sizeof(ext), "%d.par.csv", e->iter);
    /* a restart keeps the prior ensemble as CASE.0.par.csv, as pestpp-ies does */
    if (!(e->iter == 0 && e->restart) && ies__write_ensemble(e, ext, &e->en, NULL, err) < 0)
        return -1;
    snprintf(ext, sizeof(ext), "%d.obs.csv", e->iter);
    if (ies__write_ensemble(e, ext, &e->en, e->en.D, err) < 0) return -1;
    phi_row(e, e->f_actual, PHI_ACTUAL);
    phi_row(e, e->f_meas, PHI_MEAS);
    if (e->reg_factor != 0.0) phi_row(e, e->f_regul, PHI_REGUL);
    phi_row(e, e->f_comp, PHI_COMPOSITE);
    group_rows(e);
    for (size_t r = 0; r < e->en.n; r++) { /* the base realization as PEST files */
        if (!ies__is_base(e, e->en.id[r])) continue;
        double *ctl = xcalloc(e->npar + 1, sizeof(double));
        ies__to_ctl(e, e->en.P + r * e->nadj, ctl);
        snprintf(ext, sizeof(ext), "%d.base.par", e->iter);
        char *p_par = pst_output_path(e->pst_path, ext);
        snprintf(ext, sizeof(ext), "%d.base.rei", e->iter);
        char *p_rei = pst_output_path(e->pst_path, ext);
        int rc = pst_write_par(e->c, p_par, ctl, err) < 0 ||
                         pst_write_rei(e->c, p_rei, e->iter, e->en.D + r * e->nobs, ctl, err) < 0
                     ? -1
                     : 0;
        free(p_par);
        free(p_rei);
        free(ctl);
        if (rc < 0) return -1;
    }
    struct stats a = ies__en_stats(e, &e->en, PHI_ACTUAL), m = ies__en_stats(e, &e->en, PHI_MEAS);
    ies__rec(e, "  phi (%zu realizations, %zu model runs so far):\n", e->en.n, e->runs);
    ies__rec(e, "    %-10s %14s %14s %14s %14s\n", "type", "mean", "std", "min", "max");
    ies__rec(e, "    %-10s %14.6g %14.6g %14.6g %14.6g\n", "actual", a.mean, a.std, a.min, a.max);
    ies__rec(e, "    %-10s %14.6g %14.6g %14.6g %14.6g\n", "measured", m.mean, m.std, m.min, m.max);
    if (e->reg_factor != 0.0) {
        struct stats g = ies__en_stats(e, &e->en, PHI_REGUL),
                     c = ies__en_stats(e, &e->en, PHI_COMPOSITE);
        ies__rec(e, "    %-10s %14.6g %14.6g %14.6g %14.6g\n", "regul", g.mean, g.std, g.min,
                 g.max);
        ies__rec(e, "    %-10s %14.6g %14.6g %14.6g %14.6g\n", "composite", c.mean, c.std, c.min,
                 c.max);
    }
    return 0;
}

char *ies__read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct strbuf sb = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        sb_append(&sb, buf, n);
    fclose(f);
    *len = sb.len;
    return sb_take(&sb);
}

char *ies__case_file(const struct ies *e, const char *name)
{
    if (name[0] == '/') return xstrdup(name);
    return pr_resolve_file(pst_dir(e->c), name);
}

/* An ensemble file as a table: realization names, column names, values (rows x cols). */
struct table {
    size_t rows, cols;
    char **rname, **cname;
    double *v;
    int *line; /* per row, for messages (0: unknown) */
};

static void table_free(struct table *t)
{
    for (size_t r = 0; r < t->rows; r++)
        free(t->rname[r]);
    for (size_t j = 0; j < t->cols; j++)
        free(t->cname[j]);
    free(t->rname);
    free(t->cname);
    free(t->v);
    free(t->line);
    memset(t, 0, sizeof(*t));
}

static int ends_with(const char *s, const char *ext)
{
    size_t n = strlen(s), k = strlen(ext);
    return n >= k && pr_strieq(s + n - k, ext);
}

/* A PEST++ ensemble: CSV (real_name, then names; ies_csv_by_reals) or PEST's binary matrix
 * (.jcb, .jco: rows are realizations). Returns 0 or -1 with err set. */
static int table_load(const struct ies *e, const char *path, struct table *t, struct pr_error *err)
{
    memset(t, 0, sizeof(*t));
    if (ends_with(path, ".jcb") || ends_with(path, ".jco")) {
        struct fosm_matrix *m = fosm_matrix_load(path, pst_dir(e->c), NULL, err);
        if (!m) return -1;
        t->rows = fosm_matrix_nrows(m);
        t->cols = fosm_matrix_ncols(m);
        t->rname = xcalloc(t->rows + 1, sizeof(char *));
        t->cname = xcalloc(t->cols + 1, sizeof(char *));
        t->v = xcalloc(t->rows * t->cols + 1, sizeof(double));
        t->line = xcalloc(t->rows + 1, sizeof(int));
        for (size_t r = 0; r < t->rows; r++) {
            t->rname[r] = xstrdup(fosm_matrix_rowname(m, r));
            for (size_t j = 0; j < t->cols; j++)
                t->v[r * t->cols + j] = fosm_matrix_get(m, r, j);
        }
        for (size_t j = 0; j < t->cols; j++)
            t->cname[j] = xstrdup(fosm_matrix_colname(m, j));
        fosm_matrix_destroy(m);
        return 0;
    }
    size_t len = 0;
    char *text = ies__read_file(path, &len);
    if (!text) return pr_error_set(err, "cannot read %s", path);
    struct csv *c = csv_parse(text, len, path, ',', err);
    if (!c) {
        free(text);
        return -1;
    }
    int rc = 0;
    t->rows = csv_nrows(c);
    t->cols = csv_ncols(c) ? csv_ncols(c) - 1 : 0;
    t->rname = xcalloc(t->rows + 1, sizeof(char *));
    t->cname = xcalloc(t->cols + 1, sizeof(char *));
    t->v = xcalloc(t->rows * t->cols + 1, sizeof(double));
    t->line = xcalloc(t->rows + 1, sizeof(int));
    for (size_t j = 0; j < t->cols; j++)
        t->cname[j] = xstrdup(csv_colname(c, j + 1));
    for (size_t r = 0; r < t->rows; r++) {
        t->rname[r] = xstrdup(csv_field(c, r, 0));
        t->line[r] = csv_row_line(c, r);
        for (size_t j = 0; j < t->cols && rc == 0; j++)
            if (pr_parse_double(csv_field(c, r, j + 1), &t->v[r * t->cols + j], 1) < 0)
                rc =
                    pr_error_set(err, "%s:%d: column %s: expected a number, got '%s'", path,
                                 csv_row_line(c, r), csv_colname(c, j + 1), csv_field(c, r, j + 1));
    }
    csv_destroy(c);
    free(text);
    if (rc < 0) table_free(t);
    return rc;
}

/* The ensemble file of option: rows x (every parameter, control values | every observation) in
 * *vals and the realization names (lower case) in *names, both malloc'd. Parameters that are
 * not adjustable may be missing (PARVAL1 is used); an adjustable one or an observation missing
 * is an error. Returns the row count, or -1 with err set. */
long ies__read_ensemble_csv(struct ies *e, const char *option, int params, double **vals,
                            char ***names, struct pr_error *err)
{
    char *path = ies__case_file(e, pst_opt_str(e->c, option, ""));
    size_t n = params ? e->npar : e->nobs;
    long *col = xcalloc(n + 1, sizeof(long)), rc = -1;
    struct table t;
    if (table_load(e, path, &t, err) < 0) {
        pr_error_prefix(err, "++%s", option);
        free(path);
        free(col);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *want = params ? pst_param(e->c, i)->name : pst_obs(e->c, i)->name;
        col[i] = -1;
        for (size_t j = 0; j < t.cols && col[i] < 0; j++)
            if (pr_strieq(t.cname[j], want)) col[i] = (long)j;
        int needed = params ? pst_param(e->c, i)->trans == PST_TRANS_NONE ||
                                  pst_param(e->c, i)->trans == PST_TRANS_LOG
                            : 1;
        if (col[i] < 0 && needed) {
            char *low = xstrdup(want);
            pr_lower(low);
            pr_error_set(err, "++%s: %s has no column for %s %s (PEST++ stops too)", option, path,
                         params ? "parameter" : "observation", low);
            free(low);
            goto done;
        }
    }
    *vals = xcalloc(t.rows * n + 1, sizeof(double));
    *names = xcalloc(t.rows + 1, sizeof(char *));
    for (size_t r = 0; r < t.rows; r++) {
        (*names)[r] = xstrdup(t.rname[r]);
        pr_lower((*names)[r]);
        for (size_t i = 0; i < n; i++)
            (*vals)[r * n + i] = col[i] >= 0 ? t.v[r * t.cols + (size_t)col[i]]
                                 : params    ? e->init[i]
                                             : pst_obs(e->c, i)->value;
    }
    rc = (long)t.rows;
done:
    table_free(&t);
    free(path);
    free(col);
    return rc;
}
