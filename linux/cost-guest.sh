# cost-guest.sh — guest half of linux/measure-cost.sh (busybox sh, sourced by the test initramfs
# with the share mounted at $M, on a legacy mount). First it archives 2,000 of big/'s files into
# /tmp and lists big/ once, so that the server's side is warm for both dialects. Then, for each
# dialect, each operation runs on a fresh mount (a cold client cache): `find big` and
# `ls -lR big` (10,000 files), and a tar extract of the archive into x-DIALECT/. Prints
#   DATA cost dialect=legacy|xqid op=NAME ms=N entries=N rc=N
tar -cf /tmp/big.tar big/f00* big/f01*
ls -lR big > /dev/null
cd /
umount $M
for dialect in legacy xqid; do
  opts=$(mount_opts)
  [ $dialect = xqid ] && opts="$opts,xqid"
  for op in find ls-lR tar-x; do
    mount -t 9p -o "$opts" 10.0.2.100 $M || { R cost.mount-$dialect FAIL "mount -o $opts"; continue; }
    grep " $M " /proc/mounts | grep -q xqid && got=xqid || got=legacy
    [ $got = $dialect ] || R cost.dialect-$dialect-$op FAIL "mount negotiated $got"
    cd $M
    t0=$(now_ms)
    case $op in
      find) n=$(find big | wc -l); rc=$? ;;
      ls-lR) n=$(ls -lR big | grep -c '^-'); rc=$? ;;
      tar-x) mkdir x-$dialect && tar -xf /tmp/big.tar -C x-$dialect 2>/tmp/tar.err; rc=$?
             n=$(ls x-$dialect/big | wc -l) ;;
    esac
    t1=$(now_ms)
    say "DATA cost dialect=$dialect op=$op ms=$((t1 - t0)) entries=$n rc=$rc $(head -c 120 /tmp/tar.err 2>/dev/null | tr ' \n' '__')"
    cd /
    umount $M
  done
  R cost.dialect-$dialect PASS "three fresh mounts, each negotiated $dialect"
done
do_mount cost-remount || true
