#!/bin/bash
# Boot script of the pestrun master on EC2 (Debian 12). Terraform's user data writes the
# deployment's settings to /etc/pestrun.env and runs this script as root at first boot; it is
# safe to run again (for example after changing PESTRUN_SOURCE).
#
# It installs: the Debian build and runtime packages of pestrun, the aws CLI (awscli), the AWS
# SSM agent (Session Manager: the master has no SSH key and no open port), and pestrun itself,
# built from source. The source comes from PESTRUN_SOURCE:
#   s3://BUCKET/KEY.tar.gz  a tarball made with `git archive --format=tar.gz -o pestrun-src.tar.gz HEAD`
#                           (the default is s3://BUCKET/PREFIX/src/pestrun-src.tar.gz, which terraform
#                           uploads when pestrun_source_tarball is set); waited for up to 30 minutes;
#   https://...git[#REF]    a git repository (and branch, tag or commit).
# Results: /usr/local/bin/pestrun, /usr/local/bin/pestrun-run-master (scripts/run_master.sh),
# /srv/pestrun/cases (a place for case folders), and the log /var/log/pestrun-startup.log.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: startup_master.sh [--env-file FILE] [--no-build]
  Prepares a Debian 12 EC2 instance as the pestrun master (run as root).
  --env-file FILE  deployment settings (default /etc/pestrun.env), lines NAME=VALUE:
                   PESTRUN_REGION PESTRUN_QUEUE_URL PESTRUN_RESULT_QUEUE_URL PESTRUN_BUCKET
                   PESTRUN_PREFIX PESTRUN_ECS_CLUSTER PESTRUN_ECS_SERVICE PESTRUN_SOURCE ...
  --no-build       install packages and the SSM agent only
USAGE
}

env_file=/etc/pestrun.env
build=1
while [ $# -gt 0 ]; do
  case $1 in
    --env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "startup_master.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

log() { printf '%s startup_master: %s\n' "$(date -u +%FT%TZ)" "$*"; }
[ "$(id -u)" -eq 0 ] || { echo "startup_master.sh: run as root" >&2; exit 1; }
[ -r "$env_file" ] || { echo "startup_master.sh: cannot read $env_file" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
: "${PESTRUN_REGION:?not set in $env_file}" "${PESTRUN_BUCKET:?not set in $env_file}"
PESTRUN_PREFIX=${PESTRUN_PREFIX:-pestrun}
PESTRUN_SOURCE=${PESTRUN_SOURCE:-s3://$PESTRUN_BUCKET/$PESTRUN_PREFIX/src/pestrun-src.tar.gz}
export AWS_REGION=$PESTRUN_REGION AWS_DEFAULT_REGION=$PESTRUN_REGION
grep -q '^AWS_REGION=' "$env_file" || echo "AWS_REGION=$PESTRUN_REGION" >>"$env_file"

log "installing Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config git curl ca-certificates awscli python3 \
  libcjson-dev libhwloc-dev hwloc libcurl4-openssl-dev libssl-dev \
  liblapacke-dev libopenblas-dev libarchive-dev >/dev/null

if ! systemctl is-active --quiet amazon-ssm-agent 2>/dev/null; then
  log "installing the SSM agent (Session Manager)"
  deb=$(mktemp --suffix=.deb)
  curl -fsSL --retry 5 -o "$deb" \
    "https://s3.${PESTRUN_REGION}.amazonaws.com/amazon-ssm-${PESTRUN_REGION}/latest/debian_amd64/amazon-ssm-agent.deb"
  dpkg -i "$deb" >/dev/null
  rm -f "$deb"
  systemctl enable --now amazon-ssm-agent
fi

mkdir -p /srv/pestrun/cases
chmod 1777 /srv/pestrun/cases
[ "$build" -eq 1 ] || { log "done (no build)"; exit 0; }

src=/opt/pestrun-src
rm -rf "$src.new"
mkdir -p "$src.new"
case $PESTRUN_SOURCE in
  s3://*)
    log "waiting for $PESTRUN_SOURCE"
    for i in $(seq 1 180); do
      aws s3 cp --only-show-errors "$PESTRUN_SOURCE" /tmp/pestrun-src.tar.gz 2>/dev/null && break
      [ "$i" -eq 180 ] && { log "no source at $PESTRUN_SOURCE after 30 min: upload it and rerun $0"; exit 1; }
      sleep 10
    done
    tar -xzf /tmp/pestrun-src.tar.gz -C "$src.new"
    rm -f /tmp/pestrun-src.tar.gz ;;
  *)
    url=${PESTRUN_SOURCE%%#*}
    ref=
    [ "$url" = "$PESTRUN_SOURCE" ] || ref=${PESTRUN_SOURCE#*#}
    log "cloning $url ${ref:+at $ref}"
    git clone --quiet "$url" "$src.new"
    [ -z "$ref" ] || git -C "$src.new" checkout --quiet "$ref" ;;
esac
rm -rf "$src"
mv "$src.new" "$src"

log "building pestrun"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$src/build" -j"$(nproc)" --target pestrun >/dev/null
install -m 0755 "$src/build/pestrun" /usr/local/bin/pestrun
install -m 0755 "$src/scripts/run_master.sh" /usr/local/bin/pestrun-run-master
install -m 0755 "$src/scripts/run_agent.sh" /usr/local/bin/pestrun-run-agent
if [ -d "$src/build/examples" ]; then  # the example cases with their compiled models
  mkdir -p /srv/pestrun/examples
  cp -r "$src/build/examples/." /srv/pestrun/examples/
  chmod -R a+rwX /srv/pestrun/examples
fi
log "pestrun $(/usr/local/bin/pestrun --version 2>/dev/null || echo '?') installed; settings in $env_file"
log "next: pestrun-run-master CASE_DIR CASE.pst glm"
