/* Files pestrun writes in PEST++'s formats (SPEC §6.7), readable by pyemu. */
#ifndef PR_OUTPUTS_H
#define PR_OUTPUTS_H

#include "pst.h"

struct strbuf;

/* DIR/CASE.ext for a control file DIR/CASE.pst (".pst" in any case is dropped). malloc'd. */
char *pst_output_path(const char *pst_path, const char *ext);

/* Write a residuals file (.rei, SPEC §6.7.2) for simulated values sim and control-space
 * parameters ctl (for the prior-information rows). Returns 0 or -1 with err set. */
int pst_write_rei(const struct pst_case *c, const char *path, int iteration, const double *sim,
                  const double *ctl, struct pr_error *err);

/* Write a parameter file (.par, SPEC §6.7.1) of control-space values. */
int pst_write_par(const struct pst_case *c, const char *path, const double *ctl,
                  struct pr_error *err);

/* Write a copy of the control file with PARVAL1 replaced by ctl (control space): to path, and,
 * for a version-2 case, beside it a copy of each external parameter file, named
 * CASE.best.<file> after path's case name, that the new control file refers to. Everything
 * else is copied as it is. Returns 0 or -1 with err set. */
int pst_write_with_values(const struct pst_case *c, const char *path, const double *ctl,
                          struct pr_error *err);

/* The header line of a PEST++ ensemble CSV (ies_csv_by_reals): "real_name" then every parameter
 * (params) or every observation, lower case, in control-file order, and a newline. */
void pst_ensemble_header(struct strbuf *sb, const struct pst_case *c, int params);

#endif
