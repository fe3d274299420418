#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_options.sh PROGRAM PAGE.scd
#
# Fails when an option that PROGRAM's --help prints is not named in its manual page source: every
# long option (--name) anywhere in the help text, and every short option (-x) in an option list
# or a usage line. When the help has a "commands:" section (p9x), each command's
# `PROGRAM COMMAND --help` is read too. Data-driven: an option added to --help needs no change
# here, only a line in the page.
set -euo pipefail
program=$1 page=$2
[[ -f "$page" ]] || { echo "check_options: no page $page" >&2; exit 2; }

help=$("$program" --help 2>&1 || true)
[[ -n "$help" ]] || { echo "check_options: $program --help printed nothing" >&2; exit 2; }
texts=("$help")
sources=("$(basename "$program") --help")
# The command names: the first word of each indented line of the "commands:" section.
commands=$(awk '/^commands:/ {in_list = 1; next} in_list && /^$/ {exit} in_list && /^  [a-z]/ {print $1}' <<<"$help")
for c in $commands; do
  texts+=("$("$program" "$c" --help 2>&1 || true)")
  sources+=("$(basename "$program") $c --help")
done

# Page text without scdoc's markup and escapes, so that *--json* and \*-l\* both read as words.
page_text=$(sed -e 's/\\\*/*/g' "$page" | tr -d '*_')
documented() { grep -qP -- "(?<![A-Za-z0-9-])\Q$1\E(?![A-Za-z0-9-])" <<<"$page_text"; }

missing=0 checked=0
for i in "${!texts[@]}"; do
  # Long options anywhere; short ones at the start of an option line, after ", " or inside [ ].
  options=$( { grep -oP -- '(?<![A-Za-z0-9-])--[a-z][a-z0-9-]*' <<<"${texts[$i]}" || true
               grep -oP -- '(?:^\s+|, |\[)\K-[A-Za-z](?=[\s,\]]|$)' <<<"${texts[$i]}" || true; } | sort -u)
  for option in $options; do
    checked=$((checked + 1))
    if ! documented "$option"; then
      echo "check_options: $option (printed by '${sources[$i]}') is not in $(basename "$page")"
      missing=$((missing + 1))
    fi
  done
done
((checked > 0)) || { echo "check_options: found no option in the help of $program" >&2; exit 2; }
echo "check_options: $(basename "$page"): $checked options checked from ${#texts[@]} help texts, $missing missing"
((missing == 0))
