#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# compare_servers.sh P9X_CONFORM REPORT_DIR
#
# CTest driver: renders REPORT_DIR/compare.html, p9xd (both dialects), diod and nfs-ganesha side by
# side, from the JSON reports that the conformance runs of the same test command left in
# REPORT_DIR (Conformance.P9xd.* and Conformance.Peer.*.auto). The p9xd reports must be there;
# a peer's is used when its run took place (the peer runs need root and are skipped otherwise:
# the page then says so by not having that column, and this script prints which is missing).
set -u
conform=$1 dir=$2
inputs=()
for name in p9xd-xqid p9xd-legacy diod-auto ganesha-auto; do
  if [[ -f "$dir/$name.json" ]]; then
    inputs+=("$dir/$name.json")
  elif [[ $name == p9xd-* ]]; then
    echo "FAIL: $dir/$name.json is missing (Conformance.P9xd.* writes it)"
    exit 1
  else
    echo "note: $dir/$name.json is missing (its peer run was skipped or has not run): no column for it"
  fi
done
"$conform" compare "${inputs[@]}" --html "$dir/compare.html" || exit 1
rows=$(grep -c '<tr class="row"' "$dir/compare.html")
cases=$(python3 -c 'import json, sys; print(len({c["name"] for f in sys.argv[1:] for c in json.load(open(f))["cases"]}))' "${inputs[@]}")
[[ $rows -eq $cases ]] || { echo "FAIL: compare.html has $rows case rows, the reports $cases distinct cases"; exit 1; }
echo "PASS: $dir/compare.html: ${#inputs[@]} servers, $rows cases"
