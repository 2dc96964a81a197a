#!/bin/bash
# Makes a plain Debian 12 machine (an EC2 instance with the agent role, or any VM with AWS
# credentials) a pestrun agent: installs the runtime packages, builds pestrun from this source
# tree (or takes a given binary), and runs `pestrun agent` as the systemd service pestrun-agent
# under its own user, with the settings in /etc/pestrun-agent.env. On ECS the container image
# does this instead (docker/Dockerfile); this script is for machines outside ECS.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: startup_agent.sh --env-file FILE [--binary PATH] [--source DIR] [--no-start]
  Installs and starts the systemd service pestrun-agent (run as root).
  --env-file FILE  settings copied to /etc/pestrun-agent.env (PESTRUN_QUEUE_URL, PESTRUN_BUCKET,
                   PESTRUN_PREFIX, PESTRUN_SLOTS, AWS_REGION ...; see run_agent.sh --help)
  --binary PATH    install this pestrun binary instead of building one
  --source DIR     pestrun source tree to build (default: the tree this script is in)
  --no-start       install and enable, but do not start the service
  The model program(s) the case runs must be on the machine (e.g. mf6 in /usr/local/bin) unless
  the case folder ships them; credentials come from the instance profile (IMDSv2) or the env file.
USAGE
}

env_file="" binary="" start=1
source_dir=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case $1 in
    --env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --source) source_dir=${2:?--source needs a folder}; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "startup_agent.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$env_file" ] || { usage >&2; exit 2; }
[ -r "$env_file" ] || { echo "startup_agent.sh: cannot read $env_file" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "startup_agent.sh: run as root" >&2; exit 1; }
command -v systemctl >/dev/null || { echo "startup_agent.sh: needs systemd" >&2; exit 1; }
log() { printf '%s startup_agent: %s\n' "$(date -u +%FT%TZ)" "$*"; }

export DEBIAN_FRONTEND=noninteractive
log "installing packages"
apt-get update -qq
if [ -n "$binary" ]; then
  apt-get install -y -qq --no-install-recommends ca-certificates libcjson1 libhwloc15 libcurl4 \
    libssl3 liblapacke libopenblas0 libarchive13 >/dev/null
  install -m 0755 "$binary" /usr/local/bin/pestrun
else
  "$source_dir/scripts/deps.sh"
  log "building pestrun from $source_dir"
  build=$(mktemp -d)
  cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target pestrun >/dev/null
  install -m 0755 "$build/pestrun" /usr/local/bin/pestrun
  rm -rf "$build"
fi
install -m 0755 "$source_dir/scripts/run_agent.sh" /usr/local/bin/pestrun-run-agent
install -m 0640 "$env_file" /etc/pestrun-agent.env

id pestrun >/dev/null 2>&1 || useradd --system --home-dir /var/lib/pestrun --shell /usr/sbin/nologin pestrun
install -d -o pestrun -g pestrun /var/lib/pestrun /var/lib/pestrun/work
chgrp pestrun /etc/pestrun-agent.env

cat >/etc/systemd/system/pestrun-agent.service <<'UNIT'
[Unit]
Description=pestrun agent (model runs from SQS/S3)
After=network-online.target
Wants=network-online.target

[Service]
User=pestrun
Group=pestrun
Environment=PESTRUN_WORKDIR=/var/lib/pestrun/work
Environment=PESTRUN_HEALTH_FILE=/run/pestrun-agent/health
EnvironmentFile=/etc/pestrun-agent.env
RuntimeDirectory=pestrun-agent
ExecStart=/usr/local/bin/pestrun-run-agent
# SIGTERM starts the agent's drain (PESTRUN_DRAIN_SECONDS); give it that long and a bit.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=130
Restart=on-failure
RestartSec=10
NoNewPrivileges=true
ProtectSystem=full
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable pestrun-agent >/dev/null
if [ "$start" -eq 1 ]; then
  systemctl restart pestrun-agent
  log "pestrun-agent started: journalctl -u pestrun-agent -f"
else
  log "pestrun-agent installed and enabled (not started)"
fi
