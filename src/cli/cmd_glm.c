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

struct glm_cmd {
    int jacobian_only;
    struct glm_summary sum;
};

static int glm_algo_run(void *ctx, const struct pst_case *c, const char *pst, struct sched *s,
                        struct pr_error *err)
{
    struct glm_cmd *g = ctx;
    return glm_run(c, pst, s, g->jacobian_only, &g->sum, err);
}

static void glm_report(void *ctx, const char *pst, int r, const struct engine_opts *eo)
{
    struct glm_cmd *g = ctx;
    (void)eo;
    if (r != 0) return;
    if (g->jacobian_only)
        printf("%s: Jacobian written after %zu model runs; phi %.10g\n", pst, g->sum.runs,
               g->sum.phi_best);
    else
        printf("%s: phi %.10g -> %.10g in %d iterations and %zu model runs (%s)\n", pst,
               g->sum.phi_start, g->sum.phi_best, g->sum.iterations, g->sum.runs,
               g->sum.stop_reason);
}

static int glm_command(int argc, char **argv, int jacobian_only)
{
    struct glm_cmd g = {.jacobian_only = jacobian_only};
    const struct engine_algo a = {
        .spec = jacobian_only ? &cli_cmd_jacobian : &cli_cmd_glm,
        .cmd = jacobian_only ? PST_CMD_JACOBIAN : PST_CMD_GLM,
        .ctx = &g,
        .run = glm_algo_run,
        .report = glm_report,
    };
    struct engine_opts eo;
    engine_opts_init(&eo);
    return engine_main(argc, argv, &eo, &a);
}

int cmd_glm(int argc, char **argv)
{
    return glm_command(argc, argv, 0);
}

int cmd_jacobian(int argc, char **argv)
{
    return glm_command(argc, argv, 1);
}
