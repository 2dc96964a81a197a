/* Template files: PEST++'s number formatting against recorded PEST++ output, parsing, binding
 * and filling. */
#include <cjson/cJSON.h>
#include <float.h>

#include "check.h"
#include "pest/tpl.h"
#include "util/text.h"

/* --- number formatting against the PEST++ fixture ------------------------------------------- */

static void test_fixture(void)
{
    const char *shared = check_shared_dir();
    char path[4200];
    struct pr_error err = {{0}};
    size_t len;
    char *text;
    cJSON *root, *item;
    int total = 0, ok = 0, ok_err = 0, bad = 0, dbl_min_err = 0;

    if (!shared) {
        printf("skipped: no shared fixtures\n");
        return;
    }
    snprintf(path, sizeof(path),
             "%s/pest/cases/parser_fixtures/pestpp_tpl_number_formatting/results.json", shared);
    text = pr_read_file(path, &len, &err);
    CHECK_MSG(text != NULL, "%s", err.msg);
    if (!text) return;
    root = cJSON_ParseWithLength(text, len);
    CHECK(root != NULL && cJSON_IsObject(root));
    cJSON_ArrayForEach(item, root)
    {
        char mode[16], vtext[64], out[64];
        int width, rc;
        struct tpl_opts opts = {0, 0};
        double v;

        if (sscanf(item->string, "%15[^|]|%63[^|]|%d", mode, vtext, &width) != 3) {
            /* an empty mode: "|VALUE|WIDTH" */
            mode[0] = '\0';
            if (sscanf(item->string, "|%63[^|]|%d", vtext, &width) != 2) {
                CHECK_MSG(0, "bad fixture key '%s'", item->string);
                continue;
            }
        }
        opts.force_decimal = strcmp(mode, "dec") == 0;
        opts.fill_zeros = strcmp(mode, "fill") == 0;
        v = strtod(vtext, NULL);
        CHECK(width > 0 && width < (int)sizeof(out));
        total++;
        rc = tpl_format(v, width, &opts, out);
        if (cJSON_IsString(item)) {
            CHECK_MSG(rc == 0 && strcmp(out, item->valuestring) == 0,
                      "%s: got rc %d '%s', PEST++ wrote '%s'", item->string, rc, out,
                      item->valuestring);
            if (rc == 0 && strcmp(out, item->valuestring) == 0)
                ok++;
            else
                bad++;
        } else {
            CHECK_MSG(cJSON_IsNull(item), "%s: neither a string nor null", item->string);
            CHECK_MSG(rc == -1, "%s: got '%s', PEST++ raised an error", item->string, out);
            if (rc == -1)
                ok_err++;
            else
                bad++;
            /* SPEC §2.3's pseudo-code misses 10 entries: DBL_MIN in 8 or more columns fits
             * ("2.2e-308"), but the field rounds below DBL_MIN, so PEST++'s stod of the field
             * (a denormal, ERANGE) throws out_of_range and the run fails. tpl_format re-reads
             * the field the same way, so these entries match as errors; counted separately. */
            if (rc == -1 && v == DBL_MIN && width >= 8) dbl_min_err++;
        }
    }
    printf("fixture: %d entries, %d fields reproduced, %d errors reproduced (%d of them the "
           "re-read underflow near DBL_MIN), %d mismatches\n",
           total, ok, ok_err, dbl_min_err, bad);
    CHECK(total == 1518);
    CHECK(bad == 0);
    CHECK(dbl_min_err == 10);
    cJSON_Delete(root);
    free(text);
}

/* Samples from SPEC §2.3, independent of the fixture file. */
static void test_format_samples(void)
{
    static const struct {
        int dec, fill;
        double v;
        int width;
        const char *want; /* NULL: error */
    } cases[] = {
        {0, 0, 0.0, 4, "0e+0"},
        {0, 0, 0.0, 5, " 0e+0"},
        {0, 0, 1.0, 4, "1.00"},
        {0, 0, -1.0, 3, " -1"},
        {0, 0, 3.14159265358979, 20, "3.141592653589790007"},
        {0, 0, 100.0, 4, "1e+2"},
        {0, 0, 100.0, 6, "1.0e+2"},
        {0, 0, 1234.5678, 5, NULL},
        {0, 0, 1234.5678, 6, "1.2e+3"},
        {0, 0, -2.5e-7, 6, NULL},
        {0, 0, -2.5e-7, 8, "-2.5e-07"},
        {0, 0, 0.0099999, 4, "1e-2"},
        {0, 0, 99.999, 4, "100."},
        {0, 0, -0.001, 4, NULL},
        {0, 0, -0.001, 6, " -1e-3"},
        {1, 0, 1e-5, 4, "0.00"},
        {1, 0, -2.5e-7, 4, "-0.0"},
        {1, 0, 100.0, 4, " 100"},
        {1, 0, 12345678901.0, 10, NULL},
        {1, 0, 12345678901.0, 11, "12345678901"},
        {1, 0, 12345678901.0, 12, " 12345678901"},
        {0, 0, 1e-300, 5, "1e-30"},               /* sic: PEST++ drops the exponent's last digit */
        {0, 0, 2.2250738585072014e-308, 8, NULL}, /* 2.2e-308 is a denormal: stod throws */
        {0, 0, 2.2250738585072014e-308, 24, "2.22507385850720138e-308"},
        {0, 0, 1.7976931348623157e308, 8, NULL}, /* 1.8e+308 overflows on re-reading */
        {1, 0, -9.87654321e123, 30, NULL},
        {0, 1, 100.0, 5, "01e+2"},
        {0, 1, -0.001, 6, "-01e-3"},
        {0, 1, 1.5, 6, "1.5000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tpl_opts opts = {cases[i].dec, cases[i].fill};
        char out[64];
        int rc = tpl_format(cases[i].v, cases[i].width, &opts, out);
        if (cases[i].want)
            CHECK_MSG(rc == 0 && strcmp(out, cases[i].want) == 0, "%.17g w=%d: '%s' != '%s'",
                      cases[i].v, cases[i].width, out, cases[i].want);
        else
            CHECK_MSG(rc == -1, "%.17g w=%d: '%s' should fail", cases[i].v, cases[i].width, out);
    }
}

/* Every width gives exactly width bytes or an error, for awkward values. */
static void test_format_widths(void)
{
    const double vals[] = {0.0,      -0.0,      1e308,   -1e308, DBL_MAX,  -DBL_MAX,
                           5e-324,   1e-310,    9.96e99, 0.5,    -123.456, 1e-300,
                           HUGE_VAL, -HUGE_VAL, NAN,     99.95,  -99.95};
    char *out = xmalloc(1001);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        for (int w = 1; w <= 1000; w = w < 40 ? w + 1 : w * 2 + 7)
            for (int mode = 0; mode < 4; mode++) {
                struct tpl_opts opts = {mode & 1, (mode >> 1) & 1};
                int rc;
                memset(out, 'x', 1001);
                rc = tpl_format(vals[i], w, &opts, out);
                if (rc == 0) CHECK_MSG(strlen(out) == (size_t)w, "%g w=%d: '%s'", vals[i], w, out);
            }
    free(out);
}

/* --- parsing and filling -------------------------------------------------------------------- */

static struct names *table(const char *const *list)
{
    struct names *n = names_create();
    for (; *list; list++)
        names_add(n, *list);
    return n;
}

/* Parse, bind and fill text; returns the output (malloc'd) or NULL with err set. */
static char *fill_text(const char *text, size_t len, const char *const *pnames,
                       const double *values, const struct tpl_opts *opts, double *processed,
                       unsigned char *written, struct pr_error *err)
{
    struct names *params = table(pnames);
    struct strbuf out = {0};
    struct tpl *t = tpl_parse(text, len, "par.tpl", err);
    char *res = NULL;

    if (t && tpl_bind(t, params, err) == 0 &&
        tpl_fill(t, values, opts, &out, processed, written, err) == 0)
        res = sb_take(&out);
    sb_free(&out);
    tpl_destroy(t);
    names_destroy(params);
    return res;
}

static void test_fill_basic(void)
{
    static const char *const pn[] = {"k1", "k2", "rch", NULL};
    const double vals[] = {1.0, 2.0 / 3.0, 1234.5678};
    double proc[3] = {0};
    unsigned char wr[3] = {0};
    struct pr_error err = {{0}};
    const char *text = "PTF ~\n"
                       "k1 = ~  k1   ~ and again ~k1~\n"
                       "\n"
                       "rch ~rch    ~|~ k2 ~|~Rch ~ end\n";
    char *out = fill_text(text, strlen(text), pn, vals, NULL, proc, wr, &err);

    CHECK_MSG(out != NULL, "%s", err.msg);
    if (!out) return;
    CHECK_STR(out, "k1 = 1.0000000 and again 1.00\n"
                   "\n"
                   "rch 1.235e+03|0.6667|1.2e+3 end\n");
    /* the first occurrence of RCH (9 columns) gives the processed value, not the 6-column one */
    CHECK(wr[0] && wr[1] && wr[2]);
    CHECK(proc[0] == 1.0);
    CHECK(proc[1] == 0.6667);
    CHECK(proc[2] == 1235.0);
    free(out);

    /* an already-written parameter keeps its value (first occurrence across templates wins) */
    proc[2] = 42.0;
    wr[1] = 0;
    out = fill_text(text, strlen(text), pn, vals, NULL, proc, wr, &err);
    CHECK(out && proc[2] == 42.0 && proc[1] == 0.6667);
    free(out);
}

static void test_fill_shapes(void)
{
    static const char *const pn[] = {"a", NULL};
    const double vals[] = {0.5};
    double proc[1];
    unsigned char wr[1];
    struct pr_error err = {{0}};
    const char *text;
    char *out;

    /* CRLF kept byte for byte; lines end with "\n" only as in the template */
    wr[0] = 0;
    text = "ptf #\r\nx #a    #\r\ny\r\n";
    out = fill_text(text, strlen(text), pn, vals, NULL, proc, wr, &err);
    CHECK_MSG(out != NULL, "%s", err.msg);
    if (out) CHECK_STR(out, "x 0.50000\r\ny\r\n");
    free(out);

    /* no final newline: one is added */
    wr[0] = 0;
    out = fill_text("jtf $\n$a$\nlast", 14, pn, vals, NULL, proc, wr, &err);
    CHECK(out && strcmp(out, "0.5\nlast\n") == 0);
    free(out);

    /* empty lines copied; output line count = template lines - 1 */
    wr[0] = 0;
    out = fill_text("ptf ~\n\n\n~a~\n\n", 13, pn, vals, NULL, proc, wr, &err);
    CHECK(out && strcmp(out, "\n\n0.5\n\n") == 0);
    free(out);

    /* header only, with and without newline: empty output */
    out = fill_text("ptf ~", 5, pn, vals, NULL, proc, wr, &err);
    CHECK(out && out[0] == '\0');
    free(out);
    out = fill_text("ptf ~\r\n", 7, pn, vals, NULL, proc, wr, &err);
    CHECK(out && out[0] == '\0');
    free(out);

    /* fill_zeros pads after the sign */
    {
        struct tpl_opts z = {0, 1};
        const double big[] = {100.0};
        wr[0] = 0;
        out = fill_text("ptf ~\n~ a ~\n", 12, pn, big, &z, proc, wr, &err);
        CHECK(out && strcmp(out, "01e+2\n") == 0);
        CHECK(proc[0] == 100.0);
        free(out);
    }
}

static void test_long_lines(void)
{
    static const char *const pn[] = {"p1", "p2", NULL};
    const double vals[] = {3.0, -7.25};
    double proc[2];
    unsigned char wr[2] = {0, 0};
    struct pr_error err = {{0}};
    struct strbuf tb = {0}, want = {0};
    char field[64];
    char *out;

    sb_puts(&tb, "ptf @\n");
    for (int i = 0; i < 6000; i++) { /* ~150 kB on one line, 12000 spaces */
        sb_puts(&tb, "  lit @p1      @ @ p2 @");
        sb_puts(&want, "  lit ");
        tpl_format(3.0, 10, NULL, field);
        sb_puts(&want, field);
        sb_puts(&want, " ");
        tpl_format(-7.25, 6, NULL, field);
        sb_puts(&want, field);
    }
    sb_putc(&tb, '\n');
    sb_putc(&want, '\n');
    /* a single 120000-column space */
    sb_putc(&tb, '@');
    for (int i = 0; i < 120000; i++)
        sb_putc(&tb, i == 50 ? 'p' : i == 51 ? '2' : ' ');
    sb_putc(&tb, '@');
    CHECK(tb.len > 100000);
    out = fill_text(tb.data, tb.len, pn, vals, NULL, proc, wr, &err);
    CHECK_MSG(out != NULL, "%s", err.msg);
    if (out) {
        char *second = strchr(out, '\n') + 1;
        CHECK(strncmp(out, want.data, want.len) == 0);
        CHECK(strlen(second) == 120003);
        CHECK(second[120002] == '\n');
        CHECK(strtod(second, NULL) == -7.25);
        CHECK(second[0] == '-');
        CHECK(proc[0] == 3.0 && proc[1] == -7.25);
    }
    free(out);
    sb_free(&tb);
    sb_free(&want);
}

static void test_names_and_lines(void)
{
    struct pr_error err = {{0}};
    const char *text = "ptf ~\n\n~b~ ~ A ~\n~B~ ~c~\n";
    struct tpl *t = tpl_parse(text, strlen(text), "x.tpl", &err);

    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t) return;
    CHECK(tpl_nparams(t) == 3);
    CHECK_STR(tpl_param_name(t, 0), "B");
    CHECK_STR(tpl_param_name(t, 1), "A");
    CHECK_STR(tpl_param_name(t, 2), "C");
    CHECK(tpl_param_line(t, 0) == 3);
    CHECK(tpl_param_line(t, 1) == 3);
    CHECK(tpl_param_line(t, 2) == 4);
    tpl_destroy(t);
}

static void expect_parse_error(const char *text, const char *want)
{
    struct pr_error err = {{0}};
    struct tpl *t = tpl_parse(text, strlen(text), "par.tpl", &err);
    CHECK_MSG(t == NULL, "'%s' parsed", text);
    CHECK_STR(err.msg, want);
    tpl_destroy(t);
}

static void test_errors(void)
{
    static const char *const pn[] = {"k1", "k2", NULL};
    const double vals[] = {1234.5678, 1.0}, fits[] = {100.0, 1.0};
    double proc[2] = {0, 0};
    unsigned char wr[2] = {0, 0};
    struct pr_error err = {{0}};
    const char *text;
    char *out;

    expect_parse_error("ptf ~\nok ~k1~\n~k1~ ~k2\n", "par.tpl:3: unbalanced parameter marker '~'");
    expect_parse_error("ptf ~\r\n\r\n~\r\n", "par.tpl:3: unbalanced parameter marker '~'");
    expect_parse_error("ptf ~\n~   ~\n", "par.tpl:2: empty parameter name between markers '~'");
    expect_parse_error("ptf ~\n~~\n", "par.tpl:2: empty parameter name between markers '~'");
    /* bad headers */
    expect_parse_error("", "par.tpl:1: expected 'ptf <marker>' on the first line");
    expect_parse_error("\nptf ~\n", "par.tpl:1: expected 'ptf <marker>' on the first line");
    expect_parse_error("ptf\n~k1~\n", "par.tpl:1: expected 'ptf <marker>' on the first line");
    expect_parse_error("ptf ~ x\n",
                       "par.tpl:1: expected 'ptf <marker>' on the first line, found extra "
                       "items after the marker");
    expect_parse_error("pif ~\n", "par.tpl:1: expected 'ptf <marker>' on the first line, not "
                                  "'pif'");
    expect_parse_error("ptfx ~\n", "par.tpl:1: expected 'ptf <marker>' on the first line, not "
                                   "'ptfx'");
    expect_parse_error("ptf ~~\n", "par.tpl:1: expected 'ptf <marker>' with a one-character "
                                   "marker, not '~~'");
    {
        struct tpl *t = tpl_parse(" \tJtF\t% \r\n%k1%\n", 16, "ok.tpl", &err);
        CHECK_MSG(t != NULL, "%s", err.msg);
        tpl_destroy(t);
    }

    /* unknown parameter at bind: error names file and line; the template is unaltered */
    {
        static const char *const only[] = {"k1", NULL};
        struct names *params = table(only), *all = table(pn);
        struct strbuf sb = {0};
        struct tpl *t;
        text = "ptf ~\n~k1~\n\n~k1~ ~ k2~\n";
        t = tpl_parse(text, strlen(text), "par.tpl", &err);
        CHECK(t != NULL);
        CHECK(tpl_bind(t, params, &err) == -1);
        CHECK_STR(err.msg, "par.tpl:4: parameter 'K2' is not listed in the control file");
        CHECK(tpl_fill(t, vals, NULL, &sb, proc, wr, &err) == -1); /* still unbound */
        CHECK(tpl_bind(t, all, &err) == 0);
        CHECK_MSG(tpl_fill(t, fits, NULL, &sb, proc, wr, &err) == 0, "%s", err.msg);
        CHECK_STR(sb.data, "1e+2\n\n1e+2 1.000\n");
        sb_free(&sb);
        tpl_destroy(t);
        names_destroy(params);
        names_destroy(all);
    }

    /* a value that does not fit: no output and no processed values are left behind */
    proc[0] = proc[1] = 0;
    wr[0] = wr[1] = 0;
    text = "ptf ~\n~k2~\nx\n  ~ k1~ y\n";
    out = fill_text(text, strlen(text), pn, vals, NULL, proc, wr, &err);
    CHECK(out == NULL);
    CHECK_STR(err.msg, "par.tpl:4: cannot write value 1234.5678 of parameter 'K1' in a space "
                       "of 5 characters");
    CHECK(wr[0] == 0 && wr[1] == 0);
    {
        struct names *params = table(pn);
        struct strbuf sb = {0};
        struct tpl *t = tpl_parse(text, strlen(text), "par.tpl", &err);
        sb_puts(&sb, "keep");
        CHECK(t && tpl_bind(t, params, &err) == 0);
        CHECK(tpl_fill(t, vals, NULL, &sb, proc, wr, &err) == -1);
        CHECK(sb.len == 4 && strcmp(sb.data, "keep") == 0);
        sb_free(&sb);
        tpl_destroy(t);
        names_destroy(params);
    }
    {
        wr[0] = 0;
        out = fill_text("ptf ~\n~k1~\n", 11, pn, (const double[]){-0.001, 0}, NULL, proc, wr, &err);
        CHECK(out == NULL);
        CHECK_STR(err.msg, "par.tpl:2: cannot write value -0.001 of parameter 'K1' in a space "
                           "of 4 characters");
        free(out);
    }
}

/* --- bad arguments -------------------------------------------------------------------------- */

static void test_inval(void)
{
    struct pr_error err = {{0}};
    struct strbuf sb = {0};
    double proc[1];
    unsigned char wr[1] = {0};
    const double vals[] = {1.0};
    char out[8];
    struct tpl *t;

    CHECK(tpl_parse(NULL, 0, "x.tpl", &err) == NULL);
    CHECK_STR(err.msg, "x.tpl:1: expected 'ptf <marker>' on the first line");
    CHECK(tpl_parse(NULL, 5, "x.tpl", &err) == NULL);
    CHECK(tpl_parse("", 0, NULL, &err) == NULL);
    CHECK(tpl_parse("ptf ~\n~a\n", 9, "x.tpl", NULL) == NULL); /* a NULL err is allowed */
    CHECK(tpl_parse("\0\0\0", 3, "x.tpl", &err) == NULL);
    CHECK(tpl_parse("ptf \0\n", 6, "x.tpl", &err) == NULL);
    t = tpl_parse("ptf ~\n~a\0b~\n", 11, "x.tpl", &err);
    CHECK(t == NULL);
    tpl_destroy(t);
    tpl_destroy(NULL);

    t = tpl_parse("ptf ~\n~a~\n", 10, "x.tpl", &err);
    CHECK(t != NULL);
    CHECK(tpl_bind(t, NULL, &err) == -1);
    CHECK(tpl_bind(NULL, NULL, &err) == -1);
    CHECK(tpl_fill(t, vals, NULL, &sb, proc, wr, &err) == -1); /* not bound */
    CHECK(tpl_fill(NULL, vals, NULL, &sb, proc, wr, &err) == -1);
    CHECK(tpl_fill(t, NULL, NULL, &sb, proc, wr, &err) == -1);
    CHECK(tpl_fill(t, vals, NULL, NULL, proc, wr, &err) == -1);
    CHECK(tpl_fill(t, vals, NULL, &sb, NULL, wr, &err) == -1);
    CHECK(tpl_fill(t, vals, NULL, &sb, proc, NULL, NULL) == -1);
    CHECK(tpl_nparams(NULL) == 0);
    CHECK(tpl_param_name(NULL, 0) == NULL);
    CHECK(tpl_param_name(t, 7) == NULL);
    CHECK(tpl_param_line(t, 7) == 0);
    tpl_destroy(t);

    CHECK(tpl_format(1.0, 0, NULL, out) == -1);
    CHECK(tpl_format(1.0, -3, NULL, out) == -1);
    CHECK(tpl_format(1.0, 3, NULL, NULL) == -1);
    CHECK(tpl_format(1.0, 3, NULL, out) == 0 && strcmp(out, "1.0") == 0);
    sb_free(&sb);
}

/* The SPEC §2.3 loop as written (one precision at a time, no shortcuts; "desperate measures"
 * left out, so only values that fit at a precision above 0 are compared). tpl_format skips
 * precisions that cannot fit; it must agree with this everywhere. */
static int reference_unpadded(double v, int width, char *out, size_t outsz)
{
    int prec = width, sci = 0, last_len = -1;
    if (v < 0) prec--;
    if (fabs(v) >= 100 || fabs(v) < 0.01) {
        prec -= 2;
        sci = 1;
    }
    for (;;) {
        int n = snprintf(out, outsz, sci ? "%.*e" : "%.*f", prec, v);
        if (n <= width) return n;
        prec--;
        if (prec <= 0) return -2; /* desperate measures: not compared */
        if (n == last_len) {
            if (sci) return -1;
            out[width] = '\0';
            return width;
        }
        last_len = n;
    }
}

static void test_format_differential(void)
{
    unsigned long long x = 88172645463325252ULL;
    int compared = 0, bad = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* values across many decades, many near powers of ten and runs of nines */
        double mant = (double)(x % 100000000ULL) / 1e7;
        int exp = (int)((x >> 32) % 41) - 20;
        double v = (x & 1 ? -1 : 1) * mant * pow(10.0, exp);
        if ((x >> 40) % 4 == 0) v = pow(10.0, exp) * (1 - 1e-12 * (double)((x >> 20) % 1000));
        int width = 1 + (int)((x >> 45) % 40);
        char want[512], got[64];
        int n = reference_unpadded(v, width, want, sizeof(want));
        if (n == -2) continue;
        int rc = tpl_format(v, width, &(struct tpl_opts){0, 0}, got);
        compared++;
        if (n == -1) {
            if (rc != -1) bad++;
            continue;
        }
        char padded[64];
        snprintf(padded, sizeof(padded), "%*s", width, want);
        if (rc == 0 && strcmp(padded, got) != 0) bad++;
        if (rc == -1 && strtod(padded, NULL) != 0 && isnormal(strtod(padded, NULL))) bad++;
    }
    CHECK_MSG(bad == 0, "%d of %d values differ from the plain loop", bad, compared);
    printf("differential: %d values compared with the plain SPEC loop\n", compared);
}

int main(void)
{
    test_fixture();
    test_format_samples();
    test_format_widths();
    test_format_differential();
    test_fill_basic();
    test_fill_shapes();
    test_long_lines();
    test_names_and_lines();
    test_errors();
    test_inval();
    return check_done();
}
