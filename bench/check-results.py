#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks a results.json written by `p9bench matrix` (bench/run-matrix.sh): the smoke test's oracle.

    bench/check-results.py RESULTS.JSON [--require-server NAME]...

Contract: exits 0 when, for every required server (default: every server in the run), every cell
of the matrix exists and holds a finite, positive number beside a finite, positive floor (the
idle-memory rows may be 0 KiB and have no ratio); a server that is not required may leave a cell
without a number only if the cell records why (its `error`, e.g. diod's EIO on pipelined walks).
It never looks at how fast anything was: no timing is asserted. Prints every problem and exits 1
otherwise.
"""
import json
import math
import sys

# The matrix grid: (bench id, transports, msize labels, depths / connection counts).
SEQUENTIAL = ("read", "write")
METADATA = ("walk_getattr_clunk_seq", "walk_getattr_clunk_pipe", "getattr", "create_unlink")
LISTING = ("readdir", "ls_l")
CONNS = ("conns_mix", "conns_p99", "conns_idle_kib")
# Busy connections beside idle ones: one connection count, whatever --busy-conns chose.
CONNS_BUSY = ("conns_busy_mix", "conns_busy_p99", "conns_busy_idle_kib")
IDLE_MEMORY = ("conns_idle_kib", "conns_busy_idle_kib")
MSIZES = (128 << 10, 512 << 10, 1 << 20)


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    path = argv[1]
    required = [argv[i + 1] for i in range(2, len(argv) - 1) if argv[i] == "--require-server"]
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    results = doc.get("results", [])
    servers = [s if isinstance(s, str) else s.get("name") for s in doc.get("servers", [])]
    if not required:
        required = servers
    problems = []
    for name in required:
        if name not in servers:
            problems.append(f"server {name} is not in the run (servers: {servers})")
    by_key = {}
    for r in results:
        by_key.setdefault((r["server"], r["bench"], r["transport"]), []).append(r)

    quick = doc.get("machine", {}).get("mode") == "quick"
    conn_counts = {1, 10, 100} if quick else {1, 100, 1000}
    for server in servers:
        strict = server in required
        # Coverage: every bench, transport, msize and depth of the grid is present.
        for transport in ("tcp", "unix"):
            for bench in SEQUENTIAL:
                cells = by_key.get((server, bench, transport), [])
                have = {(c["msize_requested"], c["depth"]) for c in cells}
                for m in MSIZES:
                    for d in (1, 4):
                        if (m, d) not in have:
                            problems.append(f"{server}: no {bench} cell {transport} msize {m} depth {d}")
            for bench in METADATA + LISTING:
                if not by_key.get((server, bench, transport)):
                    problems.append(f"{server}: no {bench} cell over {transport}")
        for bench in CONNS:
            have = {c["conns"] for c in by_key.get((server, bench, "tcp"), [])}
            for n in sorted(conn_counts - have):
                problems.append(f"{server}: no {bench} cell with {n} connections")
        for bench in CONNS_BUSY:
            if not by_key.get((server, bench, "tcp")):
                problems.append(f"{server}: no {bench} cell")
        # Every cell holds a number (and a floor to compare it with).
        for r in results:
            if r["server"] != server:
                continue
            idle = r["bench"] in IDLE_MEMORY
            ok_value = finite(r.get("value")) and (r["value"] >= 0 if idle else r["value"] > 0)
            ok_floor = finite(r.get("floor")) and (r["floor"] >= 0 if idle else r["floor"] > 0)
            if ok_value and ok_floor:
                continue
            if not strict and r.get("error"):
                continue  # a limitation of that server, recorded in the cell
            problems.append(f"{server}: {r['name']}: value {r.get('value')!r} floor {r.get('floor')!r} "
                            f"error {r.get('error')!r}")
    if problems:
        for p in problems:
            print("check-results:", p, file=sys.stderr)
        return 1
    print(f"check-results: {len(results)} cells, every cell of {', '.join(required)} has a number")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
