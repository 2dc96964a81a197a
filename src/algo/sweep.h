/* Parameter sweep, compatible with pestpp-swp (SPEC §6.3): rows of parameter values from a CSV
 * file are run in chunks, each chunk one scheduler batch, and the observations and phi of each
 * row are appended to the output CSV in input order. Rows are streamed: memory holds one
 * chunk, whatever the number of rows. */
#ifndef PR_SWEEP_H
#define PR_SWEEP_H

#include <stddef.h>

#include "pest/pst.h"
#include "sched/sched.h"

struct sweep_opts {
    const char *in_path;  /* CSV: label column, then parameter columns (control space) */
    const char *out_path; /* CSV written like pestpp-swp's */
    size_t chunk;         /* rows per batch (sweep_chunk, default 500) */
    int forgive;          /* sweep_forgive: missing parameters take PARVAL1 */
    int include_regul;    /* sweep_include_regul_phi */
};

struct sweep_summary {
    size_t rows, failed, from_journal;
};

/* Run the sweep. Returns 0 when every row was run (some may have failed), 1 when stopped
 * (the rows finished so far are written), -1 with err set on bad input or a fatal error:
 * rows already written stay in the output file. */
int sweep_run(const struct pst_case *c, struct sched *s, const struct sweep_opts *o,
              struct sweep_summary *sum, struct pr_error *err);

/* The first max rows of o->in_path as the sweep runs them (model space, n x npar, in *values,
 * to free), for timing the model on them. The number read, or -1 with err set. */
long sweep_read_rows(const struct pst_case *c, const struct sweep_opts *o, size_t max,
                     double **values, struct pr_error *err);

#endif
