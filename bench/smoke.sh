#!/usr/bin/env bash
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
rm -rf "$out" "$out.log"
