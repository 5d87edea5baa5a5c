#!/usr/bin/env bash
# Builds and runs the flagship example (breast cancer diagnosis). Extra arguments go to the example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh core
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DTYPEGRAD_BUILD_TESTS=OFF >/dev/null
cmake --build build/example --target 03_breast_cancer_diagnosis
./build/example/examples/03_breast_cancer_diagnosis "$@"
