/* A case-insensitive table of names, each given the index of its insertion order.
 * Names are stored upper-cased, as PEST++ stores them; any length. */
#ifndef PR_NAMES_H
#define PR_NAMES_H

#include <stddef.h>

struct names;

struct names *names_create(void);
void names_destroy(struct names *n);

/* Add a name. Returns its new index, or -1 if it is already present (the table is unaltered). */
int names_add(struct names *n, const char *name);
/* Index of a name (any case), or -1. */
int names_find(const struct names *n, const char *name);
size_t names_count(const struct names *n);
/* The stored (upper-case) name of index i. */
const char *names_get(const struct names *n, size_t i);

#endif
