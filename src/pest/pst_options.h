/* Internal: the table of every ++ option and control-data field PEST++ 5.2 reads, shared by the
 * control-file reader (aliases, which values keep their case) and pst_check_support() (which
 * PEST++ programs read each one and what pestrun does with it, command by command). */
#ifndef PR_PST_OPTIONS_H
#define PR_PST_OPTIONS_H

#include <stddef.h>

/* The PEST++ programs that read an option. */
enum {
    PST_PROG_GLM = 1 << 0, /* pestpp-glm */
    PST_PROG_IES = 1 << 1, /* pestpp-ies */
    PST_PROG_SWP = 1 << 2, /* pestpp-swp */
    PST_PROG_SEN = 1 << 3, /* pestpp-sen */
    PST_PROG_MOU = 1 << 4, /* pestpp-mou */
    PST_PROG_DA = 1 << 5,  /* pestpp-da */
    PST_PROG_OPT = 1 << 6, /* pestpp-opt */
    PST_PROG_SQP = 1 << 7, /* pestpp-sqp */
    PST_PROG_ALL = 0xff,   /* the run manager and model interface every program shares */
};

/* What pestrun does with an option, one letter per command (see PST_SUPPORT_COMMANDS):
 *   '-' not used by this command (another program's option, or no meaning here): nothing said
 *   'P' PEST++ itself ignores it: nothing said
 *   'I' implemented
 *   'T' honoured by pestrun's scheduler or transport
 *   'R' a transport setting that pestrun's own transport replaces: a warning
 *   'H' read but not implemented, and it does not change the result (output, performance,
 *       debugging aids): a warning
 *   'X' not implemented, and it changes the result: an error unless --forgive-unimplemented */
#define PST_SUPPORT_COMMANDS "run sweep jacobian glm panther ies"

enum {
    PST_OPT_KEEP_CASE = 1,  /* the value is a file name: kept in its original case */
    PST_OPT_REGUL_MODE = 2, /* only used with PESTMODE regularization */
};

struct pst_option_info {
    const char *names[5]; /* canonical (upper case) first, then PEST++'s aliases */
    unsigned progs;       /* PST_PROG_* */
    const char *status;   /* a letter per command: run, sweep, jacobian, glm, panther, ies (a
                             missing last letter is '-') */
    char type;            /* how a value is compared with dflt: b, i, d, s, l (list of numbers) */
    const char *dflt;     /* PEST++'s default; NULL: any value counts as set */
    unsigned flags;       /* PST_OPT_* */
    const char *note;     /* what the option does when pestrun does not do it, or why not */
    const char *section;  /* control keys only: "control data", "regularization", ... */
};

/* Canonical (upper-case) key for key or one of its aliases; key itself (upper-cased into buf)
 * when it is not an alias. Sets *known to whether the key is one PEST++ 5.2 reads. A key
 * DA_X, where IES_X is a pestpp-ies option or alias, is pestpp-da's copy of that option (as
 * PEST++ treats it) and its own canonical name. */
const char *pst_option_canonical(const char *key, char *buf, size_t bufsz, int *known);
/* Is this option's value a file name (kept in its original case)? */
int pst_option_keeps_case(const char *canonical);

/* The row of a ++ option (key, alias or DA_ copy, any case), or NULL when unknown. */
const struct pst_option_info *pst_option_info(const char *key);
/* The row of a control-data, SVD, regularization or parameter-group field, or NULL. */
const struct pst_option_info *pst_control_info(const char *key);
/* The tables, for counting and listing. */
size_t pst_option_table_size(void);
const struct pst_option_info *pst_option_table_row(size_t i);
size_t pst_control_table_size(void);
const struct pst_option_info *pst_control_table_row(size_t i);

#endif
