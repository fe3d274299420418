#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fault_test.sh P9X_CONFORM P9XD PROXY P9X P9XD_PATH_HI_FAULT
#
# Shows that conformance cases fail against a server that breaks the rule they check: p9xd
# behind version_fault_proxy (one fault per run, see that file) must make the named case fail,
# and p9xd behind the proxy with no fault must pass it. Then the legacy-uniqueness rule: p9xd
# over an in-memory export of three filesystems with identical inode numbers (p1, p2, p3,
# populated with P9X) passes Required.Identity.DistinctAcrossFilesystems with --multidevs remap
# and fails it with passthrough, also when the run itself negotiated xqid. Last the xqid identity
# cases: each passes against p9xd and fails against p9xd-path-hi-fault (path_hi_fault.cc) with
# the fault named beside it, on a directory of this machine and, in a private mount namespace, on
# an export with three tmpfs mounts. A case counts as failed or passed only when the run reports
# that case so, not merely by the exit status.
# Exit 77 (CTest: skipped) when p9xd has not been built.
set -u
conform=$1 p9xd=$2 proxy=$3 p9x=$4 path_hi_fault=$5
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

# fault:dialect:case (fault@3: from the third connection, after the runner's own two)
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
  msize-floor-64k:legacy:Required.Negotiation.MsizeNotAboveOffer
  accept-small-msize:legacy:Recommended.Negotiation.ZeroMsizeRefused
  accept-small-msize:legacy:Recommended.Negotiation.MsizeBelowMinimumRefused
  refused-msize-wedges:legacy:Recommended.Negotiation.UsableAfterRefusedMsize
  echo-offer:legacy:Recommended.Negotiation.UnknownFeatureDropped
  xqid-rlerror:legacy:Required.Negotiation.XqidOfferAnsweredWithRversion
  close-on-xqid:legacy:Required.Negotiation.XqidDeclineLeavesConnectionUsable
  version-keeps-fids:legacy:Required.Negotiation.ReversionFreesFidNumbers
  drop-xqid:xqid:Xqid.Negotiation.XqidOfferAccepted
  xqid-with-legacy-qids@3:xqid:Xqid.Negotiation.AttachQidIsExtended
  plain-with-xqid-qids:xqid:Xqid.Negotiation.PlainOfferKeepsLegacyQids
)
failed=0
# Whether $work/out reports case NAME with MARK (PASS or FAIL) and the run's exit status agrees.
reported() {  # status mark name
  if [[ $2 == PASS ]]; then (($1 == 0)) || return 1; else (($1 != 0)) || return 1; fi
  grep -qE "\] $2 +$3( |\$)" "$work/out"
}
run() {  # fault dialect filter mark -> 0 when the case is reported with mark
  rm -f "$sock.connections"
  "$conform" --target "exec:$proxy $1 unix:$sock" --dialect "$2" --filter "$3" --timeout 3000 \
    >"$work/out" 2>&1
  reported $? "$4" "$3"
}
for check in "${checks[@]}"; do
  IFS=: read -r fault dialect name <<<"$check"
  if ! run none "$dialect" "$name" PASS; then
    echo "FAIL: $name does not pass against p9xd with no fault:"; cat "$work/out"; failed=1; continue
  fi
  if ! run "$fault" "$dialect" "$name" FAIL; then
    echo "FAIL: $name does not fail against p9xd with fault $fault:"; cat "$work/out"; failed=1; continue
  fi
  echo "ok: $name fails with fault $fault: $(grep -F "$name" "$work/out" | tail -1 | cut -c1-160)"
done

# Required.Identity.DistinctAcrossFilesystems in an auto (xqid) run: remap passes, passthrough fails.
mem_run() {  # multidevs mark -> 0 when the case is reported with mark
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
  reported $status "$2" Required.Identity.DistinctAcrossFilesystems
}
name=Required.Identity.DistinctAcrossFilesystems
if ! mem_run remap PASS; then
  echo "FAIL: $name does not pass against p9xd --multidevs remap:"; cat "$work/out"; failed=1
elif ! mem_run passthrough FAIL; then
  echo "FAIL: $name does not fail against p9xd --multidevs passthrough:"; cat "$work/out"; failed=1
else
  echo "ok: $name fails with --multidevs passthrough: $(grep -F "$name" "$work/out" | tail -1 | cut -c1-160)"
fi
# The xqid identity cases against p9xd-path-hi-fault (path_hi_fault.cc: P9X_FAULT_PATH_HI names
# the fault) serving EXPORT; with no fault given, against p9xd itself.
identity_run() {  # mark case export [VAR=value...] -> 0 when the case is reported with mark
  local mark=$1 case=$2 export=$3 server=$path_hi_fault psock ppid status; shift 3
  (($#)) || server=$p9xd
  psock=$(mktemp -u "$work/identity.XXXXXX.sock")
  # --identity self: in a user namespace p9xd is "root" but cannot take on other users' ids.
  env "$@" "$server" --listen "unix:$psock" --export "$export" --identity self >>"$work/p9xd.log" 2>&1 &
  ppid=$!
  for _ in $(seq 100); do [[ -S "$psock" ]] && break; sleep 0.1; done
  "$conform" --target "unix:$psock" --dialect xqid --local-root "$export" --filter "$case" --timeout 3000 \
    >"$work/out" 2>&1
  status=$?
  kill "$ppid"; wait "$ppid" 2>/dev/null
  reported $status "$mark" "$case"
}
identity_checks() {  # export fault:case... -> 0 when each case passes without and fails with its fault
  local export=$1 bad=0 fault case; shift
  for check in "$@"; do
    IFS=: read -r fault case <<<"$check"
    if ! identity_run PASS "$case" "$export"; then
      echo "FAIL: $case does not pass against p9xd on $export:"; cat "$work/out"; bad=1
    elif ! identity_run FAIL "$case" "$export" ${fault//,/ }; then
      echo "FAIL: $case does not fail against p9xd-path-hi-fault with $fault:"; cat "$work/out"; bad=1
    else
      echo "ok: $case fails with $fault: $(grep -F "$case" "$work/out" | tail -1 | cut -c1-160)"
    fi
  done
  return $bad
}
pathhi=Xqid.Identity.PathHiIsNotHostDevice
mkdir -p "$work/rootfs-export"
identity_checks "$work/rootfs-export" \
  P9X_FAULT_PATH_HI=st_dev:$pathhi P9X_FAULT_PATH_HI=new_encode_dev:$pathhi \
  P9X_FAULT_PATH_HI=old_encode_dev:$pathhi P9X_FAULT_PATH_HI=mkdev:$pathhi \
  P9X_FAULT_PATH_HI=per-lookup:Xqid.Identity.StableWithinSession \
  P9X_FAULT_PATH_HI=per-lookup:Xqid.Identity.StableAcrossRoutes \
  P9X_FAULT_PATH_HI=per-lookup:Xqid.Identity.HardLinksShareQid \
  P9X_FAULT_PATH_HI=per-lookup:Xqid.Readdir.EntryQidMatchesWalk || failed=1

# On several filesystems: p1, p2, p3 are tmpfs mounts (each numbering its inodes from the same
# start) in a private mount namespace, as root or as a user where user namespaces are allowed.
# The path_hi faults there leak only the devices off the export's own filesystem, and a constant
# path_hi leaves the files of p1, p2 and p3 with one inode number each apart.
unshare_args=(-m)
(($(id -u) == 0)) || unshare_args=(-r -m)
if unshare "${unshare_args[@]}" true 2>/dev/null; then
  export conform p9xd path_hi_fault work pathhi
  export -f reported identity_run identity_checks
  unshare "${unshare_args[@]}" bash -c '
    for fs in p1 p2 p3; do
      mkdir -p "$1/$fs"
      if ! mount -t tmpfs "p9x-$fs" "$1/$fs"; then
        echo "skipped: the identity cases on several filesystems (cannot mount a tmpfs here)"; exit 0
      fi
      mkdir "$1/$fs/dir" && echo data >"$1/$fs/file" || exit 1
    done
    other=P9X_FAULT_PATH_HI_SCOPE=other-filesystems
    identity_checks "$1" \
      P9X_FAULT_PATH_HI=st_dev,$other:$pathhi P9X_FAULT_PATH_HI=new_encode_dev,$other:$pathhi \
      P9X_FAULT_PATH_HI=old_encode_dev,$other:$pathhi P9X_FAULT_PATH_HI=mkdev,$other:$pathhi \
      P9X_FAULT_PATH_HI=constant:Xqid.Identity.DistinctAcrossFilesystems' bash "$work/multifs-export" || failed=1
else
  echo "skipped: the identity cases on several filesystems (no private mount namespace here)"
fi
exit $failed
