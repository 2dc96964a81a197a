#!/bin/bash
# The CI skip rule. Under CI=true a test that skips for a reason CI does not accept fails
# (lib.bash's skip), and .ci/run fails when a part the README names was not exercised, saying
# which, and lists the skipped tests with their reasons at its end (scripts/ci-report.sh).
# .ci/run runs here in a copy of the tree whose test suite is a stand-in writing ctest logs.
. "$(dirname "$0")/lib.bash"
unset CI

# --- lib.bash's skip --------------------------------------------------------------------------
mkdir -p "$T/e2e"
cp "$SRC/tests/e2e/lib.bash" "$T/e2e/"
for t in mpi shared_cases; do
  printf '. "$(dirname "$0")/lib.bash"\nskip "$1"\n' >"$T/e2e/$t.sh"
done
printf '. "$(dirname "$0")/lib.bash"\nskip_root "dockerd"\n' >"$T/e2e/docker_agent.sh"
runs() { # expected-status test reason [env...]: the stand-in test's exit status
  local want=$1 t=$2 reason=$3
  shift 3
  env PESTRUN_SOURCE_DIR="$SRC" "$@" bash "$T/e2e/$t.sh" "$reason" >"$T/out" 2>&1
  expect_eq "$t skipping ($reason) with ${*:-no CI}" "$?" "$want"
}
runs 77 mpi "no mpirun"
runs 1 mpi "no mpirun" CI=true
expect_grep "the failed skip says why" "^FAIL: under CI=true this test may not skip" "$T/out"
expect_grep "and gives the reason" "^skipped: no mpirun" "$T/out"
runs 77 docker_agent "" CI=true
expect_grep "not root is accepted" "^skipped: not root: dockerd" "$T/out"
runs 77 shared_cases "no shared cases" CI=true PESTRUN_SHARED="$T/absent"
runs 1 shared_cases "no shared cases" CI=true PESTRUN_SHARED="$T"

# --- .ci/run over a stand-in suite ------------------------------------------------------------
# fake_log DIR "NAME STATUS [OUTPUT...]"...: a ctest LastTest.log; STATUS passed, failed or
# skip:REASON
fake_log() {
  local d=$1/Testing/Temporary n=0
  shift
  mkdir -p "$d"
  {
    echo "Start testing: Dec 03 08:57 UTC"
    for spec in "$@"; do
      n=$((n + 1))
      read -r name st rest <<<"$spec"
      printf '%s\n' "----------------------------------------------------------" "$n/$# Testing: $name" \
        "$n/$# Test: $name" "Command: \"/bin/true\"" "Output:" "----------------------------------------------------------"
      case $st in skip:*) echo "skipped: ${st#skip:} ${rest}" ;; *) [ -n "$rest" ] && printf '%s\n' "$rest" ;; esac
      echo "<end of output>"
      echo "Test time =   0.01 sec"
      echo "----------------------------------------------------------"
      [ "$st" = failed ] && echo "Test Failed." || echo "Test Passed."
    done
  } >"$d/LastTest.log"
}
mkdir -p "$T/repo/.ci" "$T/repo/scripts" "$T/bin"
cp "$SRC/.ci/run" "$T/repo/.ci/run"
cp "$SRC/scripts/ci-report.sh" "$T/repo/scripts/"
printf '#!/bin/sh\nexit 0\n' >"$T/bin/apt-get"
# the stand-in suite: release and sanitizer logs as $T/case says, two fuzz targets
cat >"$T/repo/scripts/test.sh" <<'SH'
#!/bin/bash
set -euo pipefail
. "$CASE"
SH
chmod +x "$T/repo/.ci/run" "$T/repo/scripts/test.sh" "$T/bin/apt-get"
good=(
  "unit.test_aws_api skip:no emulator (AWS_ENDPOINT_URL unset)"
  "e2e.mpi passed" "e2e.slurm passed" "e2e.aws_emulators passed" "e2e.aws_api passed"
  "e2e.sqs passed" "e2e.docker_agent passed image pestrun-agent: 312 MB"
  "e2e.deploy_static passed terraform test: 12 passed, 0 failed"
)
ci() { # NAME: .ci/run with the suite of $T/case.NAME; its status, its output in $T/ci.NAME
  (cd "$T/repo" && CASE="$T/case.$1" PATH="$T/bin:$PATH" PESTRUN_SHARED="$T/absent" \
    .ci/run >"$T/ci.$1" 2>&1)
}
suite() { # NAME SPEC...: a stand-in suite (fuzz targets that ran, the logs)
  local name=$1
  shift
  {
    declare -f fake_log
    echo 'rm -rf build build-asan; mkdir -p build-asan'
    echo 'for f in fuzz_pst fuzz_ins; do printf "#!/bin/sh\n" >build-asan/$f; chmod +x build-asan/$f;'
    echo '  echo "stat::number_of_executed_units: 1234" >build-asan/$f.log; done'
    printf 'fake_log build'
    printf ' %q' "$@"
    echo
    echo 'fake_log build-asan "e2e.sqs passed"'
  } >"$T/case.$name"
}
suite good "${good[@]}"
ci good
expect_eq ".ci/run: every part exercised" $? 0
expect_grep ".ci/run lists the skips with their reasons" \
  "build: unit.test_aws_api: no emulator \(AWS_ENDPOINT_URL unset\) \(accepted\)" "$T/ci.good"
for p in MPI Slurm "SQS/S3 emulators" Docker Terraform fuzzing; do
  expect_grep "$p exercised" "^$p: exercised" "$T/ci.good"
done

suite mpi "${good[@]/e2e.mpi passed/e2e.mpi skip:no mpirun}"
ci mpi
expect_eq ".ci/run with the MPI test skipped" $? 1
expect_grep "it names the part" "^MPI: NOT exercised: e2e.mpi skipped: no mpirun" "$T/ci.mpi"
expect_grep "the skip is listed as not accepted" "e2e.mpi: no mpirun \(not accepted under CI\)" "$T/ci.mpi"
expect_grep "the report ends the run" "^== skipped tests" <(tail -n 20 "$T/ci.mpi")
expect_grep "the run's status is the last line" "^ci: .*status 1$" <(tail -n 1 "$T/ci.mpi")

suite docker "${good[@]/e2e.docker_agent passed image*/e2e.docker_agent passed}"
ci docker
expect_eq ".ci/run with no agent image built" $? 1
expect_grep "Docker named" "^Docker: NOT exercised: e2e.docker_agent did not print" "$T/ci.docker"

suite tf "${good[@]/e2e.deploy_static passed terraform*/e2e.deploy_static passed}"
ci tf
expect_eq ".ci/run with terraform not run" $? 1
expect_grep "Terraform named" "^Terraform: NOT exercised" "$T/ci.tf"

suite slurm "${good[@]/e2e.slurm passed/e2e.slurm failed}"
ci slurm
expect_eq ".ci/run with the Slurm test failed" $? 1
expect_grep "Slurm named" "^Slurm: NOT exercised: e2e.slurm failed" "$T/ci.slurm"

suite nofuzz "${good[@]}"
sed -i 's/echo "stat::number_of_executed_units: 1234"/: /' "$T/case.nofuzz"
ci nofuzz
expect_eq ".ci/run with fuzzing not run" $? 1
expect_grep "fuzzing named" "^fuzzing: NOT exercised: 0 of 2 fuzz targets ran" "$T/ci.nofuzz"

# an accepted skip outside the named parts passes; another fails the run
suite shared "${good[@]}" "e2e.shared_cases skip:no shared cases"
ci shared
expect_eq ".ci/run with e2e.shared_cases skipped, no ../shared" $? 0
suite other "${good[@]}" "e2e.sweep skip:no python3"
ci other
expect_eq ".ci/run with another test skipped" $? 1
expect_grep "the unaccepted skip is named" "e2e.sweep: no python3 \(not accepted under CI\)" "$T/ci.other"
# without CI=true the report is the same, the verdict is not enforced
(cd "$T/repo" && CASE="$T/case.mpi" PATH="$T/bin:$PATH" CI=false .ci/run >"$T/ci.noci" 2>&1)
expect_eq ".ci/run with CI=false" $? 0
expect_grep "still reported" "^MPI: NOT exercised" "$T/ci.noci"
done_testing
