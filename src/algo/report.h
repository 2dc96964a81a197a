/* The calibration report (pestrun report): one self-contained HTML file with inline SVG charts
 * of what a `pestrun glm` calibration wrote beside the control file:
 *   CASE.iobj        phi per iteration and observation group       (required)
 *   CASE.ipar        control-space parameter values per iteration  (required)
 *   CASE.rei         residuals at the best parameters              (required)
 *   CASE.par         the best parameters                           (required)
 *   CASE.iruns.csv   model runs and wall time per iteration        (optional)
 *   CASE.rec         the stop reason ("stopped: ...")              (optional)
 * The page needs no network and no JavaScript, and parses as XML (XHTML-compatible). */
#ifndef PR_REPORT_H
#define PR_REPORT_H

#include "pest/pst.h"

/* Read the outputs of case c (loaded from pst_path) and write the report to html_path.
 * Returns 0, or -1 with err naming the file (and line) that is missing or malformed, e.g.
 * "run/case.iobj:4: column 'total_phi': expected a number, got 'x'". Outputs that name a
 * parameter, observation or group the case does not have are refused (stale outputs). */
int report_write(const struct pst_case *c, const char *pst_path, const char *html_path,
                 struct pr_error *err);

/* The report of an ensemble calibration ('pestrun ies' or pestpp-ies; report_write chooses it
 * when there is a CASE.phi.actual.csv and no CASE.iobj): the mean phi and every realization's
 * phi per iteration (box plots), prior against posterior histograms of the parameters, and the
 * realizations dropped. Reads CASE.phi.actual.csv, CASE.0.par.csv and CASE.N.par.csv (N the
 * last iteration). Returns 0, or -1 with err naming the file that is missing or malformed. */
int report_ies_write(const struct pst_case *c, const char *pst_path, const char *html_path,
                     struct pr_error *err);

/* The page's style sheet, shared by both reports. */
extern const char report_page_style[];

#endif
