#!/usr/bin/env bash
# Builds and runs the whole test suite in three configurations:
#   1. g++,     -march=native (AVX-512 or AVX2+FMA), all tests, compile-fail tests, examples, consumers,
#               and the MPI tests under mpirun -np 2 --oversubscribe (ctest: typegrad_mpi_tests)
#   2. g++,     no -march (SSE2 baseline: other vector width, other tails), -O2, unit tests
#   3. clang++, AddressSanitizer + UndefinedBehaviorSanitizer, -march=x86-64-v3, -O1, unit tests
#   then every fuzz target for FUZZ_SECONDS (default 15) seconds
# Configurations 2 and 3 build at a lower optimisation level than the first: they test other
# vector widths and memory/UB errors, and -O3 template code is most of the suite's compile time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh core
jobs=$(nproc)
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== 1/3 g++ -march=native"
cmake -S . -B build/native "${common[@]}" -DCMAKE_CXX_COMPILER=g++ -DTYPEGRAD_ARCH=native >/dev/null
cmake --build build/native -j "$jobs"
(cd build/native && ctest --output-on-failure -j "$jobs")

echo "== 2/3 g++ SSE2 (no -march)"
cmake -S . -B build/sse2 "${common[@]}" -DCMAKE_CXX_COMPILER=g++ -DTYPEGRAD_ARCH= -DTYPEGRAD_BUILD_EXAMPLES=OFF \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build build/sse2 -j "$jobs" --target typegrad_tests
./build/sse2/tests/typegrad_tests

echo "== 3/3 clang++ ASan+UBSan"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DCMAKE_CXX_COMPILER=clang++ -DTYPEGRAD_ARCH=x86-64-v3 -DTYPEGRAD_SANITIZE=ON -DTYPEGRAD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/sanitize -j "$jobs" --target typegrad_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/sanitize/tests/typegrad_tests
echo "== fuzz: each libFuzzer target briefly (clang, ASan + UBSan)"
FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz.sh
echo "all test configurations passed"
