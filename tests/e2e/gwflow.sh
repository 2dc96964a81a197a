#!/bin/bash
# The example groundwater case end to end: check, run, and a calibration that recovers the true
# parameters from a poor start, with bit-identical results on 1 and 8 workers.
. "$(dirname "$0")/lib.bash"
G="$BIN/examples/gwflow"
[ -x "$G/gwflow" ] || skip "example not built"
for j in 1 8; do
  cp -r "$G" "$T/g$j"
  (cd "$T/g$j" && "$PESTRUN" check gwflow.pst >/dev/null) && ok || fail "check"
  (cd "$T/g$j" && "$PESTRUN" glm gwflow.pst -j $j -q --journal j) && ok || fail "glm -j $j"
done
cmp -s "$T/g1/gwflow.par" "$T/g8/gwflow.par" && ok || fail ".par differs between -j 1 and -j 8"
cmp -s "$T/g1/gwflow.iobj" "$T/g8/gwflow.iobj" && ok || fail ".iobj differs between -j 1 and -j 8"
# the true values (examples/gwflow/README.md): hk1 15, hk2 1.5, hk3 40, hk4 6, rch 300
awk 'NR > 1 {print $1, $2}' "$T/g1/gwflow.par" >"$T/par.txt"
while read -r name value; do
  case $name in hk1) want=15 ;; hk2) want=1.5 ;; hk3) want=40 ;; hk4) want=6 ;; rch) want=300 ;; *) want=0 ;; esac
  expect_near "$name recovered to 1%" "$value" "$want" "$(awk -v w="$want" 'BEGIN {print w / 100}')"
done <"$T/par.txt"
phi0=$(awk -F, 'NR==2 {print $3}' "$T/g1/gwflow.iobj")
phi=$(awk -F, 'END {print $3}' "$T/g1/gwflow.iobj")
awk -v a="$phi" -v b="$phi0" 'BEGIN {exit !(a < 1e-6 * b)}' && ok || fail "phi $phi0 -> $phi"
done_testing
