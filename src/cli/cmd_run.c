#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model/runner.h"
#include "pest/check.h"
#include "pest/objective.h"
#include "pest/outputs.h"
#include "pest/pst.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"

enum { RUN_OPT_EXEC = 256, RUN_OPT_WORKDIR, RUN_OPT_FORGIVE };

static const struct cli_option run_options[] = {
    {"timeout", 't', "SEC", "kill the model's process group after SEC seconds"},
    {"exec", RUN_OPT_EXEC, NULL,
     "run commands as PEST++ does on Linux (split on spaces, no shell) instead of through "
     "/bin/sh -c"},
    {"workdir", RUN_OPT_WORKDIR, "DIR",
     "make the temporary copy under DIR (default $TMPDIR or /tmp)"},
    {"keep-workdir", 'k', NULL, "keep the temporary copy (it is always kept after a failure)"},
    {"forgive-unimplemented", RUN_OPT_FORGIVE, NULL,
     "go on, with a warning, when the case sets an option that changes the result and that "
     "pestrun does not implement (without it: exit status 2 before the model run)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_group run_groups[] = {{NULL, run_options}, {NULL, NULL}};

const struct cli_command cli_cmd_run = {
    .name = "run",
    .fn = cmd_run,
    .summary = "run the model once at the initial parameter values; write CASE.rei",
    .synopsis = "[OPTIONS] CASE.pst",
    .about = "Runs the model once at the initial parameter values (PARVAL1) in a temporary copy\n"
             "of the case folder, writes CASE.rei beside the control file and prints phi in\n"
             "total and per observation group, with each group's count of observations and\n"
             "prior information and how many of them carry weight.\n",
    .exit_status = {"the model run succeeded and CASE.rei was written",
                    "the model run failed (the reason is printed and the working copy kept), "
                    "or the working copy or CASE.rei could not be written",
                    CLI_EXIT_INVALID_CASE("run"), NULL},
    .groups = run_groups,
};

struct run_args {
    const char *pst;
    const char *workroot;
    int keep;
    int forgive;
    struct runner_opts ropts;
};

/* -1 to go on, else the exit status */
static int parse_args(int argc, char **argv, struct run_args *a)
{
    struct cli_parser p;
    const char *arg;
    int opt;

    memset(a, 0, sizeof(*a));
    a->ropts.exec = RUNNER_SHELL;
    a->ropts.log_name = RUNNER_LOG_NAME;
    cli_parser_init(&p, &cli_cmd_run, argc, argv);
    while ((opt = cli_next(&p, &arg)) > 0) {
        switch (opt) {
        case 't':
            if (pr_parse_double(arg, &a->ropts.timeout_s, 1) < 0 || a->ropts.timeout_s <= 0)
                return cli_bad_value(&p, "--timeout", "a number of seconds", arg);
            break;
        case RUN_OPT_EXEC:
            a->ropts.exec = RUNNER_EXEC;
            break;
        case RUN_OPT_WORKDIR:
            a->workroot = arg;
            break;
        case 'k':
            a->keep = 1;
            break;
        case RUN_OPT_FORGIVE:
            a->forgive = 1;
            break;
        }
    }
    if (opt == CLI_STOP) return p.status;
    if (cli_operands(&p, 1, 1, "one control file, CASE.pst") < 0) return p.status;
    a->pst = argv[p.next];
    return -1;
}

static void print_error(void *ctx, int is_error, const char *msg)
{
    (void)ctx;
    if (is_error) fprintf(stderr, "%s\n", msg);
}

/* Phi in total and per group, with each group's count of observations and prior information
 * and how many of them carry weight (those are what phi is made of). */
static void print_phi(const struct pst_case *c, const double *obs, const double *ctl)
{
    size_t ng = pst_nobsgps(c);
    double *group = xcalloc(ng + 1, sizeof(double));
    size_t *count = xcalloc(ng + 1, sizeof(size_t));
    size_t *weighted = xcalloc(ng + 1, sizeof(size_t));
    struct phi_parts phi = {.group = group};

    pst_phi(c, obs, ctl, &phi);
    for (size_t i = 0; i < pst_nobs(c); i++) {
        count[pst_obs(c, i)->group]++;
        weighted[pst_obs(c, i)->group] += pst_obs(c, i)->weight != 0.0;
    }
    for (size_t i = 0; i < pst_nprior(c); i++) {
        count[pst_prior(c, i)->group]++;
        weighted[pst_prior(c, i)->group] += pst_prior(c, i)->weight != 0.0;
    }
    printf("phi: %.10g (measurement %.10g, regularization %.10g)\n", phi.total, phi.meas,
           phi.regul);
    for (size_t g = 0; g < ng; g++) {
        char name[1024];
        snprintf(name, sizeof(name), "%s", pst_obsgp(c, g)->name);
        pr_lower(name);
        printf("  group %-20s phi %-18.10g %zu item%s, %zu weighted\n", name, group[g], count[g],
               count[g] == 1 ? "" : "s", weighted[g]);
    }
    free(group);
    free(count);
    free(weighted);
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    struct pr_error err;
    struct pst_check_sink sink = {print_error, NULL, 0, 0};
    struct pst_support_report sup = {0};
    struct pst_case *c = NULL;
    struct model_runner *r = NULL;
    char *work = NULL, *rei = NULL;
    double *ctl = NULL, *model = NULL;
    int rc = parse_args(argc, argv, &a);

    if (rc >= 0) return rc;
    rc = 1;
    c = pst_load(a.pst, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (pst_check(c, NULL, &sink) > 0) {
        fprintf(stderr, "pestrun: %s has %d error%s (see above); nothing was run\n", a.pst,
                sink.errors, sink.errors == 1 ? "" : "s");
        rc = 2;
        goto done;
    }
    if (cli_check_support(c, a.pst, PST_CMD_RUN, a.forgive, &sup) < 0) {
        rc = 2;
        goto done;
    }
    if (cli_parse_only(c, a.pst, &rc)) goto done;
    cli_support_warnings(&sup, 0, 0);
    work = pr_make_temp_dir(a.workroot, "pestrun-run", &err);
    if (!work || pr_copy_tree(pst_dir(c), work, work, &err) < 0) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        goto done;
    }
    r = runner_create(c, work, &a.ropts, &err);
    if (!r) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    ctl = xcalloc(pst_nparams(c) + 1, sizeof(double));
    model = xcalloc(pst_nparams(c) + 1, sizeof(double));
    pst_initial_values(c, ctl);
    pst_ctl_to_model(c, ctl, model);
    if (runner_run(r, model, &err) < 0) {
        fprintf(stderr, "pestrun: the model run failed: %s\n", err.msg);
        fprintf(stderr, "pestrun: its working copy is kept in %s\n", work);
        a.keep = 1;
        goto done;
    }
    /* Report the values as written to the templates (SPEC §2.5), in control space. */
    pst_model_to_ctl(c, runner_processed(r), ctl);
    rei = cli_case_output(a.pst, "rei");
    if (pst_write_rei(c, rei, 0, runner_observations(r), ctl, &err) < 0) {
        fprintf(stderr, "pestrun: %s\n", err.msg);
        goto done;
    }
    printf("%s: 1 model run in %.3f s\n", a.pst, runner_seconds(r));
    print_phi(c, runner_observations(r), ctl);
    printf("wrote %s\n", rei);
    rc = 0;
done:
    runner_destroy(r);
    if (work && !a.keep) {
        if (pr_remove_tree(work, &err) < 0) fprintf(stderr, "pestrun: %s\n", err.msg);
    } else if (work && rc == 0) {
        printf("working copy kept in %s\n", work);
    }
    free(work);
    free(rei);
    free(ctl);
    free(model);
    pst_support_report_free(&sup);
    pst_destroy(c);
    return rc;
}
