#!/bin/bash
# The SQS and S3 calls (test_aws_api) against the fauxqs emulator behind the SigV4-verifying
# proxy of tests/aws/emulators.sh: every request must carry a signature AWS would accept.
. "$(dirname "$0")/lib.bash"
EMU="$SRC/tests/aws/emulators.sh"
[ -f "$EMU" ] || skip "no tests/aws/emulators.sh"
command -v node >/dev/null || skip "no node"
command -v npm >/dev/null || skip "no npm"
API="$BIN/test_aws_api"
[ -x "$API" ] || skip "$API is not built"
export EMU_STATE="$T/emu"
trap 'bash "$EMU" stop >/dev/null 2>&1; rm -rf "$T"' EXIT
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_S3 AWS_PROFILE AWS_SESSION_TOKEN
env_lines=$(bash "$EMU" start) || { fail "tests/aws/emulators.sh start failed"; done_testing; }
eval "$env_lines"
[ -n "${AWS_ENDPOINT_URL:-}" ] || { fail "emulators.sh printed no AWS_ENDPOINT_URL"; done_testing; }
# credentials from the environment only
export HOME="$T/home" && mkdir -p "$HOME"
timeout 300 "$API" >"$T/api.out" 2>&1
rc=$?
cat "$T/api.out"
expect_eq "test_aws_api exit status" "$rc" 0
expect_grep "test_aws_api ran its checks" "^[0-9]+ passed, 0 failed" "$T/api.out"

# Again with faults the proxy injects (throttling, 5xx, a connection dropped without an
# answer): every call still succeeds, after retries, and nothing is lost or duplicated.
if ! command -v curl >/dev/null; then
  echo "no curl to inject faults: the retries are not tested here"
  done_testing
fi
faults='[{"status":503,"count":2,"match":"sqs:GetQueueAttributes"},
  {"status":400,"code":"ThrottlingException","match":"sqs:DeleteMessageBatch"},
  {"status":500,"code":"InternalError","match":"s3:PUT"},
  {"status":503,"code":"SlowDown","skip":1,"match":"s3:PUT"},
  {"drop":1,"match":"s3:GET"}]'
curl -sf -X POST -H 'Content-Type: application/json' --data "$faults" \
  "$AWS_ENDPOINT_URL/__faults" >/dev/null || fail "the proxy took no fault rules"
timeout 300 "$API" >"$T/faults.out" 2>&1
rc=$?
cat "$T/faults.out"
expect_eq "test_aws_api exit status under faults" "$rc" 0
expect_grep "test_aws_api ran its checks under faults" "^[0-9]+ passed, 0 failed" "$T/faults.out"
retries=$(sed -n 's/^[0-9]* requests, \([0-9]*\) retries$/\1/p' "$T/faults.out")
# one retry per fault, but for the dropped connection: libcurl itself sends a request again
# on a new connection when a reused one closes without a byte of answer
if [ "${retries:-0}" -ge 5 ]; then ok; else fail "only ${retries:-no} retries under 6 injected faults"; fi
expect_eq "fault rules left" "$(curl -sf "$AWS_ENDPOINT_URL/__faults")" "[]"
done_testing
