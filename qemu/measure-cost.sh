#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# measure-cost.sh — what xqid costs over virtio against QEMU's legacy multidevs=remap: one guest
# boot (the test tier's Debian kernel under QEMU TCG) with the patched modules, one patched QEMU
# serving the test fixture (big/ = 10,000 files) with -virtfs ...,multidevs=remap, so legacy mounts
# get remap and xqid mounts their own qids from the same QEMU. The guest half is
# linux/cost-guest.sh with P9X_COST_ROUNDS: `find big`, `ls -lR big` and a 2,000-file tar extract,
# each on a fresh mount, ROUNDS times per dialect, alternating which dialect goes first. Rreaddir
# sizes come from QEMU's trace (v9fs_readdir_return, one segment per mount after its Tversion).
# usage (root): qemu/measure-cost.sh [--rounds N] [--cache MODE]   (default 3, loose)
# Prints a Markdown table: median milliseconds per operation and dialect, the median and range of
# the per-round ratios xqid/remap, and Rreaddir bytes for `find big`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rounds=3 cache=loose
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "measure-cost: unknown argument $1" >&2; exit 2 ;;
  esac
done
qemu=$("$here/build-qemu.sh" | tail -1)
modules=$("$root/linux/build-modules.sh" | tail -1)
work=$(mktemp -d /tmp/p9x-qemu-cost.XXXXXX)
{ echo "P9X_COST_ROUNDS=$rounds"; cat "$root/linux/cost-guest.sh"; } > "$work/guest.sh"
export P9X_BOOT_TIMEOUT=${P9X_BOOT_TIMEOUT:-3600}   # TCG: 6 x ROUNDS operations take minutes
"$root/tests/linux-client/run.sh" --qemu "$qemu" --virtfs remap --trace-9p --patched-modules "$modules" \
  --workdir "$work" --cache "$cache" --tests extra --guest-script "$work/guest.sh" >&2
bdir=$work/boots/qemu-9p-remap-$cache
python3 - "$bdir/results.txt" "$bdir/9p-trace.log" "$cache" "$rounds" <<'PY'
import re, statistics, sys
results, trace, cache, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
runs = []   # (dialect, op, round, ms, entries) in the order the guest ran them
for line in open(results):
    m = re.match(r"DATA cost dialect=(\w+) op=(\S+) ms=(\d+) entries=(\d+) rc=\d+ round=(\d+)", line)
    if m:
        runs.append((m.group(1), m.group(2), int(m.group(5)), int(m.group(3)), int(m.group(4))))
        print(line.strip(), file=sys.stderr)
# One segment per Tversion: the mount's answered dialect and its Rreaddirs' entry bytes.
segments = []
for line in open(trace, errors="replace"):
    v = re.search(r"v9fs_version_return tag \d+ id \d+ msize \d+ version (\S+)", line)
    if v:
        segments.append({"dialect": "xqid" if v.group(1) == "9P2000.L.xqid" else "legacy", "rreaddir": []})
    r = re.search(r"v9fs_readdir_return tag \d+ id \d+ count (\d+)", line)
    if r and segments and int(r.group(1)) > 0:
        segments[-1]["rreaddir"].append(int(r.group(1)))
# The first mount is run.sh's (legacy: the archive and the warm-up), then one per measured run.
measured = segments[1:1 + len(runs)]
name = {"legacy": "remap", "xqid": "xqid"}
print(f"| cache={cache}, {rounds} rounds, TCG guest | remap, ms (median) | xqid, ms (median) "
      f"| xqid / remap per round: median (min–max) |")
print("|---|---|---|---|")
for op in ("find", "ls-lR", "tar-x"):
    ms = {d: {r: t for (dd, o, r, t, _) in runs if dd == d and o == op} for d in ("legacy", "xqid")}
    entries = max((e for (_, o, _, _, e) in runs if o == op), default=0)
    ratios = [ms["xqid"][r] / ms["legacy"][r] for r in ms["legacy"] if r in ms["xqid"] and ms["legacy"][r]]
    if not ratios:
        continue
    print(f"| `{op}` ({entries} files) | {statistics.median(ms['legacy'].values()):.0f} "
          f"| {statistics.median(ms['xqid'].values()):.0f} "
          f"| {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |")
if len(measured) == len(runs) and all(s["dialect"] == d for s, (d, *_ ) in zip(measured, runs)):
    finds = {d: [s for s, run in zip(measured, runs) if run[0] == d and run[1] == "find"] for d in ("legacy", "xqid")}
    per = {}
    for d, segs in finds.items():
        replies = [len(s["rreaddir"]) for s in segs]
        total = [sum(s["rreaddir"]) for s in segs]
        # big/ holds 10,000 six-character names, plus . and ..
        per[d] = (statistics.median(replies), statistics.median(total) / statistics.median(replies),
                  statistics.median(total) / 10002)
    L, X = per["legacy"], per["xqid"]
    print(f"| `find big`: Rreaddir replies (msize 65536) | {L[0]:.0f} | {X[0]:.0f} | {X[0] / L[0]:.2f} |")
    print(f"| entry bytes per Rreaddir | {L[1]:.0f} | {X[1]:.0f} | {X[1] / L[1]:.2f} |")
    print(f"| entry bytes per directory entry | {L[2]:.1f} | {X[2]:.1f} | {X[2] / L[2]:.2f} |")
else:
    print(f"(mounts in QEMU's trace not as expected: {[s['dialect'] for s in segments]})")
PY
rm -rf "$work"
