# Shared by the benchmark scripts: a build of pestrun and a scratch folder.
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
if [ ! -x "$BUILD/pestrun" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
PESTRUN=$BUILD/pestrun
W=$(mktemp -d "${TMPDIR:-/tmp}/pestrun-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
CORES=$(nproc)

# A case whose model is $1 (a command line), one parameter x read from in.dat, observations
# o1..o$2 read from out.dat one per line.
make_case() { # DIR MODEL_COMMAND NOBS
  mkdir -p "$1"
  printf 'ptf ~\n~     x      ~\n' >"$1/in.tpl"
  { echo "pif ~"; for i in $(seq "$3"); do echo "l1 !o$i!"; done; } >"$1/out.ins"
  {
    printf 'pcf\n* control data\nrestart estimation\n1 %d 1 0 1\n1 1 single point 1\n' "$3"
    printf '10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n1 0.005 4 4 0.005 4\n0 0 0\n'
    printf '* parameter groups\ng relative 0.01 0.0001 switch 2.0 parabolic\n'
    printf '* parameter data\nx none relative 1.0 -1e10 1e10 g 1.0 0.0 1\n'
    printf '* observation groups\nobs\n* observation data\n'
    for i in $(seq "$3"); do echo "o$i 0.0 1.0 obs"; done
    printf '* model command line\n%s\n* model input/output\nin.tpl in.dat\nout.ins out.dat\n' "$2"
  } >"$1/case.pst"
}

# The model: reads x from in.dat, writes NOBS values x*i to out.dat.
make_model() { # DIR
  cat >"$1/model.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2;
    double x;
    FILE *f = fopen("in.dat", "r");
    if (!f || fscanf(f, "%lf", &x) != 1)
        return 1;
    fclose(f);
    f = fopen("out.dat", "w");
    if (!f)
        return 1;
    for (int i = 1; i <= n; i++)
        fprintf(f, "%.10e\n", x * i);
    return fclose(f) != 0;
}
C
  cc -O2 -o "$1/model" "$1/model.c"
}

sweep_input() { # FILE ROWS
  { echo "real,x"; seq "$2" | awk '{printf "r%d,%.6f\n", $1, $1 * 0.001}'; } >"$1"
}

now() { date +%s.%N; }
