#!/usr/bin/env bash
# Installs what typegrad needs from Debian 12's archive, only when something is missing.
# Usage: scripts/install-deps.sh [core|bench]   (core: build + tests; bench: also the comparison engines)
#   core: compilers, build tools, the libraries, Catch2, Google Benchmark (CI compiles bench/'s
#         engine-free programs), the sanitizer and libFuzzer runtimes, MPI. No Python: CI runs none.
#   bench: also the comparison engines and the Python of tools/ and bench/.
set -euo pipefail
want=(g++ clang cmake ninja-build ccache libboost-dev libxsimd-dev catch2 libbenchmark-dev
      nlohmann-json3-dev libclang-rt-14-dev libopenmpi-dev openmpi-bin)
if [[ "${1:-core}" == "bench" ]]; then
  want+=(libeigen3-dev libtorch-dev python3 python3-torch python3-matplotlib python3-numpy libopenblas0-pthread time libdlib-dev)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
