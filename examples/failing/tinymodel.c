#include "tinymodel.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double tiny_response(double x)
{
    return 2.0 * x + 1.0;
}

/* Parse "x = VALUE" (any spacing around '='). Returns 1 if line is such a line, else 0. */
static int parse_x_line(const char *line, double *x)
{
    char *end;

    line += strspn(line, " \t");
    if (*line != 'x' && *line != 'X') return 0;
    line += 1 + strspn(line + 1, " \t");
    if (*line != '=') return 0;
    errno = 0;
    *x = strtod(line + 1, &end);
    if (end == line + 1 || errno == ERANGE || !isfinite(*x)) return 0;
    return end[strspn(end, " \t\r\n")] == '\0';
}

int tiny_read_x(const char *path, double *x)
{
    char line[256];
    FILE *fp = fopen(path, "r");

    if (!fp) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), fp)) {
        if (line[0] != '#' && parse_x_line(line, x)) {
            fclose(fp);
            return 0;
        }
    }
    fclose(fp);
    fprintf(stderr, "%s: no line 'x = VALUE'\n", path);
    return -1;
}

int tiny_write_y(const char *path, const char *model, double y)
{
    FILE *fp = fopen(path, "w");
    int failed;

    if (!fp) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(fp, "# output of %s\ny = %.15e\n", model, y);
    failed = ferror(fp);
    if (fclose(fp) != 0 || failed) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    return 0;
}
