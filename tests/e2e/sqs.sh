#!/bin/bash
# The SQS/S3 transport end to end, against the SQS/S3 emulator behind the SigV4-checking proxy
# (tests/aws/emulators.sh): a master and 3 agents run a sweep and a GLM calibration with
# results identical to the local transport; an agent killed with SIGKILL mid-run (its run
# comes back after the visibility timeout); an agent stopped with SIGTERM (its run is taken
# by another at once); a duplicated delivery counted once; a message that kills its agent
# every time ends in the dead-letter queue and the master reports it; the master killed
# mid-sweep and resumed repeats no completed run; wrong credentials are named.
. "$(dirname "$0")/lib.bash"
start_emulators
use_fast_python

make_queues() { # NAME VISIBILITY MAXRECEIVE -> sets TQ RQ DLQ
  DLQ=$(sqs CreateQueue "{\"QueueName\":\"$1-dlq\"}" | json 'd["QueueUrl"]')
  local arn
  arn=$(sqs GetQueueAttributes "{\"QueueUrl\":\"$DLQ\",\"AttributeNames\":[\"QueueArn\"]}" | json 'd["Attributes"]["QueueArn"]')
  local policy
  policy=$(python3 -c "import json; print(json.dumps(json.dumps({'deadLetterTargetArn':'$arn','maxReceiveCount':$3})))")
  TQ=$(sqs CreateQueue "{\"QueueName\":\"$1-tasks\",\"Attributes\":{\"VisibilityTimeout\":\"$2\",\"RedrivePolicy\":$policy}}" | json 'd["QueueUrl"]')
  RQ=$(sqs CreateQueue "{\"QueueName\":\"$1-results\"}" | json 'd["QueueUrl"]')
  [ -n "$TQ" ] && [ -n "$RQ" ] && [ -n "$DLQ" ]
}
make_bucket runs && ok || fail "create bucket"

AGENTS=()
declare -A PID
start_agent() { # NAME TASKQUEUE [extra options]
  local name=$1 q=$2
  shift 2
  mkdir -p "$T/agents"
  "$PESTRUN" agent --queue-url "$q" --bucket runs --slots 1 --no-pin --workdir "$T/agents/$name" \
    "$@" >"$T/agents/$name.log" 2>&1 &
  AGENTS+=($!)
  PID[$name]=$!
}
stop_agents() { # every agent still running stops cleanly on SIGTERM (exit 0)
  local p alive=()
  for p in "${AGENTS[@]}"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive+=("$p"); done
  for p in "${alive[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${alive[@]}"; do wait "$p"; expect_eq "agent $p exit after SIGTERM" $? 0; done
  AGENTS=()
}

# --- a sweep and a calibration with 3 agents, identical to the local transport ------------------
make_rosen_case "$T/r"
cd "$T/r" || exit 1
python3 - <<'PY'
import random
random.seed(9)
with open("sweep_in.csv", "w") as f:
    f.write("run_id,x1,x2\n")
    for i in range(120):
        f.write("%d,%.6f,%.6f\n" % (i, random.uniform(-2, 2), random.uniform(-2, 2)))
PY
make_queues main 20 3 || fail "create queues"
"$PESTRUN" sweep rosen.pst --in sweep_in.csv --out local.csv -j 2 -q --journal local.sj || fail "local sweep"
for a in a1 a2 a3; do start_agent $a "$TQ"; done
timeout 300 "$PESTRUN" sweep rosen.pst --in sweep_in.csv --out sqs.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal sqs.sj >sweep.log 2>&1
expect_eq "sqs sweep exit" $? 0
cmp -s local.csv sqs.csv && ok || fail "sqs sweep differs from local: $(diff local.csv sqs.csv | head -5)"
expect_grep "3 agents seen" "3 agents? with 3 slots" sweep.log
# the bundle went once to each agent
n=$(grep -c "bundle .* downloaded" "$T"/agents/a?.log | awk -F: '{s+=$2} END {print s}')
expect_eq "bundle downloads (one per agent)" "$n" 3

mkdir -p "$T/glm_local" "$T/glm_sqs"
cp rosen rosen.pst par.dat.tpl out.dat.ins "$T/glm_local/"
cp rosen rosen.pst par.dat.tpl out.dat.ins "$T/glm_sqs/"
(cd "$T/glm_local" && "$PESTRUN" glm rosen.pst -j 2 -q) || fail "local glm"
(cd "$T/glm_sqs" && timeout 300 "$PESTRUN" glm rosen.pst --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs >glm.log 2>&1) || fail "sqs glm: $(tail -3 "$T/glm_sqs/glm.log")"
for ext in par rei iobj jcb; do
  cmp -s "$T/glm_local/rosen.$ext" "$T/glm_sqs/rosen.$ext" && ok || fail "glm .$ext differs between local and sqs"
done

# Results bigger than an SQS message (30,000 observations: 240 KB of doubles) travel through S3
mkdir -p "$T/big"
(
  cd "$T/big" || exit 1
  printf 'ptf ~\n~     x      ~\n' >in.tpl
  { echo "pif ~"; for i in $(seq 30000); do echo "l1 !o$i!"; done; } >out.ins
  {
    printf 'pcf\n* control data\nrestart estimation\n1 30000 1 0 1\n1 1 single point 1\n'
    printf '10.0 -2.0 0.3 0.01 10\n10.0 10.0 0.001\n0.1\n0 0.005 4 4 0.005 4\n0 0 0\n'
    printf '* parameter groups\ng relative 0.01 0.0001 switch 2.0 parabolic\n'
    printf '* parameter data\nx none relative 1.0 -1e10 1e10 g 1.0 0.0 1\n'
    printf '* observation groups\nobs\n* observation data\n'
    for i in $(seq 30000); do echo "o$i 0.0 1.0 obs"; done
    printf '* model command line\n./model.sh\n* model input/output\nin.tpl in.dat\nout.ins out.dat\n'
  } >big.pst
  printf '#!/bin/sh\nawk -v x="$(cat in.dat)" '"'"'BEGIN { for (i = 1; i <= 30000; i++) printf "%%.10e\\n", x * i }'"'"' >out.dat\n' >model.sh
  chmod +x model.sh
  printf 'run_id,x\n0,1.5\n1,-2.25\n2,3.125\n' >in.csv
)
(cd "$T/big" && "$PESTRUN" sweep big.pst --in in.csv --out local.csv -j 2 -q --journal l.sj) || fail "local sweep of the big case"
(cd "$T/big" && timeout 300 "$PESTRUN" sweep big.pst --in in.csv --out sqs.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal s.sj -q) || fail "sqs sweep of the big case"
cmp -s "$T/big/local.csv" "$T/big/sqs.csv" && ok || fail "big results through S3 differ from local"
expect_eq "big sweep rows" "$(wc -l <"$T/big/sqs.csv")" 4
stop_agents
grep -q "runs done" "$T/agents/a1.log" && ok || fail "agent summary missing: $(tail -2 "$T/agents/a1.log")"

# --- a slow model that logs where and when each run starts ---------------------------------------
cat >model.sh <<EOF
#!/bin/sh
echo "\$(date +%s.%N) \$PWD \$(cat par.dat | tr -s ' ' | tr '\n' ' ')" >> $T/starts.log
sleep \${SLEEP:-0}
exec ./rosen
EOF
chmod +x model.sh
sed -i 's#^\./rosen$#./model.sh#' rosen.pst

# SIGKILL: the run comes back after the visibility timeout (5 s) and completes elsewhere (no
# overdue copy here: the scheduler would start one sooner on an idle agent slot's prefetch)
make_queues kill9 5 5 || fail "create queues"
cp rosen.pst rosen.pst.keep
echo '++overdue_resched_fac(1000)' >>rosen.pst
head -5 sweep_in.csv >k_in.csv
: >"$T/starts.log"
export SLEEP=2
start_agent k1 "$TQ"
start_agent k2 "$TQ"
timeout 300 "$PESTRUN" sweep rosen.pst --in k_in.csv --out k.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal k.sj >k.log 2>&1 &
master=$!
for _ in $(seq 100); do [ "$(wc -l <"$T/starts.log")" -ge 1 ] && break; sleep 0.1; done
victim=$(head -1 "$T/starts.log" | awk '{print $2}')
case $victim in */k1/*) killed=${PID[k1]} ;; *) killed=${PID[k2]} ;; esac
kill -9 "$killed"
wait "$killed" 2>/dev/null
AGENTS=("${AGENTS[@]/$killed/}")
wait $master
expect_eq "sweep after kill -9 of an agent" $? 0
expect_eq "rows after kill -9" "$(grep -c '^[0-9]' k.csv)" 4
python3 - "$T/starts.log" <<'PY' && ok || fail "the killed agent's run was not run again after the visibility timeout"
import sys
rows = [l.split() for l in open(sys.argv[1])]
first = rows[0]
again = [r for r in rows[1:] if r[2:] == first[2:]]
assert again and float(again[0][0]) - float(first[0]) >= 4.5, (first, again)
PY
mv rosen.pst.keep rosen.pst
stop_agents

# SIGTERM: the run goes back at once and an idle agent starts it within a second
make_queues term 30 5 || fail "create queues"
head -3 sweep_in.csv >t_in.csv
: >"$T/starts.log"
export SLEEP=4
for a in t1 t2 t3; do start_agent $a "$TQ" --drain-seconds 0; done
timeout 300 "$PESTRUN" sweep rosen.pst --in t_in.csv --out t.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal t.sj >t.log 2>&1 &
master=$!
for _ in $(seq 100); do [ "$(wc -l <"$T/starts.log")" -ge 2 ] && break; sleep 0.1; done
victim=$(head -1 "$T/starts.log" | awk '{print $2}')
for a in t1 t2 t3; do case $victim in */$a/*) kill -TERM "${PID[$a]}" ;; esac; done
term_at=$(date +%s.%N)
wait $master
expect_eq "sweep after SIGTERM of an agent" $? 0
python3 - "$T/starts.log" "$term_at" <<'PY' && ok || fail "the stopped agent's run was not taken over within a second"
import sys
rows = [l.split() for l in open(sys.argv[1])]
first, t = rows[0], float(sys.argv[2])
again = [r for r in rows[1:] if r[2:] == first[2:] and r[1] != first[1]]
assert again, rows
print("taken over %.3f s after SIGTERM" % (float(again[0][0]) - t))
assert float(again[0][0]) - t < 1.0
PY
stop_agents

# A duplicated delivery: the same run message twice on the queue, one result counted
make_queues dup 20 5 || fail "create queues"
head -7 sweep_in.csv >d_in.csv
export SLEEP=0
timeout 300 "$PESTRUN" sweep rosen.pst --in d_in.csv --out d.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal d.sj --max-inflight 3 >d.log 2>&1 &
master=$!
body=
for _ in $(seq 50); do
  msg=$(sqs ReceiveMessage "{\"QueueUrl\":\"$TQ\",\"MaxNumberOfMessages\":1,\"WaitTimeSeconds\":1}")
  body=$(echo "$msg" | json 'd.get("Messages",[{}])[0].get("Body","")')
  [ -n "$body" ] && break
done
receipt=$(echo "$msg" | json 'd["Messages"][0]["ReceiptHandle"]')
for _ in 1 2; do
  sqs SendMessage "$(python3 -c 'import json,sys; print(json.dumps({"QueueUrl":sys.argv[1],"MessageBody":sys.argv[2]}))' "$TQ" "$body")" >/dev/null || fail "send duplicate"
done
sqs DeleteMessage "{\"QueueUrl\":\"$TQ\",\"ReceiptHandle\":\"$receipt\"}" >/dev/null || fail "delete original"
start_agent d1 "$TQ"
start_agent d2 "$TQ"
wait $master
expect_eq "sweep with a duplicated message" $? 0
cmp -s d.csv <(head -7 local.csv) && ok || fail "duplicated delivery changed the results"
expect_grep "duplicate dropped" "1 duplicate or stale results? dropped" d.log
stop_agents

# A poison message: the model kills its worker whenever x1 > 100; SQS moves the message to the
# dead-letter queue after 2 deliveries and the master reports the run failed
make_queues poison 5 2 || fail "create queues"
cat >model.sh <<'EOF'
#!/bin/sh
awk '{ if ($1 > 100) exit 1 }' par.dat || kill -9 $PPID
exec ./rosen
EOF
printf 'run_id,x1,x2\n0,0.5,0.5\n1,150,1\n2,1.5,-0.5\n' >p_in.csv
start_agent p1 "$TQ"
start_agent p2 "$TQ"
timeout 300 "$PESTRUN" sweep rosen.pst --in p_in.csv --out p.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal p.sj >p.log 2>&1
expect_eq "sweep with a poison run ends" $? 0
expect_grep "dead-letter reason" "dead-letter queue" p.log
expect_eq "failed flag of the poison row" "$(awk -F, '$2 == "1" {print $3}' p.csv)" 1
expect_eq "good rows done" "$(awk -F, '$3 == "0"' p.csv | wc -l)" 2
stop_agents

# The master killed mid-sweep, then --resume: no completed run is run again
make_queues resume 20 5 || fail "create queues"
head -31 sweep_in.csv >m_in.csv
cat >model.sh <<EOF
#!/bin/sh
echo "\$(cat par.dat | tr -s ' ' | tr '\n' ' ')" >> $T/runs.log
sleep 0.2
exec ./rosen
EOF
: >"$T/runs.log"
start_agent m1 "$TQ"
start_agent m2 "$TQ"
"$PESTRUN" sweep rosen.pst --in m_in.csv --out m.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal m.sj >m1.log 2>&1 &
master=$!
for _ in $(seq 300); do [ "$(wc -l <"$T/runs.log")" -ge 12 ] && break; sleep 0.05; done
kill -9 $master
wait $master 2>/dev/null
timeout 300 "$PESTRUN" sweep rosen.pst --in m_in.csv --out m.csv --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal m.sj --resume >m2.log 2>&1
expect_eq "resumed sweep" $? 0
cmp -s m.csv <(head -31 local.csv) && ok || fail "resumed sweep differs from local"
resumed=$(grep -Eo 'resuming: [0-9]+' m2.log | grep -Eo '[0-9]+')
[ "${resumed:-0}" -ge 8 ] && ok || fail "too few runs kept by the journal: '${resumed:-}'"
# every run ran once, but for those out when the master died (2 agents x 1 slot, 4 runs out a
# slot: running, held as the slot's next, two in the queue: at most 8)
python3 - "$T/runs.log" <<'PY' && ok || fail "completed runs were repeated after --resume"
import sys, collections
c = collections.Counter(l.strip() for l in open(sys.argv[1]))
repeats = sum(v - 1 for v in c.values())
assert len(c) == 30 and repeats <= 8, (len(c), repeats)
PY
stop_agents

# Wrong credentials: a clear error naming where the credentials came from
AWS_SECRET_ACCESS_KEY=Zq8wrongSecretKey "$PESTRUN" sweep rosen.pst --in m_in.csv --out w.csv --transport sqs \
  --queue-url "$TQ" --result-queue-url "$RQ" --bucket runs --journal w.sj -q >w.log 2>&1
expect_eq "wrong credentials exit" $? 1
expect_grep "signature error" "SignatureDoesNotMatch" w.log
expect_grep "credential source named" "environment" w.log
if grep -q Zq8wrongSecretKey w.log; then fail "the secret appears in the error"; else ok; fi
# no sanitizer report from any agent (the test runs in the ASan build too)
if grep -lE 'AddressSanitizer|LeakSanitizer|runtime error' "$T"/agents/*.log; then fail "sanitizer reports in agent logs"; else ok; fi
done_testing
