#!/bin/bash
# The SQS/S3 transport against local, measured in the same run, through the SQS/S3 emulator
# behind the SigV4-checking proxy (tests/aws/emulators.sh) on loopback: a sweep with 4 agent
# slots (2 agents x 2 slots) and the same sweep with -j 4 on the local transport; SQS requests
# per model run (counted by the proxy, batching included; target <= 3 in steady state); bundle
# downloads per agent (target: 1).
#   SQS_BENCH_DELAY_MS  latency the proxy adds to every SQS and S3 request (default 0; AWS is
#                       10-30 ms from an agent)
#   SQS_BENCH_MODEL_MS  CPU time of each model run in ms (default 0: a trivial model)
# Usage: [SQS_BENCH_DELAY_MS=20] [SQS_BENCH_MODEL_MS=200] bench/sqs_throughput.sh [ROWS]
. "$(dirname "$0")/common.bash"
rows=${1:-1000}
delay_ms=${SQS_BENCH_DELAY_MS:-0}
model_ms=${SQS_BENCH_MODEL_MS:-0}
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
make_case "$W/c" "./model 2 $model_ms" 2

# the model burns MS of CPU time first when given a second argument
cat >"$W/c/model.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2;
    double ms = argc > 2 ? atof(argv[2]) : 0, x;
    struct timespec t0, t;
    volatile double s = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    while (ms > 0) {
        for (int i = 0; i < 10000; i++)
            s += i * 1e-9;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        if ((t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6 >= ms) break;
    }
    FILE *f = fopen("in.dat", "r");
    if (!f || fscanf(f, "%lf", &x) != 1) return 1;
    fclose(f);
    f = fopen("out.dat", "w");
    if (!f) return 1;
    for (int i = 1; i <= n; i++)
        fprintf(f, "%.10e\n", x * i);
    return fclose(f) != 0;
}
C
cc -O2 -o "$W/c/model" "$W/c/model.c"
cd "$W/c" || exit 1
sweep_input in.csv "$rows"
t0=$(now); "$PESTRUN" sweep case.pst --in in.csv --out local.csv -j 4 --no-pin -q --journal j.l; t1=$(now)
for a in 1 2; do
  "$PESTRUN" agent --queue-url "$tq" --bucket bench --slots 2 --no-pin --workdir "$W/a$a" >"$W/a$a.log" 2>&1 &
done
# the agents register, then the counters start from zero
for _ in $(seq 100); do [ "$(grep -c slot "$W"/a?.log 2>/dev/null | awk -F: '{s+=$2} END {print s}')" -ge 2 ] && break; sleep 0.05; done
curl -sf -X POST -d "{\"delay_ms\":$delay_ms}" "$AWS_ENDPOINT_URL/__delay" >/dev/null
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
delay, model = sys.argv[5], sys.argv[6]
sqs = s.get("sqs", {})
n = sum(sqs.values())
what = "trivial model" if float(model) == 0 else "%s ms CPU model" % model
print("%s, %s ms per request, %d rows, 4 slots: local -j 4 %.2fs (%.0f runs/s); SQS 2 agents x 2 slots %.2fs (%.0f runs/s); SQS/local throughput %.3f" % (what, delay, rows, t_local, rows / t_local, t_sqs, rows / t_sqs, t_local / t_sqs))
print("SQS requests per model run: %.2f (target <= 3): %s" % (n / rows, ", ".join("%s %.2f" % (k, v / rows) for k, v in sorted(sqs.items()))))
print("S3 requests: %s; bundle downloads: %d for 2 agents (target 2)" % (json.dumps(s.get("s3", {})), downloads))
' "$rows" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$(awk -v a="$t2" -v b="$t3" 'BEGIN{print b-a}')" "$downloads" "$delay_ms" "$model_ms"
