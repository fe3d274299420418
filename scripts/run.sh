#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs p9x's headline demonstration.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --build-only
"$root/scripts/build.sh"
build=${P9X_BUILD_DIR:-$root/build}
exec "$build/tools/codec_demo"
