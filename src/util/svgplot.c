#include "svgplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Approximate text widths of the 11 px sans-serif labels, for the margins. */
#define CHAR_W 6.3
#define SUP_W 5.0
#define LEGEND_ROW 16.0
#define LEGEND_MAX_CHARS 26
#define CATEGORY_MAX_CHARS 18
#define TITLE_CHAR_W 7.6 /* 13 px bold */
#define MAX_TICKS 64

enum series_kind { SERIES_LINE, SERIES_POINTS, SERIES_BARS, SERIES_SEGMENT, SERIES_LEGEND };

struct series {
    enum series_kind kind;
    struct svg_style st;
    char *color, *dash, *legend;
    double *x, *y;
    size_t n;
    char **tips;
};

struct axis {
    enum svg_scale scale;
    double lo, hi;
    char *label;
    int integer;
    char **cats;
    size_t ncats;
};

struct svg_plot {
    int w, h;
    char *title, *note;
    struct axis x, y;
    struct series *s;
    size_t ns, cap;
    int square;
};

struct tick {
    double v;
    char label[64];
    char sup[16];     /* label is "10" with this exponent when set */
    const char *full; /* the whole name when label is shortened */
};

/* The plot area in px. */
struct frame {
    double l, t, w, h;
    int rotate_x; /* category labels slanted */
};

/* s cut to at most max bytes with an ellipsis, never inside a UTF-8 character. Returns 1 when
 * cut. */
static int clip_text(char *dst, size_t n, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max) {
        snprintf(dst, n, "%s", s);
        return 0;
    }
    size_t k = max > 2 ? max - 2 : 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    snprintf(dst, n, "%.*s\xe2\x80\xa6", (int)k, s);
    return 1;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void axis_copy(struct axis *d, const struct svg_axis *a)
{
    memset(d, 0, sizeof(*d));
    d->scale = a->categories ? SVG_LINEAR : a->scale;
    d->lo = a->lo;
    d->hi = a->hi;
    d->label = dup_or_null(a->label);
    d->integer = a->integer;
    if (a->categories) {
        d->ncats = a->ncategories;
        d->cats = xcalloc(a->ncategories + 1, sizeof(char *));
        for (size_t i = 0; i < a->ncategories; i++)
            d->cats[i] = xstrdup(a->categories[i] ? a->categories[i] : "");
        d->lo = -0.5;
        d->hi = (double)a->ncategories - 0.5;
        if (a->ncategories == 0) d->hi = 0.5;
    }
    if (d->scale == SVG_LOG10 && !(d->lo > 0 && d->lo < d->hi)) {
        d->lo = 1;
        d->hi = 10;
    } else if (!(d->lo < d->hi)) {
        d->lo = 0;
        d->hi = 1;
    }
}

static void axis_free(struct axis *a)
{
    free(a->label);
    for (size_t i = 0; i < a->ncats; i++)
        free(a->cats[i]);
    free(a->cats);
}

struct svg_plot *svg_plot_create(int width, int height, const char *title, const struct svg_axis *x,
                                 const struct svg_axis *y)
{
    struct svg_plot *p = xcalloc(1, sizeof(*p));
    p->w = width;
    p->h = height;
    p->title = dup_or_null(title);
    axis_copy(&p->x, x);
    axis_copy(&p->y, y);
    return p;
}

void svg_plot_destroy(struct svg_plot *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->ns; i++) {
        struct series *s = &p->s[i];
        free(s->color);
        free(s->dash);
        free(s->legend);
        free(s->x);
        free(s->y);
        for (size_t k = 0; s->tips && k < s->n; k++)
            free(s->tips[k]);
        free(s->tips);
    }
    free(p->s);
    free(p->title);
    free(p->note);
    axis_free(&p->x);
    axis_free(&p->y);
    free(p);
}

static struct series *add_series(struct svg_plot *p, enum series_kind kind,
                                 const struct svg_style *st, const char *legend)
{
    if (p->ns == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->s = xrealloc(p->s, p->cap * sizeof(*p->s));
    }
    struct series *s = &p->s[p->ns++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (st) s->st = *st;
    s->color = xstrdup(st && st->color ? st->color : "#000");
    s->dash = dup_or_null(st ? st->dash : NULL);
    s->st.color = NULL;
    s->st.dash = NULL;
    if (s->st.width <= 0) s->st.width = 1.5;
    if (s->st.size <= 0) s->st.size = 3.5;
    if (s->st.barw <= 0) s->st.barw = 0.7;
    s->legend = dup_or_null(legend);
    return s;
}

static void copy_data(struct series *s, const double *x, const double *y, size_t n,
                      const char *const *tips)
{
    s->n = n;
    s->x = xcalloc(n + 1, sizeof(double));
    s->y = xcalloc(n + 1, sizeof(double));
    if (n) {
        memcpy(s->x, x, n * sizeof(double));
        memcpy(s->y, y, n * sizeof(double));
    }
    if (tips) {
        s->tips = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            s->tips[i] = dup_or_null(tips[i]);
    }
}

void svg_plot_line(struct svg_plot *p, const double *x, const double *y, size_t n,
                   const struct svg_style *st, const char *legend)
{
    copy_data(add_series(p, SERIES_LINE, st, legend), x, y, n, NULL);
}

void svg_plot_points(struct svg_plot *p, const double *x, const double *y, size_t n,
                     const struct svg_style *st, const char *legend, const char *const *tips)
{
    struct series *s = add_series(p, SERIES_POINTS, st, legend);
    if (s->st.mark == SVG_MARK_NONE) s->st.mark = SVG_MARK_CIRCLE;
    copy_data(s, x, y, n, tips);
}

void svg_plot_bars(struct svg_plot *p, const double *x, const double *y, size_t n,
                   const struct svg_style *st, const char *legend, const char *const *tips)
{
    copy_data(add_series(p, SERIES_BARS, st, legend), x, y, n, tips);
}

void svg_plot_segment(struct svg_plot *p, double xa, double ya, double xb, double yb,
                      const struct svg_style *st, const char *legend)
{
    double x[2] = {xa, xb}, y[2] = {ya, yb};
    copy_data(add_series(p, SERIES_SEGMENT, st, legend), x, y, 2, NULL);
}

void svg_plot_legend(struct svg_plot *p, const struct svg_style *st, const char *legend)
{
    copy_data(add_series(p, SERIES_LEGEND, st, legend), NULL, NULL, 0, NULL);
}

void svg_plot_square(struct svg_plot *p)
{
    p->square = 1;
}

void svg_plot_note(struct svg_plot *p, const char *text)
{
    free(p->note);
    p->note = dup_or_null(text);
}

/* ------------------------------------------------------------------------------------------ */
/* numbers and text                                                                           */

void svg_escape(struct strbuf *sb, const char *s)
{
    sb_put_xml(sb, s);
}

static void tidy_exponent(char *buf)
{
    char *e = strchr(buf, 'e');
    if (!e) return;
    char *r = e + 1, *w = e + 1;
    if (*r == '+')
        r++;
    else if (*r == '-')
        *w++ = *r++;
    while (*r == '0' && r[1])
        r++;
    memmove(w, r, strlen(r) + 1);
}

static void fmt_prec(char *buf, size_t n, double v, int prec)
{
    if (v == 0) v = 0; /* no "-0" */
    snprintf(buf, n, "%.*g", prec, v);
    tidy_exponent(buf);
}

void svg_fmt(char *buf, size_t n, double v)
{
    fmt_prec(buf, n, v, 4);
}

static double text_w(const char *s)
{
    return CHAR_W * (double)(s ? strlen(s) : 0);
}

static double tick_w(const struct tick *t)
{
    return text_w(t->label) + SUP_W * (double)strlen(t->sup);
}

/* ------------------------------------------------------------------------------------------ */
/* scales and ticks                                                                           */

void svg_extent(double *lo, double *hi, const double *v, size_t n, enum svg_scale scale)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || (scale == SVG_LOG10 && !(v[i] > 0))) continue;
        if (v[i] < *lo) *lo = v[i];
        if (v[i] > *hi) *hi = v[i];
    }
}

void svg_axis_fit(struct svg_axis *a, double lo, double hi, double frac)
{
    if (a->scale == SVG_LOG10) {
        if (!(lo > 0 && lo <= hi && isfinite(hi))) {
            a->lo = 1;
            a->hi = 10;
            return;
        }
        double l = log10(lo), h = log10(hi);
        if (h - l < 1e-9) {
            l -= 0.5;
            h += 0.5;
        }
        double pad = (h - l) * frac;
        a->lo = pow(10, l - pad);
        a->hi = pow(10, h + pad);
        return;
    }
    if (!(lo <= hi && isfinite(lo) && isfinite(hi))) {
        a->lo = 0;
        a->hi = 1;
        return;
    }
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
        double w = lo == 0 ? 1 : 0.05 * fabs(lo);
        lo -= w;
        hi += w;
    }
    double pad = (hi - lo) * frac;
    a->lo = lo - pad;
    a->hi = hi + pad;
}

static double tnum(const struct axis *a, double v)
{
    return a->scale == SVG_LOG10 ? log10(v) : v;
}

static int drawable(const struct axis *a, double v)
{
    return isfinite(v) && (a->scale != SVG_LOG10 || v > 0);
}

static size_t category_ticks(const struct axis *a, struct tick *t, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < a->ncats && n < max; i++, n++) {
        t[n].v = (double)i;
        t[n].full = clip_text(t[n].label, sizeof(t[n].label), a->cats[i], CATEGORY_MAX_CHARS)
                        ? a->cats[i]
                        : NULL;
        t[n].sup[0] = '\0';
    }
    return n;
}

static size_t linear_ticks(const struct axis *a, double pixels, struct tick *t, size_t max)
{
    double target = fmax(2, fmin(10, pixels / 55));
    double raw = (a->hi - a->lo) / target, mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    if (a->integer && step < 1) step = 1;
    if (!(step > 0) || !isfinite(step)) return 0;
    double first = ceil(a->lo / step - 1e-9) * step, big = fmax(fabs(a->lo), fabs(a->hi));
    int mag_big = (int)floor(log10(big)), prec = mag_big - (int)floor(log10(step)) + 1;
    if (mag_big >= 0 && mag_big < 6 && prec < mag_big + 1)
        prec = mag_big + 1; /* whole numbers below a million in full: 1800, not 1.8e3 */
    prec = prec < 1 ? 1 : prec > 12 ? 12 : prec;
    size_t n = 0;
    for (int k = 0; n < max; k++) {
        double v = first + k * step;
        if (v > a->hi + step * 1e-9) break;
        if (fabs(v) < step * 1e-9) v = 0;
        t[n].v = v;
        t[n].sup[0] = '\0';
        fmt_prec(t[n].label, sizeof(t[n].label), v, prec);
        n++;
    }
    return n;
}

static void decade_label(struct tick *t, int k)
{
    t->v = pow(10, k);
    t->sup[0] = '\0';
    if (k >= -2 && k <= 3) {
        snprintf(t->label, sizeof(t->label), "%g", t->v);
    } else {
        snprintf(t->label, sizeof(t->label), "10");
        snprintf(t->sup, sizeof(t->sup), "%d", k);
    }
}

/* Decades, thinned to about one tick per 45 px; 2 and 5 multiples when under two decades. */
static size_t log_ticks(const struct axis *a, double pixels, struct tick *t, size_t max)
{
    int klo = (int)ceil(log10(a->lo) - 1e-9), khi = (int)floor(log10(a->hi) + 1e-9);
    int ndec = khi - klo + 1, stride = 1;
    double target = fmax(2, fmin(10, pixels / 45));
    while (ndec / stride > target)
        stride++;
    size_t n = 0;
    if (ndec < 2) {
        for (int k = klo - 1; k <= khi && n < max; k++)
            for (int m = 1; m <= 5 && n < max; m += m == 1 ? 1 : 3) { /* 1, 2, 5 */
                double v = m * pow(10, k);
                if (v < a->lo * (1 - 1e-9) || v > a->hi * (1 + 1e-9)) continue;
                if (m == 1)
                    decade_label(&t[n], k);
                else {
                    t[n].v = v;
                    t[n].sup[0] = '\0';
                    svg_fmt(t[n].label, sizeof(t[n].label), v);
                }
                n++;
            }
        return n;
    }
    for (int k = klo; k <= khi && n < max; k++)
        if (((k % stride) + stride) % stride == 0) decade_label(&t[n++], k);
    return n;
}

static size_t make_ticks(const struct axis *a, double pixels, struct tick *t, size_t max)
{
    memset(t, 0, max * sizeof(*t));
    if (a->cats) return category_ticks(a, t, max);
    if (a->scale == SVG_LOG10) return log_ticks(a, pixels, t, max);
    return linear_ticks(a, pixels, t, max);
}

/* ------------------------------------------------------------------------------------------ */
/* layout                                                                                     */

static size_t legend_count(const struct svg_plot *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ns; i++)
        n += p->s[i].legend != NULL;
    return n;
}

static double legend_width(const struct svg_plot *p)
{
    double w = 0;
    for (size_t i = 0; i < p->ns; i++)
        if (p->s[i].legend) {
            size_t len = strlen(p->s[i].legend);
            w = fmax(w, CHAR_W * (double)(len > LEGEND_MAX_CHARS ? LEGEND_MAX_CHARS : len));
        }
    return w > 0 ? w + 40 : 0;
}

static void layout(const struct svg_plot *p, struct frame *f)
{
    struct tick t[MAX_TICKS];
    double h0 = p->h - 70.0, ylab = 0, xlab = 0;
    size_t n = make_ticks(&p->y, h0, t, MAX_TICKS);
    for (size_t i = 0; i < n; i++)
        ylab = fmax(ylab, tick_w(&t[i]));
    f->l = 10 + (p->y.label ? 18 : 0) + ylab + 8;
    f->t = p->title ? 34 : 12;
    double legend = legend_width(p);
    f->w = p->w - f->l - 14 - legend;
    n = make_ticks(&p->x, f->w, t, MAX_TICKS);
    for (size_t i = 0; i < n; i++)
        xlab = fmax(xlab, tick_w(&t[i]));
    f->rotate_x = p->x.cats && n > 0 && xlab + 6 > f->w / (double)n;
    double below = f->rotate_x ? 18 + 0.65 * xlab : 20; /* sin 40 degrees */
    f->h = p->h - f->t - below - (p->x.label ? 22 : 6);
    if (p->square && f->w > f->h) f->w = f->h;
}

static double px_x(const struct svg_plot *p, const struct frame *f, double v)
{
    const struct axis *a = &p->x;
    return f->l + (tnum(a, v) - tnum(a, a->lo)) / (tnum(a, a->hi) - tnum(a, a->lo)) * f->w;
}

static double px_y(const struct svg_plot *p, const struct frame *f, double v)
{
    const struct axis *a = &p->y;
    return f->t + f->h - (tnum(a, v) - tnum(a, a->lo)) / (tnum(a, a->hi) - tnum(a, a->lo)) * f->h;
}

static int in_range(const struct axis *a, double v)
{
    double span = a->hi - a->lo;
    if (a->scale == SVG_LOG10) return v >= a->lo * (1 - 1e-9) && v <= a->hi * (1 + 1e-9);
    return v >= a->lo - 1e-9 * span && v <= a->hi + 1e-9 * span;
}

/* ------------------------------------------------------------------------------------------ */
/* drawing                                                                                    */

static void text_tick(struct strbuf *sb, const struct tick *t, double x, double y,
                      const char *anchor, int rotate)
{
    sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"", x, y, anchor);
    if (rotate) sb_printf(sb, " transform=\"rotate(-40 %.1f %.1f)\"", x, y);
    sb_puts(sb, ">");
    svg_escape(sb, t->label);
    if (t->full) {
        sb_puts(sb, "<title>");
        svg_escape(sb, t->full);
        sb_puts(sb, "</title>");
    }
    if (t->sup[0]) {
        sb_puts(sb, "<tspan dy=\"-5\" font-size=\"8.5\">");
        svg_escape(sb, t->sup);
        sb_puts(sb, "</tspan>");
    }
    sb_puts(sb, "</text>\n");
}

static void draw_axes(const struct svg_plot *p, const struct frame *f, struct strbuf *sb)
{
    struct tick t[MAX_TICKS];
    size_t n = make_ticks(&p->y, f->h, t, MAX_TICKS);
    sb_puts(sb, "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < n; i++) {
        double y = px_y(p, f, t[i].v);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", f->l, y,
                  f->l + f->w, y);
    }
    size_t nx = make_ticks(&p->x, f->w, t + n, MAX_TICKS - n);
    for (size_t i = n; i < n + nx; i++) {
        double x = px_x(p, f, t[i].v);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, f->t, x,
                  f->t + f->h);
    }
    sb_puts(sb, "</g>\n<g class=\"ticks\" fill=\"#333\">\n");
    for (size_t i = 0; i < n; i++) {
        double y = px_y(p, f, t[i].v);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n",
                  f->l - 4, y, f->l, y);
        text_tick(sb, &t[i], f->l - 6, y + 4, "end", 0);
    }
    for (size_t i = n; i < n + nx; i++) {
        double x = px_x(p, f, t[i].v), y = f->t + f->h;
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n",
                  x, y, x, y + 4);
        if (f->rotate_x)
            text_tick(sb, &t[i], x + 3, y + 12, "end", 1);
        else
            text_tick(sb, &t[i], x, y + 15, "middle", 0);
    }
    sb_puts(sb, "</g>\n");
}

static void draw_titles(const struct svg_plot *p, const struct frame *f, struct strbuf *sb)
{
    sb_printf(sb,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#777\"/>\n",
              f->l, f->t, f->w, f->h);
    if (p->title) {
        double x = f->l, room = p->w - f->l - 8;
        if (room < TITLE_CHAR_W * 24) { /* narrow chart: start at the left edge */
            x = 8;
            room = p->w - 16;
        }
        char buf[512];
        clip_text(buf, sizeof(buf), p->title, (size_t)fmax(4, room / TITLE_CHAR_W));
        sb_printf(sb, "<text x=\"%.1f\" y=\"20\" font-size=\"13\" font-weight=\"bold\">", x);
        svg_escape(sb, buf);
        sb_puts(sb, "</text>\n");
    }
    if (p->x.label) {
        sb_printf(sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">",
                  f->l + f->w / 2, p->h - 8);
        svg_escape(sb, p->x.label);
        sb_puts(sb, "</text>\n");
    }
    if (p->y.label) {
        double cy = f->t + f->h / 2;
        sb_printf(sb,
                  "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
                  "transform=\"rotate(-90 16 %.1f)\">",
                  cy, cy);
        svg_escape(sb, p->y.label);
        sb_puts(sb, "</text>\n");
    }
    if (p->note) {
        sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#777\">",
                  f->l + f->w / 2, f->t + f->h / 2);
        svg_escape(sb, p->note);
        sb_puts(sb, "</text>\n");
    }
}

/* One marker at (x, y) px; tip (may be NULL) becomes its tooltip. */
static void marker(struct strbuf *sb, const struct series *s, double x, double y, const char *tip)
{
    double r = s->st.size;
    switch (s->st.mark) {
    case SVG_MARK_SQUARE:
        sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x - r * 0.9,
                  y - r * 0.9, 1.8 * r, 1.8 * r);
        break;
    case SVG_MARK_TRIANGLE:
        sb_printf(sb, "<path d=\"M%.1f,%.1fL%.1f,%.1fL%.1f,%.1fZ\"", x, y - 1.15 * r, x + r,
                  y + 0.75 * r, x - r, y + 0.75 * r);
        break;
    case SVG_MARK_DIAMOND:
        sb_printf(sb, "<path d=\"M%.1f,%.1fL%.1f,%.1fL%.1f,%.1fL%.1f,%.1fZ\"", x, y - 1.2 * r,
                  x + r, y, x, y + 1.2 * r, x - r, y);
        break;
    default:
        sb_printf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", x, y, r);
    }
    if (tip) {
        sb_puts(sb, "><title>");
        svg_escape(sb, tip);
        sb_puts(sb, "</title></");
        sb_puts(sb, s->st.mark == SVG_MARK_SQUARE                                       ? "rect"
                    : s->st.mark == SVG_MARK_TRIANGLE || s->st.mark == SVG_MARK_DIAMOND ? "path"
                                                                                        : "circle");
        sb_puts(sb, ">\n");
    } else {
        sb_puts(sb, "/>\n");
    }
}

static void marker_group_open(struct strbuf *sb, const struct series *s)
{
    sb_printf(sb, "<g fill=\"%s\" stroke=\"%s\" stroke-width=\"1.2\">\n",
              s->st.hollow ? "#fff" : s->color, s->color);
}

static void stroke_attrs(struct strbuf *sb, const struct series *s)
{
    sb_printf(sb, " fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"", s->color, s->st.width);
    if (s->dash) sb_printf(sb, " stroke-dasharray=\"%s\"", s->dash);
}

static void draw_line(const struct svg_plot *p, const struct frame *f, const struct series *s,
                      struct strbuf *sb)
{
    int open = 0;
    for (size_t i = 0; i <= s->n; i++) {
        int ok = i < s->n && drawable(&p->x, s->x[i]) && drawable(&p->y, s->y[i]);
        if (ok && !open) {
            sb_puts(sb, "<polyline");
            stroke_attrs(sb, s);
            sb_puts(sb, " stroke-linejoin=\"round\" points=\"");
            open = 1;
        } else if (!ok && open) {
            sb_puts(sb, "\"/>\n");
            open = 0;
        }
        if (ok) sb_printf(sb, "%.1f,%.1f ", px_x(p, f, s->x[i]), px_y(p, f, s->y[i]));
    }
    if (s->st.mark == SVG_MARK_NONE) return;
    marker_group_open(sb, s);
    for (size_t i = 0; i < s->n; i++)
        if (drawable(&p->x, s->x[i]) && drawable(&p->y, s->y[i]))
            marker(sb, s, px_x(p, f, s->x[i]), px_y(p, f, s->y[i]), NULL);
    sb_puts(sb, "</g>\n");
}

static void draw_points(const struct svg_plot *p, const struct frame *f, const struct series *s,
                        struct strbuf *sb)
{
    marker_group_open(sb, s);
    for (size_t i = 0; i < s->n; i++)
        if (drawable(&p->x, s->x[i]) && drawable(&p->y, s->y[i]) && in_range(&p->x, s->x[i]) &&
            in_range(&p->y, s->y[i]))
            marker(sb, s, px_x(p, f, s->x[i]), px_y(p, f, s->y[i]), s->tips ? s->tips[i] : NULL);
    sb_puts(sb, "</g>\n");
}

static void draw_bars(const struct svg_plot *p, const struct frame *f, const struct series *s,
                      struct strbuf *sb)
{
    double base = p->y.lo;
    if (p->y.scale == SVG_LINEAR && p->y.lo < 0 && p->y.hi > 0) base = 0;
    double yb = px_y(p, f, base);
    double half = fabs(px_x(p, f, s->st.barw / 2) - px_x(p, f, 0));
    sb_printf(sb, "<g fill=\"%s\">\n", s->color);
    for (size_t i = 0; i < s->n; i++) {
        if (!drawable(&p->x, s->x[i]) || !drawable(&p->y, s->y[i])) continue;
        double x = px_x(p, f, s->x[i]), y = px_y(p, f, s->y[i]);
        sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x - half,
                  fmin(y, yb), 2 * half, fabs(yb - y));
        if (s->tips && s->tips[i]) {
            sb_puts(sb, "><title>");
            svg_escape(sb, s->tips[i]);
            sb_puts(sb, "</title></rect>\n");
        } else {
            sb_puts(sb, "/>\n");
        }
    }
    sb_puts(sb, "</g>\n");
}

/* Liang-Barsky: clip the segment (px) to the plot area; 0 when nothing is left. */
static int clip(const struct frame *f, double *xa, double *ya, double *xb, double *yb)
{
    double t0 = 0, t1 = 1, dx = *xb - *xa, dy = *yb - *ya;
    double pq[4][2] = {
        {-dx, *xa - f->l}, {dx, f->l + f->w - *xa}, {-dy, *ya - f->t}, {dy, f->t + f->h - *ya}};
    for (int i = 0; i < 4; i++) {
        double pp = pq[i][0], q = pq[i][1];
        if (pp == 0) {
            if (q < 0) return 0;
            continue;
        }
        double r = q / pp;
        if (pp < 0)
            t0 = fmax(t0, r);
        else
            t1 = fmin(t1, r);
    }
    if (t0 > t1) return 0;
    double x0 = *xa, y0v = *ya;
    *xa = x0 + t0 * dx;
    *ya = y0v + t0 * dy;
    *xb = x0 + t1 * dx;
    *yb = y0v + t1 * dy;
    return 1;
}

static void draw_segment(const struct svg_plot *p, const struct frame *f, const struct series *s,
                         struct strbuf *sb)
{
    for (int i = 0; i < 2; i++)
        if (!drawable(&p->x, s->x[i]) || !drawable(&p->y, s->y[i])) return;
    double xa = px_x(p, f, s->x[0]), ya = px_y(p, f, s->y[0]);
    double xb = px_x(p, f, s->x[1]), yb = px_y(p, f, s->y[1]);
    if (!clip(f, &xa, &ya, &xb, &yb)) return;
    sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", xa, ya, xb, yb);
    stroke_attrs(sb, s);
    sb_puts(sb, "/>\n");
}

static void legend_label(struct strbuf *sb, const char *s)
{
    char buf[LEGEND_MAX_CHARS + 8];
    clip_text(buf, sizeof(buf), s, LEGEND_MAX_CHARS);
    svg_escape(sb, buf);
}

static void legend_sample(struct strbuf *sb, const struct series *s, double x, double y)
{
    if (s->kind == SERIES_BARS) {
        sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"9\" fill=\"%s\"/>\n",
                  x + 3, y - 4.5, s->color);
        return;
    }
    if (s->kind == SERIES_LINE || s->kind == SERIES_SEGMENT) {
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x, y, x + 20, y);
        stroke_attrs(sb, s);
        sb_puts(sb, "/>\n");
    }
    if (s->st.mark != SVG_MARK_NONE) {
        marker_group_open(sb, s);
        marker(sb, s, x + 10, y, NULL);
        sb_puts(sb, "</g>\n");
    }
}

static void draw_legend(const struct svg_plot *p, const struct frame *f, struct strbuf *sb)
{
    size_t total = legend_count(p), rows = (size_t)(f->h / LEGEND_ROW), row = 0;
    if (total == 0) return;
    if (rows < 2) rows = 2;
    double x = f->l + f->w + 12;
    for (size_t i = 0; i < p->ns; i++) {
        const struct series *s = &p->s[i];
        if (!s->legend) continue;
        double y = f->t + 8 + LEGEND_ROW * (double)row;
        if (row + 1 == rows && total > rows) {
            sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">and %zu more</text>\n", x,
                      y + 4, total - row);
            return;
        }
        legend_sample(sb, s, x, y);
        sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\">", x + 26, y + 4);
        legend_label(sb, s->legend);
        sb_puts(sb, "</text>\n");
        row++;
    }
}

void svg_plot_render(const struct svg_plot *p, struct strbuf *sb)
{
    struct frame f;
    layout(p, &f);
    sb_printf(sb,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
              "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" "
              "role=\"img\">\n",
              p->w, p->h, p->w, p->h);
    if (p->title) {
        sb_puts(sb, "<title>");
        svg_escape(sb, p->title);
        sb_puts(sb, "</title>\n");
    }
    sb_printf(sb, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", p->w, p->h);
    draw_axes(p, &f, sb);
    for (size_t i = 0; i < p->ns; i++) {
        const struct series *s = &p->s[i];
        if (s->kind == SERIES_LINE)
            draw_line(p, &f, s, sb);
        else if (s->kind == SERIES_POINTS)
            draw_points(p, &f, s, sb);
        else if (s->kind == SERIES_BARS)
            draw_bars(p, &f, s, sb);
        else if (s->kind == SERIES_SEGMENT)
            draw_segment(p, &f, s, sb);
    }
    draw_titles(p, &f, sb);
    draw_legend(p, &f, sb);
    sb_puts(sb, "</svg>\n");
}
