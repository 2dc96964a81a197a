/* Small static charts as inline SVG: one plot area with linear or log10 axes, ticks, grid lines,
 * axis titles, polylines, markers, bars, reference segments and a legend on the right. Data are
 * kept in data space and laid out when rendered, so the margins fit the tick labels and legend.
 *
 * Every text (title, labels, legend, tooltips) is escaped for HTML and XML. Values that cannot be
 * drawn (not finite, or <= 0 on a log axis) are left out: a line is broken there. */
#ifndef PR_SVGPLOT_H
#define PR_SVGPLOT_H

#include <stddef.h>

struct strbuf;

enum svg_scale { SVG_LINEAR, SVG_LOG10 };
enum svg_mark {
    SVG_MARK_NONE,
    SVG_MARK_CIRCLE,
    SVG_MARK_SQUARE,
    SVG_MARK_TRIANGLE,
    SVG_MARK_DIAMOND
};

struct svg_axis {
    enum svg_scale scale;
    double lo, hi;     /* the range shown (log: both > 0) */
    const char *label; /* axis title, may be NULL */
    int integer;       /* ticks at whole numbers only (iterations) */
    /* When set: a category axis, ticks at 0 .. n-1 labelled with these names, range -0.5 ..
     * n-0.5 (lo and hi are ignored). */
    const char *const *categories;
    size_t ncategories;
};

struct svg_style {
    const char *color;  /* a CSS colour; NULL is black */
    double width;       /* stroke width in px; 0 is 1.5 */
    const char *dash;   /* stroke-dasharray, NULL is solid */
    enum svg_mark mark; /* a marker at each point of lines and point series */
    int hollow;         /* markers outlined, white inside */
    double size;        /* marker radius in px; 0 is 3.5 */
    double barw;        /* bar width in x data units; 0 is 0.7 */
};

struct svg_plot;

/* A chart width x height px with a title (may be NULL). Axes are copied: their strings need
 * not outlive the call. Never NULL (allocation failure aborts, as strbuf does). */
struct svg_plot *svg_plot_create(int width, int height, const char *title, const struct svg_axis *x,
                                 const struct svg_axis *y);
void svg_plot_destroy(struct svg_plot *p);

/* Series. x, y (n values), tips (n tooltips or NULL) and legend (NULL: not in the legend) are
 * copied. */
void svg_plot_line(struct svg_plot *p, const double *x, const double *y, size_t n,
                   const struct svg_style *st, const char *legend);
void svg_plot_points(struct svg_plot *p, const double *x, const double *y, size_t n,
                     const struct svg_style *st, const char *legend, const char *const *tips);
/* Bars from the bottom of the y axis (or 0 when 0 is inside a linear range) up to y. */
void svg_plot_bars(struct svg_plot *p, const double *x, const double *y, size_t n,
                   const struct svg_style *st, const char *legend, const char *const *tips);
/* A straight reference line (1:1, zero), clipped to the plot area. */
void svg_plot_segment(struct svg_plot *p, double xa, double ya, double xb, double yb,
                      const struct svg_style *st, const char *legend);
/* A legend entry with no data (to explain marker styles). */
void svg_plot_legend(struct svg_plot *p, const struct svg_style *st, const char *legend);
/* Make the plot area square (narrower), for 1:1 charts. */
void svg_plot_square(struct svg_plot *p);
/* A message drawn in the middle of the plot area ("no values above zero"). */
void svg_plot_note(struct svg_plot *p, const char *text);

/* Append the chart as one <svg> element. */
void svg_plot_render(const struct svg_plot *p, struct strbuf *out);

/* Grow [*lo, *hi] to hold the drawable values of v (log: only those > 0). Start with
 * *lo = INFINITY, *hi = -INFINITY. */
void svg_extent(double *lo, double *hi, const double *v, size_t n, enum svg_scale scale);
/* Set a->lo, a->hi from a data extent with a margin of frac of the span on each side (log: of
 * the decades). An empty extent gives 0..1 (log 1..10); a single value is widened. */
void svg_axis_fit(struct svg_axis *a, double lo, double hi, double frac);

/* Append s with & < > " ' escaped and control characters dropped (valid in HTML and XML). */
void svg_escape(struct strbuf *sb, const char *s);
/* v with %.4g, exponent without '+' and leading zeros ("1.5e-7", "2e6"). */
void svg_fmt(char *buf, size_t n, double v);

#endif
