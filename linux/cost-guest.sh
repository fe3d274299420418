# cost-guest.sh — guest half of linux/measure-cost.sh (busybox sh, sourced by the test initramfs
# with the share mounted at $M). For each dialect in turn, on a fresh mount of the same export:
# `ls -lR big`, `find .`, and a tar extract of big/ (10,000 files) into the share; prints
#   DATA cost dialect=legacy|xqid op=NAME ms=N entries=N
# and a MARK line before each mount so the host can tell the connections apart.
tar -cf /tmp/big.tar big   # the archive both dialects extract
cd /
umount $M
for dialect in legacy xqid; do
  opts=$(mount_opts)
  [ $dialect = xqid ] && opts="$opts,xqid"
  say "MARK cost dialect=$dialect"
  mount -t 9p -o "$opts" 10.0.2.100 $M || { R cost.mount-$dialect FAIL "mount -o $opts"; continue; }
  grep " $M " /proc/mounts | grep -q xqid && got=xqid || got=legacy
  check cost.dialect-$dialect "mount negotiated $got" [ $got = $dialect ]
  cd $M
  t0=$(now_ms); n=$(ls -lR big | grep -c '^-'); t1=$(now_ms)
  say "DATA cost dialect=$dialect op=ls-lR ms=$((t1 - t0)) entries=$n"
  t0=$(now_ms); n=$(find . | wc -l); t1=$(now_ms)
  say "DATA cost dialect=$dialect op=find ms=$((t1 - t0)) entries=$n"
  t0=$(now_ms); mkdir x-$dialect && tar -xf /tmp/big.tar -C x-$dialect; rc=$?; t1=$(now_ms)
  n=$(ls x-$dialect/big | wc -l)
  say "DATA cost dialect=$dialect op=tar-x ms=$((t1 - t0)) entries=$n rc=$rc"
  cd /
  umount $M
done
do_mount cost-remount || true
