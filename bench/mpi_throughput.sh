#!/bin/bash
# MPI against local, measured in the same run, one line each:
#  (1) a sweep of a CPU-bound model (MPI_BENCH_MODEL_MS of CPU time a run, default 200), 30 rows a
#      core, mpirun -np CORES+1 against -j CORES: throughput ratio (target 0.95, ../shared/checks/10);
#  (2) a ROWS-row sweep of a trivial model: throughput ratio (target 0.90);
#  (3) --dry (workers answer at once without a model: the run engine itself), DRY_ROWS runs: the
#      ratio of the wall times, mpirun's start included (target 0.5), and runs/s;
#  (4) the CPU a waiting process takes: master and worker ranks while every worker waits on a
#      3 s model (target: next to nothing; the ranks block in poll()).
# Usage: bench/mpi_throughput.sh [ROWS] [DRY_ROWS] [RANKS]
. "$(dirname "$0")/common.bash"
command -v mpirun >/dev/null || { echo "mpirun not found"; exit 1; }
rows=${1:-2000}
dry=${2:-20000}
ranks=${3:-$((CORES + 1))}
model_ms=${MPI_BENCH_MODEL_MS:-200}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none -np "$ranks")
ratio() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%.2f", (b - a) / (c - b) }'; }

# (1) the CPU-bound model: its runs take model_ms of CPU time whatever the load
mkdir -p "$W/b"
cat >"$W/b/busy.c" <<C
#include <stdio.h>
#include <time.h>
int main(void)
{
    double x;
    FILE *f = fopen("in.dat", "r");
    if (!f || fscanf(f, "%lf", &x) != 1) return 1;
    fclose(f);
    struct timespec t0, t;
    volatile double s = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 10000; i++) s += i * 1e-9;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6 < $model_ms);
    f = fopen("out.dat", "w");
    fprintf(f, "%.10e\n%.10e\n", x, 2 * x);
    return fclose(f) != 0;
}
C
cc -O2 -o "$W/b/busy" "$W/b/busy.c"
make_case "$W/b" "./busy" 2
cd "$W/b"
sweep_input in.csv $((30 * CORES))
t0=$(now); "$PESTRUN" sweep case.pst --in in.csv --out local.csv -j "$CORES" -q --journal j.l; t1=$(now)
"${MPIRUN[@]}" "$PESTRUN" sweep case.pst --in in.csv --out mpi.csv -q --journal j.m; t2=$(now)
cmp -s local.csv mpi.csv || { echo "MPI and local outputs differ"; exit 1; }
printf "%d ms CPU-bound model, %d rows: local -j %d %.2fs, mpirun -np %d %.2fs; MPI/local throughput %s (target 0.95)\n" \
  "$model_ms" $((30 * CORES)) "$CORES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$ranks" \
  "$(awk -v a="$t1" -v b="$t2" 'BEGIN {print b - a}')" "$(ratio "$t0" "$t1" "$t2")"

# (2) the trivial model
make_case "$W/c" "./model 2" 2
make_model "$W/c"
cd "$W/c"
sweep_input in.csv "$rows"
t0=$(now); "$PESTRUN" sweep case.pst --in in.csv --out local.csv -j "$CORES" -q --journal j.l; t1=$(now)
"${MPIRUN[@]}" "$PESTRUN" sweep case.pst --in in.csv --out mpi.csv -q --journal j.m; t2=$(now)
cmp -s local.csv mpi.csv || { echo "MPI and local outputs differ"; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$rows" -v k="$CORES" -v r="$ranks" 'BEGIN {
  printf "trivial model, %d rows: local -j %d %.2fs, mpirun -np %d %.2fs; MPI/local throughput %.2f (target 0.90)\n", n, k, b - a, r, c - b, (b - a) / (c - b) }'

# (3) --dry
sweep_input dry.csv "$dry"
t0=$(now); "$PESTRUN" sweep case.pst --in dry.csv --out dl.csv -j "$CORES" -q --dry --journal j.dl; t1=$(now)
"${MPIRUN[@]}" "$PESTRUN" sweep case.pst --in dry.csv --out dm.csv -q --dry --journal j.dm; t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$dry" -v k="$CORES" -v r="$ranks" 'BEGIN {
  printf "--dry, %d runs: local %d workers %.2fs (%.0f runs/s), MPI %d ranks %.2fs (%.0f runs/s, mpirun start included); MPI/local %.2f (target 0.5)\n", n, k, b - a, n / (b - a), r, c - b, n / (c - b), (b - a) / (c - b) }'

# (4) idle CPU: every worker waits on a 3 s model; CPU time of each pestrun process of the job
# over 2 s of that wait, from /proc (utime + stime)
printf '#!/bin/sh\nsleep 3\nexec ./model 2\n' >slow.sh
chmod +x slow.sh
sed 's#^\./model 2$#./slow.sh#' case.pst >slow.pst
sweep_input idle.csv $((ranks - 1))
tag=$$.$RANDOM
PESTRUN_BENCH_JOB=$tag "${MPIRUN[@]}" "$PESTRUN" sweep slow.pst --in idle.csv --out idle.out -q \
  --journal j.i &
job=$!
sleep 0.8
pids=""
for p in $(pgrep -x pestrun); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "PESTRUN_BENCH_JOB=$tag" && pids="$pids $p"
done
ticks() { for p in $pids; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0; done; }
a=$(ticks); sleep 2; b=$(ticks)
wait $job
hz=$(getconf CLK_TCK)
paste <(echo "$a") <(echo "$b") | awk -v hz="$hz" -v n="$(echo $pids | wc -w)" '
  { cpu = ($2 - $1) / hz / 2 * 100; if (cpu > max) max = cpu; sum += cpu }
  END { printf "waiting: %d pestrun processes of the job (master, workers) took at most %.1f%% of a core each over 2 s (sum %.1f%%)\n", n, max, sum }'
