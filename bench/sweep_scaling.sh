#!/bin/bash
# Scaling with a model that sleeps 200 ms: 1, 8, 32 and 64 workers (oversubscribed beyond the
# cores; a sleeping model needs little CPU). Each configuration runs ROUNDS runs per worker;
# efficiency = ideal time (ROUNDS x 0.2 s) / measured time. The baseline, measured in the same
# run, is xargs -P<workers> starting the same model as many times: what starting processes
# costs on this machine, with no template, instruction file, journal or scheduling at all.
# Target >= 0.98 at 64 workers.
# Usage: bench/sweep_scaling.sh [WORKERS...]
. "$(dirname "$0")/common.bash"
set -- ${@:-1 8 32 64}
ROUNDS=${ROUNDS:-20}
make_case "$W/c" "./sleepy" 2
cat >"$W/c/sleepy.c" <<'C'
#include <stdio.h>
#include <time.h>
int main(void)
{
    struct timespec t = {0, 200000000L};
    nanosleep(&t, NULL);
    FILE *f = fopen("out.dat", "w");
    if (!f)
        return 1;
    fprintf(f, "1.0\n2.0\n");
    return fclose(f) != 0;
}
C
cc -O2 -o "$W/c/sleepy" "$W/c/sleepy.c"
cd "$W/c"
for j in "$@"; do
  runs=$((ROUNDS * j))
  sweep_input in.csv "$runs"
  t0=$(now)
  "$PESTRUN" sweep case.pst --in in.csv --out out.csv -j "$j" -q --no-pin --journal j.$j
  t1=$(now)
  seq "$runs" | xargs -P"$j" -I{} ./sleepy
  t2=$(now)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v j="$j" -v n="$runs" -v r="$ROUNDS" 'BEGIN {
    t = b - a; x = c - b; ideal = r * 0.2
    printf "%3d workers: %4d runs of 0.2 s in %.2fs, efficiency %.3f (xargs -P%d: %.2fs, %.3f); pestrun/xargs %.2f\n", j, n, t, ideal / t, j, x, ideal / x, x / t }'
done
echo "(target: efficiency >= 0.98 at 64 workers; the time includes starting the workers and copying the model folder)"
