#!/usr/bin/env bash
# Builds the fuzz targets with clang-14 (libFuzzer, ASan+UBSan) into
# build-fuzz and runs each for a bounded time from the generated seed corpus.
# Prints each target's executions; any crash fails.
#   CX_FUZZ_SECONDS  seconds per target (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.cache/ccache}
seconds=${CX_FUZZ_SECONDS:-30}
targets=(feedback_request journey_request metrics_request csv)
# -O1 with line tables: quick to build, fast enough to fuzz, readable stacks.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Fuzz \
  -DCMAKE_C_FLAGS_FUZZ="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_FUZZ="-O1 -gline-tables-only" \
  -DCX_FUZZ=ON -DCX_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz-seeds "${targets[@]/%/_fuzzer}" >build-fuzz.log 2>&1 ||
  { tail -50 build-fuzz.log; exit 1; }
work=build-fuzz/runs
rm -rf "$work"
mkdir -p "$work"
./build-fuzz/fuzz/fuzz-seeds "$work/seeds"
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus-$t"
  log="$work/$t.log"
  if ! ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "./build-fuzz/fuzz/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$work/$t-" "$work/corpus-$t" "$work/seeds/$t" >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $t found a crash (input saved under $work/$t-*)"
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  echo "   fuzz $t: $execs executions in $seconds s, no crash ($cov, corpus $(ls "$work/corpus-$t" | wc -l) inputs)"
done
