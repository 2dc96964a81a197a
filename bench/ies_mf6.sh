#!/bin/bash
# pestrun ies on the MODFLOW 6 example (examples/mf6_valley: 292 adjustable log parameters, 54
# weighted observations) with 50 realizations and NOPTMAX 3, the glm options removed, against
# pestpp-ies 5.2.23 on the same files (run serially on 2026-12-03): mean phi and model runs after
# each iteration, and the ratio (pestrun / pestpp-ies; below 1 is better for pestrun). Each
# draws its own prior ensemble (pestrun from ++random_seed with its own generator).
# Usage: bench/ies_mf6.sh [WORKERS]
# mf6: $PESTRUN_MF6, else mf6 on PATH, else .cache/mf6/bin/mf6 (../shared/tools/build-mf6 .cache/mf6).
. "$(dirname "$0")/common.bash"
j=${1:-$CORES}
mf6=${PESTRUN_MF6:-$(command -v mf6 || true)}
[ -n "$mf6" ] || mf6=$ROOT/.cache/mf6/bin/mf6
[ -x "$mf6" ] || { echo "ies_mf6.sh: no mf6 (set PESTRUN_MF6)" >&2; exit 1; }
[ -f "$BUILD/examples/mf6_valley/valley.pst" ] || cmake --build "$BUILD" --target pestrun_examples >/dev/null
mkdir -p "$W/bin" && ln -sf "$mf6" "$W/bin/mf6" && export PATH="$W/bin:$PATH"
cp -r "$BUILD/examples/mf6_valley" "$W/v"
python3 - "$W/v/valley.pst" <<'PY'
import sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if not l.startswith("++")]
i = next(k for k, l in enumerate(lines) if l.strip().lower() == "* control data")
f = lines[i + 7].split(); f[0] = "3"; lines[i + 7] = " ".join(f)
lines.append("++ies_num_reals(50)")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY

# pestpp-ies 5.2.23, 2026-12-03: iteration, total runs, mean phi (its valley.phi.actual.csv).
# With pestpp-ies's own prior (++ies_par_en) pestrun went 12,610.2 -> 1,328.15 -> 387.06 ->
# 206.207 (random subsets), and with ++ies_subset_how(first) too, exactly pestpp-ies's
# 12,610.2 -> 1,367.34 -> 455.336 -> 144.84.
PESTPP="0,50,12610.2
1,140,1811.92
2,230,503.957
3,320,245.857"

start=$(date +%s.%N)
(cd "$W/v" && "$PESTRUN" ies valley.pst -j "$j" -q --journal j)
wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
echo "mf6_valley, 50 realizations: pestrun ies -j $j in ${wall}s"
printf "%9s  %14s %6s  %14s %6s  %9s\n" iteration "pestrun mean" runs "pestpp mean" runs "ratio"
printf '%s\n' "$PESTPP" >"$W/pestpp.txt"
awk -F, 'FNR == NR { runs_pp[$1] = $2; phi_pp[$1] = $3; next }
  FNR > 1 { printf "%9d  %14.6g %6d  %14.6g %6d  %9.3f\n", $1, $3, $2, phi_pp[$1], runs_pp[$1], $3 / phi_pp[$1] }' \
  "$W/pestpp.txt" "$W/v/valley.phi.actual.csv"
