#!/usr/bin/env bash
# measure-cost.sh — what 8 more bytes per qid cost the Linux client end to end: one guest boot
# (the test tier's Debian kernel under QEMU TCG) with the patched modules, one p9xd, one export
# (the test fixture, big/ = 10,000 files); the same workload on a legacy mount and then an xqid
# mount (linux/cost-guest.sh), with the 9P traffic captured and decoded by `p9x decode`.
# usage (root): linux/measure-cost.sh [--cache MODE] [--build DIR]   (default loose, build/)
# Prints a Markdown table: milliseconds per operation, and bytes per Rreaddir and per entry.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=loose build=$root/build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "measure-cost: unknown argument $1" >&2; exit 2 ;;
  esac
done
modules=$("$here/build-modules.sh" | tail -1)
work=$(mktemp -d /tmp/p9x-cost.XXXXXX)
"$root/tests/linux-client/run.sh" --server-cmd "$build/server/p9xd --listen tcp:127.0.0.1:{PORT} --export {EXPORT} --identity self" \
  --port $((20000 + RANDOM % 20000)) --patched-modules "$modules" --capture --workdir "$work" \
  --cache "$cache" --tests extra --guest-script "$here/cost-guest.sh" >&2
bdir=$work/boots/server-$cache
"$build/client/p9x" --json decode "$bdir/9p.pcapng" > "$work/decoded.json"
python3 - "$bdir/results.txt" "$work/decoded.json" "$cache" <<'PY'
import json, re, sys
results, decoded, cache = sys.argv[1], sys.argv[2], sys.argv[3]
ms = {}
for line in open(results):
    m = re.match(r"DATA cost dialect=(\w+) op=(\S+) ms=(\d+) entries=(\d+)", line)
    if m:
        ms[(m.group(1), m.group(2))] = (int(m.group(3)), int(m.group(4)))
frames = json.load(open(decoded))
conv = {}
for f in frames:
    d = conv.setdefault(f["conversation"], {"dialect": None, "rreaddir": [], "bytes": 0, "entries": 0})
    d["bytes"] += f["size"]
    if f["text"].startswith("Rversion"):
        d["dialect"] = "xqid" if "9P2000.L.xqid" in f["text"] else "legacy"
    if f["text"].startswith("Rreaddir"):
        d["rreaddir"].append(f["size"])
        d["entries"] += f["text"].count("qid=")
# the measured connection of each dialect is the one that read the most directories
best = {}
for c in conv.values():
    if c["dialect"] and len(c["rreaddir"]) > len(best.get(c["dialect"], {"rreaddir": []})["rreaddir"]):
        best[c["dialect"]] = c
print(f"| cache={cache} | legacy | xqid | xqid / legacy |")
print("|---|---|---|---|")
for op in ("ls-lR", "find", "tar-x"):
    a, b = ms.get(("legacy", op)), ms.get(("xqid", op))
    if a and b:
        print(f"| `{op}` ({a[1]} entries), ms | {a[0]} | {b[0]} | {b[0] / a[0]:.2f} |")
L, X = best.get("legacy"), best.get("xqid")
if L and X and L["rreaddir"] and X["rreaddir"]:
    def per(c):
        return sum(c["rreaddir"]) / len(c["rreaddir"]), sum(c["rreaddir"]) / max(c["entries"], 1)
    (lr, le), (xr, xe) = per(L), per(X)
    print(f"| Rreaddir replies | {len(L['rreaddir'])} | {len(X['rreaddir'])} | {len(X['rreaddir']) / len(L['rreaddir']):.2f} |")
    print(f"| bytes per Rreaddir | {lr:.0f} | {xr:.0f} | {xr / lr:.2f} |")
    print(f"| Rreaddir bytes per entry | {le:.1f} | {xe:.1f} | {xe / le:.2f} |")
    print(f"| all 9P bytes on the connection | {L['bytes']} | {X['bytes']} | {X['bytes'] / L['bytes']:.2f} |")
PY
rm -rf "$work"
