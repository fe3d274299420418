#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that the C++ lines a change adds or modifies are laid out as .clang-format says, and
# prints the fix as a diff when they are not. Only changed lines are checked: the tree is not
# reformatted wholesale, so older code changes layout only when someone edits it.
#
# usage: scripts/check-format.sh [BASE]
# The change is the working tree against BASE: by default the merge base with main when HEAD is
# not on main (a branch under review), else HEAD~ (the last commit, as on CI's clone of main).
# To fix the lines in place: git diff -U0 BASE -- '*.cc' '*.h' | clang-format-diff -p1 -i
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
format_diff=$(command -v clang-format-diff || command -v clang-format-diff-14 || true)
if [[ -z $format_diff ]]; then
  echo "check-format: clang-format-diff not found: run scripts/setup.sh (Debian package clang-format)" >&2
  exit 1
fi
base=${1:-}
if [[ -z $base ]]; then
  main_ref=
  for ref in main origin/main; do
    if git rev-parse -q --verify "$ref^{commit}" >/dev/null; then main_ref=$ref; break; fi
  done
  if [[ -n $main_ref ]] && [[ $(git rev-parse HEAD) != $(git rev-parse "$main_ref") ]]; then
    base=$(git merge-base HEAD "$main_ref")
  elif git rev-parse -q --verify 'HEAD~^{commit}' >/dev/null; then
    base='HEAD~'
  else
    echo "check-format: no earlier commit to compare with (a shallow clone of one commit); nothing checked"
    exit 0
  fi
fi
# Generated files (codec/messages.inc) are not C++ sources of this kind and are left out.
fixes=$(git diff -U0 -M -C --no-color "$base" -- '*.cc' '*.h' | "$format_diff" -p1)
if [[ -n $fixes ]]; then
  printf '%s\n' "$fixes"
  echo "check-format: the changed lines above are not formatted as .clang-format says (base $base)." >&2
  echo "check-format: fix them with: git diff -U0 $base -- '*.cc' '*.h' | clang-format-diff -p1 -i" >&2
  exit 1
fi
echo "check-format: changed lines since $(git rev-parse --short "$base") are formatted"
