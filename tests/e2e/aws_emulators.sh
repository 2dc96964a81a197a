#!/bin/bash
# The SQS/S3 emulators behind the SigV4-verifying proxy (tests/aws/emulators.sh): what the official
# SDK and curl sign passes, a wrong secret, a wrong key, a tampered body or no signature is rejected as
# AWS rejects it, fault injection and request counts work, everything listens on 127.0.0.1 only, and
# stop leaves nothing running.
# shellcheck disable=SC2015 # "check && ok || fail": ok never fails
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.bash"
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
EMU="$SRC/tests/aws/emulators.sh"
export EMU_STATE="$T/emu"
trap '"$EMU" stop >/dev/null 2>&1; EMU_STATE="$T/emu2" "$EMU" stop >/dev/null 2>&1; rm -rf "$T"' EXIT
cd "$T" || exit 1

t0=$(date +%s%N)
if ! exports=$("$EMU" start 2>"$T/start.log"); then
  fail "emulators.sh start: $(cat "$T/start.log")"
  done_testing
fi
echo "start took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "start prints only export lines" "$(grep -vc '^export [A-Z0-9_]*=' <<<"$exports")" 0
eval "$exports"
expect_eq "region" "$AWS_REGION" us-east-1
expect_eq "no metadata service" "$AWS_EC2_METADATA_DISABLED" true
[[ "$AWS_ENDPOINT_URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] && ok || fail "endpoint $AWS_ENDPOINT_URL"
"$EMU" status >/dev/null 2>&1; expect_eq "status while running" $? 0
t0=$(date +%s%N)
exports2=$("$EMU" start 2>/dev/null)
expect_eq "a second start reuses the running instance" "$exports2" "$exports"
echo "warm start (already running) took $((($(date +%s%N) - t0) / 1000000)) ms"
PROXY_PORT=${AWS_ENDPOINT_URL##*:}
EMU_PORT=$(cat "$EMU_STATE/emulator.port")
PROXY_PID=$(cat "$EMU_STATE/proxy.pid")
EMU_PID=$(cat "$EMU_STATE/emulator.pid")

# both listen on 127.0.0.1 only
if command -v ss >/dev/null 2>&1; then
  for p in "$PROXY_PORT" "$EMU_PORT"; do
    ss -ltnH "( sport = :$p )" >"$T/ss.$p"
    expect_eq "one listening socket on port $p" "$(wc -l <"$T/ss.$p")" 1
    expect_eq "port $p on loopback only" "$(awk '{print $4}' "$T/ss.$p")" "127.0.0.1:$p"
  done
fi

# the official SDK: everything right passes, everything wrong is rejected
(cd "$SRC/tests/aws" && node sdk_check.js) >"$T/sdk.out" 2>&1; expect_eq "sdk_check.js" $? 0
expect_grep "sdk_check summary" "^sdk_check: all [0-9]+ checks ok" "$T/sdk.out"
cat "$T/sdk.out"

# the proxy's check against the AWS SigV4 test suite, when shared/ is there
if [ -d "$SHARED/aws-sigv4-vectors/v4" ]; then
  (cd "$SRC/tests/aws" && node vectors_check.js "$SHARED/aws-sigv4-vectors/v4") >"$T/vectors.out" 2>&1
  expect_eq "vectors_check.js" $? 0
  cat "$T/vectors.out"
fi

ID="$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
# sqs OPERATION JSON [curl options]: an SQS JSON request signed by curl; prints the body, then the status
sqs() {
  local op=$1 body=$2
  shift 2
  curl -s -w '\n%{http_code}' --aws-sigv4 "aws:amz:${AWS_REGION}:sqs" --user "$ID" -H "X-Amz-Target: AmazonSQS.$op" \
    -H 'Content-Type: application/x-amz-json-1.0' -d "$body" "$@" "$AWS_ENDPOINT_URL"
}
status_of() { tail -n 1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
s3() { curl -s --aws-sigv4 "aws:amz:${AWS_REGION}:s3" "$@"; }

# curl's signer, as the acceptance check uses it
curl -sf --aws-sigv4 "aws:amz:${AWS_REGION}:sqs" --user "$ID" -H "X-Amz-Target: AmazonSQS.CreateQueue" \
  -H 'Content-Type: application/x-amz-json-1.0' -d '{"QueueName":"bars-tasks","Attributes":{"VisibilityTimeout":"20"}}' \
  "$AWS_ENDPOINT_URL" >"$T/cq.json"
expect_eq "curl CreateQueue" $? 0
QURL=$(sed -n 's/.*"QueueUrl":"\([^"]*\)".*/\1/p' "$T/cq.json")
[[ "$QURL" == http://*/000000000000/bars-tasks ]] && ok || fail "queue URL '$QURL'"
r=$(sqs SendMessage "{\"QueueUrl\":\"$QURL\",\"MessageBody\":\"run 1\"}")
expect_eq "curl SendMessage" "$(status_of "$r")" 200
[[ "$(body_of "$r")" == *MD5OfMessageBody* ]] && ok || fail "SendMessage answer: $r"
curl -sf -X PUT --aws-sigv4 "aws:amz:${AWS_REGION}:s3" --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  "$AWS_ENDPOINT_URL/bars-bucket"
expect_eq "curl S3 PUT bucket" $? 0
printf 'observations 1 2 3\n' >"$T/obj.txt"
s3 -f --user "$ID" -H "x-amz-content-sha256: $(sha "$T/obj.txt")" -T "$T/obj.txt" "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt"
expect_eq "curl S3 PUT object (hashed body)" $? 0
s3 -f --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$T/obj.txt" "$AWS_ENDPOINT_URL/bars-bucket/runs/unsigned.txt"
expect_eq "curl S3 PUT object (UNSIGNED-PAYLOAD)" $? 0
s3 -f --user "$ID" -H "x-amz-content-sha256: $(sha /dev/null)" -o "$T/got.txt" "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt"
expect_eq "curl S3 GET object" $? 0
cmp -s "$T/obj.txt" "$T/got.txt" && ok || fail "object read back differs"
# a 20 MB body (a big multipart part) passes the proxy and the emulator
head -c 20000000 /dev/urandom >"$T/big.bin"
s3 -f --user "$ID" -H "x-amz-content-sha256: $(sha "$T/big.bin")" -T "$T/big.bin" "$AWS_ENDPOINT_URL/bars-bucket/big.bin"
expect_eq "curl S3 PUT 20 MB" $? 0
s3 -f --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o "$T/big.got" "$AWS_ENDPOINT_URL/bars-bucket/big.bin"
cmp -s "$T/big.bin" "$T/big.got" && ok || fail "20 MB object read back differs"

# rejections
r=$(curl -s -w '\n%{http_code}' -D "$T/h.txt" --aws-sigv4 "aws:amz:${AWS_REGION}:sqs" --user "$AWS_ACCESS_KEY_ID:wrong-secret" \
  -H "X-Amz-Target: AmazonSQS.SendMessage" -H 'Content-Type: application/x-amz-json-1.0' \
  -d "{\"QueueUrl\":\"$QURL\",\"MessageBody\":\"forged\"}" "$AWS_ENDPOINT_URL")
expect_eq "SQS wrong secret: status" "$(status_of "$r")" 403
[[ "$(body_of "$r")" == '{"__type":"com.amazonaws.sqs#SignatureDoesNotMatch","message":'* ]] && ok || fail "SQS wrong secret: $r"
expect_grep "SQS wrong secret: x-amzn-query-error" '^x-amzn-query-error: SignatureDoesNotMatch;Sender' "$T/h.txt"
r=$(sqs ListQueues '{}' --user "AKIAWRONGWRONGWRONG1:$AWS_SECRET_ACCESS_KEY")
expect_eq "SQS wrong key: status" "$(status_of "$r")" 403
[[ "$r" == *'"__type":"com.amazonaws.sqs#InvalidClientTokenId"'* ]] && ok || fail "SQS wrong key: $r"
r=$(curl -s -w '\n%{http_code}' --aws-sigv4 "aws:amz:${AWS_REGION}:s3" --user "$ID" -H "X-Amz-Target: AmazonSQS.ListQueues" \
  -H 'Content-Type: application/x-amz-json-1.0' -d '{}' "$AWS_ENDPOINT_URL")
expect_eq "SQS request signed for s3: status" "$(status_of "$r")" 403
[[ "$r" == *"#SignatureDoesNotMatch\",\"message\":\"Credential should be scoped to correct service: 'sqs'"* ]] && ok || fail "SQS signed for s3: $r"
r=$(curl -s -w '\n%{http_code}' --aws-sigv4 "aws:amz:eu-west-1:sqs" --user "$ID" -H "X-Amz-Target: AmazonSQS.ListQueues" \
  -H 'Content-Type: application/x-amz-json-1.0' -d '{}' "$AWS_ENDPOINT_URL")
expect_eq "SQS request signed for another region: status" "$(status_of "$r")" 403
r=$(curl -s -w '\n%{http_code}' --aws-sigv4 "aws:amz:eu-west-1:s3" --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt")
expect_eq "S3 request signed for another region: status" "$(status_of "$r")" 400
[[ "$r" == *'<Code>AuthorizationHeaderMalformed</Code>'* ]] && ok || fail "S3 signed for another region: $r"
r=$(curl -s -w '\n%{http_code}' -H "X-Amz-Target: AmazonSQS.ListQueues" -H 'Content-Type: application/x-amz-json-1.0' -d '{}' "$AWS_ENDPOINT_URL")
expect_eq "SQS unsigned: status" "$(status_of "$r")" 403
[[ "$r" == *'#MissingAuthenticationToken"'* ]] && ok || fail "SQS unsigned: $r"
r=$(s3 -w '\n%{http_code}' --user "$AWS_ACCESS_KEY_ID:wrong-secret" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt")
expect_eq "S3 wrong secret: status" "$(status_of "$r")" 403
[[ "$r" == *'<Error><Code>SignatureDoesNotMatch</Code>'* ]] && ok || fail "S3 wrong secret: $r"
r=$(s3 -w '\n%{http_code}' --user "AKIAWRONGWRONGWRONG1:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt")
expect_eq "S3 wrong key: status" "$(status_of "$r")" 403
[[ "$r" == *'<Code>InvalidAccessKeyId</Code>'* ]] && ok || fail "S3 wrong key: $r"
r=$(curl -s -w '\n%{http_code}' "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt")
expect_eq "S3 unsigned: status" "$(status_of "$r")" 403
[[ "$r" == *'<Code>AccessDenied</Code>'* ]] && ok || fail "S3 unsigned: $r"
r=$(s3 -w '\n%{http_code}' --user "$ID" -T "$T/obj.txt" "$AWS_ENDPOINT_URL/bars-bucket/runs/nohash.txt")
expect_eq "S3 without x-amz-content-sha256: status" "$(status_of "$r")" 400
[[ "$r" == *'<Code>InvalidRequest</Code>'* ]] && ok || fail "S3 without x-amz-content-sha256: $r"
# a tampered body: signed for other bytes
printf 'observations 9 9 9\n' >"$T/other.txt"
r=$(s3 -w '\n%{http_code}' --user "$ID" -H "x-amz-content-sha256: $(sha "$T/other.txt")" -T "$T/obj.txt" "$AWS_ENDPOINT_URL/bars-bucket/runs/tampered.txt")
expect_eq "S3 tampered body: status" "$(status_of "$r")" 400
[[ "$r" == *'<Code>XAmzContentSHA256Mismatch</Code>'* ]] && ok || fail "S3 tampered body: $r"
r=$(s3 -w '%{http_code}' --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null "$AWS_ENDPOINT_URL/bars-bucket/runs/tampered.txt")
expect_eq "the tampered object was not stored" "$r" 404

# fault injection: two 503s, then the request goes through
ADMIN="http://127.0.0.1:$PROXY_PORT"
curl -sf -X DELETE "$ADMIN/__stats" >/dev/null; expect_eq "reset stats" $? 0
curl -sf -X POST -d '{"status":503,"count":2,"match":"SendMessage"}' "$ADMIN/__faults" >/dev/null
expect_eq "add a fault rule" $? 0
for want in 503 503 200; do
  r=$(sqs SendMessage "{\"QueueUrl\":\"$QURL\",\"MessageBody\":\"retry me\"}")
  expect_eq "SendMessage under fault injection" "$(status_of "$r")" "$want"
done
[[ "$r" == *MD5OfMessageBody* ]] && ok || fail "SendMessage after the faults: $r"
curl -sf -X POST -d '{"drop":1,"match":"s3:GET /bars-bucket/runs/obj.txt"}' "$ADMIN/__faults" >/dev/null
s3 --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt"
expect_eq "a dropped connection (curl: empty reply)" $? 52
s3 -f --user "$ID" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null "$AWS_ENDPOINT_URL/bars-bucket/runs/obj.txt"
expect_eq "the next GET passes" $? 0
expect_eq "no rule left" "$(curl -s "$ADMIN/__faults")" "[]"
r=$(curl -s -w '\n%{http_code}' -X POST -d '{"nonsense":1}' "$ADMIN/__faults")
expect_eq "a bad fault rule is refused" "$(status_of "$r")" 400
# request counts
r=$(sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10}")
expect_eq "ReceiveMessage" "$(status_of "$r")" 200
curl -sf "$ADMIN/__stats" >"$T/stats.json"; expect_eq "GET /__stats" $? 0
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const want = { "sqs.SendMessage": 3, "sqs.ReceiveMessage": 1, "s3.GET": 2, total: 6, faults: 3, forwarded: 3 };
const got = { "sqs.SendMessage": s.sqs.SendMessage, "sqs.ReceiveMessage": s.sqs.ReceiveMessage, "s3.GET": s.s3.GET,
  total: s.total, faults: s.faults, forwarded: s.forwarded };
if (JSON.stringify(got) !== JSON.stringify(want)) { console.log("stats: got " + JSON.stringify(s)); process.exit(1); }
' "$T/stats.json" && ok || fail "request counts"

# a second instance with its own state folder runs beside the first
exports3=$(EMU_STATE="$T/emu2" "$EMU" start 2>"$T/start2.log"); expect_eq "second instance starts" $? 0
[ -n "$exports3" ] && [ "$exports3" != "$exports" ] && ok || fail "second instance: '$exports3' $(cat "$T/start2.log")"
EMU_STATE="$T/emu2" "$EMU" stop; expect_eq "second instance stops" $? 0
"$EMU" status >/dev/null 2>&1; expect_eq "the first still runs" $? 0

# stop: both processes gone, state removed, ports closed
"$EMU" stop; expect_eq "stop" $? 0
kill -0 "$PROXY_PID" 2>/dev/null && fail "the proxy ($PROXY_PID) still runs" || ok
kill -0 "$EMU_PID" 2>/dev/null && fail "the emulator ($EMU_PID) still runs" || ok
[ ! -e "$EMU_STATE" ] && ok || fail "state left: $(ls "$EMU_STATE")"
"$EMU" status >/dev/null 2>&1; expect_eq "status after stop" $? 1
curl -s -o /dev/null "$AWS_ENDPOINT_URL/__stats"; expect_eq "the proxy port is closed" $? 7
done_testing
