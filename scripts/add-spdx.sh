#!/usr/bin/env bash
# Adds the licence line "SPDX-License-Identifier: MIT" to every source file of p9x that lacks it,
# in the file's comment syntax, as its first line (after a #! line, and after the title line of
# a scdoc page, which must come first). Idempotent: a file that has the line is left alone.
#
#   scripts/add-spdx.sh           add the line where it is missing, and list the files changed
#   scripts/add-spdx.sh --check   change nothing; list the files without it, exit 1 if any
#
# Source files: the files git tracks with these names: *.cc *.h *.c *.proto (//), *.sh *.py
# *.cmake CMakeLists.txt *.service *.socket and extension-less scripts starting with #! (#),
# *.lua (--), *.scd (;). Left out: generated files (a "GENERATED" in their first three lines:
# p9gen's and the dissector generator's outputs, which their generators write), linux/ (the
# kernel patch series: GPL-2.0, licensed like the files it changes), qemu/ (GPL-2.0-or-later),
# and data (vectors, fuzz corpora, expected lists, documents).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
[[ "${1:-}" == --check ]] && check=1
tag="SPDX-License-Identifier: MIT"

comment_for() {  # FILE -> the comment prefix, or nothing when the file is not a source file
  local f=$1
  case "$f" in
    linux/* | qemu/* | */corpus/*) return ;;
    *.cc | *.h | *.c | *.proto) echo "//" ;;
    *.sh | *.py | *.cmake | */CMakeLists.txt | CMakeLists.txt | *.service | *.socket) echo "#" ;;
    *.lua) echo "--" ;;
    *.scd) echo ";" ;;
    *.*) ;;
    *) if [[ "$(head -c 2 "$root/$f" | tr -d '\0')" == "#!" ]]; then echo "#"; fi ;;
  esac
}

missing=()
while IFS= read -r f; do
  [[ -f "$root/$f" ]] || continue
  prefix=$(comment_for "$f")
  [[ -n "$prefix" ]] || continue
  head -n 3 "$root/$f" | grep -q GENERATED && continue
  head -n 5 "$root/$f" | grep -q "SPDX-License-Identifier:" && continue
  missing+=("$f")
  ((check)) && continue
  line="$prefix $tag"
  first=$(head -n 1 "$root/$f")
  # After a #! line, and after a scdoc page's title line: both must stay first.
  if [[ "$first" == '#!'* || "$f" == *.scd ]]; then
    { printf '%s\n%s\n' "$first" "$line"; tail -n +2 "$root/$f"; } >"$root/$f.spdx"
  else
    { printf '%s\n' "$line"; cat "$root/$f"; } >"$root/$f.spdx"
  fi
  chmod --reference="$root/$f" "$root/$f.spdx"
  mv "$root/$f.spdx" "$root/$f"
done < <(git -C "$root" ls-files)

if ((check)); then
  if ((${#missing[@]})); then
    printf 'add-spdx: no licence line: %s\n' "${missing[@]}"
    echo "add-spdx: ${#missing[@]} source files without the licence line (run scripts/add-spdx.sh)"
    exit 1
  fi
  echo "add-spdx: every source file has the licence line"
else
  ((${#missing[@]} == 0)) || printf 'add-spdx: added to %s\n' "${missing[@]}"
  echo "add-spdx: ${#missing[@]} files changed"
fi
