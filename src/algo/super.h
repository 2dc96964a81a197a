/* Super parameters for SVD-assist (++n_iter_super, SPEC §6.5): the leading right singular
 * vectors of the weighted base Jacobian, Q^1/2 J (with the prior C^-1 added to J'QJ for the
 * prior normal form), as directions in numeric space. A super parameter's value is
 * 10 + v_i . (p - p0), as in PEST++, so that ++super_relparmax is a relative limit on a value
 * that is never zero. Base parameters at a bound or without a derivative are frozen: they have
 * no weight in any direction. */
#ifndef PR_SUPER_H
#define PR_SUPER_H

#include <stddef.h>

#include "util/pr_error.h"

#define SUPER_OFFSET 10.0

struct super_tf {
    size_t n;   /* base (numeric, adjustable) parameters */
    size_t k;   /* super parameters */
    double *V;  /* k x n, row-major, orthonormal rows; 0 in frozen columns */
    double *sv; /* k singular values of J'QJ (+ C^-1), largest first */
};

/* Define t from the m x n weighted Jacobian Jw (row-major). frozen[j] excludes column j;
 * prior_inv (n values or NULL) is added to the diagonal of J'QJ. At most max_n_super super
 * parameters, and none whose singular value is at most eigthres times the largest. Returns the
 * number of super parameters (>= 1), or -1 with err set (t left empty). Free with
 * super_free. */
int super_define(struct super_tf *t, size_t m, size_t n, const double *Jw,
                 const unsigned char *frozen, const double *prior_inv, int max_n_super,
                 double eigthres, struct pr_error *err);
void super_free(struct super_tf *t);

/* Js = J V' for an nrows x n matrix J (row-major): nrows x k. Caller frees. */
double *super_project(const struct super_tf *t, const double *J, size_t nrows);
/* dp = V' ds: a step in super space as a step in numeric space (n values). */
void super_step(const struct super_tf *t, const double *ds, double *dp);
/* The component of a numeric step dp along super parameter i. */
double super_along(const struct super_tf *t, size_t i, const double *dp);

#endif
