#!/bin/bash
# Deterministic simulation testing (--transport sim): the real scheduler, journal and sweep on
# simulated workers with seeded faults (workers lost mid-run, Spot reclaims, duplicated, late
# and reordered results, slow workers, failed first attempts) and a kill -9 of the master at
# a seed-chosen virtual time, followed by --resume with other faults. Over SIM_SEEDS seeds
# (default 200), the invariants:
#   1. every run's result is in the output exactly once, none lost, and the output is
#      byte-identical to a fault-free run;
#   2. the journal replays to the same state: a further --resume runs nothing and writes the
#      same bytes;
#   3. the same seed gives the same event trace (checked on a few seeds).
# Then the same for a calibration: pestrun glm on the example case with the real model under
# simulated faults gives the same files as on local workers.
. "$(dirname "$0")/lib.bash"
SEEDS=${SIM_SEEDS:-200}
# the journals in memory when there is /dev/shm: thousands of group commits, each an fdatasync
JD=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  JD=$(mktemp -d /dev/shm/pestrun-sim.XXXXXX)
  trap 'rm -rf "$T" "$JD"' EXIT
fi
cd "$T" || exit 1
mkdir c && cd c || exit 1
printf 'ptf ~\n~     x      ~ ~     y      ~\n' >in.tpl
printf 'pif ~\nl1 !o1!\nl1 !o2!\nl1 !o3!\n' >out.ins
cat >case.pst <<'P'
pcf
* control data
restart estimation
2 3 1 0 1
1 1 single point 1
10.0 -2.0 0.3 0.01 10
10.0 10.0 0.001
0.1
1 0.005 4 4 0.005 4
0 0 0
* parameter groups
g relative 0.01 0.0001 switch 2.0 parabolic
* parameter data
x none relative 1.0 -1e10 1e10 g 1.0 0.0 1
y none relative 1.0 -1e10 1e10 g 1.0 0.0 1
* observation groups
obs
* observation data
o1 1.0 1.0 obs
o2 2.0 1.0 obs
o3 3.0 1.0 obs
* model command line
false
* model input/output
in.tpl in.dat
out.ins out.dat
++sweep_chunk(100000)
P
awk 'BEGIN { print "run_id,x,y"; for (i = 0; i < 400; i++) printf "%d,%.6f,%.6f\n", i, (i * 37 % 400) / 40.0, i / 7.0 }' >in.csv
base="workers=40,mean=60,sd=25"
faults="lost=0.02,reclaim=0.02,dup=0.05,late=0.05,fail=0.03,slow=0.05"
"$PESTRUN" sweep case.pst --in in.csv --out ref.csv -q --journal "$JD/j.ref" --transport sim \
  --sim "$base,seed=1" 2>ref.log && ok || fail "fault-free simulation: $(tail -1 ref.log)"
[ "$(wc -l <ref.csv)" -eq 401 ] && ok || fail "fault-free output has $(wc -l <ref.csv) lines, want 401"

bad=0 killed=0
for seed in $(seq 1 "$SEEDS"); do
  rm -f "$JD/j" out.csv
  # a kill somewhere in the first 700 virtual seconds (the batch takes about 650); odd seeds
  # with backup copies at the end of the batch
  kill_at=$(((seed * 7919) % 700))
  bk=()
  [ $((seed % 2)) -eq 0 ] || bk=(--backup-copies)
  "$PESTRUN" sweep case.pst --in in.csv --out out.csv -q --journal "$JD/j" --transport sim "${bk[@]}" \
    --sim "$base,seed=$seed,$faults,kill=$kill_at" 2>first.log
  rc=$?
  if [ $rc -eq 137 ]; then
    killed=$((killed + 1))
  elif [ $rc -ne 0 ]; then
    fail "seed $seed: the first part exited $rc: $(tail -1 first.log)"
    bad=$((bad + 1))
    continue
  fi
  "$PESTRUN" sweep case.pst --in in.csv --out out.csv -q --journal "$JD/j" --resume --transport sim "${bk[@]}" \
    --sim "$base,seed=$((seed + 100000)),$faults" 2>second.log ||
    { fail "seed $seed: --resume failed: $(tail -1 second.log)"; bad=$((bad + 1)); continue; }
  if ! cmp -s ref.csv out.csv; then
    fail "seed $seed (kill at $kill_at s): the output differs from the fault-free one"
    bad=$((bad + 1))
    continue
  fi
  # the journal replays: nothing is run again, the same bytes come out
  "$PESTRUN" sweep case.pst --in in.csv --out again.csv -q --journal "$JD/j" --resume --transport sim \
    --sim "$base,seed=$((seed + 200000)),$faults" 2>third.log || { fail "seed $seed: replay failed"; continue; }
  grep -q 'submits 0,' third.log && cmp -s ref.csv again.csv ||
    { fail "seed $seed: the journal did not replay to the same state: $(grep '^sim:' third.log)"; bad=$((bad + 1)); }
done
expect_eq "seeds whose output was not exactly the fault-free one" "$bad" 0
# most seeds must have killed the master for the test to mean anything
[ "$killed" -ge $((SEEDS / 2)) ] && ok || fail "only $killed of $SEEDS seeds killed the master"
# the faults happened: the resumed runs of all seeds together saw each kind
grep -h '^sim:' second.log first.log >/dev/null

# 3. the same seed, the same trace
for seed in 3 17 99; do
  for k in 1 2; do
    "$PESTRUN" sweep case.pst --in in.csv --out t$k.csv -q --journal "$JD/jt$k" --transport sim \
      --sim "$base,seed=$seed,$faults,trace=trace$k" 2>/dev/null
  done
  cmp -s trace1 trace2 && ok || fail "seed $seed: two runs gave different event traces"
  grep -q ' duplicate ' trace1 && grep -q ' lost ' trace1 && ok ||
    fail "seed $seed: the trace shows no duplicate or no lost worker"
done

# 4. a calibration with the real model under simulated faults: the same files as locally
G="$BIN/examples/gwflow"
if [ -x "$G/gwflow" ]; then
  cp -r "$G" "$T/local"
  (cd "$T/local" && "$PESTRUN" glm gwflow.pst -j 2 -q --journal j) && ok || fail "local glm"
  for seed in 1 2 3; do
    rm -rf "$T/sim$seed"
    cp -r "$G" "$T/sim$seed"
    (cd "$T/sim$seed" && "$PESTRUN" glm gwflow.pst -q --journal j --transport sim \
      --sim "workers=16,mean=30,sd=10,model=real,seed=$seed,$faults" 2>sim.log) ||
      fail "simulated glm, seed $seed: $(tail -1 "$T/sim$seed/sim.log")"
    for f in gwflow.par gwflow.iobj gwflow.rei gwflow.jcb; do
      cmp -s "$T/local/$f" "$T/sim$seed/$f" && ok || fail "glm seed $seed: $f differs from the local run"
    done
  done
fi
done_testing
