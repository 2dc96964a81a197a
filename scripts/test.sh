#!/bin/bash
# The whole test suite: installs dependencies, builds a release tree and an ASan+UBSan tree,
# runs every ctest test in both, then each fuzz target for a bounded time.
# Usage: scripts/test.sh [FUZZ_SECONDS]   (default 60 per target; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-60}
jobs=$(nproc)

scripts/deps.sh
# What only the tests need: node and npm (the SQS/S3 emulators, tests/aws/), shellcheck and
# yamllint (the deployment's static checks), docker.io and debootstrap (the agent image built
# and run by a real engine). Tests whose tools are missing skip.
if [ "$(id -u)" -eq 0 ]; then
  want=()
  command -v node >/dev/null || want+=(nodejs)
  command -v npm >/dev/null || want+=(npm)
  for p in shellcheck yamllint docker.io debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want+=("$p")
  done
  if [ ${#want[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
fi
# MODFLOW 6 for e2e.glm_mf6, built from the team's shared sources when they are there (2-3 min
# the first time, serially: it builds in the background while pestrun builds; reused after).
mf6_pid=""
if [ -x ../shared/tools/build-mf6 ]; then
  if ! command -v gfortran >/dev/null && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gfortran make >/dev/null
  fi
  mkdir -p .cache
  ../shared/tools/build-mf6 "$PWD/.cache/mf6" >.cache/mf6.path 2>.cache/mf6.err &
  mf6_pid=$!
fi
# A one-node Slurm cluster for the Slurm test (root only; skipped otherwise).
if [ "$(id -u)" -eq 0 ]; then
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
  if scripts/slurm-local.sh start; then
    trap 'scripts/slurm-local.sh stop' EXIT
  fi
fi

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
if [ -n "$mf6_pid" ]; then
  if wait "$mf6_pid"; then
    PESTRUN_MF6=$(tail -1 .cache/mf6.path)
    export PESTRUN_MF6
    echo "MODFLOW 6: $PESTRUN_MF6"
  else
    echo "MODFLOW 6 did not build: $(tail -3 .cache/mf6.err)"
  fi
fi
(cd build && ctest --output-on-failure -j"$jobs")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DPESTRUN_SANITIZE=ON \
  -DPESTRUN_FUZZ=ON >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The Slurm and MPI jobs, the container image and the static checks of the deployment run
# once, in the release build: the first two run inside Open MPI (whose own leaks the sanitizers
# cannot tell apart), the others exercise no more of pestrun's code.
# (the simulation invariants over 40 seeds here: the release pass runs all 200)
(cd build-asan && SIM_SEEDS=40 ctest --output-on-failure -j"$jobs" -E 'e2e\.(slurm|mpi|docker_agent|deploy_static|aws_emulators)')

if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzzing, ${fuzz_seconds}s per target"
  for f in build-asan/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus=build-asan/corpus/$name
    mkdir -p "$corpus"
    seeds=tests/fuzz/seeds/${name#fuzz_}
    if [ -d "$seeds" ]; then cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true; fi
    "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      "$corpus" 2>build-asan/"$name".log || { tail -40 build-asan/"$name".log; exit 1; }
    grep -E 'stat::number_of_executed_units' build-asan/"$name".log | sed "s/^/$name: /"
  done
fi
echo "all tests passed"
