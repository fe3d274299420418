#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fault_test.sh P9X_CONFORM P9XD PROXY P9X
#
# Shows that conformance cases fail against a server that breaks the rule they check: p9xd
# behind version_fault_proxy (one fault per run, see that file) must make the named case fail,
# and p9xd behind the proxy with no fault must pass it. Then the legacy-uniqueness rule: p9xd
# over an in-memory export of three filesystems with identical inode numbers (p1, p2, p3,
# populated with P9X) passes Required.Identity.DistinctAcrossFilesystems with --multidevs remap
# and fails it with passthrough, also when the run itself negotiated xqid.
# Exit 77 (CTest: skipped) when p9xd has not been built.
set -u
conform=$1 p9xd=$2 proxy=$3 p9x=$4
if [[ ! -x "$p9xd" ]]; then
  echo "SKIPPED: $p9xd does not exist"
  exit 77
fi
work=$(mktemp -d /tmp/p9x-fault-test.XXXXXX)
mkdir -p "$work/export"
sock=$work/p9xd.sock
"$p9xd" --listen "unix:$sock" --export "$work/export" >"$work/p9xd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -S "$sock" ]] && break; sleep 0.1; done
[[ -S "$sock" ]] || { echo "p9xd did not start"; cat "$work/p9xd.log"; exit 1; }

# fault:dialect:case
checks=(
  echo-huge-msize:legacy:Recommended.Negotiation.HugeMsizeClamped
  any-version-is-l:legacy:Required.Negotiation.UnknownVersionAnsweredUnknown
  any-version-is-l:legacy:Required.Negotiation.EmptyVersionAnsweredUnknown
  add-xqid-to-suffixed:legacy:Required.Negotiation.NoUnofferedFeature
  keep-session-on-refusal:legacy:Required.Negotiation.ReversionClunksFids
  reply-notag:legacy:Required.Negotiation.ReplyEchoesTag
  strict-suffix:legacy:Recommended.Negotiation.SuffixOutsideGrammarStripped
  strict-sorted:legacy:Recommended.Negotiation.UnsortedOfferReadAsASet
  short-version-limit:legacy:Required.Negotiation.LongOfferUnderstood
  legacy-stat-einval:xqid:Xqid.Negotiation.LegacyStatMessagesRefused
)
failed=0
run() {  # fault dialect filter -> exit status of p9x-conform
  "$conform" --target "exec:$proxy $1 unix:$sock" --dialect "$2" --filter "$3" --timeout 3000 \
    >"$work/out" 2>&1
}
for check in "${checks[@]}"; do
  IFS=: read -r fault dialect name <<<"$check"
  if ! run none "$dialect" "$name"; then
    echo "FAIL: $name fails against p9xd with no fault:"; cat "$work/out"; failed=1; continue
  fi
  if run "$fault" "$dialect" "$name"; then
    echo "FAIL: $name passes against p9xd with fault $fault:"; cat "$work/out"; failed=1; continue
  fi
  echo "ok: $name fails with fault $fault: $(grep -m1 -F "$name" "$work/out" | cut -c1-160)"
done

# Required.Identity.DistinctAcrossFilesystems in an auto (xqid) run: remap passes, passthrough fails.
mem_run() {  # multidevs -> exit status of p9x-conform
  local msock=$work/mem-$1.sock
  "$p9xd" --listen "unix:$msock" --export mem:mounts=p1+p2+p3 --multidevs "$1" >>"$work/p9xd.log" 2>&1 &
  local mpid=$!
  for _ in $(seq 100); do [[ -S "$msock" ]] && break; sleep 0.1; done
  for fs in p1 p2 p3; do
    "$p9x" --target "unix:$msock" mkdir "$fs/dir" >/dev/null &&
      echo data | "$p9x" --target "unix:$msock" put - "$fs/file" >/dev/null || echo "could not populate $fs"
  done
  "$conform" --target "unix:$msock" --dialect auto --filter Required.Identity.DistinctAcrossFilesystems \
    --timeout 3000 >"$work/out" 2>&1
  local status=$?
  kill "$mpid"; wait "$mpid" 2>/dev/null
  return $status
}
name=Required.Identity.DistinctAcrossFilesystems
if ! mem_run remap; then
  echo "FAIL: $name fails against p9xd --multidevs remap:"; cat "$work/out"; failed=1
elif mem_run passthrough; then
  echo "FAIL: $name passes against p9xd --multidevs passthrough:"; cat "$work/out"; failed=1
else
  echo "ok: $name fails with --multidevs passthrough: $(grep -m1 -F "$name" "$work/out" | cut -c1-160)"
fi
exit $failed
