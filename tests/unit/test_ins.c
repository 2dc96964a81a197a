/* Instruction files: the PEST++ edge cases recorded from PEST++ itself, the PEST++ test
 * fixtures, the PEST-manual extensions (tab, '&', a number ended by a secondary marker, CRLF
 * fixed reads) and every error message. */
#include <cjson/cJSON.h>
#include <float.h>

#include "check.h"
#include "pest/ins.h"
#include "util/names.h"
#include "util/strbuf.h"
#include "util/text.h"

/* One read: parse, bind against names (NULL: the file's own observations), apply.
 * Returns 0 or -1 with err set; on success values/seen are indexed by the names table. */
struct read {
    struct names *obs;
    double *values;
    unsigned char *seen;
    size_t nobs;
    struct pr_error err;
};

static void read_free(struct read *r)
{
    names_destroy(r->obs);
    free(r->values);
    free(r->seen);
    memset(r, 0, sizeof(*r));
}

static int read_with(struct read *r, const char *ins_name, const char *ins_text, size_t ins_len,
                     const char *extra, const char *const *names, size_t nnames,
                     const char *out_name, const char *out, size_t out_len)
{
    struct ins *in;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    in = ins_parse(ins_text, ins_len, ins_name, extra, &r->err);
    if (!in) return -1;
    r->obs = names_create();
    if (names) {
        for (size_t i = 0; i < nnames; i++)
            names_add(r->obs, names[i]);
    } else {
        for (size_t i = 0; i < ins_nobs(in); i++)
            names_add(r->obs, ins_obs_name(in, i));
    }
    r->nobs = names_count(r->obs);
    r->values = xcalloc(r->nobs + 1, sizeof(double));
    r->seen = xcalloc(r->nobs + 1, 1);
    if (ins_bind(in, r->obs, &r->err) == 0)
        rc = ins_apply(in, out, out_len, out_name, r->values, r->seen, &r->err);
    ins_destroy(in);
    return rc;
}

/* Shorthand for the hand-written cases: names are the file's own. */
static int read_str(struct read *r, const char *ins_text, const char *out)
{
    return read_with(r, "out.ins", ins_text, strlen(ins_text), NULL, NULL, 0, "out.dat", out,
                     strlen(out));
}

/* The value read for name, or NAN when it was not read. */
static double value_of(const struct read *r, const char *name)
{
    int i = r->obs ? names_find(r->obs, name) : -1;
    return i >= 0 && r->seen[i] ? r->values[i] : NAN;
}

static int close_to(double got, double want)
{
    return fabs(got - want) <= 1e-11 * fabs(want) + DBL_MIN;
}

#define CHECK_VALUE(r, name, want)                                                                 \
    CHECK_MSG(close_to(value_of((r), (name)), (want)), "%s: got %.17g, want %.17g", (name),        \
              value_of((r), (name)), (double)(want))

/* --- 1. the 47 PEST++ edge cases --------------------------------------------------------- */

/* The cases PEST++ rejects but the PEST manual defines, with the value PEST gives. */
struct manual_case {
    const char *name;
    const char *obs[2];
    double want[2];
};

static const struct manual_case manual_cases[] = {
    /* "aaaaa 1.5", "l1 t5 !o1!": t5 puts the cursor on column 5 (the last 'a'); the non-fixed
     * read starts after it and finds 1.5 */
    {"tab_instruction", {"o1", NULL}, {1.5, 0}},
    /* "1.5 2.5", "l1 !o1!" continued by "& !o2!": one instruction line reading both */
    {"continuation_amp", {"o1", "o2"}, {1.5, 2.5}},
    /* "SOIL WATER=21.345634%", "~=~ !o1! ~%~": the number ends where the '%' marker starts */
    {"free_trailing_secondary_marker", {"o1", NULL}, {21.345634, 0}},
    /* "  1.5\r\n", "[o1]1:6": the CR is the line end, so columns 1-6 hold "  1.5" */
    {"crlf_fixed", {"o1", NULL}, {1.5, 0}},
};

static const struct manual_case *manual_case(const char *name)
{
    for (size_t i = 0; i < sizeof(manual_cases) / sizeof(manual_cases[0]); i++)
        if (strcmp(manual_cases[i].name, name) == 0) return &manual_cases[i];
    return NULL;
}

/* "++additional_ins_delimiters(X)" in extra .pst lines (or a whole .pst): X, or "" */
static void extra_delims(const char *pst, char *out, size_t size)
{
    const char *key = "++additional_ins_delimiters(";
    const char *p = pst ? strstr(pst, key) : NULL, *e;

    out[0] = '\0';
    if (!p) return;
    p += strlen(key);
    e = strchr(p, ')');
    if (e && (size_t)(e - p) < size) {
        memcpy(out, p, (size_t)(e - p));
        out[e - p] = '\0';
    }
}

static void run_edge_case(cJSON *c, int *match_ok, int *match_fail, int *manual, int *bad)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *out = cJSON_GetObjectItem(c, "output_file")->valuestring;
    const char *ins = cJSON_GetObjectItem(c, "instruction_file")->valuestring;
    cJSON *obs = cJSON_GetObjectItem(c, "observations");
    cJSON *res = cJSON_GetObjectItem(c, "pestpp_result");
    int pestpp_rc = cJSON_GetObjectItem(res, "rc")->valueint;
    const struct manual_case *m = manual_case(name);
    const char *names[16];
    size_t n = 0;
    char delims[32];
    struct read r;
    cJSON *o;
    int rc, all_seen = 1, fails = *bad;

    cJSON_ArrayForEach(o, obs)
    {
        if (n < 16) names[n++] = o->valuestring;
    }
    extra_delims(cJSON_GetStringValue(cJSON_GetObjectItem(c, "extra_pst_lines")), delims,
                 sizeof(delims));
    rc = read_with(&r, "out.ins", ins, strlen(ins), delims, names, n, "out.dat", out, strlen(out));
    for (size_t i = 0; rc == 0 && i < n; i++)
        all_seen &= r.seen[i];
    if (pestpp_rc == 0) {
        cJSON *v;
        CHECK_MSG(rc == 0 && all_seen, "%s: PEST++ read it, we did not: %s", name, r.err.msg);
        if (rc != 0 || !all_seen) (*bad)++;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(res, "values"))
        {
            double want = strtod(v->valuestring, NULL);
            CHECK_VALUE(&r, v->string, want);
            if (!close_to(value_of(&r, v->string), want)) (*bad)++;
        }
        if (*bad == fails) (*match_ok)++;
    } else if (m) {
        CHECK_MSG(rc == 0 && all_seen, "%s: the PEST manual reads it: %s", name, r.err.msg);
        for (int k = 0; k < 2 && m->obs[k]; k++) {
            CHECK_VALUE(&r, m->obs[k], m->want[k]);
            if (!close_to(value_of(&r, m->obs[k]), m->want[k])) (*bad)++;
        }
        if (rc != 0 || !all_seen) (*bad)++;
        if (*bad == fails) (*manual)++;
    } else {
        CHECK_MSG(rc != 0, "%s: PEST++ fails, we read it", name);
        if (rc != 0)
            (*match_fail)++;
        else
            (*bad)++;
    }
    read_free(&r);
}

static void test_edge_cases(const char *shared)
{
    char path[4200];
    struct pr_error err;
    size_t len;
    char *text;
    cJSON *root, *c;
    int total = 0, match_ok = 0, match_fail = 0, manual = 0, bad = 0;

    snprintf(path, sizeof(path), "%s/pest/cases/parser_fixtures/pestpp_ins_edge_cases/cases.json",
             shared);
    text = pr_read_file(path, &len, &err);
    CHECK_MSG(text != NULL, "%s", err.msg);
    if (!text) return;
    root = cJSON_ParseWithLength(text, len);
    CHECK(cJSON_IsArray(root));
    cJSON_ArrayForEach(c, root)
    {
        total++;
        run_edge_case(c, &match_ok, &match_fail, &manual, &bad);
    }
    CHECK(total == 47);
    CHECK(manual == 4);
    printf("edge cases: %d total; %d PEST++ successes matched, %d PEST++ failures matched, "
           "%d read per the PEST manual, %d mismatches\n",
           total, match_ok, match_fail, manual, bad);
    cJSON_Delete(root);
    free(text);
}

/* --- 2. tplins_test_1 --------------------------------------------------------------------- */

static char *read_fixture(const char *dir, const char *file, size_t *len)
{
    char path[4400];
    struct pr_error err;
    char *text;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    text = pr_read_file(path, len, &err);
    CHECK_MSG(text != NULL, "%s", err.msg);
    return text;
}

/* Read ins_file against out_file (names: the file's own), returning 0 or -1. */
static int read_files(struct read *r, const char *dir, const char *ins_file, const char *out_file,
                      const char *extra)
{
    size_t ilen = 0, olen = 0;
    char *ins = read_fixture(dir, ins_file, &ilen);
    char *out = read_fixture(dir, out_file, &olen);
    int rc = -1;

    memset(r, 0, sizeof(*r));
    if (ins && out) rc = read_with(r, ins_file, ins, ilen, extra, NULL, 0, out_file, out, olen);
    CHECK_MSG(rc == 0, "%s on %s: %s", ins_file, out_file, r->err.msg);
    free(ins);
    free(out);
    return rc;
}

/* Every observation the instruction file names was read. */
static int all_read(const struct read *r)
{
    for (size_t i = 0; i < r->nobs; i++)
        if (!r->seen[i]) return 0;
    return r->nobs > 0;
}

static void test_tplins(const char *shared)
{
    char dir[4200];
    size_t len;
    char *obf, *line, *save = NULL;
    struct read r, rd;
    int checked = 0, checked_dum = 0;

    snprintf(dir, sizeof(dir), "%s/pest/cases/parser_fixtures/tplins_test_1", shared);
    obf = read_fixture(dir, "out1.dat.obf", &len);
    if (!obf) return;
    read_files(&r, dir, "out1.dat.ins", "out1_copy.dat", NULL);
    read_files(&rd, dir, "out1dum.dat.ins", "out1_copy.dat", NULL);
    CHECK(r.nobs == 21 && all_read(&r));
    CHECK_MSG(rd.nobs == 18 && all_read(&rd), "%zu", rd.nobs);
    for (line = strtok_r(obf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        double want;
        if (sscanf(line, "%63s %lf", name, &want) != 2) continue;
        /* the .obf holds 7 significant digits */
        CHECK_MSG(fabs(value_of(&r, name) - want) <= 5e-7 * fabs(want), "%s: %.17g vs %.17g", name,
                  value_of(&r, name), want);
        checked++;
        if (names_find(rd.obs, name) >= 0) {
            CHECK_MSG(fabs(value_of(&rd, name) - want) <= 5e-7 * fabs(want), "dum %s", name);
            checked_dum++;
        }
    }
    CHECK(checked == 20 && checked_dum == 18);
    /* exact values, from out1_copy.dat by eye */
    CHECK_VALUE(&r, "h02_09", 7.921060000000001);      /* line 1, after the 8th comma */
    CHECK_VALUE(&r, "h01_09", 9.87654321);             /* line 7, columns 45-54 */
    CHECK_VALUE(&r, "h02_01", 1236.567);               /* line 12, columns 1-8 */
    CHECK_VALUE(&r, "h02_02", 8495.123);               /* line 12, columns 9-16 */
    CHECK_VALUE(&r, "h02_03", -900.999);               /* line 12, columns 17-24 */
    CHECK_VALUE(&r, "h01_08", 2.4);                    /* line 11, columns 107-114 */
    CHECK_VALUE(&r, "h02_10", 4.123);                  /* line 13 "4.123trash", columns 1-5 */
    CHECK_VALUE(&r, "dummy_obs", 123456789.987654321); /* line 14, not in the .obf */
    CHECK(names_find(rd.obs, "h01_03") < 0 && names_find(rd.obs, "dummy_obs") < 0);
    read_free(&r);
    read_free(&rd);
    free(obf);

    /* AOC_obs.txt.ins: 9 lines of 11 observations, "%" read as secondary markers after blanks */
    read_files(&r, dir, "AOC_obs.txt.ins", "AOC_obs_copy.txt", NULL);
    CHECK_MSG(r.nobs == 99 && all_read(&r), "%zu", r.nobs);
    /* line 2: "0.00 5.7103 0.811 0.811 0.000 1.657 1.657 0.160 3.119 % 0.959 % 12.321 %
     * 8.606 % 0.000 % 0.00000000" (the first 0.00 is dum) */
    CHECK_VALUE(&r, "SUM_MASS0", 5.7103);
    CHECK_VALUE(&r, "ES_total0", 0.811);
    CHECK_VALUE(&r, "ES_glac0", 0.811);
    CHECK_VALUE(&r, "ES_bdrx0", 0.0);
    CHECK_VALUE(&r, "PAL_total0", 1.657);
    CHECK_VALUE(&r, "PAL_glac0", 1.657);
    CHECK_VALUE(&r, "PAL_bdrx0", 0.160);
    CHECK_VALUE(&r, "ES_1mi0", 3.119);
    CHECK_VALUE(&r, "ES_05mi0", 0.959);
    CHECK_VALUE(&r, "PAL_1mi0", 12.321);
    CHECK_VALUE(&r, "PAL_05mi0", 8.606);
    /* line 10: "27.00 0.7994 0.235 0.219 0.089 1.960 1.938 0.780 0.835 % 0.000 % 14.370 %
     * 7.086 % ..." */
    CHECK_VALUE(&r, "SUM_MASS27", 0.7994);
    CHECK_VALUE(&r, "ES_total27", 0.235);
    CHECK_VALUE(&r, "ES_glac27", 0.219);
    CHECK_VALUE(&r, "ES_bdrx27", 0.089);
    CHECK_VALUE(&r, "PAL_total27", 1.960);
    CHECK_VALUE(&r, "PAL_glac27", 1.938);
    CHECK_VALUE(&r, "PAL_bdrx27", 0.780);
    CHECK_VALUE(&r, "ES_1mi27", 0.835);
    CHECK_VALUE(&r, "ES_05mi27", 0.0);
    CHECK_VALUE(&r, "PAL_1mi27", 14.370);
    CHECK_VALUE(&r, "PAL_05mi27", 7.086);
    /* line 6: "15.00 1.4211 0.406 0.400 0.094 2.521 2.516 0.779 0.457 % 0.000 % 20.321 %" */
    CHECK_VALUE(&r, "PAL_1mi15", 20.321);
    read_free(&r);
}

/* --- 3. secondary_marker_test ------------------------------------------------------------- */

static void test_secondary_markers(const char *shared)
{
    char dir[4200], delims[32];
    size_t len;
    char *pst;
    struct read r;

    snprintf(dir, sizeof(dir), "%s/pest/cases/parser_fixtures/secondary_marker_test", shared);
    pst = read_fixture(dir, "test.pst", &len);
    extra_delims(pst, delims, sizeof(delims));
    CHECK_STR(delims, "|");
    free(pst);

    /* "$time,$ $SEEPAGE_FLUX1$ $SEEPAGE_FLUX2$ $SEEPAGE_FLUX3$" restarts at lines 4, 6 and 9
     * (a secondary marker is missing) and settles on line 11; then "l1 w !obs1_1! w ..." */
    if (read_files(&r, dir, "out1.dat.ins", "out1.dat_bak", delims) == 0) {
        CHECK(r.nobs == 6 && all_read(&r));
        /* line 12: "1.000000000000, 1962323.838381852, 1962323.838381852, 1962323.838381852":
         * w skips "1.000000000000," (comma is not a w delimiter) */
        CHECK_VALUE(&r, "obs1_1", 1962323.838381852);
        CHECK_VALUE(&r, "obs2_1", 1962323.838381852);
        CHECK_VALUE(&r, "obs3_1", 1962323.838381852);
        /* line 13: "32.00000000000, 1012443.579448908, 1012443.579448908, 1012443.579448908" */
        CHECK_VALUE(&r, "obs1_2", 1012443.579448908);
        CHECK_VALUE(&r, "obs2_2", 1012443.579448908);
        CHECK_VALUE(&r, "obs3_2", 1012443.579448908);
    }
    read_free(&r);

    /* "l1 $,$ !obs1_1! $,$ ...": each value follows a comma marker */
    if (read_files(&r, dir, "out2.dat.ins", "out2.dat_bak", delims) == 0) {
        CHECK(r.nobs == 6 && all_read(&r));
        /* line 2: "1.000000000000,1962323.838381852,1962323.838381852,1962323.838381852" */
        CHECK_VALUE(&r, "obs1_1", 1962323.838381852);
        CHECK_VALUE(&r, "obs2_1", 1962323.838381852);
        CHECK_VALUE(&r, "obs3_1", 1962323.838381852);
        /* line 3: "32.00000000000,1012443.579448908,1012443.579448908,1012443.579448908" */
        CHECK_VALUE(&r, "obs1_2", 1012443.579448908);
        CHECK_VALUE(&r, "obs2_2", 1012443.579448908);
        CHECK_VALUE(&r, "obs3_2", 1012443.579448908);
    }
    read_free(&r);

    /* "l1 !obs1_1! !obs2_1! !obs3_1!" with '|' an additional delimiter */
    if (read_files(&r, dir, "out3.dat.ins", "out3.dat_bak", delims) == 0) {
        CHECK(r.nobs == 6 && all_read(&r));
        /* line 2: "1.000000000000|1962323.838381852|1962323.838381852|1962323.838381852" */
        CHECK_VALUE(&r, "obs1_1", 1.0);
        CHECK_VALUE(&r, "obs2_1", 1962323.838381852);
        CHECK_VALUE(&r, "obs3_1", 1962323.838381852);
        /* line 3: "32.00000000000|1012443.579448908|1012443.579448908|1012443.579448908" */
        CHECK_VALUE(&r, "obs1_2", 32.0);
        CHECK_VALUE(&r, "obs2_2", 1012443.579448908);
        CHECK_VALUE(&r, "obs3_2", 1012443.579448908);
    }
    read_free(&r);
    /* without the '|' delimiter the first piece is the whole line */
    {
        size_t ilen, olen;
        char *ins = read_fixture(dir, "out3.dat.ins", &ilen);
        char *out = read_fixture(dir, "out3.dat_bak", &olen);
        if (ins && out)
            CHECK(read_with(&r, "out3.dat.ins", ins, ilen, NULL, NULL, 0, "out3.dat", out, olen) <
                  0);
        read_free(&r);
        free(ins);
        free(out);
    }

    /* "l7 w w w !part_status! w w !part_time!" */
    if (read_files(&r, dir, "freyberg.mpenpt.ins", "freyberg.mpenpt_bak", delims) == 0) {
        CHECK(r.nobs == 2 && all_read(&r));
        /* line 7: "          1     1  2   0.0000000E+00   0.9077018E+03  1 ..." */
        CHECK_VALUE(&r, "part_status", 2.0);
        CHECK_VALUE(&r, "part_time", 907.7018);
    }
    read_free(&r);
}

/* --- 4. hand-written cases ----------------------------------------------------------------- */

#define CHECK_ERR(ins, out, want)                                                                  \
    do {                                                                                           \
        struct read r_;                                                                            \
        CHECK(read_str(&r_, (ins), (out)) < 0);                                                    \
        CHECK_STR(r_.err.msg, (want));                                                             \
        read_free(&r_);                                                                            \
    } while (0)

static void test_errors(void)
{
    struct read r;
    const char *names[] = {"o1"};

    /* the message of the brief, verbatim */
    CHECK(read_with(&r, "out.dat.ins", "pif ~\nl11\nl1 !h1!\n", 18, NULL, NULL, 0, "out.dat",
                    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\nabc\n", 27) < 0);
    CHECK_STR(r.err.msg, "out.dat.ins:3: instruction '!h1!': cannot read a number from 'abc' "
                         "(out.dat line 12)");
    read_free(&r);

    CHECK_ERR("pif ~\n~ZZZ~ !o1!\n", "1.5\n",
              "out.ins:2: instruction '~ZZZ~': end of file reached while searching for marker "
              "'ZZZ' (out.dat line 2)");
    CHECK_ERR("pif ~\nl1\n~start~ !o1!\n", "start 1.5\n",
              "out.ins:3: instruction '~start~': end of file reached while searching for marker "
              "'start' (out.dat line 2)");
    CHECK_ERR("pof ~\nl1 !o1!\n", "1.5\n",
              "out.ins:1: expected 'pif' or 'jif' at the start of the first line, not 'pof'");
    CHECK_ERR("pif\nl1 !o1!\n", "1.5\n",
              "out.ins:1: expected the header 'pif X', X being the marker character");
    CHECK_ERR("", "1.5\n", "out.ins:1: expected the header 'pif X', X being the marker character");
    CHECK_ERR("pif ~ x\n", "1.5\n",
              "out.ins:1: expected only 'pif X' on the first line, not 'x' after the marker");
    CHECK_ERR("pif ~~\n", "1.5\n", "out.ins:1: the marker must be a single character, not '~~'");
    CHECK_ERR("pif !\n", "1.5\n",
              "out.ins:1: '!' cannot be the marker: it delimits non-fixed observations");
    CHECK_ERR("pif ~\nl1 x5 !o1!\n", "1.5\n",
              "out.ins:2: unrecognized instruction 'x5': expected lN, tN, w, a marker, "
              "[obs]c1:c2, (obs)c1:c2 or !obs!");
    CHECK_ERR("pif ~\nl1 !o1! &\n", "1.5\n",
              "out.ins:2: unrecognized instruction '&': expected lN, tN, w, a marker, "
              "[obs]c1:c2, (obs)c1:c2 or !obs!");
    CHECK_ERR("pif ~\nl1 !h1!\n\nl1 !H1!\n", "1\n2\n",
              "out.ins:4: observation 'H1' is read twice in this file (first at line 2)");
    CHECK_ERR("pif ~\nl1 [a]1:3 (A)4:6\n", "1\n",
              "out.ins:2: observation 'A' is read twice in this file (first at line 2)");
    CHECK_ERR("pif ~\nl1 ~abc !o1!\n", "abc 1\n",
              "out.ins:2: unbalanced marker '~': expected a closing '~'");
    CHECK_ERR("pif ~\n!o1!\n", "1.5\n",
              "out.ins:2: instruction '!o1!': an instruction line must start with a line "
              "advance (lN) or a primary marker");
    CHECK_ERR("pif ~\n~START~\nl0 !o1!\n", "START\n1.5\n",
              "out.ins:3: instruction 'l0': expected l followed by a number of lines >= 1");
    CHECK_ERR("pif ~\nl1 t0\n", "1.5\n",
              "out.ins:2: instruction 't0': expected t followed by a column number >= 1");
    CHECK_ERR("pif ~\nl1 [o1]0:5\n", "1.5\n",
              "out.ins:2: instruction '[o1]0:5': columns 0:5 must satisfy 1 <= c1 <= c2");
    CHECK_ERR("pif ~\nl1 (o1)5:4\n", "1.5\n",
              "out.ins:2: instruction '(o1)5:4': columns 5:4 must satisfy 1 <= c1 <= c2");
    CHECK_ERR("pif ~\nl1 [o1]1\n", "1.5\n",
              "out.ins:2: instruction '[o1]1': expected columns 'c1:c2' after ']'");
    CHECK_ERR("pif ~\nl1 [o1:1:5\n", "1.5\n",
              "out.ins:2: instruction '[o1:1:5': expected ']' after the observation name");
    CHECK_ERR("pif ~\nl1 !o1\n", "1.5\n",
              "out.ins:2: instruction '!o1': expected '!' after the observation name");
    CHECK_ERR("pif ~\nl1 !!\n", "1.5\n",
              "out.ins:2: instruction '!!': the observation name is empty");
    CHECK_ERR("pif ~\n& l1 !o1!\n", "1.5\n",
              "out.ins:2: '&' continues an instruction line, but none comes before it");
    {
        const char ins[] = "pif ~\nl1 !o\0!\n";
        CHECK(read_with(&r, "out.ins", ins, sizeof(ins) - 1, NULL, NULL, 0, "out.dat", "1", 1) < 0);
        CHECK_STR(r.err.msg, "out.ins:2: unexpected NUL byte: an instruction file is text");
        read_free(&r);
    }

    /* run-time errors */
    CHECK_ERR("pif ~\nl2 !o1!\n", "1.5", /* no final newline: no empty line after it */
              "out.ins:2: instruction 'l2': end of file reached while advancing 2 lines "
              "(out.dat line 1)");
    CHECK_ERR("pif ~\nl2 !o1!\n", "1.5\n",
              "out.ins:2: instruction '!o1!': no value left on the line (out.dat line 2)");
    CHECK_ERR("pif ~\nl1 !dum! ~zzz~ !o1!\n", "a 1.5 b\n",
              "out.ins:2: instruction '~zzz~': marker 'zzz' not found in the rest of the line "
              "(out.dat line 1)");
    CHECK_ERR("pif ~\nl1 w !o1!\n", "1.5,2.5\n",
              "out.ins:2: instruction 'w': end of line reached while skipping white space "
              "(out.dat line 1)");
    CHECK_ERR("pif ~\nl1 [o1]1:8\n", "  1.5     \n",
              "out.ins:2: instruction '[o1]1:8': cannot read a number from '  1.5   ' (columns "
              "1-8) (out.dat line 1)");
    CHECK_ERR("pif ~\nl1 [o1]9:12\n", "1.5\n",
              "out.ins:2: instruction '[o1]9:12': the line has only 3 characters (out.dat line "
              "1)");
    CHECK_ERR("pif ~\nl1 !o1! [o2]1:3\n", "1.5 2.5\n",
              "out.ins:2: instruction '[o2]1:3': '1.5' read at columns 1-3 is not after the "
              "cursor: fixed and semi-fixed reads may not move back over text already read "
              "(out.dat line 1)");
    CHECK_ERR("pif ~\nl1 (o1)5:8\n", "aaa          bbb\n",
              "out.ins:2: instruction '(o1)5:8': no value between columns 5 and 8 (out.dat line "
              "1)");
    CHECK_ERR("pif ~\nl1 (o1)1:2\n", "1.5,2.5,3.5\n",
              "out.ins:2: instruction '(o1)1:2': cannot read a number from '1.5,2.5,3.5' "
              "(out.dat line 1)");
    CHECK_ERR("pif ~\nl1 !o1!\n", "1e-400\n", /* stod throws on underflow */
              "out.ins:2: instruction '!o1!': cannot read a number from '1e-400' (out.dat line "
              "1)");
    CHECK_ERR("pif ~\nl1 !o1!\n", "-1e-310\n",
              "out.ins:2: instruction '!o1!': cannot read a number from '-1e-310' (out.dat "
              "line 1)");
    CHECK_ERR("pif ~\nl1 !o1!\n", "1e999\n",
              "out.ins:2: instruction '!o1!': cannot read a number from '1e999' (out.dat line "
              "1)");
    CHECK_ERR("pif ~\nl1 !o1!\n", "-nan\n",
              "out.ins:2: instruction '!o1!': cannot read a number from '-nan' (out.dat line "
              "1)");
    {
        const char out[] = "1.5\0002\n";
        CHECK(read_with(&r, "out.ins", "pif ~\nl1 !o1!\n", 14, NULL, NULL, 0, "out.dat", out,
                        sizeof(out) - 1) < 0);
        read_free(&r);
    }

    /* long texts are clipped in messages */
    {
        struct strbuf ins = {0}, out = {0}, want = {0};
        sb_puts(&ins, "pif ~\nl1 !o1!\n");
        for (int i = 0; i < 100; i++)
            sb_putc(&out, 'x');
        sb_putc(&out, '\n');
        sb_puts(&want, "out.ins:2: instruction '!o1!': cannot read a number from '");
        for (int i = 0; i < 60; i++)
            sb_putc(&want, 'x');
        sb_puts(&want, "...' (out.dat line 1)");
        CHECK_ERR(ins.data, out.data, want.data);
        sb_reset(&ins);
        sb_reset(&want);
        sb_puts(&ins, "pif ~\nl1 ");
        sb_puts(&want, "out.ins:2: unrecognized instruction '");
        for (int i = 0; i < 100; i++)
            sb_putc(&ins, 'q');
        for (int i = 0; i < 60; i++)
            sb_putc(&want, 'q');
        sb_puts(&want, "...': expected lN, tN, w, a marker, [obs]c1:c2, (obs)c1:c2 or !obs!");
        CHECK_ERR(ins.data, out.data, want.data);
        sb_free(&ins);
        sb_free(&out);
        sb_free(&want);
    }

    /* binding */
    CHECK(read_with(&r, "out.ins", "pif ~\nl1 !o1!\nl1 !o2!\n", 22, NULL, names, 1, "out.dat",
                    "1\n2\n", 4) < 0);
    CHECK_STR(r.err.msg, "out.ins:3: observation 'O2' is not in the control file");
    read_free(&r);
    {
        struct pr_error err;
        struct names *obs = names_create();
        struct ins *in = ins_parse("pif ~\nl1 !o1!\n", 14, "out.ins", NULL, &err);
        double v = 0;
        unsigned char seen = 0;
        CHECK(in != NULL);
        CHECK(ins_apply(in, "1\n", 2, "out.dat", &v, &seen, &err) < 0);
        CHECK_STR(err.msg, "out.ins: instructions applied before their observations were bound");
        CHECK(ins_bind(in, obs, &err) < 0); /* a failed bind leaves it unbound */
        CHECK(ins_apply(in, "1\n", 2, "out.dat", &v, &seen, NULL) < 0);
        names_add(obs, "x");
        names_add(obs, "O1");
        CHECK(ins_bind(in, obs, NULL) == 0);
        double vals[2] = {0, 0};
        unsigned char seens[2] = {0, 0};
        CHECK(ins_apply(in, "1\n", 2, "out.dat", vals, seens, NULL) == 0);
        CHECK(vals[1] == 1.0 && seens[1] == 1 && seens[0] == 0);
        /* apply runs many times over the same compiled file */
        CHECK(ins_apply(in, "2", 1, "out.dat", vals, seens, NULL) == 0 && vals[1] == 2.0);
        CHECK(ins_apply(in, "x", 1, "out.dat", vals, seens, NULL) < 0);
        CHECK(ins_apply(in, NULL, 0, "out.dat", vals, seens, NULL) < 0);
        ins_destroy(in);
        names_destroy(obs);
        CHECK(ins_parse(NULL, 0, "x.ins", NULL, NULL) == NULL);
        ins_destroy(NULL);
    }
}

static void test_reads(void)
{
    struct read r;
    struct ins *in;
    struct pr_error err;

    /* the observation list, without dum, upper case, with lines */
    {
        const char *text = "pif ~\nl1 !dum! !a1!\n\n& [Dum]1:2 (b2)3:4\nl1 !DUM! !c3!\n";
        in = ins_parse(text, strlen(text), "x.ins", NULL, &err);
    }
    CHECK_MSG(in != NULL, "%s", err.msg);
    if (in) {
        CHECK(ins_nobs(in) == 3);
        CHECK_STR(ins_obs_name(in, 0), "A1");
        CHECK_STR(ins_obs_name(in, 1), "B2");
        CHECK_STR(ins_obs_name(in, 2), "C3");
        CHECK(ins_obs_line(in, 0) == 2 && ins_obs_line(in, 1) == 4 && ins_obs_line(in, 2) == 5);
        CHECK(ins_obs_name(in, 3) == NULL);
    }
    ins_destroy(in);

    /* l past the end: the first read after a final newline gives an empty line */
    CHECK(read_str(&r, "pif ~\nl1 !o1!\nl1\n", "1.5\n") == 0);
    CHECK_VALUE(&r, "o1", 1.5);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !o1!\nl1\nl1\n", "1.5\n") < 0);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !o1!\nl1\n", "1.5") < 0);
    read_free(&r);
    /* an empty output file has one empty line */
    CHECK(read_str(&r, "pif ~\nl1\n~~ w\n", "") < 0);
    CHECK_STR(r.err.msg, "out.ins:3: instruction '~~': end of file reached while searching for "
                         "marker '' (out.dat line 1)");
    read_free(&r);

    /* markers keep case and spaces; names and letters do not */
    CHECK(read_str(&r, "PIF #\n#The  Value# !Obs! #  and# W !OBS2!\n",
                   "the value 1\nThe  Value 2.5  and 3\n") == 0);
    CHECK_VALUE(&r, "OBS", 2.5);
    CHECK_VALUE(&r, "obs2", 3.0);
    read_free(&r);
    /* markers next to other instructions without blanks */
    CHECK(read_str(&r, "pif ~\nl1~a~!o1!~b~!o2!\n", "a1.5b2.5\n") == 0);
    CHECK_VALUE(&r, "o1", 1.5);
    CHECK_VALUE(&r, "o2", 2.5);
    read_free(&r);
    /* a primary marker never searches the current line */
    CHECK(read_str(&r, "pif ~\nl1 ~A~ !o1!\n~A~ !o2!\n", "A 1\nA 2\n") == 0);
    CHECK_VALUE(&r, "o1", 1.0);
    CHECK_VALUE(&r, "o2", 2.0);
    read_free(&r);
    /* the restart rule: after l2, "advance 2 more lines and try again" */
    CHECK(read_str(&r, "pif ~\nl2 ~X~ w !o1!\n", "1\nA\n3\nX 4\n") == 0);
    CHECK_VALUE(&r, "o1", 4.0);
    read_free(&r);
    /* no restart once something was read: ~X~ after !dum! */
    CHECK(read_str(&r, "pif ~\nl1 !dum! ~X~ !o1!\n", "1\nX 4\n") < 0);
    read_free(&r);
    /* dum skips text that is not a number, and may be given any number of times */
    CHECK(read_str(&r, "pif ~\nl1 [DUM]1:1 (dum)3:3 !dum! !Dum! !o1!\n", "a b c 7 8\n") == 0);
    CHECK_VALUE(&r, "o1", 8.0);
    read_free(&r);
    /* w: leading blanks, a token under the cursor, additional delimiters */
    CHECK(read_with(&r, "out.ins", "pif ~\nl1 w !o1! w w !o2!\n", 25, ";", NULL, 0, "o",
                    "  1;;2;3\n", 9) == 0);
    CHECK_VALUE(&r, "o1", 1.0);
    CHECK_VALUE(&r, "o2", 3.0);
    read_free(&r);
    /* fixed: cut numbers, ranges past the end, the cursor past the first occurrence */
    CHECK(read_str(&r, "pif ~\nl1 [o1]1:4 [o2]9:30\n", "123.456 7.25\n") == 0);
    CHECK_VALUE(&r, "o1", 123.0);
    CHECK_VALUE(&r, "o2", 7.25);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !dum! [o1]5:7 !o2!\n", "1.5 1.5 9.9\n") == 0);
    CHECK_VALUE(&r, "o1", 1.5);
    CHECK_VALUE(&r, "o2", 9.9);
    read_free(&r);
    /* semi-fixed: PEST++ does not move back to the start of the number */
    CHECK(read_str(&r, "pif ~\nl1 (o1)6:8 !dum! !o2!\n", "aaa 123.456 bbb 4\n") == 0);
    CHECK_VALUE(&r, "o1", 23.456);
    CHECK_VALUE(&r, "o2", 4.0);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 (o1)6:8 w !o2!\n", "aaa 123.456 bbb 4\n") < 0); /* bbb */
    read_free(&r);
    /* numbers as std::stod reads them */
    CHECK(read_str(&r, "pif ~\nl1 !a! !b! !c! !d! !e!\n", "+.5 -.25 0x1p3 1E+02 -0\n") == 0);
    CHECK_VALUE(&r, "a", 0.5);
    CHECK_VALUE(&r, "b", -0.25);
    CHECK_VALUE(&r, "c", 8.0);
    CHECK_VALUE(&r, "d", 100.0);
    CHECK(value_of(&r, "e") == 0.0);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !o1!\n", "1.0D+03\n") < 0);
    read_free(&r);

    /* the secondary-marker cut never changes what PEST++ reads: "1.5E3" parses whole */
    CHECK(read_str(&r, "pif ~\nl1 !o1! ~E~ !o2!\n", "1.5E3 E 7\n") == 0);
    CHECK_VALUE(&r, "o1", 1500.0);
    CHECK_VALUE(&r, "o2", 7.0);
    read_free(&r);
    /* ... nor what !dum! skips when PEST++ finds the marker later on the line */
    CHECK(read_str(&r, "pif ~\nl1 !dum! ~%~ !o1!\n", "abc%def 1.5% 2.5\n") == 0);
    CHECK_VALUE(&r, "o1", 2.5);
    read_free(&r);
    /* where PEST++ fails it ends the number at the marker, as PEST does */
    CHECK(read_str(&r, "pif ~\nl1 !o1! ~E~ !o2!\n", "1.5E3 x 7\n") == 0); /* no E after it */
    CHECK_VALUE(&r, "o1", 1.5);
    CHECK_VALUE(&r, "o2", 3.0);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !o1! ~%~ !o2! ~%~\n", "21.3% 4.5%\n") == 0);
    CHECK_VALUE(&r, "o1", 21.3);
    CHECK_VALUE(&r, "o2", 4.5);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !dum! ~%~ !o1!\n", "12.5% 3\n") == 0);
    CHECK_VALUE(&r, "o1", 3.0);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !o1! ~mg/l~\n", "7.25mg/l\n") == 0);
    CHECK_VALUE(&r, "o1", 7.25);
    read_free(&r);
    /* the marker must follow directly */
    CHECK(read_str(&r, "pif ~\nl1 !o1! w ~%~\n", "21.3% x%\n") < 0);
    read_free(&r);
}

static void test_extensions(void)
{
    struct read r;

    /* tab: the remainder starts after column N, forwards or backwards */
    CHECK(read_str(&r, "pif ~\nl1 t5 !o1! t2 !o2!\n", "12345 6.5\n") == 0);
    CHECK_VALUE(&r, "o1", 6.5);
    CHECK_VALUE(&r, "o2", 345.0); /* back to column 2: the remainder is "345 6.5" */
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 t5 !o1!\n", "aaaaa1.5\n") == 0); /* directly after */
    CHECK_VALUE(&r, "o1", 1.5);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 t2 !dum! t3 !o1!\n", "12 34 56\n") == 0);
    CHECK_VALUE(&r, "o1", 34.0); /* after column 3 (the blank): "34" */
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 t50 !o1!\n", "1 2\n") < 0); /* past the end: nothing left */
    CHECK_STR(r.err.msg,
              "out.ins:2: instruction '!o1!': no value left on the line (out.dat line 1)");
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 T3 w !o1!\n", "ab cd 9\n") == 0);
    CHECK_VALUE(&r, "o1", 9.0); /* cursor after column 3 (the blank), w skips "cd" */
    read_free(&r);

    /* '&' continues the previous instruction line, also across blank lines */
    CHECK(read_str(&r, "pif ~\n~S~ !o1!\n& !o2!\n\n  &!o3!\n&\nl1 !o4!\n", "x\nS 1 2 3\n4\n") == 0);
    CHECK_VALUE(&r, "o1", 1.0);
    CHECK_VALUE(&r, "o2", 2.0);
    CHECK_VALUE(&r, "o3", 3.0);
    CHECK_VALUE(&r, "o4", 4.0);
    read_free(&r);
    /* a continued line is one instruction line for the restart rule */
    CHECK(read_str(&r, "pif ~\n~S~\n& ~T~ !o1!\n", "S 1\nS T 2\n") == 0);
    CHECK_VALUE(&r, "o1", 2.0);
    read_free(&r);
    /* errors name the physical line */
    CHECK(read_str(&r, "pif ~\nl1 !o1!\n& !o2!\n", "1 x\n") < 0);
    CHECK_STR(r.err.msg, "out.ins:3: instruction '!o2!': cannot read a number from 'x' (out.dat "
                         "line 1)");
    read_free(&r);
    /* with '&' as the marker there is no continuation (PEST++ reads '&...&' as a marker) */
    CHECK(read_str(&r, "pif &\n&A& !o1!\n", "x\nA 5\n") == 0);
    CHECK_VALUE(&r, "o1", 5.0);
    read_free(&r);

    /* CRLF: fixed reads whose range covers the CR, and everything else */
    CHECK(read_str(&r, "pif ~\r\nl1 [o1]1:6\r\nl1 (o2)1:9 w w !o3!\r\n~M~ !o4!\r\nl1 [o5]1:3\r\n",
                   "  1.5\r\n  2.5 xx 3.5\r\nM 4.5\r\n5.5\r\n") == 0);
    CHECK_VALUE(&r, "o1", 1.5);
    CHECK_VALUE(&r, "o2", 2.5);
    CHECK_VALUE(&r, "o3", 3.5);
    CHECK_VALUE(&r, "o4", 4.5);
    CHECK_VALUE(&r, "o5", 5.5);
    read_free(&r);
    /* a final line with no LF after its CR */
    CHECK(read_str(&r, "pif ~\nl1 [o1]1:9\n", "7.5\r") == 0);
    CHECK_VALUE(&r, "o1", 7.5);
    read_free(&r);
    /* c1 just past the CR is still "inside" the line for dum, as in PEST++ */
    CHECK(read_str(&r, "pif ~\nl1 !o1! [dum]5:6\n", "1.5\r\n") == 0);
    read_free(&r);
    CHECK(read_str(&r, "pif ~\nl1 !o1! [dum]6:6\n", "1.5\r\n") < 0);
    read_free(&r);
}

/* Lines of any length: > 100 kB, long tokens and long markers. */
static void test_long_lines(void)
{
    struct strbuf out = {0}, ins = {0}, num = {0};
    struct read r;
    size_t n = 150000;

    for (size_t i = 0; i < n; i++)
        sb_putc(&out, (char)('a' + i % 26));
    sb_puts(&out, " 42.5 ENDMARK ");
    sb_puts(&num, "1.");
    for (int i = 0; i < 300; i++)
        sb_putc(&num, '0');
    sb_puts(&num, "5e2");
    sb_append(&out, num.data, num.len);
    sb_puts(&out, "\n");
    for (size_t i = 0; i < n; i++)
        sb_putc(&out, ' ');
    sb_puts(&out, "-3.25\n");
    sb_puts(&ins, "pif ~\nl1 w !o1! ~ENDMARK~ !o2!\n");
    CHECK_MSG(read_str(&r, ins.data, out.data) == 0, "%s", r.err.msg);
    CHECK_VALUE(&r, "o1", 42.5);  /* w skips the 150000 letters */
    CHECK_VALUE(&r, "o2", 100.0); /* the 306-character number 1.000...05e2 */
    read_free(&r);
    sb_reset(&ins);
    sb_printf(&ins, "pif ~\nl1 [o3]%zu:%zu ~ENDMARK~ !o2!\n", n + 2, n + 5);
    sb_printf(&ins, "l1 (o4)%zu:%zu\n", n - 5, n + 1);
    CHECK_MSG(read_str(&r, ins.data, out.data) == 0, "%s", r.err.msg);
    CHECK_VALUE(&r, "o3", 42.5);
    CHECK_VALUE(&r, "o4", -3.25);
    read_free(&r);

    /* a primary marker 1000 characters long at the end of a long line */
    sb_reset(&ins);
    sb_reset(&out);
    sb_puts(&ins, "pif ~\n~");
    for (int i = 0; i < 1000; i++)
        sb_putc(&ins, 'M');
    sb_puts(&ins, "~ !o1!\n");
    for (size_t i = 0; i < n + 1000; i++)
        sb_putc(&out, i < n ? (char)('A' + i % 7) : 'M');
    sb_puts(&out, " 6.5\n");
    CHECK(read_str(&r, ins.data, out.data) == 0);
    CHECK_VALUE(&r, "o1", 6.5);
    read_free(&r);

    /* many lines and many observations */
    sb_reset(&ins);
    sb_reset(&out);
    sb_puts(&ins, "pif ~\n");
    for (int i = 0; i < 20000; i++) {
        sb_printf(&ins, "l1 w !v%d!\n", i);
        sb_printf(&out, "row%d %d.5\n", i, i);
    }
    CHECK(read_str(&r, ins.data, out.data) == 0);
    CHECK(r.nobs == 20000 && all_read(&r));
    CHECK_VALUE(&r, "v19999", 19999.5);
    read_free(&r);

    sb_free(&out);
    sb_free(&ins);
    sb_free(&num);
}

int main(void)
{
    const char *shared = check_shared_dir();

    if (shared) {
        test_edge_cases(shared);
        test_tplins(shared);
        test_secondary_markers(shared);
    } else {
        printf("skipped: no shared fixtures\n");
    }
    test_errors();
    test_reads();
    test_extensions();
    test_long_lines();
    return check_done();
}
