/* garbage: a model whose output cannot be read.
 *
 * Reads x from garbage.in, then writes garbage.out with asterisks where the number belongs
 * ("y = ****************", as a Fortran model prints a value too wide for its format) and exits
 * with status 0. The run must fail when garbage.out.ins reads y. Exits 1 if the input is
 * unreadable. */
#include <stdio.h>

#include "tinymodel.h"

int main(void)
{
    double x;
    FILE *fp;

    if (tiny_read_x("garbage.in", &x) < 0) return 1;
    fp = fopen("garbage.out", "w");
    if (!fp) {
        perror("garbage.out");
        return 1;
    }
    fprintf(fp, "# output of garbage\ny = ****************\n");
    return fclose(fp) == 0 ? 0 : 1;
}
