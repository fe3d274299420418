#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test with CTest.
# CI (.ci/run) calls exactly this. Tiers that need root (loop mounts, network namespaces, the
# QEMU guest) skip themselves with a reason when not root.
#
# A full run (no arguments) also fuzzes the frame decoder, before CTest, for
# $P9X_FUZZ_SECONDS seconds (default 60; 0 skips) with clang, ASan and UBSan in build-fuzz/
# (codec/fuzz/run_fuzz.sh). Arguments go to ctest and skip the fuzzing unless
# P9X_FUZZ_SECONDS is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" ${CI:+-DP9X_WERROR=ON}
build=${P9X_BUILD_DIR:-$root/build}
fuzz_seconds=${P9X_FUZZ_SECONDS:-$(( $# == 0 ? 60 : 0 ))}
# The fuzzer runs first, so that CTest's summary is the last thing this prints.
if (( fuzz_seconds > 0 )); then
  "$root/codec/fuzz/run_fuzz.sh" "$fuzz_seconds"
fi
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
