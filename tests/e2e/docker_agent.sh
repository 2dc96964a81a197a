#!/bin/bash
# The agent image with a real container engine: builds docker/Dockerfile, checks it runs as a
# non-root user under tini with a health check, then runs it as an agent (--network host) against
# the SQS/S3 emulators (tests/aws/emulators.sh) and a master outside the container sweeping the
# gwflow example; the sweep must equal the local transport's byte for byte.
# Needs root and Debian's docker.io + debootstrap (installed with apt when missing). dockerd is
# started by hand with its own data root and socket, and the debian:12 base image is made
# locally with debootstrap (registries may be unreachable) from the mirror apt uses
# (scripts/debian-mirror.sh); its rootfs tarball is cached in /var/cache/pestrun-debian12.tar,
# except under CI=true, where it is always made afresh. Skips (77) when that is not possible,
# which under CI=true is a failure (lib.bash).
. "$(dirname "$0")/lib.bash"
[ "$(id -u)" -eq 0 ] || skip_root "dockerd needs root"
export DEBIAN_FRONTEND=noninteractive
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || skip "no dockerd/debootstrap and no apt-get"
  { apt-get update -qq && apt-get install -y -qq docker.io debootstrap; } >"$T/apt.log" 2>&1 ||
    skip "could not install docker.io debootstrap: $(tail -1 "$T/apt.log")"
fi
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker) || skip "no docker client"

# --- dockerd of our own -----------------------------------------------------------------------
D=$(mktemp -d /tmp/pestrun-dockerd.XXXXXX)   # short path: the socket path has a length limit
export DOCKER_HOST=unix://$D/docker.sock
dockerd_pid="" emu_started=0 container=pestrun-agent-e2e-$$
# shellcheck disable=SC2317  # runs from the EXIT trap
cleanup() {
  "$DOCKER" rm -f "$container" >/dev/null 2>&1
  [ "$emu_started" -eq 0 ] || EMU_STATE=$T/emu "$SRC/tests/aws/emulators.sh" stop >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$dockerd_pid" 2>/dev/null
  fi
  # dockerd leaves its network namespace (and, when killed, overlay mounts) mounted
  awk -v d="$D/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null
  rm -rf "$D" "$T"
}
trap cleanup EXIT
dockerd --bridge=none --iptables=false --ip-forward=false --data-root "$D/data" --exec-root "$D/exec" \
  --pidfile "$D/dockerd.pid" --host "$DOCKER_HOST" >"$D/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 100); do "$DOCKER" version >/dev/null 2>&1 && break; sleep 0.2; done
"$DOCKER" version >/dev/null 2>&1 || skip "dockerd did not start: $(tail -2 "$D/dockerd.log")"

# --- debian:12 made locally -------------------------------------------------------------------
# The mirrors are the ones apt uses here (the active entries of its sources, never a commented
# one). Under CI=true the cached rootfs is not used: CI proves the image builds from nothing.
cache=/var/cache/pestrun-debian12.tar
if [ ! -s "$cache" ] || [ "${CI:-}" = true ]; then
  mirror=$("$SRC/scripts/debian-mirror.sh" bookworm)
  security=$("$SRC/scripts/debian-mirror.sh" bookworm-security)
  echo "debootstrap from $mirror"
  root=$D/rootfs
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$T/debootstrap.log" 2>&1 ||
    skip "debootstrap failed: $(tail -1 "$T/debootstrap.log")"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$mirror" "$mirror" "$security" >"$root/etc/apt/sources.list"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
  rm -rf "$root"
fi
"$DOCKER" import - debian:12 <"$cache" >/dev/null && ok || fail "docker import debian:12"

# --- the image --------------------------------------------------------------------------------
cd "$SRC" || exit 1
if "$DOCKER" build --network host -t pestrun-agent -f docker/Dockerfile . >"$T/build.log" 2>&1; then ok
else fail "docker build: $(grep -E 'error|Error|returned a non-zero' "$T/build.log" | head -5)"; done_testing; fi
size=$("$DOCKER" image inspect -f '{{.Size}}' pestrun-agent)
echo "image pestrun-agent: $((size / 1000000)) MB"
expect_eq "image user" "$("$DOCKER" image inspect -f '{{.Config.User}}' pestrun-agent)" "10001:10001"
expect_eq "entrypoint" "$("$DOCKER" image inspect -f '{{json .Config.Entrypoint}}' pestrun-agent)" '["/usr/bin/tini","--","pestrun","agent"]'
expect_grep "health check" 'pestrun-healthcheck' <("$DOCKER" image inspect -f '{{json .Config.Healthcheck}}' pestrun-agent)
expect_eq "runs as uid" "$("$DOCKER" run --rm --network host --entrypoint id pestrun-agent -u)" 10001
"$DOCKER" run --rm --network host --entrypoint pestrun pestrun-agent --version >"$T/version" 2>&1
expect_eq "pestrun --version in the image" $? 0
"$DOCKER" run --rm --network host --entrypoint sh pestrun-agent -c \
  '! ldd /usr/local/bin/pestrun | grep "not found"' >/dev/null 2>&1 && ok || fail "missing shared libraries in the image"
"$DOCKER" run --rm --network host pestrun-agent --help >"$T/agent-help" 2>&1
expect_eq "agent --help through the entrypoint" $? 0
expect_grep "agent --help names the options" '--queue-url' "$T/agent-help"
# shellcheck disable=SC2016  # expanded inside the container
"$DOCKER" run --rm --network host --entrypoint sh pestrun-agent -c \
  'touch "$PESTRUN_HEALTH_FILE" && pestrun-healthcheck && touch -d "-5 min" "$PESTRUN_HEALTH_FILE" && ! pestrun-healthcheck' \
  >/dev/null 2>&1 && ok || fail "health check script does not judge the file's age"

# --- the container as an agent, a master outside it ---------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || { echo "no node/npm: emulator part skipped"; done_testing; }
[ -x "$SRC/tests/aws/emulators.sh" ] || { echo "no tests/aws/emulators.sh: emulator part skipped"; done_testing; }
[ -d "$BIN/examples/gwflow" ] || { echo "no $BIN/examples/gwflow: emulator part skipped"; done_testing; }
exports=$(EMU_STATE=$T/emu "$SRC/tests/aws/emulators.sh" start 2>"$T/emu.log") ||
  { fail "emulators did not start: $(tail -2 "$T/emu.log")"; done_testing; }
emu_started=1
eval "$exports"
sqs() {
  curl -sf --aws-sigv4 "aws:amz:${AWS_REGION}:sqs" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "X-Amz-Target: AmazonSQS.$1" -H 'Content-Type: application/x-amz-json-1.0' -d "$2" "$AWS_ENDPOINT_URL"
}
url() { python3 -c 'import json,sys; print(json.load(sys.stdin)["QueueUrl"])'; }
tq=$(sqs CreateQueue '{"QueueName":"dk-tasks","Attributes":{"VisibilityTimeout":"30"}}' | url) || fail "create task queue"
rq=$(sqs CreateQueue '{"QueueName":"dk-results"}' | url) || fail "create result queue"
curl -sf -X PUT --aws-sigv4 "aws:amz:${AWS_REGION}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$AWS_ENDPOINT_URL/dk-bucket" >/dev/null && ok || fail "create bucket"

# every variable emulators.sh exported goes into the container, plus the agent's settings
envs=()
while read -r name; do envs+=(-e "$name"); done < <(printf '%s\n' "$exports" | sed -nE 's/^export ([A-Za-z_][A-Za-z0-9_]*)=.*/\1/p')
"$DOCKER" run -d --name "$container" --network host "${envs[@]}" \
  -e PESTRUN_QUEUE_URL="$tq" -e PESTRUN_BUCKET=dk-bucket -e PESTRUN_PREFIX=e2e \
  -e PESTRUN_SLOTS=2 -e PESTRUN_DRAIN_SECONDS=10 pestrun-agent >/dev/null && ok || fail "docker run the agent"

cp -r "$BIN/examples/gwflow" "$T/g"   # the case folder, with the compiled model the bundle ships
cd "$T/g" || exit 1
rm -f local.csv sqs.csv ./*.journal
"$PESTRUN" sweep gwflow.pst --in sweep_in.csv --out local.csv -j 2 -q --journal j.local >local.log 2>&1
expect_eq "local sweep" $? 0
timeout 300 "$PESTRUN" sweep gwflow.pst --in sweep_in.csv --out sqs.csv --journal j.sqs --transport sqs \
  --queue-url "$tq" --result-queue-url "$rq" --bucket dk-bucket --prefix e2e >sqs.log 2>&1
expect_eq "sqs sweep through the containerised agent" $? 0
if cmp -s local.csv sqs.csv; then ok; else
  fail "sqs sweep differs from local: $(tail -3 sqs.log); agent: $("$DOCKER" logs --tail 5 "$container" 2>&1)"
fi
expect_eq "sweep rows" "$(wc -l <sqs.csv 2>/dev/null)" "$(wc -l <local.csv)"

# the container became healthy (the agent touches its health file)
for _ in $(seq 1 60); do
  h=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null)
  [ "$h" = starting ] || break
  sleep 1
done
expect_eq "container health" "$h" healthy
# SIGTERM: the agent drains and exits 0 within its drain time
"$DOCKER" stop -t 30 "$container" >/dev/null
expect_eq "agent exit code after SIGTERM" "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$container")" 0
done_testing
