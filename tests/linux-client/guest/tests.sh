# SPDX-License-Identifier: MIT
# Guest test suite, sourced by /init in a subshell (busybox ash). Reads /p9x/params:
#   P9X_TRANSPORT tcp|virtio, P9X_CACHE, P9X_ANAME, P9X_MOUNT_OPTS, P9X_TESTS ("seed posix"),
#   P9X_FSX_OPS, P9X_FSX_SEED, P9X_BIG (expected entries in big/), P9X_EXPECT_DIALECT (xqid|legacy).
# Output (to /dev/ttyS1 and console), one per line:
#   RESULT <name> PASS|FAIL|SKIP <detail>
#   DATA <name> <key=value ...>          facts for the host's report
ORIG='p9x seed file: original content'
WRITTEN='written-via-p2'
M=/mnt/p9

say() { echo "$*"; echo "$*" > /dev/ttyS1; }
R() { say "RESULT $1 $2 ${3:-}"; }
check() { # check NAME DETAIL COMMAND... : PASS if COMMAND succeeds
  n=$1 d=$2; shift 2
  if "$@"; then R "$n" PASS "$d"; else R "$n" FAIL "$d"; fi
}
now_ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }

mount_opts() {
  if [ "$P9X_TRANSPORT" = virtio ]; then
    o="trans=virtio,version=9p2000.L,cache=$P9X_CACHE,msize=65536"
  else
    o="trans=tcp,port=564,version=9p2000.L,cache=$P9X_CACHE,msize=65536"
    [ -n "$P9X_ANAME" ] && o="$o,aname=$P9X_ANAME"
  fi
  [ -n "$P9X_MOUNT_OPTS" ] && o="$o,$P9X_MOUNT_OPTS"
  echo "$o"
}
do_mount() {
  if [ "$P9X_TRANSPORT" = virtio ]; then src=p9x; else src=10.0.2.100; fi
  out=$(mount -t 9p -o "$(mount_opts)" "$src" $M 2>&1) && return 0
  R "$1.mount" FAIL "mount -t 9p -o $(mount_opts) $src: $out"
  return 1
}
do_umount() { cd /; umount $M 2>/dev/null || umount -l $M; }

# errno of a failed stat as a name (busybox prints strerror)
errname() {
  case "$1" in
    *"No such file"*) echo ENOENT ;; *"Input/output"*) echo EIO ;; *"ermission denied"*) echo EACCES ;;
    *"not permitted"*) echo EPERM ;; *) echo ERR ;;
  esac
}
ino() { out=$(stat -c %i "$1" 2>&1) && echo "$out" || errname "$out"; }
dev() { stat -c %d "$1" 2>/dev/null || echo ERR; }
# Content of a file as a token: orig, written, empty, ENOENT or other(<first bytes>).
token() {
  [ -e "$1" ] || { errname "$(stat -c %i "$1" 2>&1)"; return; }
  c=$(cat "$1" 2>/dev/null) || { echo EIO; return; }
  case "$c" in
    "$ORIG") echo orig ;;
    "$WRITTEN") echo written ;;
    "") echo empty ;;
    *) echo "other($(echo "$c" | head -c 24 | tr -c 'A-Za-z0-9_.-' '_'))" ;;
  esac
}

# The seed scenario, literally: p1/F held open (ro: exec 3<, rw: exec 3>>), write via p2/F.
seed_variant() { # seed_variant ro|rw FILE
  v=$1 f=$2 name=seed-$1
  do_mount "$name" || return 0
  cd $M
  i1=$(ino p1/$f) i2=$(ino p2/$f) d1=$(ino p1) d2=$(ino p2)
  say "DATA $name ino p1/$f=$i1 p2/$f=$i2 p1=$d1 p2=$d2"
  # A file's identity is (st_dev, st_ino): xqid mounts show the host's equal inode numbers on
  # different devices, legacy mounts distinct inode numbers on one device.
  v1=$(dev p1/$f):$i1 v2=$(dev p2/$f):$i2 w1=$(dev p1):$d1 w2=$(dev p2):$d2
  if [ "$i1" != ENOENT ] && [ "$v1" = "$v2" ]; then R "$name.file-inodes-distinct" FAIL "p1/$f and p2/$f both dev:inode $v1"
  elif [ "$i1" = ENOENT ] || [ "$i2" = ENOENT ]; then R "$name.file-inodes-distinct" FAIL "p1/$f=$i1 p2/$f=$i2 (not visible)"
  else R "$name.file-inodes-distinct" PASS "p1/$f=$v1 p2/$f=$v2 (dev:inode)"; fi
  if [ "$w1" = "$w2" ]; then R "$name.dir-inodes-distinct" FAIL "p1 and p2 both dev:inode $w1"
  else R "$name.dir-inodes-distinct" PASS "p1=$w1 p2=$w2 (dev:inode)"; fi
  held=no
  if [ -e p1/$f ]; then
    if [ "$v" = ro ]; then exec 3<p1/$f && held=yes; else exec 3>>p1/$f && held=yes; fi
  fi
  werr=$( { echo "$WRITTEN" > p2/$f; } 2>&1 ) && wrc=ok || wrc="error:$(echo "$werr" | tr ' ' _ | head -c 60)"
  sync
  g1=$(token p1/$f) g2=$(token p2/$f)
  [ $held = yes ] && exec 3>&-
  say "DATA $name guest held=$held write=$wrc p1/$f=$g1 p2/$f=$g2"
  if [ "$g1" = orig ] && [ "$g2" = written ]; then R "$name.guest-view" PASS "p1/$f=$g1 p2/$f=$g2"
  else R "$name.guest-view" FAIL "p1/$f=$g1 p2/$f=$g2 (want orig, written) write=$wrc"; fi
  do_umount
}

posix() {
  do_mount posix || return 0
  P=$M/posix
  rm -rf $P; mkdir -p $P/a $P/b || { R posix.mkdir FAIL "mkdir $P failed"; do_umount; return 0; }
  # create / write / read
  printf 'hello world\n' > $P/a/f
  check posix.create-write-read "12 bytes" [ "$(cat $P/a/f)" = "hello world" -a "$(stat -c %s $P/a/f)" = 12 ]
  # append
  printf 'line2\n' >> $P/a/f
  want=$(printf 'hello world\nline2\n' | md5sum | cut -d' ' -f1)
  check posix.append "size $(stat -c %s $P/a/f)" [ "$(md5sum < $P/a/f | cut -d' ' -f1)" = "$want" ]
  # truncate down and up (zero fill)
  truncate -s 5 $P/a/f
  t1=$(cat $P/a/f)
  truncate -s 100 $P/a/f
  zeros=$(tail -c 95 $P/a/f | od -An -v -tx1 | tr -d ' \n' | tr -d 0)
  check posix.truncate "down to 5 ('$t1'), up to $(stat -c %s $P/a/f), tail zero-filled" \
    [ "$t1" = hello -a "$(stat -c %s $P/a/f)" = 100 -a -z "$zeros" ]
  # rename across directories (file and directory)
  mkdir $P/a/d && echo inner > $P/a/d/x
  mv $P/a/f $P/b/g && mv $P/a/d $P/b/d
  check posix.rename-across-dirs "a/f->b/g, a/d->b/d; b/d/x: $(cat $P/b/d/x 2>&1 | head -c 80)" \
    [ ! -e $P/a/f -a ! -e $P/a/d -a "$(head -c 5 $P/b/g)" = hello -a "$(cat $P/b/d/x)" = inner ]
  check posix.readdir-after-rename "b: $(ls $P/b | tr '\n' ' ')" [ "$(ls $P/b | tr '\n' ' ')" = "d g " -a -z "$(ls $P/a)" ]
  # hard links
  echo data > $P/a/h1 && ln $P/a/h1 $P/b/h2
  n=$(stat -c %h $P/a/h1); ia=$(stat -c %i $P/a/h1); ib=$(stat -c %i $P/b/h2)
  echo more >> $P/b/h2
  c=$(cat $P/a/h1 | tr '\n' ' ')
  rm $P/a/h1
  check posix.hardlink "nlink=$n ino $ia/$ib content='$c' nlink-after-unlink=$(stat -c %h $P/b/h2)" \
    [ "$n" = 2 -a "$ia" = "$ib" -a "$c" = "data more " -a "$(stat -c %h $P/b/h2)" = 1 ]
  # symlinks
  ln -s ../b/h2 $P/a/sl && ln -s /nonexistent/target $P/a/dangling
  check posix.symlink "readlink=$(readlink $P/a/sl)" \
    [ "$(readlink $P/a/sl)" = ../b/h2 -a "$(head -c 4 $P/a/sl)" = data -a -L $P/a/dangling \
      -a "$(readlink $P/a/dangling)" = /nonexistent/target ]
  # chmod / chown
  chmod 0751 $P/b/g; m1=$(stat -c %a $P/b/g)
  chmod 0640 $P/b/g; m2=$(stat -c %a $P/b/g)
  check posix.chmod "0751->$m1 0640->$m2" [ "$m1" = 751 -a "$m2" = 640 ]
  chown 1234:5678 $P/b/g
  check posix.chown "uid:gid=$(stat -c %u:%g $P/b/g)" [ "$(stat -c %u:%g $P/b/g)" = 1234:5678 ]
  # mmap
  out=$(p9xt mmap $P/mm); rc=$?
  if [ $rc = 0 ]; then R posix.mmap PASS "$out"
  elif [ $rc = 3 ] && [ "$P9X_CACHE" = none ]; then
    dd if=/dev/urandom of=$P/mm bs=4096 count=9 2>/dev/null
    out2=$(p9xt mmap-ro $P/mm) && R posix.mmap PASS "cache=none refuses shared-write mmap (by design); $out2" \
      || R posix.mmap FAIL "$out2"
  else R posix.mmap FAIL "rc=$rc $out"; fi
  # xattrs
  echo x > $P/xa
  s=$(p9xt setxattr $P/xa user.p9x.test value-1 2>&1); g=$(p9xt getxattr $P/xa user.p9x.test 2>&1)
  l=$(p9xt listxattr $P/xa 2>&1); rm1=$(p9xt removexattr $P/xa user.p9x.test 2>&1)
  g2=$(p9xt getxattr $P/xa user.p9x.test 2>&1)
  case "$l" in *user.p9x.test*) lok=1 ;; *) lok=0 ;; esac
  check posix.xattr "set=$s get=$g list=$l remove=$rm1 get-after-remove=${g2#FAIL }" \
    [ "$s" = ok -a "$g" = value-1 -a $lok = 1 -a "$rm1" = ok -a "${g2#FAIL}" != "$g2" ]
  # ls -l of a 10,000-entry directory (made by the host fixture)
  if [ -d $M/big ]; then
    t0=$(now_ms)
    ls -l $M/big > /tmp/big.ls 2>/tmp/big.err; rc=$?
    t1=$(now_ms)
    n=$(grep -c '^-' /tmp/big.ls); first=$(grep '^-' /tmp/big.ls | head -1 | awk '{print $NF}')
    last=$(grep '^-' /tmp/big.ls | tail -1 | awk '{print $NF}')
    check posix.ls-l-big "$n entries ($first..$last) in $((t1 - t0)) ms rc=$rc $(head -c 100 /tmp/big.err)" \
      [ $rc = 0 -a "$n" = "$P9X_BIG" -a "$first" = f00000 ]
  else
    R posix.ls-l-big SKIP "no big/ in the export"
  fi
  # fsx-style random operations with a model check
  t0=$(now_ms)
  out=$(p9xt fsx $P/fsx "$P9X_FSX_OPS" "$P9X_FSX_SEED" 2>&1); rc=$?
  t1=$(now_ms)
  if [ $rc = 0 ]; then R posix.fsx PASS "$out in $((t1 - t0)) ms"; else R posix.fsx FAIL "$out"; fi
  say "DATA posix fsx-md5=$(md5sum < $P/fsx | cut -d' ' -f1) g-owner=$(stat -c %u:%g $P/b/g)"
  # unlink + rmdir
  out=$(rm -rf $P/a $P/b/d 2>&1 | head -c 100)
  check posix.unlink-rmdir "rm -rf a/ b/d: ${out:-ok}" [ ! -e $P/a -a ! -e $P/b/d ]
  do_umount
}

# Every st_ino under p1/, p2/, p3/ below 2^32: what 32-bit programs without large-file support
# need (spec/qid-map.md §1: legacy paths stay below 2^32 for the fixture's small ext4 and tmpfs).
small_inodes() {
  do_mount inodes || return
  find $M/p1 $M/p2 $M/p3 | xargs stat -c '%i %n' > /tmp/inodes 2>&1
  n=$(grep -c . /tmp/inodes); big=$(awk '$1 >= 4294967296' /tmp/inodes | head -3 | tr '\n' ' ')
  check inodes.below-2^32 "$n files; at or above 2^32: ${big:-none}" [ "$n" -gt 3 -a -z "$big" ]
  do_umount
}

# The dialect the mount negotiated: the patched client shows ",xqid" in the options of an xqid
# session and nothing otherwise.
dialect() {
  do_mount dialect || return 0
  opts=$(awk -v m=$M '$2 == m {print $4}' /proc/mounts)
  case ",$opts," in *,xqid,*) got=xqid ;; *) got=legacy ;; esac
  check dialect.negotiated "want ${P9X_EXPECT_DIALECT:-?}, mount options $opts" [ "$got" = "$P9X_EXPECT_DIALECT" ]
  do_umount
}

# xqid presentation: one st_dev per host filesystem, the host's inode numbers as st_ino (the host
# compares them after the boot: host.present.*), readdir's d_ino = stat's st_ino, and the tools
# that compare (st_dev, st_ino) behave as on the host. p1/ and p2/ are cloned images, so files
# created alike in both get the same host inode number.
present() {
  do_mount present || return 0
  cd $M
  printf 'alpha\n' > p1/pres; printf 'bravo\n' > p2/pres; printf 'charlie\n' > p3/pres
  printf 'compare-1\n' > p1/cmpf; printf 'compare-2\n' > p2/cmpf
  paths=". p1 p2 p3 top.txt p1/file p2/file p3/file p1/dir/nested p2/dir/nested p1/hard/a p1/hard/b p1/pres p2/pres p3/pres"
  line="" devs=""
  for f in $paths; do line="$line $f=$(dev $f):$(ino $f)"; done
  say "DATA present devino$line"
  rd=$(dev .) r1=$(dev p1) r2=$(dev p2) r3=$(dev p3)
  n=$(printf '%s\n' $rd $r1 $r2 $r3 | sort -u | wc -l)
  check present.st_dev-per-filesystem "root=$rd p1=$r1 p2=$r2 p3=$r3; p1/dir/nested=$(dev p1/dir/nested) top.txt=$(dev top.txt)" \
    [ "$n" = 4 -a "$(dev p1/dir/nested)" = "$r1" -a "$(dev p2/file)" = "$r2" -a "$(dev top.txt)" = "$rd" ]
  bad=""
  for d in . p1 p2 p3 p1/dir p1/hard; do
    p9xt dino $d > /tmp/dino || { bad="$bad $d:readdir-failed"; continue; }
    while read -r name dino; do
      case $name in .|..) continue ;; esac
      [ "$(ino $d/$name)" = "$dino" ] || bad="$bad $d/$name:d_ino=$dino,st_ino=$(ino $d/$name)"
    done < /tmp/dino
  done
  check present.d_ino-is-st_ino "readdir of . p1 p2 p3 p1/dir p1/hard${bad:+; differ:$bad}" [ -z "$bad" ]
  out=$(cp p1/pres p2/pres 2>&1); rc=$?
  check present.cp "cp p1/pres p2/pres: rc=$rc ${out:-ok}; p2/pres now '$(cat p2/pres)'" [ $rc = 0 -a "$(cat p2/pres)" = alpha ]
  cmp p1/cmpf p2/cmpf > /dev/null 2>&1; rc=$?
  check present.cmp "cmp p1/cmpf p2/cmpf (same size, different bytes): rc=$rc, want 1" [ $rc = 1 ]
  same=$(find p1 p2 p3 -samefile p1/pres | tr '\n' ' ')
  hl=$(find p1 -samefile p1/hard/a | sort | tr '\n' ' ')
  check present.find-samefile "-samefile p1/pres: '$same'; -samefile p1/hard/a: '$hl'" \
    [ "$same" = "p1/pres " -a "$hl" = "p1/hard/a p1/hard/b " ]
  # du counts a file with several names once: hard/b is hard/a in each image, and the images'
  # hard/a have the same host inode number but are two files (two devices)
  du=$(du -k p1/hard/a p1/hard/b p2/hard/a p2/hard/b | awk '{printf "%s=%s ", $2, $1}')
  check present.du "du -k p1/hard/a p1/hard/b p2/hard/a p2/hard/b: $du" \
    [ "$(echo $du | sed 's/=[0-9]*//g')" = "p1/hard/a p2/hard/a" -a "$(du -k p2/hard/a | awk '{print $1}')" -gt 0 ]
  ha=$(dev p1/hard/a):$(ino p1/hard/a) hb=$(dev p1/hard/b):$(ino p1/hard/b)
  check present.hardlink "p1/hard/a=$ha p1/hard/b=$hb nlink=$(stat -c %h p1/hard/a)" [ "$ha" = "$hb" -a "$(stat -c %h p1/hard/a)" = 2 ]
  do_umount
}

for t in $P9X_TESTS; do
  case $t in
    seed) seed_variant ro file; seed_variant rw file2; small_inodes ;;
    posix) posix ;;
    dialect) dialect ;;
    present) present ;;
    extra) # run.sh --guest-script FILE: sourced with the share mounted at $M (cwd)
      if do_mount extra; then cd $M; . /p9x/extra.sh; do_umount; fi ;;
    *) R "$t" FAIL "unknown test" ;;
  esac
done
