#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh — the real Linux 9p client (Debian 12 kernel under QEMU TCG) against a 9P server.
#
# Pass/fail mode (for p9xd):
#   run.sh --server-cmd 'p9xd --listen tcp:127.0.0.1:{PORT} --export {EXPORT}' --port N
#          [--export DIR] [--cache none,loose,mmap,fscache] [--tests seed,posix] [--report FILE]
#   {PORT} and {EXPORT} in the command are replaced (also exported as P9X_PORT / P9X_EXPORT).
#   The command must stay in the foreground; it is started (in its own session) before and
#   stopped after every boot, and must answer Tversion on 127.0.0.1:PORT within 15 s.
#   --virtfs warn|remap instead of --server-cmd uses QEMU's own 9p server (trans=virtio).
#   Exit 0 when every RESULT is PASS (SKIP allowed), 1 otherwise, 2 on setup errors.
# Comparison mode (a report, not pass/fail):
#   run.sh --compare [--cache ...] [--port N] [--report FILE] [--with-ganesha]
#   runs the seed scenario against diod (tests/peers/diod.sh run), QEMU 9p multidevs=warn and
#   multidevs=remap (and nfs-ganesha in a netns with --with-ganesha) and writes a Markdown table.
# Other options:
#   --export DIR     where the fixture lives (default WORK/export). run.sh (re)builds the fixture
#                    there before each boot (tests/fixture/make-fixture.sh) and tears it down at the
#                    end if it created it. --no-fixture uses DIR as it is (no p1/p2 reset).
#   --aname NAME     9P attach name (default: the export path; '' = none)
#   --mount-opts O   extra guest mount options (default 'uname=root': Linux attaches the mount's
#                    root fid with n_uname = NONUNAME, so the server maps the name; '' = none)
#   --relay-netns NS the guestfwd relay connects from inside network namespace NS
#   --workdir W      keep everything in W (default: mktemp, removed unless --keep)
#   --fsx-ops N      fsx operations (default 1000)
#   --guest-script F extra guest test (busybox sh) sourced with the share mounted, cwd = share;
#                    add 'extra' to --tests. It can print RESULT lines with R NAME PASS|FAIL DETAIL.
#   --patched-modules DIR  load linux/build-modules.sh's 9pnet, 9pnet_fd, 9pnet_virtio and 9p from
#                    DIR instead of the stock ones (checked in the guest: boot.patched-modules)
#   --expect-dialect xqid|legacy  for the 'dialect' test: what /proc/mounts must say was negotiated
#   --capture        record each boot's 9P traffic on loopback (dumpcap) to boots/LABEL-CACHE/9p.pcapng
#   --qemu BINARY    the QEMU that boots the guest (and serves 9p with --virtfs) instead of the
#                    installed qemu-system-x86_64; it finds Debian's firmware in /usr/share/qemu and
#                    /usr/share/seabios (qemu/build-qemu.sh's binary installs none of its own)
#   --trace-9p       with --virtfs: QEMU's own trace of every Tversion and Rversion
#                    (v9fs_version, v9fs_version_return), each Rreaddir's size (v9fs_readdir_return)
#                    and, with qemu/'s series, each host filesystem's xqid path_hi
#                    (v9fs_xqid_filesystem) to boots/LABEL-CACHE/9p-trace.log
# Tests (--tests, comma-separated): seed, posix, dialect, present (xqid presentation: st_dev per
# host filesystem, host inode numbers, cp/cmp/find -samefile/du/hard links), extra.
# Needs root (fixture, netns). Kernel cache: ${P9X_CACHE:-/var/cache/p9x}.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tests_root=$(dirname "$here")
server_cmd="" port="" export_dir="" caches="none,loose,mmap,fscache" tests="seed,posix" report=""
aname="__default__" mount_opts="uname=root" relay_netns="" workdir="" keep=0 compare=0 virtfs="" no_fixture=0
with_ganesha=0 fsx_ops=1000 guest_script="" boot_timeout=${P9X_BOOT_TIMEOUT:-300}
patched_modules="" expect_dialect="" capture=0 qemu_bin=qemu-system-x86_64 trace_9p=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server-cmd) server_cmd=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --export) export_dir=$2; shift 2 ;;
    --cache) caches=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --aname) aname=$2; shift 2 ;;
    --mount-opts) mount_opts=$2; shift 2 ;;
    --relay-netns) relay_netns=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --compare) compare=1; shift ;;
    --with-ganesha) with_ganesha=1; shift ;;
    --virtfs) virtfs=$2; shift 2 ;;
    --no-fixture) no_fixture=1; shift ;;
    --fsx-ops) fsx_ops=$2; shift 2 ;;
    --guest-script) guest_script=$2; shift 2 ;;
    --patched-modules) patched_modules=$2; shift 2 ;;
    --expect-dialect) expect_dialect=$2; shift 2 ;;
    --capture) capture=1; shift ;;
    --qemu) qemu_bin=$2; shift 2 ;;
    --trace-9p) trace_9p=1; shift ;;
    -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "[$(date +%H:%M:%S)] linux-client: $*"; }
die() { echo "linux-client: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "needs root (loop-mounted fixture, network namespaces)"
command -v "$qemu_bin" >/dev/null || die "$qemu_bin missing (run scripts/setup.sh)"
qemu_firmware=()
[[ "$qemu_bin" == qemu-system-x86_64 ]] || qemu_firmware=(-L /usr/share/qemu -L /usr/share/seabios)
if ((compare)); then
  port=${port:-5640}
  tests=seed
else
  [[ -n "$server_cmd" || -n "$virtfs" ]] || die "need --server-cmd CMD --port N, --virtfs warn|remap, or --compare"
  [[ -z "$server_cmd" || -n "$port" ]] || die "--server-cmd needs --port N"
fi
case "$virtfs" in ""|warn|remap) ;; *) die "--virtfs takes warn or remap" ;; esac
for c in ${caches//,/ }; do case $c in none|loose|mmap|fscache) ;; *) die "unknown cache mode $c" ;; esac; done

# ---- work dir, fixture, cleanup ------------------------------------------------------------
created_work=0
if [[ -z "$workdir" ]]; then workdir=$(mktemp -d /tmp/p9x-linux-client.XXXXXX); created_work=1; fi
mkdir -p "$workdir"; workdir=$(cd "$workdir" && pwd)
own_fixture=0
if [[ -z "$export_dir" ]]; then export_dir="$workdir/export"; fi
if ((no_fixture)); then
  [[ -d "$export_dir" ]] || die "--no-fixture: $export_dir does not exist"
else
  [[ -e "$export_dir" ]] || own_fixture=1
fi
mkdir -p "$export_dir"; export_dir=$(cd "$export_dir" && pwd)
[[ "$aname" == "__default__" ]] && aname=$export_dir
server_pid="" ganesha_wd=""

stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  if [[ -n "$ganesha_wd" ]]; then
    "$tests_root/peers/ganesha.sh" stop --workdir "$ganesha_wd" >/dev/null || true
    ganesha_wd=""
  fi
}
qemu_pid=""
cleanup() {
  local rc=$?
  if [[ -n "$qemu_pid" ]]; then kill -TERM "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
  stop_server
  if ((own_fixture)) && [[ "${P9X_KEEP_FIXTURE:-0}" != 1 ]]; then
    "$tests_root/fixture/teardown-fixture.sh" "$export_dir" >/dev/null 2>&1 || echo "linux-client: fixture teardown failed: $export_dir" >&2
  fi
  if ((created_work)) && ((keep == 0)) && ((rc == 0)); then rm -rf "$workdir"
  else echo "linux-client: work dir kept: $workdir"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

reset_fixture() {
  ((no_fixture)) && return 0
  "$tests_root/fixture/make-fixture.sh" "$export_dir" > "$workdir/fixture.log" 2>&1 ||
    { cat "$workdir/fixture.log" >&2; die "make-fixture failed"; }
  own_fixture=1
}

# ---- kernel, modules, helpers --------------------------------------------------------------
t_start=$(date +%s.%N)
log "preparing kernel + initramfs (cache ${P9X_CACHE:-/var/cache/p9x})"
P9X_PATCHED_MODULES=$patched_modules "$here/prepare.sh" "$workdir/prep" | sed 's/^/  /'
((capture == 0)) || command -v dumpcap >/dev/null || die "--capture needs dumpcap (tshark; run scripts/setup.sh)"
# shellcheck disable=SC1091
. "$workdir/prep/env"
big=${P9X_FIXTURE_BIG:-10000}

# ---- one boot ------------------------------------------------------------------------------
# boot LABEL CACHE TRANSPORT(tcp|virtio) VIRTFS_MODE : boots, leaves $bdir/{console,results}.log
boot() {
  local label=$1 cache=$2 transport=$3 vmode=$4
  bdir="$workdir/boots/$label-$cache"
  rm -rf "$bdir"; mkdir -p "$bdir/layer/p9x"
  local mods=$MODULES_TCP
  [[ $transport == virtio ]] && mods=$MODULES_VIRTIO
  cat > "$bdir/layer/p9x/params" <<EOF
P9X_LABEL='$label'
P9X_CACHE='$cache'
P9X_TRANSPORT='$transport'
P9X_ANAME='$aname'
P9X_MOUNT_OPTS='$mount_opts'
P9X_TESTS='${tests//,/ }'
P9X_MODULES='$mods'
P9X_FSX_OPS='$fsx_ops'
P9X_FSX_SEED='$(( $(date +%s) % 100000 ))'
P9X_BIG='$big'
P9X_PATCHED='$([[ -n $patched_modules ]] && echo 1)'
P9X_PATCHED_MD5='${PATCHED_MD5:-}'
P9X_EXPECT_DIALECT='$expect_dialect'
EOF
  [[ -n "$guest_script" ]] && cp "$guest_script" "$bdir/layer/p9x/extra.sh"
  # Base tree + this boot's params, as one newc archive.
  (cd "$workdir/prep/base" && find . | cpio -o -H newc --quiet) > "$bdir/initrd"
  (cd "$bdir/layer" && find . | cpio -o -H newc --quiet) >> "$bdir/initrd"
  local net=()
  if [[ $transport == tcp ]]; then
    local relay="$workdir/prep/relay 127.0.0.1 $port"
    [[ -n "$relay_netns" ]] && relay="nsenter --net=/run/netns/$relay_netns $relay"
    net=(-netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:564-cmd:$relay" -device virtio-net-pci,netdev=n0)
  else
    net=(-virtfs "local,path=$export_dir,mount_tag=p9x,security_model=passthrough,multidevs=$vmode")
    # v9fs_xqid_*: qemu/'s series names each host filesystem's path_hi (no such event elsewhere)
    ((trace_9p)) && net+=(-trace v9fs_version -trace v9fs_version_return -trace v9fs_readdir_return
                          -trace 'v9fs_xqid_*' -D "$bdir/9p-trace.log")
  fi
  local qemu=("$qemu_bin" "${qemu_firmware[@]}" -machine pc -accel tcg -m 512 -smp 1 -nodefaults -display none -no-reboot
    -kernel "$KERNEL" -initrd "$bdir/initrd" -append "console=ttyS0 quiet panic=-1 rdinit=/init"
    -serial "file:$bdir/console.log" -serial "file:$bdir/results.log" "${net[@]}")
  printf '%q ' "${qemu[@]}" > "$bdir/qemu.cmd"
  local t0 t1 rc=0 capture_pid=""
  if ((capture)) && [[ $transport == tcp ]]; then
    dumpcap -q -i lo -f "tcp port $port" -w "$bdir/9p.pcapng" > "$bdir/dumpcap.log" 2>&1 &
    capture_pid=$!
    for _ in $(seq 50); do grep -q 'Capturing on' "$bdir/dumpcap.log" 2>/dev/null && break; [[ -s "$bdir/9p.pcapng" ]] && break; sleep 0.1; done
  fi
  t0=$(date +%s.%N)
  # In the background + wait, so that INT/TERM reach the trap at once (cleanup kills QEMU).
  timeout --kill-after=5 "$boot_timeout" "${qemu[@]}" > "$bdir/qemu.out" 2>&1 &
  qemu_pid=$!
  wait "$qemu_pid" || rc=$?
  qemu_pid=""
  t1=$(date +%s.%N)
  if [[ -n "$capture_pid" ]]; then sleep 0.5; kill -INT "$capture_pid" 2>/dev/null || true; wait "$capture_pid" 2>/dev/null || true; fi
  tr -d '\r' < "$bdir/results.log" > "$bdir/results.txt" 2>/dev/null || : > "$bdir/results.txt"
  boot_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  local ready; ready=$(awk '/^READY/{sub("uptime=","",$2); print $2}' "$bdir/results.txt")
  if [[ $rc -ne 0 ]] || ! grep -q '^DONE' "$bdir/results.txt"; then
    log "BOOT FAILED ($label, cache=$cache, qemu rc=$rc, ${boot_secs}s); qemu output and guest console:"
    sed 's/^/  qemu| /' "$bdir/qemu.out" | tail -20
    tr -d '\r' < "$bdir/console.log" | tail -60 | sed 's/^/  guest| /'
    echo "RESULT boot FAIL qemu rc=$rc, no DONE line (see $bdir/console.log)" >> "$bdir/results.txt"
    return 0
  fi
  log "  guest done in ${boot_secs}s (guest uptime at READY ${ready:-?}s)"
}

start_server_cmd() { # start_server_cmd CMD
  local cmd=${1//\{PORT\}/$port}; cmd=${cmd//\{EXPORT\}/$export_dir}
  # The server runs in the work dir (diod can dump core there when stopped mid-session), so a
  # relative program path (tests/peers/diod.sh) is made absolute first.
  local prog=${cmd%% *}
  [[ $prog == */* && $prog != /* ]] && cmd="$PWD/$cmd"
  log "  server: $cmd"
  P9X_PORT=$port P9X_EXPORT=$export_dir setsid bash -c "cd '$workdir' && exec $cmd" > "$bdir_server_log" 2>&1 < /dev/null &
  server_pid=$!
  if ! python3 "$tests_root/peers/9p-probe.py" --wait 15 "tcp:127.0.0.1:$port" > "$workdir/probe.out" 2>&1; then
    cat "$workdir/probe.out" >&2; sed 's/^/  server| /' "$bdir_server_log" >&2
    die "server did not answer Tversion on 127.0.0.1:$port"
  fi
  log "  $(cat "$workdir/probe.out")"
}

# host_seed BDIR : host-side verdict on where each variant's write landed -> appended RESULT lines
host_token() {
  local f=$1 c
  [[ -e $f ]] || { echo ENOENT; return; }
  c=$(cat "$f")
  case "$c" in
    'p9x seed file: original content') echo orig ;;
    'written-via-p2') echo written ;;
    '') echo empty ;;
    *) echo "other(${c:0:24})" ;;
  esac
}
landed() { # landed P1TOKEN P2TOKEN -> human verdict
  case "$1/$2" in
    orig/written) echo "p2 (correct)" ;;
    written/orig) echo "p1 (WRONG FILE)" ;;
    written/empty) echo "p1 (WRONG FILE), p2 truncated to 0" ;;
    orig/orig) echo "nowhere" ;;
    orig/empty) echo "nowhere, p2 truncated to 0" ;;
    *) echo "p1=$1 p2=$2" ;;
  esac
}
host_checks() {
  local r=$bdir/results.txt v f t1 t2 where
  if [[ ",$tests," == *,seed,* ]] && ! ((no_fixture)); then
    for v in ro:file rw:file2; do
      f=${v#*:}
      t1=$(host_token "$export_dir/p1/$f"); t2=$(host_token "$export_dir/p2/$f")
      where=$(landed "$t1" "$t2")
      echo "DATA seed-${v%%:*} host p1/$f=$t1 p2/$f=$t2 landed=${where// /_}" >> "$r"
      if [[ $t1/$t2 == orig/written ]]; then echo "RESULT host.seed-${v%%:*}.landed PASS write landed in p2/$f; p1/$f unchanged" >> "$r"
      else echo "RESULT host.seed-${v%%:*}.landed FAIL $where (host: p1/$f=$t1 p2/$f=$t2)" >> "$r"; fi
    done
  fi
  if [[ ",$tests," == *,present,* ]]; then
    # The guest's (st_dev, st_ino) of each path against the host's: same inode numbers, and two
    # paths share a guest device exactly when they share a host device.
    local line kv path gdev gino hino bad_ino="" bad_dev="" p q n=0
    local -A gd=() hd=()
    line=$(grep -m1 '^DATA present devino' "$r" || true)
    for kv in ${line#DATA present devino}; do
      path=${kv%%=*}; gdev=${kv#*=}; gino=${gdev#*:}; gdev=${gdev%%:*}
      hino=$(stat -c %i "$export_dir/$path" 2>/dev/null || echo ENOENT)
      [[ "$gino" == "$hino" ]] || bad_ino+=" $path:guest=$gino,host=$hino"
      gd[$path]=$gdev; hd[$path]=$(stat -c %d "$export_dir/$path" 2>/dev/null || echo ENOENT); n=$((n + 1))
    done
    if ((n == 0)); then echo "RESULT host.present.st_ino FAIL no DATA present line from the guest" >> "$r"
    elif [[ -z "$bad_ino" ]]; then echo "RESULT host.present.st_ino PASS $n paths: guest st_ino = host st_ino (host p1/file $(stat -c %i "$export_dir/p1/file"), p2/file $(stat -c %i "$export_dir/p2/file"))" >> "$r"
    else echo "RESULT host.present.st_ino FAIL$bad_ino" >> "$r"; fi
    for p in "${!gd[@]}"; do for q in "${!gd[@]}"; do
      [[ $p < $q ]] || continue
      local gs=0 hs=0
      [[ "${gd[$p]}" == "${gd[$q]}" ]] && gs=1
      [[ "${hd[$p]}" == "${hd[$q]}" ]] && hs=1
      ((gs == hs)) || bad_dev+=" $p/$q:guest-same=$gs,host-same=$hs"
    done; done
    if ((n > 0)) && [[ -z "$bad_dev" ]]; then echo "RESULT host.present.st_dev PASS $n paths: two share a guest st_dev exactly when they share a host st_dev" >> "$r"
    elif ((n > 0)); then echo "RESULT host.present.st_dev FAIL${bad_dev:0:400}" >> "$r"; fi
    local c1 c2
    c1=$(cat "$export_dir/p1/pres" 2>/dev/null || echo ENOENT); c2=$(cat "$export_dir/p2/pres" 2>/dev/null || echo ENOENT)
    if [[ $c1/$c2 == alpha/alpha ]]; then echo "RESULT host.present.cp PASS host p1/pres=alpha p2/pres=alpha" >> "$r"
    else echo "RESULT host.present.cp FAIL host p1/pres=$c1 p2/pres=$c2 (want alpha/alpha)" >> "$r"; fi
  fi
  if [[ ",$tests," == *,posix,* ]]; then
    local want got owner
    want=$(awk '/^DATA posix /{for(i=3;i<=NF;i++) if ($i ~ /^fsx-md5=/) {sub("fsx-md5=","",$i); print $i}}' "$r")
    if [[ -f "$export_dir/posix/fsx" ]]; then got=$(md5sum < "$export_dir/posix/fsx" | cut -d' ' -f1); else got=ENOENT; fi
    if [[ -n "$want" && "$want" == "$got" ]]; then echo "RESULT host.posix.fsx-content PASS host md5 $got = guest md5" >> "$r"
    else echo "RESULT host.posix.fsx-content FAIL host md5 $got, guest md5 ${want:-none}" >> "$r"; fi
    owner=$(stat -c %u:%g "$export_dir/posix/b/g" 2>/dev/null || echo ENOENT)
    if [[ $owner == 1234:5678 ]]; then echo "RESULT host.posix.chown PASS host sees 1234:5678" >> "$r"
    else echo "RESULT host.posix.chown FAIL host sees $owner" >> "$r"; fi
  fi
}

print_results() { # print_results LABEL CACHE
  grep -E '^RESULT ' "$bdir/results.txt" | while read -r _ name status detail; do
    printf '  %-5s %-8s %-34s %s\n' "$status" "$2" "$name" "${detail:0:150}"
  done
}

# run_one LABEL KIND CACHE : KIND = cmd:<command> | diod | ganesha[-fsiddev] | virtfs-warn | virtfs-remap
run_one() {
  local label=$1 kind=$2 cache=$3
  log "== $label, cache=$cache"
  reset_fixture
  bdir_server_log="$workdir/server-$label-$cache.log"
  local transport=tcp vmode=""
  relay_netns_saved=$relay_netns
  case $kind in
    cmd:*) start_server_cmd "${kind#cmd:}" ;;
    diod) start_server_cmd "$tests_root/peers/diod.sh run --export {EXPORT} --port {PORT}" ;;
    ganesha*)
      ganesha_wd="$workdir/ganesha"
      local fd=0; [[ $kind == ganesha-fsiddev ]] && fd=1
      GANESHA_FSID_DEVICE=$fd "$tests_root/peers/ganesha.sh" start --export "$export_dir" --port "$port" \
        --workdir "$ganesha_wd" --netns "p9x-lc-$$" > "$bdir_server_log" 2>&1 ||
        { cat "$bdir_server_log" >&2; die "ganesha did not start"; }
      relay_netns="p9x-lc-$$"
      log "  server: nfs-ganesha (netns p9x-lc-$$, fsid_device=$fd)" ;;
    virtfs-*) transport=virtio vmode=${kind#virtfs-}; log "  server: QEMU 9p (-virtfs multidevs=$vmode)" ;;
  esac
  boot "$label" "$cache" "$transport" "$vmode"
  stop_server
  relay_netns=$relay_netns_saved
  host_checks
  print_results "$label" "$cache"
  cp "$bdir/results.txt" "$workdir/results-$label-$cache.txt"
}

# ---- main ----------------------------------------------------------------------------------
declare -a runs=()   # "label|kind|cache"
if ((compare)); then
  servers=("diod|diod" "qemu-9p-warn|virtfs-warn" "qemu-9p-remap|virtfs-remap")
  ((with_ganesha)) && servers+=("ganesha|ganesha" "ganesha-fsid_device|ganesha-fsiddev")
  for s in "${servers[@]}"; do for c in ${caches//,/ }; do runs+=("${s%%|*}|${s#*|}|$c"); done; done
elif [[ -n "$virtfs" ]]; then
  for c in ${caches//,/ }; do runs+=("qemu-9p-$virtfs|virtfs-$virtfs|$c"); done
else
  for c in ${caches//,/ }; do runs+=("server|cmd:$server_cmd|$c"); done
fi
log "kernel $KVER ($KERNEL_KIND); export $export_dir; ${#runs[@]} boot(s); tests: $tests"
for r in "${runs[@]}"; do
  IFS='|' read -r label kind cache <<< "$r"
  run_one "$label" "$kind" "$cache"
done
total=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')

cat "$workdir"/results-*.txt > "$workdir/all-results.txt"
npass=$(grep -c '^RESULT .* PASS' "$workdir/all-results.txt" || true)
nfail=$(grep -c '^RESULT .* FAIL' "$workdir/all-results.txt" || true)
nskip=$(grep -c '^RESULT .* SKIP' "$workdir/all-results.txt" || true)

# ---- report --------------------------------------------------------------------------------
field() { # field FILE LINE-PREFIX KEY -> value of KEY=value on the first line starting with PREFIX
  awk -v p="$2" -v k="$3" 'index($0, p) == 1 {for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) {print substr($i, length(k) + 2); exit}}' "$1"
}
write_compare_report() {
  echo "# Seed scenario (2018 qid-collision report) with the Linux $KVER 9p client"
  echo
  echo "Generated by \`tests/linux-client/run.sh --compare\` on $(date -u +%Y-%m-%dT%H:%MZ); QEMU $("$qemu_bin" --version | awk 'NR==1{print $4}') TCG, kernel booted via $KERNEL_KIND."
  echo "Export: p1/ and p2/ are byte-identical ext4 images (same inode numbers), p3/ a tmpfs."
  echo "**ro**: \`exec 3<p1/file\`, then \`echo written-via-p2 > p2/file; sync\`. **rw**: the same with \`exec 3>>p1/file2\` and file2."
  echo "Inodes are what the guest's \`stat\` shows (v9fs shows qid.path + 2). \"Landed\" is what the host reads from the images afterwards."
  echo "A correct server shows distinct inodes, the guest reads back orig/written, and the write lands in p2."
  echo
  echo "| server | cache | guest inodes p1/file, p2/file (dirs p1, p2) | ro: guest reads p1, p2 | ro: write landed | rw: guest reads p1, p2 | rw: write landed |"
  echo "|---|---|---|---|---|---|---|"
  local r label cache f
  for r in "${runs[@]}"; do
    IFS='|' read -r label _ cache <<< "$r"
    f="$workdir/results-$label-$cache.txt"
    if grep -q '^RESULT boot FAIL' "$f"; then echo "| $label | $cache | boot failed | | | | |"; continue; fi
    local i1 i2 d1 d2 gr1 gr2 gw1 gw2 lr lw
    i1=$(field "$f" "DATA seed-ro ino" p1/file); i2=$(field "$f" "DATA seed-ro ino" p2/file)
    d1=$(field "$f" "DATA seed-ro ino" p1); d2=$(field "$f" "DATA seed-ro ino" p2)
    gr1=$(field "$f" "DATA seed-ro guest" p1/file); gr2=$(field "$f" "DATA seed-ro guest" p2/file)
    gw1=$(field "$f" "DATA seed-rw guest" p1/file2); gw2=$(field "$f" "DATA seed-rw guest" p2/file2)
    lr=$(field "$f" "DATA seed-ro host" landed); lw=$(field "$f" "DATA seed-rw host" landed)
    echo "| $label | $cache | $i1, $i2 ($d1, $d2) | $gr1, $gr2 | ${lr//_/ } | $gw1, $gw2 | ${lw//_/ } |"
  done
  echo
  echo "Measured wall time for the whole comparison: ${total}s (${#runs[@]} boots)."
}
write_result_report() {
  echo "# Linux $KVER 9p client results"
  echo
  echo "Generated by \`tests/linux-client/run.sh\` on $(date -u +%Y-%m-%dT%H:%MZ): $npass pass, $nfail fail, $nskip skip, ${total}s."
  echo
  echo "| server | cache | test | result | detail |"
  echo "|---|---|---|---|---|"
  local r label cache
  for r in "${runs[@]}"; do
    IFS='|' read -r label _ cache <<< "$r"
    grep -E '^RESULT ' "$workdir/results-$label-$cache.txt" | while read -r _ name status detail; do
      echo "| $label | $cache | $name | $status | ${detail//|/\\|} |"
    done
  done
}
if ((compare)); then
  write_compare_report > "$workdir/report.md"
else
  write_result_report > "$workdir/report.md"
fi
[[ -n "$report" ]] && cp "$workdir/report.md" "$report" && log "report written to $report"
if ((compare)); then
  echo; cat "$workdir/report.md"; echo
  log "comparison done in ${total}s ($npass pass / $nfail fail lines; failures are expected for diod and QEMU warn)"
  exit 0
fi
log "done in ${total}s: $npass PASS, $nfail FAIL, $nskip SKIP"
((nfail == 0))
