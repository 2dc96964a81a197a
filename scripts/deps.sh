#!/bin/bash
# Installs what pestrun needs to build and test on Debian 12 (as root, or through sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev python3
      libcjson-dev libhwloc-dev hwloc libcurl4-openssl-dev libssl-dev
      liblapacke-dev libopenblas-dev libarchive-dev openmpi-bin libopenmpi-dev libpmix-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
