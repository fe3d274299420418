#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The side-by-side server benchmark matrix: p9xd and diod (or any 9P2000.L server given
# as a command template), each figure beside the raw request/response floor of the same message
# sizes over the same transport, measured in the same run. Prints a Markdown table and writes
# results.md and results.json into the output directory, and SVG charts of the same results
# (plot-*.svg: each server's speed relative to the floor, per row; bench/plot-matrix.py).
#
#   bench/run-matrix.sh [--quick] [--servers p9xd,p9xd-nobody,diod] [--out DIR] [--pin] [--only PREFIX,...]
#                       [--server-spec 'NAME|tcp=CMD|unix=CMD|aname=A|uid=N']... [--busy-conns N] [--idle-conns N]
#
#   --quick     tiny sizes and short cells (about 30 s); the full matrix takes about 6-8 min
#   --servers   which of the known servers to run (default: p9xd,diod; a missing p9xd is skipped;
#               p9xd-nobody: p9xd with every session attached as uid 65534, not root)
#   --out       output directory (default: build/bench-results/<UTC timestamp>)
#   --pin       client on CPU 0, servers and the floor server on CPU 1
#   --only      run only the benches whose id starts with one of these (read, write, getattr,
#               walk_getattr_clunk, create_unlink, readdir, ls_l, conns; conns_busy: 1,000 busy
#               connections alone and beside 10,000 idle ones)
#   --busy-conns, --idle-conns  the conns_busy cells' sizes (default 1,000 and 10,000)
#   --server-spec  an extra server; templates take {port} {path} {fd} {dir}, see
#               bench/p9bench/matrix.h. P9XD_ANAME sets p9xd's attach name (default: empty).
#
# The export tree lives on tmpfs (/dev/shm) so that the disk is not what is measured;
# P9BENCH_WORK_PARENT=DIR puts it on DIR's filesystem instead (e.g. an ext4 mount, to measure
# a disk filesystem's page cache). Needs
# build/bench/p9bench/p9bench (scripts/build.sh) and diod (scripts/setup.sh). Run as root:
# diod exports as root, and 1,000 connections need a raised descriptor limit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${P9X_BUILD_DIR:-$root/build}
invocation="bench/run-matrix.sh${*:+ $*}"
quick=0 pin=0 servers="p9xd,diod" out="" only=""
extra_specs=()
conn_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --pin) pin=1; shift ;;
    --servers) servers=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --server-spec) extra_specs+=("$2"); shift 2 ;;
    --busy-conns|--idle-conns) conn_args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "run-matrix.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

p9bench=${P9BENCH:-$build/bench/p9bench/p9bench}
if [[ ! -x "$p9bench" ]]; then
  echo "run-matrix.sh: $p9bench not built (run scripts/build.sh)" >&2
  exit 2
fi
[[ -z "$out" ]] && out=$build/bench-results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
work=$(mktemp -d "${P9BENCH_WORK_PARENT:-/dev/shm}/p9bench.XXXXXX" 2>/dev/null || mktemp -d /tmp/p9bench.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
# 10,000 idle connections beside 1,000 busy ones take a descriptor each in the client and one or
# two (p9xd: a socket and an eventfd) in the server, which inherits this limit; as root the hard
# limit may be raised. p9bench checks every limit it depends on and says which one is short.
hard=$(ulimit -Hn)
if ((EUID == 0)) && [[ $hard != unlimited ]] && ((hard < 65536)); then
  ulimit -Hn 65536 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

specs=()
IFS=, read -r -a wanted <<<"$servers"
for name in "${wanted[@]}"; do
  case "$name" in
    p9xd|p9xd-nobody)
      p9xd=${P9XD:-$build/server/p9xd}
      if [[ ! -x "$p9xd" ]]; then
        echo "run-matrix.sh: $p9xd not built; skipping $name" >&2
        continue
      fi
      # p9xd-nobody: the same server, every session attached as nobody (uid 65534), so that p9xd
      # running as root switches credentials (fsuid, fsgid, groups, capabilities) per user.
      uid=0
      [[ $name == p9xd-nobody ]] && uid=65534
      specs+=("$name|tcp=$p9xd --listen tcp:127.0.0.1:{port} --export {dir} --max-connections 16384|unix=$p9xd --listen unix:{path} --export {dir}|aname=${P9XD_ANAME:-}|uid=$uid")
      ;;
    diod)
      if ! command -v diod >/dev/null; then
        echo "run-matrix.sh: diod not installed (scripts/setup.sh); skipping diod" >&2
        continue
      fi
      # -n no auth, -N no user database (root may attach), -c /dev/null ignores /etc/diod.conf.
      # diod 1.0.24 listens only on IP:PORT; over a unix socket it serves one connection per
      # process on an inherited descriptor (-r/-w), so that is how it gets a unix transport.
      diod_flags="-f -n -N -c /dev/null -L stderr"
      specs+=("diod|tcp=diod $diod_flags -l 127.0.0.1:{port} -e {dir}|unix=diod $diod_flags -r {fd} -w {fd} -e {dir}|aname={dir}")
      ;;
    *) echo "run-matrix.sh: unknown server $name (use --server-spec)" >&2; exit 64 ;;
  esac
done
specs+=("${extra_specs[@]}")
if [[ ${#specs[@]} -eq 0 ]]; then
  echo "run-matrix.sh: no server to benchmark" >&2
  exit 2
fi

args=(matrix --out "$out" --work "$work" --command-line "$invocation")
((quick)) && args+=(--quick)
((pin)) && args+=(--pin)
[[ -n "$only" ]] && args+=(--only "$only")
args+=("${conn_args[@]}")
for spec in "${specs[@]}"; do args+=(--server "$spec"); done

# The codec and qid-map rows come from their Google Benchmark binaries, when built (full runs).
if ((!quick)); then
  for name in codec_bench qid_map_bench; do
    bin=$build/bench/$name
    [[ -x "$bin" ]] || continue
    echo "run-matrix.sh: running $name" >&2
    if timeout 300 "$bin" --benchmark_min_time=0.1 --benchmark_format=console --benchmark_out_format=json \
        --benchmark_out="$out/$name.json" >"$out/$name.txt" 2>&1; then
      args+=(--gbench "$out/$name.json")
    else
      echo "run-matrix.sh: $name failed or timed out (see $out/$name.txt)" >&2
    fi
  done
fi

# p9bench exits 1 when a cell could not be measured (e.g. diod's EIO on pipelined walks): the
# charts are drawn all the same (such a cell shows "n/a"), and the status is passed on.
status=0
"$p9bench" "${args[@]}" || status=$?
if [[ -f "$out/results.json" ]]; then
  python3 "$root/bench/plot-matrix.py" "$out/results.json" "$out" >&2 || status=1
fi
exit "$status"
