/* Small text helpers used by the parsers: files, tokens, strict numbers, case. */
#ifndef PR_TEXT_H
#define PR_TEXT_H

#include <stddef.h>

#include "pr_error.h"

struct strbuf;

/* Read a whole file. Returns a malloc'd buffer (NUL-terminated, *len bytes before the NUL) or
 * NULL with err set to "PATH: cannot read: REASON". */
char *pr_read_file(const char *path, size_t *len, struct pr_error *err);
/* Read a whole file into sb (reset first; its memory is reused across calls). Returns 0 or -1
 * with err set as pr_read_file does. */
int pr_read_file_into(const char *path, struct strbuf *sb, struct pr_error *err);
/* Write a whole file (truncate). Returns 0 or -1 with err set. */
int pr_write_file(const char *path, const char *data, size_t len, struct pr_error *err);

/* Split s (modified in place) on any of the bytes in delims, dropping empty tokens.
 * Fills at most max pointers; returns the number of tokens found (may exceed max). */
size_t pr_tokenize(char *s, const char *delims, char **tok, size_t max);

/* Parse a whole token as a double the way PEST++ does (strtod, every byte consumed).
 * With finite_normal, values that are not 0 but are not normal (inf, nan, denormal) fail.
 * Returns 0 or -1. */
int pr_parse_double(const char *s, double *out, int finite_normal);
/* Parse a whole token as an int (optional sign, digits). Returns 0 or -1. */
int pr_parse_int(const char *s, int *out);
/* A list of finite numbers separated by commas, spaces or tabs (at most 256): *out is malloc'd
 * (never NULL), *n its length. 0, or -1 when an item is not a number. */
int pr_parse_double_list(const char *text, double **out, size_t *n);
/* Parse a PEST++ boolean: true/false/t/f (any case) or an integer (non-zero = true). */
int pr_parse_bool(const char *s, int *out);

void pr_upper(char *s);
void pr_lower(char *s);
int pr_strieq(const char *a, const char *b);
/* Does s start with prefix (case-insensitive)? */
int pr_istarts(const char *s, const char *prefix);
/* Strip leading and trailing bytes in set, in place; returns s advanced past the leading ones. */
char *pr_strip(char *s, const char *set);

/* The directory part of a path ("." when none), malloc'd. */
char *pr_dirname(const char *path);
/* Join dir and name ("name" alone when name is absolute or dir is NULL/"."), malloc'd. */
char *pr_path_join(const char *dir, const char *name);

#endif
