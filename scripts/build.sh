#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures and builds p9x into build/ (or $P9X_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${P9X_BUILD_DIR:-$root/build}
cmake_args=()
command -v ninja >/dev/null 2>&1 && cmake_args=(-G Ninja)
# ccache makes CI's rebuilds on a kept machine cheap; it changes nothing else.
if command -v ccache >/dev/null 2>&1; then
  cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" "${cmake_args[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
elif (($#)); then
  cmake "$build" "$@"
fi
cmake --build "$build" -j "$(nproc)"
