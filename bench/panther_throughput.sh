#!/bin/bash
# PANTHER throughput: runs per second a PEST++ master gets from `pestrun panther -j 2`, against
# the same master served in the same invocation by two agents that behave like PEST++'s (the
# real pestpp-glm agents when they are on PATH, else tests/panther/pestpp_like_agent.py, which
# sleeps panther_poll_interval = 1 s after each run as SPEC §5.5 documents). The master is the
# test master (tests/panther/master.py, scenario bench); the model is the Rosenbrock case's C
# program (writes its two outputs and exits), so the run engine is what is measured.
#   RUNS=2000 BASE_RUNS=20 bench/panther_throughput.sh
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
RUNS=${RUNS:-2000}
BASE_RUNS=${BASE_RUNS:-20}
MASTER="$ROOT/tests/panther/master.py"

mkdir -p "$W/case"
cd "$W/case"
cat >rosen.c <<'C'
#include <stdio.h>
int main(void)
{
    double a, b;
    FILE *f = fopen("par.dat", "r");
    if (!f || fscanf(f, "%lf %lf", &a, &b) != 2) return 1;
    fclose(f);
    f = fopen("out.dat", "w");
    if (!f) return 1;
    fprintf(f, "r1 %20.12E\nr2 %20.12E\n", 10.0 * (b - a * a), 1.0 - a);
    return fclose(f) != 0;
}
C
cc -O2 -o rosen rosen.c
printf 'ptf ~\n~      x1             ~ ~      x2             ~\n' >par.dat.tpl
printf 'pif ~\nl1 w !r1!\nl1 w !r2!\n' >out.dat.ins
{
  printf 'pcf\n* control data\nrestart estimation\n2 2 1 0 1\n1 1 single point 1\n'
  printf '10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n50 0.005 4 4 0.005 4\n0 0 0\n'
  printf '* parameter groups\nxg relative 0.01 0.0001 switch 2.0 parabolic\n'
  printf '* parameter data\nx1 none relative -1.2 -5.0 5.0 xg 1.0 0.0 1\n'
  printf 'x2 none relative  1.0 -5.0 5.0 xg 1.0 0.0 1\n'
  printf '* observation groups\nresid\n* observation data\nr1 0.0 1.0 resid\nr2 0.0 1.0 resid\n'
  printf '* model command line\n./rosen\n* model input/output\npar.dat.tpl par.dat\nout.dat.ins out.dat\n'
} >rosen.pst

# master RUNS LOG: the bench master in the background; sets $mpid and $port
master() {
  rm -f "$W/port"
  "$PY" "$MASTER" --scenario bench --runs "$1" --agents 2 --port-file "$W/port" >"$2" 2>&1 &
  mpid=$!
  for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
  port=$(cat "$W/port")
}
rate() { awk '/^RUNS_PER_SECOND/ {print $2}' "$1"; }

master "$RUNS" "$W/bridge.log"
"$PESTRUN" panther rosen.pst --master "127.0.0.1:$port" -j 2 -q
wait $mpid || { echo "bridge run failed:"; cat "$W/bridge.log"; exit 1; }
bridge=$(rate "$W/bridge.log")

master "$BASE_RUNS" "$W/base.log"
if command -v pestpp-glm >/dev/null; then
  baseline="2 pestpp-glm agents"
  for k in 1 2; do
    mkdir -p "$W/a$k" && cp rosen rosen.pst par.dat.tpl out.dat.ins "$W/a$k/"
    (cd "$W/a$k" && pestpp-glm rosen.pst /h "127.0.0.1:$port" >/dev/null 2>&1) &
  done
else
  baseline="2 PEST++-like agents (1 s sleep after each run)"
  for k in 1 2; do
    mkdir -p "$W/a$k" && cp rosen "$W/a$k/"
    "$PY" "$ROOT/tests/panther/pestpp_like_agent.py" "127.0.0.1:$port" "$W/a$k" ./rosen &
  done
fi
wait $mpid || { echo "baseline run failed:"; cat "$W/base.log"; exit 1; }
wait
base=$(rate "$W/base.log")

echo "PANTHER throughput, Rosenbrock model, 2 agents/workers, $(nproc) cores"
printf '  pestrun panther -j 2: %10.1f runs/s (%d runs)\n' "$bridge" "$RUNS"
printf '  %s: %10.2f runs/s (%d runs)\n' "$baseline" "$base" "$BASE_RUNS"
awk -v a="$bridge" -v b="$base" 'BEGIN { printf "  ratio: %.1fx\n", a / b }'
