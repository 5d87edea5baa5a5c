#!/usr/bin/env bash
# Builds and runs the whole test suite in three configurations:
#   1. g++,     -march=native (AVX-512 or AVX2+FMA), all tests, compile-fail tests, examples, consumers,
#               the MPI tests under mpirun -np 2 --oversubscribe (ctest: typegrad_mpi_tests), and the
#               benchmarks that need no comparison engine (compiled, not run)
#   2. g++,     no -march (SSE2 baseline: other vector width, other tails), -O1, unit tests
#   3. clang++, AddressSanitizer + UndefinedBehaviorSanitizer, -march=x86-64-v3, -O1, unit tests
#   then every fuzz target for FUZZ_SECONDS (default 15) seconds
# The optimiser is most of the suite's compile time, so configurations 2 and 3 build at -O1 (-O2
# cost configuration 2 15 % more; -O0 would halve configuration 3's compile time, but ASan then runs
# the finite differences 40 times slower). Configuration 3 has no debug info (-g costs a fifth of
# its compile time): a sanitizer report names the functions; for file:line, rebuild locally with
# -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1".
# CI time is compile time on two cores: once configuration 1 is built, its ctest and the builds of
# 2 and 3 run side by side, then the sanitizer tests beside the fuzzers, so that no core waits on a
# one-threaded step (a test binary, a fuzzer, the last file of a build). Each step's output goes to
# build/logs/<step>.log and is printed when the step ends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh core
jobs=$(nproc)
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
mkdir -p build/logs

set -m  # each background step in a process group of its own, so that a failure can stop the others
declare -A step_pid
# start <step> <command...>: runs the command in the background, its output in build/logs/<step>.log.
start() {
  local step=$1
  shift
  "$@" >"build/logs/$step.log" 2>&1 &
  step_pid[$step]=$!
}
# finish <step>: waits for the step, prints its output, and stops the run if it failed.
finish() {
  local step=$1 status=0
  wait "${step_pid[$step]}" || status=$?
  echo "== $step"
  cat "build/logs/$step.log"
  if ((status)); then
    echo "FAILED: $step (exit $status)"
    for pid in "${step_pid[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
    exit "$status"
  fi
}

echo "== configure"
cmake -S . -B build/native "${common[@]}" -DCMAKE_CXX_COMPILER=g++ -DTYPEGRAD_ARCH=native \
  -DTYPEGRAD_BUILD_BENCH=ON -DTYPEGRAD_BENCH_ENGINES=OFF >/dev/null
cmake -S . -B build/sse2 "${common[@]}" -DCMAKE_CXX_COMPILER=g++ -DTYPEGRAD_ARCH= -DTYPEGRAD_BUILD_EXAMPLES=OFF \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" >/dev/null
cmake -S . -B build/sanitize "${common[@]}" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_RELEASE="-O1" \
  -DTYPEGRAD_ARCH=x86-64-v3 -DTYPEGRAD_SANITIZE=ON -DTYPEGRAD_BUILD_EXAMPLES=OFF >/dev/null

echo "== 1/3 g++ -march=native: build"
cmake --build build/native -j "$jobs"

echo "== 1/3 ctest, 2/3 g++ SSE2 (no -march), 3/3 clang++ ASan+UBSan: side by side"
start native-ctest bash -c 'cd build/native && ctest --output-on-failure -j "$1"' _ "$jobs"
start sse2 bash -c 'cmake --build build/sse2 -j "$1" --target typegrad_tests && ./build/sse2/tests/typegrad_tests' _ "$jobs"
start sanitize-build cmake --build build/sanitize -j "$jobs" --target typegrad_tests
finish native-ctest
finish sse2
finish sanitize-build

# The fuzzers run for a fixed time: they start only when the builds are done, beside the one-threaded
# sanitizer test run, so that each has a core of its own.
echo "== 3/3 ASan+UBSan tests, and fuzz: each libFuzzer target briefly (clang, ASan + UBSan)"
start sanitize-tests env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/sanitize/tests/typegrad_tests
start fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz.sh
finish sanitize-tests
finish fuzz
echo "all test configurations passed"
