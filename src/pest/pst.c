/* The PEST control file reader (SPEC §1). It follows PEST++'s Pest::process_ctl_file: the
 * parser is chosen section by section, names are upper-cased, blank lines and lines starting
 * with '#' are skipped, any line starting with "++" is an option line. */
#include "pst.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_options.h"
#include "../util/csv.h"
#include "../util/strbuf.h"
#include "../util/text.h"

#define PUSH(arr, n, cap)                                                                          \
    ((n) == (cap)                                                                                  \
         ? ((cap) = (cap) ? 2 * (cap) : 16, (arr) = xrealloc((arr), (cap) * sizeof(*(arr))))       \
         : 0,                                                                                      \
     memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

#define MAXTOK 64
#define BLANKS " \t\r\n"

struct pending_name { /* a name resolved once every section has been read */
    char *name;
};

struct tie_line {
    char *child, *parent;
    struct pst_loc loc;
};

struct prior_text {
    struct strbuf text;
    struct pst_loc loc;
};

struct pst_case {
    char *path, *dir;
    struct pst_control ctl;

    struct pst_param *params;
    size_t nparams, capparams;
    struct names *param_names;
    char **param_group; /* group name of each parameter until resolved */

    struct pst_pargp *pargps;
    size_t npargps, cappargps;
    struct names *pargp_names;

    struct pst_obs *obs;
    size_t nobs, capobs;
    struct names *obs_names;
    char **obs_group;

    struct pst_obsgp *obsgps;
    size_t nobsgps, capobsgps;
    struct names *obsgp_names;

    struct pst_prior *prior;
    size_t nprior, capprior;
    struct names *prior_names;
    struct prior_text *prior_text;
    size_t nprior_text, capprior_text;
    char **prior_group;

    struct pst_command *cmds;
    size_t ncmds, capcmds;
    struct pst_io *inputs, *outputs;
    size_t ninputs, capinputs, noutputs, capoutputs;
    struct pst_io *mio; /* "* model input/output" lines, split by NTPLFLE at the end */
    size_t nmio, capmio;

    struct pst_option *opts;
    size_t nopts, capopts;
    struct pst_option *ctlkeys; /* control-data, SVD and regularization fields as given */
    size_t nctlkeys, capctlkeys;
    char **warnings;
    size_t nwarnings, capwarnings;
    char **pool;
    size_t npool, cappool;
    struct tie_line *ties;
    size_t nties, capties;

    int npar_declared;
    int ntplfle;
    int keyword_control;
    int classic_control;
    int has_plusplus;
};

/* -------------------------------------------------------------------------------------------- */
/* small helpers                                                                                */

static const char *keep(struct pst_case *c, const char *s)
{
    char **slot = PUSH(c->pool, c->npool, c->cappool);
    *slot = xstrdup(s);
    return *slot;
}

static void warn(struct pst_case *c, const char *fmt, ...) PR_PRINTF(2, 3);
static void warn(struct pst_case *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char **slot = PUSH(c->warnings, c->nwarnings, c->capwarnings);
    *slot = xstrdup(buf);
}

static void remove_quotes(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++)
        if (*r != '\'' && *r != '"') *w++ = *r;
    *w = '\0';
}

static void strip_comment(char *s)
{
    char *h = strchr(s, '#');
    if (h) *h = '\0';
}

struct field_ctx {
    const char *file;
    int line;
    struct pr_error *err;
    const char *item; /* "parameter 'K1'" etc., or NULL */
};

#define ITEM(f) ((f)->item ? (f)->item : ""), ((f)->item ? ": " : "")

static int get_double(const struct field_ctx *f, const char *what, const char *tok, double *out)
{
    if (!tok)
        return pr_error_set(f->err, "%s:%d: %s%smissing %s: expected a number", f->file, f->line,
                            ITEM(f), what);
    if (pr_parse_double(tok, out, 1) < 0)
        return pr_error_set(f->err, "%s:%d: %s%s%s: expected a number, got '%s'", f->file, f->line,
                            ITEM(f), what, tok);
    return 0;
}

static int get_int(const struct field_ctx *f, const char *what, const char *tok, int *out)
{
    if (!tok)
        return pr_error_set(f->err, "%s:%d: %s%smissing %s: expected an integer", f->file, f->line,
                            ITEM(f), what);
    if (pr_parse_int(tok, out) < 0)
        return pr_error_set(f->err, "%s:%d: %s%s%s: expected an integer, got '%s'", f->file,
                            f->line, ITEM(f), what, tok);
    return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* defaults                                                                                     */

static void set_defaults(struct pst_control *ctl)
{
    memset(ctl, 0, sizeof(*ctl));
    ctl->pestmode = PST_MODE_ESTIMATION;
    ctl->numcom = 1;
    ctl->rlambda1 = 10.0;
    ctl->rlamfac = -2.0;
    ctl->phiratsuf = 0.3;
    ctl->phiredlam = 0.01;
    ctl->numlam = 10;
    ctl->relparmax = 1.0;
    ctl->facparmax = 1.1;
    ctl->facorig = 0.001;
    ctl->phiredswh = 0.1;
    ctl->noptswitch = 1;
    ctl->splitswh = 1.1;
    ctl->noptmax = 0;
    ctl->phiredstp = 0.01;
    ctl->nphistp = 3;
    ctl->nphinored = 3;
    ctl->relparstp = 0.01;
    ctl->nrelpar = 3;
    ctl->maxsing = 1000000;
    ctl->eigthresh = 1e-6;
    ctl->phimlim = 1e-10;
    ctl->phimaccept = 1.1e-10;
    ctl->fracphim = 1.0;
    ctl->wfinit = 1.0;
    ctl->wfmin = 1e-10;
    ctl->wfmax = 1e10;
    ctl->wffac = 1.3;
    ctl->wftol = 1e-2;
    ctl->iregadj = 0;
}

/* -------------------------------------------------------------------------------------------- */
/* ++ options                                                                                   */

/* Unknown keys are kept: pst_check_support() reports them with the options pestrun does not
 * implement. */
static int add_option(struct pst_case *c, const char *key, const char *value,
                      const struct pst_loc *loc, int plusplus, struct pr_error *err)
{
    char buf[256];
    int known;
    const char *canon = pst_option_canonical(key, buf, sizeof(buf), &known);

    for (size_t i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].key, canon) == 0)
            return pr_error_set(err, "%s:%d: option '%s' is given twice (first at line %d)",
                                loc->file, loc->line, key, c->opts[i].loc.line);
    struct pst_option *o = PUSH(c->opts, c->nopts, c->capopts);
    o->key = keep(c, canon);
    o->name = keep(c, key);
    o->plusplus = plusplus;
    if (pst_option_keeps_case(canon)) {
        o->value = keep(c, value);
    } else {
        char *up = xstrdup(value);
        pr_upper(up);
        o->value = keep(c, up);
        free(up);
    }
    o->loc = *loc;
    return 0;
}

/* "++ key1(value) key2(v1,v2)  # comment" (SPEC §1.13). */
static int parse_plusplus(struct pst_case *c, char *line, const struct pst_loc *loc,
                          struct pr_error *err)
{
    char *s;
    strip_comment(line);
    remove_quotes(line);
    s = pr_strip(line, "+ \t");
    while (*s) {
        char *open = strchr(s, '(');
        char *close = open ? strchr(open, ')') : NULL;
        if (!open || !close)
            return pr_error_set(err, "%s:%d: ++ option '%s': expected KEY(VALUE)", loc->file,
                                loc->line, s);
        *open = '\0';
        *close = '\0';
        char *key = pr_strip(s, BLANKS);
        char *value = pr_strip(open + 1, BLANKS);
        if (!*key)
            return pr_error_set(err, "%s:%d: ++ option with an empty name", loc->file, loc->line);
        if (add_option(c, key, value, loc, 1, err) < 0) return -1;
        s = pr_strip(close + 1, BLANKS ",");
    }
    return 0;
}

static const struct pst_option *find_option(const struct pst_case *c, const char *key)
{
    char buf[256];
    int known;
    const char *canon = pst_option_canonical(key, buf, sizeof(buf), &known);
    for (size_t i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].key, canon) == 0) return &c->opts[i];
    return NULL;
}

const char *pst_opt_str(const struct pst_case *c, const char *key, const char *dflt)
{
    const struct pst_option *o = find_option(c, key);
    return o ? o->value : dflt;
}

int pst_opt_bool(const struct pst_case *c, const char *key, int dflt, int *out,
                 struct pr_error *err)
{
    const struct pst_option *o = find_option(c, key);
    *out = dflt;
    if (o && pr_parse_bool(o->value, out) < 0)
        return pr_error_set(err, "%s:%d: option %s: expected true or false, got '%s'", o->loc.file,
                            o->loc.line, o->key, o->value);
    return 0;
}

int pst_opt_int(const struct pst_case *c, const char *key, int dflt, int *out, struct pr_error *err)
{
    const struct pst_option *o = find_option(c, key);
    *out = dflt;
    if (o && pr_parse_int(o->value, out) < 0)
        return pr_error_set(err, "%s:%d: option %s: expected an integer, got '%s'", o->loc.file,
                            o->loc.line, o->key, o->value);
    return 0;
}

int pst_opt_double(const struct pst_case *c, const char *key, double dflt, double *out,
                   struct pr_error *err)
{
    const struct pst_option *o = find_option(c, key);
    *out = dflt;
    if (o && pr_parse_double(o->value, out, 0) < 0)
        return pr_error_set(err, "%s:%d: option %s: expected a number, got '%s'", o->loc.file,
                            o->loc.line, o->key, o->value);
    return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* control data (classic, positional)                                                           */

static void record_key(struct pst_case *c, const char *key, const char *value,
                       const struct field_ctx *f)
{
    struct pst_option *o = PUSH(c->ctlkeys, c->nctlkeys, c->capctlkeys);
    o->key = key; /* a string literal of the field tables */
    o->name = key;
    o->value = keep(c, value);
    o->loc.file = f->file;
    o->loc.line = f->line;
}

/* Record the positional fields tok[0..n-1] of a classic line under their PEST names. */
static void record_fields(struct pst_case *c, const char *const *names, char **tok, size_t n,
                          const struct field_ctx *f)
{
    for (size_t i = 0; i < n && names[i]; i++)
        record_key(c, names[i], tok[i], f);
}

/* PEST's names of the fields of each line of '* control data', '* singular value
 * decomposition' and '* regularization' (PEST manual; pyemu's pst_controldata.py). */
static const char *const control_fields[9][11] = {
    {NULL},
    {"RSTFLE", "PESTMODE"},
    {"NPAR", "NOBS", "NPARGP", "NPRIOR", "NOBSGP", "MAXCOMPDIM"},
    {"NTPLFLE", "NINSFLE", "PRECIS", "DPOINT", "NUMCOM", "JACFILE", "MESSFILE", "OBSREREF"},
    {"RLAMBDA1", "RLAMFAC", "PHIRATSUF", "PHIREDLAM", "NUMLAM", "JACUPDATE", "LAMFORGIVE",
     "DERFORGIVE"},
    {"RELPARMAX", "FACPARMAX", "FACORIG", "IBOUNDSTICK", "UPVECBEND"},
    {"PHIREDSWH", "NOPTSWITCH", "SPLITSWH"},
    {"NOPTMAX", "PHIREDSTP", "NPHISTP", "NPHINORED", "RELPARSTP", "NRELPAR", "PHISTOPTHRESH",
     "LASTRUN", "PHIABANDON"},
    {"ICOV", "ICOR", "IEIG", "IRES", "JCOSAVE", "VERBOSEREC", "JCOSAVEITN", "REISAVEITN",
     "PARSAVEITN", "PARSAVERUN"},
};
static const char *const svd_fields[4][3] = {
    {NULL}, {"SVDMODE"}, {"MAXSING", "EIGTHRESH"}, {"EIGWRITE"}};
static const char *const regul_fields[4][6] = {
    {NULL},
    {"PHIMLIM", "PHIMACCEPT", "FRACPHIM", "MEMSAVE"},
    {"WFINIT", "WFMIN", "WFMAX", "LINREG", "REGCONTINUE"},
    {"WFFAC", "WFTOL", "IREGADJ"}};

static int parse_pestmode(struct pst_case *c, const struct field_ctx *f, const char *tok)
{
    if (pr_strieq(tok, "estimation"))
        c->ctl.pestmode = PST_MODE_ESTIMATION;
    else if (pr_strieq(tok, "regularization") || pr_strieq(tok, "regularisation"))
        c->ctl.pestmode = PST_MODE_REGULARIZATION;
    else if (pr_strieq(tok, "pareto"))
        c->ctl.pestmode = PST_MODE_PARETO;
    else
        return pr_error_set(f->err,
                            "%s:%d: PESTMODE '%s': expected estimation, regularization or pareto",
                            f->file, f->line, tok);
    return 0;
}

/* Remove PEST's text flags (aui, senreuse, boundscale, ...) from a token list. */
static size_t drop_text_flags(char **tok, size_t n)
{
    static const char *const flags[] = {"aui",        "auid",         "noaui",
                                        "senreuse",   "nsenreuse",    "nosenreuse",
                                        "boundscale", "noboundscale", NULL};
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        int drop = 0;
        for (size_t k = 0; flags[k]; k++)
            if (pr_strieq(tok[i], flags[k])) drop = 1;
        if (!drop) tok[w++] = tok[i];
    }
    return w;
}

static int control_line(struct pst_case *c, int idx, char *line, const struct field_ctx *f)
{
    char *tok[MAXTOK];
    size_t n = pr_tokenize(line, BLANKS, tok, MAXTOK);
    struct pst_control *ctl = &c->ctl;
    double d;
    int i;

    if (n > MAXTOK) n = MAXTOK;
    if (idx >= 1 && idx <= 8 && idx != 6) record_fields(c, control_fields[idx], tok, n, f);
    switch (idx) {
    case 1:
        if (n < 2)
            return pr_error_set(f->err, "%s:%d: control data line 1: expected RSTFLE PESTMODE",
                                f->file, f->line);
        return parse_pestmode(c, f, tok[1]);
    case 2:
        return get_int(f, "NPAR", n ? tok[0] : NULL, &c->npar_declared);
    case 3:
        if (get_int(f, "NTPLFLE", n ? tok[0] : NULL, &c->ntplfle) < 0) return -1;
        ctl->numcom = 0;
        if (n > 4 && pr_parse_int(tok[4], &i) == 0) ctl->numcom = i;
        return 0;
    case 4: /* PEST's lambda controls: read when well formed, unused by PEST++ */
        if (n > 0 && pr_parse_double(tok[0], &d, 0) == 0) ctl->rlambda1 = d;
        if (n > 1 && pr_parse_double(tok[1], &d, 0) == 0) ctl->rlamfac = d;
        if (n > 2 && pr_parse_double(tok[2], &d, 0) == 0) ctl->phiratsuf = d;
        if (n > 3 && pr_parse_double(tok[3], &d, 0) == 0) ctl->phiredlam = d;
        if (n > 4 && pr_parse_int(tok[4], &i) == 0) ctl->numlam = i;
        return 0;
    case 5:
        if (get_double(f, "RELPARMAX", n > 0 ? tok[0] : NULL, &ctl->relparmax) < 0 ||
            get_double(f, "FACPARMAX", n > 1 ? tok[1] : NULL, &ctl->facparmax) < 0 ||
            get_double(f, "FACORIG", n > 2 ? tok[2] : NULL, &ctl->facorig) < 0)
            return -1;
        return 0;
    case 6:
        n = drop_text_flags(tok, n);
        record_fields(c, control_fields[6], tok, n, f);
        if (get_double(f, "PHIREDSWH", n > 0 ? tok[0] : NULL, &ctl->phiredswh) < 0) return -1;
        if (n > 1 && get_int(f, "NOPTSWITCH", tok[1], &ctl->noptswitch) < 0) return -1;
        if (n > 2 && get_double(f, "SPLITSWH", tok[2], &ctl->splitswh) < 0) return -1;
        return 0;
    case 7:
        if (n < 6)
            return pr_error_set(f->err,
                                "%s:%d: control data line 7: expected NOPTMAX PHIREDSTP NPHISTP "
                                "NPHINORED RELPARSTP NRELPAR",
                                f->file, f->line);
        if (get_int(f, "NOPTMAX", tok[0], &ctl->noptmax) < 0 ||
            get_double(f, "PHIREDSTP", tok[1], &ctl->phiredstp) < 0 ||
            get_int(f, "NPHISTP", tok[2], &ctl->nphistp) < 0 ||
            get_int(f, "NPHINORED", tok[3], &ctl->nphinored) < 0 ||
            get_double(f, "RELPARSTP", tok[4], &ctl->relparstp) < 0 ||
            get_int(f, "NRELPAR", tok[5], &ctl->nrelpar) < 0)
            return -1;
        return 0;
    case 8: /* ICOV ICOR IEIG ...: PEST's output flags, unused by PEST++ */
        return 0;
    default:
        warn(c, "%s:%d: unused line in control data", f->file, f->line);
        return 0;
    }
}

static int svd_line(struct pst_case *c, int idx, char *line, const struct field_ctx *f)
{
    char *tok[MAXTOK];
    size_t n = pr_tokenize(line, BLANKS, tok, MAXTOK);
    c->ctl.has_svd = 1;
    if (n > MAXTOK) n = MAXTOK;
    if (idx >= 1 && idx <= 3) record_fields(c, svd_fields[idx], tok, n, f);
    if (idx == 2) {
        if (get_int(f, "MAXSING", n > 0 ? tok[0] : NULL, &c->ctl.maxsing) < 0 ||
            get_double(f, "EIGTHRESH", n > 1 ? tok[1] : NULL, &c->ctl.eigthresh) < 0)
            return -1;
    }
    return 0;
}

static int regul_line(struct pst_case *c, int idx, char *line, const struct field_ctx *f)
{
    char *tok[MAXTOK];
    size_t n = pr_tokenize(line, BLANKS, tok, MAXTOK);
    struct pst_control *ctl = &c->ctl;
    if (n > MAXTOK) n = MAXTOK;
    if (idx >= 1 && idx <= 3) record_fields(c, regul_fields[idx], tok, n, f);
    if (idx == 1) {
        if (get_double(f, "PHIMLIM", n > 0 ? tok[0] : NULL, &ctl->phimlim) < 0 ||
            get_double(f, "PHIMACCEPT", n > 1 ? tok[1] : NULL, &ctl->phimaccept) < 0)
            return -1;
        if (n > 2 && get_double(f, "FRACPHIM", tok[2], &ctl->fracphim) < 0) return -1;
    } else if (idx == 2) {
        if (get_double(f, "WFINIT", n > 0 ? tok[0] : NULL, &ctl->wfinit) < 0 ||
            get_double(f, "WFMIN", n > 1 ? tok[1] : NULL, &ctl->wfmin) < 0 ||
            get_double(f, "WFMAX", n > 2 ? tok[2] : NULL, &ctl->wfmax) < 0)
            return -1;
    } else if (idx == 3) {
        if (get_double(f, "WFFAC", n > 0 ? tok[0] : NULL, &ctl->wffac) < 0 ||
            get_double(f, "WFTOL", n > 1 ? tok[1] : NULL, &ctl->wftol) < 0)
            return -1;
        if (n > 2 && get_int(f, "IREGADJ", tok[2], &ctl->iregadj) < 0) return -1;
    }
    return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* control data keyword (version 2)                                                             */

struct keyword {
    const char *key;
    char type; /* 'i' int, 'd' double, 'm' pestmode, 'u' unused */
    size_t offset;
};

#define CTL(field) offsetof(struct pst_control, field)
static const struct keyword control_keys[] = {
    {"PESTMODE", 'm', 0},
    {"NUMCOM", 'i', CTL(numcom)},
    {"RLAMBDA1", 'd', CTL(rlambda1)},
    {"RLAMFAC", 'd', CTL(rlamfac)},
    {"PHIRATSUF", 'd', CTL(phiratsuf)},
    {"PHIREDLAM", 'd', CTL(phiredlam)},
    {"NUMLAM", 'i', CTL(numlam)},
    {"RELPARMAX", 'd', CTL(relparmax)},
    {"FACPARMAX", 'd', CTL(facparmax)},
    {"FACORIG", 'd', CTL(facorig)},
    {"PHIREDSWH", 'd', CTL(phiredswh)},
    {"NOPTSWITCH", 'i', CTL(noptswitch)},
    {"SPLITSWH", 'd', CTL(splitswh)},
    {"NOPTMAX", 'i', CTL(noptmax)},
    {"PHIREDSTP", 'd', CTL(phiredstp)},
    {"NPHISTP", 'i', CTL(nphistp)},
    {"NPHINORED", 'i', CTL(nphinored)},
    {"RELPARSTP", 'd', CTL(relparstp)},
    {"NRELPAR", 'i', CTL(nrelpar)},
    {"MAXSING", 'i', CTL(maxsing)},
    {"EIGTHRESH", 'd', CTL(eigthresh)},
    {"PHIMLIM", 'd', CTL(phimlim)},
    {"PHIMACCEPT", 'd', CTL(phimaccept)},
    {"FRACPHIM", 'd', CTL(fracphim)},
    {"WFINIT", 'd', CTL(wfinit)},
    {"WFMIN", 'd', CTL(wfmin)},
    {"WFMAX", 'd', CTL(wfmax)},
    {"WFFAC", 'd', CTL(wffac)},
    {"WFTOL", 'd', CTL(wftol)},
    {"IREGADJ", 'i', CTL(iregadj)},
    {"RSTFLE", 'u', 0},
    {"NPAR", 'u', 0},
    {"NOBS", 'u', 0},
    {"NPARGP", 'u', 0},
    {"NPRIOR", 'u', 0},
    {"NOBSGP", 'u', 0},
    {"MAXCOMPDIM", 'u', 0},
    {"NTPLFLE", 'u', 0},
    {"NINSFLE", 'u', 0},
    {"PRECIS", 'u', 0},
    {"DPOINT", 'u', 0},
    {"JACFILE", 'u', 0},
    {"MESSFILE", 'u', 0},
    {"OBSREREF", 'u', 0},
    {"JACUPDATE", 'u', 0},
    {"LAMFORGIVE", 'u', 0},
    {"DERFORGIVE", 'u', 0},
    {"IBOUNDSTICK", 'u', 0},
    {"UPVECBEND", 'u', 0},
    {"DOAUI", 'u', 0},
    {"DOSENREUSE", 'u', 0},
    {"DOSENRESUSE", 'u', 0},
    {"BOUNDSCALE", 'u', 0},
    {"PHISTOPTHRESH", 'u', 0},
    {"LASTRUN", 'u', 0},
    {"PHIABANDON", 'u', 0},
    {"ICOV", 'u', 0},
    {"ICOR", 'u', 0},
    {"IEIG", 'u', 0},
    {"IRES", 'u', 0},
    {"JCOSAVE", 'u', 0},
    {"VERBOSEREC", 'u', 0},
    {"JCOSAVEITN", 'u', 0},
    {"REISAVEITN", 'u', 0},
    {"PARSAVEITN", 'u', 0},
    {"PARSAVERUN", 'u', 0},
    {"SVDMODE", 'u', 0},
    {"EIGWRITE", 'u', 0},
    {"MEMSAVE", 'u', 0},
    {"LINREG", 'u', 0},
    {"REGCONTINUE", 'u', 0},
    {NULL, 0, 0},
};

static int keyword_line(struct pst_case *c, char *line, const struct pst_loc *loc,
                        struct pr_error *err)
{
    struct field_ctx f = {loc->file, loc->line, err, NULL};
    char *key, *value;

    strip_comment(line);
    remove_quotes(line);
    key = pr_strip(line, BLANKS);
    if (!*key) return 0;
    value = key + strcspn(key, " \t");
    if (*value) *value++ = '\0';
    value = pr_strip(value, BLANKS);
    for (size_t i = 0; control_keys[i].key; i++) {
        const struct keyword *k = &control_keys[i];
        if (!pr_strieq(k->key, key)) continue;
        char *field = (char *)&c->ctl + k->offset;
        record_key(c, k->key, value, &f); /* pst_check_support() judges the unused ones */
        switch (k->type) {
        case 'm':
            return parse_pestmode(c, &f, value);
        case 'i':
            return get_int(&f, k->key, *value ? value : NULL, (int *)(void *)field);
        case 'd':
            return get_double(&f, k->key, *value ? value : NULL, (double *)(void *)field);
        default:
            return 0;
        }
    }
    return add_option(c, key, value, loc, 0, err);
}

/* -------------------------------------------------------------------------------------------- */
/* groups, parameters, observations                                                            */

static int parse_inctyp(const struct field_ctx *f, const char *t, enum pst_inctyp *out)
{
    if (pr_strieq(t, "relative"))
        *out = PST_INC_RELATIVE;
    else if (pr_strieq(t, "absolute"))
        *out = PST_INC_ABSOLUTE;
    else if (pr_strieq(t, "rel_to_max"))
        *out = PST_INC_REL_TO_MAX;
    else
        return pr_error_set(f->err, "%s:%d: INCTYP '%s': expected relative, absolute or rel_to_max",
                            f->file, f->line, t);
    return 0;
}

static void default_group(struct pst_pargp *g)
{
    g->inctyp = PST_INC_RELATIVE;
    g->derinc = 0.01;
    g->derinclb = 0.0;
    g->forcen = PST_FORCEN_SWITCH;
    g->derincmul = 2.0;
    g->dermthd = PST_DER_PARABOLIC;
    g->splitthresh = 1e-5;
    g->splitreldiff = 0.5;
}

/* One parameter group from its fields (classic line or CSV row). tok[0..6] are required. */
static int add_pargp(struct pst_case *c, char **tok, size_t n, const struct field_ctx *f)
{
    struct pst_pargp g;
    int idx;

    if (n < 7)
        return pr_error_set(f->err,
                            "%s:%d: parameter group: expected PARGPNME INCTYP DERINC DERINCLB "
                            "FORCEN DERINCMUL DERMTHD",
                            f->file, f->line);
    default_group(&g);
    g.defined = 1;
    if (parse_inctyp(f, tok[1], &g.inctyp) < 0 || get_double(f, "DERINC", tok[2], &g.derinc) < 0 ||
        get_double(f, "DERINCLB", tok[3], &g.derinclb) < 0 ||
        get_double(f, "DERINCMUL", tok[5], &g.derincmul) < 0)
        return -1;
    if (pr_strieq(tok[4], "always_2"))
        g.forcen = PST_FORCEN_ALWAYS_2;
    else if (pr_strieq(tok[4], "always_3"))
        g.forcen = PST_FORCEN_ALWAYS_3;
    else if (pr_strieq(tok[4], "switch"))
        g.forcen = PST_FORCEN_SWITCH;
    else
        warn(c, "%s:%d: FORCEN '%s' is not always_2, always_3 or switch: using switch", f->file,
             f->line, tok[4]);
    if (pr_strieq(tok[6], "parabolic"))
        g.dermthd = PST_DER_PARABOLIC;
    else if (pr_strieq(tok[6], "outside_pts"))
        g.dermthd = PST_DER_OUTSIDE_PTS;
    else if (pr_strieq(tok[6], "best_fit"))
        g.dermthd = PST_DER_BEST_FIT;
    else
        return pr_error_set(f->err,
                            "%s:%d: DERMTHD '%s': expected parabolic, outside_pts or best_fit",
                            f->file, f->line, tok[6]);
    if (n > 7 && tok[7] && *tok[7] && get_double(f, "SPLITTHRESH", tok[7], &g.splitthresh) < 0)
        return -1;
    if (n > 8 && tok[8] && *tok[8] && get_double(f, "SPLITRELDIFF", tok[8], &g.splitreldiff) < 0)
        return -1;
    idx = names_add(c->pargp_names, tok[0]);
    if (idx < 0)
        return pr_error_set(f->err, "%s:%d: parameter group '%s' is defined twice", f->file,
                            f->line, tok[0]);
    g.name = names_get(c->pargp_names, (size_t)idx);
    g.loc.file = f->file;
    g.loc.line = f->line;
    *PUSH(c->pargps, c->npargps, c->cappargps) = g;
    return 0;
}

/* tok: PARNME PARTRANS PARCHGLIM PARVAL1 PARLBND PARUBND PARGP SCALE OFFSET [DERCOM] */
static int add_param(struct pst_case *c, char **tok, size_t n, const struct field_ctx *f)
{
    struct pst_param p;
    int idx;

    memset(&p, 0, sizeof(p));
    p.stdev = NAN;
    if (n < 9)
        return pr_error_set(f->err,
                            "%s:%d: parameter: expected PARNME PARTRANS PARCHGLIM PARVAL1 PARLBND "
                            "PARUBND PARGP SCALE OFFSET",
                            f->file, f->line);
    if (pr_strieq(tok[1], "none"))
        p.trans = PST_TRANS_NONE;
    else if (pr_strieq(tok[1], "log"))
        p.trans = PST_TRANS_LOG;
    else if (pr_strieq(tok[1], "fixed"))
        p.trans = PST_TRANS_FIXED;
    else if (pr_strieq(tok[1], "tied"))
        p.trans = PST_TRANS_TIED;
    else
        return pr_error_set(f->err,
                            "%s:%d: parameter '%s': PARTRANS '%s': expected none, log, fixed or "
                            "tied",
                            f->file, f->line, tok[0], tok[1]);
    if (pr_strieq(tok[2], "relative"))
        p.chglim = PST_CHG_RELATIVE;
    else if (pr_strieq(tok[2], "factor"))
        p.chglim = PST_CHG_FACTOR;
    else if (pr_istarts(tok[2], "absolute"))
        p.chglim = PST_CHG_ABSOLUTE;
    else
        return pr_error_set(f->err,
                            "%s:%d: parameter '%s': PARCHGLIM '%s': expected relative or factor",
                            f->file, f->line, tok[0], tok[2]);
    struct strbuf item = {0};
    sb_printf(&item, "parameter '%s'", tok[0]);
    struct field_ctx fi = {f->file, f->line, f->err, item.data};
    p.dercom = 1;
    int bad = get_double(&fi, "PARVAL1", tok[3], &p.parval1) < 0 ||
              get_double(&fi, "PARLBND", tok[4], &p.lbnd) < 0 ||
              get_double(&fi, "PARUBND", tok[5], &p.ubnd) < 0 ||
              get_double(&fi, "SCALE", tok[7], &p.scale) < 0 ||
              get_double(&fi, "OFFSET", tok[8], &p.offset) < 0 ||
              (c->ctl.numcom > 1 && n > 9 && get_int(&fi, "DERCOM", tok[9], &p.dercom) < 0);
    sb_free(&item);
    if (bad) return -1;
    idx = names_add(c->param_names, tok[0]);
    if (idx < 0)
        return pr_error_set(f->err, "%s:%d: parameter '%s' is defined twice", f->file, f->line,
                            tok[0]);
    p.name = names_get(c->param_names, (size_t)idx);
    p.tied_parent = -1;
    p.tied_ratio = 1.0;
    p.loc.file = f->file;
    p.loc.line = f->line;
    *PUSH(c->params, c->nparams, c->capparams) = p;
    c->param_group = xrealloc(c->param_group, c->capparams * sizeof(char *));
    c->param_group[c->nparams - 1] = xstrdup(tok[6]);
    return 0;
}

static int add_tie(struct pst_case *c, char **tok, size_t n, const struct field_ctx *f)
{
    if (n < 2)
        return pr_error_set(f->err, "%s:%d: tied parameter line: expected PARNME PARTIED", f->file,
                            f->line);
    struct tie_line *t = PUSH(c->ties, c->nties, c->capties);
    t->child = xstrdup(tok[0]);
    t->parent = xstrdup(tok[1]);
    t->loc.file = f->file;
    t->loc.line = f->line;
    return 0;
}

static int add_obsgp(struct pst_case *c, const char *name, const struct field_ctx *f)
{
    int idx = names_add(c->obsgp_names, name);
    if (idx < 0)
        return pr_error_set(f->err, "%s:%d: observation group '%s' is defined twice", f->file,
                            f->line, name);
    struct pst_obsgp *g = PUSH(c->obsgps, c->nobsgps, c->capobsgps);
    g->name = names_get(c->obsgp_names, (size_t)idx);
    g->regul = pr_istarts(g->name, "REGUL");
    g->loc.file = f->file;
    g->loc.line = f->line;
    return 0;
}

/* tok: OBSNME OBSVAL WEIGHT OBGNME */
static int add_obs(struct pst_case *c, char **tok, size_t n, const struct field_ctx *f)
{
    struct pst_obs o;
    int idx;

    memset(&o, 0, sizeof(o));
    o.stdev = NAN;
    if (n < 4)
        return pr_error_set(f->err, "%s:%d: observation: expected OBSNME OBSVAL WEIGHT OBGNME",
                            f->file, f->line);
    if (pr_strieq(tok[0], "dum"))
        return pr_error_set(f->err,
                            "%s:%d: 'dum' is reserved for instruction files and cannot name an "
                            "observation",
                            f->file, f->line);
    struct strbuf item = {0};
    sb_printf(&item, "observation '%s'", tok[0]);
    struct field_ctx fi = {f->file, f->line, f->err, item.data};
    int bad = get_double(&fi, "OBSVAL", tok[1], &o.value) < 0 ||
              get_double(&fi, "WEIGHT", tok[2], &o.weight) < 0;
    sb_free(&item);
    if (bad) return -1;
    if (o.weight < 0)
        return pr_error_set(f->err, "%s:%d: observation '%s': weight %g is negative", f->file,
                            f->line, tok[0], o.weight);
    idx = names_add(c->obs_names, tok[0]);
    if (idx < 0)
        return pr_error_set(f->err, "%s:%d: observation '%s' is defined twice", f->file, f->line,
                            tok[0]);
    o.name = names_get(c->obs_names, (size_t)idx);
    o.loc.file = f->file;
    o.loc.line = f->line;
    *PUSH(c->obs, c->nobs, c->capobs) = o;
    c->obs_group = xrealloc(c->obs_group, c->capobs * sizeof(char *));
    c->obs_group[c->nobs - 1] = xstrdup(tok[3]);
    return 0;
}

static int add_io(struct pst_case *c, struct pst_io **arr, size_t *n, size_t *cap, char **tok,
                  size_t ntok, const struct field_ctx *f, const char *what)
{
    if (ntok != 2)
        return pr_error_set(f->err, "%s:%d: %s: expected exactly two file names, got %zu", f->file,
                            f->line, what, ntok);
    struct pst_io *io = PUSH(*arr, *n, *cap);
    remove_quotes(tok[0]);
    remove_quotes(tok[1]);
    io->pest_file = keep(c, tok[0]);
    io->model_file = keep(c, tok[1]);
    io->loc.file = f->file;
    io->loc.line = f->line;
    return 0;
}

static void add_command(struct pst_case *c, char *line, const struct field_ctx *f)
{
    if (strchr(line, '\'') || strchr(line, '"'))
        warn(c, "%s:%d: quotes are removed from model command lines, as PEST++ does", f->file,
             f->line);
    remove_quotes(line);
    struct pst_command *cmd = PUSH(c->cmds, c->ncmds, c->capcmds);
    cmd->line = keep(c, line);
    cmd->loc.file = f->file;
    cmd->loc.line = f->line;
}

static void add_prior_text(struct pst_case *c, const char *line, const struct field_ctx *f)
{
    if (line[0] == '&' && c->nprior_text > 0) {
        struct prior_text *pt = &c->prior_text[c->nprior_text - 1];
        sb_putc(&pt->text, ' ');
        sb_puts(&pt->text, line + 1);
        return;
    }
    struct prior_text *pt = PUSH(c->prior_text, c->nprior_text, c->capprior_text);
    sb_puts(&pt->text, line);
    pt->loc.file = f->file;
    pt->loc.line = f->line;
}

/* -------------------------------------------------------------------------------------------- */
/* external (version 2) sections                                                               */

enum ext_kind { EXT_PARGP, EXT_PARAM, EXT_OBSGP, EXT_OBS, EXT_INPUT, EXT_OUTPUT, EXT_PRIOR };

struct column {
    const char *names[3]; /* formal name, alias */
    int required;
};

static int ext_columns(const struct csv *t, const struct column *cols, size_t ncols, int *idx,
                       const char *file, struct pr_error *err)
{
    for (size_t i = 0; i < ncols; i++) {
        idx[i] = csv_find(t, cols[i].names);
        if (idx[i] < 0 && cols[i].required)
            return pr_error_set(err, "%s:1: missing column '%s'%s%s%s", file, cols[i].names[0],
                                cols[i].names[1] ? " (or '" : "",
                                cols[i].names[1] ? cols[i].names[1] : "",
                                cols[i].names[1] ? "')" : "");
    }
    return 0;
}

static int ext_rows(struct pst_case *c, enum ext_kind kind, struct csv *t, const char *file,
                    struct pr_error *err)
{
    static const struct column par_cols[] = {
        {{"PARNME", "NAME"}, 1},
        {{"PARTRANS", "TRANSFORM"}, 1},
        {{"PARCHGLIM", "CHANGE_LIMIT"}, 1},
        {{"PARVAL1", "VALUE"}, 1},
        {{"PARLBND", "LOWER_BOUND"}, 1},
        {{"PARUBND", "UPPER_BOUND"}, 1},
        {{"PARGP", "GROUP"}, 1},
        {{"SCALE"}, 1},
        {{"OFFSET"}, 1},
        {{"DERCOM"}, 1},
        {{"PARTIED"}, 0},
        {{"STANDARD_DEVIATION"}, 0},
    };
    static const struct column obs_cols[] = {
        {{"OBSNME", "NAME"}, 1},  {{"OBSVAL", "VALUE"}, 1},    {{"WEIGHT"}, 1},
        {{"OBGNME", "GROUP"}, 1}, {{"STANDARD_DEVIATION"}, 0},
    };
    static const struct column pargp_cols[] = {
        {{"PARGPNME", "NAME"}, 1}, {{"INCTYP"}, 1},      {{"DERINC"}, 1},
        {{"DERINCLB"}, 1},         {{"FORCEN"}, 1},      {{"DERINCMUL"}, 1},
        {{"DERMTHD"}, 1},          {{"SPLITTHRESH"}, 0}, {{"SPLITRELDIFF"}, 0},
    };
    static const struct column obsgp_cols[] = {{{"OBGNME", "NAME"}, 1}};
    static const struct column io_cols[] = {{{"PEST_FILE"}, 1}, {{"MODEL_FILE"}, 1}};
    static const struct column pi_cols[] = {
        {{"PILBL", "NAME"}, 1}, {{"EQUATION"}, 1}, {{"WEIGHT"}, 1}, {{"OBGNME", "GROUP"}, 1}};
    const struct column *cols;
    size_t ncols;
    int idx[16];

    switch (kind) {
    case EXT_PARAM:
        cols = par_cols;
        ncols = 12;
        break;
    case EXT_OBS:
        cols = obs_cols;
        ncols = 5;
        break;
    case EXT_PARGP:
        cols = pargp_cols;
        ncols = 9;
        break;
    case EXT_OBSGP:
        cols = obsgp_cols;
        ncols = 1;
        break;
    case EXT_PRIOR:
        cols = pi_cols;
        ncols = 4;
        break;
    default:
        cols = io_cols;
        ncols = 2;
        break;
    }
    if (ext_columns(t, cols, ncols, idx, file, err) < 0) return -1;
    for (size_t r = 0; r < csv_nrows(t); r++) {
        char *tok[16];
        struct field_ctx f = {file, csv_row_line(t, r), err, NULL};
        char *copies[16] = {0};
        int rc = 0;
        for (size_t k = 0; k < ncols; k++) {
            copies[k] = xstrdup(idx[k] >= 0 ? csv_field(t, r, (size_t)idx[k]) : "");
            tok[k] = copies[k];
        }
        switch (kind) {
        case EXT_PARAM:
            rc = add_param(c, tok, 10, &f);
            if (rc == 0 && idx[10] >= 0 && c->params[c->nparams - 1].trans == PST_TRANS_TIED) {
                char *tie[2] = {tok[0], tok[10]};
                rc = add_tie(c, tie, 2, &f);
            }
            if (rc == 0 && tok[11][0])
                rc =
                    get_double(&f, "STANDARD_DEVIATION", tok[11], &c->params[c->nparams - 1].stdev);
            break;
        case EXT_OBS:
            rc = add_obs(c, tok, 4, &f);
            if (rc == 0 && tok[4][0])
                rc = get_double(&f, "STANDARD_DEVIATION", tok[4], &c->obs[c->nobs - 1].stdev);
            break;
        case EXT_PARGP:
            rc = add_pargp(c, tok, 9, &f);
            break;
        case EXT_OBSGP:
            rc = add_obsgp(c, tok[0], &f);
            break;
        case EXT_INPUT:
            rc = add_io(c, &c->inputs, &c->ninputs, &c->capinputs, tok, 2, &f, "model input");
            break;
        case EXT_OUTPUT:
            rc = add_io(c, &c->outputs, &c->noutputs, &c->capoutputs, tok, 2, &f, "model output");
            break;
        case EXT_PRIOR: {
            struct strbuf sb = {0};
            sb_printf(&sb, "%s %s %s %s", tok[0], tok[1], tok[2], tok[3]);
            add_prior_text(c, sb.data, &f);
            sb_free(&sb);
            break;
        }
        }
        for (size_t k = 0; k < ncols; k++)
            free(copies[k]);
        if (rc < 0) return -1;
    }
    return 0;
}

/* "FILENAME [sep <c>|w] [missing_value <v>]" */
static int external_line(struct pst_case *c, enum ext_kind kind, char *line,
                         const struct pst_loc *loc, struct pr_error *err)
{
    char *tok[MAXTOK];
    size_t n;
    char sep = ',';
    char *path = NULL, *buf = NULL;
    const char *file;
    struct csv *t = NULL;
    size_t len;
    int rc = -1;

    strip_comment(line);
    n = pr_tokenize(line, BLANKS, tok, MAXTOK);
    if (n == 0) return 0;
    if (n > MAXTOK) n = MAXTOK;
    remove_quotes(tok[0]);
    for (size_t i = 1; i + 1 < n; i += 2) {
        if (pr_strieq(tok[i], "sep"))
            sep = pr_strieq(tok[i + 1], "w") ? 'w' : tok[i + 1][0];
        else if (!pr_strieq(tok[i], "missing_value"))
            warn(c, "%s:%d: external file option '%s' is not known", loc->file, loc->line, tok[i]);
    }
    path = pr_path_join(c->dir, tok[0]);
    file = keep(c, tok[0]);
    buf = pr_read_file(path, &len, err);
    if (!buf) {
        pr_error_prefix(err, "%s:%d", loc->file, loc->line);
        goto done;
    }
    t = csv_parse(buf, len, file, sep, err);
    if (!t) goto done;
    rc = ext_rows(c, kind, t, file, err);
done:
    csv_destroy(t);
    free(buf);
    free(path);
    return rc;
}

/* -------------------------------------------------------------------------------------------- */
/* prior information                                                                            */

/* "PILBL PIFAC * PARNME + PIFAC * log(PARNME) - ... = PIVAL WEIGHT OBGNME" */
static int parse_prior(struct pst_case *c, struct prior_text *pt, struct pr_error *err)
{
    char *text = xstrdup(pt->text.data ? pt->text.data : "");
    size_t ntok = pr_tokenize(text, BLANKS, NULL, 0);
    char **tok;
    struct pst_prior pi;
    const char *file = pt->loc.file;
    int line = pt->loc.line;
    struct field_ctx f = {file, line, err, NULL};
    double sign = 1.0;
    size_t eq = 0;
    int idx;

    free(text);
    text = xstrdup(pt->text.data ? pt->text.data : "");
    tok = xcalloc(ntok + 1, sizeof(char *));
    pr_tokenize(text, BLANKS, tok, ntok);
    memset(&pi, 0, sizeof(pi));
    for (size_t i = 1; i < ntok; i++)
        if (strcmp(tok[i], "=") == 0) eq = i;
    if (ntok < 8 || eq == 0 || ntok - eq != 4) {
        pr_error_set(err,
                     "%s:%d: prior information: expected 'PILBL PIFAC * PARNME [+ ...] = PIVAL "
                     "WEIGHT OBGNME'",
                     file, line);
        goto error;
    }
    if (get_double(&f, "PIVAL", tok[eq + 1], &pi.pival) < 0 ||
        get_double(&f, "WEIGHT", tok[eq + 2], &pi.weight) < 0)
        goto error;
    pi.terms = xcalloc(eq, sizeof(*pi.terms));
    for (size_t i = 1; i < eq;) {
        double factor;
        char *name;
        if (get_double(&f, "prior information factor", tok[i], &factor) < 0) goto error;
        if (i + 2 >= eq || strcmp(tok[i + 1], "*") != 0) {
            pr_error_set(err, "%s:%d: prior information '%s': expected 'FACTOR * PARNME'", file,
                         line, tok[0]);
            goto error;
        }
        name = tok[i + 2];
        struct pst_pi_term *term = &pi.terms[pi.nterms++];
        if (pr_istarts(name, "log(") && name[strlen(name) - 1] == ')') {
            name[strlen(name) - 1] = '\0';
            name += 4;
            term->log = 1;
        }
        term->factor = sign * factor;
        term->param = names_find(c->param_names, name);
        if (term->param < 0) {
            pr_error_set(err, "%s:%d: prior information '%s': parameter '%s' is not defined", file,
                         line, tok[0], name);
            goto error;
        }
        i += 3;
        if (i < eq) {
            if (strcmp(tok[i], "+") == 0)
                sign = 1.0;
            else if (strcmp(tok[i], "-") == 0)
                sign = -1.0;
            else {
                pr_error_set(err, "%s:%d: prior information '%s': expected '+' or '-', got '%s'",
                             file, line, tok[0], tok[i]);
                goto error;
            }
            i++;
            if (i >= eq) {
                pr_error_set(err, "%s:%d: prior information '%s': a term is missing before '='",
                             file, line, tok[0]);
                goto error;
            }
        }
    }
    idx = names_add(c->prior_names, tok[0]);
    if (idx < 0 || names_find(c->obs_names, tok[0]) >= 0) {
        pr_error_set(err, "%s:%d: prior information '%s': the name is already used", file, line,
                     tok[0]);
        goto error;
    }
    pi.name = names_get(c->prior_names, (size_t)idx);
    pi.loc = pt->loc;
    *PUSH(c->prior, c->nprior, c->capprior) = pi;
    c->prior_group = xrealloc(c->prior_group, c->capprior * sizeof(char *));
    c->prior_group[c->nprior - 1] = xstrdup(tok[eq + 3]);
    free(tok);
    free(text);
    return 0;
error:
    free(pi.terms);
    free(tok);
    free(text);
    return -1;
}

/* -------------------------------------------------------------------------------------------- */
/* finishing: groups, ties, model input/output split                                           */

static int obs_group_index(struct pst_case *c, const char *name, const struct pst_loc *loc)
{
    int g = names_find(c->obsgp_names, name);
    if (g >= 0) return g;
    struct field_ctx f = {loc->file, loc->line, NULL, NULL};
    add_obsgp(c, name, &f);
    return (int)c->nobsgps - 1;
}

static int finish(struct pst_case *c, struct pr_error *err)
{
    for (size_t i = 0; i < c->nparams; i++) {
        int g = names_find(c->pargp_names, c->param_group[i]);
        if (g < 0) {
            struct pst_pargp *gp = PUSH(c->pargps, c->npargps, c->cappargps);
            default_group(gp);
            g = names_add(c->pargp_names, c->param_group[i]);
            gp->name = names_get(c->pargp_names, (size_t)g);
            gp->loc = c->params[i].loc;
        }
        c->params[i].group = g;
    }
    for (size_t i = 0; i < c->nties; i++) {
        struct tie_line *t = &c->ties[i];
        int child = names_find(c->param_names, t->child);
        int parent = names_find(c->param_names, t->parent);
        if (child < 0)
            return pr_error_set(err, "%s:%d: tied parameter '%s' is not defined", t->loc.file,
                                t->loc.line, t->child);
        if (parent < 0)
            return pr_error_set(err, "%s:%d: parameter '%s' is tied to '%s', which is not defined",
                                t->loc.file, t->loc.line, t->child, t->parent);
        if (c->params[child].trans != PST_TRANS_TIED)
            return pr_error_set(err, "%s:%d: parameter '%s' has a tie line but is not tied",
                                t->loc.file, t->loc.line, t->child);
        c->params[child].tied_parent = parent;
    }
    for (size_t i = 0; i < c->nparams; i++) {
        struct pst_param *p = &c->params[i];
        if (p->trans != PST_TRANS_TIED) continue;
        if (p->tied_parent < 0)
            return pr_error_set(err, "%s:%d: parameter '%s' is tied but has no parent line",
                                p->loc.file, p->loc.line, p->name);
        const struct pst_param *parent = &c->params[p->tied_parent];
        if (parent->trans != PST_TRANS_NONE && parent->trans != PST_TRANS_LOG)
            return pr_error_set(err,
                                "%s:%d: parameter '%s' is tied to '%s', which is not adjustable",
                                p->loc.file, p->loc.line, p->name, parent->name);
        if (parent->parval1 == 0.0) {
            p->tied_ratio = 1.0;
            warn(c, "%s:%d: parameter '%s' is tied to '%s', whose initial value is 0: ratio 1",
                 p->loc.file, p->loc.line, p->name, parent->name);
        } else {
            p->tied_ratio = p->parval1 / parent->parval1;
        }
    }
    for (size_t i = 0; i < c->nobs; i++)
        c->obs[i].group = obs_group_index(c, c->obs_group[i], &c->obs[i].loc);
    for (size_t i = 0; i < c->nprior_text; i++)
        if (parse_prior(c, &c->prior_text[i], err) < 0) return -1;
    for (size_t i = 0; i < c->nprior; i++)
        c->prior[i].group = obs_group_index(c, c->prior_group[i], &c->prior[i].loc);
    for (size_t i = 0; i < c->nmio; i++) {
        int tpl = (int)i < c->ntplfle;
        struct pst_io *io = tpl ? PUSH(c->inputs, c->ninputs, c->capinputs)
                                : PUSH(c->outputs, c->noutputs, c->capoutputs);
        *io = c->mio[i];
    }
    if (c->ctl.maxsing == 0) c->ctl.maxsing = (int)(c->nparams < c->nobs ? c->nparams : c->nobs);
    return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* the main loop                                                                                */

enum section {
    S_NONE,
    S_CONTROL,
    S_KEYWORD,
    S_SVD,
    S_PARGP,
    S_PARGP_EXT,
    S_PARAM,
    S_PARAM_EXT,
    S_OBSGP,
    S_OBSGP_EXT,
    S_OBS,
    S_OBS_EXT,
    S_COMMAND,
    S_INPUT,
    S_INPUT_EXT,
    S_OUTPUT,
    S_OUTPUT_EXT,
    S_IO,
    S_PRIOR,
    S_PRIOR_EXT,
    S_REGUL,
    S_PLUSPLUS,
    S_OTHER,
    S_COUNT
};

static const struct {
    const char *name;
    enum section s;
} section_names[] = {
    {"CONTROL DATA", S_CONTROL},
    {"CONTROL DATA KEYWORD", S_KEYWORD},
    {"SINGULAR VALUE DECOMPOSITION", S_SVD},
    {"PARAMETER GROUPS", S_PARGP},
    {"PARAMETER GROUPS EXTERNAL", S_PARGP_EXT},
    {"PARAMETER DATA", S_PARAM},
    {"PARAMETER DATA EXTERNAL", S_PARAM_EXT},
    {"OBSERVATION GROUPS", S_OBSGP},
    {"OBSERVATION GROUPS EXTERNAL", S_OBSGP_EXT},
    {"OBSERVATION DATA", S_OBS},
    {"OBSERVATION DATA EXTERNAL", S_OBS_EXT},
    {"MODEL COMMAND LINE", S_COMMAND},
    {"MODEL INPUT", S_INPUT},
    {"MODEL INPUT EXTERNAL", S_INPUT_EXT},
    {"MODEL OUTPUT", S_OUTPUT},
    {"MODEL OUTPUT EXTERNAL", S_OUTPUT_EXT},
    {"MODEL INPUT/OUTPUT", S_IO},
    {"PRIOR INFORMATION", S_PRIOR},
    {"PRIOR INFORMATION EXTERNAL", S_PRIOR_EXT},
    {"REGULARIZATION", S_REGUL},
    {"REGULARISATION", S_REGUL},
    {"PARETO", S_OTHER},
    {NULL, S_NONE},
};

struct parser {
    struct pst_case *c;
    const char *file;
    enum section sec;
    int sec_line;      /* data lines read in the current section */
    int seen[S_COUNT]; /* line where each section was opened */
    int tied_start;
    struct pr_error *err;
};

static int open_section(struct parser *ps, char *line, int lineno)
{
    char *name = pr_strip(line, " *\t\r\n");
    pr_upper(name);
    ps->sec = S_OTHER;
    ps->sec_line = 0;
    for (size_t i = 0; section_names[i].name; i++)
        if (strcmp(section_names[i].name, name) == 0) ps->sec = section_names[i].s;
    if (ps->sec == S_OTHER) {
        warn(ps->c, "%s:%d: section '* %s' is not used by pestrun; its lines are ignored", ps->file,
             lineno, name);
        return 0;
    }
    if (ps->seen[ps->sec])
        return pr_error_set(ps->err, "%s:%d: section '* %s' appears twice (first at line %d)",
                            ps->file, lineno, name, ps->seen[ps->sec]);
    if (ps->sec == S_PARAM && !ps->seen[S_CONTROL] && !ps->seen[S_KEYWORD])
        return pr_error_set(ps->err, "%s:%d: '* parameter data' must come after '* control data'",
                            ps->file, lineno);
    ps->seen[ps->sec] = lineno;
    return 0;
}

static int data_line(struct parser *ps, char *line, int lineno)
{
    struct pst_case *c = ps->c;
    struct field_ctx f = {ps->file, lineno, ps->err, NULL};
    struct pst_loc loc = {ps->file, lineno};
    char *tok[MAXTOK];
    size_t n;
    int idx = ++ps->sec_line;

    switch (ps->sec) {
    case S_NONE:
        return pr_error_set(ps->err, "%s:%d: expected a section header ('* control data')",
                            ps->file, lineno);
    case S_CONTROL:
        return control_line(c, idx, line, &f);
    case S_KEYWORD:
        return keyword_line(c, line, &loc, ps->err);
    case S_SVD:
        return svd_line(c, idx, line, &f);
    case S_REGUL:
        return regul_line(c, idx, line, &f);
    case S_PARGP:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        return add_pargp(c, tok, n > MAXTOK ? MAXTOK : n, &f);
    case S_PARAM:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        if (n > MAXTOK) n = MAXTOK;
        if (idx <= c->npar_declared) return add_param(c, tok, n, &f);
        return add_tie(c, tok, n, &f);
    case S_OBSGP:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        if (n > 1)
            return pr_error_set(ps->err,
                                "%s:%d: observation group '%s': a covariance matrix file is not "
                                "supported",
                                ps->file, lineno, tok[0]);
        return add_obsgp(c, tok[0], &f);
    case S_OBS:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        return add_obs(c, tok, n > MAXTOK ? MAXTOK : n, &f);
    case S_COMMAND:
        add_command(c, line, &f);
        return 0;
    case S_INPUT:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        return add_io(c, &c->inputs, &c->ninputs, &c->capinputs, tok, n, &f, "model input");
    case S_OUTPUT:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        return add_io(c, &c->outputs, &c->noutputs, &c->capoutputs, tok, n, &f, "model output");
    case S_IO:
        n = pr_tokenize(line, BLANKS, tok, MAXTOK);
        return add_io(c, &c->mio, &c->nmio, &c->capmio, tok, n, &f, "model input/output");
    case S_PRIOR:
        add_prior_text(c, line, &f);
        return 0;
    case S_PARGP_EXT:
        return external_line(c, EXT_PARGP, line, &loc, ps->err);
    case S_PARAM_EXT:
        return external_line(c, EXT_PARAM, line, &loc, ps->err);
    case S_OBSGP_EXT:
        return external_line(c, EXT_OBSGP, line, &loc, ps->err);
    case S_OBS_EXT:
        return external_line(c, EXT_OBS, line, &loc, ps->err);
    case S_INPUT_EXT:
        return external_line(c, EXT_INPUT, line, &loc, ps->err);
    case S_OUTPUT_EXT:
        return external_line(c, EXT_OUTPUT, line, &loc, ps->err);
    case S_PRIOR_EXT:
        return external_line(c, EXT_PRIOR, line, &loc, ps->err);
    case S_PLUSPLUS:
        warn(c,
             "%s:%d: line ignored: data lines after a ++ line are not read (put ++ lines at "
             "the end of the file)",
             ps->file, lineno);
        return 0;
    default:
        return 0;
    }
}

static int check_exclusive(struct parser *ps)
{
    int *seen = ps->seen;
    if (seen[S_IO] && (seen[S_INPUT] || seen[S_OUTPUT] || seen[S_INPUT_EXT] || seen[S_OUTPUT_EXT]))
        return pr_error_set(ps->err,
                            "%s:%d: '* model input/output' cannot be used together with '* model "
                            "input' or '* model output'",
                            ps->file, seen[S_IO]);
    if (seen[S_KEYWORD] && (seen[S_CONTROL] || seen[S_SVD] || seen[S_REGUL]))
        return pr_error_set(ps->err,
                            "%s:%d: '* control data keyword' cannot be used together with '* "
                            "control data', '* singular value decomposition' or '* regularization'",
                            ps->file, seen[S_KEYWORD]);
    if (seen[S_KEYWORD] && ps->c->has_plusplus)
        return pr_error_set(ps->err,
                            "%s:%d: '* control data keyword' cannot be used together with ++ "
                            "lines: give the options as 'key value' lines in that section",
                            ps->file, seen[S_KEYWORD]);
    return 0;
}

/* The length of the UTF-8 sequence at b (left bytes available), or 0 when it is not one:
 * a stray continuation byte, an overlong form, a surrogate or a code point past U+10FFFF. */
static size_t utf8_length(const unsigned char *b, size_t left)
{
    size_t n = b[0] < 0x80   ? 1
               : b[0] < 0xc2 ? 0
               : b[0] < 0xe0 ? 2
               : b[0] < 0xf0 ? 3
               : b[0] < 0xf5 ? 4
                             : 0;
    if (n == 0 || n > left) return 0;
    for (size_t k = 1; k < n; k++)
        if ((b[k] & 0xc0) != 0x80) return 0;
    if ((b[0] == 0xe0 && b[1] < 0xa0) || (b[0] == 0xed && b[1] >= 0xa0) ||
        (b[0] == 0xf0 && b[1] < 0x90) || (b[0] == 0xf4 && b[1] >= 0x90))
        return 0;
    return n;
}

/* A control file is plain text. Binary data and UTF-16 (a NUL byte would end the text early,
 * and the file would read as empty or cut short) are refused naming the line; bytes that are
 * not UTF-8 are read as they are (as PEST++ does), with one warning. 0, or -1 with err set. */
static int check_text(struct pst_case *c, const char *buf, size_t len, const char *name,
                      struct pr_error *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    int line = 1;
    if (len >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff)))
        return pr_error_set(err,
                            "%s:1: the file is UTF-16 text; a control file is plain text: save it "
                            "as ASCII or UTF-8",
                            name);
    for (size_t i = 0; i < len; i++) {
        if (b[i] == '\n') line++;
        if (b[i] == 0)
            return pr_error_set(err,
                                "%s:%d: a NUL byte (byte %zu of %zu): this is a binary file or "
                                "UTF-16 text, not a plain-text PEST control file",
                                name, line, i + 1, len);
    }
    line = 1;
    for (size_t i = 0, n; i < len; i += n) {
        n = utf8_length(b + i, len - i);
        if (n == 0) {
            warn(c,
                 "%s:%d: byte 0x%02x is not UTF-8 text (another encoding, such as Latin-1?): "
                 "names and values are read as the bytes they are",
                 name, line, b[i]);
            return 0;
        }
        line += b[i] == '\n';
    }
    return 0;
}

struct pst_case *pst_parse(const char *buf, size_t len, const char *name, const char *dir,
                           struct pr_error *err)
{
    struct pst_case *c = xcalloc(1, sizeof(*c));
    struct parser ps;
    char *text = xstrndup(buf ? buf : "", buf ? len : 0);
    char *p = text;
    char *end = text + (buf ? len : 0);
    int lineno = 0, first = 1;

    c->path = xstrdup(name);
    c->dir = xstrdup(dir ? dir : ".");
    c->param_names = names_create();
    c->pargp_names = names_create();
    c->obs_names = names_create();
    c->obsgp_names = names_create();
    c->prior_names = names_create();
    set_defaults(&c->ctl);
    memset(&ps, 0, sizeof(ps));
    ps.c = c;
    ps.file = keep(c, name);
    ps.err = err;
    if (check_text(c, buf ? buf : "", buf ? len : 0, name, err) < 0) goto error;

    while (p) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line;
        lineno++;
        if (nl) *nl = '\0';
        line = p;
        p = nl ? nl + 1 : NULL;
        while ((unsigned char)*line >= 0x80) /* a byte-order mark or other leading non-ASCII */
            line++;
        line = pr_strip(line, BLANKS);
        if (!*line || line[0] == '#') continue;
        if (first) {
            char *tok[2];
            char *copy = xstrdup(line);
            size_t n = pr_tokenize(copy, BLANKS, tok, 2);
            int ok = n > 0 && pr_strieq(tok[0], "pcf");
            free(copy);
            if (!ok) {
                pr_error_set(err, "%s:%d: expected 'pcf' on the first line of a control file", name,
                             lineno);
                goto error;
            }
            first = 0;
            continue;
        }
        if (line[0] == '+' && line[1] == '+') {
            struct pst_loc loc = {ps.file, lineno};
            c->has_plusplus = 1;
            ps.sec = S_PLUSPLUS;
            if (parse_plusplus(c, line, &loc, err) < 0) goto error;
            continue;
        }
        if (line[0] == '*') {
            if (open_section(&ps, line, lineno) < 0) goto error;
            continue;
        }
        if (data_line(&ps, line, lineno) < 0) goto error;
    }
    if (first) {
        pr_error_set(err, "%s: empty file: expected a PEST control file starting with 'pcf'", name);
        goto error;
    }
    if (check_exclusive(&ps) < 0 || finish(c, err) < 0) goto error;
    if (c->nparams == 0) {
        pr_error_set(err, "%s: no parameters: expected a '* parameter data' section", name);
        goto error;
    }
    if (ps.seen[S_PARAM] && (int)c->nparams != c->npar_declared)
        warn(c, "%s:%d: NPAR is %d but %zu parameters were read", name, ps.seen[S_PARAM],
             c->npar_declared, c->nparams);
    free(text);
    return c;
error:
    free(text);
    pst_destroy(c);
    return NULL;
}

struct pst_case *pst_load(const char *path, struct pr_error *err)
{
    size_t len;
    char *buf = pr_read_file(path, &len, err);
    char *dir;
    struct pst_case *c;

    if (!buf) return NULL;
    dir = pr_dirname(path);
    c = pst_parse(buf, len, path, dir, err);
    free(dir);
    free(buf);
    return c;
}

static void free_strings(char **arr, size_t n)
{
    if (!arr) return;
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

void pst_destroy(struct pst_case *c)
{
    if (!c) return;
    free(c->path);
    free(c->dir);
    free(c->params);
    free_strings(c->param_group, c->nparams);
    free(c->pargps);
    free(c->obs);
    free_strings(c->obs_group, c->nobs);
    free(c->obsgps);
    for (size_t i = 0; i < c->nprior; i++)
        free(c->prior[i].terms);
    free(c->prior);
    free_strings(c->prior_group, c->nprior);
    for (size_t i = 0; i < c->nprior_text; i++)
        sb_free(&c->prior_text[i].text);
    free(c->prior_text);
    free(c->cmds);
    free(c->inputs);
    free(c->outputs);
    free(c->mio);
    free(c->opts);
    free(c->ctlkeys);
    free_strings(c->warnings, c->nwarnings);
    free_strings(c->pool, c->npool);
    for (size_t i = 0; i < c->nties; i++) {
        free(c->ties[i].child);
        free(c->ties[i].parent);
    }
    free(c->ties);
    names_destroy(c->param_names);
    names_destroy(c->pargp_names);
    names_destroy(c->obs_names);
    names_destroy(c->obsgp_names);
    names_destroy(c->prior_names);
    free(c);
}

/* -------------------------------------------------------------------------------------------- */
/* accessors and spaces                                                                         */

const char *pst_path(const struct pst_case *c)
{
    return c->path;
}
const char *pst_dir(const struct pst_case *c)
{
    return c->dir;
}
const struct pst_control *pst_control(const struct pst_case *c)
{
    return &c->ctl;
}
void pst_set_noptmax(struct pst_case *c, int noptmax)
{
    c->ctl.noptmax = noptmax;
}
size_t pst_nparams(const struct pst_case *c)
{
    return c->nparams;
}
const struct pst_param *pst_param(const struct pst_case *c, size_t i)
{
    return &c->params[i];
}
const struct names *pst_param_names(const struct pst_case *c)
{
    return c->param_names;
}
size_t pst_npargps(const struct pst_case *c)
{
    return c->npargps;
}
const struct pst_pargp *pst_pargp(const struct pst_case *c, size_t i)
{
    return &c->pargps[i];
}
size_t pst_nobs(const struct pst_case *c)
{
    return c->nobs;
}
const struct pst_obs *pst_obs(const struct pst_case *c, size_t i)
{
    return &c->obs[i];
}
const struct names *pst_obs_names(const struct pst_case *c)
{
    return c->obs_names;
}
size_t pst_nobsgps(const struct pst_case *c)
{
    return c->nobsgps;
}
const struct pst_obsgp *pst_obsgp(const struct pst_case *c, size_t i)
{
    return &c->obsgps[i];
}
size_t pst_nprior(const struct pst_case *c)
{
    return c->nprior;
}
const struct pst_prior *pst_prior(const struct pst_case *c, size_t i)
{
    return &c->prior[i];
}
size_t pst_ncommands(const struct pst_case *c)
{
    return c->ncmds;
}
const struct pst_command *pst_command(const struct pst_case *c, size_t i)
{
    return &c->cmds[i];
}
size_t pst_ninputs(const struct pst_case *c)
{
    return c->ninputs;
}
const struct pst_io *pst_input(const struct pst_case *c, size_t i)
{
    return &c->inputs[i];
}
size_t pst_noutputs(const struct pst_case *c)
{
    return c->noutputs;
}
const struct pst_io *pst_output(const struct pst_case *c, size_t i)
{
    return &c->outputs[i];
}
size_t pst_noptions(const struct pst_case *c)
{
    return c->nopts;
}
const struct pst_option *pst_option(const struct pst_case *c, size_t i)
{
    return &c->opts[i];
}
size_t pst_ncontrol_keys(const struct pst_case *c)
{
    return c->nctlkeys;
}
const struct pst_option *pst_control_key(const struct pst_case *c, size_t i)
{
    return &c->ctlkeys[i];
}
size_t pst_nwarnings(const struct pst_case *c)
{
    return c->nwarnings;
}
const char *pst_warning(const struct pst_case *c, size_t i)
{
    return c->warnings[i];
}

void pst_initial_values(const struct pst_case *c, double *ctl)
{
    for (size_t i = 0; i < c->nparams; i++)
        ctl[i] = c->params[i].parval1;
    for (size_t i = 0; i < c->nparams; i++)
        if (c->params[i].trans == PST_TRANS_TIED && c->params[i].tied_parent >= 0)
            ctl[i] = ctl[c->params[i].tied_parent] * c->params[i].tied_ratio;
}

void pst_ctl_to_model(const struct pst_case *c, const double *ctl, double *model)
{
    for (size_t i = 0; i < c->nparams; i++) {
        const struct pst_param *p = &c->params[i];
        double v = ctl[i];
        if (p->trans == PST_TRANS_TIED && p->tied_parent >= 0)
            v = ctl[p->tied_parent] * p->tied_ratio;
        model[i] = v * p->scale + p->offset;
    }
}

void pst_model_to_ctl(const struct pst_case *c, const double *model, double *ctl)
{
    for (size_t i = 0; i < c->nparams; i++) {
        const struct pst_param *p = &c->params[i];
        ctl[i] = p->scale != 0.0 ? (model[i] - p->offset) / p->scale : model[i];
    }
}
