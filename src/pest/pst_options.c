#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pst_options.h"
#include "../util/text.h"

/* PEST++ 5.2 options: canonical name first, then its aliases (SPEC §4.6, §6). Options of every
 * PEST++ program are accepted, as every PEST++ program accepts the others'. */
static const char *const option_table[][4] = {
    {"MAX_RUN_FAIL"},
    {"OVERDUE_RESCHED_FAC"},
    {"OVERDUE_GIVEUP_FAC"},
    {"OVERDUE_GIVEUP_MINUTES"},
    {"PANTHER_POLL_INTERVAL", "YAMR_POLL_INTERVAL"},
    {"PANTHER_AGENT_RESTART_ON_ERROR"},
    {"PANTHER_AGENT_NO_PING_TIMEOUT_SECS"},
    {"PANTHER_AGENT_FREEZE_ON_FAIL"},
    {"PANTHER_DEBUG_LOOP"},
    {"PANTHER_ECHO"},
    {"PANTHER_MASTER_TIMEOUT_MILLISECONDS"},
    {"PANTHER_MASTER_ECHO_INTERVAL_MILLISECONDS"},
    {"PANTHER_PERSISTENT_WORKERS"},
    {"PANTHER_TRANSFER_ON_FINISH"},
    {"PANTHER_TRANSFER_ON_FAIL"},
    {"ADDITIONAL_INS_DELIMITERS"},
    {"FILL_TPL_ZEROS"},
    {"TPL_FORCE_DECIMAL"},
    {"NUM_TPL_INS_THREADS"},
    {"CHECK_TPLINS"},
    {"DEBUG_PARSE_ONLY", "PARSE_ONLY"},
    {"FORGIVE_UNKNOWN_ARGS"},
    {"CONDOR_SUBMIT_FILE"},
    {"RANDOM_SEED", "RAND_SEED"},
    {"PARCOV", "PARAMETER_COVARIANCE", "PARCOV_FILENAME"},
    {"OBSCOV", "OBSERVATION_COVARIANCE", "OBSCOV_FILENAME"},
    {"PAR_SIGMA_RANGE"},
    {"TIE_BY_GROUP"},
    {"ENFORCE_TIED_BOUNDS"},
    {"ITERATION_SUMMARY"},
    {"DER_FORGIVE"},
    {"LAMBDAS"},
    {"LAMBDA_SCALE_FAC"},
    {"JAC_SCALE"},
    {"GLM_NORMAL_FORM"},
    {"GLM_NUM_REALS"},
    {"UNCERTAINTY"},
    {"FORECASTS", "PREDICTIONS"},
    {"BASE_JACOBIAN"},
    {"HOTSTART_RESFILE"},
    {"N_ITER_BASE"},
    {"N_ITER_SUPER"},
    {"MAX_N_SUPER"},
    {"SUPER_EIGTHRESH"},
    {"SUPER_RELPARMAX"},
    {"MAX_SUPER_FRZ_ITER"},
    {"MAT_INV"},
    {"AUTO_NORM"},
    {"SVD_PACK"},
    {"UPGRADE_AUGMENT"},
    {"UPGRADE_BOUNDS"},
    {"SWEEP_PARAMETER_FILE", "SWEEP_PARAMETER_CSV_FILE", "SWEEP_PAR_CSV"},
    {"SWEEP_OUTPUT_FILE", "SWEEP_OUTPUT_CSV_FILE", "SWEEP_OBS_CSV"},
    {"SWEEP_CHUNK"},
    {"SWEEP_FORGIVE"},
    {"SWEEP_BASE_RUN"},
    {"SWEEP_INCLUDE_REGUL_PHI"},
    {"ENSEMBLE_OUTPUT_PRECISION"},
    {"SAVE_BINARY"},
    {"SAVE_DENSE"},
    {"IES_NUM_REALS"},
    {"IES_PARAMETER_ENSEMBLE", "IES_PAR_EN"},
    {"IES_OBSERVATION_ENSEMBLE", "IES_OBS_EN"},
    {"IES_LAMBDA_MULTS"},
    {"IES_INITIAL_LAMBDA"},
    {"IES_USE_APPROX", "IES_USE_APPROXIMATE_SOLUTION"},
    {"IES_USE_PRIOR_SCALING"},
    {"IES_SUBSET_SIZE"},
    {"IES_SUBSET_HOW"},
    {"IES_ACCEPT_PHI_FAC"},
    {"IES_LAMBDA_INC_FAC"},
    {"IES_LAMBDA_DEC_FAC"},
    {"IES_BAD_PHI"},
    {"IES_BAD_PHI_SIGMA"},
    {"IES_INCLUDE_BASE", "IES_ADD_BASE"},
    {"IES_ENFORCE_BOUNDS"},
    {"IES_NO_NOISE"},
    {"IES_CENTER_ON"},
    {"IES_USE_MDA"},
    {"IES_LOCALIZER", "IES_LOCALIZE"},
    {"IES_SAVE_RESTART_FILES"},
    {"IES_RUN_REALNAME"},
    {"IES_CSV_BY_REALS"},
    {"IES_VERBOSE_LEVEL"},
    {"IES_DEBUG_FAIL_SUBSET"},
    {"IES_DEBUG_FAIL_REMAINDER"},
    {"IES_DEBUG_BAD_PHI"},
    {"IES_DEBUG_UPGRADE_ONLY"},
    {"IES_DEBUG_HIGH_SUBSET_PHI"},
    {"IES_DEBUG_HIGH_UPGRADE_PHI"},
    {"IES_OBS_RESTART_CSV"},
    {"IES_PAR_RESTART_CSV"},
    {"IES_AUTOADALOC"},
    {"IES_AUTOADALOC_SIGMA_DIST"},
    {"IES_NUM_THREADS"},
    {"IES_N_ITER_MEAN"},
    {"IES_MULTIMODAL_ALPHA"},
    {"IES_WEIGHTS_ENSEMBLE"},
    {"IES_PHI_FACTOR_FILE"},
    {"OBS_RESTART_CSV"},
    {"PAR_RESTART_CSV"},
    {NULL},
};

const char *pst_option_canonical(const char *key, char *buf, size_t bufsz, int *known)
{
    for (size_t i = 0; option_table[i][0]; i++)
        for (size_t j = 0; j < 4 && option_table[i][j]; j++)
            if (pr_strieq(option_table[i][j], key)) {
                *known = 1;
                return option_table[i][0];
            }
    *known = 0;
    snprintf(buf, bufsz, "%s", key);
    pr_upper(buf);
    return buf;
}

int pst_option_keeps_case(const char *canonical)
{
    static const char *const files[] = {"CONDOR_SUBMIT_FILE",
                                        "SWEEP_PARAMETER_FILE",
                                        "SWEEP_OUTPUT_FILE",
                                        "PANTHER_TRANSFER_ON_FINISH",
                                        "PANTHER_TRANSFER_ON_FAIL",
                                        "PARCOV",
                                        "OBSCOV",
                                        "BASE_JACOBIAN",
                                        "HOTSTART_RESFILE",
                                        "IES_PARAMETER_ENSEMBLE",
                                        "IES_OBSERVATION_ENSEMBLE",
                                        "IES_LOCALIZER",
                                        "IES_OBS_RESTART_CSV",
                                        "IES_PAR_RESTART_CSV",
                                        "IES_WEIGHTS_ENSEMBLE",
                                        "IES_PHI_FACTOR_FILE",
                                        "OBS_RESTART_CSV",
                                        "PAR_RESTART_CSV",
                                        NULL};
    for (size_t i = 0; files[i]; i++)
        if (strcmp(files[i], canonical) == 0) return 1;
    return 0;
}
