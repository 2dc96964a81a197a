#!/bin/bash
# Runs `pestrun agent` with its settings from the environment or an env file: by hand, from the
# systemd unit startup_agent.sh installs, or in a container (the image's entrypoint runs
# `pestrun agent` directly and takes the same PESTRUN_* variables).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: run_agent.sh [--env-file FILE] [PESTRUN AGENT OPTIONS...]
  Starts `pestrun agent`. Settings come from the environment, after reading FILE
  (default /etc/pestrun-agent.env when it exists), lines NAME=VALUE:
    PESTRUN_QUEUE_URL (required)  task queue URL
    PESTRUN_BUCKET    (required)  bucket of the bundles and large payloads
    PESTRUN_PREFIX                key prefix (default pestrun)
    PESTRUN_SLOTS                 model runs at once (default: one per core)
    PESTRUN_IDLE_EXIT             exit after this many idle seconds
    PESTRUN_DRAIN_SECONDS         seconds to finish runs after SIGTERM
    PESTRUN_WORKDIR               working folder of the model copies
    PESTRUN_HEALTH_FILE           file touched at least every 20 s while healthy
    AWS_REGION                    region of the queue and bucket
  Options after the file are passed to `pestrun agent` (they win over the environment).
  PESTRUN names the binary (default pestrun on PATH).
USAGE
}

env_file=/etc/pestrun-agent.env
explicit=0
case ${1:-} in
  -h|--help) usage; exit 0 ;;
  --env-file) env_file=${2:?--env-file needs a file}; explicit=1; shift 2 ;;
esac
if [ -r "$env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
elif [ "$explicit" -eq 1 ]; then
  echo "run_agent.sh: cannot read $env_file" >&2
  exit 2
fi
if [ -z "${PESTRUN_QUEUE_URL:-}" ] && [[ " $* " != *" --queue-url "* ]]; then
  echo "run_agent.sh: set PESTRUN_QUEUE_URL (or pass --queue-url)" >&2; usage >&2; exit 2
fi
if [ -z "${PESTRUN_BUCKET:-}" ] && [[ " $* " != *" --bucket "* ]]; then
  echo "run_agent.sh: set PESTRUN_BUCKET (or pass --bucket)" >&2; usage >&2; exit 2
fi
[ -z "${PESTRUN_WORKDIR:-}" ] || mkdir -p "$PESTRUN_WORKDIR"
[ -z "${PESTRUN_HEALTH_FILE:-}" ] || mkdir -p "$(dirname "$PESTRUN_HEALTH_FILE")"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec "${PESTRUN:-pestrun}" agent "$@"
