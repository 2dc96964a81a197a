/* Internal: the ++ option key table shared by the control-file reader and its lookups. */
#ifndef PR_PST_OPTIONS_H
#define PR_PST_OPTIONS_H

/* Canonical (upper-case) key for key or one of its aliases; key itself (upper-cased into buf)
 * when it is not an alias. Sets *known to whether the key is a PEST++ option pestrun knows. */
const char *pst_option_canonical(const char *key, char *buf, size_t bufsz, int *known);
/* Is this option's value a file name (kept in its original case)? */
int pst_option_keeps_case(const char *canonical);

#endif
