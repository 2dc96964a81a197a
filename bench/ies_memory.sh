#!/bin/bash
# Master memory and time of pestrun ies on a highly parameterized case: NPAR log parameters
# (default 8,000), 40 observations, NREALS realizations (default 300), one iteration (NOPTMAX 1:
# the prior ensemble, 9 lambda x scale pairs on a subset of 30, the other 270). Prints the peak
# RSS of the master (the workers are separate processes), the master's CPU time per model run, and
# that of pestrun, its workers and the model together.
# Usage: bench/ies_memory.sh [NPAR [NREALS [NOPTMAX [full]]]]  (full: ++ies_use_approx(false))
#        IES_EXTRA="++ies_autoadaloc(true)" bench/ies_memory.sh   (more ++ lines for the case)
. "$(dirname "$0")/common.bash"
NPAR=${1:-8000}
NREALS=${2:-300}
NOPT=${3:-1}
FULL=${4:-}
mkdir -p "$W/c" && cd "$W/c"
python3 - "$NPAR" "$NREALS" "$NOPT" "$FULL" "${IES_EXTRA:-}" <<'PY'
import sys
npar, nreals, noptmax, full = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
extra = sys.argv[5]
nobs = 40
with open("in.tpl", "w") as f:
    f.write("ptf ~\n")
    for j in range(npar):
        f.write("~ p%05d        ~\n" % j)
with open("out.ins", "w") as f:
    f.write("pif ~\n")
    for i in range(nobs):
        f.write("l1 !o%02d!\n" % i)
with open("case.pst", "w") as f:
    f.write("pcf\n* control data\nrestart estimation\n%d %d 1 0 1\n1 1 single point 1\n" % (npar, nobs))
    f.write("10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n%d 0.005 4 4 0.005 4\n0 0 0\n" % noptmax)
    f.write("* parameter groups\ng relative 0.01 0.0001 switch 2.0 parabolic\n* parameter data\n")
    for j in range(npar):
        f.write("p%05d log factor 1.0 0.1 10.0 g 1.0 0.0 1\n" % j)
    f.write("* observation groups\nobs\n* observation data\n")
    for i in range(nobs):
        f.write("o%02d %g 1.0 obs\n" % (i, 0.3 * ((i % 7) - 3)))
    f.write("* model command line\n./model\n* model input/output\nin.tpl in.dat\nout.ins out.dat\n")
    f.write("++ies_num_reals(%d)\n" % nreals)
    if full:
        f.write("++ies_use_approx(false)\n")
    if extra:
        f.write(extra + "\n")
PY
# a linear model: observation i is the mean of log10 of every 40th parameter from i
cat >model.c <<'C'
#include <math.h>
#include <stdio.h>
int main(void)
{
    double s[40] = {0}, v;
    int n[40] = {0}, j = 0;
    FILE *f = fopen("in.dat", "r");
    if (!f) return 1;
    while (fscanf(f, "%lf", &v) == 1) {
        s[j % 40] += log10(v);
        n[j % 40]++;
        j++;
    }
    fclose(f);
    f = fopen("out.dat", "w");
    for (int i = 0; i < 40; i++) fprintf(f, "%.10g\n", n[i] ? 10 * s[i] / n[i] : 0.0);
    return fclose(f) != 0;
}
C
cc -O2 -o model model.c -lm
/usr/bin/time -f "%M %U %S %e" -o rss.txt "$PESTRUN" ies case.pst -j "$CORES" -q --journal j &
tpid=$!
# the master's own CPU time (its workers and models are children, counted apart by time(1))
ticks=0
sleep 0.2
mpid=$(pgrep -P "$tpid" -x pestrun | head -1)
while [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; do
  t=$(awk '{print $14 + $15}' "/proc/$mpid/stat" 2>/dev/null) && ticks=$t
  sleep 0.05
done
wait "$tpid"
read -r rss user sys wall <rss.txt
runs=$(awk -F, 'END {print $2}' case.phi.actual.csv)
hz=$(getconf CLK_TCK)
printf "%d parameters x %d realizations, NOPTMAX %d%s%s: master peak RSS %d KiB (%.0f MiB), %d runs, master CPU %.2f ms a run (with workers and model %.1f ms), wall %ss\n" \
  "$NPAR" "$NREALS" "$NOPT" "${FULL:+ (full solution)}" "${IES_EXTRA:+ $IES_EXTRA}" "$rss" "$(echo "$rss / 1024" | bc -l)" "$runs" \
  "$(echo "$ticks * 1000 / $hz / $runs" | bc -l)" "$(echo "($user + $sys) * 1000 / $runs" | bc -l)" "$wall"
cut -d, -f1-6 case.phi.actual.csv
