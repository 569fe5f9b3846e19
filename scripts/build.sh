#!/usr/bin/env bash
# Configures and builds everything into ./build (ccache makes rebuilds cheap).
#   CX_BUILD_DIR   build directory (default build)
#   CX_SANITIZE=ON ASan+UBSan build
#   CX_BUILD_LOG   write the build's output to this file instead of the
#                  terminal; if the build fails, its errors and the end of the
#                  log are printed all the same
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CX_BUILD_DIR:-build}
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.cache/ccache}

build() {
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCX_SANITIZE="${CX_SANITIZE:-OFF}" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}

if [[ -z "${CX_BUILD_LOG:-}" ]]; then
  build
  exit 0
fi
mkdir -p "$(dirname "$CX_BUILD_LOG")"
if ! build >"$CX_BUILD_LOG" 2>&1; then
  echo "build of $build_dir failed; its errors, then the end of $CX_BUILD_LOG:" >&2
  grep -E "error:|FAILED:|Killed|internal compiler error" "$CX_BUILD_LOG" | head -n 20 >&2 || true
  tail -n 40 "$CX_BUILD_LOG" >&2
  exit 1
fi
