#!/usr/bin/env bash
# The benchmark comparison of issue 4: typegrad vs hand-written baselines (Eigen for the dense rows,
# direct convolution loops for the convolutional rows), libtorch and PyTorch eager (each torch engine
# with the reference BLAS and with OpenBLAS), float32, one thread.
# Writes bench/results/{results.md,results.csv,compile.csv,chart.png}. Not part of the test suite.
#
# Usage: bench/run.sh [--quick] [--rounds N] [--budget SECONDS] [--no-compile-cost]
#   --quick: 3 rounds of 0.03 s per row (2-3 minutes once built); default 9 rounds of 0.12 s (~6 minutes).
# Environment: BUILD_DIR (default build/bench), TYPEGRAD_ARCH (default native).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${BUILD_DIR:-$root/build/bench}"
invocation="bench/run.sh${*:+ $*}"
driver_args=()
while (($#)); do
  case "$1" in
    --quick) driver_args+=(--rounds 3 --budget 0.03) ;;
    --rounds|--budget) driver_args+=("$1" "$2"); shift ;;
    --no-compile-cost) driver_args+=("$1") ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 64 ;;
  esac
  shift
done

# Installing libopenblas0-pthread makes it the system's libblas.so.3 (Debian's alternatives);
# the bench chooses the BLAS per process instead, so put back whatever was selected before.
alt=libblas.so.3-x86_64-linux-gnu
before="$(update-alternatives --query "$alt" 2>/dev/null | sed -n 's/^Value: //p' || true)"
bash scripts/install-deps.sh bench
after="$(update-alternatives --query "$alt" 2>/dev/null | sed -n 's/^Value: //p' || true)"
if [[ -n "$before" && "$before" != "$after" ]]; then
  update-alternatives --quiet --set "$alt" "$before"
  lapack_before="${before/\/blas\//\/lapack\/}"; lapack_before="${lapack_before/libblas/liblapack}"
  if [[ -e "$lapack_before" ]]; then
    update-alternatives --quiet --set liblapack.so.3-x86_64-linux-gnu "$lapack_before"
  fi
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DTYPEGRAD_BUILD_BENCH=ON -DTYPEGRAD_BUILD_TESTS=OFF -DTYPEGRAD_BUILD_EXAMPLES=ON \
  -DTYPEGRAD_ARCH="${TYPEGRAD_ARCH:-native}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$build" -j2 --target bench_typegrad bench_eigen bench_direct bench_libtorch fma_peak_avx2 fma_peak_avx512 typegrad_smoke

exec /usr/bin/python3 "$root/bench/driver.py" --build "$build" --out "$root/bench/results" \
  --command "$invocation" "${driver_args[@]}"
