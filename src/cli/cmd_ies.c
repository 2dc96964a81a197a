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

int cmd_ies(int argc, char **argv)
{
    struct engine_opts eo;
    struct ies_summary sum;
    struct pr_error err;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};
    struct cli_parser p;
    const char *arg;
    int opt, rc = 2;

    engine_opts_init(&eo);
    eo.default_max_run_fail = 1; /* PEST++'s defaults for the ensemble methods */
    eo.default_overdue_giveup_fac = 2.0;
    cli_parser_init(&p, &cli_cmd_ies, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0)
        if (engine_parse_opt(&eo, opt, arg) < 0) return 2;
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0 ||
        engine_check_opts(&eo, cli_cmd_ies.name) < 0)
        return 2;
    const char *pst = argv[p.next];
    c = cli_load_checked(pst, PST_CMD_IES, eo.forgive_unimplemented, &rc, &sup);
    if (!c) goto done;
    struct engine *e = engine_start(c, pst, &eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo.quiet, eo.json);
    int r = ies_run(c, pst, engine_sched(e), &sum, &err);
    if (r < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    int stop_rc = engine_finish(e);
    if (r == 0 && !eo.quiet)
        printf("%s: mean phi %.6g -> %.6g in %d iterations and %zu model runs; %zu of %zu "
               "realizations left (%s)\n",
               pst, sum.phi_start, sum.phi_end, sum.iterations, sum.runs, sum.reals_end,
               sum.reals_start, sum.stop_reason);
    rc = r < 0 ? 1 : stop_rc;
done:
    pst_support_report_free(&sup);
    pst_destroy(c);
    return rc;
}
