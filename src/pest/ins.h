/* PEST instruction files (SPEC §3): compile once, apply to each model output file. */
#ifndef PR_INS_H
#define PR_INS_H

#include <stddef.h>

#include "../util/names.h"
#include "../util/pr_error.h"

struct ins;

/* Compile an instruction file held in buf (len bytes; need not be NUL-terminated). name is the
 * file name for messages; extra_delims are the ++additional_ins_delimiters characters (may be
 * NULL). On error NULL is returned and err says "NAME:LINE: what was expected". */
struct ins *ins_parse(const char *buf, size_t len, const char *name, const char *extra_delims,
                      struct pr_error *err);
void ins_destroy(struct ins *in);

/* Observations read by the file, in order, without 'dum' (upper case), with their lines. */
size_t ins_nobs(const struct ins *in);
const char *ins_obs_name(const struct ins *in, size_t i);
int ins_obs_line(const struct ins *in, size_t i);

/* Resolve observation names against the case's observation table. On error (a name not in
 * obs) -1 is returned with err naming the instruction file and line; in is unaltered. */
int ins_bind(struct ins *in, const struct names *obs, struct pr_error *err);

/* Apply to a model output file held in out (len bytes; need not be NUL-terminated); out_name
 * is its file name for messages. values[idx] receives each observation (idx from the bound
 * obs table) and seen[idx] is set to 1. On error -1 is returned, err names the instruction
 * file, its line, the instruction and the output file's line ("out.ins:3: instruction
 * '!h1!': no number in 'abc' (model.out line 12)"); values may be partly written.
 * Requires a successful ins_bind. */
int ins_apply(const struct ins *in, const char *out, size_t len, const char *out_name,
              double *values, unsigned char *seen, struct pr_error *err);

#endif
