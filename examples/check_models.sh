#!/bin/sh
# check_models.sh: check that the example models behave as documented.
#
#   usage: check_models.sh BUILD_EXAMPLES_DIR      (e.g. build/examples)
#
# gwflow must reject bad input with exit status 1 and a message, and leave no output behind;
# fail_exit, hang, garbage and flaky must fail exactly as examples/failing/README.md says.
# Everything runs in a scratch directory. Prints one line per failed check; exits 1 if any.
set -u

dir=$(cd "${1:?usage: check_models.sh BUILD_EXAMPLES_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
failed=0

fail() {
    echo "FAIL: $*"
    failed=1
}

# expect_status WANT CMD...: run CMD, stderr to err.txt, and compare its exit status with WANT.
expect_status() {
    want=$1
    shift
    "$@" 2>err.txt >out.txt
    got=$?
    [ "$got" = "$want" ] || fail "$*: exit status $got, expected $want ($(cat err.txt))"
}

# gwflow: good input at the true parameters, then three kinds of bad input.
sh "$here/gwflow/make_obs.sh" --print-input "$dir/gwflow/gwflow" >gwflow.in
expect_status 0 "$dir/gwflow/gwflow"
[ -s out.txt ] && fail "gwflow printed on stdout on success"
[ "$(wc -l <gwflow.hob.out)" -eq 13 ] || fail "gwflow.hob.out should have 13 lines"
grep -q 'NORMAL TERMINATION' gwflow.lst || fail "gwflow.lst is incomplete"
expect_status 1 "$dir/gwflow/gwflow" missing.in
grep -q 'cannot open missing.in' err.txt || fail "gwflow: no message for a missing input file"
[ -e gwflow.hob.out ] && fail "gwflow left gwflow.hob.out behind after a failed run"
sed 's/^  hk2 .*/  hk2      -1.0/' gwflow.in >neg.in
expect_status 1 "$dir/gwflow/gwflow" neg.in
grep -q 'hk2 must be positive' err.txt || fail "gwflow: no message for a negative hk2"
sed 's/^  rech .*/  rech     abc/' gwflow.in >nan.in
expect_status 1 "$dir/gwflow/gwflow" nan.in
line=$(grep -n '^  rech' nan.in | cut -d: -f1)
grep -q "nan.in:$line: rech" err.txt || fail "gwflow: no line number for a bad number ($(cat err.txt))"

# The one-parameter models: "x = 0.25" gives y = 1.5.
for m in fail_exit garbage flaky; do
    printf '# input\nx =   2.50000000000000e-01\n' >$m.in
done
expect_status 3 "$dir/failing/fail_exit"
grep -q '^y = 1.500000000000000e+00$' fail_exit.out || fail "fail_exit.out is not valid"
expect_status 0 "$dir/failing/garbage"
grep -q '^y = \*\*\*' garbage.out || fail "garbage.out has no asterisks"
expect_status 0 "$dir/failing/flaky"
grep -q '^y = 1.500000000000000e+00$' flaky.out || fail "flaky.out is not valid at x = 0.25"
rm -f flaky.out
printf 'x = 0.50000000000000000000\n' >flaky.in
expect_status 0 "$dir/failing/flaky"
rm -f flaky.out
printf 'x = 0.60000000000000008882\n' >flaky.in
expect_status 1 "$dir/failing/flaky"
[ -e flaky.out ] && fail "flaky wrote flaky.out at x = 0.6"
rm -f fail_exit.in
expect_status 1 "$dir/failing/fail_exit"

# hang: still running after 0.5 s, ended by SIGTERM (timeout's status 124), wrote nothing.
expect_status 124 timeout 0.5 "$dir/failing/hang"
[ -e hang.out ] && fail "hang wrote hang.out"

[ "$failed" = 0 ] && echo "check_models.sh: all checks passed"
exit "$failed"
