#!/bin/bash
# How well `pestrun plan --local` predicts the wall time of real runs on this machine: for every
# worker count from 1 to the cores here, the plan's total (the median of REPS plans) against the
# real command's wall time (the median of REPS runs), on a gwflow sweep (200 rows), a gwflow
# calibration (glm, planned for the iterations it takes), and, with mf6, a mf6_valley sweep
# (24 rows) and calibration (the model timed at the initial values).
# Prints one line per case and count: predicted, measured, ratio (1.00 is exact).
# Usage: bench/plan_accuracy.sh [REPS]      (default 3)
# mf6: $PESTRUN_MF6, else mf6 on PATH, else .cache/mf6/bin/mf6; without it the mf6 cases are skipped.
. "$(dirname "$0")/common.bash"
reps=${1:-3}
mf6=${PESTRUN_MF6:-$(command -v mf6 || true)}
[ -n "$mf6" ] || mf6=$ROOT/.cache/mf6/bin/mf6
[ -f "$BUILD/examples/gwflow/gwflow.pst" ] || cmake --build "$BUILD" --target pestrun_examples >/dev/null
mkdir -p "$W/bin"
[ -x "$mf6" ] && ln -sf "$mf6" "$W/bin/mf6"
export PATH="$W/bin:$PATH"

# the wall time (s) of one run of "$@" in the current folder, from the start (no journal left by
# the one before, which would make it a resume with nothing to run)
wall() {
  local a b
  rm -f bench.journal
  a=$(now)
  "$@" >/dev/null 2>&1 || { echo "plan_accuracy.sh: failed: $*" >&2; exit 1; }
  b=$(now)
  awk -v a="$a" -v b="$b" 'BEGIN {print b - a}'
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# one case: NAME DIR PST PLAN_ARGS -- COMMAND_ARGS (the command is pestrun ... -j K). Plans and
# real runs alternate, REPS of each, so that a slow spell of the machine falls on both.
compare() {
  local name=$1 dir=$2 pst=$3
  shift 3
  local plan_args=() cmd=()
  while [ "$1" != -- ]; do plan_args+=("$1"); shift; done
  shift
  cmd=("$@")
  local i k
  for i in $(seq "$reps"); do
    (cd "$dir" && rm -f ./*.journal && "$PESTRUN" plan "$pst" --local -q "${plan_args[@]}" --csv "plan$i.csv" >/dev/null)
    for k in $(seq "$CORES"); do
      (cd "$dir" && wall "$PESTRUN" "${cmd[@]}" "$pst" -j "$k" -q --journal bench.journal) >>"$dir/real$k.txt"
    done
  done
  for k in $(seq "$CORES"); do
    local pred real
    pred=$(for i in $(seq "$reps"); do awk -F, -v k="$k" 'NR > 1 && $1 == k {print $3}' "$dir/plan$i.csv"; done | median)
    real=$(median <"$dir/real$k.txt")
    rm -f "$dir/real$k.txt"
    awk -v n="$name" -v k="$k" -v p="$pred" -v r="$real" \
      'BEGIN {printf "%-30s -j %-3d predicted %8.3fs  measured %8.3fs  ratio %.2f\n", n, k, p, r, p / r}'
  done
}

cp -r "$BUILD/examples/gwflow" "$W/g"
compare "gwflow sweep (200 rows)" "$W/g" gwflow.pst --method sweep --in sweep_in.csv -- sweep --in sweep_in.csv
# the calibration, for as many iterations as it takes (the plan's count is an upper bound)
(cd "$W/g" && "$PESTRUN" glm gwflow.pst -q --journal it.jnl >/dev/null)
it=$(tail -1 "$W/g/gwflow.iobj" | cut -d, -f1)
compare "gwflow glm ($it iterations)" "$W/g" gwflow.pst --iterations "$it" -- glm

if [ -x "$mf6" ]; then
  cp -r "$BUILD/examples/mf6_valley" "$W/v"
  # 24 rows around the initial values: every multiplier x 0.9 ... x 1.1
  python3 - "$W/v/valley.pst" "$W/v/sweep_in.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
i = lines.index("* parameter data") + 1
pars = []
while not lines[i].startswith("*"):
    f = lines[i].split()
    if len(f) >= 9: pars.append((f[0], float(f[3])))
    i += 1
with open(sys.argv[2], "w") as o:
    o.write("real," + ",".join(p for p, _ in pars) + "\n")
    for r in range(24):
        s = 0.9 + 0.2 * r / 23
        o.write("r%02d," % r + ",".join("%.6g" % (v * s) for _, v in pars) + "\n")
PY
  compare "mf6_valley sweep (24 rows)" "$W/v" valley.pst --method sweep --in sweep_in.csv -- sweep --in sweep_in.csv
  (cd "$W/v" && "$PESTRUN" glm valley.pst -q --journal it.jnl >/dev/null)
  it=$(tail -1 "$W/v/valley.iobj" | cut -d, -f1)
  compare "mf6_valley glm ($it iterations)" "$W/v" valley.pst --iterations "$it" -- glm
else
  echo "mf6_valley: skipped (no mf6; set PESTRUN_MF6)"
fi
