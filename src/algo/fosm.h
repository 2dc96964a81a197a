/* First-order, second-moment (FOSM) uncertainty analysis as pestpp-glm 5.2.23 does it
 * (LinearAnalysis, Schur's complement), and its posterior Monte Carlo (++glm_num_reals).
 *
 * Everything is in numeric space (log10 for log-transformed parameters), over the adjustable
 * parameters whose derivatives were computed (a failed Jacobian column is left out, as PEST++
 * drops it from its Jacobian):
 *   prior      Cp from the bounds: diagonal, stdev = (PARUBND - PARLBND) / ++par_sigma_range (4),
 *              log10 bounds for log parameters; or from ++parcov(FILE): a PEST uncertainty file
 *              (.unc), a binary matrix (.jcb, .jco), a CSV matrix (.csv) or a PEST ASCII matrix
 *              (.cov, .mat, anything else). Entries for other names are ignored; an adjustable
 *              parameter missing from the file is an error.
 *   weights    every observation with weight w > 0 gets w' = min(w, 1/|obs - sim|) at the point
 *              analysed (PEST++ always re-weights so, there is no option; the weights used are
 *              in CASE[.N].fosm_reweight.rei); zero-weight observations get a variance of 1e60
 *              (no say); prior-information rows are not used (PEST++ drops them: expert
 *              knowledge belongs in the prior), nor are the forecasts' rows, whatever their
 *              weight (PEST++ takes them out of J). ++obscov is not used (PEST++ replaces it
 *              with the weights too).
 *   posterior  Cpost = (J' Q J + Cp^-1)^-1 with Q = diag(w'^2).
 *   forecasts  ++forecasts(NAMES) (observation names, or one file of names), or else every
 *              zero-weight observation; var = y' C y with y the forecast's Jacobian row. Prior
 *              mean: the value simulated at the initial parameters; posterior mean: the value at
 *              the point analysed. Listed in upper-case name order, as PEST++ lists them.
 *   means      prior: PARVAL1; posterior: the point analysed (numeric space).
 *
 * Files, beside the control file (CASE.pst), numbered as PEST++ numbers them: for GLM iteration
 * N (its Jacobian, at its base parameters) CASE.(N-1).par.usum.csv, CASE.(N-1).pred.usum.csv,
 * CASE.(N-1).fosm_reweight.rei and CASE.N.post.cov, with realizations CASE.N.post.paren.csv and
 * CASE.N.post.obsen.csv; at the end (iteration -1) the same names without a number. The usum
 * files have PEST++'s columns (name,prior_mean,prior_stdev,prior_lower_bound,prior_upper_bound,
 * post_mean,post_stdev,post_lower_bound,post_upper_bound; bounds are mean -/+ 2 stdev) and
 * numbers (6 significant digits); .post.cov is a PEST ASCII matrix (ICODE 1); the ensembles are
 * PEST++ CSVs (real_name, then every parameter or observation; 20 significant digits, or
 * ++ensemble_output_precision). The same inputs give byte-identical files. */
#ifndef PR_FOSM_H
#define PR_FOSM_H

#include <stddef.h>

#include "algo/jacobian.h"
#include "algo/parspace.h"
#include "util/pr_error.h"

struct strbuf;
struct fosm;

/* The point analysed. Nothing is kept after the call returns. */
struct fosm_input {
    const struct jacobian *jac; /* numeric space: rows observations then prior information (pst
                                   order), columns adjustable parameters (numeric order); columns
                                   with ok[k] == 0 are left out */
    const double *ctl;          /* control values (all parameters): the posterior means */
    const double *sim;          /* simulated values at ctl (pst observation order) */
    const double *sim_initial;  /* simulated values at the initial parameters (prior forecast
                                   means); NULL: sim */
};

/* Read the FOSM options of the case of ps (++uncertainty, ++forecasts, ++parcov,
 * ++par_sigma_range, ++glm_num_reals, ++glm_iter_mc, ++random_seed (358183147),
 * ++ensemble_output_precision) and the prior covariance matrix. ps (and its case) must outlive
 * the result; outputs go beside pst_path. Returns NULL with err naming the file and line
 * ("case.pst:31: ++forecasts: 'h99' is not an observation", "prior.unc:4: expected 'NAME
 * STDEV', got 'hk1'"). Free with fosm_destroy. */
struct fosm *fosm_create(const struct parspace *ps, const char *pst_path, struct pr_error *err);
void fosm_destroy(struct fosm *f); /* NULL is fine */

/* ++uncertainty (default true). When 0, fosm_write does nothing and returns 0. */
int fosm_enabled(const struct fosm *f);
/* The ++parcov prior covariance of the adjustable parameters (nadj x nadj, numeric order,
 * row-major; owned by f), or NULL when the prior comes from the bounds. */
const double *fosm_parcov(const struct fosm *f);
/* ++parcov of the case of ps, read as fosm_create reads it, for other algorithms (ies): 1 with
 * *out the nadj x nadj matrix (numeric order, row-major) and *how a line for CASE.rec (both
 * malloc'd, the caller frees them); 0 when the case gives no ++parcov; -1 with err set ("FILE:
 * 3 adjustable parameters are not in the prior covariance matrix: ..."). */
int fosm_load_parcov(const struct parspace *ps, double **out, char **how, struct pr_error *err);
/* Why the default analysis was left out (the bounds give no prior), or NULL. */
const char *fosm_disabled_why(const struct fosm *f);
/* How many posterior realizations to run after the analysis of iteration (-1 = final):
 * ++glm_num_reals at the end, and per iteration only with ++glm_iter_mc. 0 when disabled. */
size_t fosm_num_reals(const struct fosm *f, int iteration);

/* Analyse in and write its files (see the top of this file) for iteration N >= 1 or -1 (final).
 * When rec is not NULL the text for CASE.rec is appended to it (the caller writes it). Returns
 * 0, or -1 with err set (no parameter left in the analysis, a covariance matrix that is not
 * positive definite, a file that cannot be written); PEST++ reports an iteration's FOSM error
 * and goes on. */
int fosm_write(struct fosm *f, const struct fosm_input *in, int iteration, struct strbuf *rec,
               struct pr_error *err);
/* The analysis alone, no files (fosm_write calls it). Returns 0 or -1 with err set. */
int fosm_compute(struct fosm *f, const struct fosm_input *in, struct pr_error *err);

/* Draw n parameter sets from N(p, Cpost) of the last analysis, in numeric space, with the
 * seeded generator (its stream continues from draw to draw), each value clamped to its bounds
 * (PEST++'s ies_enforce_bounds), tied parameters following their parents and the parameters not
 * in the analysis at the analysed values. Returns n x npar control values, row-major (the
 * caller frees them), or NULL with err set when there is no analysis yet. */
double *fosm_draw(struct fosm *f, size_t n, struct pr_error *err);
/* Write CASE[.N].post.paren.csv (reals as drawn: n x npar control values) and
 * CASE[.N].post.obsen.csv (sim: n x nobs, row i valid when ok[i]) for iteration N or -1. A failed
 * run's realization is left out of the observation ensemble (PEST++ 5.2.23 writes it as a row of
 * zeros) and named in the text appended to rec (with each realization's measurement phi, when
 * rec is not NULL). Returns 0 or -1 with err set. */
int fosm_write_reals(struct fosm *f, int iteration, const double *reals, const double *sim,
                     const unsigned char *ok, size_t n, struct strbuf *rec, struct pr_error *err);

/* The last successful analysis (fosm_compute or fosm_write), for reports and tests; before one,
 * fosm_nparams is 0 and nothing else may be asked. k runs over the parameters in the analysis
 * (numeric order), f over the forecasts (upper-case name order). Names are upper case, as the
 * case stores them. */
struct fosm_summary {
    const char *name;
    double prior_mean, prior_sd, post_mean, post_sd;
};
size_t fosm_nparams(const struct fosm *f);
size_t fosm_param_numeric(const struct fosm *f, size_t k); /* its numeric index (ps->adj[]) */
void fosm_param(const struct fosm *f, size_t k, struct fosm_summary *out);
double fosm_prior_cov(const struct fosm *f, size_t i, size_t j);
double fosm_post_cov(const struct fosm *f, size_t i, size_t j);
size_t fosm_nforecasts(const struct fosm *f);
void fosm_forecast(const struct fosm *f, size_t k, struct fosm_summary *out);
/* The weight observation i had in the last analysis (after re-weighting). */
double fosm_weight(const struct fosm *f, size_t i);

/* A dense named matrix as the PEST formats hold it (names upper case, as PEST++ keeps them). */
struct fosm_matrix;
/* By extension: .unc (an uncertainty file; its matrix files are read relative to dir, c gives the
 * parameter order for FIRST_PARAMETER/LAST_PARAMETER and may be NULL), .jcb/.jco (binary), .csv,
 * or else a PEST ASCII matrix. Returns NULL with err set ("FILE:LINE: what was expected"). */
struct fosm_matrix *fosm_matrix_load(const char *path, const char *dir, const struct pst_case *c,
                                     struct pr_error *err);
/* The parsers behind it; name is used in messages. */
struct fosm_matrix *fosm_matrix_parse_ascii(const char *buf, size_t len, const char *name,
                                            struct pr_error *err);
struct fosm_matrix *fosm_matrix_parse_unc(const char *buf, size_t len, const char *name,
                                          const char *dir, const struct pst_case *c,
                                          struct pr_error *err);
struct fosm_matrix *fosm_matrix_parse_binary(const char *buf, size_t len, const char *name,
                                             struct pr_error *err);
struct fosm_matrix *fosm_matrix_parse_csv(const char *buf, size_t len, const char *name,
                                          struct pr_error *err);
void fosm_matrix_destroy(struct fosm_matrix *m); /* NULL is fine */
size_t fosm_matrix_nrows(const struct fosm_matrix *m);
size_t fosm_matrix_ncols(const struct fosm_matrix *m);
const char *fosm_matrix_rowname(const struct fosm_matrix *m, size_t i);
const char *fosm_matrix_colname(const struct fosm_matrix *m, size_t j);
double fosm_matrix_get(const struct fosm_matrix *m, size_t i, size_t j);

#endif
