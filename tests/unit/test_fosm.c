/* FOSM uncertainty analysis: the posterior of a linear model against its closed form
 * (J'QJ + Cp^-1)^-1 computed here by cofactors, prior standard deviations from the bounds by
 * hand, forecast variances y'Cy, PEST++'s re-weighting, the prior from .cov and .unc files,
 * file:line errors for bad ones, the files written (and read back), posterior realizations
 * converging to N(p, Cpost), byte-identical output for one seed, and pestpp-glm 5.2.23's own
 * results on a groundwater case. */
#include "check.h"

#include <float.h>

#include "algo/fosm.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

static char *tmp;

static char *at(const char *name)
{
    return pr_path_join(tmp, name);
}

static void put(const char *name, const char *text)
{
    struct pr_error err;
    char *p = at(name);
    CHECK_MSG(pr_write_file(p, text, strlen(text), &err) == 0, "%s", err.msg);
    free(p);
}

static char *get(const char *name)
{
    struct pr_error err;
    size_t len;
    char *p = at(name), *t = pr_read_file(p, &len, &err);
    free(p);
    return t;
}

static int exists(const char *name)
{
    char *t = get(name);
    free(t);
    return t != NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* a linear model of three parameters                                                         */

/* a none [0, 10], b log [0.01, 100], c none [-1, 1]; four observations, a zero-weight forecast
 * f1, one prior-information equation (ignored by FOSM). */
static const char *lin_pst = "pcf\n* control data\nrestart estimation\n3 5 1 1 3\n"
                             "1 2 single point 1\n10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n"
                             "5 0.005 4 4 0.005 4\n0 0 0\n* parameter groups\n"
                             "g relative 0.01 0.0001 switch 2.0 parabolic\n* parameter data\n"
                             "a none relative 5 0 10 g 1.0 0.0 1\n"
                             "b log factor 1 0.01 100 g 1.0 0.0 1\n"
                             "c none relative 0.1 -1 1 g 1.0 0.0 1\n"
                             "* observation groups\nobs\nfc\nprgrp\n* observation data\n"
                             "o1 1.0 2.0 obs\no2 1.0 1.0 obs\no3 1.0 0.5 obs\no4 1.0 4.0 obs\n"
                             "f1 3.0 0.0 fc\n* model command line\n./m\n* model input/output\n"
                             "in.tpl in\nout.ins out\n* prior information\n"
                             "pi1 1.0 * a = 5.0 1.0 prgrp\n";

/* numeric-space Jacobian: o1..o4, f1, pi1 */
static const double lin_J[6][3] = {{1, 0.5, 0}, {0, 1, 2},        {1, 1, 1},
                                   {0.2, 0, 1}, {0.3, -0.7, 1.5}, {100, 100, 100}};
/* residuals 0.1, -0.3, 1, 2: only o4's (w 4, |r| > 1/4) lowers its weight, to 1/2 */
static const double lin_sim[5] = {0.9, 1.3, 0.0, -1.0, 2.5};
static const double lin_sim0[5] = {0, 0, 0, 0, 2.0};
static const double lin_ctl[3] = {5.5, 1.0, 0.1};

struct lin {
    struct pst_case *c;
    struct parspace ps;
    struct jacobian jac;
    char *path;
};

static int lin_open(struct lin *l, const char *extra)
{
    struct pr_error err;
    struct strbuf sb = {0};
    sb_printf(&sb, "%s%s", lin_pst, extra ? extra : "");
    l->path = at("lin.pst");
    l->c = pst_parse(sb.data, sb.len, l->path, tmp, &err);
    sb_free(&sb);
    CHECK_MSG(l->c != NULL, "%s", err.msg);
    if (!l->c) return -1;
    parspace_init(&l->ps, l->c);
    jacobian_init(&l->jac, &l->ps);
    for (size_t r = 0; r < 6; r++)
        for (size_t k = 0; k < 3; k++)
            l->jac.J[r * 3 + k] = lin_J[r][k];
    for (size_t k = 0; k < 3; k++)
        l->jac.ok[k] = 1;
    return 0;
}

static void lin_close(struct lin *l)
{
    jacobian_free(&l->jac);
    parspace_free(&l->ps);
    pst_destroy(l->c);
    free(l->path);
}

/* Inverse of the n x n (n <= 3) a by cofactors. */
static void inverse(const double *a, size_t n, double *out)
{
    if (n == 1) {
        out[0] = 1 / a[0];
        return;
    }
    if (n == 2) {
        double d = a[0] * a[3] - a[1] * a[2];
        out[0] = a[3] / d, out[1] = -a[1] / d, out[2] = -a[2] / d, out[3] = a[0] / d;
        return;
    }
    double d = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
               a[2] * (a[3] * a[7] - a[4] * a[6]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            out[i * 3 + j] =
                (a[r0 * 3 + c0] * a[r1 * 3 + c1] - a[r0 * 3 + c1] * a[r1 * 3 + c0]) / d;
        }
}

/* Cpost = (J'QJ + Cp^-1)^-1 over the columns cols (n of them), o1..o4 with weights w. */
static void closed_form(const double *Cp, const size_t *cols, size_t n, const double *w,
                        double *post)
{
    double A[9], Ci[9];
    inverse(Cp, n, Ci);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            A[i * n + j] = Ci[i * n + j];
            for (size_t r = 0; r < 4; r++)
                A[i * n + j] += w[r] * w[r] * lin_J[r][cols[i]] * lin_J[r][cols[j]];
        }
    inverse(A, n, post);
}

static double yCy(const double *y, const double *C, size_t n)
{
    double v = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            v += y[i] * C[i * n + j] * y[j];
    return v;
}

static void check_post(const struct fosm *f, const double *want, size_t n, double tol)
{
    CHECK(fosm_nparams(f) == n);
    for (size_t i = 0; i < n && i < fosm_nparams(f); i++)
        for (size_t j = 0; j < n && j < fosm_nparams(f); j++)
            CHECK_NEAR(fosm_post_cov(f, i, j), want[i * n + j], tol);
}

static const double lin_w[4] = {2, 1, 0.5, 0.5}; /* after re-weighting */

static void test_closed_form(void)
{
    struct lin l;
    struct pr_error err;
    if (lin_open(&l, NULL) < 0) return;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (!f) goto done;
    CHECK(fosm_enabled(f));
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, lin_sim0};
    CHECK_MSG(fosm_compute(f, &in, &err) == 0, "%s", err.msg);
    /* prior standard deviations by hand: (10 - 0)/4, (log10 100 - log10 0.01)/4, (1 - -1)/4 */
    double Cp[9] = {6.25, 0, 0, 0, 1, 0, 0, 0, 0.25}, post[9];
    size_t cols[3] = {0, 1, 2};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            CHECK_NEAR(fosm_prior_cov(f, i, j), Cp[i * 3 + j], 1e-15);
    /* the re-weighting: o4's residual 2 is larger than 1/4, so its weight becomes 1/2 */
    CHECK_NEAR(fosm_weight(f, 0), 2.0, 0);
    CHECK_NEAR(fosm_weight(f, 3), 0.5, 1e-15);
    CHECK_NEAR(fosm_weight(f, 4), 0.0, 0);
    closed_form(Cp, cols, 3, lin_w, post);
    check_post(f, post, 3, 1e-12);
    struct fosm_summary s;
    fosm_param(f, 1, &s);
    CHECK_STR(s.name, "B");
    CHECK_NEAR(s.prior_mean, 0.0, 0);
    CHECK_NEAR(s.prior_sd, 1.0, 1e-15);
    CHECK_NEAR(s.post_mean, 0.0, 0);
    CHECK_NEAR(s.post_sd, sqrt(post[4]), 1e-12);
    fosm_param(f, 0, &s);
    CHECK_NEAR(s.prior_mean, 5.0, 0);
    CHECK_NEAR(s.post_mean, 5.5, 0);
    /* the zero-weight observation is the forecast: y'Cy, prior mean from the initial run */
    CHECK(fosm_nforecasts(f) == 1);
    fosm_forecast(f, 0, &s);
    CHECK_STR(s.name, "F1");
    CHECK_NEAR(s.prior_sd * s.prior_sd, yCy(lin_J[4], Cp, 3), 1e-12);
    CHECK_NEAR(s.prior_sd * s.prior_sd, 0.09 * 6.25 + 0.49 + 2.25 * 0.25, 1e-12);
    CHECK_NEAR(s.post_sd * s.post_sd, yCy(lin_J[4], post, 3), 1e-12);
    CHECK_NEAR(s.prior_mean, 2.0, 0);
    CHECK_NEAR(s.post_mean, 2.5, 0);
    CHECK(s.post_sd < s.prior_sd);

    /* a failed column is left out: the posterior of a and c alone */
    l.jac.ok[1] = 0;
    CHECK_MSG(fosm_compute(f, &in, &err) == 0, "%s", err.msg);
    double Cp2[4] = {6.25, 0, 0, 0.25}, post2[4];
    size_t cols2[2] = {0, 2};
    closed_form(Cp2, cols2, 2, lin_w, post2);
    check_post(f, post2, 2, 1e-12);
    CHECK(fosm_param_numeric(f, 1) == 2);
    l.jac.ok[1] = 1;
    /* every column failed: an error, not a crash */
    for (size_t k = 0; k < 3; k++)
        l.jac.ok[k] = 0;
    CHECK(fosm_compute(f, &in, &err) < 0);
    CHECK_MSG(strstr(err.msg, "no parameter has a derivative") != NULL, "%s", err.msg);
    CHECK(fosm_draw(f, 3, &err) == NULL);
done:
    fosm_destroy(f);
    lin_close(&l);
}

/* A forecast with a weight: PEST++ takes its row out of J, so it does not condition. */
static void test_weighted_forecast(void)
{
    struct lin l;
    struct pr_error err;
    if (lin_open(&l, "++forecasts(o2, f1)\n++par_sigma_range(8)\n") < 0) return;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (!f) goto done;
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, NULL};
    CHECK_MSG(fosm_compute(f, &in, &err) == 0, "%s", err.msg);
    double Cp[9] = {6.25 / 4, 0, 0, 0, 0.25, 0, 0, 0, 0.25 / 4}, post[9];
    double w[4] = {2, 0, 0.5, 0.5};
    size_t cols[3] = {0, 1, 2};
    for (size_t i = 0; i < 3; i++)
        CHECK_NEAR(fosm_prior_cov(f, i, i), Cp[i * 4], 1e-15);
    closed_form(Cp, cols, 3, w, post);
    check_post(f, post, 3, 1e-12);
    CHECK(fosm_nforecasts(f) == 2);
    struct fosm_summary s;
    fosm_forecast(f, 0, &s); /* F1 before O2: upper-case name order */
    CHECK_STR(s.name, "F1");
    CHECK_NEAR(s.prior_mean, 2.5, 0); /* no initial run: the current value */
    fosm_forecast(f, 1, &s);
    CHECK_STR(s.name, "O2");
    CHECK_NEAR(s.post_sd * s.post_sd, yCy(lin_J[1], post, 3), 1e-12);
    struct strbuf rec = {0};
    CHECK_MSG(fosm_write(f, &in, -1, &rec, &err) == 0, "%s", err.msg);
    CHECK_MSG(strstr(rec.data, "WARNING: forecast o2 has a non-zero weight") != NULL, "%s",
              rec.data);
    sb_free(&rec);
done:
    fosm_destroy(f);
    lin_close(&l);
}

/* ++forecasts from a file, ++glm_iter_mc, a CSV prior, bad arguments. */
static void test_options(void)
{
    struct lin l;
    struct pr_error err;
    put("fc.txt", "o3\nf1\n");
    put("prior.csv", "name,c,b,a\na,0,0,1\nb,0,2,0\nc,3,0,0\n");
    if (lin_open(&l, "++forecasts(fc.txt)\n++glm_num_reals(4)\n++glm_iter_mc(true)\n"
                     "++parcov(prior.csv)\n") < 0)
        return;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, NULL};
    if (f) {
        CHECK(fosm_num_reals(f, 2) == 4 && fosm_num_reals(f, -1) == 4);
        CHECK(fosm_compute(f, &in, &err) == 0);
        CHECK(fosm_nforecasts(f) == 2);
        struct fosm_summary s;
        fosm_forecast(f, 1, &s);
        CHECK_STR(s.name, "O3");
        CHECK(fosm_prior_cov(f, 0, 0) == 1 && fosm_prior_cov(f, 1, 1) == 2 &&
              fosm_prior_cov(f, 2, 2) == 3 && fosm_prior_cov(f, 0, 2) == 0);
        CHECK(fosm_write(f, &in, 0, NULL, &err) < 0);
        CHECK_MSG(strstr(err.msg, "iteration 0: expected 1 or more, or -1") != NULL, "%s", err.msg);
        CHECK(fosm_write(f, &in, -2, NULL, &err) < 0);
        struct fosm_input none = {NULL, lin_ctl, lin_sim, NULL};
        CHECK(fosm_compute(f, &none, &err) < 0);
    }
    fosm_destroy(f);
    lin_close(&l);
    put("fc_bad.txt", "o3\nzz\n");
    if (lin_open(&l, "++forecasts(fc_bad.txt)\n") < 0) return;
    f = fosm_create(&l.ps, l.path, &err);
    CHECK(f == NULL);
    CHECK_MSG(strstr(err.msg, "fc_bad.txt: 'zz' is not an observation of") != NULL, "%s", err.msg);
    fosm_destroy(f);
    lin_close(&l);
    fosm_destroy(NULL);
    fosm_matrix_destroy(NULL);
}

/* Parse a usum CSV into rows of 8 numbers; returns the row count, names into names. */
static size_t read_usum(const char *text, char names[][32], double v[][8], size_t max)
{
    size_t n = 0;
    const char *p = strchr(text, '\n');
    CHECK(strncmp(text,
                  "name,prior_mean,prior_stdev,prior_lower_bound,prior_upper_bound,post_mean,"
                  "post_stdev,post_lower_bound,post_upper_bound\n",
                  strlen("name,prior_mean,prior_stdev,prior_lower_bound,prior_upper_bound,"
                         "post_mean,post_stdev,post_lower_bound,post_upper_bound\n")) == 0);
    while (p && p[1] && n < max) {
        p++;
        int got = sscanf(p, "%31[^,],%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", names[n], &v[n][0], &v[n][1],
                         &v[n][2], &v[n][3], &v[n][4], &v[n][5], &v[n][6], &v[n][7]);
        CHECK(got == 9);
        n++;
        p = strchr(p, '\n');
    }
    return n;
}

static void test_files(void)
{
    struct lin l;
    struct pr_error err;
    if (lin_open(&l, NULL) < 0) return;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (!f) goto done;
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, lin_sim0};
    struct strbuf rec = {0};
    char *old = at("lin.par.usum.csv");
    remove(old);
    free(old);
    CHECK_MSG(fosm_write(f, &in, 3, &rec, &err) == 0, "%s", err.msg);
    /* PEST++'s numbering: the usum files and the re-weighted residuals take N-1 */
    CHECK(exists("lin.2.par.usum.csv") && exists("lin.2.pred.usum.csv") &&
          exists("lin.3.post.cov") && exists("lin.2.fosm_reweight.rei"));
    CHECK(!exists("lin.par.usum.csv"));
    CHECK_MSG(fosm_write(f, &in, -1, &rec, &err) == 0, "%s", err.msg);
    CHECK(exists("lin.par.usum.csv") && exists("lin.pred.usum.csv") && exists("lin.post.cov") &&
          exists("lin.fosm_reweight.rei"));
    CHECK(strstr(rec.data, "posterior parameter covariance matrix written to file") != NULL);
    CHECK(strstr(rec.data, "current forecast uncertainty summary") != NULL);
    CHECK(strstr(rec.data, "1 weight lowered to 1/|residual|") != NULL);
    sb_free(&rec);

    char *text = get("lin.par.usum.csv"), names[8][32];
    double v[8][8];
    CHECK(text && read_usum(text, names, v, 8) == 3);
    CHECK_STR(names[0], "a");
    CHECK_STR(names[2], "c");
    struct fosm_summary s;
    for (size_t k = 0; k < 3 && text; k++) {
        fosm_param(f, k, &s);
        double want[8] = {
            s.prior_mean, s.prior_sd, s.prior_mean - 2 * s.prior_sd, s.prior_mean + 2 * s.prior_sd,
            s.post_mean,  s.post_sd,  s.post_mean - 2 * s.post_sd,   s.post_mean + 2 * s.post_sd};
        for (int j = 0; j < 8; j++)
            CHECK_NEAR(v[k][j], want[j], 1e-5 * fabs(want[j]) + 1e-12);
    }
    CHECK(text && strstr(text, "\na,5,2.5,0,10,5.5,") != NULL);
    free(text);
    text = get("lin.pred.usum.csv");
    CHECK(text && read_usum(text, names, v, 8) == 1);
    CHECK(text && strncmp(strchr(text, '\n') + 1, "f1,2,", 5) == 0);
    free(text);

    /* the posterior covariance file, read back */
    char *path = at("lin.post.cov");
    struct fosm_matrix *m = fosm_matrix_load(path, tmp, l.c, &err);
    free(path);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(fosm_matrix_nrows(m) == 3 && fosm_matrix_ncols(m) == 3);
        CHECK_STR(fosm_matrix_rowname(m, 1), "B");
        CHECK_STR(fosm_matrix_colname(m, 2), "C");
        for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 3; j++)
                CHECK_NEAR(fosm_matrix_get(m, i, j), fosm_post_cov(f, i, j),
                           1e-5 * fabs(fosm_post_cov(f, i, j)));
        fosm_matrix_destroy(m);
    }
    text = get("lin.post.cov");
    CHECK(text && strncmp(text, "     3     3     1\n", 19) == 0);
    CHECK(text && strstr(text, "\n* row and column names\na\nb\nc\n") != NULL);
    free(text);
    text = get("lin.fosm_reweight.rei");
    CHECK(text && strstr(text, "                 Name        Group             Measured") == text);
    const char *o4 = text ? strstr(text, "\n                   o4          obs ") : NULL;
    double meas, mod, res, w;
    CHECK(o4 && sscanf(o4 + 36, "%lf %lf %lf %lf", &meas, &mod, &res, &w) == 4 && meas == 1 &&
          mod == -1 && res == 2 && w == 0.5);
    CHECK(o4 && strncmp(o4 + 36, "             1.00000", 20) == 0);
    free(text);

    /* off: nothing written, no error */
    fosm_destroy(f);
    f = NULL;
    lin_close(&l);
    if (lin_open(&l, "++uncertainty(false)\n") < 0) return;
    f = fosm_create(&l.ps, l.path, &err);
    CHECK(f && !fosm_enabled(f) && fosm_num_reals(f, -1) == 0);
    struct fosm_input in2 = {&l.jac, lin_ctl, lin_sim, NULL};
    CHECK(f && fosm_write(f, &in2, 2, NULL, &err) == 0);
    CHECK(!exists("lin.2.post.cov"));
done:
    fosm_destroy(f);
    lin_close(&l);
}

/* ------------------------------------------------------------------------------------------ */
/* priors from files, and bad files                                                           */

static void test_parcov_files(void)
{
    struct lin l;
    struct pr_error err;
    /* in another order, with an entry for a name that is not a parameter */
    put("prior.cov", "4 4 1\n"
                     "0.5 0.1 0 0\n0.1 4.0 0 0\n0 0 2.0 0\n0 0 0 9\n"
                     "* row and column names\nc\na\nb\nzz\n");
    if (lin_open(&l, "++parcov(prior.cov)\n") < 0) return;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, lin_sim0};
    if (f) {
        CHECK_MSG(fosm_compute(f, &in, &err) == 0, "%s", err.msg);
        double Cp[9] = {4.0, 0, 0.1, 0, 2.0, 0, 0.1, 0, 0.5}, post[9];
        size_t cols[3] = {0, 1, 2};
        for (size_t i = 0; i < 9; i++)
            CHECK_NEAR(fosm_prior_cov(f, i / 3, i % 3), Cp[i], 0);
        closed_form(Cp, cols, 3, lin_w, post);
        check_post(f, post, 3, 1e-12);
        struct strbuf rec = {0};
        CHECK(fosm_write(f, &in, -1, &rec, &err) == 0);
        CHECK_MSG(strstr(rec.data, "from ++parcov: prior.cov (1 entry for names") != NULL, "%s",
                  rec.data);
        sb_free(&rec);
    }
    fosm_destroy(f);
    lin_close(&l);

    /* an uncertainty file: standard deviations (STD_MULTIPLIER applies to those after it) and a
     * matrix block (ICODE 2, columns in another order) with a variance multiplier */
    put("prior.unc", "# prior\nSTART STANDARD_DEVIATION\n  zz 7\n  std_multiplier 2.0\n"
                     "  a 1.5\nEND STANDARD_DEVIATION\n\nstart covariance_matrix\n"
                     "  file sub.mat\n  variance_multiplier 3\nend covariance_matrix\n");
    put("sub.mat", "2 2 2\n0.2 0.5\n1.0 0.2\n* row names\nc\nb\n* column names\nb\nc\n");
    if (lin_open(&l, "++parcov(prior.unc)\n") < 0) return;
    f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (f) {
        CHECK_MSG(fosm_compute(f, &in, &err) == 0, "%s", err.msg);
        /* a: (1.5 x 2)^2; b and c: 3 x the block, matched by name (rows c, b; columns b, c) */
        double Cp[9] = {9, 0, 0, 0, 3.0, 0.6, 0, 0.6, 1.5}, post[9];
        size_t cols[3] = {0, 1, 2};
        for (size_t i = 0; i < 9; i++)
            CHECK_NEAR(fosm_prior_cov(f, i / 3, i % 3), Cp[i], 1e-12);
        closed_form(Cp, cols, 3, lin_w, post);
        check_post(f, post, 3, 1e-12);
    }
    fosm_destroy(f);
    lin_close(&l);
}

/* One bad file: loading it fails with a message holding want. */
static void bad_matrix(const char *name, const char *text, const char *want)
{
    struct pr_error err = {{0}};
    put(name, text);
    char *path = at(name);
    struct fosm_matrix *m = fosm_matrix_load(path, tmp, NULL, &err);
    CHECK_MSG(m == NULL, "%s loaded", name);
    CHECK_MSG(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
    fosm_matrix_destroy(m);
    free(path);
}

static void test_bad_files(void)
{
    bad_matrix("b1.cov", "x 2 1\n",
               "b1.cov:1: NROW (first of 'NROW NCOL ICODE'): expected an "
               "integer, got 'x'");
    bad_matrix("b2.cov", "2 2 1\n1 0\n0 x\n* row and column names\na\nb\n",
               "b2.cov:3: matrix value 4 of 4: expected a number, got 'x'");
    bad_matrix("b3.cov", "2 2 1\n1 0\n0 1\na\nb\n",
               "b3.cov:4: expected '* row and column names', got 'a'");
    bad_matrix("b4.cov", "2 2 1\n1 0\n0 1\n* row and column names\na\nA\n",
               "b4.cov:6: 'A' is listed twice in the row and column names");
    bad_matrix("b5.cov", "2 2 1\n1 0\n0 1\n* row and column names\na\n",
               "b5.cov:5: end of file after 1 of the 2 row and column names");
    bad_matrix("b6.cov", "2 3 1\n", "b6.cov:1: NROW NCOL ICODE 2 3 1");
    bad_matrix("b7.cov", "2 2 1\n1 0\n", "b7.cov:2: end of file after 2 of the 4 matrix values");
    bad_matrix("b8.mat", "1 2 2\n1 2\n* row names\nr\n* column names\nx\n",
               "b8.mat:6: end of file after 1 of the 2 column names");
    bad_matrix("u1.unc", "START STANDARD_DEVIATION\na 1\nb\nEND STANDARD_DEVIATION\n",
               "u1.unc:3: expected 'NAME STDEV' (a standard deviation above 0), got 'b'");
    bad_matrix("u2.unc", "START STANDARD_DEVIATION\na -1\nEND STANDARD_DEVIATION\n",
               "u2.unc:2: expected 'NAME STDEV'");
    bad_matrix("u3.unc", "\n# x\nSTART STANDARD_DEVIATION\na 1\n",
               "end of file inside the STANDARD_DEVIATION block of line 3");
    bad_matrix("u4.unc", "START STANDARD_DEVIATIONS\n",
               "u4.unc:1: expected 'START "
               "STANDARD_DEVIATION' or 'START "
               "COVARIANCE_MATRIX', got");
    bad_matrix("u5.unc",
               "START STANDARD_DEVIATION\na 1\nEND STANDARD_DEVIATION\n"
               "START STANDARD_DEVIATION\nA 2\nEND STANDARD_DEVIATION\n",
               "u5.unc:5: 'A' is given more than once");
    bad_matrix("u6.unc", "START COVARIANCE_MATRIX\n file nothere.mat\nEND COVARIANCE_MATRIX\n",
               "u6.unc:2: FILE: ");
    bad_matrix("u7.unc", "START COVARIANCE_MATRIX\n file b2.cov\nEND COVARIANCE_MATRIX\n",
               "u7.unc:2: FILE: ");
    bad_matrix("u8.unc", "START COVARIANCE_MATRIX\n file b2.cov\nEND COVARIANCE_MATRIX\n",
               "b2.cov:3: matrix value 4 of 4");
    bad_matrix("u9.unc", "START COVARIANCE_MATRIX\n files x.mat\nEND COVARIANCE_MATRIX\n",
               "u9.unc:2: expected FILE NAME, VARIANCE_MULTIPLIER F");
    bad_matrix("u10.unc", "# nothing\n", "u10.unc: no standard deviation and no covariance");
    bad_matrix("j1.jcb", "abc", "j1.jcb: 3 bytes: too short for a binary matrix header");

    /* the case's side: a parameter missing, a matrix that is no covariance, a bad forecast */
    struct {
        const char *file, *text, *extra, *want;
    } cases[] = {
        {"m1.cov", "2 2 1\n1 0\n0 1\n* row and column names\na\nb\n", "++parcov(m1.cov)\n",
         "1 adjustable parameter is not in the prior covariance matrix: c"},
        {"m2.cov", "3 3 1\n1 2 0\n2 1 0\n0 0 1\n* row and column names\na\nb\nc\n",
         "++parcov(m2.cov)\n", "is not positive definite (it fails at b)"},
        {"m3.cov", "3 3 1\n1 0.5 0\n0 1 0\n0 0 1\n* row and column names\na\nb\nc\n",
         "++parcov(m3.cov)\n", "not symmetric: (a, b) is 0.5 but (b, a) is 0"},
        {"m4.cov", "3 3 -1\n1 0 2\n* row and column names\na\nb\nc\n", "++parcov(m4.cov)\n",
         "the prior variance of b is 0: expected a value above 0"},
        {"m5.cov", "", "++parcov(nothere.cov)\n", "lin.pst:34: ++parcov: "},
        {"m6.cov", "", "++forecasts(o1,nope)\n",
         "lin.pst:34: ++forecasts: 'nope' is not an observation"},
        {"m7.cov", "", "++par_sigma_range(0)\n",
         "lin.pst:34: ++par_sigma_range: expected a "
         "number above 0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lin l;
        struct pr_error err = {{0}};
        put(cases[i].file, cases[i].text);
        if (lin_open(&l, cases[i].extra) < 0) continue;
        struct fosm *f = fosm_create(&l.ps, l.path, &err);
        CHECK_MSG(f == NULL, "%s accepted", cases[i].extra);
        CHECK_MSG(strstr(err.msg, cases[i].want) != NULL, "'%s' lacks '%s'", err.msg,
                  cases[i].want);
        fosm_destroy(f);
        lin_close(&l);
    }
    /* a diagonal (ICODE -1) matrix is fine */
    struct lin l;
    struct pr_error err;
    put("d.cov", "3 3 -1\n1 2 3\n* row and column names\na\nb\nc\n");
    if (lin_open(&l, "++parcov(d.cov)\n") == 0) {
        struct fosm *f = fosm_create(&l.ps, l.path, &err);
        CHECK_MSG(f != NULL, "%s", err.msg);
        struct fosm_input in = {&l.jac, lin_ctl, lin_sim, NULL};
        CHECK(f && fosm_compute(f, &in, &err) == 0);
        CHECK(f && fosm_prior_cov(f, 2, 2) == 3.0 && fosm_prior_cov(f, 0, 2) == 0.0);
        fosm_destroy(f);
        lin_close(&l);
    }
}

/* The binary Jacobian as pestrun writes it, read back. */
static void test_binary(void)
{
    struct lin l;
    struct pr_error err;
    if (lin_open(&l, NULL) < 0) return;
    l.jac.ok[1] = 0;
    char *path = at("lin.jcb");
    CHECK_MSG(jacobian_write_jcb(&l.jac, &l.ps, path, &err) == 0, "%s", err.msg);
    struct fosm_matrix *m = fosm_matrix_load(path, tmp, NULL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(fosm_matrix_nrows(m) == 6 && fosm_matrix_ncols(m) == 2);
        CHECK_STR(fosm_matrix_rowname(m, 5), "PI1");
        CHECK_STR(fosm_matrix_colname(m, 1), "C");
        CHECK(fosm_matrix_get(m, 4, 1) == 1.5 && fosm_matrix_get(m, 3, 0) == 0.2);
        CHECK(fosm_matrix_get(m, 0, 1) == 0.0);
    }
    fosm_matrix_destroy(m);
    free(path);
    lin_close(&l);
}

/* ------------------------------------------------------------------------------------------ */
/* posterior realizations                                                                     */

static void lin_model(const double *ctl, double *sim)
{
    double x[3] = {ctl[0], log10(ctl[1]), ctl[2]};
    for (size_t r = 0; r < 5; r++)
        sim[r] = lin_J[r][0] * x[0] + lin_J[r][1] * x[1] + lin_J[r][2] * x[2];
}

static void test_realizations(void)
{
    struct lin l;
    struct pr_error err;
    if (lin_open(&l, "++glm_num_reals(20000)\n") < 0) return;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (!f) goto done;
    CHECK(fosm_num_reals(f, -1) == 20000 && fosm_num_reals(f, 2) == 0);
    CHECK(fosm_draw(f, 10, &err) == NULL); /* no analysis yet */
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, lin_sim0};
    CHECK_MSG(fosm_compute(f, &in, &err) == 0, "%s", err.msg);
    size_t N = 20000;
    double *reals = fosm_draw(f, N, &err);
    CHECK_MSG(reals != NULL, "%s", err.msg);
    if (!reals) goto done;
    double mean[3] = {0}, cov[9] = {0}, mu[3] = {5.5, 0.0, 0.1};
    for (size_t r = 0; r < N; r++) {
        double x[3] = {reals[r * 3], log10(reals[r * 3 + 1]), reals[r * 3 + 2]};
        for (int i = 0; i < 3; i++)
            mean[i] += x[i] / (double)N;
    }
    for (size_t r = 0; r < N; r++) {
        double x[3] = {reals[r * 3], log10(reals[r * 3 + 1]), reals[r * 3 + 2]};
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                cov[i * 3 + j] += (x[i] - mean[i]) * (x[j] - mean[j]) / (double)(N - 1);
    }
    /* the standard error of a mean is sd/sqrt(N) = 0.007 sd; of a covariance about 0.01 */
    for (int i = 0; i < 3; i++) {
        double sd = sqrt(fosm_post_cov(f, (size_t)i, (size_t)i));
        CHECK_MSG(fabs(mean[i] - mu[i]) < 0.04 * sd, "mean %d: %g vs %g", i, mean[i], mu[i]);
        for (int j = 0; j < 3; j++) {
            double s = sqrt(fosm_post_cov(f, (size_t)i, (size_t)i) *
                            fosm_post_cov(f, (size_t)j, (size_t)j));
            CHECK_MSG(fabs(cov[i * 3 + j] - fosm_post_cov(f, (size_t)i, (size_t)j)) < 0.05 * s,
                      "cov %d %d: %g vs %g", i, j, cov[i * 3 + j],
                      fosm_post_cov(f, (size_t)i, (size_t)j));
        }
    }
    free(reals);

    /* near a bound: clamped to it, never beyond */
    double near[3] = {5.5, 1.0, 0.97};
    struct fosm_input in2 = {&l.jac, near, lin_sim, NULL};
    CHECK(fosm_compute(f, &in2, &err) == 0);
    reals = fosm_draw(f, 2000, &err);
    size_t at_bound = 0, beyond = 0;
    for (size_t r = 0; reals && r < 2000; r++) {
        at_bound += reals[r * 3 + 2] == 1.0;
        beyond += reals[r * 3 + 2] > 1.0;
    }
    CHECK(at_bound > 100 && beyond == 0);
    free(reals);
done:
    fosm_destroy(f);
    lin_close(&l);
}

/* Draw, "run" the linear model (every fourth run failing) and write both ensembles. */
static char *ensembles(const char *extra, const char *prefix)
{
    struct lin l;
    struct pr_error err;
    struct strbuf out = {0}, rec = {0};
    char name[64];
    if (lin_open(&l, extra) < 0) return NULL;
    struct fosm *f = fosm_create(&l.ps, l.path, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    struct fosm_input in = {&l.jac, lin_ctl, lin_sim, lin_sim0};
    CHECK(f && fosm_write(f, &in, -1, NULL, &err) == 0);
    size_t n = f ? fosm_num_reals(f, -1) : 0;
    double *reals = f ? fosm_draw(f, n, &err) : NULL;
    double *sim = xcalloc(n * 5 + 1, sizeof(double));
    unsigned char *ok = xcalloc(n + 1, 1);
    for (size_t r = 0; r < n; r++) {
        lin_model(reals + r * 3, sim + r * 5);
        ok[r] = r % 4 != 3;
    }
    CHECK(f && reals && fosm_write_reals(f, 2, reals, sim, ok, n, &rec, &err) == 0);
    CHECK(rec.data && strstr(rec.data, "run failed") != NULL);
    CHECK(rec.data && strstr(rec.data, "% of starting phi)") != NULL);
    const char *files[] = {"lin.2.post.paren.csv", "lin.2.post.obsen.csv"};
    for (int i = 0; i < 2; i++) {
        char *t = get(files[i]);
        sb_puts(&out, t ? t : "");
        snprintf(name, sizeof(name), "%s.%d.csv", prefix, i);
        put(name, t ? t : "");
        free(t);
    }
    free(reals);
    free(sim);
    free(ok);
    sb_free(&rec);
    fosm_destroy(f);
    lin_close(&l);
    return sb_take(&out);
}

static void test_ensembles(void)
{
    char *a = ensembles("++glm_num_reals(8)\n", "a");
    char *b = ensembles("++glm_num_reals(8)\n", "b");
    char *c = ensembles("++glm_num_reals(8)\n++random_seed(7)\n", "c");
    CHECK(a && b && strcmp(a, b) == 0); /* the same seed: byte-identical */
    CHECK(a && c && strcmp(a, c) != 0);
    char *par = get("a.0.csv"), *obs = get("a.1.csv");
    CHECK(par && strncmp(par, "real_name,a,b,c\n0,", 18) == 0);
    CHECK(obs && strncmp(obs, "real_name,o1,o2,o3,o4,f1\n0,", 27) == 0);
    size_t lp = 0, lo = 0;
    for (char *p = par; p && *p; p++)
        lp += *p == '\n';
    for (char *p = obs; p && *p; p++)
        lo += *p == '\n';
    CHECK(lp == 9 && lo == 7); /* realizations 3 and 7 failed: not in the observations */
    CHECK(obs && strstr(obs, "\n3,") == NULL && strstr(obs, "\n4,") != NULL);
    /* 20 significant digits, as PEST++'s ensemble_output_precision */
    char *row = par ? strchr(par, '\n') + 1 : NULL, *comma = row ? strchr(row + 2, ',') : NULL;
    CHECK(row && comma && comma - row - 2 >= 20);
    free(par);
    free(obs);
    free(a);
    free(b);
    free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* pestpp-glm 5.2.23 (run 2026-12-03) on the groundwater example with h10 and q_east at weight
 * 0, ++forecasts(q_east,h12,h10), NOPTMAX 1: its Jacobian (gwflow.jcb at PARVAL1), the simulated
 * values at PARVAL1 and at its best parameters, and the numbers of its par.usum.csv and
 * pred.usum.csv files, for the prior from the bounds, from a .cov file and from a .unc file. */

static const char *gw_pst =
    "pcf\n* control data\nrestart estimation\n5 14 2 0 2\n1 2 single point 1 0 0\n"
    "10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n1 0.005 4 4 0.005 4\n0 0 0\n"
    "* singular value decomposition\n1\n5 5.0e-7\n0\n* parameter groups\n"
    "hk   relative 0.01 0.0001 switch 2.0 parabolic\n"
    "rch  relative 0.01 0.0001 switch 2.0 parabolic\n* parameter data\n"
    "hk1  log factor    5.0  0.1  500.0 hk  1.0 0.0 1\n"
    "hk2  log factor    5.0  0.1  500.0 hk  1.0 0.0 1\n"
    "hk3  log factor   10.0  0.1  500.0 hk  1.0 0.0 1\n"
    "hk4  log factor   20.0  0.1  500.0 hk  1.0 0.0 1\n"
    "rch  log factor  100.0 10.0 3000.0 rch 2.737850787132101e-06 0.0 1\n"
    "* observation groups\nheads\nflux\n* observation data\n"
    "h01 100.61911228 10.0 heads\nh02 100.917534833 10.0 heads\n"
    "h03 100.463427705 10.0 heads\nh04 103.313664649 10.0 heads\n"
    "h05 100.377808656 10.0 heads\nh06 100.64244043 10.0 heads\n"
    "h07 100.588797437 10.0 heads\nh08 100.576677173 10.0 heads\n"
    "h09 100.261237442 10.0 heads\nh10 96.3272759529 0.0 heads\n"
    "h11 96.3426130494 10.0 heads\nh12 98.894864694 10.0 heads\n"
    "q_west 1.249075646633E+03 0.05 flux\nq_east 1.929158439633E+03 0.0 flux\n"
    "* model command line\n./gwflow\n* model input/output\ngwflow.in.tpl gwflow.in\n"
    "gwflow.hob.out.ins gwflow.hob.out\ngwflow.lst.ins gwflow.lst\n"
    "++forecasts(q_east,h12,h10)\n";

static const double gw_J[14][5] = {
    {0.079317438675943291, -0.70993548679444296, -0.18411582520279823, -0.25361687165284458,
     1.5771214069413166},
    {1.0680934193960681, -1.1309079347939639, -0.58769755354458353, -0.64655404520502591,
     2.7129992196211621},
    {0.86144598621691315, -0.28630855885761103, -0.81332059590009753, -0.40663821006549306,
     1.5163882898346637},
    {1.0022525978661507, -1.8806914441539566, -0.12615904742743128, -0.85782759984719681,
     3.0350612929328871},
    {0.44723694297534655, -0.60774011508861936, 0.08186769249639686, -0.93648108299713284,
     1.7337136468251184},
    {0.62579418861095737, -0.68369896903555372, 0.4003556014866384, -1.0230439953532313,
     2.007899440416034},
    {1.5323819074854272, -0.61236385304727259, -0.1000862970332695, -0.96516443838854604,
     2.6132586459800233},
    {1.3605100590027903, -0.34158665143221484, -0.64854498614810618, -0.95538597391896851,
     2.2604980247780797},
    {0.71505552526145799, -0.32855810939068403, 1.0766915879151409, -1.4964647645104814,
     1.974521351120299},
    {0.073832169128602465, 0.17424440418125908, 0.012971291726640931, -0.53089520032256421,
     0.38640140473273898},
    {0.07615106133948811, 0.1185281176212232, 0.13198120058221421, -0.48746033228034302,
     0.3391135027197269},
    {0.34175703706568278, -0.1392343801446016, 0.68337559964356043, -1.2026195745587656,
     1.1469995768279735},
    {-386.81278213286225, -278.06831136120127, -624.70813037355117, -273.00331960142756,
     1201.7754542224402},
    {386.81278733951109, 278.06831124547227, 624.70813537194567, 273.00331962453919,
     1712.6018373431689},
};
static const double gw_sim0[14] = {99.6771521347,  98.6682840337, 99.2849083320, 97.6376270139,
                                   96.1908183546,  96.3184605846, 97.5939814808, 98.1954149390,
                                   96.2876549114,  95.2437318748, 95.2009513104, 95.7649682676,
                                   -390.797608045, 1050.20897018};
static const double gw_sim1[14] = {102.240210838, 101.802323771, 100.518268444, 104.158835982,
                                   100.317660150, 99.7230468186, 99.3425966580, 99.7045042806,
                                   98.7866162644, 96.3496602442, 96.1207979615, 98.0247751615,
                                   170.411568932, 557.115481892};
static const double gw_ctl0[5] = {5, 5, 10, 20, 100};
static const double gw_ctl1[5] = {0.9095689249661489, 0.5, 9.020941827707588, 2.0,
                                  105.4085337640270};

/* PEST++'s rows: iteration 1 (CASE.0.*.usum.csv) and final (CASE.*.usum.csv), per prior. */
struct gw_ref {
    const char *extra;
    const char *par0[5], *pred0[3], *par[5], *pred[3];
};

static const struct gw_ref gw_refs[] = {
    {"",
     {"hk1,0.69897,0.924743,-1.15051,2.54846,0.69897,0.720653,-0.742337,2.14028",
      "hk2,0.69897,0.924743,-1.15051,2.54846,0.69897,0.797219,-0.895468,2.29341",
      "hk3,1,0.924743,-0.849485,2.84949,1,0.759009,-0.518018,2.51802",
      "hk4,1.30103,0.924743,-0.548455,3.15051,1.30103,0.804236,-0.307441,2.9095",
      "rch,2,0.61928,0.761439,3.23856,2,0.428716,1.14257,2.85743"},
     {"h10,95.2437,0.573631,94.0965,96.391,95.2437,0.438305,94.3671,96.1203",
      "h12,95.765,1.50238,92.7602,98.7697,95.765,1.04071,93.6835,97.8464",
      "q_east,1050.21,1310.1,-1570,3670.41,1050.21,1142.46,-1234.72,3335.14"},
     {"hk1,0.69897,0.924743,-1.15051,2.54846,-0.0411644,0.533096,-1.10736,1.02503",
      "hk2,0.69897,0.924743,-1.15051,2.54846,-0.30103,0.512522,-1.32607,0.724014",
      "hk3,1,0.924743,-0.849485,2.84949,0.955252,0.419233,0.116786,1.79372",
      "hk4,1.30103,0.924743,-0.548455,3.15051,0.30103,0.515827,-0.730624,1.33268",
      "rch,2,0.61928,0.761439,3.23856,2.02288,0.407779,1.20732,2.83843"},
     {"h10,95.2437,0.573631,94.0965,96.391,96.3497,0.184223,95.9812,96.7181",
      "h12,95.765,1.50238,92.7602,98.7697,98.0248,0.290545,97.4437,98.6059",
      "q_east,1050.21,1310.1,-1570,3670.41,557.115,1059.46,-1561.81,2676.04"}},
    {"++parcov(gw_prior.cov)\n",
     {"hk1,0.69897,0.5,-0.30103,1.69897,0.69897,0.453444,-0.207918,1.60586",
      "hk2,0.69897,0.5,-0.30103,1.69897,0.69897,0.468557,-0.238144,1.63608",
      "hk3,1,0.707107,-0.414214,2.41421,1,0.615837,-0.231675,2.23167",
      "hk4,1.30103,0.547723,0.205585,2.39648,1.30103,0.509804,0.281422,2.32064",
      "rch,2,0.447214,1.10557,2.89443,2,0.310583,1.37883,2.62117"},
     {"h10,95.2437,0.354031,94.5357,95.9518,95.2437,0.281074,94.6816,95.8059",
      "h12,95.765,0.934268,93.8964,97.6335,95.765,0.751092,94.2628,97.2672",
      "q_east,1050.21,948.364,-846.518,2946.94,1050.21,837.613,-625.018,2725.44"},
     {"hk1,0.69897,0.5,-0.30103,1.69897,-0.0411644,0.370855,-0.782875,0.700546",
      "hk2,0.69897,0.5,-0.30103,1.69897,-0.30103,0.355069,-1.01117,0.409109",
      "hk3,1,0.707107,-0.414214,2.41421,0.955252,0.32901,0.297232,1.61327",
      "hk4,1.30103,0.547723,0.205585,2.39648,0.30103,0.382126,-0.463223,1.06528",
      "rch,2,0.447214,1.10557,2.89443,2.02288,0.253267,1.51634,2.52941"},
     {"h10,95.2437,0.354031,94.5357,95.9518,96.3497,0.150548,96.0486,96.6508",
      "h12,95.765,0.934268,93.8964,97.6335,98.0248,0.256742,97.5113,98.5383",
      "q_east,1050.21,948.364,-846.518,2946.94,557.115,733.796,-910.477,2024.71"}},
    {"++parcov(gw_prior.unc)\n",
     {"hk1,0.69897,0.5,-0.30103,1.69897,0.69897,0.453023,-0.207077,1.60502",
      "hk2,0.69897,0.632456,-0.565941,1.96388,0.69897,0.555121,-0.411272,1.80921",
      "hk3,1,0.774597,-0.549193,2.54919,1,0.642996,-0.285991,2.28599",
      "hk4,1.30103,0.894427,-0.487824,3.08988,1.30103,0.737549,-0.174067,2.77613",
      "rch,2,0.3,1.4,2.6,2,0.260044,1.47991,2.52009"},
     {"h10,95.2437,0.502695,94.2383,96.2491,95.2437,0.401621,94.4405,96.047",
      "h12,95.765,1.24125,93.2825,98.2475,95.765,0.973308,93.8184,97.7116",
      "q_east,1050.21,817.099,-583.988,2684.41,1050.21,792.949,-535.688,2636.11"},
     {"hk1,0.69897,0.5,-0.30103,1.69897,-0.0411644,0.378766,-0.798697,0.716368",
      "hk2,0.69897,0.632456,-0.565941,1.96388,-0.30103,0.385646,-1.07232,0.470261",
      "hk3,1,0.774597,-0.549193,2.54919,0.955252,0.33455,0.286152,1.62435",
      "hk4,1.30103,0.894427,-0.487824,3.08988,0.30103,0.394139,-0.487248,1.08931",
      "rch,2,0.3,1.4,2.6,2.02288,0.249653,1.52357,2.52218"},
     {"h10,95.2437,0.502695,94.2383,96.2491,96.3497,0.170858,96.0079,96.6914",
      "h12,95.765,1.24125,93.2825,98.2475,98.0248,0.263195,97.4984,98.5512",
      "q_east,1050.21,817.099,-583.988,2684.41,557.115,731.501,-905.886,2020.12"}},
};

/* Every number of line got within 6 significant digits of PEST++'s line want. */
static int same_row(const char *got, const char *want)
{
    char a[512], b[512], *ta[16], *tb[16];
    snprintf(a, sizeof(a), "%s", got);
    snprintf(b, sizeof(b), "%s", want);
    size_t na = pr_tokenize(a, ",\n", ta, 16), nb = pr_tokenize(b, ",\n", tb, 16);
    if (na != 9 || nb != 9 || strcmp(ta[0], tb[0]) != 0) return 0;
    for (size_t i = 1; i < 9; i++) {
        double x = atof(ta[i]), y = atof(tb[i]);
        if (fabs(x - y) > 5e-6 * fabs(y) + 1e-9) return 0;
    }
    return 1;
}

static size_t exact, compared;

static void check_usum(const char *file, const char *const *want, size_t n)
{
    char *text = get(file);
    CHECK_MSG(text != NULL, "%s not written", file);
    if (!text) return;
    const char *p = strchr(text, '\n');
    for (size_t k = 0; k < n && p; k++) {
        const char *e = strchr(p + 1, '\n');
        char row[512];
        snprintf(row, sizeof(row), "%.*s", (int)(e ? e - p - 1 : 0), p + 1);
        CHECK_MSG(same_row(row, want[k]), "%s: '%s' where pestpp-glm wrote '%s'", file, row,
                  want[k]);
        exact += strcmp(row, want[k]) == 0;
        compared++;
        p = e;
    }
    free(text);
}

static void test_pestpp(void)
{
    put("gw_prior.cov", "5 5 1\n0.25 0.1 0 0 0\n0.1 0.25 0 0 0\n0 0 0.5 0.05 0\n"
                        "0 0 0.05 0.3 0\n0 0 0 0 0.2\n* row and column names\n"
                        "hk1\nhk2\nhk3\nhk4\nrch\n");
    put("gw_prior.unc", "# a test uncertainty file\nSTART STANDARD_DEVIATION\nhk1 0.5\nrch 0.3\n"
                        "END STANDARD_DEVIATION\nSTART COVARIANCE_MATRIX\nfile gw_sub.mat\n"
                        "variance_multiplier 2.0\nEND COVARIANCE_MATRIX\n");
    put("gw_sub.mat", "3 3 2\n0.2 0.05 0\n0.05 0.3 0.01\n0 0.01 0.4\n* row names\nhk2\nhk3\n"
                      "hk4\n* column names\nhk2\nhk3\nhk4\n");
    for (size_t v = 0; v < sizeof(gw_refs) / sizeof(gw_refs[0]); v++) {
        const struct gw_ref *ref = &gw_refs[v];
        struct pr_error err;
        struct strbuf sb = {0};
        sb_printf(&sb, "%s%s", gw_pst, ref->extra);
        char *path = at("gw.pst");
        struct pst_case *c = pst_parse(sb.data, sb.len, path, tmp, &err);
        sb_free(&sb);
        CHECK_MSG(c != NULL, "%s", err.msg);
        if (!c) {
            free(path);
            continue;
        }
        struct parspace ps;
        struct jacobian jac;
        parspace_init(&ps, c);
        jacobian_init(&jac, &ps);
        for (size_t r = 0; r < 14; r++)
            for (size_t k = 0; k < 5; k++)
                jac.J[r * 5 + k] = gw_J[r][k];
        memset(jac.ok, 1, 5);
        struct fosm *f = fosm_create(&ps, path, &err);
        CHECK_MSG(f != NULL, "%s", err.msg);
        struct fosm_input it1 = {&jac, gw_ctl0, gw_sim0, NULL},
                          fin = {&jac, gw_ctl1, gw_sim1, gw_sim0};
        CHECK_MSG(f && fosm_write(f, &it1, 1, NULL, &err) == 0, "%s", err.msg);
        CHECK_MSG(f && fosm_write(f, &fin, -1, NULL, &err) == 0, "%s", err.msg);
        check_usum("gw.0.par.usum.csv", ref->par0, 5);
        check_usum("gw.0.pred.usum.csv", ref->pred0, 3);
        check_usum("gw.par.usum.csv", ref->par, 5);
        check_usum("gw.pred.usum.csv", ref->pred, 3);
        if (v == 0) { /* pestpp-glm's gwflow.post.cov, byte for byte */
            char *cov = get("gw.post.cov");
            CHECK(cov && strcmp(cov, "     5     5     1\n"
                                     "  0.284191  -0.037044   0.131852 0.00207052  -0.094911\n"
                                     " -0.037044   0.262679  0.0936767   0.104259   0.151055\n"
                                     "  0.131852  0.0936767   0.175756   0.147821  0.0712269\n"
                                     "0.00207052   0.104259   0.147821   0.266077   0.168939\n"
                                     " -0.094911   0.151055  0.0712269   0.168939   0.166284\n"
                                     "* row and column names\nhk1\nhk2\nhk3\nhk4\nrch\n") == 0);
            free(cov);
            char *rei = get("gw.0.fosm_reweight.rei");
            CHECK(rei && strstr(rei, "               q_west         flux              1249.08"
                                     "             -390.798              1639.87          "
                                     "0.000609803\n") != NULL);
            free(rei);
        }
        fosm_destroy(f);
        jacobian_free(&jac);
        parspace_free(&ps);
        pst_destroy(c);
        free(path);
    }
    printf("pestpp-glm 5.2.23 usum rows: %zu of %zu identical as text, all within 6 digits\n",
           exact, compared);
}

int main(void)
{
    struct pr_error err;
    tmp = pr_make_temp_dir(NULL, "pestrun-fosm", &err);
    if (!tmp) {
        printf("%s\n", err.msg);
        return 1;
    }
    test_closed_form();
    test_weighted_forecast();
    test_options();
    test_files();
    test_parcov_files();
    test_bad_files();
    test_binary();
    test_realizations();
    test_ensembles();
    test_pestpp();
    if (!getenv("FOSM_KEEP")) pr_remove_tree(tmp, &err); /* FOSM_KEEP=1: look at the files */
    free(tmp);
    return check_done();
}
