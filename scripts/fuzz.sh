#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_*.cpp) with clang++ + ASan + UBSan and runs each for a
# bounded time from its seed corpus fuzz/corpus/<target>/. Exits non-zero if any target finds a
# crash, a sanitizer report, a leak or an exception other than typegrad::data_error/io_error.
#   FUZZ_SECONDS=60 scripts/fuzz.sh            # longer runs (default 20 s per target)
#   scripts/fuzz.sh fuzz_csv                   # only some targets
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
build=build/fuzz
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in fuzz/fuzz_*.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi
cmake --build "$build" -j 2 --target "${targets[@]}"

status=0
for name in "${targets[@]}"; do
  # New inputs go to a scratch corpus in the build tree; the committed seeds are only read.
  work=$build/corpus/$name
  mkdir -p "$work" "$build/artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$name-")
  [ -f "fuzz/$name.dict" ] && args+=(-dict="fuzz/$name.dict")
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
  echo "== $name: ${seconds}s"
  if ! "./$build/$name" "${args[@]}" "$work" "${seeds[@]}" > "$build/$name.log" 2>&1; then
    echo "FAILED: $name (log: $build/$name.log, reproducer in $build/artifacts/)"
    tail -n 40 "$build/$name.log"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$build/$name.log" || true
  fi
done
exit $status
