/* PEST template files (SPEC §2): parse once, fill many times with parameter values written
 * exactly as PEST++ writes them. */
#ifndef PR_TPL_H
#define PR_TPL_H

#include <stddef.h>

#include "../util/names.h"
#include "../util/pr_error.h"
#include "../util/strbuf.h"

struct tpl;

struct tpl_opts {
    int force_decimal; /* ++tpl_force_decimal */
    int fill_zeros;    /* ++fill_tpl_zeros */
};

/* Parse a template held in buf (len bytes; need not be NUL-terminated). name is the file name
 * used in messages. On error NULL is returned and err says "NAME:LINE: what was expected". */
struct tpl *tpl_parse(const char *buf, size_t len, const char *name, struct pr_error *err);
void tpl_destroy(struct tpl *t);

/* Distinct parameter names (upper case) in order of first appearance, and the line (1-based)
 * where each first appears. */
size_t tpl_nparams(const struct tpl *t);
const char *tpl_param_name(const struct tpl *t, size_t i);
int tpl_param_line(const struct tpl *t, size_t i);

/* Resolve every parameter space against the case's parameter table. On error (a name not in
 * params) -1 is returned, err names the template's file and line, and t is unaltered. */
int tpl_bind(struct tpl *t, const struct names *params, struct pr_error *err);

/* Append the filled template to out. values[] holds model-space values indexed like the bound
 * params table. For each parameter whose written[idx] is 0, processed[idx] receives the value
 * as written (strtod of the field text) and written[idx] is set to 1 (first occurrence wins, so
 * callers share the arrays across all templates of a run). On error -1 is returned with err set
 * ("NAME:LINE: cannot write value V of parameter 'P' in a space of N characters"). Requires a
 * successful tpl_bind. */
int tpl_fill(const struct tpl *t, const double *values, const struct tpl_opts *opts,
             struct strbuf *out, double *processed, unsigned char *written, struct pr_error *err);

/* Format v in exactly width bytes as PEST++'s TemplateFile::cast_to_fixed_len_string does
 * (SPEC §2.3). out must have room for width + 1 bytes; it is NUL-terminated.
 * Returns 0, or -1 when PEST++ would raise an error for this value and width. */
int tpl_format(double v, int width, const struct tpl_opts *opts, char *out);

#endif
