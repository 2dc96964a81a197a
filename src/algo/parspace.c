#include "parspace.h"

#include <math.h>
#include <stdlib.h>

#include "util/strbuf.h"

void parspace_init(struct parspace *ps, const struct pst_case *c)
{
    ps->c = c;
    ps->npar = pst_nparams(c);
    ps->adj = xcalloc(ps->npar + 1, sizeof(size_t));
    ps->is_log = xcalloc(ps->npar + 1, sizeof(int));
    ps->nadj = 0;
    for (size_t i = 0; i < ps->npar; i++) {
        const struct pst_param *p = pst_param(c, i);
        if (p->trans != PST_TRANS_NONE && p->trans != PST_TRANS_LOG) continue;
        ps->is_log[ps->nadj] = p->trans == PST_TRANS_LOG;
        ps->adj[ps->nadj++] = i;
    }
}

void parspace_free(struct parspace *ps)
{
    free(ps->adj);
    free(ps->is_log);
}

void parspace_to_num(const struct parspace *ps, const double *ctl, double *num)
{
    for (size_t k = 0; k < ps->nadj; k++) {
        double v = ctl[ps->adj[k]];
        num[k] = ps->is_log[k] ? log10(v) : v;
    }
}

void parspace_fix_tied(const struct parspace *ps, double *ctl)
{
    for (size_t i = 0; i < ps->npar; i++) {
        const struct pst_param *p = pst_param(ps->c, i);
        if (p->trans == PST_TRANS_TIED && p->tied_parent >= 0)
            ctl[i] = ctl[p->tied_parent] * p->tied_ratio;
    }
}

void parspace_from_num(const struct parspace *ps, const double *num, double *ctl)
{
    for (size_t k = 0; k < ps->nadj; k++)
        ctl[ps->adj[k]] = ps->is_log[k] ? pow(10.0, num[k]) : num[k];
    parspace_fix_tied(ps, ctl);
}
