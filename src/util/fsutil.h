/* Working-directory helpers: copy a model folder for a worker, remove it afterwards. */
#ifndef PR_FSUTIL_H
#define PR_FSUTIL_H

#include "pr_error.h"

/* Copy the tree at src into dst (created; must not exist or be an empty directory). Regular
 * files, directories and symbolic links are copied; permissions are kept. The folder skip (a
 * path relative to src, may be NULL) is not copied, so a work directory inside the case folder
 * is not copied into itself. Returns 0 or -1 with err set. */
int pr_copy_tree(const char *src, const char *dst, const char *skip, struct pr_error *err);

/* Remove a tree (like rm -rf). Returns 0 or -1 with err set. */
int pr_remove_tree(const char *path, struct pr_error *err);

/* Create a fresh directory from a template ending in XXXXXX under $TMPDIR (or /tmp) when
 * parent is NULL. Returns a malloc'd path or NULL with err set. */
char *pr_make_temp_dir(const char *parent, const char *prefix, struct pr_error *err);

/* dir/name, or, when that does not exist and name has no '/', dir/N for the first entry N of dir
 * equal to name without regard to case (PEST++ upper-cases the values of its options). dir may
 * be NULL (the current folder). The caller frees the result. */
char *pr_resolve_file(const char *dir, const char *name);

#endif
