#!/bin/bash
# The MPI transport: under mpirun, rank 0 is the master and the other ranks are workers (spawned
# by the master as a recoverable job). Sweeps with 1, 2 and 4 worker ranks give the local
# transport's bytes, so does a calibration; each worker's models run on its own core; a worker
# rank killed with SIGKILL mid-sweep is a lost worker: the same mpirun finishes with status 0,
# the local transport's bytes and no completed run repeated, with the spawned workers under a
# plain mpirun and with the launch's own ranks under `mpirun --enable-recovery`. Two hosts on this
# machine (mpirun's second node 127.0.0.2, its daemon started here by a stand-in for ssh): the
# workers there reach the master over TCP, give the same bytes, and a killed one is lost at
# once; PESTRUN_MPI_TCP=1 forces TCP on one node. The master's listeners are gone once every
# worker is connected. A rank that is not pestrun cannot get in without the token.
. "$(dirname "$0")/lib.bash"
# Under AddressSanitizer, Open MPI's own allocations in MPI_Init are reported as leaks at exit;
# its plugins are unloaded by then, so they cannot be suppressed by library name. Leak checking
# of pestrun's code is done by the local-transport tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
command -v mpirun >/dev/null || skip "no mpirun"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# no stray MPI environment from a surrounding job
unset OMPI_COMM_WORLD_SIZE PMI_SIZE PMIX_RANK
# the workers' default scratch ($TMPDIR) inside the test's folder, to see it cleaned up
mkdir -p "$T/tmp" && export TMPDIR="$T/tmp"
MPIRUN=(timeout 60 mpirun --oversubscribe --bind-to none)
"${MPIRUN[@]}" -np 2 true 2>/dev/null || skip "mpirun cannot start ranks here"

make_rosen_case "$T/r"
cd "$T/r" || exit 1
python3 - <<'PY' || exit 1
import random
random.seed(11)
with open("sweep_in.csv", "w") as f:
    f.write("real,x1,x2\n")
    for i in range(200):
        f.write("r%d,%.6f,%.6f\n" % (i, random.uniform(-2, 2), random.uniform(-2, 2)))
PY
# the model records the cores it may use, and which rank (and worker pid) ran it
cat >model.sh <<EOF2
#!/bin/sh
cpus=\$(awk '/Cpus_allowed_list/ {print \$2}' /proc/self/status)
echo "\$cpus" >> $T/affinity.log
echo "\${PESTRUN_MPI_RANK:-local} \$PPID \$cpus" >> $T/ranks.log
[ -n "\${SLOW:-}" ] && sleep \$SLOW
exec ./rosen
EOF2
chmod +x model.sh
sed -i 's#^\./rosen$#./model.sh#' rosen.pst

"$PESTRUN" sweep rosen.pst --in sweep_in.csv --out local.csv -j 2 -q --journal j.local
expect_eq "local sweep" $? 0
# a plain run does not start MPI even when asked for the local transport under mpirun
"${MPIRUN[@]}" -np 1 "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out one.csv -j 2 -q \
  --journal j.one
expect_eq "mpirun -np 1 runs locally" $? 0
cmp -s local.csv one.csv && ok || fail "-np 1 output differs"

for k in 2 3 5; do
  : >"$T/affinity.log"
  : >"$T/ranks.log"
  "${MPIRUN[@]}" -np $k "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out mpi.$k.csv -q \
    --journal j.mpi.$k >out.$k 2>&1
  expect_eq "mpirun -np $k sweep" $? 0
  cmp -s local.csv mpi.$k.csv && ok || fail "-np $k output differs from the local transport's: $(head -5 out.$k)"
  expect_eq "-np $k: models ran on the worker ranks 1..$((k - 1)) only" \
    "$(cut -d' ' -f1 "$T/ranks.log" | sort -un | tr '\n' ' ')" "$(seq -s ' ' 1 $((k - 1))) "
  if [ $k = 3 ] && [ "$(nproc)" -ge 2 ]; then
    expect_eq "-np 3: each model on one core" "$(grep -c -v '^[0-9]*$' "$T/affinity.log")" 0
    expect_eq "-np 3: the two workers on two cores" "$(sort -u "$T/affinity.log" | wc -l)" 2
    expect_eq "-np 3: one core per rank" \
      "$(awk '{print $1, $3}' "$T/ranks.log" | sort -u | wc -l)" 2
  fi
done
expect_eq "worker folders removed" "$(find "$T/tmp" -maxdepth 1 -name 'pestrun-mpi*' | wc -l)" 0
"${MPIRUN[@]}" -np 3 "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out kept.csv -q \
  --journal j.kept --workdir "$T/wd" --keep-workdirs
expect_eq "--workdir --keep-workdirs" "$(cd "$T/wd" && echo *)" "rank-1 rank-2"

# --transport mpi outside mpirun (one rank): an error that says why
"$PESTRUN" sweep rosen.pst --in sweep_in.csv --out x.csv -q --transport mpi --journal j.x 2>err.x
expect_eq "--transport mpi alone fails" $? 1
expect_grep "--transport mpi needs ranks" "at least 2 ranks" err.x


# a worker rank whose case has other names says so and stops; the others do the work
for i in 0 1 2; do
  mkdir -p "$T/mm/d$i"
  cp rosen.pst rosen par.dat.tpl out.dat.ins model.sh sweep_in.csv "$T/mm/d$i/"
done
sed -i 's/^x2 none/y2 none/; s/~      x2             ~/~      y2             ~/' \
  "$T/mm/d2/rosen.pst" "$T/mm/d2/par.dat.tpl"
(cd "$T/mm" && "${MPIRUN[@]}" -np 3 sh -c 'cd d$OMPI_COMM_WORLD_RANK && exec "$0" "$@"' \
  "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out o.csv --journal j >err 2>&1)
expect_eq "sweep with a mismatched rank" $? 0
cmp -s local.csv "$T/mm/d0/o.csv" && ok || fail "mismatched rank: output differs"
expect_grep "the mismatch is reported" "rank 2 .*other parameter or observation names" "$T/mm/err"

# calibration: the same .par and .iobj
mkdir gl
cp rosen.pst rosen par.dat.tpl out.dat.ins model.sh gl/
(cd gl && "$PESTRUN" glm rosen.pst -j 2 -q --journal j)
expect_eq "local glm" $? 0
for np in 2 3 5; do
  mkdir "gm$np"
  cp rosen.pst rosen par.dat.tpl out.dat.ins model.sh "gm$np/"
  (cd "gm$np" && "${MPIRUN[@]}" -np "$np" "$PESTRUN" glm rosen.pst -q --journal j >out 2>&1)
  expect_eq "mpirun -np $np glm" $? 0
  for f in par iobj; do
    cmp -s "gl/rosen.$f" "gm$np/rosen.$f" && ok || fail "glm rosen.$f differs under MPI with $np ranks"
  done
done

# kill -9 of a worker rank mid-sweep. The victim is the rank process mpirun started for launch
# rank 1 (a spawned worker names it in PESTRUN_MPI_RANK), killed once it has run 10 models.
# Overdue copies are off, so every model run beyond one a row is a repeated run: only the run
# the killed rank had in flight may start twice.
cp rosen.pst slow.pst
echo "++overdue_resched_fac(1000)" >>slow.pst
descendants() { # $1 = a pid: its children, theirs, ...
  local c
  for c in $(pgrep -P "$1"); do
    echo "$c"
    descendants "$c"
  done
}
rank1_pid() { # $1 = the pid of mpirun; a worker comes before the models it started
  local p env
  for p in $(descendants "$1"); do
    env=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null)
    if grep -qx 'PESTRUN_MPI_RANK=1' <<<"$env" ||
      { grep -qx 'OMPI_COMM_WORLD_RANK=1' <<<"$env" && ! grep -q '^PESTRUN_MPI_RANK=' <<<"$env"; }; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
kill_rank1() { # $1 = name, then mpirun's options
  local name=$1 job victim="" mp=""
  shift
  : >"$T/ranks.log"
  SLOW=0.05 timeout 120 mpirun --oversubscribe --bind-to none "$@" -np 3 "$PESTRUN" sweep slow.pst \
    --in sweep_in.csv --out "$name.csv" --journal "j.$name" --workdir "$T/wd.$name" >"out.$name" 2>&1 &
  job=$!
  for _ in $(seq 300); do
    [ "$(grep -c '^1 ' "$T/ranks.log")" -ge 10 ] && break
    sleep 0.05
  done
  mp=$(pgrep -P $job mpirun) && victim=$(rank1_pid "$mp")
  [ -n "$victim" ] && ok || fail "$name: no process of worker rank 1 found to kill"
  [ -n "$victim" ] && kill -9 "$victim"
  wait $job
  expect_eq "$name: mpirun's status after a worker rank was killed" $? 0
  cmp -s local.csv "$name.csv" && ok || fail "$name: output differs from local: $(tail -5 "out.$name")"
  expect_grep "$name: the killed rank is a lost worker" \
    "last worker lost: worker [0-9]+: rank 1 \(pid $victim\) ended" "out.$name"
  local starts
  starts=$(wc -l <"$T/ranks.log")
  [ "$starts" -ge 200 ] && [ "$starts" -le 201 ] && ok ||
    fail "$name: $starts model runs for 200 rows (a completed run was repeated)"
  # only the killed rank could not remove its copy of the case
  expect_eq "$name: work folders left" "$(cd "$T/wd.$name" && echo *)" "rank-1"
}
# a plain mpirun: the master spawned the workers as a recoverable job
kill_rank1 spawned
expect_grep "the workers were spawned" "worker ranks spawned as a recoverable job" out.spawned
# the launch's own ranks as workers: Open MPI's --enable-recovery keeps the others running
PESTRUN_MPI_SPAWN=0 kill_rank1 recovery --enable-recovery
expect_grep "the launch's ranks were the workers" "the launch's ranks are the workers" out.recovery

# two hosts on this machine: ranks 1 and 2 on mpirun's node 127.0.0.2, whose daemon a stand-in
# for ssh starts here; the master has no worker on its node, so they must come over TCP
cat >"$T/fakessh" <<'EOF2'
#!/bin/sh
# "ssh [options] HOST COMMAND" as mpirun calls it: the command runs here
while [ $# -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
shift
exec sh -c "$*"
EOF2
chmod +x "$T/fakessh"
printf 'localhost slots=1\n127.0.0.2 slots=2\n' >"$T/hosts"
TWO=(--hostfile "$T/hosts" --mca plm_rsh_agent "$T/fakessh")
: >"$T/ranks.log"
"${MPIRUN[@]}" "${TWO[@]}" -np 3 "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out two.csv \
  --journal j.two >out.two 2>&1
expect_eq "two hosts: sweep" $? 0
cmp -s local.csv two.csv && ok || fail "two hosts: output differs: $(tail -5 out.two)"
expect_grep "two hosts: over TCP" "over TCP [0-9.]+ \(the address that reaches the other nodes\)" out.two
expect_eq "two hosts: models on ranks 1 and 2" "$(cut -d' ' -f1 "$T/ranks.log" | sort -un | tr '\n' ' ')" "1 2 "
kill_rank1 twohosts "${TWO[@]}"
# one node, TCP forced
PESTRUN_MPI_TCP=1 "${MPIRUN[@]}" -np 3 "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out tcp.csv \
  --journal j.tcp >out.tcp 2>&1
expect_eq "PESTRUN_MPI_TCP=1: sweep" $? 0
cmp -s local.csv tcp.csv && ok || fail "PESTRUN_MPI_TCP=1: output differs: $(tail -5 out.tcp)"
expect_grep "PESTRUN_MPI_TCP=1: over TCP on loopback" "over TCP 127\.0\.0\.1\)" out.tcp
PESTRUN_MPI_TCP=1 PESTRUN_MPI_SPAWN=0 "${MPIRUN[@]}" -np 3 "$PESTRUN" sweep rosen.pst --in sweep_in.csv \
  --out tcp2.csv --journal j.tcp2 >out.tcp2 2>&1
expect_eq "PESTRUN_MPI_TCP=1, the launch's ranks: sweep" $? 0
cmp -s local.csv tcp2.csv && ok || fail "PESTRUN_MPI_TCP=1, the launch's ranks: output differs: $(tail -5 out.tcp2)"

# a worker rank that stops answering (SIGSTOP) is lost after --worker-silence and its run
# goes to another; the outputs are written before the master waits for it to end
head -61 sweep_in.csv >s60.csv
head -61 local.csv >local60.csv
: >"$T/ranks.log"
SLOW=0.05 "${MPIRUN[@]}" -np 3 "$PESTRUN" sweep rosen.pst --in s60.csv --out stop.csv \
  --journal j.stop --worker-silence 1 >out.stop 2>&1 &
job=$!
for _ in $(seq 200); do
  [ "$(grep -c '^1 ' "$T/ranks.log")" -ge 3 ] && break
  sleep 0.05
done
victim=$(rank1_pid "$(pgrep -P $job mpirun)")
[ -n "$victim" ] && kill -STOP "$victim"
expect_eq "the master's listener is gone once the workers are in" \
  "$(find "$T/tmp" -maxdepth 1 -name 'pestrun-sock*' | wc -l)" 0
for _ in $(seq 300); do
  [ -s stop.csv ] && [ "$(wc -l <stop.csv)" -eq 61 ] && break
  sleep 0.1
done
[ -n "$victim" ] && kill -CONT "$victim"
wait $job
expect_eq "sweep with a stopped rank" $? 0
cmp -s local60.csv stop.csv && ok || fail "sweep with a stopped rank differs: $(tail -5 out.stop)"
expect_grep "the silent rank is named" "last worker lost: worker [0-9]+: rank 1 was silent" out.stop

# a rank of the launch that is not pestrun learns where the master listens, but not the token:
# each way it knocks, it is shut out; the run goes on with the other rank and gives up on it
if [ -x "$BIN/tests/mpi_intruder" ]; then
  "${MPIRUN[@]}" -np 2 "$PESTRUN" sweep rosen.pst --in s60.csv --out intr.csv --journal j.intr \
    --worker-silence 0.5 : -np 1 "$BIN/tests/mpi_intruder" >out.intr 2>&1
  expect_eq "sweep with an intruder rank" $? 0
  cmp -s local60.csv intr.csv && ok || fail "sweep with an intruder rank differs: $(tail -5 out.intr)"
  for what in "wrong token" "no message" "no handshake"; do
    expect_grep "intruder, $what" "^$what: shut out" out.intr
  done
else
  fail "no $BIN/tests/mpi_intruder (built with PMIx)"
fi
done_testing
