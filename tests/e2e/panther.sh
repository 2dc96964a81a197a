#!/bin/bash
# pestrun panther against a PANTHER master written from SPEC §5 (tests/panther/master.py, no
# code shared with pestrun): exact handshake bytes, name tables in hash order, pings during
# runs, a failing model run reported as RUN_FAILED, a pestrun worker killed mid-run costing no
# PEST++ run, an overdue duplicate whose slow copy is killed on REQ_KILL, a master restart in the
# middle of a batch, TERMINATE; a names mismatch refused; a remote master refused; then under
# MPI when mpirun is there.
. "$(dirname "$0")/lib.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "no python3"
MASTER="$SRC/tests/panther/master.py"

make_rosen_case "$T/r"
cd "$T/r" || exit 1
mkdir -p "$T/scratch"
export SCRATCH="$T/scratch"
# x1 < -4.5: the model fails; the first x1 > 4 hangs (the overdue run); the first x1 in
# (3.2, 3.3) kills its pestrun worker (a lost worker, not a failed run)
cat >model.sh <<'EOF2'
#!/bin/sh
x1=$(awk '{print $1; exit}' par.dat)
between() { awk -v x="$x1" -v a="$1" -v b="$2" 'BEGIN { exit !(x > a && x < b) }'; }
between -1e9 -4.5 && exit 1
if between 4 1e9 && mkdir "$SCRATCH/slowlock" 2>/dev/null; then
  echo $$ >"$SCRATCH/slow.pid.tmp" && mv "$SCRATCH/slow.pid.tmp" "$SCRATCH/slow.pid"
  sleep 60
  touch "$SCRATCH/slow.finished"
fi
if between 3.2 3.3 && mkdir "$SCRATCH/lostlock" 2>/dev/null; then
  p=$PPID
  while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != pestrun ]; do p=$(awk '{print $4}' /proc/$p/stat); done
  [ "$p" -gt 1 ] && kill -9 "$p"
  sleep 5
fi
exec ./rosen
EOF2
chmod +x model.sh
sed -i 's#^\./rosen$#./model.sh#' rosen.pst

# start_master SCENARIO ARGS...: the master in the background ($mpid), its port in $port
start_master() {
  rm -f "$T/port"
  "$PY" "$MASTER" --scenario "$@" --port-file "$T/port" --scratch "$SCRATCH" >"$T/master.$1.log" 2>&1 &
  mpid=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  port=$(cat "$T/port" 2>/dev/null)
  [ -n "$port" ] || fail "the $1 master did not start: $(cat "$T/master.$1.log")"
}

# 1. the full scenario with -j 2
start_master full --agents 2 --rundir "$T/r"
timeout 300 "$PESTRUN" panther rosen.pst --master "127.0.0.1:$port" -j 2 >bridge.out 2>bridge.err
expect_eq "bridge exit status after TERMINATE" $? 0
wait $mpid
rc=$?
expect_eq "master's checks (full scenario)" $rc 0
[ $rc = 0 ] || { tail -30 "$T/master.full.log"; tail -20 bridge.err; }
[ -e "$SCRATCH/slow.finished" ] && fail "the killed copy's model ran on"
expect_grep "bridge logs the restart" "lost .*reconnecting" bridge.err
expect_grep "bridge logs TERMINATE" "TERMINATE" bridge.err
expect_eq "no journal left beside the case" "$(ls *.journal 2>/dev/null | wc -l)" 0

# 2. names that differ from the case: refused, naming them
start_master mismatch --agents 1
timeout 60 "$PESTRUN" panther rosen.pst --master "localhost:$port" -j 1 -q >mm.out 2>mm.err
expect_eq "names mismatch: exit status" $? 1
expect_grep "names mismatch: names the master's extra name" "only the master has X3" mm.err
expect_grep "names mismatch: names the case's extra name" "only this case has X2" mm.err
wait $mpid
expect_eq "master's checks (mismatch)" $? 0

# 3. a master that is not this machine needs --allow-remote
timeout 20 "$PESTRUN" panther rosen.pst --master 192.0.2.1:4004 -j 1 >rm.out 2>rm.err
expect_eq "remote master refused" $? 2
expect_grep "remote master: the advice" "SSH tunnel" rm.err
timeout 20 "$PESTRUN" panther rosen.pst -j 1 >nm.out 2>nm.err
expect_eq "--master is required" $? 2

# 4. under MPI: 3 ranks = 2 worker ranks = 2 PANTHER connections
if command -v mpirun >/dev/null; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # see mpi.sh
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  unset OMPI_COMM_WORLD_SIZE PMI_SIZE PMIX_RANK
  MPIRUN=(timeout 120 mpirun --oversubscribe --bind-to none)
  if "${MPIRUN[@]}" -np 2 true 2>/dev/null; then
    start_master basic --agents 2
    "${MPIRUN[@]}" -np 3 "$PESTRUN" panther rosen.pst --master "127.0.0.1:$port" >mpi.out 2>mpi.err
    expect_eq "bridge under mpirun -np 3" $? 0
    wait $mpid
    rc=$?
    expect_eq "master's checks (MPI)" $rc 0
    [ $rc = 0 ] || { tail -20 "$T/master.basic.log"; tail -20 mpi.err; }
  else
    echo "mpirun cannot start ranks here: MPI part skipped"
  fi
fi

# 5. on the SQS transport: 2 pestrun agents (1 slot each) behind the SQS/S3 emulator
if command -v node >/dev/null && command -v npm >/dev/null && [ -x "$SRC/tests/aws/emulators.sh" ]; then
  export EMU_STATE=$T/emu
  if exports=$("$SRC/tests/aws/emulators.sh" start 2>"$T/emu.log"); then
    trap 'kill $(jobs -p) 2>/dev/null; "$SRC/tests/aws/emulators.sh" stop >/dev/null 2>&1; rm -rf "$T"' EXIT
    eval "$exports"
    sqs() {
      curl -sf --aws-sigv4 "aws:amz:${AWS_REGION}:sqs" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "X-Amz-Target: AmazonSQS.$1" -H 'Content-Type: application/x-amz-json-1.0' -d "$2" "$AWS_ENDPOINT_URL"
    }
    qurl() { sed -E 's/.*"QueueUrl":"([^"]*)".*/\1/'; }
    tq=$(sqs CreateQueue '{"QueueName":"pth-tasks"}' | qurl)
    rq=$(sqs CreateQueue '{"QueueName":"pth-results"}' | qurl)
    curl -sf -X PUT --aws-sigv4 "aws:amz:${AWS_REGION}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$AWS_ENDPOINT_URL/pth" >/dev/null || fail "create bucket"
    agents=()
    for a in 1 2; do
      "$PESTRUN" agent --queue-url "$tq" --bucket pth --slots 1 --no-pin --workdir "$T/agent$a" >"$T/agent$a.log" 2>&1 &
      agents+=($!)
    done
    start_master basic --agents 2
    timeout 300 "$PESTRUN" panther rosen.pst --master "127.0.0.1:$port" --transport sqs --queue-url "$tq" \
      --result-queue-url "$rq" --bucket pth >sqs.out 2>sqs.err
    expect_eq "bridge on the SQS transport" $? 0
    wait $mpid
    rc=$?
    expect_eq "master's checks (SQS agents)" $rc 0
    [ $rc = 0 ] || { tail -20 "$T/master.basic.log"; tail -20 sqs.err; }
    kill -TERM "${agents[@]}" 2>/dev/null
    wait "${agents[@]}" 2>/dev/null
    "$SRC/tests/aws/emulators.sh" stop >/dev/null 2>&1
  else
    fail "emulators did not start: $(tail -2 "$T/emu.log")"
  fi
else
  echo "no node/npm: SQS part skipped"
fi
done_testing
