#!/usr/bin/env bash
# fault_test.sh P9X_CONFORM P9XD PROXY
#
# Shows that each negotiation case fails against a server that breaks the rule it checks: p9xd
# behind version_fault_proxy (one fault per run, see that file) must make exactly the named
# case fail, and p9xd behind the proxy with no fault must pass all of them.
# Exit 77 (CTest: skipped) when p9xd has not been built.
set -u
conform=$1 p9xd=$2 proxy=$3
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
exit $failed
