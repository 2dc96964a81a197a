/* The Marquardt upgrade against closed-form answers. */
#include "check.h"

#include "algo/upgrade.h"

/* (J'J + lambda I)^-1 J'r for a 2-column problem, by Cramer's rule. */
static void closed_form(const double *J, const double *r, size_t m, double lambda, double *u)
{
    double a = lambda, b = 0, d = lambda, g0 = 0, g1 = 0;
    for (size_t i = 0; i < m; i++) {
        a += J[2 * i] * J[2 * i];
        b += J[2 * i] * J[2 * i + 1];
        d += J[2 * i + 1] * J[2 * i + 1];
        g0 += J[2 * i] * r[i];
        g1 += J[2 * i + 1] * r[i];
    }
    double det = a * d - b * b;
    u[0] = (d * g0 - b * g1) / det;
    u[1] = (a * g1 - b * g0) / det;
}

int main(void)
{
    /* a line fit y = p0 + p1 x through (0, 1), (1, 3), (2, 5.5), (3, 6.9) */
    double J[8] = {1, 0, 1, 1, 1, 2, 1, 3}, r[4] = {1, 3, 5.5, 6.9}, u[2], want[2];
    struct upgrade_problem p = {4, 2, J, r, 1e-12, 100, 0, UPGRADE_DIAG, NULL, NULL};
    struct pr_error err;

    CHECK(upgrade_solve(&p, 0.0, u, &err) == 2);
    /* least squares: slope = Sxy/Sxx = 10.1/5 = 2.02, intercept = 4.1 - 2.02 * 1.5 = 1.07 */
    CHECK_NEAR(u[1], 2.02, 1e-12);
    CHECK_NEAR(u[0], 1.07, 1e-12);
    for (double lambda = 0.1; lambda < 2000; lambda *= 10) {
        CHECK(upgrade_solve(&p, lambda, u, &err) == 2);
        closed_form(J, r, 4, lambda, want);
        CHECK_NEAR(u[0], want[0], 1e-10);
        CHECK_NEAR(u[1], want[1], 1e-10);
    }
    /* truncation: MAXSING 1 keeps one singular value */
    p.maxsing = 1;
    CHECK(upgrade_solve(&p, 0.0, u, &err) == 1);
    p.maxsing = 100;
    /* a column with no sensitivity gets no change, and the other its own least squares */
    double J2[8] = {0, 1, 0, 2, 0, 3, 0, 4}, r2[4] = {2, 4, 6, 8};
    struct upgrade_problem p2 = {4, 2, J2, r2, 1e-12, 100, 0, UPGRADE_DIAG, NULL, NULL};
    CHECK(upgrade_solve(&p2, 0.0, u, &err) == 1);
    CHECK_NEAR(u[0], 0.0, 1e-12);
    CHECK_NEAR(u[1], 2.0, 1e-12);
    /* the optimal length shortens a step that overshoots along J u */
    double J3[2] = {1, 1}, r3[2] = {1, 3};
    struct upgrade_problem p3 = {2, 1, J3, r3, 1e-12, 100, 1, UPGRADE_DIAG, NULL, NULL};
    CHECK(upgrade_solve(&p3, 1.0, u, &err) == 1);
    CHECK_NEAR(u[0], 4.0 / 3.0, 1e-12); /* (2 + 1)^-1 4 = 4/3; beta = 4/(2 * 4/3) > 1: kept */
    /* prior form, two parameters: (J'J + (1 + lambda) C^-1) u = J'r - C^-1 (p - p0), with
     * C^-1 = diag(1/4, 1) (prior standard deviations 2 and 1) and p - p0 = (0.5, -1) */
    {
        double pinv[4] = {0.25, 0, 0, 1.0}, pdev[2] = {0.5, -1.0}, lam = 0.5;
        struct upgrade_problem pp = {4, 2, J, r, 1e-12, 100, 0, UPGRADE_PRIOR, pinv, pdev};
        CHECK(upgrade_solve(&pp, lam, u, &err) == 2);
        double a = 4 + 1.5 * 0.25, b = 6, d = 14 + 1.5 * 1.0; /* J'J = [4 6; 6 14] + ... */
        double g0 = 16.4 - 0.25 * 0.5, g1 = 34.7 + 1.0;       /* J'r = (16.4, 34.7) - ... */
        double det = a * d - b * b;
        CHECK_NEAR(u[0], (d * g0 - b * g1) / det, 1e-10);
        CHECK_NEAR(u[1], (a * g1 - b * g0) / det, 1e-10);
    }
    /* ident form: the singular values of J'J grow by (1 + sqrt(lambda)); one parameter:
     * u = J'r / (J'J (1 + sqrt(lambda))) */
    {
        double J1[3] = {1, 2, 2}, r1[3] = {3, 1, 4};
        struct upgrade_problem pi = {3, 1, J1, r1, 1e-12, 100, 0, UPGRADE_IDENT, NULL, NULL};
        CHECK(upgrade_solve(&pi, 4.0, u, &err) == 1);
        CHECK_NEAR(u[0], 13.0 / (9.0 * 3.0), 1e-12);
        CHECK(upgrade_form_parse("Prior") == UPGRADE_PRIOR);
        CHECK(upgrade_form_parse("DIAG") == UPGRADE_DIAG);
        CHECK(upgrade_form_parse("ident") == UPGRADE_IDENT);
        CHECK(upgrade_form_parse("marquardt") == -1);
    }
    /* diag form: a column with next to no sensitivity takes no step and does not swamp the
     * truncation of the others: u0 = J'r / (J'J + lambda) = 5 / (5 + lambda) */
    {
        double Jt[4] = {1, 1e-20, 2, 0}, rt[2] = {1, 2};
        struct upgrade_problem pt = {2, 2, Jt, rt, 5e-7, 100, 0, UPGRADE_DIAG, NULL, NULL};
        CHECK(upgrade_solve(&pt, 1000.0, u, &err) >= 1);
        CHECK_NEAR(u[0], 5.0 / 1005.0, 1e-12);
        CHECK(u[1] == 0.0);
    }
    /* no columns: nothing to do */
    struct upgrade_problem p4 = {4, 0, J, r, 1e-12, 100, 0, UPGRADE_DIAG, NULL, NULL};
    CHECK(upgrade_solve(&p4, 1.0, u, &err) == 0);
    return check_done();
}
