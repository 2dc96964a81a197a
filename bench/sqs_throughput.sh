#!/bin/bash
# The SQS/S3 transport against local, measured in the same run, through the SQS/S3 emulator
# behind the SigV4-checking proxy (tests/aws/emulators.sh) on loopback: a sweep of a trivial
# model with 4 agent slots (2 agents x 2 slots) and the same sweep with -j 4 on the local
# transport; SQS requests per model run (counted by the proxy, batching included; target
# <= 3 in steady state); bundle downloads per agent (target: 1).
# Usage: bench/sqs_throughput.sh [ROWS]
. "$(dirname "$0")/common.bash"
rows=${1:-1000}
command -v node >/dev/null || { echo "node is needed for the emulators"; exit 1; }
export EMU_STATE=$W/emu
eval "$("$ROOT/tests/aws/emulators.sh" start 2>"$W/emu.log")"
trap 'jobs -p | xargs -r kill 2>/dev/null || true; "$ROOT/tests/aws/emulators.sh" stop >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
sqs() {
  curl -sf --aws-sigv4 "aws:amz:${AWS_REGION}:sqs" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "X-Amz-Target: AmazonSQS.$1" -H 'Content-Type: application/x-amz-json-1.0' -d "$2" "$AWS_ENDPOINT_URL"
}
qurl() { sed -E 's/.*"QueueUrl":"([^"]*)".*/\1/'; }
tq=$(sqs CreateQueue '{"QueueName":"bench-tasks","Attributes":{"VisibilityTimeout":"30"}}' | qurl)
rq=$(sqs CreateQueue '{"QueueName":"bench-results"}' | qurl)
curl -sf -X PUT --aws-sigv4 "aws:amz:${AWS_REGION}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$AWS_ENDPOINT_URL/bench" >/dev/null
make_case "$W/c" "./model 2" 2
make_model "$W/c"
cd "$W/c" || exit 1
sweep_input in.csv "$rows"
t0=$(now); "$PESTRUN" sweep case.pst --in in.csv --out local.csv -j 4 --no-pin -q --journal j.l; t1=$(now)
for a in 1 2; do
  "$PESTRUN" agent --queue-url "$tq" --bucket bench --slots 2 --no-pin --workdir "$W/a$a" >"$W/a$a.log" 2>&1 &
done
# the agents register, then the counters start from zero
for _ in $(seq 100); do [ "$(grep -c slot "$W"/a?.log 2>/dev/null | awk -F: '{s+=$2} END {print s}')" -ge 2 ] && break; sleep 0.05; done
curl -sf -X DELETE "$AWS_ENDPOINT_URL/__stats" >/dev/null
t2=$(now)
"$PESTRUN" sweep case.pst --in in.csv --out sqs.csv --transport sqs --queue-url "$tq" \
  --result-queue-url "$rq" --bucket bench -q --journal j.s; t3=$(now)
stats=$(curl -sf "$AWS_ENDPOINT_URL/__stats")
jobs -p | xargs -r kill -TERM 2>/dev/null; wait 2>/dev/null || true
cmp -s local.csv sqs.csv || { echo "SQS and local outputs differ"; exit 1; }
downloads=$(grep -c "bundle .* downloaded and extracted" "$W"/a?.log | awk -F: '{s+=$2} END {print s}')
echo "$stats" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
rows, t_local, t_sqs, downloads = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
sqs = s.get("sqs", {})
n = sum(sqs.values())
print("trivial model, %d rows, 4 slots: local -j 4 %.2fs (%.0f runs/s); SQS 2 agents x 2 slots %.2fs (%.0f runs/s); SQS/local throughput %.3f" % (rows, t_local, rows / t_local, t_sqs, rows / t_sqs, t_local / t_sqs))
print("SQS requests per model run: %.2f (target <= 3): %s" % (n / rows, ", ".join("%s %.2f" % (k, v / rows) for k, v in sorted(sqs.items()))))
print("S3 requests: %s; bundle downloads: %d for 2 agents (target 2)" % (json.dumps(s.get("s3", {})), downloads))
' "$rows" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$(awk -v a="$t2" -v b="$t3" 'BEGIN{print b-a}')" "$downloads"
