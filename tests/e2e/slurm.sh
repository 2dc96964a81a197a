#!/bin/bash
# slurm/pestrun.sbatch on a real (one-node) Slurm cluster: the example calibrated over MPI with
# 3 ranks, then the same job again, which finds the journal, resumes, and runs no model.
# Needs a running cluster (scripts/slurm-local.sh start, done by scripts/test.sh as root).
. "$(dirname "$0")/lib.bash"
command -v sbatch >/dev/null || skip "no Slurm"
timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle || skip "no idle Slurm node"
"$PESTRUN" --help | grep -q . || exit 1
"$PESTRUN" sweep --help | grep -q -- "--transport" || skip "pestrun has no MPI transport"
G="$BIN/examples/gwflow"
cp -r "$G" "$T/g"
cat >"$T/g/count.sh" <<EOF2
#!/bin/sh
echo x >> $T/runs.count
exec ./gwflow
EOF2
chmod +x "$T/g/count.sh"
sed -i 's#^\./gwflow$#./count.sh#' "$T/g/gwflow.pst"
submit() {
  (cd "$T" && timeout 300 sbatch --wait --ntasks=3 --overcommit --output="$T/job.%j.out" \
    --export="ALL,PESTRUN_CASE=$T/g/gwflow.pst,PESTRUN_BIN=$PESTRUN,PESTRUN_ARGS=-q" \
    "$SRC/slurm/pestrun.sbatch" >"$T/sbatch.out" 2>&1)
}
submit; expect_eq "sbatch --wait exit" $? 0
runs=$(wc -l <"$T/runs.count")
awk 'NR > 1 {print $1, $2}' "$T/g/gwflow.par" >"$T/par.txt"
while read -r name value; do
  case $name in hk1) want=15 ;; hk2) want=1.5 ;; hk3) want=40 ;; hk4) want=6 ;; rch) want=300 ;; *) want=0 ;; esac
  expect_near "$name recovered under Slurm" "$value" "$want" "$(awk -v w="$want" 'BEGIN {print w / 100}')"
done <"$T/par.txt"
cp "$T/g/gwflow.par" "$T/first.par"
# the requeue path: the job starts again, finds the journal and repeats no model run
submit; expect_eq "second sbatch exit" $? 0
expect_grep "resumed from the journal" "journal .* found: resuming" "$(ls -t "$T"/job.*.out | head -1)"
expect_eq "no model run repeated" "$(wc -l <"$T/runs.count")" "$runs"
cmp -s "$T/first.par" "$T/g/gwflow.par" && ok || fail "the resumed job changed gwflow.par"
done_testing
