#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# server_dies.sh P9X_CONFORM P9XD
#
# CTest driver: p9x-conform against a server that dies in the middle of the run (p9xd behind
# dying_proxy.py, which exits when case 4 makes its scratch directory) and is not restarted. The
# runner must report cases 1-3 as they ran, case 4 as the case during which the server died, and
# every later case as "not run" (not as failures) in the terminal summary, the JSON report and the
# JUnit report; and it must still exit 1.
set -u
conform=$1 p9xd=$2
here=$(cd "$(dirname "$0")" && pwd)
filter='Required.Io.*'
work=$(mktemp -d /tmp/p9x-server-dies.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mapfile -t names < <("$conform" --list --filter "$filter" | sed -n 's/^\([A-Za-z]*\.[A-Za-z]*\.[A-Za-z]*\).*/\1/p')
((${#names[@]} >= 6)) || fail "expected at least 6 cases matching $filter, got ${#names[@]}"
mkdir "$work/export"
"$p9xd" --listen "unix:$work/p9xd.sock" --export "$work/export" >"$work/p9xd.log" 2>&1 &
pids+=($!)
python3 "$here/dying_proxy.py" "$work/proxy.sock" "$work/p9xd.sock" c4 &
pids+=($!)
for _ in $(seq 100); do [[ -S "$work/p9xd.sock" && -S "$work/proxy.sock" ]] && break; sleep 0.1; done
[[ -S "$work/proxy.sock" ]] || fail "the proxy did not start"

"$conform" --target "unix:$work/proxy.sock" --filter "$filter" --timeout 2000 --json "$work/r.json" \
  --junit "$work/r.xml" --html "${P9X_REPORTS_DIR:-$work}/server-died.html" >"$work/out.txt" 2>&1
status=$?
cat "$work/out.txt"
[[ $status -eq 1 ]] || fail "exit status $status, expected 1 (the server died)"
died_in=${names[3]}
not_run=$((${#names[@]} - 4))
line=$(grep -E "real failures?, then the server died in case $died_in \(" "$work/out.txt") ||
  fail "the summary does not say that the server died in $died_in"
[[ $line == *", $not_run cases not run." ]] || fail "the summary says \"$line\"; expected $not_run cases not run"
grep -q "unexpected failures, $not_run not run\.\$" "$work/out.txt" || fail "the summary line does not count $not_run not run"

python3 - "$work/r.json" "$died_in" "$not_run" "${names[@]}" <<'EOF' || exit 1
import json, sys
report = json.load(open(sys.argv[1]))
died_in, not_run, names = sys.argv[2], int(sys.argv[3]), sys.argv[4:]
cases = {c["name"]: c for c in report["cases"]}
problems = []
if report["server_died_in"] != died_in:
    problems.append(f"server_died_in is {report['server_died_in']!r}, expected {died_in!r}")
for name in names[:3]:
    if cases[name]["status"] != "PASSED":
        problems.append(f"{name} ran before the death: status {cases[name]['status']}")
if cases[died_in]["status"] != "FAILED":
    problems.append(f"{died_in} (the server died during it) is {cases[died_in]['status']}, expected FAILED")
for name in names[4:]:
    c = cases[name]
    if c["status"] != "NOT_RUN" or c["outcome"] != "SERVER_GONE" or died_in not in c["skip_reason"]:
        problems.append(f"{name}: {c['status']} {c['outcome']} {c['skip_reason']!r}, expected NOT_RUN naming {died_in}")
s = report["summary"]
if s["not_run"] != not_run or s["unexpected_failures"] != 1 or s["passed"]:
    problems.append(f"summary {s}: expected {not_run} not run, 1 unexpected failure, not passed")
for p in problems:
    print("FAIL: JSON: " + p)
sys.exit(1 if problems else 0)
EOF
grep -q "errors=\"1\" skipped=\"$not_run\"" "$work/r.xml" || fail "the JUnit report does not have errors=1 and $not_run skipped"
[[ $(grep -c "<skipped message=\"not run: the server stopped answering during $died_in\"/>" "$work/r.xml") -eq $not_run ]] ||
  fail "the JUnit report does not mark the $not_run cases after $died_in as not run"
echo "PASS: the server died in $died_in; $not_run cases reported not run; exit status 1"
