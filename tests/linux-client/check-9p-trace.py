#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks one boot's Tversion/Rversion sequence from QEMU's 9p trace (run.sh --trace-9p).

usage: check-9p-trace.py xqid|legacy|fallback TRACE_LOG LABEL

QEMU logs v9fs_version (the client's offer) and v9fs_version_return (the answer) for every
Tversion; the guest mounts several times per boot, so the log holds one or more sessions:
  xqid      every offer is 9P2000.L.xqid and every answer 9P2000.L.xqid: one round trip each
  legacy    every offer is 9P2000.L and every answer 9P2000.L (the client never offers xqid)
  fallback  each mount is exactly two Tversions: 9P2000.L.xqid answered "unknown" (a server
            that does not know the dialect), then 9P2000.L answered 9P2000.L: one extra
            round trip, no more
Exit 0 and one PASS line, or exit 1 with what was seen.
"""
import re
import sys

EVENT = re.compile(r"v9fs_version(_return)? tag \d+ id \d+ msize (\d+) version (\S*)")


def main():
    mode, path, label = sys.argv[1], sys.argv[2], sys.argv[3]
    pairs, offer = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = EVENT.search(line)
            if not m:
                continue
            if m.group(1) is None:
                if offer is not None:
                    pairs.append((offer, None))  # a Tversion QEMU did not answer with Rversion
                offer = m.group(3)
            else:
                pairs.append((offer, m.group(3)))
                offer = None
    if offer is not None:
        pairs.append((offer, None))
    seen = " ".join(f"{o}>{a}" for o, a in pairs) or "no Tversion"
    if mode == "xqid":
        ok = bool(pairs) and all(p == ("9P2000.L.xqid", "9P2000.L.xqid") for p in pairs)
        want = "every Tversion 9P2000.L.xqid answered 9P2000.L.xqid"
    elif mode == "legacy":
        ok = bool(pairs) and all(p == ("9P2000.L", "9P2000.L") for p in pairs)
        want = "every Tversion 9P2000.L answered 9P2000.L"
    elif mode == "fallback":
        mounts = len(pairs) // 2
        ok = bool(pairs) and len(pairs) % 2 == 0 and pairs == [
            ("9P2000.L.xqid", "unknown"), ("9P2000.L", "9P2000.L")] * mounts
        want = "per mount: 9P2000.L.xqid answered unknown, then 9P2000.L answered 9P2000.L"
    else:
        print(f"check-9p-trace: unknown mode {mode}", file=sys.stderr)
        return 2
    if ok:
        print(f"PASS {label}: {len(pairs)} Tversions, {want}")
        return 0
    print(f"FAIL {label}: want {want}; QEMU saw {seen[:400]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
