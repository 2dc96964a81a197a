/* Super parameters for SVD-assist (++n_iter_super, SPEC §6.5): the leading eigenvectors of
 * J'QJ from the weighted base Jacobian, as directions in numeric space. With the prior normal
 * form PEST++ 5.2.23 factors J'QJ + C^-1 + 1 1' instead (a matrix of ones: it weights the
 * direction that moves every parameter alike), and so does pestrun: on the mf6_valley example
 * it takes the first iteration's phi from 257 to 229 (PEST++: 247). Parameters whose composite
 * sensitivity |Q^1/2 J_j| / rows is below 1e-6 take no part. A super parameter's value is
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
 * prior_inv (n x n, C^-1 of every column; NULL when not the prior form) is added to J'QJ with
 * the matrix of ones. At most max_n_super super
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
