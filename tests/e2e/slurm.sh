#!/bin/bash
# slurm/pestrun.sbatch on a real (one-node) Slurm cluster: the example calibrated over MPI with
# 3 ranks, then the same job again, which finds the journal, resumes, and runs no model. Then
# sweeps with one worker rank killed (SIGKILL) mid-sweep: under srun --mpi=pmix Slurm cancels
# the step and the script starts it again from the journal; under PESTRUN_LAUNCH=mpirun the
# step goes on without the rank. Either way the same job finishes with status 0, the local
# transport's bytes, and no completed run repeated.
# Needs a running cluster (scripts/slurm-local.sh start, done by scripts/test.sh as root).
. "$(dirname "$0")/lib.bash"
if ! command -v sbatch >/dev/null || ! timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle; then
  [ "$(id -u)" -eq 0 ] || skip_root "no Slurm cluster, and scripts/slurm-local.sh needs root to start one"
  command -v sbatch >/dev/null || skip "no Slurm"
  skip "no idle Slurm node"
fi
"$PESTRUN" --help | grep -q . || exit 1
"$PESTRUN" sweep --help | grep -q -- "--transport" || skip "pestrun has no MPI transport"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # mpirun in the job, as root
G="$BIN/examples/gwflow"

# submit EXPORTS: sbatch the script with 3 tasks, print the job id
submit() {
  (cd "$T" && timeout 30 sbatch --parsable --ntasks=3 --overcommit --output="$T/job.%j.out" \
    --export="ALL,PESTRUN_BIN=$PESTRUN,$1" "$SRC/slurm/pestrun.sbatch")
}
# finish ID: wait for the job to end (sbatch --wait polls every 10 s), return 0 if it ended 0:0
finish() {
  local state=""
  for _ in $(seq 3000); do
    state=$(scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*')
    case ${state#JobState=} in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL) break ;;
    esac
    sleep 0.1
  done
  [ "$(scontrol show job -o "$1" | grep -o 'ExitCode=[0-9:]*')" = "ExitCode=0:0" ]
}
# a copy of the example whose model logs each run it starts in $2
case_copy() { # $1 = folder, $2 = log
  cp -r "$G" "$1"
  printf '#!/bin/sh\necho x >> %s\n[ -n "${SLOW:-}" ] && sleep "$SLOW"\nexec ./gwflow\n' "$2" >"$1/count.sh"
  chmod +x "$1/count.sh"
  sed -i 's#^\./gwflow$#./count.sh#' "$1/gwflow.pst"
}

case_copy "$T/g" "$T/runs.count"
id=$(submit "PESTRUN_CASE=$T/g/gwflow.pst,PESTRUN_ARGS=-q") && finish "$id"
expect_eq "calibration job exit" $? 0
runs=$(wc -l <"$T/runs.count")
awk 'NR > 1 {print $1, $2}' "$T/g/gwflow.par" >"$T/par.txt"
while read -r name value; do
  case $name in hk1) want=15 ;; hk2) want=1.5 ;; hk3) want=40 ;; hk4) want=6 ;; rch) want=300 ;; *) want=0 ;; esac
  expect_near "$name recovered under Slurm" "$value" "$want" "$(awk -v w="$want" 'BEGIN {print w / 100}')"
done <"$T/par.txt"
cp "$T/g/gwflow.par" "$T/first.par"
# the requeue path: the job starts again, finds the journal and repeats no model run
id=$(submit "PESTRUN_CASE=$T/g/gwflow.pst,PESTRUN_ARGS=-q") && finish "$id"
expect_eq "second job exit" $? 0
expect_grep "resumed from the journal" "journal .* found: resuming" "$T/job.$id.out"
expect_eq "no model run repeated" "$(wc -l <"$T/runs.count")" "$runs"
cmp -s "$T/first.par" "$T/g/gwflow.par" && ok || fail "the resumed job changed gwflow.par"

# --- a worker rank killed mid-sweep -------------------------------------------------------------
# rank1_of JOB: the pestrun process standing for rank 1 in that job (a spawned worker names it
# in PESTRUN_MPI_RANK, a rank of mpirun in OMPI_COMM_WORLD_RANK, a task of srun in SLURM_PROCID)
rank1_of() {
  local p env
  for p in $(pgrep -x pestrun); do
    env=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null) || continue
    grep -qx "SLURM_JOB_ID=$1" <<<"$env" || continue
    if grep -qx 'PESTRUN_MPI_RANK=1' <<<"$env"; then echo "$p" && return 0; fi
    grep -q '^PESTRUN_MPI_RANK=' <<<"$env" && continue
    if grep -qx 'OMPI_COMM_WORLD_RANK=1' <<<"$env" ||
      { grep -qx 'SLURM_PROCID=1' <<<"$env" && ! grep -q '^OMPI_COMM_WORLD_RANK=' <<<"$env"; }; then
      echo "$p" && return 0
    fi
  done
  return 1
}
# sweep_kill NAME LAUNCH: 120 rows over 3 ranks, rank 1 killed after 30 model runs
sweep_kill() {
  local name=$1 launch=$2 victim="" starts
  case_copy "$T/$name" "$T/$name.count"
  echo "++overdue_resched_fac(1000)" >>"$T/$name/gwflow.pst" # every extra run is a repeat
  head -121 "$T/$name/sweep_in.csv" >"$T/$name/in.csv"
  (cd "$T/$name" && "$PESTRUN" sweep gwflow.pst --in in.csv --out local.csv -j 2 -q --journal j.local)
  rm -f "$T/$name.count"
  id=$(SLOW=0.05 submit "PESTRUN_CASE=$T/$name/gwflow.pst,PESTRUN_COMMAND=sweep,PESTRUN_LAUNCH=$launch,PESTRUN_ARGS=--in in.csv --out out.csv")
  for _ in $(seq 600); do
    [ "$(wc -l 2>/dev/null <"$T/$name.count" || echo 0)" -ge 30 ] && victim=$(rank1_of "$id") && break
    sleep 0.05
  done
  [ -n "$victim" ] && ok || fail "$name: no process of rank 1 found to kill"
  [ -n "$victim" ] && kill -9 "$victim"
  finish "$id"
  expect_eq "$name: job exit after rank 1 was killed" $? 0
  cmp -s "$T/$name/local.csv" "$T/$name/out.csv" && ok ||
    fail "$name: output differs from local: $(tail -5 "$T/job.$id.out")"
  starts=$(wc -l <"$T/$name.count")
  # at most the runs in flight when the rank died start twice: one a worker rank killed
  [ "$starts" -ge 120 ] && [ "$starts" -le $((120 + $3)) ] && ok ||
    fail "$name: $starts model runs for 120 rows (a completed run was repeated)"
}
sweep_kill srun srun 2 # the step is cancelled: both workers' runs in flight are lost
expect_grep "srun: the step started again" "starting it again from the journal \(1 of 3\)" "$T/job.$id.out"
expect_grep "srun: the second step resumed" "journal .* found: resuming" "$T/job.$id.out"
sweep_kill mpirun mpirun 1 # only the killed rank's run
expect_grep "mpirun: the workers were spawned" "worker ranks spawned as a recoverable job" "$T/job.$id.out"
expect_grep "mpirun: rank 1 is a lost worker" "last worker lost: worker [0-9]+: rank 1 .*ended" "$T/job.$id.out"
if grep -q "starting it again" "$T/job.$id.out"; then fail "mpirun: the step was started again"; else ok; fi
done_testing
