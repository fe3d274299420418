#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_against_p9xd.sh P9X_CONFORM P9XD DIALECT EXPECTED_LIST [--reports DIR] [P9X-CONFORM OPTIONS...]
#
# CTest driver (label conformance): starts p9xd on a fresh export, listening on a unix socket,
# and runs the whole p9x-conform catalogue against it in DIALECT (legacy or xqid) with
# --local-root (ground truth) and the expected-failure list (empty for p9xd). Prints the summary.
# As root the export is the seed's multi-filesystem fixture (tests/fixture/make-fixture.sh: two
# byte-identical ext4 images and a tmpfs), so the identity cases run; otherwise a plain
# temporary directory, and those cases are skipped with the reason.
# --reports DIR: keep the JSON, JUnit and HTML reports there (p9xd-DIALECT.{json,xml,html}).
# Exit 77 (CTest: skipped) only when the p9xd binary does not exist.
set -u
conform=$1 p9xd=$2 dialect=$3 expected=$4 report_dir=
shift 4
if [[ "${1:-}" == --reports ]]; then report_dir=$2; shift 2; fi
# The rest go to p9x-conform (e.g. --profile xqid).
if [[ ! -x "$p9xd" ]]; then
  echo "SKIPPED: $p9xd does not exist (the server has not been built yet)"
  exit 77
fi
work=$(mktemp -d /tmp/p9x-conform-p9xd.XXXXXX)
export_dir=$work/export
mkdir -p "$export_dir"
fixture=$(cd "$(dirname "$0")/../tests/fixture" && pwd)
use_fixture=0
if [[ $(id -u) -eq 0 && -x "$fixture/make-fixture.sh" ]]; then
  if P9X_FIXTURE_BIG=0 "$fixture/make-fixture.sh" "$export_dir" >"$work/fixture.log" 2>&1; then
    use_fixture=1
  else
    echo "run_against_p9xd.sh: the fixture could not be built (running on a plain directory):"
    cat "$work/fixture.log"
  fi
fi
sock=$work/p9xd.sock
# As root, p9xd runs with supplementary group 0 (what sudo gives), so that the credential cases
# see whether any of the server's own groups reach the users it serves.
launcher=()
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then launcher=(setpriv --groups 0 --); fi
"${launcher[@]}" "$p9xd" --listen "unix:$sock" --export "$export_dir" >"$work/p9xd.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [[ $use_fixture -eq 1 ]]; then "$fixture/teardown-fixture.sh" "$export_dir" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do
  [[ -S "$sock" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -S "$sock" ]]; then
  echo "p9xd did not start listening on $sock; its log:"
  cat "$work/p9xd.log"
  exit 1
fi
reports=()
if [[ -n "$report_dir" ]]; then
  mkdir -p "$report_dir"
  reports=(--json "$report_dir/p9xd-$dialect.json" --junit "$report_dir/p9xd-$dialect.xml"
           --html "$report_dir/p9xd-$dialect.html")
fi
"$conform" --target "unix:$sock" --dialect "$dialect" --local-root "$export_dir" \
  --expected "$expected" --timeout 5000 "${reports[@]}" "$@"
status=$?
if [[ $status -ne 0 ]]; then
  echo "--- p9xd log (last 40 lines) ---"
  tail -n 40 "$work/p9xd.log"
fi
exit $status
