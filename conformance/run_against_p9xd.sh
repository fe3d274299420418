#!/usr/bin/env bash
# run_against_p9xd.sh P9X_CONFORM P9XD DIALECT EXPECTED_LIST
#
# CTest driver (label conformance): starts p9xd on a fresh temporary export, listening on a unix
# socket, and runs the whole p9x-conform catalogue against it in DIALECT (legacy or xqid) with
# --local-root (ground truth) and the expected-failure list (empty for p9xd). Prints the summary.
# Exit 77 (CTest: skipped) only when the p9xd binary does not exist.
set -u
conform=$1 p9xd=$2 dialect=$3 expected=$4
if [[ ! -x "$p9xd" ]]; then
  echo "SKIPPED: $p9xd does not exist (the server has not been built yet)"
  exit 77
fi
work=$(mktemp -d /tmp/p9x-conform-p9xd.XXXXXX)
export_dir=$work/export
mkdir -p "$export_dir"
sock=$work/p9xd.sock
"$p9xd" --listen "unix:$sock" --export "$export_dir" >"$work/p9xd.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
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
"$conform" --target "unix:$sock" --dialect "$dialect" --local-root "$export_dir" \
  --expected "$expected" --timeout 5000
status=$?
if [[ $status -ne 0 ]]; then
  echo "--- p9xd log (last 40 lines) ---"
  tail -n 40 "$work/p9xd.log"
fi
exit $status
