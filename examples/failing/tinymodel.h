/* Input and output shared by the one-parameter failure models (fail_exit, garbage, flaky).
 *
 * The input file, written by pestrun from NAME.in.tpl, holds a line "x = VALUE"; lines starting
 * with '#' and blank lines are skipped. The output file holds a comment line and "y = VALUE",
 * read by NAME.out.ins with the primary marker "y =". */
#ifndef TINYMODEL_H
#define TINYMODEL_H

/* The model response: y = 2 x + 1. */
double tiny_response(double x);

/* Read x from path. On error a message naming the file is printed on stderr and -1 returned. */
int tiny_read_x(const char *path, double *x);

/* Write "y = VALUE" to path, the comment line naming model. On error as tiny_read_x. */
int tiny_write_y(const char *path, const char *model, double y);

#endif
