#!/bin/bash
# SQS and S3 emulators on loopback behind a SigV4-verifying proxy, for pestrun's tests.
#
#   tests/aws/emulators.sh start    install (npm ci) if needed, start the emulator (emulator.js) and the
#                                   proxy (sigproxy.js) on free 127.0.0.1 ports, print the environment:
#                                     eval "$(tests/aws/emulators.sh start)"
#   tests/aws/emulators.sh status   exit 0 when both run (and print the same lines), 1 otherwise
#   tests/aws/emulators.sh stop     stop both (by pid) and remove the state
#
# Only the export lines go to stdout; progress and errors go to stderr, the processes' own output
# to files in the state folder ${EMU_STATE:-/tmp/pestrun-emulators} (one folder per instance: give
# each concurrent instance its own EMU_STATE). Clients sign for the proxy (AWS_ENDPOINT_URL); the
# emulator's own port is in $EMU_STATE/emulator.port. The proxy's admin endpoints (fault injection,
# request counts) are described at the top of sigproxy.js.
# Needs Node.js >= 18 and npm (Debian: apt-get install nodejs npm).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${EMU_STATE:-/tmp/pestrun-emulators}
ACCESS_KEY_ID=AKIAPESTRUNEMULATOR1
SECRET_ACCESS_KEY=pestrunEmulatorSecretKey0123456789abcdef
REGION=us-east-1
export SIGPROXY_ACCESS_KEY_ID=$ACCESS_KEY_ID SIGPROXY_SECRET_ACCESS_KEY=$SECRET_ACCESS_KEY SIGPROXY_REGION=$REGION
START_TIMEOUT=${EMU_START_TIMEOUT:-30}   # seconds for each process to listen

log() { echo "emulators: $*" >&2; }
die() { log "$*"; exit 1; }

need_node() {
  command -v node >/dev/null 2>&1 ||
    die "node (Node.js >= 18) is not installed; on Debian: apt-get install -y nodejs npm"
  local version
  version=$(node --version 2>/dev/null) || die "node does not run"
  version=${version#v}
  [ "${version%%.*}" -ge 18 ] 2>/dev/null || die "node $version is too old; Node.js >= 18 is needed"
}

# The lock file and package.json, hashed: node_modules is stale when they changed since the last install.
install_stamp() { cat "$HERE/package.json" "$HERE/package-lock.json" | cksum | cut -d' ' -f1; }

install_deps() {
  local stamp="$HERE/node_modules/.pestrun-install"
  local want
  want=$(install_stamp)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  command -v npm >/dev/null 2>&1 ||
    die "npm is not installed (needed once to install tests/aws/node_modules); on Debian: apt-get install -y npm"
  # one install at a time when several instances start together
  exec 8<"$HERE/package-lock.json"
  if command -v flock >/dev/null 2>&1; then flock 8; fi
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exec 8<&-; return 0; fi
  log "installing the emulators' packages (npm ci in tests/aws)"
  if ! (cd "$HERE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >"$STATE/npm.log" 2>&1; then
    tail -n 20 "$STATE/npm.log" >&2
    die "npm ci failed in $HERE (log: $STATE/npm.log)"
  fi
  echo "$want" >"$stamp"
  exec 8<&-
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Our process, not a reused pid: its command line names our script.
ours() {
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

readf() { if [ -f "$1" ]; then cat "$1"; fi; }

# An HTTP GET on loopback with bash alone; succeeds on any HTTP answer.
answers() {
  local port=$1 path=$2 line
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&3 || { exec 3<&-; return 1; }
  IFS= read -r -t 2 line <&3 || true
  exec 3<&-
  [[ "$line" == HTTP/1.?\ [0-9]* ]]
}

# Start "$1" (emulator|proxy) running node script "$2" with more arguments.
launch() {
  local name=$1 script=$2
  shift 2
  : >"$STATE/$name.out"
  node "$HERE/$script" "$@" </dev/null >"$STATE/$name.out" 2>"$STATE/$name.log" &
  echo "$!" >"$STATE/$name.pid"
}

# Wait for "$1" to print its port.
wait_port() {
  local name=$1 script=$2 pid i port=""
  pid=$(cat "$STATE/$name.pid")
  for ((i = 0; i < START_TIMEOUT * 50; i++)); do
    port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$STATE/$name.out")
    [ -n "$port" ] && break
    if ! alive "$pid"; then
      tail -n 20 "$STATE/$name.log" >&2
      die "the $name ($script) exited before listening (log: $STATE/$name.log)"
    fi
    sleep 0.02
  done
  [ -n "$port" ] || die "the $name did not listen within ${START_TIMEOUT}s (log: $STATE/$name.log)"
  echo "$port" >"$STATE/$name.port"
}

wait_answers() {
  local name=$1 port=$2 path=$3 i
  for ((i = 0; i < 250; i++)); do
    answers "$port" "$path" && return 0
    sleep 0.02
  done
  die "the $name does not answer on 127.0.0.1:$port (log: $STATE/$name.log)"
}

print_env() {
  echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$STATE/proxy.port")"
  echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY_ID"
  echo "export AWS_SECRET_ACCESS_KEY=$SECRET_ACCESS_KEY"
  echo "export AWS_REGION=$REGION"
  echo "export AWS_EC2_METADATA_DISABLED=true"
}

running() {
  ours "$(readf "$STATE/emulator.pid")" emulator.js && ours "$(readf "$STATE/proxy.pid")" sigproxy.js &&
    [ -s "$STATE/proxy.port" ] && [ -s "$STATE/emulator.port" ]
}

# Stop both processes (by the pids we wrote), keeping their logs.
kill_all() {
  local name pid script i
  for name in proxy emulator; do
    pid=$(readf "$STATE/$name.pid")
    script=sigproxy.js
    if [ "$name" = emulator ]; then script=emulator.js; fi
    if ours "$pid" "$script"; then
      kill "$pid" 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do
        alive "$pid" || break
        sleep 0.02
      done
      if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$STATE/$name.pid"
  done
}

stop_all() {
  kill_all
  local name
  for name in proxy emulator; do
    rm -f "$STATE/$name.port" "$STATE/$name.out" "$STATE/$name.log"
  done
  rm -f "$STATE/npm.log" "$STATE/env"
  rmdir "$STATE" 2>/dev/null || true
}

cmd_start() {
  if running; then
    log "already running (state in $STATE)"
    print_env
    return 0
  fi
  need_node
  mkdir -p "$STATE"
  stop_all # leftovers of a dead instance
  mkdir -p "$STATE"
  install_deps
  # a start that fails stops what it started and keeps the logs
  trap 'kill_all' EXIT
  # both load at once; the proxy reads the emulator's port from its output
  launch emulator emulator.js --port 0
  launch proxy sigproxy.js --upstream-file "$STATE/emulator.out" --port 0
  wait_port emulator emulator.js
  wait_port proxy sigproxy.js
  local emu_port proxy_port
  emu_port=$(cat "$STATE/emulator.port")
  proxy_port=$(cat "$STATE/proxy.port")
  wait_answers emulator "$emu_port" /health
  wait_answers proxy "$proxy_port" /__stats
  trap - EXIT
  print_env >"$STATE/env"
  log "emulator on 127.0.0.1:$emu_port, SigV4 proxy on 127.0.0.1:$proxy_port (state in $STATE)"
  cat "$STATE/env"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) stop_all ;;
  status)
    if running; then
      print_env
    else
      log "not running (state in $STATE)"
      exit 1
    fi
    ;;
  *)
    echo "usage: $0 start|stop|status  (state folder: \${EMU_STATE:-/tmp/pestrun-emulators})" >&2
    exit 2
    ;;
esac
