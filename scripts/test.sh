#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test with CTest.
# CI (.ci/run) calls exactly this. Tiers that need root (loop mounts, network namespaces, the
# QEMU guest) skip themselves with a reason when not root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" ${CI:+-DP9X_WERROR=ON}
build=${P9X_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
