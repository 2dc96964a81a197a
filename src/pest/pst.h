/* The PEST control file (SPEC §1): classic positional sections, the version-2 keyword and
 * external-CSV sections, and ++ option lines. Read once; the case is then immutable.
 *
 * Names are stored upper-case and matched case-insensitively, as PEST++ does. Every record keeps
 * the file and line it came from so that later checks can say "case.pst:14: ...". */
#ifndef PR_PST_H
#define PR_PST_H

#include <stddef.h>

#include "../util/names.h"
#include "../util/pr_error.h"

enum pst_trans { PST_TRANS_NONE, PST_TRANS_LOG, PST_TRANS_FIXED, PST_TRANS_TIED };
enum pst_chglim { PST_CHG_RELATIVE, PST_CHG_FACTOR, PST_CHG_ABSOLUTE };
enum pst_inctyp { PST_INC_RELATIVE, PST_INC_ABSOLUTE, PST_INC_REL_TO_MAX };
enum pst_forcen { PST_FORCEN_SWITCH, PST_FORCEN_ALWAYS_2, PST_FORCEN_ALWAYS_3 };
enum pst_dermthd { PST_DER_PARABOLIC, PST_DER_OUTSIDE_PTS, PST_DER_BEST_FIT };
enum pst_mode { PST_MODE_ESTIMATION, PST_MODE_REGULARIZATION, PST_MODE_PARETO };

/* Where a record was read: a file (the .pst or an external CSV) and its 1-based line. */
struct pst_loc {
    const char *file;
    int line;
};

struct pst_pargp {
    const char *name;
    enum pst_inctyp inctyp;
    double derinc, derinclb;
    enum pst_forcen forcen;
    double derincmul;
    enum pst_dermthd dermthd;
    double splitthresh, splitreldiff;
    int defined; /* 0 when created by default for a parameter naming an undefined group */
    struct pst_loc loc;
};

struct pst_param {
    const char *name;
    enum pst_trans trans;
    enum pst_chglim chglim;
    double parval1, lbnd, ubnd;
    int group; /* index into the parameter groups */
    double scale, offset;
    int dercom;
    int tied_parent;   /* index of the parent parameter, -1 when not tied */
    double tied_ratio; /* parval1 / parent parval1 (1 when the parent's is 0) */
    double stdev;      /* version 2 'standard_deviation' column (numeric space); NAN: none */
    struct pst_loc loc;
};

struct pst_obsgp {
    const char *name;
    int regul; /* name starts with REGUL */
    struct pst_loc loc;
};

struct pst_obs {
    const char *name;
    double value, weight;
    double stdev; /* version 2 'standard_deviation' column (noise); NAN: none */
    int group;
    struct pst_loc loc;
};

struct pst_pi_term {
    int param;
    double factor;
    int log; /* term is factor * log10(param) */
};

struct pst_prior {
    const char *name;
    int nterms;
    struct pst_pi_term *terms;
    double pival, weight;
    int group; /* index into the observation groups */
    struct pst_loc loc;
};

/* A model input (template -> model file) or output (instruction file -> model file) pair. */
struct pst_io {
    const char *pest_file;
    const char *model_file;
    struct pst_loc loc;
};

struct pst_command {
    const char *line;
    struct pst_loc loc;
};

struct pst_control {
    enum pst_mode pestmode;
    int numcom;
    double rlambda1, rlamfac, phiratsuf, phiredlam;
    int numlam;
    double relparmax, facparmax, facorig;
    double phiredswh;
    int noptswitch;
    double splitswh;
    int noptmax;
    double phiredstp;
    int nphistp, nphinored;
    double relparstp;
    int nrelpar;
    int maxsing;
    double eigthresh;
    int has_svd;
    /* regularization section (PESTMODE regularization) */
    double phimlim, phimaccept, fracphim, wfinit, wfmin, wfmax, wffac, wftol;
    int iregadj;
};

/* A ++ option as given: key upper-cased and resolved through aliases, value text. The same
 * record holds a control-data, SVD or regularization field as given (key: its PEST name, such as
 * "SPLITSWH"; value: the token as written), see pst_control_key(). */
struct pst_option {
    const char *key;
    const char *value;
    struct pst_loc loc;
    const char *name; /* the key as written (an alias, in the file's case) */
    int plusplus;     /* 1: from a ++ line; 0: a 'key value' line of '* control data keyword' */
};

/* A non-fatal remark found while reading (unused lines, unknown sections or options). */
struct pst_warning {
    char *text; /* "file:line: message" */
};

struct pst_case;

/* Read a control file from disk. External files (version 2) are read relative to the
 * directory of path (PEST++ uses the working directory; pestrun is run from there too, and the
 * .pst directory is the only choice that works from elsewhere).
 * On error NULL is returned and err says "FILE:LINE: what was expected". */
struct pst_case *pst_load(const char *path, struct pr_error *err);
/* Read a control file held in buf. dir is where external files are looked up. */
struct pst_case *pst_parse(const char *buf, size_t len, const char *name, const char *dir,
                           struct pr_error *err);
void pst_destroy(struct pst_case *c);

const char *pst_path(const struct pst_case *c); /* as given to pst_load/pst_parse */
const char *pst_dir(const struct pst_case *c);  /* the case folder */
const struct pst_control *pst_control(const struct pst_case *c);
/* Set NOPTMAX (pestrun plan runs a private copy of a case for a few iterations). */
void pst_set_noptmax(struct pst_case *c, int noptmax);

size_t pst_nparams(const struct pst_case *c);
const struct pst_param *pst_param(const struct pst_case *c, size_t i);
const struct names *pst_param_names(const struct pst_case *c);
size_t pst_npargps(const struct pst_case *c);
const struct pst_pargp *pst_pargp(const struct pst_case *c, size_t i);
size_t pst_nobs(const struct pst_case *c);
const struct pst_obs *pst_obs(const struct pst_case *c, size_t i);
const struct names *pst_obs_names(const struct pst_case *c);
size_t pst_nobsgps(const struct pst_case *c);
const struct pst_obsgp *pst_obsgp(const struct pst_case *c, size_t i);
size_t pst_nprior(const struct pst_case *c);
const struct pst_prior *pst_prior(const struct pst_case *c, size_t i);
size_t pst_ncommands(const struct pst_case *c);
const struct pst_command *pst_command(const struct pst_case *c, size_t i);
size_t pst_ninputs(const struct pst_case *c);
const struct pst_io *pst_input(const struct pst_case *c, size_t i);
size_t pst_noutputs(const struct pst_case *c);
const struct pst_io *pst_output(const struct pst_case *c, size_t i);
size_t pst_noptions(const struct pst_case *c);
const struct pst_option *pst_option(const struct pst_case *c, size_t i);
/* Every control-data, SVD and regularization field the file gives, in file order: positional
 * fields of the classic sections under their PEST names, and the keys of '* control data
 * keyword' that are not ++ options. Fields PEST++ itself ignores are included. */
size_t pst_ncontrol_keys(const struct pst_case *c);
const struct pst_option *pst_control_key(const struct pst_case *c, size_t i);
size_t pst_nwarnings(const struct pst_case *c);
const char *pst_warning(const struct pst_case *c, size_t i);

/* Typed ++ option lookups (key in any case, aliases accepted). The default is returned when the
 * option is absent; -1 is returned with err set when present but malformed. */
const char *pst_opt_str(const struct pst_case *c, const char *key, const char *dflt);
int pst_opt_bool(const struct pst_case *c, const char *key, int dflt, int *out,
                 struct pr_error *err);
int pst_opt_int(const struct pst_case *c, const char *key, int dflt, int *out,
                struct pr_error *err);
int pst_opt_double(const struct pst_case *c, const char *key, double dflt, double *out,
                   struct pr_error *err);

/* Control-space values of every parameter at PARVAL1 (tied children recomputed). */
void pst_initial_values(const struct pst_case *c, double *ctl);
/* Control space -> model space (tied recomputed from parents, x SCALE + OFFSET). */
void pst_ctl_to_model(const struct pst_case *c, const double *ctl, double *model);
/* Model space -> control space ((v - OFFSET) / SCALE). */
void pst_model_to_ctl(const struct pst_case *c, const double *model, double *ctl);

#endif
