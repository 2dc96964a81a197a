#!/bin/bash
# check and run on the reference cases made with PEST++ (../shared/pest/cases): phi at the
# start must equal PEST++'s.
. "$(dirname "$0")/lib.bash"
[ -d "$SHARED/pest/cases" ] || skip "no shared cases"
command -v python3 >/dev/null || skip "no python3 for the reference models"
use_fast_python
for v in classic v2; do
  d="$T/$v"
  if [ $v = classic ]; then cp -r "$SHARED/pest/cases/rosenbrock_ls" "$d"; pst=rosen_ls.pst
  else cp -r "$SHARED/pest/cases/rosenbrock_ls/v2" "$d"; pst=rosen_ls_v2.pst; fi
  chmod -R u+w "$d"
  (cd "$d" && "$PESTRUN" check "$pst") >"$T/$v.check" 2>&1; expect_eq "$v check" $? 0
  (cd "$d" && "$PESTRUN" run "$pst") >"$T/$v.run" 2>&1; expect_eq "$v run" $? 0
  phi=$(sed -n 's/^phi: \([^ ]*\) .*/\1/p' "$T/$v.run")
  expect_near "$v phi at the start (PEST++ 24.2)" "$phi" 24.2 1e-9
done

# a version-2 case calibrated: the same answer, and the best parameters as a new control file
# whose external parameter file is a new copy
d="$T/v2"
(cd "$d" && "$PESTRUN" glm rosen_ls_v2.pst -q --journal j) && ok || fail "v2 glm"
expect_eq "v2 best parameter file" "$(sed -n 2p "$d/rosen_ls_v2.best.rosen_ls_v2.par_data.csv")" \
  "x1,none,relative,1,-5.0,5.0,xg,1.0,0.0,1,anything"
expect_eq "v2 quoted field kept" "$(sed -n 3p "$d/rosen_ls_v2.best.rosen_ls_v2.par_data.csv")" \
  'x2,none,relative,1,-5.0,5.0,xg,1.0,0.0,1,"quoted, with comma"'
(cd "$d" && "$PESTRUN" check rosen_ls_v2.best.pst >/dev/null) && ok || fail "v2 best control file"
cmp -s "$d/rosen_ls_v2.par" "$T/classic/rosen_ls.par" 2>/dev/null || true

# chenoliver: y = 7/12 x^3 - 7/2 x^2 + 8 x, written as %20.8E (cases/README.md)
d="$T/chen"; cp -r "$SHARED/pest/cases/chenoliver/original" "$d"; chmod -R u+w "$d"
cat >"$d/chenoliver.py" <<'PY'
x = float(open("par.dat").read().split()[0])
open("obs.dat", "w").write("%20.8E\n" % (7.0 / 12.0 * x**3 - 3.5 * x**2 + 8.0 * x))
PY
(cd "$d" && "$PESTRUN" check pest.pst) >"$T/chen.check" 2>&1; expect_eq "chenoliver check" $? 0
(cd "$d" && "$PESTRUN" run pest.pst) >"$T/chen.run" 2>&1; expect_eq "chenoliver run" $? 0
phi=$(sed -n 's/^phi: \([^ ]*\) .*/\1/p' "$T/chen.run")
# PEST++'s iobj row 0 holds the starting phi
want=$(awk -F, 'NR==2 {print $3}' "$SHARED/pest/cases/chenoliver/expected/glm_noptmax20/pest.iobj")
# (.iobj has 6 significant digits)
expect_near "chenoliver phi at the start (PEST++ $want)" "$phi" "$want" 0.005
# GLM with NOPTMAX 20 follows PEST++'s phi history (SPEC §7.2) to phi = 0 in 7 iterations
sed -i 's/^         3   1.000000E-02/        20   1.000000E-02/' "$d/pest.pst"
(cd "$d" && "$PESTRUN" glm pest.pst -q --journal j) && ok || fail "chenoliver glm"
expect_eq "chenoliver phi history as PEST++" "$(cut -d, -f1,3 "$d/pest.iobj" | tr '\n' ' ')" \
  "$(cut -d, -f1,3 "$SHARED/pest/cases/chenoliver/expected/glm_noptmax20/pest.iobj" | tr '\n' ' ')"
x=$(awk 'NR == 2 {print $2}' "$d/pest.par")
expect_near "chenoliver x reaches 6" "$x" 6 1e-6
runs=$(awk -F, 'END {print $2}' "$d/pest.iobj")
[ "$runs" -le 149 ] && ok || fail "chenoliver took $runs runs (PEST++ 149)"
done_testing
