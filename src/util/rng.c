#include "rng.h"

#include <math.h>

void pr_rng_seed(struct pr_rng *m, uint32_t seed)
{
    m->s[0] = seed;
    for (int i = 1; i < 624; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->i = 624;
    m->have_spare = 0;
}

uint32_t pr_rng_next(struct pr_rng *m)
{
    if (m->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
            m->s[k] = m->s[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double pr_rng_uniform(struct pr_rng *m)
{
    uint32_t a = pr_rng_next(m) >> 5, b = pr_rng_next(m) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double pr_rng_normal(struct pr_rng *m)
{
    if (m->have_spare) {
        m->have_spare = 0;
        return m->spare;
    }
    double u, v, s;
    do {
        u = 2 * pr_rng_uniform(m) - 1;
        v = 2 * pr_rng_uniform(m) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double f = sqrt(-2 * log(s) / s);
    m->spare = v * f;
    m->have_spare = 1;
    return u * f;
}

uint32_t pr_rng_below(struct pr_rng *m, uint32_t n)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % n, x; /* no modulo bias */
    do
        x = pr_rng_next(m);
    while (x >= limit);
    return x % n;
}
