#!/bin/bash
# pestrun glm in regularization mode (PESTMODE regularization, preferred-value prior
# information in a REGUL group): the measurement phi per iteration of pestpp-glm 5.2.23 on the
# same files, the weight factor written to the .rec, and a calibration that ends with the
# measurement phi at PHIMLIM.
. "$(dirname "$0")/lib.bash"
make_seg_case "$T/c" || fail "seg case"
cd "$T/c" || exit 1
# regularization mode: no SVD-assist; one preferred-value equation a parameter
python3 - <<'PY'
s = [l for l in open("seg.pst").read().splitlines() if not l.startswith("++")]
n = 40
i = s.index("restart estimation")
s[i] = "restart regularization"
s[i + 1] = f"{n} 9 1 {n} 3"
s[s.index("* model command line"):s.index("* model command line")] = (
    ["* prior information"] +
    [f"pi{k:02d} 1.0 * log(k{k:02d}) = 0.0 1.0 regul_pref" for k in range(n)])
s.insert(s.index("* observation data"), "regul_pref")
s.insert(s.index("* parameter groups"), "* regularization")
s[s.index("* regularization") + 1:s.index("* regularization") + 1] = [
    "0.01 0.0105 0.1", "1.0 1.0e-10 1.0e10", "1.3 1.0e-2 1"]
open("reg.pst", "w").write("\n".join(s) + "\n")
PY
"$PESTRUN" check reg.pst >check.log 2>&1; expect_eq "check" $? 0
sed 's/^8 0.005 4 4 0.005 4$/4 0.005 4 4 0.005 4/' reg.pst >reg4.pst
"$PESTRUN" glm reg4.pst -j 2 -q --journal j4; expect_eq "glm exit" $? 0
# pestpp-glm 5.2.23 on these files (2026-12-03): measurement phi 87.9962, 68.4158, 52.2382,
# 39.3817 after 56, 111, 166, 221 runs (FACPARMAX 1.1 limits every step)
want=(111.062 87.9962 68.4158 52.2382 39.3817)
runs=(0 56 111 166 221)
for it in 0 1 2 3 4; do
  got=$(awk -F, -v r=$((it + 2)) 'NR==r{print $4}' reg4.iobj)
  expect_near "measurement phi, iteration $it" "$got" "${want[$it]}" "$(echo "${want[$it]}" | awk '{print $1 * 2e-6 + 1e-4}')"
  expect_eq "runs, iteration $it" "$(awk -F, -v r=$((it + 2)) 'NR==r{print $2}' reg4.iobj)" "${runs[$it]}"
done
expect_grep "weight factor in the .rec" "regularization weight factor: [0-9.e+-]+ \(projected" reg4.rec
# regularization phi in the .iobj is weighted as PEST++ writes it: above 0 once parameters move
awk -F, 'NR==3{exit !($5 > 0 && $5 < 1)}' reg4.iobj && ok || fail "weighted regularization phi: $(sed -n 3p reg4.iobj)"

# free steps (FACPARMAX 10), PHIMLIM 1: the measurement phi ends at PHIMLIM (pestpp-glm 5.2.23:
# 1.00248, total phi 11.7728 after 995 runs) and the regularization keeps the field smooth
sed 's/^10.0 1.1 0.001$/10.0 10.0 0.001/; s/^0.01 0.0105 0.1$/1.0 1.05 0.1/; s/^8 0.005 4 4 0.005 4$/12 0.005 4 4 0.005 4/' reg.pst >free.pst
"$PESTRUN" glm free.pst -j 2 -q --journal jf; expect_eq "glm exit (free)" $? 0
python3 - <<'PY' && ok || fail "final measurement phi not within 5% of PHIMLIM: $(tail -2 free.iobj)"
import csv
last = list(csv.DictReader(open("free.iobj")))[-1]
m, t = float(last["measurement_phi"]), float(last["total_phi"])
assert abs(m - 1.0) <= 0.05 and t <= 11.7728 * 1.01, (m, t)
PY
done_testing
