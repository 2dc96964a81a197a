/* fail_exit: a model that does its work and then reports failure.
 *
 * Reads x from fail_exit.in, writes a valid fail_exit.out (y = 2 x + 1), prints one line on
 * stderr and exits with status 3. A PEST-compatible run manager must count the run as failed
 * even though every observation can be read (SPEC §4.3). Exits 1 if the input is unreadable. */
#include <stdio.h>

#include "tinymodel.h"

int main(void)
{
    double x;

    if (tiny_read_x("fail_exit.in", &x) < 0) return 1;
    if (tiny_write_y("fail_exit.out", "fail_exit", tiny_response(x)) < 0) return 1;
    fprintf(stderr, "fail_exit: wrote fail_exit.out, exiting with status 3 on purpose\n");
    return 3;
}
