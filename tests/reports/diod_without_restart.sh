#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# diod_without_restart.sh P9X_CONFORM REPORT_DIR
#
# CTest driver (label peers): the whole catalogue against diod over the fixture without
# --restart-cmd (conformance/run_against_peer.sh with P9X_CONFORM_NO_RESTART=1). diod dies on the
# first R-message sent to it, so the run must read "N real failures, then the server died in case
# X (...), M cases not run.", count those M cases as NOT_RUN in the JSON report (not as failures),
# and exit 1. Exit 77 (skipped) when run_against_peer.sh skips (not root, diod missing).
set -u
conform=$1 report_dir=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$report_dir"
out=$(mktemp /tmp/p9x-diod-no-restart.XXXXXX)
trap 'rm -f "$out"' EXIT
P9X_CONFORM_NO_RESTART=1 "$root/conformance/run_against_peer.sh" "$conform" diod auto \
  "$root/conformance/expected/diod.txt" "$report_dir/no-restart" >"$out" 2>&1
status=$?
cat "$out"
[[ $status -eq 77 ]] && exit 77
fail() { echo "FAIL: $*"; exit 1; }
[[ $status -eq 1 ]] || fail "exit status $status, expected 1 (diod dies and is not restarted)"
line=$(grep -E '^[0-9]+ real failures?, then the server died in case [A-Za-z.]+ \(.*\), [0-9]+ cases? not run\.$' "$out") ||
  fail "no \"N real failures, then the server died in case X, M cases not run.\" line"
not_run=$(sed -E 's/.*, ([0-9]+) cases? not run\.$/\1/' <<<"$line")
json_not_run=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(sum(c["status"] == "NOT_RUN" for c in r["cases"]) if r["summary"]["not_run"] == sum(c["status"] == "NOT_RUN" for c in r["cases"]) else -1)' \
  "$report_dir/no-restart/diod-auto.json") || fail "no JSON report"
[[ "$json_not_run" == "$not_run" ]] || fail "the summary says $not_run not run, the JSON report $json_not_run"
((not_run > 0)) || fail "no case reported not run"
echo "PASS: $line"
