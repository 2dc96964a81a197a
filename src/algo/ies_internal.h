/* Internal to the ies module (ies.c, ies_files.c, ies_upgrade.c): the smoother's state and the
 * helpers its files share, prefixed ies__. Not for other modules: their contract is ies.h. */
#ifndef PR_IES_INTERNAL_H
#define PR_IES_INTERNAL_H

#include <stdio.h>

#include "algo/ies.h"
#include "algo/parspace.h"
#include "util/rng.h"
#include "util/text.h"

struct strbuf;
struct pr_error;

#define DEFAULT_SEED 358183147u /* PEST++ ++random_seed */
#define LAMBDA_MIN 1.0e-30
#define LAMBDA_MAX 1.0e30
#define BASE_NAME "base"

enum subset_how { SUBSET_RANDOM, SUBSET_FIRST, SUBSET_LAST, SUBSET_PHI };

/* One local analysis of ++ies_localizer: a column's parameters (numeric indices) and the
 * observations of its non-zero rows (indices into ies.act). */
struct loc_case {
    size_t np, no;
    size_t *par, *obs;
};

/* The ensemble: rows are the active realizations, in the order they were drawn. */
struct ensemble {
    size_t n;   /* rows */
    size_t *id; /* row -> realization id (index into ies.names) */
    double *P;  /* n x nadj: numeric values */
    double *P0; /* n x nadj: the prior values of the same realizations */
    double *D;  /* n x nobs: simulated values */
    double *O;  /* n x nobs: observed values plus noise */
};

struct ies {
    const struct pst_case *c;
    const char *pst_path;
    struct sched *s;
    struct parspace ps;
    size_t npar, nobs, nadj, m;
    size_t *act;       /* the m observations with a weight above 0 */
    double *w;         /* their weights */
    signed char *ineq; /* theirs: -1 less-than, +1 greater-than (PEST++'s group prefixes), 0 */
    int drop_conflicts;
    double pdc_sigma;
    double *init;    /* PARVAL1 (control values, all parameters) */
    double *lo, *hi; /* numeric bounds of the adjustable parameters */
    double *sd;      /* prior standard deviations (numeric), for the regularization phi */
    double *parcov;  /* ++parcov (nadj x nadj), or NULL */
    char *prior_how;
    struct pr_rng rng;
    struct loc_case *cases; /* the local analyses of this iteration, or NULL */
    size_t ncases;
    struct loc_case *file_cases; /* ++ies_localizer's */
    size_t nfile_cases;
    int autoadaloc;
    double aal_sigma;
    size_t *indicators; /* ++ies_autoadaloc_indicator_pars (numeric indices) */
    size_t nind;
    /* options */
    int num_reals, include_base, no_noise, use_approx, enforce_bounds, subset_size, precision;
    int prior_scaling, update_by_reals, enforce_chglim;
    int use_mda;
    double mda_init, mda_dec;
    double *mda_lams;      /* the inflation factor of each iteration (solve_mda) */
    double *obscov_L;      /* ++obscov: the Cholesky factor for the m observations, or NULL */
    int restart;           /* ++ies_restart_obs_en: iteration 0 was not run */
    const char *center_on; /* ++ies_center_on, "" for the mean */
    int maxsing;
    double eigthresh;
    enum subset_how subset_how;
    double *mults, *scales;
    size_t nmults, nscales;
    double init_lambda, bad_phi, bad_phi_sigma, reg_factor, accept_fac, lam_inc, lam_dec;
    /* state */
    size_t nreals; /* realizations ever drawn */
    char **names;  /* per realization id */
    struct ensemble en;
    double lambda, last_mean, last_std;
    double *best_means; /* the mean composite phi of each iteration (best_mean_phis) */
    size_t nbest;
    size_t runs;
    int iter;
    FILE *rec, *f_actual, *f_meas, *f_regul, *f_comp, *f_group, *f_lambda;
};

enum phi_type { PHI_ACTUAL, PHI_MEAS, PHI_REGUL, PHI_COMPOSITE };

struct stats {
    double mean, std, min, max;
};

/* CASE.rec */
void ies__rec(struct ies *e, const char *fmt, ...) PR_PRINTF(2, 3);

/* ensembles (ies.c) */
void ies__en_alloc(const struct ies *e, struct ensemble *en, size_t n);
void ies__en_free(struct ensemble *en);
void ies__en_copy_row(const struct ies *e, struct ensemble *dst, size_t q,
                      const struct ensemble *src, size_t r);
void ies__en_keep(const struct ies *e, struct ensemble *en, const unsigned char *keep);
int ies__is_base(const struct ies *e, size_t id);
/* sim - obs of used observation i, 0 when an inequality holds. */
double ies__resid(const struct ies *e, size_t i, double sim, double obs);
double ies__regul_term(const struct ies *e, const double *p, const double *p0, size_t j);
double ies__phi_of(const struct ies *e, const struct ensemble *en, size_t r, enum phi_type t);
struct stats ies__stats_of(const double *v, size_t n);
struct stats ies__en_stats(const struct ies *e, const struct ensemble *en, enum phi_type t);
void ies__to_ctl(const struct ies *e, const double *num, double *ctl);

/* files (ies_files.c) */
int ies__open_outputs(struct ies *e, struct pr_error *err);
void ies__write_headers(struct ies *e);
int ies__write_text(const char *path, const struct strbuf *sb, struct pr_error *err);
/* CASE.<ext>: the parameters (control values; vals NULL) or the rows of vals (n x nobs). */
int ies__write_ensemble(struct ies *e, const char *ext, const struct ensemble *en,
                        const double *vals, struct pr_error *err);
/* CASE.N.par.csv, CASE.N.obs.csv, a row of each phi file, CASE.N.base.par/.rei, CASE.rec. */
int ies__write_iteration(struct ies *e, struct pr_error *err);
char *ies__case_file(const struct ies *e, const char *name);
char *ies__read_file(const char *path, size_t *len);
/* The ensemble file of option: rows x (every parameter, control values | every observation)
 * in *vals and the realization names (lower case) in *names, both malloc'd. Returns the row
 * count, or -1 with err set. */
long ies__read_ensemble_csv(struct ies *e, const char *option, int params, double **vals,
                            char ***names, struct pr_error *err);

/* upgrades and localization (ies_upgrade.c) */
int ies__read_localizer(struct ies *e, struct pr_error *err);
void ies__free_cases(struct loc_case *c, size_t n);
void ies__adaptive_cases(struct ies *e);
long ies__center_row(const struct ies *e);
/* The upgrades of realizations rows[] for each of the nl lambdas: out gets nl x nrows x nadj. */
int ies__upgrades(struct ies *e, const double *lams, size_t nl, const size_t *rows, size_t nrows,
                  double *out, size_t *rank, struct pr_error *err);

#endif
