/* The objective function (SPEC §6.2): weighted residuals of observations and prior
 * information, phi in total, measurement/regularization and per group. */
#ifndef PR_OBJECTIVE_H
#define PR_OBJECTIVE_H

#include "pst.h"

struct phi_parts {
    double total;
    double meas;   /* groups not starting with REGUL */
    double regul;  /* groups starting with REGUL */
    double *group; /* per observation group (pst_nobsgps entries), caller-allocated */
};

/* Value of prior-information equation i at control-space parameters ctl. */
double pst_prior_value(const struct pst_case *c, size_t i, const double *ctl);

/* Phi of simulated values sim (pst observation order) and, when ctl is not NULL, of the prior
 * information at control-space parameters ctl. Values below DBL_MIN are reported as 0. */
void pst_phi(const struct pst_case *c, const double *sim, const double *ctl, struct phi_parts *out);

#endif
