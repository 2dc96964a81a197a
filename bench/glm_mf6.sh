#!/bin/bash
# pestrun glm on the MODFLOW 6 example (examples/mf6_valley) against pestpp-glm 5.2.23 on the same
# case (run serially on 2026-12-03, examples/mf6_valley/README.md): phi and model runs after each
# iteration, and their ratios (pestrun / pestpp-glm; below 1 is better for pestrun).
# Usage: bench/glm_mf6.sh [WORKERS]
# mf6: $PESTRUN_MF6, else mf6 on PATH, else .cache/mf6/bin/mf6 (../shared/tools/build-mf6 .cache/mf6).
. "$(dirname "$0")/common.bash"
j=${1:-$CORES}
mf6=${PESTRUN_MF6:-$(command -v mf6 || true)}
[ -n "$mf6" ] || mf6=$ROOT/.cache/mf6/bin/mf6
[ -x "$mf6" ] || { echo "glm_mf6.sh: no mf6 (set PESTRUN_MF6)" >&2; exit 1; }
[ -f "$BUILD/examples/mf6_valley/valley.pst" ] || cmake --build "$BUILD" --target pestrun_examples >/dev/null
mkdir -p "$W/bin" && ln -sf "$mf6" "$W/bin/mf6" && export PATH="$W/bin:$PATH"
cp -r "$BUILD/examples/mf6_valley" "$W/v"

# pestpp-glm 5.2.23, 2026-12-03: iteration, model runs completed, phi (its valley.iobj)
PESTPP="0,0,4943.71
1,303,247.386
2,344,77.7631
3,385,199.483
4,689,74.2961
5,732,72.1396
6,775,73.3773"

start=$(now)
(cd "$W/v" && "$PESTRUN" glm valley.pst -j "$j" -q --journal j)
wall=$(awk -v a="$start" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
echo "mf6_valley: 404 parameters (292 adjustable), 54 weighted observations; pestrun glm -j $j in ${wall}s"
printf "%9s  %12s %6s  %12s %6s  %9s %9s\n" iteration "pestrun phi" runs "pestpp phi" runs "phi ratio" "run ratio"
printf '%s\n' "$PESTPP" >"$W/pestpp.txt"
awk -F, 'FNR == NR { runs_pp[$1] = $2; phi_pp[$1] = $3; next }
  FNR > 1 {
    it = $1; phi = $3; runs = $2
    if (!(it in phi_pp)) { printf "%9d  %12.6g %6d  %12s %6s\n", it, phi, runs, "-", "-"; next }
    rratio = (runs_pp[it] > 0) ? sprintf("%.3f", runs / runs_pp[it]) : "-"
    printf "%9d  %12.6g %6d  %12.6g %6d  %9.3f %9s\n", it, phi, runs, phi_pp[it], runs_pp[it], phi / phi_pp[it], rratio
  }
  END { printf "final: pestrun phi %.6g in %d runs; pestpp-glm 72.1396 (best, iteration 5) in 775 runs\n", phi, runs }' "$W/pestpp.txt" "$W/v/valley.iobj"
