/* The run journal: every finished model run is appended before it is reported, so a master
 * killed at any moment loses no completed run, and --resume reuses every run whose parameter
 * values match exactly (a parameter set already in the journal is never run again).
 *
 * The file is append-only and crash-safe: each record carries its length and a CRC-32, and a
 * torn record at the end (a crash in the middle of a write) is cut off when the journal is
 * opened again. Only the master writes it. Memory use is flat in the number of records: the
 * in-memory index holds a hash and a file offset per record, the observations stay on disk. */
#ifndef PR_JOURNAL_H
#define PR_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../util/pr_error.h"

struct journal;

/* Open the journal at path for a case identified by case_id (a hash of its parameter and
 * observation names, see journal_case_id) with npar parameters and nobs observations.
 * resume = 0: start a new, empty journal (an existing file is replaced).
 * resume = 1: keep and index the existing records (the file is created when missing); a
 * journal of another case (different case_id, npar or nobs) is an error that names the file.
 * Returns NULL with err set on failure. */
struct journal *journal_open(const char *path, uint64_t case_id, size_t npar, size_t nobs,
                             int resume, struct pr_error *err);
/* Close (syncs first). NULL is allowed. */
void journal_close(struct journal *j);

/* Number of records (ok and failed) and of successful ones. */
size_t journal_count(const struct journal *j);
size_t journal_count_ok(const struct journal *j);
/* Number of records dropped at open because the file ended in a torn record. */
size_t journal_truncated(const struct journal *j);

/* Find the latest successful run with exactly these model-space parameter values (bitwise
 * equal doubles). Returns 1 and fills processed (npar), obs (nobs) and *seconds when found,
 * 0 when not, -1 with err set on a read error. Any output pointer may be NULL. */
int journal_lookup(struct journal *j, const double *values, double *processed, double *obs,
                   double *seconds, struct pr_error *err);

/* Append a finished run: its requested values (npar), ok (1) or failed (0), the values as
 * written to the templates (npar; may be NULL when failed), observations (nobs; NULL when
 * failed), run time and the failure reason (NULL when ok). The record is written with
 * write(2) at once (it survives the process being killed) but is durable against power loss
 * only after journal_sync. Returns 0 or -1 with err set. */
int journal_append(struct journal *j, const double *values, int ok, const double *processed,
                   const double *obs, double seconds, const char *reason, struct pr_error *err);

/* fdatasync everything appended so far. Returns 0 or -1 with err set. */
int journal_sync(struct journal *j, struct pr_error *err);

/* The run times of the successful runs recorded in the journal at path, in file order (read
 * only; an intact prefix of a journal being written is fine). *times is malloc'd (NULL when
 * there is none). 0, or -1 with err set. */
int journal_read_times(const char *path, double **times, size_t *n, struct pr_error *err);

/* A 64-bit identity of a case from its parameter and observation names (in order). */
uint64_t journal_case_id(const char *const *par_names, size_t npar, const char *const *obs_names,
                         size_t nobs);
/* The same identity from the case's name tables (pst_param_names, pst_obs_names). */
struct names;
uint64_t journal_case_id_names(const struct names *params, const struct names *obs);

#endif
