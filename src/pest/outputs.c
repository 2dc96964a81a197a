#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "objective.h"
#include "../util/strbuf.h"
#include "../util/text.h"

char *pst_output_path(const char *pst_path, const char *ext)
{
    char *dir = pr_dirname(pst_path);
    const char *base = strrchr(pst_path, '/');
    base = base ? base + 1 : pst_path;
    size_t n = strlen(base);
    if (n > 4 && strcasecmp(base + n - 4, ".pst") == 0) n -= 4;
    struct strbuf sb = {0};
    sb_append(&sb, base, n);
    sb_printf(&sb, ".%s", ext);
    char *path = pr_path_join(dir, sb.data);
    sb_free(&sb);
    free(dir);
    return path;
}

static void lower_name(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
    pr_lower(dst);
}

static void rei_row(struct strbuf *sb, int namew, const char *name, const char *group,
                    double measured, double modelled, double residual, double weight)
{
    char n[4096], g[4096], v[4][64];
    lower_name(n, sizeof(n), name);
    lower_name(g, sizeof(g), group);
    snprintf(v[0], sizeof(v[0]), "%#.12g", measured);
    snprintf(v[1], sizeof(v[1]), "%#.12g", modelled);
    snprintf(v[2], sizeof(v[2]), "%#.12g", residual);
    snprintf(v[3], sizeof(v[3]), "%#.12g", weight);
    sb_printf(sb, " %-*s %-12s %-20s %-20s %-20s %-20s\n", namew, n, g, v[0], v[1], v[2], v[3]);
}

int pst_write_rei(const struct pst_case *c, const char *path, int iteration, const double *sim,
                  const double *ctl, struct pr_error *err)
{
    struct strbuf sb = {0};
    int namew = 20, rc;

    for (size_t i = 0; i < pst_nobs(c); i++)
        if ((int)strlen(pst_obs(c, i)->name) > namew) namew = (int)strlen(pst_obs(c, i)->name);
    for (size_t i = 0; i < pst_nprior(c); i++)
        if ((int)strlen(pst_prior(c, i)->name) > namew) namew = (int)strlen(pst_prior(c, i)->name);
    sb_printf(&sb, " MODEL OUTPUTS AT END OF OPTIMISATION ITERATION NO. %d:-\n\n\n", iteration);
    sb_printf(&sb, " %-*s %-12s %-20s %-20s %-20s %-20s\n", namew, "Name", "Group", "Measured",
              "Modelled", "Residual", "Weight");
    for (size_t i = 0; i < pst_nobs(c); i++) {
        const struct pst_obs *o = pst_obs(c, i);
        rei_row(&sb, namew, o->name, pst_obsgp(c, (size_t)o->group)->name, o->value, sim[i],
                o->value - sim[i], o->weight);
    }
    for (size_t i = 0; ctl && i < pst_nprior(c); i++) {
        const struct pst_prior *pi = pst_prior(c, i);
        double r = pst_prior_value(c, i, ctl) - pi->pival;
        rei_row(&sb, namew, pi->name, pst_obsgp(c, (size_t)pi->group)->name, pi->pival,
                pi->pival + r, r, pi->weight);
    }
    rc = pr_write_file(path, sb.data, sb.len, err);
    sb_free(&sb);
    return rc;
}

int pst_write_par(const struct pst_case *c, const char *path, const double *ctl,
                  struct pr_error *err)
{
    struct strbuf sb = {0};
    int rc;

    sb_puts(&sb, "single point\n");
    for (size_t i = 0; i < pst_nparams(c); i++) {
        const struct pst_param *p = pst_param(c, i);
        char n[4096];
        lower_name(n, sizeof(n), p->name);
        sb_printf(&sb, "%14s%22s%#.16g %#20.16g %#20.16g\n", n, "", ctl[i], p->scale, p->offset);
    }
    rc = pr_write_file(path, sb.data, sb.len, err);
    sb_free(&sb);
    return rc;
}
