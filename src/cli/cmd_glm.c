#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/glm.h"
#include "cli.h"
#include "engine.h"

static void glm_usage(FILE *out, const char *cmd)
{
    if (strcmp(cmd, "jacobian") == 0)
        fprintf(out,
                "usage: pestrun jacobian [OPTIONS] CASE.pst\n\n"
                "Fills the finite-difference Jacobian at the initial parameter values, every\n"
                "perturbation run in one parallel batch, and writes CASE.jcb (PEST's binary\n"
                "format, readable by pyemu) and CASE.rei.\n\n%s  -h, --help           this help\n",
                engine_help);
    else
        fprintf(
            out,
            "usage: pestrun glm [OPTIONS] CASE.pst\n\n"
            "Calibrates the case with Gauss-Levenberg-Marquardt, as pestpp-glm does: each\n"
            "iteration fills the Jacobian in one parallel batch, then tests several Marquardt\n"
            "lambdas and step scalings in a second batch. Writes CASE.rec, CASE.par, CASE.rei,\n"
            "CASE.iobj, CASE.ipar, CASE.jcb and CASE.best.pst (the control file with the best\n"
            "parameters) beside the control file. Every model run is journaled: after a crash\n"
            "or a stop, --resume continues without repeating a run.\n\n%s"
            "  -h, --help           this help\n",
            engine_help);
}

static int glm_command(int argc, char **argv, int jacobian_only)
{
    static const struct option own[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct option *longopts = engine_merge_longopts(own);
    struct engine_opts eo;
    struct glm_summary sum;
    struct pr_error err;
    struct pst_case *c = NULL;
    struct pst_support_report sup = {0};
    enum pst_cmd cmd = jacobian_only ? PST_CMD_JACOBIAN : PST_CMD_GLM;
    int opt, rc = 2;

    engine_opts_init(&eo);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "j:qh", longopts, NULL)) != -1) {
        int e = engine_parse_opt(&eo, opt, optarg);
        if (e < 0) goto done;
        if (e > 0) continue;
        if (opt == 'h') {
            glm_usage(stdout, argv[0]);
            rc = 0;
        } else {
            glm_usage(stderr, argv[0]);
        }
        goto done;
    }
    if (optind != argc - 1) {
        glm_usage(stderr, argv[0]);
        goto done;
    }
    c = cli_load_checked(argv[optind], cmd, eo.forgive_unimplemented, &rc, &sup);
    if (!c) goto done;
    struct engine *e = engine_start(c, argv[optind], &eo, &err);
    if (!e) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    cli_support_warnings(&sup, eo.quiet, eo.json);
    int g = glm_run(c, argv[optind], engine_sched(e), jacobian_only, &sum, &err);
    if (g < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    int stop_rc = engine_finish(e);
    if (g == 0 && !eo.quiet) {
        if (jacobian_only)
            printf("%s: Jacobian written after %zu model runs; phi %.10g\n", argv[optind], sum.runs,
                   sum.phi_best);
        else
            printf("%s: phi %.10g -> %.10g in %d iterations and %zu model runs (%s)\n",
                   argv[optind], sum.phi_start, sum.phi_best, sum.iterations, sum.runs,
                   sum.stop_reason);
    }
    rc = g < 0 ? 1 : stop_rc;
done:
    pst_support_report_free(&sup);
    pst_destroy(c);
    free(longopts);
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
