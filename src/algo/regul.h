/* Regularization mode (PESTMODE regularization, the "* regularization" section) as pestpp-glm
 * 5.2 runs it: the observations and prior information of groups whose names start with REGUL
 * are weighted by sqrt(mu) (and, with IREGADJ 1, by a factor per group that evens out their
 * phis); before each upgrade the weight factor mu is chosen so that the measurement phi of the
 * linearly projected upgrade meets max(PHIMLIM, FRACPHIM x current measurement phi), within
 * WFTOL, between WFMIN and WFMAX, by steps of WFFAC then golden sections. Candidates are
 * compared on the measurement phi until it is below PHIMACCEPT, on the regularization phi
 * after. In estimation mode every function here is the identity. */
#ifndef PR_REGUL_H
#define PR_REGUL_H

#include <stddef.h>

#include "pest/pst.h"
#include "util/strbuf.h"

struct regul;

/* The scheme of case c; in estimation mode it is inactive (weight 1, plain phi). Never NULL.
 * Free with regul_destroy. */
struct regul *regul_create(const struct pst_case *c);
void regul_destroy(struct regul *r);
int regul_active(const struct regul *r);

/* The multiplier of the weights of observation group g (1 outside regularization groups) at
 * the current weight factor, or at weight factor mu. */
double regul_row_factor(const struct regul *r, int g);
double regul_row_factor_at(const struct regul *r, int g, double mu);

/* The phi parts of a run from its per-group unit-weight phis: measurement, regularization
 * with unit weights, and regularization with the current weights. */
struct regul_phi {
    double meas, regul, regul_w;
};
void regul_split(const struct regul *r, const double *group_phi, struct regul_phi *out);

/* Is a better than b (PEST++'s comparison in regularization mode; the total in estimation
 * mode)? */
int regul_better(const struct regul *r, const struct regul_phi *a, const struct regul_phi *b);

/* The per-group unit-weight phis (pst_nobsgps values into group_phi) of the upgrade computed
 * with the regularization weights of weight factor mu: a caller's linear estimate. */
typedef void (*regul_project_fn)(void *ctx, double mu, double *group_phi);

/* Choose the weight factor before an upgrade at a point with parts cur and per-group phis
 * group_phi; the search is written to log. */
void regul_adjust(struct regul *r, const struct regul_phi *cur, const double *group_phi,
                  regul_project_fn project, void *ctx, struct strbuf *log);
double regul_weight(const struct regul *r);

/* The phi the termination rules follow after an iteration: the measurement phi until it is
 * at most PHIMACCEPT, the regularization phi with unit weights from then on (*reset is set the
 * first time, when the lists of lowest phis start again), or the total in estimation mode. Returns
 * -1 when the iteration does not count (PHIMACCEPT was met before and is not now). */
double regul_stop_phi(struct regul *r, const struct regul_phi *p, int *reset);

#endif
