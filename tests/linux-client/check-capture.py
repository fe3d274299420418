#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-capture.py MODE DECODED.json LABEL — checks one boot's 9P traffic, as `p9x --json decode`
printed it, against what the patched Linux client must send. MODE:
  xqid      every connection: one Tversion, offering 9P2000.L.xqid, answered 9P2000.L.xqid; every
            frame after it decoded in the xqid dialect; Rattach 28 bytes and Rgetattr 168 (21-byte qids)
  declined  every connection: one Tversion, offering 9P2000.L.xqid, answered 9P2000.L (a server that
            knows the grammar and declines: no retry), and 13-byte qids (Rattach 20 bytes)
  fallback  every connection: exactly two Tversions, 9P2000.L.xqid then 9P2000.L (one extra round
            trip after a refusal), and 13-byte qids
  legacy    every connection: one Tversion, offering 9P2000.L, and 13-byte qids
Prints one line per connection; exit 1 if any check fails."""
import json
import re
import sys

mode, path, label = sys.argv[1], sys.argv[2], sys.argv[3]
frames = json.load(open(path))
by_conv = {}
for f in frames:
    by_conv.setdefault(f["conversation"], []).append(f)
ok = bool(by_conv)
if not by_conv:
    print(f"  {label}: FAIL no 9P connection in the capture")


def name(f):
    return f["text"].split("{")[0] if f["text"] else ""


def version_string(f):
    m = re.search(r'version="?([^" ]*)', f["text"])
    return m.group(1) if m else "?"


want_qid = 21 if mode == "xqid" else 13
for conv, fs in sorted(by_conv.items()):
    problems = []
    tv = [f for f in fs if name(f) == "Tversion"]
    rv = [f for f in fs if name(f) == "Rversion"]
    offers = [version_string(f) for f in tv]
    answers = [version_string(f) for f in rv]
    want_offers = {"xqid": ["9P2000.L.xqid"], "declined": ["9P2000.L.xqid"],
                   "fallback": ["9P2000.L.xqid", "9P2000.L"], "legacy": ["9P2000.L"]}[mode]
    if offers != want_offers:
        problems.append(f"Tversion offers {offers}, want {want_offers}")
    if not answers or answers[-1] != ("9P2000.L.xqid" if mode == "xqid" else "9P2000.L"):
        problems.append(f"Rversion answers {answers}")
    after = fs[fs.index(rv[-1]) + 1:] if rv else []
    dialects = {f["dialect"] for f in after}
    want_dialect = "xqid" if mode == "xqid" else "legacy"
    if dialects - {want_dialect}:
        problems.append(f"frames after the Rversion decoded as {sorted(dialects)}")
    if any(f.get("dialect_inferred") for f in fs):
        problems.append("dialect inferred, not taken from the Rversion")
    sizes = {}
    for f in after:
        sizes.setdefault(name(f), set()).add(f["size"])
    want = {"Rattach": 7 + want_qid, "Rgetattr": 147 + want_qid, "Rmkdir": 7 + want_qid,
            "Rlopen": 11 + want_qid, "Rlcreate": 11 + want_qid}
    for msg, size in want.items():
        if msg in sizes and sizes[msg] != {size}:
            problems.append(f"{msg} sizes {sorted(sizes[msg])}, want {size} ({want_qid}-byte qid)")
    walks = sorted(s for s in sizes.get("Rwalk", set()) if s > 9)
    if any((s - 9) % want_qid for s in walks):
        problems.append(f"Rwalk sizes {walks} are not 9 + {want_qid}k")
    if "Rattach" not in sizes:
        problems.append("no Rattach")
    summary = (f"Tversion {offers} -> {answers}; {len(after)} frames after it, "
               f"Rattach {sorted(sizes.get('Rattach', []))}, Rgetattr {sorted(sizes.get('Rgetattr', []))}, "
               f"Rwalk {walks[:4]}")
    if problems:
        ok = False
        print(f"  {label} conversation {conv}: FAIL {'; '.join(problems)} ({summary})")
    else:
        print(f"  {label} conversation {conv}: PASS {summary}")
sys.exit(0 if ok else 1)
