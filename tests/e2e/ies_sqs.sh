#!/bin/bash
# pestrun ies over the SQS/S3 transport (the emulator behind the SigV4-checking proxy,
# tests/aws/emulators.sh) with 2 agents: the gwflow ensemble smoother writes the same files,
# byte for byte, as on local workers.
. "$(dirname "$0")/lib.bash"
G="$BIN/examples/gwflow"
[ -x "$G/gwflow" ] || skip "example not built"
start_emulators
TQ=$(sqs CreateQueue '{"QueueName":"ies-tasks","Attributes":{"VisibilityTimeout":"20"}}' | json 'd["QueueUrl"]')
RQ=$(sqs CreateQueue '{"QueueName":"ies-results"}' | json 'd["QueueUrl"]')
[ -n "$TQ" ] && [ -n "$RQ" ] && ok || fail "create queues"
make_bucket runs && ok || fail "create bucket"
for d in local sqs; do
  cp -r "$G" "$T/$d"
  python3 - "$T/$d/gwflow.pst" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
i = next(k for k, l in enumerate(lines) if l.strip().lower() == "* control data")
f = lines[i + 7].split(); f[0] = "2"; lines[i + 7] = " ".join(f)
lines.append("++ies_num_reals(20)")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
done
(cd "$T/local" && "$PESTRUN" ies gwflow.pst -j 2 -q --journal j) && ok || fail "local ies"
agents=()
mkdir -p "$T/agents"
for a in a1 a2; do
  "$PESTRUN" agent --queue-url "$TQ" --bucket runs --slots 1 --no-pin --workdir "$T/agents/$a" \
    >"$T/$a.log" 2>&1 &
  agents+=($!)
done
(cd "$T/sqs" && timeout 120 "$PESTRUN" ies gwflow.pst --transport sqs --queue-url "$TQ" \
  --result-queue-url "$RQ" --bucket runs --journal j >ies.log 2>&1) && ok ||
  fail "sqs ies: $(tail -3 "$T/sqs/ies.log"); agent: $(tail -3 "$T/a1.log")"
for f in "$T"/local/gwflow.*.csv "$T"/local/gwflow.rec; do
  cmp -s "$f" "$T/sqs/${f##*/}" && ok || fail "${f##*/} differs between the local and SQS transports"
done
for p in "${agents[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${agents[@]}"; do wait "$p"; expect_eq "agent exit after SIGTERM" $? 0; done
done_testing
