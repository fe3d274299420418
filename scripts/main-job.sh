#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# main-job.sh — p9x's main job: build everything, start p9xd on a built-in default
# export, run the whole p9x-conform catalogue against it in both dialects (9P2000.L.xqid and plain
# 9P2000.L) with ground truth (--local-root) and p9xd's empty expected-failure list, and end with
# the summary tables. The server is stopped and the export torn down whatever happens.
#
#   scripts/main-job.sh            build, then run
#   P9X_BUILD_DIR=DIR              build tree (default build/)
#   P9X_MAIN_JOB_RESULTS=DIR       where the JSON and JUnit reports go (default $P9X_BUILD_DIR/main-job)
#
# The export: as root (with e2fsprogs and util-linux), the multi-filesystem fixture of
# tests/fixture/make-fixture.sh (two byte-identical ext4 images and a tmpfs: the qid-collision
# scenario); otherwise a temporary directory, and the cases that need the fixture are skipped with
# that reason. Exit status: 0 iff both runs pass (p9xd has no expected failures); 1 otherwise;
# 2 if something needed is missing (p9xd not built yet, the build failed).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${P9X_BUILD_DIR:-$root/build}
results=${P9X_MAIN_JOB_RESULTS:-$build/main-job}
log() { echo "main-job: $*"; }

"$root/scripts/setup.sh" --build-only || { log "scripts/setup.sh failed"; exit 2; }
"$root/scripts/build.sh" || { log "the build failed"; exit 2; }

conform=$build/conformance/p9x-conform
p9xd=$build/server/p9xd
[[ -x "$conform" ]] || { log "$conform was not built"; exit 2; }
if [[ ! -x "$p9xd" ]]; then
  log "$p9xd does not exist: the server has not been written or built yet (server/ must define the"
  log "p9xd binary). Nothing to run the catalogue against; failing rather than pretending."
  exit 2
fi
if ! "$p9xd" --help 2>&1 | grep -q -- '--export'; then
  log "$p9xd --help does not mention --export; this script starts it as:"
  log "  p9xd --listen unix:PATH --export DIR"
  log "adapt scripts/main-job.sh to its flags. p9xd --help says:"
  "$p9xd" --help 2>&1 | sed 's/^/  /'
  exit 2
fi

work=$(mktemp -d /tmp/p9x-main-job.XXXXXX)
export_dir=$work/export
fixture=0
pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  if ((fixture)); then
    "$root/tests/fixture/teardown-fixture.sh" "$export_dir" >"$work/teardown.log" 2>&1 ||
      { log "fixture teardown failed:"; cat "$work/teardown.log"; status=1; }
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The export.
why_not=""
if [[ $(id -u) -ne 0 ]]; then
  why_not="not root (the fixture loop-mounts two ext4 images)"
else
  for tool in mkfs.ext4 debugfs losetup mount; do
    command -v "$tool" >/dev/null || { why_not="$tool is missing (scripts/setup.sh installs it)"; break; }
  done
fi
if [[ -z "$why_not" ]]; then
  log "building the multi-filesystem fixture at $export_dir"
  fixture=1
  if ! P9X_FIXTURE_BIG=0 "$root/tests/fixture/make-fixture.sh" "$export_dir" >"$work/fixture.log" 2>&1; then
    log "the fixture could not be built:"; cat "$work/fixture.log"
    exit 1
  fi
  grep -E 'byte-identical|p1/file' "$work/fixture.log" | sed 's/^/  /'
else
  log "export: a temporary directory ($why_not; the identity cases that need the fixture are skipped)"
  mkdir -p "$export_dir"
  printf 'p9x main job\n' >"$export_dir/readme.txt"
fi

# 2. p9xd.
sock=$work/p9xd.sock
log "starting $p9xd --listen unix:$sock --export $export_dir"
"$p9xd" --listen "unix:$sock" --export "$export_dir" >"$work/p9xd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [[ -S "$sock" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -S "$sock" ]]; then
  log "p9xd did not start listening on $sock; its log:"; cat "$work/p9xd.log"
  exit 1
fi

# 3. The catalogue in both dialects.
mkdir -p "$results"
status=0
declare -A summary
for dialect in xqid legacy; do
  echo
  log "=== p9x-conform --dialect $dialect ==="
  "$conform" --target "unix:$sock" --dialect "$dialect" --local-root "$export_dir" \
    --expected "$root/conformance/expected/p9xd.txt" \
    --json "$results/p9xd-$dialect.json" --junit "$results/p9xd-$dialect.xml" | tee "$work/$dialect.out"
  rc=${PIPESTATUS[0]}
  ((rc == 0)) || status=1
  summary[$dialect]=$(grep -E '^CONFORMANCE SUITE' "$work/$dialect.out" || echo "p9x-conform exited $rc without a summary")
done
if ((status != 0)); then
  echo; log "p9xd log (last 40 lines):"; tail -n 40 "$work/p9xd.log"
fi

echo
log "export: $([[ $fixture -eq 1 ]] && echo "multi-filesystem fixture" || echo "temporary directory ($why_not)"); reports in $results"
for dialect in xqid legacy; do printf 'main-job: %-7s %s\n' "$dialect" "${summary[$dialect]}"; done
exit "$status"
