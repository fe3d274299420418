#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: installs what is missing, builds, and runs every test with CTest.
# CI (.ci/run) calls exactly this. Tiers that need root (loop mounts, network namespaces, the
# QEMU guest) skip themselves with a reason when not root.
#
# Every run first checks the layout of the changed C++ lines (scripts/check-format.sh).
# A full run (no arguments) also, before the plain CTest run:
#  1. fuzzes the frame decoder, then the server (an in-process p9xd over the in-memory backend),
#     for $P9X_FUZZ_SECONDS seconds each (default 60; 0 skips), then the client's handling of
#     server bytes for half that, with clang, ASan and UBSan in build-fuzz/
#     (codec/fuzz/run_fuzz.sh [--target server|client]);
#  2. builds every target in that same build-fuzz/ and runs the whole suite under ASan+UBSan
#     (scripts/sanitize.sh asan);
#  3. builds the server, the client, their tests and the reliability tests with TSan in
#     build-tsan/ and runs those tests (scripts/sanitize.sh tsan).
# P9X_SANITIZERS=0 skips 2 and 3; P9X_SANITIZERS=1 runs them even when arguments are given.
# Arguments go to every ctest run and skip the fuzzing and the sanitizer tiers unless
# P9X_FUZZ_SECONDS / P9X_SANITIZERS say otherwise. Every stage runs even if an earlier one
# failed; the exit status is non-zero if any failed, and a summary of the stages is printed last.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" ${CI:+-DP9X_WERROR=ON}
build=${P9X_BUILD_DIR:-$root/build}
fuzz_seconds=${P9X_FUZZ_SECONDS:-$(( $# == 0 ? 60 : 0 ))}
sanitizers=${P9X_SANITIZERS:-$(( $# == 0 ? 1 : 0 ))}

summary=()
status=0
# stage NAME COMMAND...: runs COMMAND, records its result and duration, never stops the script.
stage() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s)
  "$@" || rc=$?
  summary+=("$(printf '%-34s %-7s %5d s' "$name" "$([[ $rc == 0 ]] && echo passed || echo FAILED)" \
                      $(( $(date +%s) - t0 )))")
  (( rc == 0 )) || status=1
}

# Cheap first: the layout of the lines this change touches (.clang-format).
stage "format of changed lines" "$root/scripts/check-format.sh"
# The fuzzer and the sanitizer tiers run first, so that CTest's summary is near the end.
if (( fuzz_seconds > 0 )); then
  stage "fuzz DecodeFrame (${fuzz_seconds}s)" "$root/codec/fuzz/run_fuzz.sh" "$fuzz_seconds"
  stage "fuzz the server (${fuzz_seconds}s)" "$root/codec/fuzz/run_fuzz.sh" --target server "$fuzz_seconds"
  # The client's reply handling: arbitrary server bytes; half the time (it is the smallest).
  client_seconds=$(( (fuzz_seconds + 1) / 2 ))
  stage "fuzz the client (${client_seconds}s)" "$root/codec/fuzz/run_fuzz.sh" --target client "$client_seconds"
fi
if [[ $sanitizers == 1 ]]; then
  stage "ASan+UBSan tier (build-fuzz/)" "$root/scripts/sanitize.sh" asan "$@"
  stage "TSan tier (build-tsan/)" "$root/scripts/sanitize.sh" tsan "$@"
fi
ctest_plain() { cd "$build" && ctest --output-on-failure -j "$(nproc)" "$@"; }
stage "CTest ($build)" ctest_plain "$@"

echo
echo "test.sh: stages"
printf '  %s\n' "${summary[@]}"
exit "$status"
