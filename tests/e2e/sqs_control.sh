#!/bin/bash
# The SQS transport's control path, against the SQS/S3 emulator behind the SigV4-checking proxy:
# an overdue copy the master writes off (another copy won) is killed on the agent running it
# within 5 s, through the agent's control queue, and its slot takes other runs at once; an
# agent killed with SIGKILL while running runs is taken for dead within 30 s (its slots stop
# counting, its runs go to the other agent long before the visibility timeout brings them
# back).
. "$(dirname "$0")/lib.bash"
start_emulators
use_fast_python

make_queues() { # NAME VISIBILITY -> sets TQ RQ
  TQ=$(sqs CreateQueue "{\"QueueName\":\"$1-tasks\",\"Attributes\":{\"VisibilityTimeout\":\"$2\"}}" | json 'd["QueueUrl"]')
  RQ=$(sqs CreateQueue "{\"QueueName\":\"$1-results\"}" | json 'd["QueueUrl"]')
  [ -n "$TQ" ] && [ -n "$RQ" ]
}
make_bucket runs && ok || fail "create bucket"
# seconds since the epoch when file $1 first holds a line matching $2 (waits up to $3 s), or empty
when_line() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -qE -- "$2" "$1" 2>/dev/null && { date +%s.%N; return 0; }
    sleep 0.05
  done
}

declare -A PID
start_agent() { # NAME TASKQUEUE
  mkdir -p "$T/agents"
  "$PESTRUN" agent --queue-url "$2" --bucket runs --slots 1 --no-pin --workdir "$T/agents/$1" \
    >"$T/agents/$1.log" 2>&1 &
  PID[$1]=$!
}
stop_agent() { # NAME: SIGTERM, a clean exit
  kill -0 "${PID[$1]}" 2>/dev/null || return 0
  kill -TERM "${PID[$1]}"
  wait "${PID[$1]}"
  expect_eq "agent $1 exit after SIGTERM" $? 0
}

make_rosen_case "$T/r"
cd "$T/r" || exit 1
python3 - <<'PY'
import random
random.seed(3)
with open("in.csv", "w") as f:
    f.write("run_id,x1,x2\n")
    for i in range(8):
        f.write("%d,%.6f,%.6f\n" % (i, random.uniform(-2, 2), random.uniform(-2, 2)))
PY
"$PESTRUN" sweep rosen.pst --in in.csv --out local.csv -j 2 -q --journal local.sj || fail "local sweep"

# --- a cancelled copy is killed on its agent ---------------------------------------------------
# Every run takes 1 s, but the first copy of row 5 hangs (600 s); the scheduler starts a second
# copy when it is overdue (1.15 x the mean), that copy wins on the other agent and the master
# cancels the hung one.
x1=$(awk -F, 'NR == 7 {print $2}' in.csv)
cat >model.sh <<EOF
#!/bin/sh
echo "\$(date +%s.%N) \$PWD \$(cat par.dat | tr -s ' ' | tr '\n' ' ')" >> $T/starts.log
if grep -q -- "$x1" par.dat && mkdir $T/hung 2>/dev/null; then
  echo \$\$ > $T/hung/pid
  sleep 600
fi
sleep 1
exec ./rosen
EOF
chmod +x model.sh
sed -i 's#^\./rosen$#./model.sh#' rosen.pst
make_queues cancel 60 || fail "create queues"
: >"$T/starts.log"
start_agent c1 "$TQ"
start_agent c2 "$TQ"
timeout 300 "$PESTRUN" sweep rosen.pst --in in.csv --out c.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal c.sj >c.log 2>&1
expect_eq "sweep with a hung copy" $? 0
ended=$(date +%s.%N)
cmp -s local.csv c.csv && ok || fail "the sweep with a cancelled copy differs from local: $(diff local.csv c.csv | head -3)"
expect_grep "the scheduler cancelled the hung copy" "[1-9][0-9]* cop(y|ies) cancelled" c.log
hung=$(cat "$T/hung/pid" 2>/dev/null)
[ -n "$hung" ] && ok || fail "the hung copy never started"
killed=$(when_line "$T/agents/c1.log" "cancelled by the master: killed" 10)
[ -n "$killed" ] || killed=$(when_line "$T/agents/c2.log" "cancelled by the master: killed" 1)
[ -n "$killed" ] && ok || fail "no agent killed the cancelled copy: $(tail -3 "$T"/agents/c?.log)"
python3 -c "import sys; d = float(sys.argv[2]) - float(sys.argv[1]); print('killed %.2f s after the sweep ended' % d); sys.exit(d > 5)" \
  "$ended" "${killed:-1e10}" && ok || fail "the cancelled copy was not killed within 5 s"
if [ -n "$hung" ] && kill -0 "$hung" 2>/dev/null; then fail "the hung model (pid $hung) still runs"; else ok; fi
# its slot is free: a second sweep gets runs on both agents (8 runs of 1 s on 2 slots: 4 s; on
# the one slot left if the hung copy still ran: 8 s)
: >"$T/starts.log"
rmdir "$T/hung" 2>/dev/null
mkdir -p "$T/hung" # no copy hangs any more
t0=$(date +%s.%N)
timeout 300 "$PESTRUN" sweep rosen.pst --in in.csv --out c2.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal c2.sj -q || fail "second sweep"
t1=$(date +%s.%N)
cmp -s local.csv c2.csv && ok || fail "the second sweep differs from local"
expect_eq "agents running the second sweep" "$(awk '{print $2}' "$T/starts.log" | grep -Eo 'agents/c[12]' | sort -u | wc -l)" 2
python3 -c "import sys; d = float(sys.argv[2]) - float(sys.argv[1]); print('second sweep %.1f s' % d); sys.exit(d > 7.5)" "$t0" "$t1" &&
  ok || fail "the second sweep was slow: a slot was still taken"
stop_agent c1
stop_agent c2
expect_grep "agent summary counts the cancel" "[1-9][0-9]* cancelled by the master" <(cat "$T"/agents/c?.log)

# --- a killed agent's slots stop counting within 30 s ------------------------------------------
# The visibility timeout is 300 s: the runs of the killed agent can come back sooner only because
# the master takes it for dead (or starts overdue copies of them). 50 runs of 1 s: the sweep
# lasts long enough after the kill for the agent's silence to count.
python3 - <<'PY'
import random
random.seed(4)
with open("k_in.csv", "w") as f:
    f.write("run_id,x1,x2\n")
    for i in range(50):
        f.write("%d,%.6f,%.6f\n" % (i, random.uniform(-2, 2), random.uniform(-2, 2)))
PY
sed -i 's#^\./model\.sh$#./rosen#' rosen.pst
"$PESTRUN" sweep rosen.pst --in k_in.csv --out k_local.csv -j 2 -q --journal kl.sj || fail "local sweep"
sed -i 's#^\./rosen$#./model.sh#' rosen.pst
make_queues dead 300 || fail "create queues"
: >"$T/starts.log"
start_agent d1 "$TQ"
start_agent d2 "$TQ"
timeout 280 "$PESTRUN" sweep rosen.pst --in k_in.csv --out k.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal k.sj >k.log 2>&1 &
master=$!
for _ in $(seq 300); do [ "$(grep -c 'agents/d1' "$T/starts.log")" -ge 4 ] && break; sleep 0.05; done
kill -9 "${PID[d1]}"
killed_at=$(date +%s.%N)
wait "${PID[d1]}" 2>/dev/null
dead_at=$(when_line k.log "silent for .* taken for dead, its 1 slot no longer count" 60)
[ -n "$dead_at" ] && ok || fail "the master did not take the killed agent for dead: $(tail -3 k.log)"
python3 -c "import sys; d = float(sys.argv[2]) - float(sys.argv[1]); print('taken for dead %.1f s after kill -9' % d); sys.exit(d > 30)" \
  "$killed_at" "${dead_at:-1e10}" && ok || fail "the killed agent's slots counted for more than 30 s"
wait $master
expect_eq "sweep after kill -9 of an agent" $? 0
finished=$(date +%s.%N)
cmp -s k_local.csv k.csv && ok || fail "the sweep after a dead agent differs from local"
expect_grep "one agent left in the count" "1 agent with 1 slot on the task queue" k.log
python3 -c "import sys; sys.exit(float(sys.argv[2]) - float(sys.argv[1]) > 120)" "$killed_at" "$finished" &&
  ok || fail "the sweep waited for the visibility timeout"
stop_agent d2
if grep -lE 'AddressSanitizer|LeakSanitizer|runtime error' "$T"/agents/*.log; then fail "sanitizer reports in agent logs"; else ok; fi
done_testing
