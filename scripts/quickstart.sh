#!/bin/bash
# Sets up pestrun on this machine and runs the example groundwater case.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
case=build/examples/gwflow/gwflow.pst
./build/pestrun check --quiet "$case"
./build/pestrun run "$case"
