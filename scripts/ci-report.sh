#!/bin/bash
# What the last test run skipped, and whether it exercised every part the README names.
#
#   scripts/ci-report.sh BUILD-DIR...          the skipped tests with their reasons, then each
#                                              part with the test that proves it; under CI=true
#                                              exits 1 when a skip is not one CI accepts or a
#                                              part was not exercised, saying which
#   scripts/ci-report.sh --accepts TEST REASON exit 0 when CI accepts TEST skipping for REASON
#
# Reads each build folder's last ctest log (Testing/Temporary/LastTest.log) and, for fuzzing,
# the libFuzzer logs scripts/test.sh leaves in the sanitizer build (fuzz_*.log). CI accepts a
# skip only when the machine is not root, or for a platform limit the README lists: big-endian
# (unit.test_panther), unit.test_aws_api run alone (e2e.aws_api runs it against the
# emulators), and no shared folder (../shared or PESTRUN_SHARED) for e2e.shared_cases and
# e2e.glm_mf6, which need PEST++'s outputs and MODFLOW 6's sources from it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${PESTRUN_SHARED:-$here/../../shared}

accepts() { # TEST REASON
  case $2 in "not root"*) return 0 ;; esac
  case $1 in
    unit.test_panther) [[ $2 == *little-endian* ]] ;;
    unit.test_aws_api) [[ $2 == *"AWS_ENDPOINT_URL unset"* ]] ;;
    e2e.shared_cases | e2e.glm_mf6) [ ! -d "$shared" ] ;;
    *) return 1 ;;
  esac
}
if [ "${1:-}" = --accepts ]; then
  accepts "${2:?TEST}" "${3:?REASON}"
  exit
fi
[ $# -gt 0 ] || { echo "usage: scripts/ci-report.sh BUILD-DIR... | --accepts TEST REASON" >&2; exit 2; }

# One line a test of a ctest log: name, passed/failed/skipped, the skip reason.
tests_of() {
  awk '
    /^[0-9]+\/[0-9]+ Test: / { name = $3; reason = ""; inout = 0; next }
    /^Output:$/ { inout = 1; next }
    /^<end of output>$/ { inout = 0; next }
    inout && reason == "" && /^skipped: / { reason = substr($0, 10) }
    /^Test / && !/^Test time/ && name != "" {   # Test Passed., Test Failed., a time-out...
      st = reason != "" ? "skipped" : ($0 ~ /^Test Passed/ ? "passed" : "failed")
      printf "%s\t%s\t%s\n", name, st, reason
      name = ""
    }
  ' "$1"
}
# The output of test $2 in log $1.
output_of() {
  awk -v t="$2" '
    /^[0-9]+\/[0-9]+ Test: / { on = $3 == t; next }
    on && /^Output:$/ { out = 1; next }
    /^<end of output>$/ { out = 0 }
    on && out { print }
  ' "$1"
}

all=$(mktemp)
trap 'rm -f "$all"' EXIT
for b in "$@"; do
  log=$b/Testing/Temporary/LastTest.log
  [ -f "$log" ] || { echo "no test log in $b"; continue; }
  tests_of "$log" | sed "s|^|$b\t|" >>"$all"
done

bad=0
echo "== skipped tests"
n=0
while IFS=$'\t' read -r b name st reason; do
  [ "$st" = skipped ] || continue
  n=$((n + 1))
  if accepts "$name" "$reason"; then verdict=accepted; else verdict="not accepted under CI"; bad=1; fi
  printf '%s: %s: %s (%s)\n' "$b" "$name" "$reason" "$verdict"
done <"$all"
[ "$n" -gt 0 ] || echo "none"

# The parts, each with why it was not exercised (empty: it was).
parts=(MPI Slurm "SQS/S3 emulators" Docker Terraform fuzzing)
declare -A why=() by=()
result() { awk -F'\t' -v t="$1" '$2 == t { n++; if ($3 != "passed") bad = $3 (($4 != "") ? ": " $4 : "") }
  END { print (n == 0 ? "did not run" : bad == "" ? "passed" : bad) }' "$all"; }
need_pass() { # PART TEST...
  local p=$1 t r
  shift
  by[$p]="$*"
  for t in "$@"; do
    r=$(result "$t")
    [ "$r" = passed ] || { why[$p]=${why[$p]:-"$t $r"}; }
  done
}
outputs() { # TEST: its output in every build's log
  local b
  for b in "${builds[@]}"; do
    [ -f "$b/Testing/Temporary/LastTest.log" ] && output_of "$b/Testing/Temporary/LastTest.log" "$1"
  done
}
need_output() { # PART TEST REGEX
  outputs "$2" | grep -qE -- "$3" || why[$1]=${why[$1]:-"$2 did not print '$3'"}
}
refuse_output() { # PART TEST REGEX WHY
  ! outputs "$2" | grep -qE -- "$3" || why[$1]=${why[$1]:-"$2: $4"}
}
builds=("$@")
need_pass MPI e2e.mpi
need_pass Slurm e2e.slurm
need_pass "SQS/S3 emulators" e2e.aws_emulators e2e.aws_api e2e.sqs
need_pass Docker e2e.docker_agent
need_output Docker e2e.docker_agent '^image pestrun-agent: '
refuse_output Docker e2e.docker_agent 'emulator part skipped' "the container never ran as an agent"
need_pass Terraform e2e.deploy_static
need_output Terraform e2e.deploy_static '^terraform test: [1-9][0-9]* passed, 0 failed'
# fuzzing: every target of a sanitizer build ran (the libFuzzer logs of scripts/test.sh)
fuzzed=0 targets=0
for b in "$@"; do
  for f in "$b"/fuzz_*; do
    [[ -f $f && -x $f ]] || continue
    targets=$((targets + 1))
    grep -qE 'stat::number_of_executed_units: *[1-9]' "$f.log" 2>/dev/null && fuzzed=$((fuzzed + 1))
  done
done
[ "$targets" -gt 0 ] && [ "$fuzzed" -eq "$targets" ] || why[fuzzing]="$fuzzed of $targets fuzz targets ran"

echo "== the parts the README names"
missing=()
for p in "${parts[@]}"; do
  if [ -z "${why[$p]:-}" ]; then
    echo "$p: exercised (${by[$p]:-every fuzz target})"
  else
    echo "$p: NOT exercised: ${why[$p]}"
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "parts not exercised: ${missing[*]}"
  bad=1
fi
if [ "${CI:-}" = true ] && [ "$bad" -ne 0 ]; then
  echo "CI=true: every part must be exercised and only accepted skips may skip"
  exit 1
fi
exit 0
