#!/usr/bin/env bash
# Configures and builds everything into ./build (ccache makes rebuilds cheap).
#   CX_BUILD_DIR   build directory (default build)
#   CX_SANITIZE=ON ASan+UBSan build
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CX_BUILD_DIR:-build}
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.cache/ccache}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCX_SANITIZE="${CX_SANITIZE:-OFF}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
