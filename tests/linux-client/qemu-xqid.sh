#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CTest driver for QEMU's 9p server with the xqid series (qemu/): builds the patched QEMU
# (qemu/build-qemu.sh --check) and the patched Linux modules (linux/build-modules.sh), then boots
# the guest over virtio-9p (-virtfs local,security_model=passthrough). Passes when every check
# passes:
#   xqid            patched QEMU + patched v9fs with the xqid option, multidevs=warn (the export's
#                   filesystems as they are, no remap), cache none,loose,mmap,fscache: the
#                   negotiated dialect, the seed scenario, the presentation checks (st_dev per
#                   host filesystem, host inode numbers, cp, cmp, find -samefile, du, hard links);
#                   the POSIX workload with the fsx-style check in none and loose
#   stock-client    patched QEMU + the stock v9fs, multidevs=remap: a 9P2000.L session and the
#                   seed scenario, as with Debian's QEMU
#   stock-qemu      Debian's QEMU + patched v9fs asked for xqid, multidevs=remap: the client
#                   falls back to 9P2000.L and the seed scenario passes
#   restart         patched QEMU + patched v9fs in xqid, two boots (two QEMU processes) over one
#                   export whose cloned images get other loop devices before the second, as after
#                   a host reboot, and are met by the guest in another order: every filesystem's
#                   path_hi is the same in both runs and differs between p1 and p2
#                   (check-xqid-restart.py, from QEMU's trace and the guest's stat)
# and QEMU's own trace of each boot's Tversions (check-9p-trace.py): xqid sessions take one
# round trip, stock-client sessions offer 9P2000.L only, the fallback costs exactly one extra
# Tversion per mount.
# usage: qemu-xqid.sh REPORT_DIR       (writes REPORT_DIR/linux-client-qemu-xqid.md)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
reports=$1
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIPPED: the Linux-client tier needs root (loop-mounted fixture)"
  exit 77
fi
mkdir -p "$reports"
work=$(mktemp -d /tmp/p9x-lc-qemu.XXXXXX)
restart_export=$work/restart-export
held_loops=()
cleanup() {
  [[ -d "$restart_export" ]] && "$root/tests/fixture/teardown-fixture.sh" "$restart_export" >/dev/null 2>&1
  for dev in "${held_loops[@]}"; do losetup -d "$dev" 2>/dev/null; done
  held_loops=()
  return 0
}
trap cleanup EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
t0=$(date +%s)

echo "== building the patched QEMU (qemu/build-qemu.sh --check)"
qemu=$("$root/qemu/build-qemu.sh" --check | tail -1) || { echo "FAIL: the patched QEMU did not build"; exit 1; }
echo "   qemu: $qemu ($(($(date +%s) - t0)) s)"
t1=$(date +%s)
echo "== building the patched modules (linux/build-modules.sh)"
modules=$("$root/linux/build-modules.sh" | tail -1) || { echo "FAIL: the patched modules did not build"; exit 1; }
echo "   modules: $modules ($(($(date +%s) - t1)) s)"

# run LABEL RUN.SH-ARGS... : one run.sh invocation over virtio in its own work dir, report kept
run() {
  local label=$1; shift
  echo "== $label"
  "$here/run.sh" --trace-9p --workdir "$work/$label" --report "$work/$label.md" "$@" ||
    fail "$label: some guest checks failed (above)"
}
patched=(--qemu "$qemu")
run xqid "${patched[@]}" --virtfs warn --patched-modules "$modules" --mount-opts uname=root,xqid \
  --expect-dialect xqid --cache none,loose --tests dialect,seed,present,posix
run xqid-cached "${patched[@]}" --virtfs warn --patched-modules "$modules" --mount-opts uname=root,xqid \
  --expect-dialect xqid --cache mmap,fscache --tests dialect,seed,present
run stock-client "${patched[@]}" --virtfs remap --expect-dialect legacy --cache loose --tests dialect,seed
run stock-qemu --virtfs remap --patched-modules "$modules" --mount-opts uname=root,xqid \
  --expect-dialect legacy --cache loose --tests dialect,seed

# restart_boot LABEL VISIT_ORDER: one boot of its own QEMU over $restart_export, (re)built; the guest
# meets p1, p2, p3 in VISIT_ORDER, then reports the st_dev:st_ino of each file. The host's view goes
# to $work/LABEL-host.txt.
restart_boot() {
  local label=$1 visits=$2
  P9X_FIXTURE_BIG=0 "$root/tests/fixture/make-fixture.sh" "$restart_export" \
    > "$work/$label-fixture.log" 2>&1 || { cat "$work/$label-fixture.log"; fail "$label: fixture"; return; }
  for p in p1 p2 p3; do echo "$p $(stat -c '%d %i' "$restart_export/$p/file")"; done > "$work/$label-host.txt"
  cat > "$work/$label-guest.sh" <<EOF
for p in $visits; do stat \$p/file >/dev/null; done
for p in p1 p2 p3; do
  if out=\$(stat -c %d:%i \$p/file 2>&1); then R restart.\$p.file PASS "\$out"; else R restart.\$p.file FAIL "\$out"; fi
done
EOF
  run "$label" "${patched[@]}" --virtfs warn --patched-modules "$modules" --mount-opts uname=root,xqid \
    --expect-dialect xqid --cache loose --tests dialect,extra --export "$restart_export" --no-fixture \
    --guest-script "$work/$label-guest.sh"
}
echo "== restart: path_hi across two QEMU runs, the clones' loop devices renumbered in between"
restart_boot restart-a "p1 p2 p3"
# A reboot: the images detached, then attached while their old loop devices are taken (by an
# empty file each), so both get new device numbers.
state=$(dirname "$restart_export")/.fixture-$(basename "$restart_export")
old_loops=$(cat "$state/p1.loop" "$state/p2.loop" 2>/dev/null || true)
"$root/tests/fixture/teardown-fixture.sh" "$restart_export" > /dev/null
truncate -s 1M "$work/hold.img"
for dev in $old_loops; do losetup "$dev" "$work/hold.img" 2>/dev/null && held_loops+=("$dev"); done
restart_boot restart-b "p3 p2 p1"
cleanup
python3 "$here/check-xqid-restart.py" "$work"/restart-a/boots/*/ "$work"/restart-b/boots/*/ \
  "$work/restart-a-host.txt" "$work/restart-b-host.txt" > "$work/restart-check.txt" ||
  fail "restart: path_hi or qids changed"
cat "$work/restart-check.txt"

echo "== QEMU's trace of each boot's Tversions"
for label in xqid xqid-cached stock-client stock-qemu restart-a restart-b; do
  case $label in xqid* | restart*) want=xqid ;; stock-client) want=legacy ;; stock-qemu) want=fallback ;; esac
  found=0
  for trace in "$work/$label"/boots/*/9p-trace.log; do
    [[ -f "$trace" ]] || continue
    found=1
    python3 "$here/check-9p-trace.py" "$want" "$trace" "$label/$(basename "$(dirname "$trace")")" ||
      fail "$label: Tversion sequence"
  done
  ((found)) || fail "$label: no 9p trace"
done

secs=$(($(date +%s) - t0))
{
  echo "# QEMU 9p with the xqid series (qemu/) over virtio, with the stock and the patched Linux client"
  echo
  echo "Generated by tests/linux-client/qemu-xqid.sh on $(date -u +%Y-%m-%d) in ${secs} s."
  for label in xqid xqid-cached stock-client stock-qemu restart-a restart-b; do
    echo; echo "## $label"; echo
    sed 1,2d "$work/$label.md" 2>/dev/null || echo "(no report)"
  done
  echo; echo "## restart: check-xqid-restart.py"; echo
  sed 's/^/    /' "$work/restart-check.txt" 2>/dev/null || echo "(no check)"
} > "$reports/linux-client-qemu-xqid.md"
echo "report: $reports/linux-client-qemu-xqid.md (${secs} s)"
if ((status == 0)); then rm -rf "$work"; else echo "work dir kept: $work"; fi
exit "$status"
