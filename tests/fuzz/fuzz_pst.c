/* libFuzzer target: the control-file reader and the checks that need no files. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pest/objective.h"
#include "pest/pst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pr_error err;
    /* External files are looked up in a folder that does not exist: only the reader is fuzzed. */
    struct pst_case *c = pst_parse((const char *)data, size, "fuzz.pst", "/nonexistent-fuzz", &err);
    if (!c) return 0;
    size_t np = pst_nparams(c), no = pst_nobs(c);
    double *ctl = calloc(np + 1, sizeof(double));
    double *model = calloc(np + 1, sizeof(double));
    double *sim = calloc(no + 1, sizeof(double));
    double *group = calloc(pst_nobsgps(c) + 1, sizeof(double));
    struct phi_parts phi = {.group = group};
    int v;
    double d;
    pst_initial_values(c, ctl);
    pst_ctl_to_model(c, ctl, model);
    pst_model_to_ctl(c, model, ctl);
    pst_phi(c, sim, ctl, &phi);
    pst_opt_int(c, "max_run_fail", 3, &v, &err);
    pst_opt_double(c, "overdue_resched_fac", 1.15, &d, &err);
    pst_opt_bool(c, "tpl_force_decimal", 0, &v, &err);
    free(ctl);
    free(model);
    free(sim);
    free(group);
    pst_destroy(c);
    return 0;
}
