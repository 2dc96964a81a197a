#include "sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pest/objective.h"
#include "util/csv.h"
#include "util/strbuf.h"
#include "util/text.h"

/* The input CSV, read a line at a time. */
struct reader {
    FILE *f;
    const char *path;
    int line;
    char *buf;
    size_t bufcap;
    char **fields;
    size_t capfields;
    int *col_param; /* column -> parameter index (column 0: -1) */
    size_t ncols;
};

/* One chunk of rows: the unit of a scheduler batch. */
struct chunk {
    size_t n, first_row;
    double *values; /* n x npar, model space */
    char **labels;
    double *obs;          /* n x nobs */
    unsigned char *state; /* 0 not reported, 1 ok, 2 failed */
    size_t from_journal;
    size_t nobs;
};

/* The next non-blank line, with its end of line removed; NULL at the end of the file. */
static char *next_line(struct reader *r)
{
    for (;;) {
        ssize_t n = getline(&r->buf, &r->bufcap, r->f);
        if (n < 0) return NULL;
        r->line++;
        char *s = pr_strip(r->buf, " \t\r\n");
        if (*s) return s;
    }
}

/* Split a CSV line in place; returns the number of fields (r->fields holds them). */
static size_t split(struct reader *r, char *line)
{
    size_t n = 1;
    int quoted = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            n++;
    }
    if (n > r->capfields) {
        r->capfields = n;
        r->fields = xrealloc(r->fields, n * sizeof(char *));
    }
    n = csv_split(line, ',', r->fields, n);
    for (size_t i = 0; i < n; i++)
        r->fields[i] = pr_strip(r->fields[i], " \t");
    return n;
}

static int open_input(struct reader *r, const struct pst_case *c, const struct sweep_opts *o,
                      struct pr_error *err)
{
    size_t npar = pst_nparams(c);
    unsigned char *given = NULL;
    int rc = -1;

    r->path = o->in_path;
    r->f = fopen(o->in_path, "r");
    if (!r->f)
        return pr_error_set(err, "%s: cannot read the sweep input: %s", o->in_path,
                            strerror(errno));
    char *line = next_line(r);
    if (!line)
        return pr_error_set(err, "%s:1: empty file: expected a header 'label,PAR1,PAR2,...'",
                            r->path);
    size_t n = split(r, line);
    r->ncols = n;
    r->col_param = xcalloc(n, sizeof(int));
    given = xcalloc(npar + 1, 1);
    r->col_param[0] = -1;
    for (size_t i = 1; i < n; i++) {
        int p = names_find(pst_param_names(c), r->fields[i]);
        if (p < 0 && r->fields[i][0] == '\0' && i == n - 1) { /* a trailing comma */
            r->ncols--;
            break;
        }
        if (p < 0) {
            pr_error_set(err, "%s:%d: column %zu '%s' is not a parameter of %s", r->path, r->line,
                         i + 1, r->fields[i], pst_path(c));
            goto done;
        }
        if (given[p]) {
            pr_error_set(err, "%s:%d: parameter '%s' has two columns", r->path, r->line,
                         r->fields[i]);
            goto done;
        }
        given[p] = 1;
        r->col_param[i] = p;
    }
    for (size_t p = 0; p < npar; p++) {
        const struct pst_param *par = pst_param(c, p);
        if (!given[p] && par->trans != PST_TRANS_TIED && !o->forgive) {
            char lname[512];
            snprintf(lname, sizeof(lname), "%s", par->name);
            pr_lower(lname);
            pr_error_set(err,
                         "%s:%d: parameter '%s' has no column (add one, or use "
                         "++sweep_forgive(true) to run it at its initial value)",
                         r->path, r->line, lname);
            goto done;
        }
    }
    rc = 0;
done:
    free(given);
    return rc;
}

static void close_input(struct reader *r)
{
    if (r->f) fclose(r->f);
    free(r->buf);
    free(r->fields);
    free(r->col_param);
}

/* Read up to ch->n rows into ch. Returns the number read, or -1 with err set. */
static long read_chunk(struct reader *r, const struct pst_case *c, struct chunk *ch, size_t max,
                       struct pr_error *err)
{
    size_t npar = pst_nparams(c);
    double *ctl = xcalloc(npar + 1, sizeof(double));
    size_t k = 0;

    for (; k < max; k++) {
        char *line = next_line(r);
        if (!line) break;
        size_t n = split(r, line);
        if (n == r->ncols + 1 && r->fields[n - 1][0] == '\0') n--;
        if (n != r->ncols) {
            pr_error_set(err, "%s:%d: %zu fields where the header has %zu", r->path, r->line, n,
                         r->ncols);
            free(ctl);
            return -1;
        }
        pst_initial_values(c, ctl);
        for (size_t i = 1; i < n; i++) {
            double v;
            if (pr_parse_double(r->fields[i], &v, 1) < 0) {
                pr_error_set(err, "%s:%d: column %zu: expected a number, got '%s'", r->path,
                             r->line, i + 1, r->fields[i]);
                free(ctl);
                return -1;
            }
            ctl[r->col_param[i]] = v;
        }
        /* tied parameters follow their parents whatever the file says (PEST++) */
        pst_ctl_to_model(c, ctl, ch->values + k * npar);
        free(ch->labels[k]);
        ch->labels[k] = xstrdup(r->fields[0]);
    }
    free(ctl);
    return (long)k;
}

static void on_done(void *ctx, size_t index, const struct run_result *res, int from_journal)
{
    struct chunk *ch = ctx;
    if (res->status == RUN_OK) {
        memcpy(ch->obs + index * ch->nobs, res->obs, ch->nobs * sizeof(double));
        ch->state[index] = 1;
    } else {
        ch->state[index] = 2;
    }
    ch->from_journal += from_journal;
}

static void write_header(FILE *out, const struct pst_case *c, const unsigned char *group_used)
{
    char name[4096];
    fputs("run_id,input_run_id,failed_flag,phi,meas_phi,regul_phi", out);
    for (size_t g = 0; g < pst_nobsgps(c); g++)
        if (group_used[g]) {
            snprintf(name, sizeof(name), "%s", pst_obsgp(c, g)->name);
            pr_lower(name);
            fprintf(out, ",%s", name);
        }
    for (size_t i = 0; i < pst_nobs(c); i++) {
        snprintf(name, sizeof(name), "%s", pst_obs(c, i)->name);
        pr_lower(name);
        fprintf(out, ",%s", name);
    }
    fputc('\n', out);
}

/* Rows of one chunk, in input order. Only the rows before the first unreported one are
 * written (a stopped sweep leaves a clean prefix). Returns how many were written. */
static size_t write_rows(FILE *out, const struct pst_case *c, const struct sweep_opts *o,
                         const struct chunk *ch, const unsigned char *group_used, double *group,
                         size_t *failed)
{
    size_t nobs = pst_nobs(c), ng = pst_nobsgps(c);
    size_t k;
    for (k = 0; k < ch->n && ch->state[k]; k++) {
        fprintf(out, "%zu,%s,", ch->first_row + k, ch->labels[k]);
        if (ch->state[k] == 2) {
            (*failed)++;
            fputs("1,,,", out);
            for (size_t g = 0; g < ng; g++)
                if (group_used[g]) fputc(',', out);
            for (size_t i = 0; i < nobs; i++)
                fputs(",-1e+100", out);
            fputc('\n', out);
            continue;
        }
        const double *obs = ch->obs + k * nobs;
        struct phi_parts phi = {.group = group};
        pst_phi(c, obs, NULL, &phi);
        if (!o->include_regul) { /* regularization groups do not count (PEST++) */
            phi.regul = 0;
            phi.total = phi.meas;
        }
        fprintf(out, "0,%.15g,%.15g,%.15g", phi.total, phi.meas, phi.regul);
        for (size_t g = 0; g < ng; g++)
            if (group_used[g]) fprintf(out, ",%.15g", group[g]);
        for (size_t i = 0; i < nobs; i++)
            fprintf(out, ",%.15g", obs[i]);
        fputc('\n', out);
    }
    return k;
}

int sweep_run(const struct pst_case *c, struct sched *s, const struct sweep_opts *o,
              struct sweep_summary *sum, struct pr_error *err)
{
    struct reader r = {0};
    struct chunk ch = {0};
    size_t npar = pst_nparams(c), nobs = pst_nobs(c), ng = pst_nobsgps(c);
    size_t chunk = o->chunk ? o->chunk : 500;
    unsigned char *group_used = xcalloc(ng + 1, 1);
    double *group = xcalloc(ng + 1, sizeof(double));
    FILE *out = NULL;
    int rc = -1;

    memset(sum, 0, sizeof(*sum));
    for (size_t i = 0; i < nobs; i++)
        group_used[pst_obs(c, i)->group] = 1;
    if (open_input(&r, c, o, err) < 0) goto done;
    out = fopen(o->out_path, "w");
    if (!out) {
        pr_error_set(err, "%s: cannot write the sweep output: %s", o->out_path, strerror(errno));
        goto done;
    }
    write_header(out, c, group_used);
    ch.values = xcalloc(chunk * npar + 1, sizeof(double));
    ch.obs = xcalloc(chunk * nobs + 1, sizeof(double));
    ch.labels = xcalloc(chunk, sizeof(char *));
    ch.state = xcalloc(chunk, 1);
    ch.nobs = nobs;
    for (;;) {
        long n = read_chunk(&r, c, &ch, chunk, err);
        if (n < 0) goto done;
        if (n == 0) break;
        ch.n = (size_t)n;
        ch.first_row = sum->rows;
        ch.from_journal = 0;
        memset(ch.state, 0, chunk);
        int b = sched_run_batch(s, ch.n, ch.values, NULL, on_done, &ch, err);
        if (b < 0) goto done;
        size_t written = write_rows(out, c, o, &ch, group_used, group, &sum->failed);
        sum->rows += written;
        sum->from_journal += ch.from_journal;
        if (fflush(out) != 0) {
            pr_error_set(err, "%s: cannot write: %s", o->out_path, strerror(errno));
            goto done;
        }
        if (b == 1) {
            rc = 1;
            goto done;
        }
    }
    rc = 0;
done:
    if (out && fclose(out) != 0 && rc >= 0) {
        pr_error_set(err, "%s: cannot write: %s", o->out_path, strerror(errno));
        rc = -1;
    }
    close_input(&r);
    for (size_t i = 0; ch.labels && i < chunk; i++)
        free(ch.labels[i]);
    free(ch.labels);
    free(ch.values);
    free(ch.obs);
    free(ch.state);
    free(group_used);
    free(group);
    return rc;
}

long sweep_read_rows(const struct pst_case *c, const struct sweep_opts *o, size_t max,
                     double **values, struct pr_error *err)
{
    struct reader r = {0};
    struct chunk ch = {0};
    size_t npar = pst_nparams(c);
    long n = -1;
    *values = NULL;
    if (open_input(&r, c, o, err) == 0) {
        ch.values = xcalloc(max * npar + 1, sizeof(double));
        ch.labels = xcalloc(max + 1, sizeof(char *));
        n = read_chunk(&r, c, &ch, max, err);
        for (size_t i = 0; i < max; i++) free(ch.labels[i]);
        free(ch.labels);
        if (n >= 0)
            *values = ch.values;
        else
            free(ch.values);
    }
    close_input(&r);
    return n;
}
