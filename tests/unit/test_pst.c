/* Control-file reader: classic and version-2 formats, ++ options, error messages. */
#include "check.h"
#include "rosen_pst.h"

#include "pest/objective.h"
#include "pest/pst.h"
#include "util/strbuf.h"
#include "util/text.h"

static const char *rosen = ROSEN_PST;

static struct pst_case *parse(const char *text, struct pr_error *err)
{
    return pst_parse(text, strlen(text), "t.pst", ".", err);
}

/* Replace the first occurrence of a line fragment, returning a malloc'd text. */
static char *edit(const char *text, const char *from, const char *to)
{
    struct strbuf sb = {0};
    const char *p = strstr(text, from);
    if (!p) return xstrdup(text);
    sb_append(&sb, text, (size_t)(p - text));
    sb_puts(&sb, to);
    sb_puts(&sb, p + strlen(from));
    return sb_take(&sb);
}

static void expect_error(const char *text, const char *msg)
{
    struct pr_error err = {{0}};
    struct pst_case *c = parse(text, &err);
    CHECK_MSG(c == NULL, "expected error '%s'", msg);
    CHECK_STR(err.msg, msg);
    pst_destroy(c);
}

static void expect_edit_error(const char *from, const char *to, const char *msg)
{
    char *t = edit(rosen, from, to);
    expect_error(t, msg);
    free(t);
}

static void test_classic(void)
{
    struct pr_error err;
    struct pst_case *c = parse(rosen, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK(pst_nparams(c) == 2);
    CHECK(pst_nobs(c) == 2);
    CHECK_STR(pst_param(c, 0)->name, "X1");
    CHECK_NEAR(pst_param(c, 0)->parval1, -1.2, 0);
    CHECK_NEAR(pst_param(c, 1)->ubnd, 5.0, 0);
    CHECK(pst_param(c, 0)->group == 0);
    CHECK_STR(pst_pargp(c, 0)->name, "XG");
    CHECK_NEAR(pst_pargp(c, 0)->derinclb, 1e-4, 0);
    CHECK(pst_pargp(c, 0)->forcen == PST_FORCEN_SWITCH);
    CHECK_STR(pst_obs(c, 1)->name, "R2");
    CHECK_STR(pst_obsgp(c, 0)->name, "RESID");
    CHECK(pst_control(c)->noptmax == 50);
    CHECK_NEAR(pst_control(c)->relparmax, 10.0, 0);
    CHECK_NEAR(pst_control(c)->phiredstp, 0.005, 0);
    CHECK(pst_control(c)->nrelpar == 4);
    CHECK(pst_ncommands(c) == 1);
    CHECK_STR(pst_command(c, 0)->line, "python3 rosen_ls.py");
    CHECK(pst_ninputs(c) == 1 && pst_noutputs(c) == 1);
    CHECK_STR(pst_input(c, 0)->pest_file, "par.dat.tpl");
    CHECK_STR(pst_output(c, 0)->model_file, "out.dat");
    CHECK(pst_output(c, 0)->loc.line == 25);
    CHECK(names_find(pst_param_names(c), "x2") == 1);
    /* phi at the start of the least-squares Rosenbrock problem is 24.2 (SPEC §7.2) */
    double ctl[2], sim[2];
    pst_initial_values(c, ctl);
    sim[0] = 10.0 * (ctl[1] - ctl[0] * ctl[0]);
    sim[1] = 1.0 - ctl[0];
    double group[1];
    struct phi_parts phi = {.group = group};
    pst_phi(c, sim, ctl, &phi);
    CHECK_NEAR(phi.total, 24.2, 1e-12);
    CHECK_NEAR(group[0], 24.2, 1e-12);
    pst_destroy(c);
}

static void test_sections_and_options(void)
{
    struct pr_error err;
    char *t = edit(rosen, "* model command line\npython3 rosen_ls.py\n",
                   "* model command line\n./pre.sh\n./model 'a' \n* prior information\n"
                   "pi1 1.0 * x1 + 2.0 * x2 = 1.5 2.0 regul_a\n"
                   "pi2 1.0 * x1 - 1.0\n& * x2 = 0 1.0 regul_a\n");
    char *t2 = xcalloc(1, strlen(t) + 200);
    strcpy(t2, t);
    strcat(t2, "++max_run_fail(5) overdue_resched_fac(1.5) # comment\n"
               "++ sweep_parameter_csv_file(My File.csv)\n++Additional_ins_delimiters(|)\n");
    struct pst_case *c = parse(t2, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (c) {
        int v;
        double d;
        CHECK(pst_ncommands(c) == 2);
        CHECK_STR(pst_command(c, 1)->line, "./model a");
        CHECK(pst_nprior(c) == 2);
        CHECK(pst_prior(c, 1)->nterms == 2);
        CHECK_NEAR(pst_prior(c, 1)->terms[1].factor, -1.0, 0);
        CHECK(pst_obsgp(c, (size_t)pst_prior(c, 0)->group)->regul == 1);
        double ctl[2] = {3.0, 4.0};
        CHECK_NEAR(pst_prior_value(c, 0, ctl), 11.0, 1e-12);
        CHECK_NEAR(pst_prior_value(c, 1, ctl), -1.0, 1e-12);
        CHECK(pst_opt_int(c, "MAX_RUN_FAIL", 3, &v, &err) == 0 && v == 5);
        CHECK(pst_opt_double(c, "overdue_resched_fac", 1.15, &d, &err) == 0 && d == 1.5);
        CHECK(pst_opt_double(c, "overdue_giveup_fac", 100, &d, &err) == 0 && d == 100);
        CHECK_STR(pst_opt_str(c, "sweep_parameter_file", ""), "My File.csv");
        CHECK_STR(pst_opt_str(c, "additional_ins_delimiters", ""), "|");
    }
    pst_destroy(c);
    free(t);
    free(t2);
}

static void test_tied_and_defaults(void)
{
    struct pr_error err;
    char *t = edit(rosen, "x2 none relative  1.0 -5.0 5.0 xg 1.0 0.0 1\n",
                   "x2 tied relative  3.0 -5.0 5.0 newgroup 2.0 1.0 1\nx2 x1\n");
    struct pst_case *c = parse(t, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (c) {
        const struct pst_param *p = pst_param(c, 1);
        CHECK(p->trans == PST_TRANS_TIED && p->tied_parent == 0);
        CHECK_NEAR(p->tied_ratio, 3.0 / -1.2, 1e-15);
        CHECK(pst_npargps(c) == 2);
        CHECK(pst_pargp(c, 1)->defined == 0);
        CHECK(pst_pargp(c, 1)->forcen == PST_FORCEN_SWITCH);
        CHECK_NEAR(pst_pargp(c, 1)->derinc, 0.01, 0);
        double ctl[2] = {2.0, 0.0}, model[2];
        pst_ctl_to_model(c, ctl, model);
        CHECK_NEAR(model[0], 2.0, 0);
        CHECK_NEAR(model[1], 2.0 * (3.0 / -1.2) * 2.0 + 1.0, 1e-12);
    }
    pst_destroy(c);
    free(t);
}

static void test_errors(void)
{
    expect_error("", "t.pst: empty file: expected a PEST control file starting with 'pcf'");
    expect_error("pfc\n", "t.pst:1: expected 'pcf' on the first line of a control file");
    expect_edit_error("restart estimation", "restart guessing",
                      "t.pst:3: PESTMODE 'guessing': expected estimation, regularization or "
                      "pareto");
    expect_edit_error("x1 none relative -1.2", "x1 none relative -1.2x",
                      "t.pst:14: parameter 'x1': PARVAL1: expected a number, got "
                      "'-1.2x'");
    expect_edit_error("x2 none relative  1.0", "x1 none relative  1.0",
                      "t.pst:15: parameter 'x1' is defined twice");
    expect_edit_error("x1 none", "x1 loggy",
                      "t.pst:14: parameter 'x1': PARTRANS 'loggy': expected none, log, fixed or "
                      "tied");
    expect_edit_error("r2 0.0 1.0 resid", "r2 0.0 -1.0 resid",
                      "t.pst:20: observation 'r2': weight -1 is negative");
    expect_edit_error("r2 0.0 1.0 resid", "r1 0.0 1.0 resid",
                      "t.pst:20: observation 'r1' is defined twice");
    expect_edit_error("r2 0.0 1.0 resid", "dum 0.0 1.0 resid",
                      "t.pst:20: 'dum' is reserved for instruction files and cannot name an "
                      "observation");
    expect_edit_error("r1 0.0 1.0 resid", "r1 1.0D+03 1.0 resid",
                      "t.pst:19: observation 'r1': OBSVAL: expected a number, got "
                      "'1.0D+03'");
    expect_edit_error("50 0.005 4 4 0.005 4", "50 0.005 4",
                      "t.pst:9: control data line 7: expected NOPTMAX PHIREDSTP NPHISTP NPHINORED "
                      "RELPARSTP NRELPAR");
    expect_edit_error("* observation groups", "* parameter groups",
                      "t.pst:16: section '* PARAMETER GROUPS' appears twice (first at line 11)");
    expect_edit_error("resid\n*", "resid cov.mat\n*",
                      "t.pst:17: observation group 'resid': a covariance matrix file is not "
                      "supported");
    expect_edit_error("par.dat.tpl par.dat", "par.dat.tpl par.dat extra",
                      "t.pst:24: model input/output: expected exactly two file names, got 3");
    expect_edit_error("out.dat.ins out.dat\n",
                      "out.dat.ins out.dat\n++max_run_fail(2) max_run_fail(3)\n",
                      "t.pst:26: option 'max_run_fail' is given twice (first at line 26)");
    expect_edit_error("* model command line",
                      "* control data keyword\nnoptmax 3\n* model command line",
                      "t.pst:21: '* control data keyword' cannot be used together with '* "
                      "control data', '* singular value decomposition' or '* regularization'");
    expect_edit_error("x2 none relative  1.0 -5.0 5.0 xg 1.0 0.0 1\n",
                      "x2 tied relative  1.0 -5.0 5.0 xg 1.0 0.0 1\nx2 x9\n",
                      "t.pst:16: parameter 'x2' is tied to 'x9', which is not defined");
    /* a '#' line is a comment, a BOM is skipped, names match in any case */
    struct pr_error err;
    char *t = edit(rosen, "pcf\n", "\xef\xbb\xbfpcf version=2\n# a comment\n\n");
    struct pst_case *c = parse(t, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    pst_destroy(c);
    free(t);
}

/* The version-2 case from the shared fixtures gives the same case as the classic one. */
static void test_v2_fixture(void)
{
    const char *shared = check_shared_dir();
    char path[4096];
    struct pr_error err;
    if (!shared) {
        printf("skipped: no shared fixtures\n");
        return;
    }
    snprintf(path, sizeof(path), "%s/pest/cases/rosenbrock_ls/v2/rosen_ls_v2.pst", shared);
    struct pst_case *v2 = pst_load(path, &err);
    CHECK_MSG(v2 != NULL, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/pest/cases/rosenbrock_ls/rosen_ls.pst", shared);
    struct pst_case *v1 = pst_load(path, &err);
    CHECK_MSG(v1 != NULL, "%s", err.msg);
    if (v1 && v2) {
        CHECK(pst_nparams(v1) == pst_nparams(v2) && pst_nobs(v1) == pst_nobs(v2));
        for (size_t i = 0; i < pst_nparams(v1) && i < pst_nparams(v2); i++) {
            CHECK_STR(pst_param(v1, i)->name, pst_param(v2, i)->name);
            CHECK(pst_param(v1, i)->parval1 == pst_param(v2, i)->parval1);
            CHECK(pst_param(v1, i)->lbnd == pst_param(v2, i)->lbnd);
        }
        CHECK(pst_control(v2)->noptmax == 50);
        CHECK(pst_control(v2)->maxsing == 1000000);
        CHECK_NEAR(pst_control(v2)->relparmax, 10.0, 0);
        CHECK(pst_ninputs(v2) == 1 && pst_noutputs(v2) == 1);
        CHECK_STR(pst_opt_str(v2, "lambdas", ""), "0.1,1.0,10.0,100.0,1000.0");
        CHECK_STR(pst_input(v2, 0)->loc.file, "rosen_ls_v2.tplfile_data.csv");
        CHECK(pst_param(v2, 1)->loc.line == 3);
    }
    pst_destroy(v1);
    pst_destroy(v2);

    /* real-world files: every one must parse */
    static const char *const files[] = {
        "pest/cases/parser_fixtures/parse_pst_kerry_v2/control.pst",
        "pest/cases/parser_fixtures/tplins_test_1/pest.pst",
        "pest/cases/parser_fixtures/secondary_marker_test/test.pst",
        "pest/cases/parser_fixtures/long_names/test.pst",
        "pest/cases/chenoliver/original/pest.pst",
        "pest/cases/rosenbrock/original/rosenbrock_2par_constrained.pst",
        NULL};
    for (size_t i = 0; files[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", shared, files[i]);
        struct pst_case *c = pst_load(path, &err);
        CHECK_MSG(c != NULL, "%s: %s", files[i], err.msg);
        pst_destroy(c);
    }
}

/* Binary and UTF-16 files are refused naming the line of the first NUL byte (a NUL used to end
 * the text, so a file of NULs read as "empty file"); bytes that are not UTF-8 are read as they
 * are, with one warning naming the line. */
static void test_binary_text(void)
{
    struct pr_error err = {{0}};
    char zeros[300] = {0};
    struct pst_case *c = pst_parse(zeros, sizeof(zeros), "z.pst", ".", &err);
    CHECK(c == NULL);
    CHECK_STR(err.msg, "z.pst:1: a NUL byte (byte 1 of 300): this is a binary file or UTF-16 "
                       "text, not a plain-text PEST control file");
    pst_destroy(c);

    /* a valid case with a NUL on its third line */
    size_t n = strlen(rosen);
    char *t = xstrdup(rosen);
    char *third = strchr(strchr(t, '\n') + 1, '\n') + 1;
    third[3] = '\0';
    c = pst_parse(t, n, "t.pst", ".", &err);
    CHECK(c == NULL);
    char want[256];
    snprintf(want, sizeof(want),
             "t.pst:3: a NUL byte (byte %zu of %zu): this is a binary file or UTF-16 text, not "
             "a plain-text PEST control file",
             (size_t)(third - t) + 4, n);
    CHECK_STR(err.msg, want);
    pst_destroy(c);
    free(t);

    static const char u16[] = "\xff\xfep\0c\0f\0\n\0";
    c = pst_parse(u16, sizeof(u16) - 1, "u.pst", ".", &err);
    CHECK(c == NULL);
    CHECK_STR(err.msg, "u.pst:1: the file is UTF-16 text; a control file is plain text: save it as "
                       "ASCII or UTF-8");
    pst_destroy(c);
    static const char u16be[] = "\xfe\xff\0p\0c\0f";
    c = pst_parse(u16be, sizeof(u16be) - 1, "u.pst", ".", &err);
    CHECK(c == NULL && strstr(err.msg, "UTF-16") != NULL);
    pst_destroy(c);

    /* Latin-1 in a comment on line 2: read, one warning; valid UTF-8 (and its BOM): none */
    char *latin = edit(rosen, "pcf\n",
                       "pcf\n# K in m/d, 20\xb0"
                       "C\n");
    c = parse(latin, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    CHECK(c && pst_nwarnings(c) == 1);
    if (c && pst_nwarnings(c) == 1)
        CHECK_STR(pst_warning(c, 0), "t.pst:2: byte 0xb0 is not UTF-8 text (another encoding, "
                                     "such as Latin-1?): names and values are read as the bytes "
                                     "they are");
    pst_destroy(c);
    free(latin);
    char *utf8 = edit(rosen, "pcf\n",
                      "pcf\n# K in m/d, 20\xc2\xb0"
                      "C, \xe2\x82\xac, \xf0\x9f\x8c\x8a\n");
    char *bom = malloc(strlen(utf8) + 4);
    memcpy(bom, "\xef\xbb\xbf", 3);
    strcpy(bom + 3, utf8);
    for (int k = 0; k < 2; k++) {
        c = parse(k ? bom : utf8, &err);
        CHECK_MSG(c != NULL, "%s", err.msg);
        CHECK_MSG(c && pst_nwarnings(c) == 0, "%s", c && pst_nwarnings(c) ? pst_warning(c, 0) : "");
        pst_destroy(c);
    }
    free(utf8);
    free(bom);
    /* not UTF-8: an overlong form, a surrogate, a cut-off sequence at the end (line 26) */
    static const char *const bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82"};
    for (int k = 0; k < 3; k++) {
        struct strbuf sb = {0};
        sb_puts(&sb, rosen);
        sb_puts(&sb, "# ");
        sb_puts(&sb, bad[k]);
        char *text = sb_take(&sb);
        c = parse(text, &err);
        snprintf(want, sizeof(want), "t.pst:26: byte 0x%02x is not UTF-8 text",
                 (unsigned char)bad[k][0]);
        CHECK_MSG(c && pst_nwarnings(c) == 1 && strncmp(pst_warning(c, 0), want, strlen(want)) == 0,
                  "bad UTF-8 %d: %s", k, c && pst_nwarnings(c) ? pst_warning(c, 0) : err.msg);
        pst_destroy(c);
        free(text);
    }
}

int main(void)
{
    test_classic();
    test_sections_and_options();
    test_tied_and_defaults();
    test_errors();
    test_binary_text();
    test_v2_fixture();
    return check_done();
}
