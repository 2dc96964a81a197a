/* flaky: a model that fails for part of its parameter range.
 *
 * Reads x from flaky.in. If x <= 0.5 it writes flaky.out (y = 2 x + 1) and exits 0. If x > 0.5
 * it writes nothing, prints one line on stderr and exits 1, like a solver that diverges for some
 * parameter values. The outcome depends only on x, so a sweep over x fails on exactly the rows
 * with x > 0.5 (flaky_sweep.csv). Exits 1 also if the input is unreadable. */
#include <stdio.h>

#include "tinymodel.h"

#define FLAKY_LIMIT 0.5

int main(void)
{
    double x;

    if (tiny_read_x("flaky.in", &x) < 0) return 1;
    if (x > FLAKY_LIMIT) {
        fprintf(stderr, "flaky: x = %g is above %g, failing on purpose\n", x, FLAKY_LIMIT);
        return 1;
    }
    return tiny_write_y("flaky.out", "flaky", tiny_response(x)) < 0 ? 1 : 0;
}
