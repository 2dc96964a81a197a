#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "algo/parspace.h"
#include "pest/outputs.h"
#include "util/csv.h"
#include "util/strbuf.h"
#include "util/svgplot.h"
#include "util/text.h"

#define WIDE 1140   /* px */
#define SMALL 370   /* px: three histograms a row */
#define MAX_HIST 24 /* parameters shown as histograms */
#define NBINS 12

/* A CSV output, parsed, with its text (the fields point into it). */
struct table {
    char *text;
    struct csv *t;
};

static void table_free(struct table *t)
{
    csv_destroy(t->t);
    free(t->text);
}

static int table_read(const char *path, struct table *t, struct pr_error *err)
{
    FILE *f = fopen(path, "rb");
    struct strbuf sb = {0};
    char buf[65536];
    size_t n;
    memset(t, 0, sizeof(*t));
    if (!f) return pr_error_set(err, "cannot read %s (run 'pestrun ies' first)", path);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        sb_append(&sb, buf, n);
    fclose(f);
    size_t len = sb.len;
    t->text = sb_take(&sb);
    t->t = csv_parse(t->text, len, path, ',', err);
    if (!t->t) {
        free(t->text);
        return -1;
    }
    if (csv_nrows(t->t) == 0) {
        table_free(t);
        return pr_error_set(err, "%s: a header and no rows", path);
    }
    return 0;
}

static int num(const struct csv *t, size_t r, size_t c, double *v)
{
    const char *s = csv_field(t, r, c);
    return s[0] && pr_parse_double(s, v, 0) == 0;
}

struct ens_report {
    const struct pst_case *c;
    const char *pst_path;
    char *case_name;
    struct table phi, prior, post;
    int last_iter;
    size_t nreal; /* realization columns of the phi file */
};

static void caption(struct strbuf *sb, const char *text)
{
    sb_puts(sb, "<p class=\"caption\">");
    svg_escape(sb, text);
    sb_puts(sb, "</p>\n");
}

static void fact(struct strbuf *sb, const char *name, const char *value)
{
    sb_puts(sb, "<div><dt>");
    svg_escape(sb, name);
    sb_puts(sb, "</dt><dd>");
    svg_escape(sb, value);
    sb_puts(sb, "</dd></div>\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *sorted, size_t n, double q)
{
    double at = q * (double)(n - 1);
    size_t i = (size_t)at;
    double f = at - (double)i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[n - 1];
}

/* Box plots of every realization's phi per iteration, the mean as a line. */
static void chart_phi(const struct ens_report *r, struct strbuf *sb)
{
    const struct csv *t = r->phi.t;
    size_t ni = csv_nrows(t), nr = r->nreal;
    double *it = xcalloc(ni + 1, sizeof(double)), *mean = xcalloc(ni + 1, sizeof(double));
    double *all = xcalloc(ni * nr + 1, sizeof(double)), lo = INFINITY, hi = -INFINITY;
    size_t *cnt = xcalloc(ni + 1, sizeof(size_t));
    for (size_t i = 0; i < ni; i++) {
        num(t, i, 0, &it[i]);
        num(t, i, 2, &mean[i]);
        for (size_t k = 0; k < nr; k++) {
            double v;
            if (num(t, i, 6 + k, &v)) all[i * nr + cnt[i]++] = v;
        }
        svg_extent(&lo, &hi, all + i * nr, cnt[i], SVG_LOG10);
    }
    struct svg_axis x = {.integer = 1, .label = "iteration"}, y = {.label = "phi"};
    svg_axis_fit(&x, it[0] - 0.5, it[ni - 1] + 0.5, 0.0);
    int logy = lo > 0 && hi / lo >= 100;
    if (logy) {
        y.scale = SVG_LOG10;
        y.label = "phi (log scale)";
        svg_axis_fit(&y, lo, hi, 0.03);
    } else {
        double llo = INFINITY, lhi = -INFINITY;
        svg_extent(&llo, &lhi, all, ni * nr, SVG_LINEAR);
        svg_axis_fit(&y, fmin(0, llo), lhi, 0.04);
    }
    struct svg_plot *p =
        svg_plot_create(WIDE, 420, "Ensemble phi per iteration (actual phi)", &x, &y);
    struct svg_style whisker = {.color = "#6b7b8c", .width = 1.2};
    struct svg_style box = {.color = "#9fb6cd", .width = 14};
    struct svg_style median = {.color = "#1f3b57", .mark = SVG_MARK_SQUARE, .size = 3};
    struct svg_style pts = {.color = "#888", .mark = SVG_MARK_CIRCLE, .hollow = 1, .size = 2.2};
    struct svg_style line = {.color = "#111", .width = 2.4, .mark = SVG_MARK_CIRCLE};
    for (size_t i = 0; i < ni; i++) {
        double *v = all + i * nr;
        size_t n = cnt[i];
        if (n == 0) continue;
        qsort(v, n, sizeof(double), cmp_double);
        svg_plot_segment(p, it[i], v[0], it[i], v[n - 1], &whisker, i ? NULL : "min to max");
        svg_plot_segment(p, it[i], quantile(v, n, 0.25), it[i], quantile(v, n, 0.75), &box,
                         i ? NULL : "interquartile range");
        double med = quantile(v, n, 0.5), xi = it[i];
        svg_plot_points(p, &xi, &med, 1, &median, i ? NULL : "median", NULL);
        double *xs = xcalloc(n + 1, sizeof(double));
        for (size_t k = 0; k < n; k++)
            xs[k] = it[i] + 0.18;
        svg_plot_points(p, xs, v, n, &pts, i ? NULL : "realizations", NULL);
        free(xs);
    }
    svg_plot_line(p, it, mean, ni, &line, "mean");
    svg_plot_render(p, sb);
    svg_plot_destroy(p);
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Phi of each realization against the observed values after each iteration "
              "(iteration 0: the prior ensemble), from %s.phi.actual.csv.",
              r->case_name);
    if (logy) sb_puts(&cap, " Log scale.");
    caption(sb, cap.data);
    sb_free(&cap);
    free(it);
    free(mean);
    free(all);
    free(cnt);
}

/* Column of parameter name in a parameter ensemble, or -1. */
static long par_col(const struct csv *t, const char *name)
{
    for (size_t j = 1; j < csv_ncols(t); j++)
        if (strcasecmp(csv_colname(t, j), name) == 0) return (long)j;
    return -1;
}

/* Prior against posterior histogram of one parameter (log10 for log parameters). */
static void chart_hist(const struct ens_report *r, struct strbuf *sb, const struct pst_param *p,
                       int lg)
{
    const struct csv *a = r->prior.t, *b = r->post.t;
    long ca = par_col(a, p->name), cb = par_col(b, p->name);
    if (ca < 0 || cb < 0) return;
    size_t na = csv_nrows(a), nb = csv_nrows(b);
    double *va = xcalloc(na + 1, sizeof(double)), *vb = xcalloc(nb + 1, sizeof(double));
    double lo = lg ? log10(p->lbnd) : p->lbnd, hi = lg ? log10(p->ubnd) : p->ubnd;
    size_t ka = 0, kb = 0;
    for (size_t i = 0; i < na; i++)
        if (num(a, i, (size_t)ca, &va[ka])) ka++;
    for (size_t i = 0; i < nb; i++)
        if (num(b, i, (size_t)cb, &vb[kb])) kb++;
    double fa[NBINS] = {0}, fb[NBINS] = {0}, xa[NBINS], xb[NBINS];
    for (int pass = 0; pass < 2; pass++) {
        double *v = pass ? vb : va, *f = pass ? fb : fa;
        size_t k = pass ? kb : ka;
        for (size_t i = 0; i < k; i++) {
            double x = lg ? log10(v[i] > 0 ? v[i] : p->lbnd) : v[i];
            int bin = hi > lo ? (int)floor((x - lo) / (hi - lo) * NBINS) : 0;
            bin = bin < 0 ? 0 : bin >= NBINS ? NBINS - 1 : bin;
            f[bin] += k ? 1.0 / (double)k : 0;
        }
    }
    double w = (hi - lo) / NBINS;
    for (int i = 0; i < NBINS; i++) {
        xa[i] = lo + (i + 0.3) * w;
        xb[i] = lo + (i + 0.7) * w;
    }
    char *low = xstrdup(p->name);
    pr_lower(low);
    struct strbuf xl = {0};
    sb_printf(&xl, "%s%s%s", lg ? "log10(" : "", low, lg ? ")" : "");
    struct svg_axis x = {.label = xl.data}, y = {.label = "fraction"};
    svg_axis_fit(&x, lo, hi, 0.02);
    double ymax = 0;
    for (int i = 0; i < NBINS; i++)
        ymax = fmax(ymax, fmax(fa[i], fb[i]));
    svg_axis_fit(&y, 0, ymax > 0 ? ymax : 1, 0.05);
    y.lo = 0;
    struct svg_plot *pl = svg_plot_create(SMALL, 240, low, &x, &y);
    struct svg_style sa = {.color = "#b8c4d0", .barw = 0.4 * w};
    struct svg_style sbr = {.color = "#e15759", .barw = 0.4 * w};
    svg_plot_bars(pl, xa, fa, NBINS, &sa, "prior", NULL);
    svg_plot_bars(pl, xb, fb, NBINS, &sbr, "posterior", NULL);
    svg_plot_render(pl, sb);
    svg_plot_destroy(pl);
    sb_free(&xl);
    free(low);
    free(va);
    free(vb);
}

static void section_params(const struct ens_report *r, struct strbuf *sb)
{
    struct parspace ps;
    parspace_init(&ps, r->c);
    sb_puts(sb, "<div class=\"charts\">\n");
    size_t shown = 0;
    for (size_t k = 0; k < ps.nadj && shown < MAX_HIST; k++, shown++)
        chart_hist(r, sb, pst_param(r->c, ps.adj[k]), ps.is_log[k]);
    sb_puts(sb, "</div>\n");
    struct strbuf cap = {0};
    sb_printf(&cap,
              "Prior (%s.0.par.csv) and posterior (%s.%d.par.csv) distributions of %s%zu "
              "adjustable parameter%s, between the bounds.",
              r->case_name, r->case_name, r->last_iter, shown < ps.nadj ? "the first " : "the ",
              shown, shown == 1 ? "" : "s");
    caption(sb, cap.data);
    sb_free(&cap);
    parspace_free(&ps);
}

/* The realizations of the prior ensemble that are not in the last one. */
static void section_dropped(const struct ens_report *r, struct strbuf *sb)
{
    const struct csv *a = r->prior.t, *b = r->post.t;
    struct strbuf list = {0};
    size_t n = 0;
    for (size_t i = 0; i < csv_nrows(a); i++) {
        int found = 0;
        for (size_t k = 0; k < csv_nrows(b) && !found; k++)
            found = strcmp(csv_field(a, i, 0), csv_field(b, k, 0)) == 0;
        if (found) continue;
        sb_printf(&list, "%s%s", n++ ? ", " : "", csv_field(a, i, 0));
    }
    sb_puts(sb, "<p>");
    if (n) {
        sb_printf(sb,
                  "%zu of the %zu prior realizations left the ensemble (failed runs or phi "
                  "above the bad-phi threshold): ",
                  n, csv_nrows(a));
        svg_escape(sb, list.data);
    } else {
        sb_printf(sb, "None: all %zu prior realizations are in the last ensemble.", csv_nrows(a));
    }
    sb_puts(sb, "</p>\n");
    sb_free(&list);
}

static void head(const struct ens_report *r, struct strbuf *sb)
{
    const struct csv *t = r->phi.t;
    size_t ni = csv_nrows(t);
    sb_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
                "<title>");
    svg_escape(sb, r->case_name);
    sb_printf(sb,
              ": ensemble calibration report</title>\n<style>\n%s</style>\n</head>\n"
              "<body>\n<main>\n<h1>Ensemble calibration report: ",
              report_page_style);
    svg_escape(sb, r->case_name);
    sb_puts(sb, "</h1>\n<p class=\"sub\">");
    svg_escape(sb, r->pst_path);
    sb_printf(sb, " &#183; report written by pestrun %s</p>\n", PESTRUN_VERSION);
    sb_puts(sb, "<nav><a href=\"#phi\">phi</a><a href=\"#parameters\">parameters</a>"
                "<a href=\"#dropped\">dropped realizations</a></nav>\n<dl class=\"facts\">\n");
    struct strbuf v = {0};
    double m0 = 0, m1 = 0, runs = 0;
    num(t, 0, 2, &m0);
    num(t, ni - 1, 2, &m1);
    num(t, ni - 1, 1, &runs);
    size_t nw = 0;
    for (size_t i = 0; i < pst_nobs(r->c); i++)
        nw += pst_obs(r->c, i)->weight > 0;
    sb_printf(&v, "%zu", pst_nparams(r->c));
    fact(sb, "parameters", v.data);
    sb_reset(&v);
    sb_printf(&v, "%zu (%zu with weight > 0)", pst_nobs(r->c), nw);
    fact(sb, "observations", v.data);
    sb_reset(&v);
    sb_printf(&v, "%zu prior, %zu in the last", csv_nrows(r->prior.t), csv_nrows(r->post.t));
    fact(sb, "realizations", v.data);
    sb_reset(&v);
    sb_printf(&v, "%d", r->last_iter);
    fact(sb, "iterations", v.data);
    sb_reset(&v);
    sb_printf(&v, "%.0f", runs);
    fact(sb, "model runs", v.data);
    sb_reset(&v);
    sb_printf(&v, "%.6g", m0);
    fact(sb, "prior mean phi", v.data);
    sb_reset(&v);
    sb_printf(&v, "%.6g", m1);
    fact(sb, "last mean phi", v.data);
    sb_puts(sb, "</dl>\n");
    sb_free(&v);
}

int report_ies_write(const struct pst_case *c, const char *pst_path, const char *html_path,
                     struct pr_error *err)
{
    struct ens_report r;
    struct strbuf sb = {0};
    int rc = -1;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.pst_path = pst_path;
    const char *b = strrchr(pst_path, '/');
    b = b ? b + 1 : pst_path;
    size_t n = strlen(b);
    if (n > 4 && strcasecmp(b + n - 4, ".pst") == 0) n -= 4;
    r.case_name = xstrndup(b, n);
    char *p_phi = pst_output_path(pst_path, "phi.actual.csv");
    char *p_prior = pst_output_path(pst_path, "0.par.csv"), *p_post = NULL;
    if (table_read(p_phi, &r.phi, err) < 0) goto done;
    double last;
    if (csv_ncols(r.phi.t) < 7 || !num(r.phi.t, csv_nrows(r.phi.t) - 1, 0, &last)) {
        pr_error_set(err,
                     "%s: expected PEST++'s columns (iteration,total_runs,mean,"
                     "standard_deviation,min,max, then the realizations)",
                     p_phi);
        goto done;
    }
    r.last_iter = (int)last;
    r.nreal = csv_ncols(r.phi.t) - 6;
    char ext[64];
    snprintf(ext, sizeof(ext), "%d.par.csv", r.last_iter);
    p_post = pst_output_path(pst_path, ext);
    if (table_read(p_prior, &r.prior, err) < 0 || table_read(p_post, &r.post, err) < 0) goto done;
    head(&r, &sb);
    sb_puts(&sb, "<h2 id=\"phi\">Phi per iteration</h2>\n");
    chart_phi(&r, &sb);
    sb_puts(&sb, "<h2 id=\"parameters\">Prior and posterior parameters</h2>\n");
    section_params(&r, &sb);
    sb_puts(&sb, "<h2 id=\"dropped\">Dropped realizations</h2>\n");
    section_dropped(&r, &sb);
    sb_puts(&sb, "</main>\n</body>\n</html>\n");
    rc = pr_write_file(html_path, sb.data, sb.len, err);
done:
    table_free(&r.phi);
    table_free(&r.prior);
    table_free(&r.post);
    free(p_phi);
    free(p_prior);
    free(p_post);
    free(r.case_name);
    sb_free(&sb);
    return rc;
}
