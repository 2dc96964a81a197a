#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pst_options.h"
#include "../util/text.h"

/* Every ++ option PEST++ 5.2.23 reads (PestppOptions::assign_value_by_key and the functions it
 * hands over to: _continued, _sqp, assign_mou_, assign_ies_ and assign_da_value_by_key), with the
 * aliases PEST++ accepts for it, the programs that read it (found from where each value is
 * used) and, per pestrun command, what pestrun does with it (letters in pst_options.h).
 * Defaults are PestppOptions::set_defaults()'s; a value equal to the default is never reported.
 * A key that PEST++ accepts under two names but does not treat as one option (both may be
 * given) has two rows. */

#define GLM PST_PROG_GLM
#define IES PST_PROG_IES
#define SWP PST_PROG_SWP
#define SEN PST_PROG_SEN
#define MOU PST_PROG_MOU
#define DA PST_PROG_DA
#define OPTP PST_PROG_OPT
#define SQP PST_PROG_SQP
#define ALL PST_PROG_ALL
#define ENS (IES | DA) /* pestpp-da reads every pestpp-ies option too */

/* PESTMODE regularization, its '* regularization' section and ++max_reg_iter in pestrun glm
 * (src/algo/regul.c). "---X-" makes them an error for glm again. */
#define REGUL_GLM "---I-"

#define KEEP PST_OPT_KEEP_CASE
#define REGUL PST_OPT_REGUL_MODE

/* another program's option: no pestrun command uses it */
#define OTHER(progs, ...)                                                                          \
    {                                                                                              \
        {__VA_ARGS__}, (progs), "-----", 0, NULL, 0, NULL, NULL                                    \
    }
#define OTHER_FILE(progs, ...)                                                                     \
    {                                                                                              \
        {__VA_ARGS__}, (progs), "-----", 0, NULL, KEEP, NULL, NULL                                 \
    }
/* an option with a status per command */
#define OPT(progs, status, type, dflt, note, ...)                                                  \
    {                                                                                              \
        {__VA_ARGS__}, (progs), (status), (type), (dflt), 0, (note), NULL                          \
    }
#define OPT_FILE(progs, status, note, ...)                                                         \
    {                                                                                              \
        {__VA_ARGS__}, (progs), (status), 's', "", KEEP, (note), NULL                              \
    }
/* read by PEST++ and then not used */
#define IGNORED(progs, note, ...)                                                                  \
    {                                                                                              \
        {__VA_ARGS__}, (progs), "PPPPPP", 0, NULL, 0, (note), NULL                                  \
    }

#define DEBUG_FAIL "a PEST++ debugging option that fails runs on purpose"
#define TRANSPORT_NOTE "a PANTHER master setting"

static const struct pst_option_info option_table[] = {
    /* pestpp-glm: the upgrade, SVD-assisted (super) parameters, FOSM and Monte Carlo */
    OPT(GLM, "---I-", 'l', "0.1,1,10,100,1000", NULL, "LAMBDAS"),
    OPT(GLM | ENS | SQP, "---I-I", 'l', "0.75,1,1.1", NULL, "LAMBDA_SCALE_FAC"),
    OPT(GLM, "---I-", 'b', "true", NULL, "JAC_SCALE"),
    OPT(GLM, "---I-", 's', "diag", NULL, "GLM_NORMAL_FORM"),
    OPT(GLM, "---I-", 'i', "1000000", NULL, "N_ITER_BASE"),
    OPT(GLM, "---I-", 'i', "0", NULL, "N_ITER_SUPER"),
    OPT(GLM, "---I-", 'i', "1000000", NULL, "MAX_N_SUPER"),
    OPT(GLM, "---I-", 'd', "1e-6", NULL, "SUPER_EIGTHRESH", "SUPER_EIGTHRES"),
    OPT(GLM, "---I-", 'd', "0.1", NULL, "SUPER_RELPARMAX"),
    OPT(GLM, "---H-", 'i', "20",
        "pestrun clamps a super-parameter perturbation to the bounds instead of freezing base "
        "parameters in up to this many rounds",
        "MAX_SUPER_FRZ_ITER"),
    OPT(GLM, "---I-", 'b', "false", NULL, "GLM_REBASE_SUPER"),
    OPT(GLM | ENS | SEN | MOU, "---I-X", 'b', "false", NULL, "ENFORCE_TIED_BOUNDS"),
    OPT(GLM | ENS | MOU | SQP | OPTP, "---I-I", 's', "", NULL, "PARCOV", "PARAMETER_COVARIANCE",
        "PARCOV_FILENAME"),
    OPT(GLM | ENS | MOU | SQP | OPTP, "---I-I", 'd', "4", NULL, "PAR_SIGMA_RANGE"),
    OPT(GLM, "---I-", 's', "", NULL, "FORECASTS", "PREDICTIONS"),
    OPT(GLM, "---I-", 'b', "true", NULL, "UNCERTAINTY"),
    OPT(GLM, "---I-", 'i', "0", NULL, "GLM_NUM_REALS"),
    OPT(GLM | ENS | MOU | SEN | SQP | OPTP, "---I-I", 'i', "358183147", NULL, "RANDOM_SEED",
        "RAND_SEED"),
    OPT(GLM, "--II-", 'b', "true", NULL, "DER_FORGIVE"),
    OPT(GLM, "---H-", 's', "redsvd", "pestrun's SVD is LAPACK's; the library changes only rounding",
        "SVD_PACK"),
    OPT(GLM | OPTP, "---H-", 'b', "true",
        "output only: pestrun always writes CASE.ipar and CASE.iobj", "ITERATION_SUMMARY"),
    OPT(GLM | ENS | MOU | OPTP, "---X-I", 's', "",
        "pestpp-glm's FOSM analysis would use this observation noise covariance, not the weights",
        "OBSCOV", "OBSERVATION_COVARIANCE", "OBSCOV_FILENAME"),
    {{"BASE_JACOBIAN", "BASE_JACOBIAN_FILENAME"},
     GLM | OPTP | SQP,
     "--XX-",
     's',
     "",
     KEEP,
     "PEST++ reads the first Jacobian from this file instead of running the model for it",
     NULL},
    {{"HOTSTART_RESFILE"},
     GLM | OPTP | SQP,
     "---X-",
     's',
     "",
     KEEP,
     "with base_jacobian, PEST++ takes the starting residuals from this file",
     NULL},
    OPT(GLM, "---I-", 'b', "false", NULL, "GLM_ITER_MC"),
    OPT(GLM, "---X-", 'b', "false",
        "pestpp-glm would take a Monte Carlo realisation with a lower phi as the best parameters",
        "GLM_ACCEPT_MC_PHI"),
    OPT(GLM, "--XX-", 'b', "false", DEBUG_FAIL, "GLM_DEBUG_DER_FAIL"),
    OPT(GLM, "---X-", 'b', "false", DEBUG_FAIL, "GLM_DEBUG_LAMB_FAIL"),
    OPT(GLM, "---X-", 'b', "false", DEBUG_FAIL, "GLM_DEBUG_REAL_FAIL"),
    OPT(GLM, "---X-", 'b', "false", "a PEST++ debugging option that raises phi on purpose",
        "GLM_DEBUG_HIGH_2ND_ITER_PHI"),
    OPT(GLM, "---X-", 's', NULL, "pestpp-glm runs a global optimiser (differential evolution)",
        "GLOBAL_OPT"),
    {{"MAX_REG_ITER"},
     GLM,
     REGUL_GLM,
     'i',
     "20",
     REGUL,
     "regularization mode: iterations of the weight-factor search",
     NULL},
    /* differential evolution: used only with global_opt, which is reported itself */
    OTHER(GLM, "DE_F"),
    OTHER(GLM, "DE_CR"),
    OTHER(GLM, "DE_POP_SIZE"),
    OTHER(GLM, "DE_MAX_GEN"),
    OTHER(GLM, "DE_DITHER_F"),
    IGNORED(GLM, "read, never used", "MOEA_NAME"),
    IGNORED(GLM, "deprecated: PEST++ ignores it", "UPGRADE_AUGMENT"),
    IGNORED(GLM, "deprecated: PEST++ ignores it", "UPGRADE_BOUNDS"),
    IGNORED(GLM, "deprecated: PEST++ ignores it", "AUTO_NORM"),
    IGNORED(GLM, "deprecated: PEST++ ignores it", "MAT_INV"),

    /* pestpp-swp */
    OPT_FILE(SWP, "-I---", NULL, "SWEEP_PARAMETER_FILE", "SWEEP_PARAMETER_CSV_FILE",
             "SWEEP_PAR_CSV"),
    OPT_FILE(SWP, "-I---", NULL, "SWEEP_OUTPUT_FILE", "SWEEP_OUTPUT_CSV_FILE", "SWEEP_OBS_CSV"),
    OPT(SWP, "-I---", 'i', "500", NULL, "SWEEP_CHUNK"),
    OPT(SWP, "-I---", 'b', "false", NULL, "SWEEP_FORGIVE"),
    OPT(SWP, "-I---", 'b', "false", NULL, "SWEEP_INCLUDE_REGUL_PHI"),
    OPT(SWP, "-X---", 'b', "false",
        "pestpp-swp adds a run at the initial parameter values to the output", "SWEEP_BASE_RUN"),
    OPT(ENS | MOU | SWP, "-H---H", 'b', "false",
        "output format: pestrun writes CSV where PEST++ writes a dense binary file", "SAVE_DENSE"),

    /* the run manager: every program */
    OPT(ALL, "-TTT-T", 'i', "3", NULL, "MAX_RUN_FAIL"),
    OPT(ALL, "-TTT-T", 'd', "1.15", NULL, "OVERDUE_RESCHED_FAC"),
    OPT(ALL, "-TTT-T", 'd', "100", NULL, "OVERDUE_GIVEUP_FAC"),
    OPT(ALL, "-TTT-T", 'd', "1e30", NULL, "OVERDUE_GIVEUP_MINUTES"),
    OPT(ALL, "-RRR-R", 'b', "true", "PANTHER's progress line; pestrun prints its own",
        "PANTHER_ECHO"),
    OPT(ALL, "-RRR-R", 'd', "-999", TRANSPORT_NOTE, "PANTHER_MASTER_TIMEOUT_MILLISECONDS"),
    OPT(ALL, "-RRR-R", 'd', "1000", TRANSPORT_NOTE, "PANTHER_MASTER_ECHO_INTERVAL_MILLISECONDS"),
    OPT(ALL, "-RRR-R", 'b', "true", TRANSPORT_NOTE, "PANTHER_PERSISTENT_WORKERS"),
    {{"CONDOR_SUBMIT_FILE"}, GLM, "--RR-", 's', "", KEEP, "HTCondor agents", NULL},
    /* a PANTHER agent: pestrun panther */
    OPT(ALL, "----T", 'd', "1", NULL, "PANTHER_POLL_INTERVAL", "YAMR_POLL_INTERVAL"),
    OPT(ALL, "----T", 'd', "-1", NULL, "PANTHER_AGENT_NO_PING_TIMEOUT_SECS"),
    OPT(ALL, "----T", 'b', "false", "pestrun's agents always reconnect, with a back-off",
        "PANTHER_AGENT_RESTART_ON_ERROR"),
    OPT(ALL, "----H", 'b', "false", "a debugging aid: pestrun's agents go on after a failed run",
        "PANTHER_AGENT_FREEZE_ON_FAIL"),
    OPT(ALL, "----X", 'b', "false",
        "PEST++'s agent returns the control file's observed values instead of running the model: "
        "use --dry",
        "PANTHER_DEBUG_LOOP"),
    {{"PANTHER_TRANSFER_ON_FINISH"},
     ALL,
     "----H",
     's',
     "",
     KEEP,
     "pestrun's agents send no files to the master",
     NULL},
    {{"PANTHER_TRANSFER_ON_FAIL"},
     ALL,
     "----H",
     's',
     "",
     KEEP,
     "pestrun's agents send no files to the master",
     NULL},
    /* the model interface and the control file: every program */
    OPT(ALL, "IIIIII", 's', "", NULL, "ADDITIONAL_INS_DELIMITERS"),
    OPT(ALL, "IIIIII", 'b', "false", NULL, "FILL_TPL_ZEROS"),
    OPT(ALL, "IIIIII", 'b', "false", NULL, "TPL_FORCE_DECIMAL"),
    OPT(ALL, "IIIIII", 'b', "false", NULL, "DEBUG_PARSE_ONLY", "PARSE_ONLY"),
    OPT(ALL, "IIIIII", 'b', "false", "pestrun always keeps unknown options, with a warning",
        "FORGIVE_UNKNOWN_ARGS"),
    OPT(ALL, "HHHHHH", 'b', "true",
        "pestrun always checks templates and instruction files against the control file",
        "CHECK_TPLINS"),
    OPT(ALL, "HHHHHH", 'i', "1", "performance: each pestrun worker processes its own files",
        "NUM_TPL_INS_THREADS"),
    OPT(ALL, "-XXX-X", 'b', "false",
        "PEST++ ties every adjustable parameter of a group to the group's first", "TIE_BY_GROUP"),

    /* pestpp-ies (and pestpp-da) */
    OPT_FILE(ENS, "-----I", NULL, "IES_PARAMETER_ENSEMBLE", "IES_PAR_EN"),
    OPT_FILE(ENS, "-----I", NULL, "IES_OBSERVATION_ENSEMBLE", "IES_OBS_EN"),
    OPT_FILE(ENS, "-----I", NULL, "IES_RESTART_PARAMETER_ENSEMBLE", "IES_RESTART_PAR_EN"),
    OPT_FILE(ENS, "-----I", NULL, "IES_RESTART_OBSERVATION_ENSEMBLE", "IES_RESTART_OBS_EN"),
    OPT_FILE(ENS, "-----X", "pestpp-ies would give each realization its own weights",
             "IES_WEIGHTS_ENSEMBLE", "IES_WEIGHTS_EN", "IES_WEIGHT_ENSEMBLE", "IES_WEIGHT_EN"),
    OPT_FILE(ENS, "-----I", NULL, "IES_LOCALIZER"),
    OPT_FILE(ENS, "-----X",
             "pestpp-ies would re-weight the observation groups to these phi fractions",
             "IES_PHI_FACTOR_FILE"),
    OPT(ENS, "-----I", 'b', "true", NULL, "IES_USE_APPROX", "IES_USE_APPROXIMATE_SOLUTION"),
    OPT(ENS, "-----I", 'l', "0.1,1,10", NULL, "IES_LAMBDA_MULTS"),
    OPT(ENS, "-----I", 'd', "0", NULL, "IES_INITIAL_LAMBDA", "IES_INIT_LAM"),
    OPT(ENS, "-----I", 'i', "-10", NULL, "IES_SUBSET_SIZE"),
    OPT(ENS, "-----I", 'd', "0", NULL, "IES_REG_FACTOR", "IES_REG_FAC"),
    OPT(ENS, "-----H", 'i', "1", "output only: how much pestpp-ies writes to its log",
        "IES_VERBOSE_LEVEL"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_USE_PRIOR_SCALING"),
    OPT(ENS, "-----I", 'i', "50", NULL, "IES_NUM_REALS"),
    OPT(ENS, "-----I", 'd', "1.7976931348623157e308", NULL, "IES_BAD_PHI"),
    OPT(ENS, "-----I", 'd', "1.7976931348623157e308", NULL, "IES_BAD_PHI_SIGMA"),
    OPT(ENS, "-----I", 'b', "true", NULL, "IES_INCLUDE_BASE", "IES_ADD_BASE"),
    OPT(ENS, "-----X", 'b', "false",
        "pestpp-ies would take the prior covariance from the parameter ensemble",
        "IES_USE_EMPIRICAL_PRIOR"),
    OPT(ENS, "-----H", 'b', "true",
        "pestrun draws every parameter at once; its draws are not PEST++'s anyway",
        "IES_GROUP_DRAWS"),
    OPT(ENS, "-----I", 'b', "true", NULL, "IES_ENFORCE_BOUNDS"),
    OPT(ENS, "-----I", 'd', "1.05", NULL, "IES_ACCEPT_PHI_FAC"),
    OPT(ENS, "-----I", 'd', "10", NULL, "IES_LAMBDA_INC_FAC"),
    OPT(ENS, "-----I", 'd', "0.75", NULL, "IES_LAMBDA_DEC_FAC"),
    OPT(ENS, "-----H", 'b', "false", "output only: the ensembles of every lambda tested",
        "IES_SAVE_LAMBDA_EN", "IES_SAVE_LAMBDA_ENSEMBLES"),
    OPT(ENS, "-----I", 's', "random", NULL, "IES_SUBSET_HOW"),
    OPT(ENS, "-----H", 's', "parameters",
        "pestpp-ies 5.2.23 localizes by parameters whatever this says, and so does pestrun",
        "IES_LOCALIZE_HOW"),
    OPT(ENS, "-----H", 'i', "-1", "performance: threads of the localized upgrade",
        "IES_NUM_THREADS"),
    OPT(ENS, "-----X", 'b', "false", DEBUG_FAIL, "IES_DEBUG_FAIL_SUBSET"),
    OPT(ENS, "-----X", 'b', "false", DEBUG_FAIL, "IES_DEBUG_FAIL_REMAINDER"),
    OPT(ENS, "-----X", 'b', "false",
        "a PEST++ debugging option that drops a realization on purpose", "IES_DEBUG_BAD_PHI"),
    OPT(ENS, "-----X", 'b', "false", "a PEST++ debugging option that stops after the first upgrade",
        "IES_DEBUG_UPGRADE_ONLY"),
    OPT(ENS, "-----X", 'b', "false", "a PEST++ debugging option that raises phi on purpose",
        "IES_DEBUG_HIGH_SUBSET_PHI"),
    OPT(ENS, "-----X", 'b', "false", "a PEST++ debugging option that raises phi on purpose",
        "IES_DEBUG_HIGH_UPGRADE_PHI"),
    OPT(ENS, "-----H", 'b', "true", "output format: pestrun writes one row per realization",
        "IES_CSV_BY_REALS"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_AUTOADALOC"),
    OPT(ENS, "-----I", 'd', "1", NULL, "IES_AUTOADALOC_SIGMA_DIST"),
    OPT(ENS, "-----I", 's', "", NULL, "IES_AUTOADALOC_INDICATOR_PARS"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_ENFORCE_CHGLIM"),
    OPT(ENS, "-----I", 's', "", NULL, "IES_CENTER_ON"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_NO_NOISE"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_DROP_CONFLICTS"),
    OPT(ENS, "-----H", 'b', "false",
        "output only: the residual covariance matrix of each iteration", "IES_SAVE_RESCOV"),
    OPT(ENS, "-----I", 'd', "-1", NULL, "IES_PDC_SIGMA_DISTANCE"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_USE_MDA"),
    OPT(ENS, "-----I", 'd', "10", NULL, "IES_MDA_INIT_FAC"),
    OPT(ENS, "-----I", 'd', "0.5", NULL, "IES_MDA_DEC_FAC"),
    OPT(ENS, "-----H", 's', "local",
        "pestpp-ies 5.2.23 does local analysis whatever this says, and so does pestrun",
        "IES_LOC_TYPE", "IES_LOCALIZATION_TYPE"),
    OPT(ENS, "-----H", 'b', "true", "performance: pestrun computes each upgrade when it is needed",
        "IES_UPGRADES_IN_MEMORY"),
    OPT(ENS, "-----H", 'b', "true", "output format of binary ensembles", "IES_ORDERED_BINARY"),
    OPT(ENS, "-----X", 'd', "1",
        "pestpp-ies would compute each realization's upgrade from its nearest neighbours",
        "IES_MULTIMODAL_ALPHA"),
    OTHER(ENS, "IES_LOCALIZER_FORGIVE_MISSING", "IES_LOCALIZER_FORGIVE_EXTRA"),
    OTHER(ENS, "IES_PHI_FACTORS_BY_REAL"),
    OPT(ENS, "-----X", 'l', "0",
        "pestpp-ies would re-inflate the ensemble about its mean every N iterations",
        "IES_N_ITER_MEAN", "IES_N_ITER_REINFLATE"),
    OTHER(ENS, "IES_REINFLATE_FACTOR"),
    OPT(ENS, "-----I", 'b', "false", NULL, "IES_UPDATE_BY_REALS"),
    OPT(ENS, "-----I", 's', "", NULL, "IES_RUN_REALNAME"),
    OTHER(ENS, "DEBUG_CHECK_PAR_EN_CONSISTENCY"),
    OPT(ENS | MOU | SQP, "-----I", 'i', "20", NULL, "ENSEMBLE_OUTPUT_PRECISION"),
    OPT(ENS | MOU | SQP | GLM | OPTP, "---H-H", 'b', "false",
        "output format: pestrun writes CSV where PEST++ writes binary files", "SAVE_BINARY",
        "IES_SAVE_BINARY"),

    /* pestpp-da */
    OTHER_FILE(DA, "DA_PARAMETER_CYCLE_TABLE"),
    OTHER_FILE(DA, "DA_OBSERVATION_CYCLE_TABLE"),
    OTHER_FILE(DA, "DA_WEIGHT_CYCLE_TABLE"),
    OTHER_FILE(DA, "DA_NOPTMAX_SCHEDULE"),
    OTHER(DA, "DA_HOTSTART_CYCLE"),
    OTHER(DA, "DA_STOP_CYCLE"),
    OTHER(DA, "DA_USE_SIMULATED_STATES"),

    /* pestpp-sen */
    OTHER(SEN, "GSA_METHOD"),
    OTHER(SEN, "GSA_MORRIS_POOLED_OBS"),
    OTHER(SEN, "GSA_MORRIS_OBS_SEN"),
    OTHER(SEN, "GSA_MORRIS_P"),
    OTHER(SEN, "GSA_MORRIS_R"),
    OTHER(SEN, "GSA_MORRIS_DELTA"),
    OTHER(SEN, "GSA_SOBOL_SAMPLES"),
    OTHER(SEN, "GSA_SOBOL_PAR_DIST"),

    /* pestpp-opt, and the chance constraints pestpp-mou and pestpp-sqp share with it */
    OTHER(OPTP | MOU | SQP, "OPT_OBJ_FUNC", "OPT_OBJECTIVE_FUNCTION"),
    OTHER(OPTP | MOU | SQP, "OPT_DEC_VAR_GROUPS", "OPT_DECISION_VARIABLE_GROUPS"),
    OTHER(OPTP, "OPT_EXT_VAR_GROUPS", "OPT_EXTERNAL_VARIABLE_GROUPS"),
    OTHER(OPTP | MOU | SQP, "OPT_CONSTRAINT_GROUPS"),
    OTHER(OPTP | MOU | SQP, "OPT_DIRECTION"),
    OTHER(OPTP | MOU | SQP, "OPT_RISK"),
    OTHER(OPTP | MOU | SQP, "OPT_STD_WEIGHTS"),
    OTHER(OPTP | MOU | SQP, "OPT_STACK_SIZE"),
    OTHER_FILE(OPTP | MOU | SQP, "OPT_PAR_STACK"),
    OTHER_FILE(OPTP | MOU | SQP, "OPT_OBS_STACK"),
    OTHER(OPTP | MOU | SQP, "OPT_INCLUDE_BND_PI"),
    OTHER(OPTP | MOU | SQP, "OPT_RECALC_FOSM_EVERY"),
    OTHER(OPTP | MOU | SQP, "OPT_RECALC_CHANCE_EVERY"),
    OTHER(OPTP | MOU | SQP, "OPT_CHANCE_POINTS"),
    OTHER_FILE(OPTP | MOU | SQP, "OPT_CHANCE_SCHEDULE"),
    OTHER(OPTP, "OPT_ITER_DERINC_FAC"),
    OTHER(OPTP, "OPT_ITER_TOL"),
    OTHER(OPTP, "OPT_COIN_LOG"),
    OTHER(OPTP, "OPT_SKIP_FINAL"),

    /* pestpp-mou */
    OTHER_FILE(MOU, "MOU_GENERATOR"),
    OTHER_FILE(MOU, "MOU_DV_POPULATION_FILE"),
    OTHER_FILE(MOU, "MOU_OBS_POPULATION_RESTART_FILE"),
    OTHER_FILE(MOU, "MOU_OUTER_REPO_OBS_FILE"),
    OTHER_FILE(MOU, "MOU_POPULATION_SCHEDULE"),
    OTHER(MOU, "MOU_POPULATION_SIZE"),
    OTHER(MOU, "MOU_OBJECTIVES"),
    OTHER(MOU, "MOU_MAX_ARCHIVE_SIZE"),
    OTHER(MOU, "MOU_RISK_OBJECTIVE"),
    OTHER(MOU, "MOU_VERBOSE_LEVEL"),
    OTHER(MOU, "MOU_ENV_SELECTOR"),
    OTHER(MOU, "MOU_MATING_SELECTOR"),
    OTHER(MOU, "MOU_CROSSOVER_PROBABILITY"),
    OTHER(MOU, "MOU_MUTATION_PROBABILITY"),
    OTHER(MOU, "MOU_DE_F"),
    OTHER(MOU, "MOU_SAVE_POPULATION_EVERY"),
    OTHER(MOU, "MOU_PSO_OMEGA"),
    OTHER(MOU, "MOU_PSO_SOCIAL_CONST"),
    OTHER(MOU, "MOU_PSO_COGNITIVE_CONST"),
    OTHER(MOU, "MOU_PSO_ALPHA"),
    OTHER(MOU, "MOU_PSO_RRAMP"),
    OTHER(MOU, "MOU_PSO_RFIT"),
    OTHER(MOU, "MOU_PSO_INERTIA"),
    OTHER(MOU, "MOU_PSO_VMAX_FACTOR"),
    OTHER(MOU, "MOU_PSO_DV_BOUND_HANDLING"),
    OTHER(MOU, "MOU_MAX_NN_SEARCH"),
    OTHER(MOU, "MOU_HYPERVOLUME_EXTREME"),
    OTHER(MOU, "MOU_INFILL_SIZE"),
    OTHER(MOU, "MOU_RESAMPLE_EVERY"),
    OTHER(MOU, "MOU_RESAMPLE_COMMAND"),
    OTHER(MOU, "MOU_PPD_BETA"),
    OTHER(MOU, "MOU_FIT_GAMMA"),
    OTHER(MOU, "MOU_FIT_EPSILON"),
    OTHER(MOU, "MOU_SIMPLEX_REFLECTIONS"),
    OTHER(MOU, "MOU_SIMPLEX_FACTORS"),
    OTHER(MOU, "MOU_SIMPLEX_MUTATION"),
    OTHER(MOU, "MOU_USE_MULTIGEN_POPULATION"),
    OTHER(MOU, "MOU_SHUFFLE_FIXED_PARS"),
    OTHER(MOU, "MOU_DEBUG_DV_HANDLING"),

    /* pestpp-sqp */
    OTHER_FILE(SQP, "SQP_DV_EN"),
    OTHER_FILE(SQP, "SQP_RESTART_OBS_EN"),
    OTHER(SQP, "SQP_NUM_REALS"),
    OTHER(SQP, "SQP_UPDATE_HESSIAN"),
    OTHER(SQP, "SQP_SCALE_FACS"),
};

/* The fields of '* control data', '* singular value decomposition', '* regularization' and
 * '* parameter groups' (also the keys of '* control data keyword'), with what PEST++ does with
 * them (Pest::process_ctl_file, ControlInfo, SVDInfo and DynamicRegularization::
 * assign_value_by_key) and what pestrun does, per command as above. Defaults are PEST++'s
 * (ControlInfo::set_defaults, SVDInfo::set_defaults, DynamicRegularization::set_defaults).
 * The parameter-group rows are never reported (every field is implemented or ignored); they
 * are here to say so. */
#define CTL(section, status, type, dflt, flags, note, name)                                        \
    {                                                                                              \
        {name}, ALL, (status), (type), (dflt), (flags), (note), (section)                          \
    }
#define CTL_IGNORED(section, note, name) CTL(section, "PPPPPP", 0, NULL, 0, note, name)

#define CD "control data"
#define SVD "singular value decomposition"
#define REG "regularization"
#define PG "parameter groups"
#define LAMBDA_NOTE "PEST's lambda controls: PEST++ uses ++lambdas instead"
#define OUTPUT_FLAG "PEST's output flags"

static const struct pst_option_info control_table[] = {
    CTL_IGNORED(CD, "PEST++ writes its own restart files", "RSTFLE"),
    CTL(CD, REGUL_GLM, 's', "estimation", REGUL,
        "Tikhonov regularization with a dynamic weight factor", "PESTMODE"),
    CTL(CD, "IIIIII", 'i', NULL, 0, NULL, "NPAR"),
    CTL_IGNORED(CD, "PEST++ counts them", "NOBS"),
    CTL_IGNORED(CD, "PEST++ counts them", "NPARGP"),
    CTL_IGNORED(CD, "PEST++ counts them", "NPRIOR"),
    CTL_IGNORED(CD, "PEST++ counts them", "NOBSGP"),
    CTL_IGNORED(CD, NULL, "MAXCOMPDIM"),
    CTL(CD, "IIIIII", 'i', NULL, 0, NULL, "NTPLFLE"),
    CTL_IGNORED(CD, "PEST++ counts them", "NINSFLE"),
    CTL_IGNORED(CD, "PEST++ writes numbers its own way", "PRECIS"),
    CTL_IGNORED(CD, "PEST++ writes numbers its own way", "DPOINT"),
    CTL(CD, "IIIIII", 'i', NULL, 0, NULL, "NUMCOM"),
    CTL_IGNORED(CD, "read, never used", "JACFILE"),
    CTL_IGNORED(CD, NULL, "MESSFILE"),
    CTL_IGNORED(CD, NULL, "OBSREREF"),
    CTL_IGNORED(CD, LAMBDA_NOTE, "RLAMBDA1"),
    CTL_IGNORED(CD, LAMBDA_NOTE, "RLAMFAC"),
    CTL_IGNORED(CD, LAMBDA_NOTE, "PHIRATSUF"),
    CTL_IGNORED(CD, LAMBDA_NOTE, "PHIREDLAM"),
    CTL_IGNORED(CD, LAMBDA_NOTE, "NUMLAM"),
    CTL_IGNORED(CD, NULL, "JACUPDATE"),
    CTL_IGNORED(CD, NULL, "LAMFORGIVE"),
    CTL_IGNORED(CD, "PEST++ uses ++der_forgive instead", "DERFORGIVE"),
    CTL(CD, "---I-", 'd', "1", 0, NULL, "RELPARMAX"),
    CTL(CD, "---I-", 'd', "1.1", 0, NULL, "FACPARMAX"),
    CTL(CD, "---I-", 'd', "0.001", 0, NULL, "FACORIG"),
    CTL_IGNORED(CD, NULL, "IBOUNDSTICK"),
    CTL_IGNORED(CD, NULL, "UPVECBEND"),
    CTL(CD, "---I-", 'd', "0.1", 0, NULL, "PHIREDSWH"),
    CTL(CD, "---I-", 'i', "1", 0, NULL, "NOPTSWITCH"),
    CTL(CD, "---X-", 'd', "1.1", 0,
        "pestpp-glm switches to split-threshold derivatives when phi rises by this factor",
        "SPLITSWH"),
    CTL_IGNORED(CD, NULL, "DOAUI"),
    CTL_IGNORED(CD, NULL, "DOSENREUSE"),
    CTL_IGNORED(CD, NULL, "DOSENRESUSE"), /* PEST++'s spelling in its list of keywords */
    CTL_IGNORED(CD, NULL, "BOUNDSCALE"),
    CTL(CD, "-III-I", 'i', "0", 0, NULL, "NOPTMAX"), /* NOPTMAX 0: max_run_fail 1 */
    CTL(CD, "---I-I", 'd', "0.01", 0, NULL, "PHIREDSTP"),
    CTL(CD, "---I-I", 'i', "3", 0, NULL, "NPHISTP"),
    CTL(CD, "---I-I", 'i', "3", 0, NULL, "NPHINORED"),
    CTL(CD, "---I-", 'd', "0.01", 0, NULL, "RELPARSTP"),
    CTL(CD, "---I-", 'i', "3", 0, NULL, "NRELPAR"),
    CTL_IGNORED(CD, NULL, "PHISTOPTHRESH"),
    CTL_IGNORED(CD, NULL, "LASTRUN"),
    CTL_IGNORED(CD, NULL, "PHIABANDON"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "ICOV"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "ICOR"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "IEIG"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "IRES"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "JCOSAVE"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "VERBOSEREC"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "JCOSAVEITN"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "REISAVEITN"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "PARSAVEITN"),
    CTL_IGNORED(CD, OUTPUT_FLAG, "PARSAVERUN"),

    CTL_IGNORED(SVD, "PEST++ always uses SVD", "SVDMODE"),
    CTL(SVD, "---I-I", 'i', "1000000", 0, NULL, "MAXSING"),
    CTL(SVD, "---I-I", 'd', "1e-6", 0, NULL, "EIGTHRESH"),
    CTL(SVD, "---H-", 'i', "0", 0, "output only: how much PEST++ writes to CASE.svd", "EIGWRITE"),

    CTL(REG, REGUL_GLM, 'd', "1e-10", REGUL, NULL, "PHIMLIM"),
    CTL(REG, REGUL_GLM, 'd', "1.1e-10", REGUL, NULL, "PHIMACCEPT"),
    CTL(REG, REGUL_GLM, 'd', "1", REGUL, NULL, "FRACPHIM"),
    CTL(REG, REGUL_GLM, 'd', "1", REGUL, NULL, "WFINIT"),
    CTL(REG, REGUL_GLM, 'd', "1e-10", REGUL, NULL, "WFMIN"),
    CTL(REG, REGUL_GLM, 'd', "1e10", REGUL, NULL, "WFMAX"),
    CTL(REG, REGUL_GLM, 'd', "1.3", REGUL, NULL, "WFFAC"),
    CTL(REG, REGUL_GLM, 'd', "0.01", REGUL, NULL, "WFTOL"),
    CTL(REG, REGUL_GLM, 'i', "0", REGUL, NULL, "IREGADJ"),
    CTL_IGNORED(REG, NULL, "MEMSAVE"),
    CTL_IGNORED(REG, NULL, "LINREG"),
    CTL_IGNORED(REG, NULL, "REGCONTINUE"),

    CTL(PG, "--II-", 0, NULL, 0, NULL, "INCTYP"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "DERINC"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "DERINCLB"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "FORCEN"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "DERINCMUL"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "DERMTHD"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "SPLITTHRESH"),
    CTL(PG, "--II-", 0, NULL, 0, NULL, "SPLITRELDIFF"),
    CTL_IGNORED(PG, NULL, "SPLITACTION"),
};

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

static const struct pst_option_info *find_row(const struct pst_option_info *t, size_t n,
                                              const char *key)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 5 && t[i].names[j]; j++)
            if (pr_strieq(t[i].names[j], key)) return &t[i];
    return NULL;
}

/* pestpp-da's copy DA_X of the pestpp-ies option IES_X (assign_da_value_by_key). PEST++ keeps
 * DA_X apart from IES_X and from the copies of IES_X's aliases, so DA_X is its own canonical
 * name. */
static const struct pst_option_info *da_copy(const char *key)
{
    char ies[256];
    if (!pr_istarts(key, "DA_") || strlen(key) + 2 >= sizeof(ies)) return NULL;
    snprintf(ies, sizeof(ies), "IES_%s", key + 3);
    return find_row(option_table, NROWS(option_table), ies);
}

const struct pst_option_info *pst_option_info(const char *key)
{
    const struct pst_option_info *r = find_row(option_table, NROWS(option_table), key);
    return r ? r : da_copy(key);
}

const char *pst_option_canonical(const char *key, char *buf, size_t bufsz, int *known)
{
    const struct pst_option_info *r = find_row(option_table, NROWS(option_table), key);
    *known = r != NULL;
    if (r) return r->names[0];
    *known = da_copy(key) != NULL;
    snprintf(buf, bufsz, "%s", key);
    pr_upper(buf);
    return buf;
}

int pst_option_keeps_case(const char *canonical)
{
    const struct pst_option_info *r = pst_option_info(canonical);
    return r && (r->flags & PST_OPT_KEEP_CASE);
}

const struct pst_option_info *pst_control_info(const char *key)
{
    return find_row(control_table, NROWS(control_table), key);
}

size_t pst_option_table_size(void)
{
    return NROWS(option_table);
}

const struct pst_option_info *pst_option_table_row(size_t i)
{
    return i < NROWS(option_table) ? &option_table[i] : NULL;
}

size_t pst_control_table_size(void)
{
    return NROWS(control_table);
}

const struct pst_option_info *pst_control_table_row(size_t i)
{
    return i < NROWS(control_table) ? &control_table[i] : NULL;
}
