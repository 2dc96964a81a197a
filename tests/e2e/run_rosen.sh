#!/bin/bash
# check and run on the Rosenbrock case: phi at the start is 24.2 (PEST++, SPEC §7.2), the .rei
# holds the residuals in PEST++'s layout, and a bad bound is reported as file:line.
. "$(dirname "$0")/lib.bash"
make_rosen_case "$T/r"
cd "$T/r" || exit 1
"$PESTRUN" check rosen.pst >check.out 2>&1; expect_eq "check exit on a clean case" $? 0
expect_grep "check summary" '0 errors, 0 warnings; 2 parameters, 2 observations' check.out

sed 's/^x2 none relative  1.0 -5.0 5.0 xg/x2 none relative  9.0 -5.0 5.0 xg/' rosen.pst >bad.pst
"$PESTRUN" check bad.pst >bad.out 2>&1; expect_eq "check exit on a bad bound" $? 1
expect_grep "bad bound named" "^bad.pst:15: parameter 'x2': initial value 9 is above its upper bound 5$" bad.out
"$PESTRUN" run bad.pst >badrun.out 2>&1; expect_eq "run refuses a bad case" $? 2

"$PESTRUN" run rosen.pst >run.out 2>&1; expect_eq "run exit" $? 0
phi=$(sed -n 's/^phi: \([^ ]*\) .*/\1/p' run.out)
expect_near "phi at the start" "$phi" 24.2 1e-9
expect_grep "group phi" '^  group resid +phi 24.2 +2 items, 2 weighted$' run.out
# each group says how many of its observations carry weight: r2 at weight 0 leaves r1's 4.4^2
sed 's/^r2 0.0 1.0 resid$/r2 0.0 0.0 resid/' rosen.pst >w0.pst
"$PESTRUN" run w0.pst >w0.out 2>&1; expect_eq "run with a zero weight" $? 0
expect_grep "weighted count" '^  group resid +phi 19.36 +2 items, 1 weighted$' w0.out
[ -f rosen.rei ] && ok || fail "no rosen.rei"
# r1 = 10 (x2 - x1^2) = -4.4, r2 = 1 - x1 = 2.2; residual = measured - modelled
expect_eq "rei header" "$(sed -n 1p rosen.rei)" " MODEL OUTPUTS AT END OF OPTIMISATION ITERATION NO. 0:-"
expect_eq "rei columns" "$(sed -n 4p rosen.rei)" " Name                 Group        Measured             Modelled             Residual             Weight              "
expect_eq "rei r1" "$(sed -n 5p rosen.rei)" " r1                   resid        0.00000000000        -4.40000000000       4.40000000000        1.00000000000       "
expect_eq "rei r2" "$(sed -n 6p rosen.rei)" " r2                   resid        0.00000000000        2.20000000000        -2.20000000000       1.00000000000       "
# the run happened in a temporary copy: the case folder holds no model files
[ ! -e par.dat ] && [ ! -e out.dat ] && ok || fail "the run wrote into the case folder"
# PEST++'s exec semantics: no shell, so a shell-only command fails
sed 's#^\./rosen$#./rosen \&\& true#' rosen.pst >exec.pst
"$PESTRUN" run --exec exec.pst >exec.out 2>&1; expect_eq "--exec passes '&&' as an argument" $? 0
"$PESTRUN" run exec.pst >sh.out 2>&1; expect_eq "the shell runs '&&'" $? 0
done_testing
