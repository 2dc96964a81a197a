/* Finite-difference derivatives against analytic ones, for every INCTYP / FORCEN / DERMTHD
 * combination and next to bounds, through the real scheduler over the loop transport with a
 * model of known gradient (no processes). */
#include "check.h"

#include <math.h>

#include "algo/jacobian.h"
#include "sched/loop.h"

/* The model, in model space: o1 = a^2 b, o2 = 3 a + exp(b / 4), o3 = 5 (no dependence). */
static void model(const double *v, double *o)
{
    o[0] = v[0] * v[0] * v[1];
    o[1] = 3 * v[0] + exp(v[1] / 4);
    o[2] = 5;
}

/* Workers answer every run at once with the model's values. */
static void idle(void *ctx, struct loop *l)
{
    long i;
    (void)ctx;
    while ((i = loop_next_unanswered(l)) >= 0) {
        struct loop_submit *s = loop_submit_at(l, (size_t)i);
        double o[3];
        model(s->values, o);
        s->answered = 1;
        loop_push_result(l, s->worker, s->key, RUN_OK, o, 0.01, NULL);
    }
}

static struct pst_case *make_case(const char *inctyp, const char *forcen, const char *dermthd,
                                  const char *trans_a, double a, double alo, double ahi,
                                  double b)
{
    char text[4096];
    struct pr_error err;
    snprintf(text, sizeof(text),
             "pcf\n* control data\nrestart estimation\n2 3 1 0 1\n1 1 single point 1\n"
             "10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n5 0.005 4 4 0.005 4\n0 0 0\n"
             "* parameter groups\ng %s 0.01 0.0001 %s 2.0 %s\n"
             "* parameter data\na %s relative %.17g %.17g %.17g g 1.0 0.0 1\n"
             "b none relative %.17g -10 10 g 1.0 0.0 1\n"
             "* observation groups\nobs\n* observation data\no1 0 1 obs\no2 0 1 obs\no3 0 1 "
             "obs\n* model command line\n./m\n* model input/output\nin.tpl in\nout.ins out\n",
             inctyp, forcen, dermthd, trans_a, a, alo, ahi, b);
    struct pst_case *c = pst_parse(text, strlen(text), "jac.pst", ".", &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    return c;
}

/* Fill the Jacobian at (a, b) and compare with the analytic gradient within tol (relative). */
static void check_case(const char *inctyp, const char *forcen, const char *dermthd,
                       const char *trans_a, double a, double alo, double ahi, double b, double tol)
{
    struct pst_case *c = make_case(inctyp, forcen, dermthd, trans_a, a, alo, ahi, b);
    if (!c)
        return;
    struct loop *l = loop_create(2, 3);
    loop_set_idle(l, idle, NULL);
    loop_push_up(l, 0);
    loop_push_up(l, 1);
    struct sched_config cfg = {.max_run_fail = 3, .overdue_resched_fac = 1.15,
                               .overdue_giveup_fac = 100, .overdue_giveup_minutes = 1e30,
                               .overdue_min_mean_s = 1e9, .extra_fd = -1,
                               .progress_interval_s = 1};
    struct sched *s = sched_create(loop_transport(l), &cfg, NULL, 2, 3);
    struct parspace ps;
    struct jacobian jac;
    struct pr_error err;
    parspace_init(&ps, c);
    jacobian_init(&jac, &ps);
    double ctl[2] = {a, b};
    unsigned char central[2] = {0, 0};
    if (strcmp(forcen, "always_3") == 0)
        central[0] = central[1] = 1;
    int rc = jacobian_fill(&jac, &ps, s, ctl, NULL, NULL, central, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    /* analytic: d/da and d/db; for a log-transformed a, d/d(log10 a) = a ln(10) d/da */
    double da[3] = {2 * a * b, 3, 0}, db[3] = {a * a, exp(b / 4) / 4, 0};
    if (strcmp(trans_a, "log") == 0)
        for (int o = 0; o < 3; o++)
            da[o] *= a * log(10.0);
    for (int o = 0; rc == 0 && o < 3; o++) {
        double ga = jac.J[o * 2 + 0], gb = jac.J[o * 2 + 1];
        CHECK_MSG(fabs(ga - da[o]) <= tol * fmax(1, fabs(da[o])),
                  "%s %s %s %s a=%g: d o%d/da = %.10g, analytic %.10g", inctyp, forcen, dermthd,
                  trans_a, a, o + 1, ga, da[o]);
        /* exactness claims are about a (quadratic); b's exp is O(h^2) at best */
        CHECK_MSG(fabs(gb - db[o]) <= fmax(tol, 1e-4) * fmax(1, fabs(db[o])),
                  "%s %s %s %s: d o%d/db = %.10g, analytic %.10g", inctyp, forcen, dermthd,
                  trans_a, o + 1, gb, db[o]);
    }
    CHECK(jac.ok[0] && jac.ok[1]);
    jacobian_free(&jac);
    parspace_free(&ps);
    sched_destroy(s);
    loop_destroy(l);
    pst_destroy(c);
}

int main(void)
{
    static const char *const inctyps[] = {"relative", "absolute", "rel_to_max"};
    static const char *const dermthds[] = {"parabolic", "outside_pts", "best_fit"};
    for (int i = 0; i < 3; i++)
        for (int m = 0; m < 3; m++) {
            /* forward differences: error O(h), h = 0.01 (relative to 2 or absolute 0.01) */
            check_case(inctyps[i], "always_2", dermthds[m], "none", 2.0, -10, 10, 1.5, 0.08);
            check_case(inctyps[i], "switch", dermthds[m], "none", 2.0, -10, 10, 1.5, 0.08);
            /* central: exact for o1 in a (quadratic) with the parabola, O(h^2) otherwise */
            check_case(inctyps[i], "always_3", dermthds[m], "none", 2.0, -10, 10, 1.5, 2e-3);
            check_case(inctyps[i], "always_3", dermthds[m], "log", 2.0, 0.1, 10, 1.5, 2e-3);
        }
    /* the parabola through base, a - h, a + h is exact for a quadratic */
    check_case("relative", "always_3", "parabolic", "none", 2.0, -10, 10, 1.5, 1e-9);
    /* at the upper bound: forward steps down, central uses a - h and a - 2h */
    check_case("relative", "always_2", "parabolic", "none", 2.0, -10, 2.0, 1.5, 0.08);
    check_case("relative", "always_3", "parabolic", "none", 2.0, -10, 2.0, 1.5, 1e-9);
    /* at the lower bound: central uses a + h and a + 2h */
    check_case("relative", "always_3", "parabolic", "none", 2.0, 2.0, 10, 1.5, 1e-9);
    check_case("absolute", "always_3", "outside_pts", "none", 2.0, 2.0, 10, 1.5, 0.1);
    return check_done();
}
