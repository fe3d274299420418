#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sanitizer tiers of the test command (scripts/test.sh calls this).
#
#   scripts/sanitize.sh asan [CTEST ARGS]   every target built with clang, ASan+UBSan, in
#                                           build-fuzz/ (the same build the codec fuzzer uses),
#                                           then the whole CTest suite
#   scripts/sanitize.sh tsan [CTEST ARGS]   the server, the client, their tests and the
#                                           reliability tests built with clang and TSan in
#                                           build-tsan/, then only those tests
#   scripts/sanitize.sh configure asan|tsan configure the build directory only (run_fuzz.sh)
#
# Contract: exit 0 only if every selected test passed AND no process (test binaries and the
# p9xd / p9x / p9x-conform children they spawn) wrote a sanitizer report. Tests find the binaries
# of their own build directory (${PROJECT_BINARY_DIR}/server/p9xd, $<TARGET_FILE:...>), so the
# children are sanitized too. Every report goes to a file under BUILD/sanitizer-logs/ (log_path),
# so a report from a child whose output a test script discards is still counted; the files are
# printed and the tier fails if any exists. halt_on_error makes a report also fail the test.
#
# Environment:
#   P9X_SANITIZERS=0            skip every tier (exit 0 with a message); test.sh honours it
#   P9X_ASAN_BUILD_DIR          default build-fuzz/ (also P9X_FUZZ_BUILD_DIR, as run_fuzz.sh)
#   P9X_TSAN_BUILD_DIR          default build-tsan/
#   P9X_SANITIZE_EXCLUDE        extra ctest -E regex, added to the tier's own exclusions
#   P9X_SANITIZE_JOBS           ctest -j (default nproc)
#
# Excluded from the sanitizer tiers, with the reason:
#   LinuxClient.*   boots a QEMU guest (minutes in a plain build, up to 900 s); the p9xd it
#                   serves from is the same code the conformance and client tests exercise
#                   under the sanitizers, and a sanitized p9xd under QEMU's load exceeds the
#                   tier's time budget on a 2-core CI machine.
#   Conformance.Peer.*  p9x-conform against diod and nfs-ganesha: 3.5 of the tier's 4.3 minutes,
#                   mostly waiting on those servers (restarts after they crash); the runner's
#                   own code runs under the sanitizers in Conformance.P9xd.* and
#                   ClientCli.diod/ganesha, and the peers themselves are not built by us.
#   Dist.InstalledConformance  runs the installed p9x-conform and p9xd with the source and build
#                   trees hidden, so a sanitizer cannot write its report (log_path is in the
#                   hidden build tree) and the run fails for that alone; the same programs run
#                   under the sanitizers in Conformance.P9xd.*.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tier=${1:-}
shift || true

if [[ "${P9X_SANITIZERS:-1}" == 0 && $tier != configure ]]; then
  echo "sanitize: P9X_SANITIZERS=0, skipping the $tier tier"
  exit 0
fi

asan_build=${P9X_ASAN_BUILD_DIR:-${P9X_FUZZ_BUILD_DIR:-$root/build-fuzz}}
tsan_build=${P9X_TSAN_BUILD_DIR:-$root/build-tsan}
jobs=${P9X_SANITIZE_JOBS:-$(nproc)}

for tool in clang clang++ cmake ctest python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "sanitize: $tool is missing (scripts/setup.sh installs clang, libclang-rt-14-dev, python3)" >&2
    exit 1
  fi
done

# configure_dir TIER: configures the tier's build directory (once; later runs reuse it).
configure_dir() {
  local which=$1 build sanitize extra=()
  case $which in
    # ASan+UBSan, and coverage instrumentation (fuzzer-no-link) so that libFuzzer sees the
    # codec's branches; P9X_FUZZ=ON adds the libFuzzer target itself. One build serves the fuzzer
    # and the ASan tier (the coverage hooks cost little and change no behaviour).
    asan) build=$asan_build; sanitize=address,undefined
          extra=(-DP9X_FUZZ=ON -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link) ;;
    tsan) build=$tsan_build; sanitize=thread ;;
    *) echo "sanitize: configure asan|tsan" >&2; exit 2 ;;
  esac
  if [[ -f "$build/CMakeCache.txt" ]]; then return 0; fi
  local gen=() launcher=()
  command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
  command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # -gline-tables-only: reports name files and lines, and the build costs much less than with
  # full debug information (these builds run in CI on 2 cores).
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${gen[@]}" "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" \
    -DP9X_BENCH=OFF -DP9X_SANITIZE=$sanitize "${extra[@]}" >/dev/null
}

# unselected_tests BUILD TARGETS...: prints a ctest -E regex naming every test that is NOT one of
# the tier's: those that run a binary of TARGETS, a script under tests/reliability/, or the p9x
# command line against p9xd. An exclusion (not -R) so that a -R the caller gives still narrows
# the run, and never picks a test whose binary this tier did not build.
unselected_tests() {
  local build=$1; shift
  (cd "$build" && ctest --show-only=json-v1) | python3 -c '
import json, os, re, sys
targets = set(sys.argv[1:])
selected, others = [], []
for t in json.load(sys.stdin)["tests"]:
    cmd = t.get("command") or []
    exe = cmd[0] if cmd else ""
    if (os.path.basename(exe) in targets
            or "/tests/reliability/" in exe
            or re.match(r"ClientCli\.p9xd-", t["name"])
            or re.match(r"Conformance\.P9xd\.", t["name"])):
        selected.append(t["name"])
    else:
        others.append(re.escape(t["name"]))
if not selected:
    sys.exit("sanitize: no test selected")
print("^(" + "|".join(others) + ")$" if others else "^$")
' "$@"
}

# report_logs DIR: prints every sanitizer report file; returns 1 if there is any.
report_logs() {
  local dir=$1 files
  files=$(find "$dir" -type f 2>/dev/null | sort)
  if [[ -z "$files" ]]; then return 0; fi
  echo "sanitize: sanitizer reports (one file per process) in $dir:"
  local f
  for f in $files; do
    echo "----- $f"
    head -c 20000 "$f"
  done
  return 1
}

now() { date +%s; }

# finish TIER STATUS LOGS T0 T1 T2 DETAIL: prints the reports, one summary line, and exits with
# STATUS, or 1 if any report was written.
finish() {
  local tier=$1 status=$2 logs=$3 t0=$4 t1=$5 t2=$6 detail=$7
  report_logs "$logs" || status=1
  echo "sanitize: $tier: $detail; build $((t1 - t0)) s, tests $((t2 - t1)) s," \
       "$(find "$logs" -type f | wc -l) report(s); $([[ $status == 0 ]] && echo PASSED || echo FAILED)"
  exit "$status"
}

case $tier in
  configure)
    configure_dir "${1:-}"
    exit 0 ;;
  asan)
    build=$asan_build
    configure_dir asan
    t0=$(now)
    cmake --build "$build" -j "$jobs"
    t1=$(now)
    logs=$build/sanitizer-logs
    rm -rf "$logs"; mkdir -p "$logs"
    # detect_leaks: LeakSanitizer at exit (p9xd exits normally on SIGTERM, so its leaks count).
    # abort_on_error=0 + halt_on_error=1: a report ends the process with exit code 1.
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:print_stacktrace=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan:suppressions=$root/scripts/sanitizers/ubsan.supp"
    export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp:print_suppressions=0"
    exclude='^LinuxClient\.|^Conformance\.Peer\.|^Dist\.InstalledConformance$'
    [[ -n "${P9X_SANITIZE_EXCLUDE:-}" ]] && exclude="$exclude|$P9X_SANITIZE_EXCLUDE"
    status=0
    (cd "$build" && ctest --output-on-failure -j "$jobs" -E "$exclude" "$@") || status=$?
    finish "ASan+UBSan tier ($build)" "$status" "$logs" "$t0" "$t1" "$(now)" "excluded: $exclude" ;;
  tsan)
    build=$tsan_build
    configure_dir tsan
    # The concurrency tests: the server and client with their tests, the p9x command line and
    # p9x-conform (both drive p9xd over real sockets), and whatever tests/reliability/ defines.
    targets=(p9xd p9x p9x-conform server_test server_mem_fs_test server_qid_map_test client_test
             client_p9xd_test client_remote_test fuzz_server_replay)
    [[ -f "$root/server/host_fs_test.cc" ]] && targets+=(server_host_fs_test)
    # Everything tests/reliability/ builds (the generator's per-folder "all" target).
    [[ -f "$root/tests/reliability/CMakeLists.txt" ]] && targets+=(tests/reliability/all)
    t0=$(now)
    cmake --build "$build" -j "$jobs" --target "${targets[@]}"
    t1=$(now)
    exclude=$(unselected_tests "$build" "${targets[@]}")
    [[ -n "${P9X_SANITIZE_EXCLUDE:-}" ]] && exclude="$exclude|$P9X_SANITIZE_EXCLUDE"
    logs=$build/sanitizer-logs
    rm -rf "$logs"; mkdir -p "$logs"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4:log_path=$logs/tsan:suppressions=$root/scripts/sanitizers/tsan.supp"
    status=0
    (cd "$build" && ctest --output-on-failure -j "$jobs" -E "$exclude" "$@") || status=$?
    finish "TSan tier ($build)" "$status" "$logs" "$t0" "$t1" "$(now)" "targets ${targets[*]}" ;;
  *)
    echo "usage: scripts/sanitize.sh asan|tsan [CTEST ARGS] | configure asan|tsan" >&2
    exit 2 ;;
esac
