/* pp2grid: pilot-point multipliers to model arrays, the preprocessor of the mf6_valley case.
 *
 *   usage: pp2grid [FACTORS]        (FACTORS defaults to pp2grid.fac)
 *
 * FACTORS is written once by make_case.py. It holds, in this order:
 *
 *   grid NROW NCOL
 *   factors SET NPP          then NROW x NCOL cell lines (row 1 first, west to east), each
 *                            `N i1 w1 ... iN wN`: the 1-based pilot points of SET that inform
 *                            the cell and their ordinary-kriging weights (one or more sets)
 *   array OUTPUT PPFILE BASE SET   (one or more)
 *
 * PPFILE (written from a template for every model run) has one line per pilot point of SET,
 * `name x y zone value`, in the order the indices count. Every cell of OUTPUT receives
 *
 *     BASE * 10^(sum_k w_k log10(value_k))
 *
 * that is, the multipliers are interpolated in log space (the weights sum to one), as PLPROC and
 * pyemu's fac2real do for log-normal properties. OUTPUT is written as a MODFLOW 6 free-format
 * array, one model row a line. Every OUTPUT is removed before any is written, so a failed run
 * leaves none behind.
 *
 * Exit status 0 on success (nothing printed), 1 on bad input or an I/O error, with a message
 * naming the file and line. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 16
#define MAX_ARRAYS 64
#define MAX_NEAR 64
#define MAX_PP 100000
#define NAME_LEN 256
#define LINE_LEN 8192

#if defined(__GNUC__)
#define PP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PP_PRINTF(a, b)
#endif

struct reader {
    const char *path;
    FILE *f;
    int line;
    char buf[LINE_LEN];
};

/* The kriging factors of one pilot-point set: cell c uses the pilot points and weights at
 * positions first[c] .. first[c+1] - 1 of idx and w. */
struct factor_set {
    char name[NAME_LEN];
    int npp;
    int *first;
    int *idx;
    double *w;
};

struct array_spec {
    char out[NAME_LEN], ppfile[NAME_LEN];
    double base;
    const struct factor_set *set;
};

static void PP_PRINTF(1, 2) die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pp2grid: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory");
    return p;
}

static void reader_open(struct reader *r, const char *path)
{
    r->path = path;
    r->line = 0;
    r->f = fopen(path, "r");
    if (!r->f) die("%s: %s", path, strerror(errno));
}

/* The next line that is neither blank nor a `#` comment, or NULL at the end of the file. */
static char *reader_next(struct reader *r)
{
    while (fgets(r->buf, sizeof r->buf, r->f)) {
        r->line++;
        size_t n = strlen(r->buf);
        if (n == sizeof r->buf - 1 && r->buf[n - 1] != '\n')
            die("%s:%d: line longer than %d characters", r->path, r->line, LINE_LEN - 2);
        char *p = r->buf + strspn(r->buf, " \t\r\n");
        if (*p && *p != '#') return p;
    }
    if (ferror(r->f)) die("%s: %s", r->path, strerror(errno));
    return NULL;
}

static int blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* Reads the ncell cell lines of a `factors` block. */
static void read_factor_set(struct reader *r, struct factor_set *s, int ncell)
{
    s->first = xcalloc((size_t)ncell + 1, sizeof *s->first);
    s->idx = xcalloc((size_t)ncell * MAX_NEAR, sizeof *s->idx);
    s->w = xcalloc((size_t)ncell * MAX_NEAR, sizeof *s->w);
    int k = 0;
    for (int c = 0; c < ncell; c++) {
        char *p = reader_next(r), *end;
        if (!p) die("%s: set %s ends after %d of its %d cell lines", r->path, s->name, c, ncell);
        long n = strtol(p, &end, 10);
        if (end == p || n < 1 || n > MAX_NEAR)
            die("%s:%d: expected the number of pilot points (1..%d)", r->path, r->line, MAX_NEAR);
        s->first[c] = k;
        for (long j = 0; j < n; j++, k++) {
            p = end;
            long i = strtol(p, &end, 10);
            if (end == p || i < 1 || i > s->npp)
                die("%s:%d: pilot point %ld: expected an index 1..%d", r->path, r->line, j + 1,
                    s->npp);
            s->idx[k] = (int)i - 1;
            p = end;
            s->w[k] = strtod(p, &end);
            if (end == p) die("%s:%d: weight %ld missing", r->path, r->line, j + 1);
        }
        if (!blank(end)) die("%s:%d: text after the %ld weights", r->path, r->line, n);
    }
    s->first[ncell] = k;
}

/* Reads the npp pilot-point values of PPFILE into logv as log10; each must be a positive number. */
static void read_pilot_points(const char *path, int npp, double *logv)
{
    struct reader r;
    reader_open(&r, path);
    int n = 0;
    char *p;
    while ((p = reader_next(&r))) {
        char name[NAME_LEN], rest[2];
        double x, y, value;
        int zone;
        if (sscanf(p, "%255s %lf %lf %d %lf %1s", name, &x, &y, &zone, &value, rest) != 5)
            die("%s:%d: expected `name x y zone value`", path, r.line);
        if (!(value > 0.0) || !isfinite(value))
            die("%s:%d: pilot point %s has value %g; multipliers must be positive", path, r.line,
                name, value);
        if (n == npp) die("%s:%d: more than the %d pilot points of its set", path, r.line, npp);
        logv[n++] = log10(value);
    }
    fclose(r.f);
    if (n != npp) die("%s: %d pilot points, its factor set has %d", path, n, npp);
}

static void write_array(const struct array_spec *a, int nrow, int ncol)
{
    const struct factor_set *s = a->set;
    double *logv = xcalloc((size_t)s->npp, sizeof *logv);
    read_pilot_points(a->ppfile, s->npp, logv);
    FILE *f = fopen(a->out, "w");
    if (!f) die("%s: %s", a->out, strerror(errno));
    for (int r = 0, c = 0; r < nrow; r++) {
        for (int j = 0; j < ncol; j++, c++) {
            double e = 0.0;
            for (int k = s->first[c]; k < s->first[c + 1]; k++)
                e += s->w[k] * logv[s->idx[k]];
            fprintf(f, j ? " %.7e" : "%.7e", a->base * pow(10.0, e));
        }
        fputc('\n', f);
    }
    if (ferror(f) | fclose(f)) die("%s: write failed: %s", a->out, strerror(errno));
    free(logv);
}

int main(int argc, char **argv)
{
    static struct factor_set sets[MAX_SETS];
    static struct array_spec arrays[MAX_ARRAYS];
    int nsets = 0, narrays = 0, nrow, ncol;
    const char *path = argc > 1 ? argv[1] : "pp2grid.fac";
    char rest[2], *p;
    struct reader r;

    if (argc > 2) die("usage: pp2grid [FACTORS]");
    reader_open(&r, path);
    p = reader_next(&r);
    if (!p || sscanf(p, "grid %d %d %1s", &nrow, &ncol, rest) != 2 || nrow < 1 || ncol < 1 ||
        nrow > 10000 || ncol > 10000)
        die("%s:%d: expected `grid NROW NCOL` first", path, r.line);
    while ((p = reader_next(&r))) {
        char word[16];
        if (sscanf(p, "%15s", word) != 1) continue;
        if (!strcmp(word, "factors")) {
            if (narrays) die("%s:%d: factor sets must come before the arrays", path, r.line);
            if (nsets == MAX_SETS) die("%s:%d: more than %d factor sets", path, r.line, MAX_SETS);
            struct factor_set *s = &sets[nsets++];
            if (sscanf(p, "factors %255s %d %1s", s->name, &s->npp, rest) != 2 || s->npp < 1 ||
                s->npp > MAX_PP)
                die("%s:%d: expected `factors SET NPP`", path, r.line);
            read_factor_set(&r, s, nrow * ncol);
        } else if (!strcmp(word, "array")) {
            if (narrays == MAX_ARRAYS) die("%s:%d: more than %d arrays", path, r.line, MAX_ARRAYS);
            struct array_spec *a = &arrays[narrays++];
            char set[NAME_LEN];
            if (sscanf(p, "array %255s %255s %lf %255s %1s", a->out, a->ppfile, &a->base, set,
                       rest) != 4)
                die("%s:%d: expected `array OUTPUT PPFILE BASE SET`", path, r.line);
            if (!(a->base > 0.0) || !isfinite(a->base))
                die("%s:%d: BASE must be a positive number", path, r.line);
            for (int i = 0; i < nsets && !a->set; i++)
                if (!strcmp(sets[i].name, set)) a->set = &sets[i];
            if (!a->set) die("%s:%d: no factor set named %s above", path, r.line, set);
        } else {
            die("%s:%d: expected `factors` or `array`, not `%s`", path, r.line, word);
        }
    }
    fclose(r.f);
    if (!narrays) die("%s: no arrays", path);

    for (int i = 0; i < narrays; i++)
        if (remove(arrays[i].out) != 0 && errno != ENOENT)
            die("%s: cannot remove: %s", arrays[i].out, strerror(errno));
    for (int i = 0; i < narrays; i++)
        write_array(&arrays[i], nrow, ncol);
    return 0;
}
