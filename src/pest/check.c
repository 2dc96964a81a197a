#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ins.h"
#include "pst_support.h"
#include "tpl.h"
#include "../util/strbuf.h"
#include "../util/text.h"

static void report(struct pst_check_sink *s, int is_error, const char *fmt, ...) PR_PRINTF(3, 4);
static void report(struct pst_check_sink *s, int is_error, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (is_error)
        s->errors++;
    else
        s->warnings++;
    if (s->emit) s->emit(s->ctx, is_error, buf);
}

/* Names are stored upper-case; messages show them lower-case, as PEST++'s output files do. */
static const char *lc(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s", name);
    pr_lower(buf);
    return buf;
}

#define LC(name) lc((char[256]){0}, 256, (name))

static int adjustable(const struct pst_param *p)
{
    return p->trans == PST_TRANS_NONE || p->trans == PST_TRANS_LOG;
}

/* Bounds and change limits (Pest::check_inputs). With NOPTMAX = 0 PEST++ only warns. */
static void check_params(const struct pst_case *c, struct pst_check_sink *s)
{
    const struct pst_control *ctl = pst_control(c);
    int strict = ctl->noptmax != 0;
    size_t nadj = 0;

    for (size_t i = 0; i < pst_nparams(c); i++) {
        const struct pst_param *p = pst_param(c, i);
        const char *f = p->loc.file;
        int l = p->loc.line;
        if (!adjustable(p)) continue;
        nadj++;
        if (p->lbnd >= p->ubnd)
            report(s, strict, "%s:%d: parameter '%s': lower bound %g is not below upper bound %g",
                   f, l, LC(p->name), p->lbnd, p->ubnd);
        if (p->parval1 < p->lbnd)
            report(s, strict, "%s:%d: parameter '%s': initial value %g is below its lower bound %g",
                   f, l, LC(p->name), p->parval1, p->lbnd);
        if (p->parval1 > p->ubnd)
            report(s, strict, "%s:%d: parameter '%s': initial value %g is above its upper bound %g",
                   f, l, LC(p->name), p->parval1, p->ubnd);
        if (p->trans == PST_TRANS_LOG && (p->parval1 <= 0 || p->ubnd <= 0))
            report(s, strict,
                   "%s:%d: parameter '%s' is log-transformed but its value or upper bound is "
                   "not positive (%g, bounds %g to %g)",
                   f, l, LC(p->name), p->parval1, p->lbnd, p->ubnd);
        else if (p->trans == PST_TRANS_LOG && p->lbnd <= 0) /* PEST++ accepts it too */
            report(s, 0,
                   "%s:%d: parameter '%s' is log-transformed with a lower bound of %g: values "
                   "stay above 0",
                   f, l, LC(p->name), p->lbnd);
        if (p->chglim == PST_CHG_FACTOR && p->lbnd < 0 && p->ubnd > 0)
            report(s, strict,
                   "%s:%d: parameter '%s': a 'factor' change limit cannot be used when the bounds "
                   "straddle zero (%g to %g)",
                   f, l, LC(p->name), p->lbnd, p->ubnd);
        if (p->chglim == PST_CHG_RELATIVE && ctl->relparmax < 1 && p->lbnd < 0 && p->ubnd > 0)
            report(s, strict,
                   "%s:%d: parameter '%s': RELPARMAX %g is below 1 while the bounds straddle "
                   "zero",
                   f, l, LC(p->name), ctl->relparmax);
        if (p->chglim == PST_CHG_ABSOLUTE)
            report(s, strict,
                   "%s:%d: parameter '%s': change limit 'absolute' is not supported; "
                   "use relative or factor",
                   f, l, LC(p->name));
        if (p->scale == 0.0) report(s, 1, "%s:%d: parameter '%s': SCALE is 0", f, l, LC(p->name));
    }
    if (strict && ctl->facparmax <= 1.0)
        report(s, 1, "%s: FACPARMAX %g must be greater than 1", pst_path(c), ctl->facparmax);
    if (strict && nadj == 0)
        report(s, 1, "%s: no adjustable parameters: every parameter is fixed or tied", pst_path(c));
}

static void check_obs(const struct pst_case *c, struct pst_check_sink *s)
{
    size_t ngp = pst_nobsgps(c);
    unsigned char *has_obs = calloc(ngp + 1, 1), *has_pi = calloc(ngp + 1, 1);
    size_t nonzero = 0;

    for (size_t i = 0; i < pst_nobs(c); i++) {
        const struct pst_obs *o = pst_obs(c, i);
        has_obs[o->group] = 1;
        nonzero += o->weight > 0;
    }
    for (size_t i = 0; i < pst_nprior(c); i++) {
        const struct pst_prior *pi = pst_prior(c, i);
        has_pi[pi->group] = 1;
        nonzero += pi->weight > 0;
        for (int k = 0; k < pi->nterms; k++) {
            const struct pst_param *p = pst_param(c, (size_t)pi->terms[k].param);
            if (!adjustable(p))
                report(s, 1,
                       "%s:%d: prior information '%s' uses parameter '%s', which is not "
                       "adjustable",
                       pi->loc.file, pi->loc.line, LC(pi->name), LC(p->name));
            else if (pi->terms[k].log != (p->trans == PST_TRANS_LOG))
                report(s, 0,
                       "%s:%d: prior information '%s': parameter '%s' is %slog-transformed "
                       "but is used %s log()",
                       pi->loc.file, pi->loc.line, LC(pi->name), LC(p->name),
                       p->trans == PST_TRANS_LOG ? "" : "not ",
                       pi->terms[k].log ? "inside" : "without");
        }
    }
    for (size_t g = 0; g < ngp; g++)
        if (has_obs[g] && has_pi[g]) {
            const struct pst_obsgp *gp = pst_obsgp(c, g);
            report(s, 0,
                   "%s:%d: observation group '%s' holds both observations and prior "
                   "information",
                   gp->loc.file, gp->loc.line, LC(gp->name));
        }
    if (pst_control(c)->noptmax != 0 && nonzero == 0)
        report(s, 1, "%s: every observation and prior-information weight is zero", pst_path(c));
    free(has_obs);
    free(has_pi);
}

/* Read a template or instruction file; path is its name as shown in messages. */
static char *read_case_file(const char *path, const struct pst_io *io, const char *what,
                            size_t *len, struct pst_check_sink *s)
{
    struct pr_error err;
    char *buf = pr_read_file(path, len, &err);
    if (!buf) report(s, 1, "%s:%d: %s %s", io->loc.file, io->loc.line, what, err.msg);
    return buf;
}

static void check_model_dir(const char *dir, const struct pst_io *io, struct pst_check_sink *s)
{
    char *path = pr_path_join(dir, io->model_file);
    char *parent = pr_dirname(path);
    if (access(parent, W_OK) < 0)
        report(s, 1, "%s:%d: the folder of model file '%s' does not exist or is not writable",
               io->loc.file, io->loc.line, io->model_file);
    free(parent);
    free(path);
}

static void check_templates(const struct pst_case *c, const char *dir, struct pst_check_sink *s)
{
    size_t npar = pst_nparams(c);
    unsigned char *used = calloc(npar + 1, 1);
    int unreadable = 0;

    if (pst_ninputs(c) == 0)
        report(s, 1, "%s: no template files: expected a '* model input' section", pst_path(c));
    for (size_t i = 0; i < pst_ninputs(c); i++) {
        const struct pst_io *io = pst_input(c, i);
        struct pr_error err;
        size_t len;
        int seen_before = 0;
        check_model_dir(dir, io, s);
        for (size_t k = 0; k < i; k++)
            if (strcmp(pst_input(c, k)->pest_file, io->pest_file) == 0) seen_before = 1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(pst_input(c, k)->model_file, io->model_file) == 0)
                report(s, 1, "%s:%d: model input file '%s' is written by two templates",
                       io->loc.file, io->loc.line, io->model_file);
        if (seen_before) continue;
        char *name = pr_path_join(dir, io->pest_file);
        char *buf = read_case_file(name, io, "template", &len, s);
        struct tpl *t = buf ? tpl_parse(buf, len, name, &err) : NULL;
        free(buf);
        if (!t) {
            if (buf) report(s, 1, "%s", err.msg);
            unreadable = 1;
            free(name);
            continue;
        }
        for (size_t k = 0; k < tpl_nparams(t); k++) {
            int idx = names_find(pst_param_names(c), tpl_param_name(t, k));
            if (idx < 0)
                report(s, 1, "%s:%d: parameter '%s' is not in the control file", name,
                       tpl_param_line(t, k), LC(tpl_param_name(t, k)));
            else
                used[idx] = 1;
        }
        tpl_destroy(t);
        free(name);
    }
    /* After a template that could not be read, "not in any template" would only be noise. */
    for (size_t i = 0; !unreadable && i < npar; i++)
        if (!used[i]) {
            const struct pst_param *p = pst_param(c, i);
            report(s, 1, "%s:%d: parameter '%s' does not appear in any template file", p->loc.file,
                   p->loc.line, LC(p->name));
        }
    free(used);
}

static void check_instructions(const struct pst_case *c, const char *dir, struct pst_check_sink *s)
{
    size_t nobs = pst_nobs(c);
    int *read_by = calloc(nobs + 1, sizeof(int)); /* 1 + output index */
    const char *delims = pst_opt_str(c, "additional_ins_delimiters", "");
    int unreadable = 0;

    if (pst_noutputs(c) == 0)
        report(s, 1, "%s: no instruction files: expected a '* model output' section", pst_path(c));
    for (size_t i = 0; i < pst_noutputs(c); i++) {
        const struct pst_io *io = pst_output(c, i);
        struct pr_error err;
        size_t len;
        check_model_dir(dir, io, s);
        char *path = pr_path_join(dir, io->pest_file);
        char *buf = read_case_file(path, io, "instruction file", &len, s);
        struct ins *in = buf ? ins_parse(buf, len, path, delims, &err) : NULL;
        free(buf);
        if (!in) {
            if (buf) report(s, 1, "%s", err.msg);
            unreadable = 1;
            free(path);
            continue;
        }
        for (size_t k = 0; k < ins_nobs(in); k++) {
            const char *name = ins_obs_name(in, k);
            int idx = names_find(pst_obs_names(c), name);
            if (idx < 0)
                report(s, 1, "%s:%d: observation '%s' is not in the control file", path,
                       ins_obs_line(in, k), LC(name));
            else if (read_by[idx])
                report(s, 1, "%s:%d: observation '%s' is also read by '%s'", path,
                       ins_obs_line(in, k), LC(name),
                       pst_output(c, (size_t)read_by[idx] - 1)->pest_file);
            else
                read_by[idx] = (int)i + 1;
        }
        ins_destroy(in);
        free(path);
    }
    for (size_t i = 0; !unreadable && i < nobs; i++)
        if (!read_by[i]) {
            const struct pst_obs *o = pst_obs(c, i);
            report(s, 1, "%s:%d: observation '%s' is not read by any instruction file", o->loc.file,
                   o->loc.line, LC(o->name));
        }
    free(read_by);
}

int pst_check(const struct pst_case *c, const char *dir, struct pst_check_sink *s)
{
    if (!dir) dir = pst_dir(c);
    for (size_t i = 0; i < pst_nwarnings(c); i++)
        report(s, 0, "%s", pst_warning(c, i));
    struct pst_support_report sup;
    pst_check_support(c, PST_CMD_CHECK, 1, &sup, NULL);
    for (size_t i = 0; i < sup.n; i++)
        report(s, 0, "%s", sup.findings[i].text);
    pst_support_report_free(&sup);
    check_params(c, s);
    check_obs(c, s);
    if (pst_ncommands(c) == 0)
        report(s, 1, "%s: no model command: expected a '* model command line' section",
               pst_path(c));
    check_templates(c, dir, s);
    check_instructions(c, dir, s);
    return s->errors;
}
