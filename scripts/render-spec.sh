#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Renders spec/*.md and spec/evidence/*.md to HTML under build/spec-html/ (or OUT_DIR) with
# pandoc, and checks every internal link and #fragment of the result.
# usage: scripts/render-spec.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/spec-html}
command -v pandoc >/dev/null || { echo "render-spec: pandoc is missing (scripts/setup.sh installs it)" >&2; exit 1; }
exec python3 "$root/spec/render/render.py" --check "$root" "$out"
