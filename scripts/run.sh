#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: installs what is missing, builds, starts p9xd on a built-in default export (the
# multi-filesystem fixture when run as root, else a temporary directory) and runs the whole
# p9x-conform catalogue against it in both dialects, ending with the summary tables.
# (scripts/main-job.sh does the work; this is the README's one command.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/scripts/main-job.sh" "$@"
