#!/bin/bash
# pestrun glm and jacobian: Rosenbrock to phi < 1e-10 in fewer runs than PEST++, PEST++'s first
# iterations reproduced, correct central derivatives, identical results whatever the number of
# workers, and a master killed mid-calibration resumed to the same answer.
. "$(dirname "$0")/lib.bash"
make_rosen_case "$T/r"
cd "$T/r" || exit 1
cat >count.sh <<EOF2
#!/bin/sh
./rosen && echo x >> $T/runs.count
EOF2
chmod +x count.sh
sed -i 's#^\./rosen$#./count.sh#' rosen.pst

"$PESTRUN" glm rosen.pst -j 2 -q --journal j.a; expect_eq "glm exit" $? 0
for f in rec par rei iobj ipar jcb best.pst iruns.csv; do
  [ -s "rosen.$f" ] && ok || fail "no rosen.$f"
done
runs=$(wc -l <"$T/runs.count")
[ "$runs" -le 592 ] && ok || fail "$runs model runs (PEST++ needed 592)"
python3 - <<'PY' && ok || fail "final phi not below 1e-10"
x = {l.split()[0]: float(l.split()[1]) for l in open("rosen.par").read().splitlines()[1:]}
phi = (10 * (x["x2"] - x["x1"] ** 2)) ** 2 + (1 - x["x1"]) ** 2
assert phi < 1e-10, phi
PY
# PEST++ 5.2.23's first iterations (SPEC §7.2): 24.2, 3.9795, 3.33848
expect_eq "iteration 0 phi" "$(awk -F, 'NR==2{print $3}' rosen.iobj)" 24.2
expect_eq "iteration 1 phi" "$(awk -F, 'NR==3{print $3}' rosen.iobj)" 3.9795
expect_eq "iteration 2 phi" "$(awk -F, 'NR==4{print $3}' rosen.iobj)" 3.33848
expect_eq "iteration 1 runs (as PEST++)" "$(awk -F, 'NR==3{print $2}' rosen.iobj)" 18
expect_grep "stop reason recorded" "^stopped: " rosen.rec
expect_grep "best control file" "^x1 none relative 1 " rosen.best.pst

# the same calibration on 1 and 3 workers: byte-identical outputs
mkdir one three
cp rosen.pst rosen par.dat.tpl out.dat.ins count.sh one/; cp rosen.pst rosen par.dat.tpl out.dat.ins count.sh three/
(cd one && "$PESTRUN" glm rosen.pst -j 1 -q --journal j)
(cd three && "$PESTRUN" glm rosen.pst -j 3 -q --journal j)
for f in par rei iobj ipar jcb best.pst; do
  cmp -s "rosen.$f" "one/rosen.$f" && cmp -s "rosen.$f" "three/rosen.$f" && ok ||
    fail "rosen.$f differs between 1, 2 and 3 workers"
done

# kill -9 the master mid-calibration, then --resume: the same result, runs not repeated
mkdir k && cp rosen.pst rosen par.dat.tpl out.dat.ins count.sh k/
cd k || exit 1
sed -i 's#^\./count.sh$#sh -c "sleep 0.02; ./count.sh"#' rosen.pst
: >"$T/runs.count"
"$PESTRUN" glm rosen.pst -j 2 -q --journal j &
m=$!
for _ in $(seq 400); do [ "$(wc -l <"$T/runs.count")" -ge 150 ] && break; sleep 0.05; done
kill -9 "$m"; wait "$m" 2>/dev/null
sleep 0.3
"$PESTRUN" glm rosen.pst -j 2 -q --journal j --resume; expect_eq "resumed glm" $? 0
cd ..
for f in par iobj ipar rei; do
  cmp -s "rosen.$f" "k/rosen.$f" && ok || fail "rosen.$f after kill and resume differs"
done
total=$(wc -l <"$T/runs.count")
[ "$total" -le $((runs + 2)) ] && ok || fail "$total runs with a kill, $runs without"

# the Jacobian at (-1.2, 1): analytic dr1/dx1 = 24, dr1/dx2 = 10, dr2/dx1 = -1
jac() { # FORCEN DERMTHD -> prints the 4 entries
  sed "s/^xg relative 0.01 0.0001 switch 2.0 parabolic/xg relative 0.01 0.0001 $1 2.0 $2/" rosen.pst >jac.pst
  "$PESTRUN" jacobian jac.pst -q --journal j.jac.$1.$2 >/dev/null || return 1
  python3 - <<'PY'
import struct
b = open("jac.jcb", "rb").read()
ncol, nrow, nnz = struct.unpack("<iii", b[:12])
ncol, nrow = -ncol, -nrow
J = [[0.0] * ncol for _ in range(nrow)]
for k in range(nnz):
    idx, v = struct.unpack("<id", b[12 + 12 * k:24 + 12 * k])
    idx -= 1
    J[idx % nrow][idx // nrow] = v
off = 12 + 12 * nnz
cols = [b[off + 12 * i:off + 12 * i + 12].decode().strip() for i in range(ncol)]
rows = [b[off + 12 * ncol + 20 * i:off + 12 * ncol + 20 * i + 20].decode().strip() for i in range(nrow)]
assert cols == ["x1", "x2"] and rows == ["r1", "r2"], (cols, rows)
print("%.6f %.6f %.6f %.6f" % (J[0][0], J[0][1], J[1][0], J[1][1]))
PY
}
expect_eq "forward derivatives (as PEST++)" "$(jac always_2 parabolic)" "23.880000 10.000000 -1.000000 0.000000"
expect_eq "central parabolic derivatives (exact)" "$(jac always_3 parabolic)" "24.000000 10.000000 -1.000000 0.000000"
expect_eq "central outside points" "$(jac always_3 outside_pts)" "24.000000 10.000000 -1.000000 0.000000"

# 200-character names: the extended binary Jacobian (SPEC §6.7.4), d(v^2)/d(log10 v) at v = 1
if [ -d "$SHARED/pest/cases/parser_fixtures/long_names" ]; then
  cp -r "$SHARED/pest/cases/parser_fixtures/long_names" "$T/ln" && chmod -R u+w "$T/ln"
  use_fast_python
  cat >"$T/ln/forward.py" <<'PY'
v = float(open("long_in.dat").read().split()[0])
open("long_out.dat", "w").write(" %20.8E \n" % (v * v))
PY
  (cd "$T/ln" && "$PESTRUN" jacobian test.pst -q --journal j) && ok || fail "long-name jacobian"
  python3 - "$T/ln/test.jcb" <<'PY' && ok || fail "extended jcb layout"
import math, struct, sys
b = open(sys.argv[1], "rb").read()
ncol, nrow, nnz = struct.unpack("<iii", b[:12])
assert (ncol, nrow, nnz) == (1, 1, 1), (ncol, nrow, nnz)
r, c, v = struct.unpack("<iid", b[12:28])
assert (r, c) == (0, 0)
# forward difference in log10 space with inc = 0.01 * 1: (1.01^2 - 1) / log10(1.01)
want = (1.01 ** 2 - 1) / math.log10(1.01)
assert abs(v - want) < 1e-6 * want, (v, want)
names = [b[28 + 200 * i:28 + 200 * (i + 1)].decode().rstrip() for i in range(2)]
assert names == ["reallyreallyreallylongparname", "reallyreallyreallyreallylonngobsname"], names
assert len(b) == 28 + 400
PY
fi

# NOPTMAX 0: one run, a .rei
sed 's/^50 0.005 4 4 0.005 4$/0 0.005 4 4 0.005 4/' rosen.pst >zero.pst
: >"$T/runs.count"
"$PESTRUN" glm zero.pst -q --journal j.zero; expect_eq "NOPTMAX 0 exit" $? 0
expect_eq "NOPTMAX 0 runs once" "$(wc -l <"$T/runs.count")" 1
expect_grep "NOPTMAX 0 residuals" "^ r1 +resid +0.00000000000 +-4.40000000000" zero.rei
# the .rec's phi summary says how many of a group's observations carry weight
expect_grep "group phi with counts" "^    group resid +24.2 +2 items, 2 weighted$" zero.rec
sed 's/^r2 0.0 1.0 resid$/r2 0.0 0.0 resid/' zero.pst >zero_w.pst
"$PESTRUN" glm zero_w.pst -q --journal j.zero_w; expect_eq "NOPTMAX 0, r2 weight 0" $? 0
expect_grep "zero weight not counted" "^    group resid +19.36 +2 items, 1 weighted$" zero_w.rec
done_testing
