#!/bin/bash
# Sets up pestrun on this machine and calibrates the example groundwater case on all its cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
case=build/examples/gwflow/gwflow.pst
./build/pestrun check --quiet "$case"
./build/pestrun glm "$case"
echo "calibrated parameters (true values: hk1 15, hk2 1.5, hk3 40, hk4 6, rch 300):"
cat build/examples/gwflow/gwflow.par
