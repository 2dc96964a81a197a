/* Parameter spaces (SPEC §6.1): control values (as in the .pst), the active subset (adjustable
 * parameters: none or log), numeric values (log10 for log parameters) in which derivatives
 * and upgrades are computed, and model values (x SCALE + OFFSET) written to templates. */
#ifndef PR_PARSPACE_H
#define PR_PARSPACE_H

#include <stddef.h>

#include "pest/pst.h"

struct parspace {
    const struct pst_case *c;
    size_t npar; /* all parameters */
    size_t nadj; /* adjustable ones */
    size_t *adj; /* numeric index -> parameter index */
    int *is_log; /* per numeric index */
};

void parspace_init(struct parspace *ps, const struct pst_case *c);
void parspace_free(struct parspace *ps);

/* Control values -> numeric values (nadj). */
void parspace_to_num(const struct parspace *ps, const double *ctl, double *num);
/* Numeric values -> control values: adjustable entries of ctl are replaced, tied children are
 * recomputed from their parents, fixed values are kept. */
void parspace_from_num(const struct parspace *ps, const double *num, double *ctl);
/* Recompute tied children from their parents. */
void parspace_fix_tied(const struct parspace *ps, double *ctl);

#endif
