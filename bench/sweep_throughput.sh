#!/bin/bash
# Throughput with a trivial model (reads its input, writes two numbers): pestrun sweep of ROWS
# rows on all cores against xargs -P<cores> running the same model as many times, measured
# now, on this machine. Usage: bench/sweep_throughput.sh [ROWS]   (target ratio >= 0.7)
. "$(dirname "$0")/common.bash"
rows=${1:-2000}
make_case "$W/c" "./model 2" 2
make_model "$W/c"
sweep_input "$W/c/in.csv" "$rows"
cd "$W/c"
echo "1.0" >in.dat
t0=$(now); seq "$rows" | xargs -P"$CORES" -I{} ./model 2; t1=$(now)
"$PESTRUN" sweep case.pst --in in.csv --out out.csv -j "$CORES" -q
t2=$(now)
[ "$(wc -l <out.csv)" -eq $((rows + 1)) ] || { echo "sweep output incomplete"; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$rows" -v k="$CORES" 'BEGIN {
  x = b - a; p = c - b
  printf "xargs -P%d:     %d runs in %.2fs (%.2f ms a run)\n", k, n, x, 1000 * x / n
  printf "pestrun sweep:  %d runs in %.2fs (%.2f ms a run, journal and output included)\n", n, p, 1000 * p / n
  printf "throughput ratio pestrun/xargs = %.2f (target 0.70)\n", x / p }'
