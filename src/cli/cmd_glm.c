#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/glm.h"
#include "cli.h"
#include "engine.h"

const struct cli_command cli_cmd_jacobian = {
    .name = "jacobian",
    .fn = cmd_jacobian,
    .summary = "fill the Jacobian in parallel and write CASE.jcb",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Fills the finite-difference Jacobian at the initial parameter values, every\n"
             "perturbation run in one parallel batch, and writes CASE.jcb (PEST's binary\n"
             "format, readable by pyemu) and CASE.rei.\n",
    .exit_status = {"the Jacobian was written",
                    "the work failed: the base run failed, an output cannot be written, or the "
                    "workers, the journal or the transport failed",
                    CLI_EXIT_INVALID_CASE("jacobian"), CLI_EXIT_STOPPED},
    .groups = engine_command_groups,
};

const struct cli_command cli_cmd_glm = {
    .name = "glm",
    .fn = cmd_glm,
    .summary = "calibrate with Gauss-Levenberg-Marquardt, in parallel",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Calibrates the case with Gauss-Levenberg-Marquardt, as pestpp-glm does: each\n"
             "iteration fills the Jacobian in one parallel batch, then tests several Marquardt\n"
             "lambdas and step scalings in a second batch. Writes CASE.rec, CASE.par, CASE.rei,\n"
             "CASE.iobj, CASE.ipar, CASE.jcb and CASE.best.pst (the control file with the best\n"
             "parameters) beside the control file. Every model run is journaled: after a crash\n"
             "or a stop, --resume continues without repeating a run.\n",
    .exit_status = {"the calibration ended by one of its stopping rules (CASE.rec says which)",
                    "the work failed: the base run failed, a file the case names (++parcov, "
                    "...) cannot be read, an output cannot be written, or the workers, the "
                    "journal or the transport failed",
                    CLI_EXIT_INVALID_CASE("glm"), CLI_EXIT_STOPPED},
    .groups = engine_command_groups,
};

static int glm_command(int argc, char **argv, int jacobian_only)
{
    const struct cli_command *spec = jacobian_only ? &cli_cmd_jacobian : &cli_cmd_glm;
    struct engine_opts eo;
    struct glm_summary sum;
    struct pr_error err;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};
    struct cli_parser p;
    enum pst_cmd cmd = jacobian_only ? PST_CMD_JACOBIAN : PST_CMD_GLM;
    const char *arg;
    int opt, rc = 2;

    engine_opts_init(&eo);
    cli_parser_init(&p, spec, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0)
        if (engine_parse_opt(&eo, opt, arg) < 0) return 2;
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0 ||
        engine_check_opts(&eo, spec->name) < 0)
        return 2;
    const char *pst = argv[p.next];
    c = cli_load_checked(pst, cmd, eo.forgive_unimplemented, &rc, &sup);
    if (!c) goto done;
    struct engine *e = engine_start(c, pst, &eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo.quiet, eo.json);
    int g = glm_run(c, pst, engine_sched(e), jacobian_only, &sum, &err);
    if (g < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    int stop_rc = engine_finish(e);
    if (g == 0 && !eo.quiet) {
        if (jacobian_only)
            printf("%s: Jacobian written after %zu model runs; phi %.10g\n", pst, sum.runs,
                   sum.phi_best);
        else
            printf("%s: phi %.10g -> %.10g in %d iterations and %zu model runs (%s)\n", pst,
                   sum.phi_start, sum.phi_best, sum.iterations, sum.runs, sum.stop_reason);
    }
    rc = g < 0 ? 1 : stop_rc;
done:
    pst_support_report_free(&sup);
    pst_destroy(c);
    return rc;
}

int cmd_glm(int argc, char **argv)
{
    return glm_command(argc, argv, 0);
}

int cmd_jacobian(int argc, char **argv)
{
    return glm_command(argc, argv, 1);
}
