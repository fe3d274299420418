#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CTest's smoke of the side-by-side matrix: runs bench/run-matrix.sh --quick against
# p9xd (and diod when installed and running as root, which diod's export needs), then checks
# with bench/check-results.py that every cell of the grid exists and holds a number. It asserts
# nothing about speed.
#
#   bench/smoke.sh OUT_DIR      (P9BENCH, P9XD: the binaries; CTest sets both)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/smoke.sh OUT_DIR}
servers=p9xd
if [[ $(id -u) -eq 0 ]] && command -v diod >/dev/null; then servers=p9xd,diod; fi
rm -rf "$out"
# run-matrix.sh exits 1 when any cell recorded an error (diod answers the pipelined walk with EIO),
# so its status alone does not decide: check-results.py does, and requires p9xd to be complete.
"$root/bench/run-matrix.sh" --quick --servers "$servers" --out "$out" >"$out.log" 2>&1 || true
if [[ ! -f "$out/results.json" ]]; then
  tail -n 40 "$out.log" >&2
  echo "smoke.sh: run-matrix.sh wrote no results.json" >&2
  exit 1
fi
python3 "$root/bench/check-results.py" "$out/results.json" --require-server p9xd
# The charts: well-formed SVG, one bar for every cell that has a number beside a floor.
python3 - "$out" <<'EOF_PLOTS'
import json, pathlib, sys, xml.etree.ElementTree as ET
out = pathlib.Path(sys.argv[1])
ns = "{http://www.w3.org/2000/svg}"
bars = 0
for name in ("sequential", "metadata", "connections"):
    svg = ET.parse(out / f"plot-{name}.svg").getroot()
    bars += sum(1 for r in svg.iter(ns + "rect") if r.find(ns + "title") is not None)
cells = sum(1 for r in json.loads((out / "results.json").read_text())["results"]
            if not r.get("error") and r.get("floor") and r.get("value"))
if bars != cells:
    sys.exit(f"smoke.sh: the charts have {bars} bars, results.json {cells} cells with a number and a floor")
print(f"smoke.sh: the charts have a bar for each of the {cells} measured cells")
EOF_PLOTS
rm -rf "$out" "$out.log"
