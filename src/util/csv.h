/* A small CSV reader for PEST's external files: a header line, then rows of the same width.
 * Double-quoted fields may contain the delimiter; a delimiter of 'w' means whitespace. */
#ifndef PR_CSV_H
#define PR_CSV_H

#include <stddef.h>

#include "pr_error.h"

struct csv;

/* Parse text held in buf (len bytes). Header names are upper-cased with control characters
 * removed; blank rows and rows starting with '#' are skipped. Errors: a duplicate column, a row
 * whose field count differs from the header's ("NAME:LINE: 3 fields where the header has 4"). */
struct csv *csv_parse(const char *buf, size_t len, const char *name, char sep,
                      struct pr_error *err);
void csv_destroy(struct csv *c);

size_t csv_ncols(const struct csv *c);
const char *csv_colname(const struct csv *c, size_t col);
/* Column index of the first of the given names (NULL-terminated list) present, or -1. */
int csv_find(const struct csv *c, const char *const *names);
size_t csv_nrows(const struct csv *c);
const char *csv_field(const struct csv *c, size_t row, size_t col);
int csv_row_line(const struct csv *c, size_t row);

/* Split one CSV line into fields (quotes removed), in place. Returns the field count (fields
 * beyond max are counted, not stored). sep 'w' splits on runs of blanks. */
size_t csv_split(char *line, char sep, char **fields, size_t max);

#endif
