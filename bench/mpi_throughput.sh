#!/bin/bash
# MPI against local, measured in the same run: (1) a 2,000-row sweep of a trivial model on all
# cores (target: MPI >= 0.9 of local on one node); (2) how many runs a second one master feeds
# with --dry (workers answer at once without running a model): each run is two messages (RUN
# and RESULT) plus a journal record. Usage: bench/mpi_throughput.sh [ROWS] [DRY_ROWS] [RANKS]
. "$(dirname "$0")/common.bash"
command -v mpirun >/dev/null || { echo "mpirun not found"; exit 1; }
rows=${1:-2000}
dry=${2:-20000}
ranks=${3:-$((CORES + 1))}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none -np "$ranks")
make_case "$W/c" "./model 2" 2
make_model "$W/c"
cd "$W/c"
sweep_input in.csv "$rows"
t0=$(now); "$PESTRUN" sweep case.pst --in in.csv --out local.csv -j "$CORES" -q --journal j.l; t1=$(now)
"${MPIRUN[@]}" "$PESTRUN" sweep case.pst --in in.csv --out mpi.csv -q --journal j.m; t2=$(now)
cmp -s local.csv mpi.csv || { echo "MPI and local outputs differ"; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$rows" -v k="$CORES" -v r="$ranks" 'BEGIN {
  printf "trivial model, %d rows: local -j %d %.2fs, mpirun -np %d %.2fs; MPI/local throughput %.2f (target 0.90)\n", n, k, b - a, r, c - b, (b - a) / (c - b) }'
sweep_input dry.csv "$dry"
t0=$(now); "$PESTRUN" sweep case.pst --in dry.csv --out dl.csv -j "$CORES" -q --dry --journal j.dl; t1=$(now)
"${MPIRUN[@]}" "$PESTRUN" sweep case.pst --in dry.csv --out dm.csv -q --dry --journal j.dm; t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$dry" -v k="$CORES" -v r="$ranks" 'BEGIN {
  printf "--dry, %d runs: local %d workers %.0f runs/s (%.0f messages/s); MPI %d ranks %.0f runs/s (%.0f messages/s)\n", n, k, n / (b - a), 2 * n / (b - a), r, n / (c - b), 2 * n / (c - b) }'
