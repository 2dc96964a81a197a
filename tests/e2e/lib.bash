# Sourced by the end-to-end tests. ctest sets PESTRUN (the binary), PESTRUN_SOURCE_DIR and
# PESTRUN_BINARY_DIR. Each test works in its own temporary folder, removed at exit.
set -u
: "${PESTRUN:?run through ctest}"
SRC=${PESTRUN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${PESTRUN_BINARY_DIR:-$SRC/build}
SHARED=${PESTRUN_SHARED:-$SRC/../shared}
T=$(mktemp -d "${TMPDIR:-/tmp}/pestrun-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi; }
# expect_grep WHAT PATTERN FILE
expect_grep() { if grep -qE -- "$2" "$3"; then ok; else fail "$1: no '$2' in $3: $(head -5 "$3")"; fi; }
# expect_near WHAT GOT WANT TOL
expect_near() {
  if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; then ok
  else fail "$1: got $2, want $3 (tolerance $4)"; fi
}
done_testing() {
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
  exit $?
}
skip() { echo "skipped: $*"; exit 77; }

# Models written in Python run through python and python3 from $T/bin: the system's
# /usr/bin/python3 when there is one (a version manager's shim can cost a second a start).
use_fast_python() {
  local py=/usr/bin/python3
  [ -x "$py" ] || py=$(command -v python3)
  mkdir -p "$T/bin" && ln -sf "$py" "$T/bin/python3" && ln -sf "$py" "$T/bin/python"
  export PATH="$T/bin:$PATH"
}

# The least-squares Rosenbrock case of SPEC §1.16 with a C model; $1 = folder.
make_rosen_case() {
  mkdir -p "$1"
  cat >"$1/rosen.c" <<'C'
#include <stdio.h>
int main(void)
{
    double a, b;
    FILE *f = fopen("par.dat", "r");
    if (!f || fscanf(f, "%lf %lf", &a, &b) != 2)
        return 1;
    fclose(f);
    f = fopen("out.dat", "w");
    if (!f)
        return 1;
    fprintf(f, "r1 %20.12E\nr2 %20.12E\n", 10.0 * (b - a * a), 1.0 - a);
    fclose(f);
    return 0;
}
C
  cc -O2 -o "$1/rosen" "$1/rosen.c"
  printf 'ptf ~\n~      x1             ~ ~      x2             ~\n' >"$1/par.dat.tpl"
  printf 'pif ~\nl1 w !r1!\nl1 w !r2!\n' >"$1/out.dat.ins"
  cat >"$1/rosen.pst" <<'P'
pcf
* control data
restart estimation
2 2 1 0 1
1 1 single point 1
10.0 -2.0 0.3 0.01 10
10.0 10.0 0.001
0.1
50 0.005 4 4 0.005 4
0 0 0
* parameter groups
xg relative 0.01 0.0001 switch 2.0 parabolic
* parameter data
x1 none relative -1.2 -5.0 5.0 xg 1.0 0.0 1
x2 none relative  1.0 -5.0 5.0 xg 1.0 0.0 1
* observation groups
resid
* observation data
r1 0.0 1.0 resid
r2 0.0 1.0 resid
* model command line
./rosen
* model input/output
par.dat.tpl par.dat
out.dat.ins out.dat
P
}
