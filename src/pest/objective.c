#include "objective.h"

#include <float.h>
#include <math.h>
#include <string.h>

double pst_prior_value(const struct pst_case *c, size_t i, const double *ctl)
{
    const struct pst_prior *pi = pst_prior(c, i);
    double v = 0.0;
    for (int k = 0; k < pi->nterms; k++) {
        const struct pst_pi_term *t = &pi->terms[k];
        double p = ctl[t->param];
        v += t->factor * (t->log ? log10(p) : p);
    }
    return v;
}

static double floor_phi(double v)
{
    return v < DBL_MIN ? 0.0 : v;
}

void pst_phi(const struct pst_case *c, const double *sim, const double *ctl, struct phi_parts *out)
{
    size_t ngroups = pst_nobsgps(c);
    out->total = out->meas = out->regul = 0.0;
    if (out->group) memset(out->group, 0, ngroups * sizeof(double));
    for (size_t i = 0; i < pst_nobs(c); i++) {
        const struct pst_obs *o = pst_obs(c, i);
        double r = o->weight * (o->value - sim[i]);
        if (out->group) out->group[o->group] += r * r;
        if (pst_obsgp(c, (size_t)o->group)->regul)
            out->regul += r * r;
        else
            out->meas += r * r;
    }
    for (size_t i = 0; ctl && i < pst_nprior(c); i++) {
        const struct pst_prior *pi = pst_prior(c, i);
        double r = pi->weight * (pst_prior_value(c, i, ctl) - pi->pival);
        if (out->group) out->group[pi->group] += r * r;
        if (pst_obsgp(c, (size_t)pi->group)->regul)
            out->regul += r * r;
        else
            out->meas += r * r;
    }
    out->meas = floor_phi(out->meas);
    out->regul = floor_phi(out->regul);
    out->total = floor_phi(out->meas + out->regul);
    for (size_t g = 0; out->group && g < ngroups; g++)
        out->group[g] = floor_phi(out->group[g]);
}
