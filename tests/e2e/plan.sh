#!/bin/bash
# pestrun plan on the example case: the runs it counts, the wall times it simulates against
# analytic expectations, the recommendation, the CSV and the SVG.
. "$(dirname "$0")/lib.bash"
G="$BIN/examples/gwflow"
[ -x "$G/gwflow" ] || skip "example not built"
cp -r "$G" "$T/g" && cd "$T/g" || exit 1
# NOPTMAX 3, 5 adjustable parameters, 5 lambdas x 3 scale factors: 1 + 3 x (5 + 15) = 61 runs
# in 6 batches (the initial run goes with the first Jacobian)
python3 - <<'PY'
lines = open("gwflow.pst").read().splitlines()
i = next(k for k, l in enumerate(lines) if l.strip().lower() == "* control data")
f = lines[i + 7].split(); f[0] = "3"; lines[i + 7] = " ".join(f)
open("gwflow.pst", "w").write("\n".join(lines) + "\n")
PY
"$PESTRUN" plan gwflow.pst --run-seconds 60 --run-sd 6 >plan.out 2>plan.err
expect_eq "plan exit" $? 0
expect_grep "run count" "61 model runs in 6 batches \(largest 15\)" plan.out
expect_grep "recommendation" "^recommended: [0-9]+ agents? " plan.out
[ -s gwflow.plan.svg ] && grep -q "<svg" gwflow.plan.svg && ok || fail "no SVG plot"
head -1 gwflow.plan.csv | grep -q '^agents,seconds_per_iteration,seconds_total,agent_hours,cost_on_demand_usd,cost_spot_usd,efficiency,recommended$' &&
  ok || fail "CSV header: $(head -1 gwflow.plan.csv)"
# one agent runs everything in turn: 61 x 60 s (within 5%: the lognormal draws); on 15 agents
# or more each batch is one wave of about 60-80 s; the cost is agent-hours x the default price
python3 - <<'PY' && ok || fail "plan figures"
import csv
rows = list(csv.DictReader(open("gwflow.plan.csv")))
one = rows[0]
assert one["agents"] == "1", one
t1 = float(one["seconds_total"])
assert abs(t1 - 61 * 60) < 0.05 * 61 * 60, t1
wide = [r for r in rows if int(r["agents"]) >= 15][0]
tw = float(wide["seconds_total"])
assert 6 * 55 < tw < 6 * 110, tw          # six batches, each one wave
assert abs(float(one["agent_hours"]) - t1 / 3600) < 1e-6
assert abs(float(one["cost_on_demand_usd"]) - t1 / 3600 * (0.04048 + 2 * 0.004445)) < 1e-6
rec = [r for r in rows if r["recommended"] == "1"]
assert len(rec) == 1 and 2 <= int(rec[0]["agents"]) <= 15, rec
totals = [float(r["seconds_total"]) for r in rows]
assert totals[1] < totals[0] and totals[-1] < totals[0] / 5, totals
PY
# --iterations: 1 + 2 x (5 + 15) runs
"$PESTRUN" plan gwflow.pst --run-seconds 60 --iterations 2 >it.out 2>&1
expect_grep "--iterations 2" "41 model runs in 4 batches" it.out
# SVD-assist, 2 super iterations a cycle, 3 super parameters: base Jacobian (1 + 5), super lambda
# tests (5 lambdas x scale factors 1 and 0.75: super iterations skip 1.1), a super Jacobian (3)
# and tests, then a new base Jacobian (5) and tests: 6 + 10 + 13 + 15 = 44 runs; and the real
# calibration runs exactly that many
sed 's/^\* control data/++n_iter_base(-1)\n++n_iter_super(2)\n++max_n_super(3)\n* control data/' gwflow.pst >sa.pst
"$PESTRUN" plan sa.pst --run-seconds 60 >sa.out 2>&1
expect_grep "SVD-assist count" "glm with SVD-assist, 3 iterations, 44 model runs in 6 batches" sa.out
"$PESTRUN" glm sa.pst -q -j 2 >/dev/null 2>&1
expect_eq "SVD-assist glm's runs" "$(tail -1 sa.iobj | cut -d, -f2)" 44
# a sweep: the rows of its input; the measured run time when none is given
"$PESTRUN" plan gwflow.pst --method sweep --in sweep_in.csv -q >sweep.out 2>sweep.err
expect_eq "plan --method sweep exit" $? 0
expect_grep "sweep recommendation" "^recommended: " sweep.out
# --local: local workers, at most one a core, the model timed here
"$PESTRUN" plan gwflow.pst --local --method sweep --in sweep_in.csv -q --csv local.csv >local.out 2>local.err
expect_eq "plan --local exit" $? 0
expect_eq "plan --local counts" "$(tail -n +2 local.csv | cut -d, -f1 | tr '\n' ' ')" "$(seq -s ' ' "$(nproc)") "
"$PESTRUN" plan gwflow.pst --local --max-agents $(($(nproc) + 1)) >/dev/null 2>local2.err
expect_eq "plan --local past the cores exit" $? 2
"$PESTRUN" plan gwflow.pst --method nope >/dev/null 2>bad.err
expect_eq "bad --method exit" $? 2
done_testing
