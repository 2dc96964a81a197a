/* Super parameters (SVD-assist) against a Jacobian whose singular vectors are known. */
#include "check.h"

#include "algo/super.h"

int main(void)
{
    struct pr_error err = {0};
    struct super_tf t;
    /* J'J = diag(1, 4, 0) rotated by nothing: directions e2 (4), e1 (1); e3 has no weight */
    double J[6] = {1, 0, 0, 0, 2, 0};
    CHECK(super_define(&t, 2, 3, J, NULL, NULL, 10, 1e-6, &err) == 2);
    CHECK_NEAR(t.sv[0], 4.0, 1e-12);
    CHECK_NEAR(t.sv[1], 1.0, 1e-12);
    CHECK_NEAR(t.V[0 * 3 + 1], 1.0, 1e-12); /* sign fixed: the largest component positive */
    CHECK_NEAR(t.V[1 * 3 + 0], 1.0, 1e-12);
    double *Js = super_project(&t, J, 2);
    CHECK_NEAR(Js[0 * 2 + 0], 0.0, 1e-12); /* row 1 = (1,0,0): along e2 0, along e1 1 */
    CHECK_NEAR(Js[0 * 2 + 1], 1.0, 1e-12);
    CHECK_NEAR(Js[1 * 2 + 0], 2.0, 1e-12);
    free(Js);
    double ds[2] = {0.5, -2}, dp[3];
    super_step(&t, ds, dp);
    CHECK_NEAR(dp[0], -2, 1e-12);
    CHECK_NEAR(dp[1], 0.5, 1e-12);
    CHECK_NEAR(dp[2], 0, 1e-12);
    CHECK_NEAR(super_along(&t, 1, dp), -2, 1e-12);
    super_free(&t);
    /* at most max_n_super; the prior form adds C^-1 and ones (PEST++) to the sensitive
     * columns; a frozen column and an insensitive one (column 3) have no weight */
    unsigned char frozen[3] = {0, 1, 0};
    double pinv[9] = {0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5};
    CHECK(super_define(&t, 2, 3, J, frozen, pinv, 1, 1e-6, &err) == 1);
    CHECK_NEAR(t.sv[0], 2.5, 1e-12); /* 1 + 1 + 0.5 */
    CHECK_NEAR(t.V[2], 0.0, 0);
    CHECK_NEAR(t.V[1], 0.0, 0);
    CHECK_NEAR(t.V[0], 1.0, 1e-12);
    super_free(&t);
    /* the matrix of ones couples independent parameters: J'J = I, C^-1 = 0 gives
     * [2 1; 1 2], eigenvalues 3 along (1, 1)/sqrt(2) and 1 along (1, -1)/sqrt(2) */
    double I2[4] = {1, 0, 0, 1}, zero[4] = {0, 0, 0, 0};
    CHECK(super_define(&t, 2, 2, I2, NULL, zero, 5, 1e-6, &err) == 2);
    CHECK_NEAR(t.sv[0], 3.0, 1e-12);
    CHECK_NEAR(t.sv[1], 1.0, 1e-12);
    CHECK_NEAR(t.V[0], sqrt(0.5), 1e-12);
    CHECK_NEAR(t.V[1], sqrt(0.5), 1e-12);
    CHECK_NEAR(fabs(t.V[2] - t.V[3]), 2 * sqrt(0.5), 1e-12);
    super_free(&t);
    /* a correlated pair: J = [1 1] gives the direction (1, 1)/sqrt(2) */
    double J2[2] = {1, 1};
    CHECK(super_define(&t, 1, 2, J2, NULL, NULL, 5, 1e-6, &err) == 1);
    CHECK_NEAR(t.V[0], sqrt(0.5), 1e-12);
    CHECK_NEAR(t.V[1], sqrt(0.5), 1e-12);
    super_free(&t);
    /* nothing free, or a zero Jacobian: an error, and t stays empty */
    unsigned char all[2] = {1, 1};
    CHECK(super_define(&t, 1, 2, J2, all, NULL, 5, 1e-6, &err) == -1);
    CHECK(t.k == 0 && t.V == NULL);
    double Z[2] = {0, 0};
    CHECK(super_define(&t, 1, 2, Z, NULL, NULL, 5, 1e-6, &err) == -1);
    CHECK(strstr(err.msg, "zero") != NULL);
    super_free(&t);
    super_free(NULL);
    return check_done();
}
