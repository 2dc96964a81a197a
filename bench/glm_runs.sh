#!/bin/bash
# Model runs pestrun glm needs, against PEST++ 5.2.23's figures (SPEC §7), and the master's own
# share of an iteration's wall time on the example: each iteration's wall time against
# (its model runs / workers) x the mean model run time, measured in the same run.
# Usage: bench/glm_runs.sh [WORKERS]
. "$(dirname "$0")/common.bash"
j=${1:-$CORES}
SHARED=${PESTRUN_SHARED:-$ROOT/../shared}
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)
mkdir -p "$W/bin"; ln -sf "$py" "$W/bin/python3"; ln -sf "$py" "$W/bin/python"; export PATH="$W/bin:$PATH"

report() { # NAME DIR PST PESTPP_RUNS
  local runs phi
  runs=$(awk -F, 'END {print $2}' "$2/${3%.pst}.iobj")
  phi=$(awk -F, 'END {print $3}' "$2/${3%.pst}.iobj")
  printf "%-22s %5s model runs to phi %-12s (PEST++ 5.2.23: %s)\n" "$1" "$runs" "$phi" "$4"
}
if [ -d "$SHARED/pest/cases" ]; then
  cp -r "$SHARED/pest/cases/rosenbrock_ls" "$W/rosen"; chmod -R u+w "$W/rosen"
  (cd "$W/rosen" && "$PESTRUN" glm rosen_ls.pst -j "$j" -q --journal j)
  report "rosenbrock_ls" "$W/rosen" rosen_ls.pst "592 runs to 1.9e-20"
  cp -r "$SHARED/pest/cases/chenoliver/original" "$W/chen"; chmod -R u+w "$W/chen"
  printf 'x = float(open("par.dat").read().split()[0])\nopen("obs.dat", "w").write("%%20.8E\\n" %% (7.0 / 12.0 * x**3 - 3.5 * x**2 + 8.0 * x))\n' >"$W/chen/chenoliver.py"
  sed -i 's/^         3   1.000000E-02/        20   1.000000E-02/' "$W/chen/pest.pst"
  (cd "$W/chen" && "$PESTRUN" glm pest.pst -j "$j" -q --journal j)
  report "chenoliver (NOPTMAX 20)" "$W/chen" pest.pst "149 runs to 0"
fi
cp -r "$BUILD/examples/gwflow" "$W/g"
(cd "$W/g" && "$PESTRUN" glm gwflow.pst -j "$j" --journal j --log-format json 2>json.log)
report "example gwflow" "$W/g" gwflow.pst "no PEST++ figure"
mean=$(sed -n 's/.*"event":"summary".*"mean_run_s":\([0-9.e+-]*\).*/\1/p' "$W/g/json.log")
awk -F, -v m="$mean" -v j="$j" 'NR > 2 {
    dt = $3 - t; dr = $2 - r; ideal = (dr / j) * m
    if (dt > 0) { printf "  iteration %2d: %3d runs in %.3fs; (runs / %d workers) x mean run %.4fs = %.3fs; master share %.0f%%\n", $1, dr, dt, j, m, ideal, 100 * (1 - ideal / dt) }
  } { t = $3; r = $2 }' "$W/g/gwflow.iruns.csv"
