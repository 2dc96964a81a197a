#include <stdio.h>

#include "algo/ies.h"
#include "cli.h"
#include "engine.h"

const struct cli_command cli_cmd_ies = {
    .name = "ies",
    .fn = cmd_ies,
    .summary = "calibrate with the iterative ensemble smoother, in parallel",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Calibrates the case with the iterative ensemble smoother, as pestpp-ies does: the\n"
             "prior parameter ensemble (++ies_num_reals realizations drawn from ++parcov or the\n"
             "bounds, or ++ies_par_en) runs in one parallel batch; each iteration tests the\n"
             "++ies_lambda_mults x ++lambda_scale_fac upgrades on a subset of the realizations in\n"
             "one batch, then runs the rest of the ensemble at the best pair in another. Writes\n"
             "CASE.N.par.csv, CASE.N.obs.csv, CASE.obs+noise.csv, CASE.phi.*.csv and CASE.rec\n"
             "beside the control file, readable by pyemu. Every model run is journaled: after a\n"
             "crash or a stop, --resume continues without repeating a run, to the same files.\n",
    .exit_status = {"the smoother ended by NOPTMAX or one of its stopping rules (CASE.rec says "
                    "which)",
                    "the work failed: the prior ensemble's runs all failed, a file the case names "
                    "(++parcov, ++ies_par_en, ...) cannot be read, an output cannot be written, or "
                    "the workers, the journal or the transport failed",
                    CLI_EXIT_INVALID_CASE("ies"), CLI_EXIT_STOPPED},
    .groups = engine_command_groups,
};

static int ies_algo_run(void *ctx, const struct pst_case *c, const char *pst, struct sched *s,
                        struct pr_error *err)
{
    return ies_run(c, pst, s, ctx, err);
}

static void ies_report(void *ctx, const char *pst, int r, const struct engine_opts *eo)
{
    const struct ies_summary *sum = ctx;
    (void)eo;
    if (r != 0) return;
    printf("%s: mean phi %.6g -> %.6g in %d iterations and %zu model runs; %zu of %zu "
           "realizations left (%s)\n",
           pst, sum->phi_start, sum->phi_end, sum->iterations, sum->runs, sum->reals_end,
           sum->reals_start, sum->stop_reason);
}

int cmd_ies(int argc, char **argv)
{
    struct ies_summary sum;
    const struct engine_algo a = {
        .spec = &cli_cmd_ies,
        .cmd = PST_CMD_IES,
        .ctx = &sum,
        .run = ies_algo_run,
        .report = ies_report,
    };
    struct engine_opts eo;
    engine_opts_init(&eo);
    eo.default_max_run_fail = 1; /* PEST++'s defaults for the ensemble methods */
    eo.default_overdue_giveup_fac = 2.0;
    return engine_main(argc, argv, &eo, &a);
}
