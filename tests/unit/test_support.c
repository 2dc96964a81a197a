/* No silent options: the option table, and what each command says about the options and
 * control-data fields a case sets. */
#include "check.h"
#include "rosen_pst.h"

#include "pest/pst.h"
#include "pest/pst_options.h"
#include "pest/pst_support.h"
#include "util/strbuf.h"
#include "util/text.h"

static const char *rosen = ROSEN_PST; /* 25 lines */

/* rosen with one line replaced (from: a whole line) and tail appended. */
static struct pst_case *make(const char *from, const char *to, const char *tail)
{
    struct strbuf sb = {0};
    struct pr_error err;
    const char *p = from ? strstr(rosen, from) : NULL;
    if (p) {
        sb_append(&sb, rosen, (size_t)(p - rosen));
        sb_puts(&sb, to);
        sb_puts(&sb, p + strlen(from));
    } else {
        sb_puts(&sb, rosen);
    }
    sb_puts(&sb, tail ? tail : "");
    struct pst_case *c = pst_parse(sb.data, sb.len, "t.pst", ".", &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    sb_free(&sb);
    return c;
}

/* The findings of cmd as one text ("" when none); *rc: pst_check_support's return. */
static char *findings(const struct pst_case *c, enum pst_cmd cmd, int forgive, int *rc,
                      struct pr_error *err)
{
    struct pst_support_report r;
    int x = pst_check_support(c, cmd, forgive, &r, err);
    if (rc) *rc = x;
    char *text = pst_support_text(&r, NULL);
    pst_support_report_free(&r);
    return text;
}

#define EXPECT_SILENT(c, cmd)                                                                      \
    do {                                                                                           \
        char *t_ = findings((c), (cmd), 0, NULL, NULL);                                            \
        CHECK_MSG(*t_ == '\0', "expected nothing from %s, got: %s", pst_command_name(cmd), t_);    \
        free(t_);                                                                                  \
    } while (0)

#define EXPECT_HAS(c, cmd, forgive, want_rc, needle)                                               \
    do {                                                                                           \
        int rc_;                                                                                   \
        char *t_ = findings((c), (cmd), (forgive), &rc_, NULL);                                    \
        CHECK_MSG(rc_ == (want_rc), "%s: rc %d", pst_command_name(cmd), rc_);                      \
        CHECK_MSG(strstr(t_, (needle)) != NULL, "%s: no '%s' in: %s", pst_command_name(cmd),       \
                  (needle), t_);                                                                   \
        free(t_);                                                                                  \
    } while (0)

static int valid_row(const struct pst_option_info *r, int control)
{
    size_t len = strlen(r->status); /* a letter per command; ies's may be left out */
    if (!r->names[0] || (len != 5 && len != 6) || strspn(r->status, "-PITRHX") != len) return 0;
    if (control != (r->section != NULL)) return 0;
    for (size_t j = 0; j < 5 && r->names[j]; j++)
        for (const char *p = r->names[j]; *p; p++)
            if (*p >= 'a' && *p <= 'z') return 0;
    return strchr("bidsl", r->type) != NULL || r->type == 0;
}

/* Every row is well formed, and no name or alias appears twice. */
static void test_table(void)
{
    struct names *seen = names_create();
    size_t known = 0, implemented = 0, harmless = 0, errors = 0, ignored = 0, other = 0;
    for (int control = 0; control < 2; control++) {
        size_t n = control ? pst_control_table_size() : pst_option_table_size();
        for (size_t i = 0; i < n; i++) {
            const struct pst_option_info *r =
                control ? pst_control_table_row(i) : pst_option_table_row(i);
            CHECK_MSG(valid_row(r, control), "row %s", r->names[0]);
            for (size_t j = 0; j < 5 && r->names[j]; j++)
                CHECK_MSG(names_add(seen, r->names[j]) >= 0, "%s twice", r->names[j]);
            if (control) continue;
            known++;
            implemented += strpbrk(r->status, "IT") != NULL;
            errors += strchr(r->status, 'X') != NULL;
            harmless += strpbrk(r->status, "HR") != NULL && !strchr(r->status, 'X');
            ignored += strspn(r->status, "P") == strlen(r->status);
            other += strspn(r->status, "-") == strlen(r->status);
        }
    }
    printf("++ options: %zu known (with %zu control-data fields), %zu implemented or honoured "
           "by a command, %zu harmless warnings, %zu errors for some command, %zu ignored by "
           "PEST++, %zu other programs'\n",
           known, pst_control_table_size(), implemented, harmless, errors, ignored, other);
    names_destroy(seen);
    CHECK(pst_control_info("splitswh") && pst_control_info("NUMLAM"));
    CHECK(pst_option_info("nonsense") == NULL);
}

static void test_aliases(void)
{
    char buf[256];
    int known;
    CHECK_STR(pst_option_canonical("rand_seed", buf, sizeof(buf), &known), "RANDOM_SEED");
    CHECK(known);
    CHECK_STR(pst_option_canonical("Sweep_Par_CSV", buf, sizeof(buf), &known),
              "SWEEP_PARAMETER_FILE");
    CHECK_STR(pst_option_canonical("predictions", buf, sizeof(buf), &known), "FORECASTS");
    CHECK_STR(pst_option_canonical("ies_save_binary", buf, sizeof(buf), &known), "SAVE_BINARY");
    /* pestpp-da's copies of the ies options are options of their own */
    CHECK_STR(pst_option_canonical("da_par_en", buf, sizeof(buf), &known), "DA_PAR_EN");
    CHECK(known);
    CHECK(pst_option_info("DA_NUM_REALS") == pst_option_info("ies_num_reals"));
    pst_option_canonical("da_frobnicate", buf, sizeof(buf), &known);
    CHECK(!known);
    pst_option_canonical("ies_localize", buf, sizeof(buf), &known); /* not a PEST++ key */
    CHECK(!known);
    CHECK(pst_option_keeps_case("BASE_JACOBIAN") && !pst_option_keeps_case("LAMBDAS"));
    CHECK(pst_option_keeps_case("DA_PARAMETER_ENSEMBLE"));

    /* an alias given twice is one option given twice */
    struct pr_error err;
    const char *t = "++rand_seed(1)\n++random_seed(2)\n";
    char *text = xcalloc(1, strlen(rosen) + strlen(t) + 1);
    strcpy(text, rosen);
    strcat(text, t);
    CHECK(pst_parse(text, strlen(text), "t.pst", ".", &err) == NULL);
    CHECK_STR(err.msg, "t.pst:27: option 'random_seed' is given twice (first at line 26)");
    free(text);
}

static void test_irrelevant_and_implemented(void)
{
    /* a glm option given to sweep: nothing; glm implements it */
    struct pst_case *c = make(NULL, NULL, "++n_iter_super(3) ies_num_reals(30) da_num_reals(5)\n");
    for (enum pst_cmd k = PST_CMD_CHECK; k <= PST_CMD_IES; k++)
        EXPECT_SILENT(c, k);
    pst_destroy(c);
    /* what PEST++ ignores says nothing either: PEST's lambda controls, output flags, SVDMODE */
    c = make("10.0 -2.0 0.3 0.01 10\n", "5.0 -3.0 0.2 0.02 7 1 2 3\n",
             "* singular value decomposition\n3\n10 1e-7\n0\n");
    EXPECT_SILENT(c, PST_CMD_CHECK);
    EXPECT_SILENT(c, PST_CMD_GLM);
    pst_destroy(c);
}

static void test_changes_result(void)
{
    struct pr_error err;
    struct pst_case *c = make(NULL, NULL, "++glm_accept_mc_phi(true)\n");
    EXPECT_HAS(
        c, PST_CMD_GLM, 0, -1,
        "t.pst:26: ++glm_accept_mc_phi(true) is not implemented by 'pestrun glm' and changes "
        "the result");
    char *t = findings(c, PST_CMD_GLM, 0, NULL, &err);
    CHECK(strstr(err.msg, "t.pst:26: ++glm_accept_mc_phi(true)") == err.msg);
    CHECK(strstr(err.msg, "--forgive-unimplemented") != NULL);
    free(t);
    EXPECT_HAS(c, PST_CMD_GLM, 1, 0, "ignored (--forgive-unimplemented)");
    EXPECT_HAS(c, PST_CMD_CHECK, 0, 0, "changes the result of 'pestrun glm'");
    EXPECT_SILENT(c, PST_CMD_SWEEP);
    EXPECT_SILENT(c, PST_CMD_JACOBIAN);
    pst_destroy(c);

    /* an alias: named as given, with the option it stands for */
    c = make(NULL, NULL, "++Base_Jacobian_Filename(My.jcb)\n");
    EXPECT_HAS(c, PST_CMD_JACOBIAN, 0, -1,
               "t.pst:26: ++base_jacobian_filename(My.jcb) (base_jacobian)");
    EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "'pestrun glm'");
    EXPECT_HAS(c, PST_CMD_CHECK, 0, 0, "'pestrun jacobian' and 'pestrun glm'");
    EXPECT_SILENT(c, PST_CMD_SWEEP);
    pst_destroy(c);

    /* pestpp-ies's options: implemented ones say nothing, the others stop 'pestrun ies' */
    c = make(NULL, NULL, "++ies_num_reals(30) ies_localizer(loc.mat) ies_n_iter_reinflate(2)\n");
    EXPECT_HAS(c, PST_CMD_IES, 0, -1,
               "t.pst:26: ++ies_n_iter_reinflate(2) (ies_n_iter_mean) is not implemented by "
               "'pestrun ies'");
    char *ti = findings(c, PST_CMD_IES, 0, NULL, NULL);
    CHECK(strstr(ti, "num_reals") == NULL && strstr(ti, "localizer") == NULL);
    free(ti);
    EXPECT_SILENT(c, PST_CMD_GLM);
    pst_destroy(c);

    c = make(NULL, NULL, "++sweep_base_run(t)\n");
    EXPECT_HAS(c, PST_CMD_SWEEP, 0, -1,
               "++sweep_base_run(t) is not implemented by 'pestrun sweep'");
    EXPECT_SILENT(c, PST_CMD_GLM);
    pst_destroy(c);
}

static void test_defaults_say_nothing(void)
{
    struct pst_case *c =
        make("0.1\n", "0.1 1 1.1\n",
             "++glm_iter_mc(false) lambdas(0.1, 1.0,10,1e2,1000) panther_echo(1)\n"
             "++num_tpl_ins_threads(1) check_tplins(true) tie_by_group(f) svd_pack(RedSVD)\n");
    for (enum pst_cmd k = PST_CMD_CHECK; k <= PST_CMD_IES; k++)
        EXPECT_SILENT(c, k);
    pst_destroy(c);
    /* not the default: reported, at its line */
    c = make("0.1\n", "0.1 1 1.5\n", NULL);
    EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "t.pst:8: SPLITSWH 1.5 (control data) is not implemented");
    EXPECT_SILENT(c, PST_CMD_SWEEP);
    pst_destroy(c);
}

static void test_harmless(void)
{
    struct pst_case *c = make(NULL, NULL, "++num_tpl_ins_threads(4) panther_echo(false)\n");
    EXPECT_HAS(c, PST_CMD_RUN, 0, 0,
               "++num_tpl_ins_threads(4) is read but not implemented by 'pestrun run'");
    EXPECT_HAS(c, PST_CMD_GLM, 0, 0, "transport setting that pestrun's own transport replaces");
    EXPECT_HAS(c, PST_CMD_GLM, 0, 0, "honours max_run_fail, overdue_resched_fac");
    struct pst_support_report r;
    CHECK(pst_check_support(c, PST_CMD_RUN, 0, &r, NULL) == 0 && r.n == 1 && r.warnings == 1);
    CHECK(r.n == 1 && r.findings[0].status == PST_SUPPORT_HARMLESS && !r.findings[0].is_error);
    CHECK(r.n == 1 && r.findings[0].loc.line == 26);
    CHECK_STR(r.n == 1 ? r.findings[0].option : "", "NUM_TPL_INS_THREADS");
    pst_support_report_free(&r);
    pst_destroy(c);
    /* an option PEST++ does not know */
    c = make(NULL, NULL, "++frobnicate(1)\n");
    EXPECT_HAS(c, PST_CMD_SWEEP, 0, 0, "++frobnicate(1) is not an option of PEST++ 5.2.23");
    pst_destroy(c);
}

static void test_regularization(void)
{
    const char *regul =
        "* regularization\n1.0e-10 1.05e-10 0.1\n1.0 1.0e-10 1.0e10\n1.3 1.0e-2 1\n";
    /* estimation mode: PEST++ does not use the section */
    struct pst_case *c = make(NULL, NULL, regul);
    EXPECT_SILENT(c, PST_CMD_GLM);
    pst_destroy(c);
    /* regularization mode: pestrun glm implements it (src/algo/regul.c); were it marked "X"
     * in pst_options.c (REGUL_GLM), every field away from its default would be reported */
    c = make("restart estimation\n", "restart regularisation\n", regul);
    const struct pst_option_info *mode = pst_control_info("PESTMODE");
    if (mode->status[3] == 'X') {
        EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "t.pst:3: PESTMODE regularisation (control data)");
        EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "t.pst:27: PHIMACCEPT 1.05e-10 (regularization)");
        EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "t.pst:29: IREGADJ 1 (regularization)");
    } else {
        CHECK(mode->status[3] == 'I');
        CHECK(pst_control_info("IREGADJ")->status[3] == 'I');
        EXPECT_SILENT(c, PST_CMD_GLM);
    }
    EXPECT_SILENT(c, PST_CMD_SWEEP);
    EXPECT_SILENT(c, PST_CMD_CHECK);
    pst_destroy(c);
}

static void test_keyword_format(void)
{
    struct pr_error err;
    char dir[] = "/tmp/pestrun-test-support.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char *csv = pr_path_join(dir, "k.par.csv");
    const char *rows = "parnme,partrans,parchglim,parval1,parlbnd,parubnd,pargp,scale,offset,"
                       "dercom\nx1,none,relative,1,0,5,xg,1,0,1\n";
    CHECK(pr_write_file(csv, rows, strlen(rows), &err) == 0);
    const char *text = "pcf\n* control data keyword\nnoptmax 3\nsvdmode 1\neigwrite 1\n"
                       "numlam 4\nglm_accept_mc_phi true\nsplitswh 1.1\n"
                       "* parameter data external\nk.par.csv\n"
                       "* observation data\nr1 0 1 g\n* model command line\nm\n"
                       "* model input\na.tpl a\n* model output\na.ins a.out\n";
    struct pst_case *c = pst_parse(text, strlen(text), "k.pst", dir, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    remove(csv);
    remove(dir);
    free(csv);
    if (!c) return;
    CHECK(pst_nwarnings(c) == 0);
    EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "k.pst:7: 'glm_accept_mc_phi true' is not implemented");
    EXPECT_HAS(c, PST_CMD_GLM, 0, -1, "k.pst:5: EIGWRITE 1 (singular value decomposition) is read");
    struct pst_support_report r;
    pst_check_support(c, PST_CMD_GLM, 0, &r, NULL);
    CHECK(r.n == 2 && r.errors == 1 && r.warnings == 1);
    pst_support_report_free(&r);
    /* the record-file section */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pst_support_fprint(f, c, PST_CMD_GLM);
    fclose(f);
    CHECK(strncmp(buf, "Options and control data 'pestrun glm' does not implement:\n", 59) == 0);
    CHECK(strstr(buf, "  k.pst:7: 'glm_accept_mc_phi true'") && strstr(buf, "ignored (--forgive"));
    free(buf);
    pst_destroy(c);
    /* nothing to say: nothing written */
    c = make(NULL, NULL, NULL);
    buf = NULL;
    f = open_memstream(&buf, &len);
    pst_support_fprint(f, c, PST_CMD_GLM);
    fclose(f);
    CHECK(len == 0);
    free(buf);
    pst_destroy(c);
}

/* Where each positional field was read. */
static void test_control_keys(void)
{
    struct pst_case *c = make(NULL, NULL, NULL);
    int found = 0;
    for (size_t i = 0; c && i < pst_ncontrol_keys(c); i++) {
        const struct pst_option *o = pst_control_key(c, i);
        if (strcmp(o->key, "NUMLAM") == 0) {
            CHECK(o->loc.line == 6 && strcmp(o->value, "10") == 0);
            found++;
        }
        if (strcmp(o->key, "NRELPAR") == 0) {
            CHECK(o->loc.line == 9 && strcmp(o->value, "4") == 0);
            found++;
        }
    }
    CHECK(found == 2);
    pst_destroy(c);
}

int main(void)
{
    test_table();
    test_aliases();
    test_irrelevant_and_implemented();
    test_changes_result();
    test_defaults_say_nothing();
    test_harmless();
    test_regularization();
    test_keyword_format();
    test_control_keys();
    return check_done();
}
