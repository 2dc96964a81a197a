#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "objective.h"
#include "../util/csv.h"
#include "../util/strbuf.h"
#include "../util/text.h"

char *pst_output_path(const char *pst_path, const char *ext)
{
    char *dir = pr_dirname(pst_path);
    const char *base = strrchr(pst_path, '/');
    base = base ? base + 1 : pst_path;
    size_t n = strlen(base);
    if (n > 4 && strcasecmp(base + n - 4, ".pst") == 0) n -= 4;
    struct strbuf sb = {0};
    sb_append(&sb, base, n);
    sb_printf(&sb, ".%s", ext);
    char *path = pr_path_join(dir, sb.data);
    sb_free(&sb);
    free(dir);
    return path;
}

static void lower_name(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
    pr_lower(dst);
}

static void rei_row(struct strbuf *sb, int namew, const char *name, const char *group,
                    double measured, double modelled, double residual, double weight)
{
    char n[4096], g[4096], v[4][64];
    lower_name(n, sizeof(n), name);
    lower_name(g, sizeof(g), group);
    snprintf(v[0], sizeof(v[0]), "%#.12g", measured);
    snprintf(v[1], sizeof(v[1]), "%#.12g", modelled);
    snprintf(v[2], sizeof(v[2]), "%#.12g", residual);
    snprintf(v[3], sizeof(v[3]), "%#.12g", weight);
    sb_printf(sb, " %-*s %-12s %-20s %-20s %-20s %-20s\n", namew, n, g, v[0], v[1], v[2], v[3]);
}

int pst_write_rei(const struct pst_case *c, const char *path, int iteration, const double *sim,
                  const double *ctl, struct pr_error *err)
{
    struct strbuf sb = {0};
    int namew = 20, rc;

    for (size_t i = 0; i < pst_nobs(c); i++)
        if ((int)strlen(pst_obs(c, i)->name) > namew) namew = (int)strlen(pst_obs(c, i)->name);
    for (size_t i = 0; i < pst_nprior(c); i++)
        if ((int)strlen(pst_prior(c, i)->name) > namew) namew = (int)strlen(pst_prior(c, i)->name);
    sb_printf(&sb, " MODEL OUTPUTS AT END OF OPTIMISATION ITERATION NO. %d:-\n\n\n", iteration);
    sb_printf(&sb, " %-*s %-12s %-20s %-20s %-20s %-20s\n", namew, "Name", "Group", "Measured",
              "Modelled", "Residual", "Weight");
    for (size_t i = 0; i < pst_nobs(c); i++) {
        const struct pst_obs *o = pst_obs(c, i);
        rei_row(&sb, namew, o->name, pst_obsgp(c, (size_t)o->group)->name, o->value, sim[i],
                o->value - sim[i], o->weight);
    }
    for (size_t i = 0; ctl && i < pst_nprior(c); i++) {
        const struct pst_prior *pi = pst_prior(c, i);
        double r = pst_prior_value(c, i, ctl) - pi->pival;
        rei_row(&sb, namew, pi->name, pst_obsgp(c, (size_t)pi->group)->name, pi->pival,
                pi->pival + r, r, pi->weight);
    }
    rc = pr_write_file(path, sb.data, sb.len, err);
    sb_free(&sb);
    return rc;
}

int pst_write_par(const struct pst_case *c, const char *path, const double *ctl,
                  struct pr_error *err)
{
    struct strbuf sb = {0};
    int rc;

    sb_puts(&sb, "single point\n");
    for (size_t i = 0; i < pst_nparams(c); i++) {
        const struct pst_param *p = pst_param(c, i);
        char n[4096];
        lower_name(n, sizeof(n), p->name);
        sb_printf(&sb, "%14s%22s%#.16g %#20.16g %#20.16g\n", n, "", ctl[i], p->scale, p->offset);
    }
    rc = pr_write_file(path, sb.data, sb.len, err);
    sb_free(&sb);
    return rc;
}

/* The text of a file with some lines replaced: line numbers (1-based) -> new text. */
struct line_edit {
    int line;
    char *text;
};

static char *edit_lines(const char *text, const struct line_edit *ed, size_t ned, size_t *outlen)
{
    struct strbuf out = {0};
    int line = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *rep = NULL;
        line++;
        for (size_t i = 0; i < ned; i++)
            if (ed[i].line == line) rep = ed[i].text;
        if (rep)
            sb_puts(&out, rep);
        else
            sb_append(&out, p, n);
        if (nl) sb_putc(&out, '\n');
        p = nl ? nl + 1 : p + n;
    }
    *outlen = out.len;
    return sb_take(&out);
}

/* A classic parameter line with its 4th token (PARVAL1) replaced. */
static char *classic_line(const char *text, int line, double v)
{
    const char *p = text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return xstrdup("");
    const char *nl = strchr(p, '\n');
    char *copy = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
    char *tok[64];
    size_t k = pr_tokenize(copy, " \t\r", tok, 64);
    struct strbuf sb = {0};
    for (size_t t = 0; t < k && t < 64; t++) {
        if (t) sb_putc(&sb, ' ');
        if (t == 3)
            sb_printf(&sb, "%.15g", v);
        else
            sb_puts(&sb, tok[t]);
    }
    free(copy);
    return sb_take(&sb);
}

/* A CSV row with field col replaced; fields holding the separator or a quote are quoted. */
static char *csv_line(const char *line, char sep, size_t col, double v)
{
    char *copy = xstrdup(line);
    size_t n = strlen(copy);
    if (n && copy[n - 1] == '\r') copy[n - 1] = '\0';
    char **f = xcalloc(n + 2, sizeof(char *));
    size_t k = csv_split(copy, sep, f, n + 1);
    struct strbuf sb = {0};
    for (size_t i = 0; i < k && i <= n; i++) {
        if (i) sb_putc(&sb, sep == 'w' ? ' ' : sep);
        if (i == col) {
            sb_printf(&sb, "%.15g", v);
        } else if (strchr(f[i], sep == 'w' ? ' ' : sep) || strchr(f[i], '"')) {
            sb_putc(&sb, '"');
            for (const char *q = f[i]; *q; q++)
                if (*q != '"') sb_putc(&sb, *q);
            sb_putc(&sb, '"');
        } else {
            sb_puts(&sb, f[i]);
        }
    }
    free(f);
    free(copy);
    return sb_take(&sb);
}

static const char *nth_line(const char *text, int line, size_t *len)
{
    const char *p = text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return NULL;
    const char *nl = strchr(p, '\n');
    *len = nl ? (size_t)(nl - p) : strlen(p);
    return p;
}

/* Rewrite one external parameter file; returns the new file's name (relative), or NULL. */
static char *rewrite_external(const struct pst_case *c, const char *file, const char *best_pst,
                              const double *ctl, struct pr_error *err)
{
    char *src = pr_path_join(pst_dir(c), file);
    size_t len, hl;
    char *text = pr_read_file(src, &len, err);
    char *newname = NULL;
    free(src);
    if (!text) return NULL;
    const char *h = nth_line(text, 1, &hl);
    char *header = xstrndup(h ? h : "", h ? hl : 0);
    char sep = strchr(header, ',') ? ',' : 'w';
    char **cols = xcalloc(hl + 2, sizeof(char *));
    size_t nc = csv_split(header, sep, cols, hl + 1);
    size_t col = (size_t)-1;
    for (size_t i = 0; i < nc && i <= hl; i++) {
        char *name = pr_strip(cols[i], " \t\r");
        if (pr_strieq(name, "parval1") || (col == (size_t)-1 && pr_strieq(name, "value"))) col = i;
    }
    struct line_edit *ed = xcalloc(pst_nparams(c) + 1, sizeof(*ed));
    size_t ned = 0;
    for (size_t i = 0; col != (size_t)-1 && i < pst_nparams(c); i++) {
        const struct pst_param *p = pst_param(c, i);
        if (strcmp(p->loc.file, file) != 0) continue;
        size_t ll;
        const char *l = nth_line(text, p->loc.line, &ll);
        char *line = xstrndup(l ? l : "", l ? ll : 0);
        ed[ned].line = p->loc.line;
        ed[ned].text = csv_line(line, sep, col, ctl[i]);
        ned++;
        free(line);
    }
    char *cname = xstrdup(best_pst);
    char *base = strrchr(cname, '/') ? strrchr(cname, '/') + 1 : cname;
    size_t bl = strlen(base);
    if (bl > 4 && strcasecmp(base + bl - 4, ".pst") == 0) base[bl - 4] = '\0';
    struct strbuf nn = {0};
    const char *fbase = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    sb_printf(&nn, "%s.%s", base, fbase);
    char *dir = pr_dirname(best_pst);
    char *dst = pr_path_join(dir, nn.data);
    size_t outlen;
    char *out = edit_lines(text, ed, ned, &outlen);
    if (pr_write_file(dst, out, outlen, err) == 0) newname = sb_take(&nn);
    sb_free(&nn);
    free(out);
    free(dst);
    free(dir);
    free(cname);
    for (size_t i = 0; i < ned; i++)
        free(ed[i].text);
    free(ed);
    free(cols);
    free(header);
    free(text);
    return newname;
}

int pst_write_with_values(const struct pst_case *c, const char *path, const double *ctl,
                          struct pr_error *err)
{
    size_t len, np = pst_nparams(c);
    char *text = pr_read_file(pst_path(c), &len, err);
    struct line_edit *ed;
    size_t ned = 0;
    int rc = -1;

    if (!text) return -1;
    ed = xcalloc(np + 1, sizeof(*ed));
    const char **done = xcalloc(np + 1, sizeof(char *));
    size_t ndone = 0;
    for (size_t i = 0; i < np; i++) {
        const struct pst_param *p = pst_param(c, i);
        if (strcmp(p->loc.file, pst_path(c)) == 0) {
            ed[ned].line = p->loc.line;
            ed[ned++].text = classic_line(text, p->loc.line, ctl[i]);
            continue;
        }
        int seen = 0;
        for (size_t k = 0; k < ndone; k++)
            seen |= strcmp(done[k], p->loc.file) == 0;
        if (seen) continue;
        done[ndone++] = p->loc.file;
        char *newname = rewrite_external(c, p->loc.file, path, ctl, err);
        if (!newname) goto out;
        /* the control-file line naming the external file now names the copy */
        int line = 0;
        for (const char *q = text; *q;) {
            const char *nl = strchr(q, '\n');
            size_t n = nl ? (size_t)(nl - q) : strlen(q);
            line++;
            char *copy = xstrndup(q, n);
            char *tok[2];
            size_t k = pr_tokenize(copy, " \t\r\"'", tok, 2);
            if (k > 0 && strcmp(tok[0], p->loc.file) == 0) {
                const char *rest = strstr(q, p->loc.file);
                struct strbuf sb = {0};
                sb_puts(&sb, newname);
                if (rest && (size_t)(rest - q) < n) {
                    size_t off = (size_t)(rest - q) + strlen(p->loc.file);
                    if (off < n) sb_append(&sb, q + off, n - off);
                }
                ed[ned].line = line;
                ed[ned++].text = sb_take(&sb);
                ed = xrealloc(ed, (np + ned + 2) * sizeof(*ed));
            }
            free(copy);
            q = nl ? nl + 1 : q + n;
        }
        free(newname);
    }
    size_t outlen;
    char *out = edit_lines(text, ed, ned, &outlen);
    rc = pr_write_file(path, out, outlen, err);
    free(out);
out:
    for (size_t i = 0; i < ned; i++)
        free(ed[i].text);
    free(ed);
    free(done);
    free(text);
    return rc;
}

void pst_ensemble_header(struct strbuf *sb, const struct pst_case *c, int params)
{
    size_t n = params ? pst_nparams(c) : pst_nobs(c);
    sb_puts(sb, "real_name");
    for (size_t i = 0; i < n; i++) {
        const char *s = params ? pst_param(c, i)->name : pst_obs(c, i)->name;
        sb_putc(sb, ',');
        for (; *s; s++)
            sb_putc(sb, (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s));
    }
    sb_putc(sb, '\n');
}
