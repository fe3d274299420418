#!/usr/bin/env bash
# measure-cost.sh — what 8 more bytes per qid cost the Linux client end to end: one guest boot
# (the test tier's Debian kernel under QEMU TCG) with the patched modules, one p9xd, one export
# (the test fixture, big/ = 10,000 files); the same workload on legacy mounts and then on xqid
# mounts, each operation on a fresh mount (linux/cost-guest.sh), with the 9P traffic captured and
# decoded by `p9x decode`.
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
export P9X_BOOT_TIMEOUT=${P9X_BOOT_TIMEOUT:-1200}   # TCG: the six operations take minutes
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
    m = re.match(r"DATA cost dialect=(\w+) op=(\S+) ms=(\d+) entries=(\d+) rc=(\d+)", line)
    if m:
        ms[(m.group(1), m.group(2))] = (int(m.group(3)), int(m.group(4)))
        print(line.strip(), file=sys.stderr)
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
# Connections in order: run.sh's first mount (legacy: archive and warm-up), then find, ls -lR and
# tar-x on legacy mounts, the same on xqid mounts, and a last legacy mount. The find connection
# reads all of big/ through Rreaddir; the three operations' connections make the byte total.
print(f"| cache={cache}, one run | legacy | xqid | xqid / legacy |")
print("|---|---|---|---|")
for op in ("find", "ls-lR", "tar-x"):
    a, b = ms.get(("legacy", op)), ms.get(("xqid", op))
    if a and b:
        print(f"| `{op}` ({a[1]} files), ms | {a[0]} | {b[0]} | {b[0] / a[0]:.2f} |")
order = {d: sorted(k for k, c in conv.items() if c["dialect"] == d) for d in ("legacy", "xqid")}
ops = {"legacy": order["legacy"][1:4], "xqid": order["xqid"][0:3]}
if len(ops["legacy"]) == 3 and len(ops["xqid"]) == 3:
    L, X = conv[ops["legacy"][0]], conv[ops["xqid"][0]]
    def per(c):
        return sum(c["rreaddir"]) / len(c["rreaddir"]), sum(c["rreaddir"]) / max(c["entries"], 1)
    (lr, le), (xr, xe) = per(L), per(X)
    print(f"| `find big`: Rreaddir replies | {len(L['rreaddir'])} | {len(X['rreaddir'])} | {len(X['rreaddir']) / len(L['rreaddir']):.2f} |")
    print(f"| bytes per Rreaddir | {lr:.0f} | {xr:.0f} | {xr / lr:.2f} |")
    print(f"| Rreaddir bytes per entry | {le:.1f} | {xe:.1f} | {xe / le:.2f} |")
    tl = sum(conv[k]["bytes"] for k in ops["legacy"]); tx = sum(conv[k]["bytes"] for k in ops["xqid"])
    print(f"| 9P bytes on the wire, all three operations | {tl} | {tx} | {tx / tl:.2f} |")
else:
    print(f"(connections not as expected: {order})")
PY
rm -rf "$work"
