#!/bin/bash
# pestrun sweep: identical output whatever the number of workers, failed rows as pestpp-swp
# writes them, timeouts, pinning, stopping, and a missing column named.
. "$(dirname "$0")/lib.bash"
make_rosen_case "$T/r"
cd "$T/r" || exit 1
python3 - <<'PY' || exit 1
import random
random.seed(11)
with open("sweep_in.csv", "w") as f:
    f.write("real,x1,x2\n")
    for i in range(300):
        f.write("r%d,%.6f,%.6f\n" % (i, random.uniform(-2, 2), random.uniform(-2, 2)))
PY
# the model records the cores it may use
cat >model.sh <<EOF2
#!/bin/sh
awk '/Cpus_allowed_list/ {print \$2}' /proc/self/status >> $T/affinity.log
exec ./rosen
EOF2
chmod +x model.sh
sed -i 's#^\./rosen$#./model.sh#' rosen.pst
for j in 1 2 5; do
  "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out out.$j.csv -j $j -q --journal j.$j; expect_eq "sweep -j $j" $? 0
done
cmp -s out.1.csv out.2.csv && ok || fail "-j 1 and -j 2 outputs differ"
cmp -s out.1.csv out.5.csv && ok || fail "-j 1 and -j 5 outputs differ"
expect_eq "rows" "$(wc -l <out.2.csv)" 301
expect_eq "header" "$(head -1 out.2.csv)" "run_id,input_run_id,failed_flag,phi,meas_phi,regul_phi,resid,r1,r2"
# phi of every row against the formula (independent of pestrun)
python3 - <<'PY' && ok || fail "phi or observations wrong"
import csv
want = {}
for r in csv.DictReader(open("sweep_in.csv")):
    a, b = float(r["x1"]), float(r["x2"]); want[r["real"]] = (10 * (b - a * a), 1 - a)
for r in csv.DictReader(open("out.2.csv")):
    r1, r2 = want[r["input_run_id"]]
    assert r["failed_flag"] == "0"
    assert abs(float(r["r1"]) - r1) < 1e-9 * max(1, abs(r1)), r
    assert abs(float(r["phi"]) - (r1 * r1 + r2 * r2)) < 1e-8 * max(1, r1 * r1 + r2 * r2), r
PY
# pinned: with 2 workers every model ran on exactly one core, and both cores were used
if [ "$(nproc)" -ge 2 ]; then
  : >"$T/affinity.log"
  "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out pin.csv -j 2 -q --journal j.pin
  expect_eq "models pinned to one core each" "$(grep -c -v '^[0-9]*$' "$T/affinity.log")" 0
  expect_eq "two distinct cores" "$(sort -u "$T/affinity.log" | wc -l)" 2
  : >"$T/affinity.log"
  "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out nopin.csv -j 2 -q --no-pin --journal j.np
  expect_eq "--no-pin leaves models unbound" "$(grep -c '^[0-9]*$' "$T/affinity.log")" 0
  cmp -s out.1.csv pin.csv && cmp -s out.1.csv nopin.csv && ok || fail "pinning changed the output"
fi

# --resume with a complete journal: the same bytes, no model run at all
: >"$T/affinity.log"
"$PESTRUN" sweep rosen.pst --in sweep_in.csv --out again.csv -j 2 -q --journal j.2 --resume
expect_eq "resume exit" $? 0
cmp -s out.2.csv again.csv && ok || fail "resumed output differs"
expect_eq "no model ran on resume" "$(wc -l <"$T/affinity.log")" 0

# failed rows, as pestpp-swp writes them: the flaky model fails for x > 0.5
F="$BIN/examples/failing"
if [ -x "$F/flaky" ]; then
  cp -r "$F" "$T/f"
  (cd "$T/f" && "$PESTRUN" sweep flaky.pst --in flaky_sweep.csv --out flaky_out.csv -j 2 2>err)
  expect_eq "flaky sweep exit" $? 0
  expect_eq "flaky header" "$(head -1 "$T/f/flaky_out.csv")" "run_id,input_run_id,failed_flag,phi,meas_phi,regul_phi,obs,y"
  expect_eq "a good row" "$(sed -n 2p "$T/f/flaky_out.csv")" "0,x00,0,0.64,0.64,0,0.64,1"
  expect_eq "a failed row" "$(sed -n 8p "$T/f/flaky_out.csv")" "6,x06,1,,,,,-1e+100"
  expect_eq "failed rows" "$(grep -c '^[0-9]*,x[0-9]*,1,' "$T/f/flaky_out.csv")" 5
  expect_eq "summary names each failure" "$(grep -c "1 run failed: model command 1 './flaky' exited with status 1; it printed: flaky: x = 0.[6-9]\|1 run failed: model command 1 './flaky' exited with status 1; it printed: flaky: x = 1" "$T/f/err")" 5
  # each failing row was tried max_run_fail (3) times
  expect_grep "retries counted" "15 model failures" "$T/f/err"

  # a model that hangs: timed out, retried, reported
  printf 'run,x\na,0.1\nb,0.2\n' >"$T/f/two.csv"
  start=$(date +%s)
  (cd "$T/f" && sed 's/^0 0.005 4 4 0.005 4$/1 0.005 4 4 0.005 4/' hang.pst >hang1.pst &&
    "$PESTRUN" sweep hang1.pst --in two.csv --out hang_out.csv -j 2 --timeout 0.5 2>herr)
  expect_eq "hang sweep exit" $? 0
  took=$(( $(date +%s) - start ))
  [ "$took" -lt 20 ] && ok || fail "hanging runs took $took s"
  expect_eq "both rows failed" "$(grep -c ',1,,,,' "$T/f/hang_out.csv")" 2
  expect_grep "timeout reported" "runs failed: the model ran longer than the time limit of 0.5 s" "$T/f/herr"
  expect_grep "timeouts retried" "6 model failures" "$T/f/herr"
fi

# a column that is not a parameter, a missing parameter
printf 'real,x1,x3\na,1,2\n' >bad.csv
"$PESTRUN" sweep rosen.pst --in bad.csv --out bad_out.csv -q 2>err; expect_eq "bad column exit" $? 1
expect_grep "bad column named" "bad.csv:1: column 3 'x3' is not a parameter of rosen.pst" err
printf 'real,x1\na,1\n' >miss.csv
"$PESTRUN" sweep rosen.pst --in miss.csv --out miss_out.csv -q 2>err; expect_eq "missing column exit" $? 1
expect_grep "missing parameter named" "miss.csv:1: parameter 'x2' has no column" err
printf 'real,x1,x2\na,1,2\nb,1\n' >short.csv
"$PESTRUN" sweep rosen.pst --in short.csv --out short_out.csv -q --journal j.s 2>err; expect_eq "short row exit" $? 1
expect_grep "short row named" "short.csv:3: 2 fields where the header has 3" err
done_testing
