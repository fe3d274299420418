#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Counts the allocations p9xd makes per request: starts p9xd with the allocation counter
# (alloc_counter.cc) preloaded, and for each benchmark runs two p9bench cells of different
# lengths. A snapshot of the count is taken before and after each; the difference of the two
# cells' counts divided by the difference of their operations cancels what a cell costs once
# (connect, Tversion, Tattach, the set-up walks; both cells warm up for the same 0.2 s), leaving
# the allocations per operation.
#
#   bench/alloc/count-allocations.sh [--benches getattr,wgc,read,write] [--msize N] [--depth D]
#                                    [--transport tcp|unix] [--under DIR]
# Needs build/server/p9xd, build/bench/p9bench/p9bench and build/bench/alloc/liballoc_counter.so
# (scripts/build.sh); P9X_BUILD_DIR picks another build tree, P9XD another p9xd binary. The
# export is a fresh directory on /dev/shm, or under DIR (e.g. a disk filesystem, where pipelined
# Treads and Twrites go to the worker pool), with the matrix's files (data, wdata, f, create/),
# removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${P9X_BUILD_DIR:-$root/build}
benches=getattr,wgc,read,write msize=$((128 * 1024)) depth=1 transport=tcp under=/dev/shm
while (($#)); do
  case $1 in
    --benches) benches=$2; shift 2 ;;
    --msize) msize=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --under) under=$2; shift 2 ;;
    *) sed -n '2,17p' "$0" >&2; exit 64 ;;
  esac
done
p9xd=${P9XD:-$build/server/p9xd} p9bench=$build/bench/p9bench/p9bench shim=$build/bench/alloc/liballoc_counter.so
for f in "$p9xd" "$p9bench" "$shim"; do
  [[ -e $f ]] || { echo "count-allocations.sh: $f not built (scripts/build.sh)" >&2; exit 1; }
done

work=$(mktemp -d "$under/p9x-alloc.XXXXXX")
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/export/create" "$work/export/big"
head -c $((64 << 20)) /dev/urandom >"$work/export/data"
cp "$work/export/data" "$work/export/wdata"
head -c 4096 /dev/urandom >"$work/export/f"
counts=$work/counts

if [[ $transport == unix ]]; then
  listen=unix:$work/sock connect=$listen
else
  # Port 0 is not offered by --listen here; pick a free one from the kernel.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  listen=tcp:127.0.0.1:$port connect=$listen
fi
P9X_ALLOC_COUNTER_OUT=$counts LD_PRELOAD=$shim "$p9xd" --listen "$listen" --export "$work/export" &
pid=$!
for _ in $(seq 100); do
  "$p9bench" run --connect "$connect" --bench getattr --seconds 0.05 >/dev/null 2>&1 && break
  sleep 0.1
done

snapshot() {
  local before
  before=$(wc -l <"$counts" 2>/dev/null || echo 0)
  kill -USR2 "$pid"
  for _ in $(seq 100); do
    (($(wc -l <"$counts" 2>/dev/null || echo 0) > before)) && break
    sleep 0.01
  done
  tail -n 1 "$counts" | awk '{print $2}'
}
ops_of() { sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<<"$1"; }
requests_per_op() { case $1 in wgc | wgc-pipe) echo 3 ;; *) echo 1 ;; esac; }

printf '%-8s %-5s %8s %6s %12s %14s\n' bench depth msize ops allocs/op allocs/request
IFS=, read -ra list <<<"$benches"
for b in "${list[@]}"; do
  s0=$(snapshot)
  short=$("$p9bench" run --connect "$connect" --bench "$b" --msize "$msize" --depth "$depth" --seconds 1)
  s1=$(snapshot)
  long=$("$p9bench" run --connect "$connect" --bench "$b" --msize "$msize" --depth "$depth" --seconds 3)
  s2=$(snapshot)
  python3 - "$b" "$depth" "$msize" "$s0" "$s1" "$s2" "$(ops_of "$short")" "$(ops_of "$long")" \
    "$(requests_per_op "$b")" <<'PY'
import sys
b, depth, msize = sys.argv[1:4]
s0, s1, s2, ops_short, ops_long, per_op = map(int, sys.argv[4:])
ops = ops_long - ops_short
allocs = (s2 - s1) - (s1 - s0)
per = allocs / ops if ops > 0 else float("nan")
print(f"{b:<8} {depth:<5} {msize:>8} {ops:>6} {per:>12.3f} {per / per_op:>14.3f}")
PY
done
