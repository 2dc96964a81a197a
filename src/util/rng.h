/* A seeded random generator shared by every algorithm that draws realizations: MT19937
 * (Matsumoto and Nishimura 1998, the generator PEST++ seeds with ++random_seed), uniform doubles
 * with 53 random bits and standard normal deviates by Marsaglia's polar method. The same seed
 * gives the same stream on every machine. A value type: embed it, no allocation. */
#ifndef PR_RNG_H
#define PR_RNG_H

#include <stdint.h>

struct pr_rng {
    uint32_t s[624];
    int i;
    int have_spare;
    double spare;
};

void pr_rng_seed(struct pr_rng *r, uint32_t seed);
uint32_t pr_rng_next(struct pr_rng *r);
/* Uniform in [0, 1). */
double pr_rng_uniform(struct pr_rng *r);
/* Standard normal. */
double pr_rng_normal(struct pr_rng *r);
/* Uniform integer in [0, n), n > 0. */
uint32_t pr_rng_below(struct pr_rng *r, uint32_t n);

#endif
