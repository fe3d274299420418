# cost-guest.sh — guest half of linux/measure-cost.sh and qemu/measure-cost.sh (busybox sh, sourced
# by the test initramfs with the share mounted at $M, on a legacy mount). First it archives 2,000
# of big/'s files into /tmp and lists big/ once, so that the server's side is warm for both
# dialects. Then each operation runs on a fresh mount (a cold client cache): `find big` and
# `ls -lR big` (10,000 files), and a tar extract of the archive into x-DIALECT-ROUND/. Without
# P9X_COST_ROUNDS: the three operations on legacy mounts, then on xqid mounts (the connection order
# linux/measure-cost.sh reads). With P9X_COST_ROUNDS=N (set by a line before this file): each
# operation N times per dialect, alternating which dialect goes first (legacy xqid, xqid legacy,
# ...), so that drift on a shared machine falls on both. Prints
#   DATA cost dialect=legacy|xqid op=NAME ms=N entries=N rc=N round=R
if [ "$P9X_TRANSPORT" = virtio ]; then cost_src=p9x; else cost_src=10.0.2.100; fi
tar -cf /tmp/big.tar big/f00* big/f01*
ls -lR big > /dev/null
cd /
umount $M
cost_failed=0
# measure DIALECT OP ROUND: one operation on a fresh mount of DIALECT
measure() {
  dialect=$1 op=$2 round=$3
  opts=$(mount_opts)
  [ $dialect = xqid ] && opts="$opts,xqid"
  mount -t 9p -o "$opts" $cost_src $M || { R cost.mount-$dialect FAIL "mount -o $opts"; cost_failed=1; return; }
  grep " $M " /proc/mounts | grep -q xqid && got=xqid || got=legacy
  [ $got = $dialect ] || { R cost.dialect-$dialect-$op FAIL "mount negotiated $got"; cost_failed=1; }
  cd $M
  t0=$(now_ms)
  case $op in
    find) n=$(find big | wc -l); rc=$? ;;
    ls-lR) n=$(ls -lR big | grep -c '^-'); rc=$? ;;
    tar-x) mkdir x-$dialect-$round && tar -xf /tmp/big.tar -C x-$dialect-$round 2>/tmp/tar.err; rc=$?
           n=$(ls x-$dialect-$round/big | wc -l) ;;
  esac
  t1=$(now_ms)
  say "DATA cost dialect=$dialect op=$op ms=$((t1 - t0)) entries=$n rc=$rc round=$round $(head -c 120 /tmp/tar.err 2>/dev/null | tr ' \n' '__')"
  cd /
  umount $M
}
if [ -n "${P9X_COST_ROUNDS:-}" ]; then
  for op in find ls-lR tar-x; do
    r=1
    while [ $r -le $P9X_COST_ROUNDS ]; do
      if [ $((r % 2)) = 1 ]; then order="legacy xqid"; else order="xqid legacy"; fi
      for dialect in $order; do measure $dialect $op $r; done
      r=$((r + 1))
    done
  done
  [ $cost_failed = 0 ] && R cost.rounds PASS "$P9X_COST_ROUNDS rounds of find, ls -lR, tar -x per dialect"
else
  for dialect in legacy xqid; do
    for op in find ls-lR tar-x; do measure $dialect $op 1; done
    R cost.dialect-$dialect PASS "three fresh mounts, each negotiated $dialect"
  done
fi
do_mount cost-remount || true
