#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# prepare.sh [OUTDIR] — get the Debian 12 kernel and build the test initramfs base.
#
# Cache (default ${P9X_CACHE:-/var/cache/p9x}), reused when present, never installed:
#   linux-image-<abi>_<ver>_amd64.deb          `apt-get download` of what linux-image-amd64 depends on
#   linux-client/<abi>/root/                   dpkg-deb -x of it
#   linux-client/<abi>/vmlinux                 uncompressed ELF (extract-vmlinux.sh), booted via PVH
# OUTDIR (default: a mktemp dir) receives:
#   base/                 initramfs tree: busybox, /init, /dev/console, modules + /p9x/modules.order
#   p9xt, relay           helpers compiled from src/ (p9xt static, for the guest)
#   env                   KERNEL=, KERNEL_KIND=pvh|bzimage, KVER=, MODULES_TCP=, MODULES_VIRTIO=,
#                         PATCHED_MD5= (md5 of the patched 9pnet.ko and 9p.ko, when present)
# Set P9X_NO_PVH=1 to force the bzImage. Set P9X_PATCHED_MODULES=DIR (linux/build-modules.sh's
# output) to add the patched 9pnet, 9pnet_fd, 9pnet_virtio and 9p as base/lib/modules/patched/,
# which a boot loads instead of the stock ones when its params say P9X_PATCHED=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${P9X_CACHE:-/var/cache/p9x}
out=${1:-$(mktemp -d /tmp/p9x-lc-prep.XXXXXX)}
mkdir -p "$out" "$cache"
log() { echo "prepare: $*"; }

for tool in apt-get apt-cache dpkg-deb modinfo cpio gcc busybox xz; do
  command -v "$tool" >/dev/null || { echo "prepare: missing $tool (run scripts/setup.sh)" >&2; exit 2; }
done

# 1. The kernel package: whatever linux-image-amd64 depends on (linux-image-6.1.*-amd64).
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [[ -z "$pkg" ]]; then
  log "apt lists lack linux-image-amd64; running apt-get update"
  apt-get update -q >/dev/null
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
[[ -n "$pkg" ]] || { echo "prepare: cannot resolve linux-image-amd64's kernel package" >&2; exit 1; }
kver=${pkg#linux-image-}
deb=$(ls "$cache/${pkg}"_*_amd64.deb 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$deb" ]]; then
  log "downloading $pkg into $cache"
  dl=$(mktemp -d /tmp/p9x-apt.XXXXXX)
  chmod 0777 "$dl"     # apt drops privileges to _apt for the download
  (cd "$dl" && apt-get download -q "$pkg" >/dev/null)
  mv "$dl"/*.deb "$cache/"
  rmdir "$dl"
  deb=$(ls "$cache/${pkg}"_*_amd64.deb | sort -V | tail -1)
else
  log "using cached $(basename "$deb")"
fi

kdir="$cache/linux-client/$kver"
if [[ ! -f "$kdir/root/.extracted" ]] || [[ "$(cat "$kdir/root/.extracted")" != "$(basename "$deb")" ]]; then
  log "extracting $(basename "$deb")"
  rm -rf "$kdir/root"; mkdir -p "$kdir/root"
  dpkg-deb -x "$deb" "$kdir/root"
  basename "$deb" > "$kdir/root/.extracted"
  rm -f "$kdir/vmlinux"
fi
vmlinuz="$kdir/root/boot/vmlinuz-$kver"
kernel=$vmlinuz kind=bzimage
if [[ "${P9X_NO_PVH:-0}" != 1 ]]; then
  if [[ ! -s "$kdir/vmlinux" ]]; then
    if "$here/extract-vmlinux.sh" "$vmlinuz" "$kdir/vmlinux.new"; then
      mv "$kdir/vmlinux.new" "$kdir/vmlinux"
    else
      log "WARNING: vmlinux extraction failed; falling back to the bzImage (slower boot)"
    fi
  fi
  if [[ -s "$kdir/vmlinux" ]]; then kernel="$kdir/vmlinux" kind=pvh; fi
fi
log "kernel $kver: $kernel ($kind)"

# 2. Modules and their dependencies (modinfo -F depends), in load order.
mroot="$kdir/root/lib/modules/$kver"
declare -A seen=()
order=()
modpath() { find "$mroot/kernel" -name "$1.ko" -o -name "$1.ko.xz" | head -1; }
visit() {
  local m=$1 f dep
  [[ -n "${seen[$m]:-}" ]] && return 0
  seen[$m]=1
  f=$(modpath "$m")
  [[ -n "$f" ]] || { echo "prepare: module $m not found under $mroot" >&2; exit 1; }
  for dep in $(modinfo -F depends "$f" | tr ',' ' '); do visit "$dep"; done
  order+=("$m")
}
for m in 9pnet 9pnet_fd netfs fscache 9p virtio_pci virtio_net 9pnet_virtio; do visit "$m"; done
# Two load lists: TCP (no 9pnet_virtio) and virtio (no virtio_net, no 9pnet_fd).
tcp_list=() virtio_list=()
for m in "${order[@]}"; do
  [[ $m != 9pnet_virtio ]] && tcp_list+=("$m")
  [[ $m != virtio_net && $m != net_failover && $m != failover && $m != 9pnet_fd ]] && virtio_list+=("$m")
done

# 3. initramfs base tree.
base="$out/base"
rm -rf "$base"
mkdir -p "$base"/{bin,dev,proc,sys,tmp,mnt,lib/modules,p9x}
cp /bin/busybox "$base/bin/busybox"
# Static = no program interpreter. ldd (libc-bin, on every system; `file` is not) says so, and
# exits 1 for a static binary: capture its output rather than pipe it under pipefail.
busybox_ldd=$(ldd /bin/busybox 2>&1 || true)
[[ "$busybox_ldd" == *"not a dynamic executable"* ]] ||
  { echo "prepare: /bin/busybox is not static (install busybox-static): ldd says: $busybox_ldd" >&2; exit 2; }
mknod -m 600 "$base/dev/console" c 5 1
mknod -m 666 "$base/dev/null" c 1 3
for m in "${order[@]}"; do
  f=$(modpath "$m")
  case $f in *.xz) xz -dc "$f" > "$base/lib/modules/$m.ko" ;; *) cp "$f" "$base/lib/modules/$m.ko" ;; esac
done
patched_md5=""
if [[ -n "${P9X_PATCHED_MODULES:-}" ]]; then
  mkdir -p "$base/lib/modules/patched"
  for m in 9pnet 9pnet_fd 9pnet_virtio 9p; do
    f="$P9X_PATCHED_MODULES/$m.ko"
    [[ -f "$f" ]] || { echo "prepare: $f missing (run linux/build-modules.sh)" >&2; exit 2; }
    vm=$(modinfo -F vermagic "$f"); vm=${vm%% *}
    [[ "$vm" == "$kver" ]] || { echo "prepare: $f is built for $vm, the guest runs $kver" >&2; exit 2; }
    cp "$f" "$base/lib/modules/patched/$m.ko"
  done
  patched_md5=$(cat "$P9X_PATCHED_MODULES/9pnet.ko" "$P9X_PATCHED_MODULES/9p.ko" | md5sum | cut -d' ' -f1)
  log "patched modules from $P9X_PATCHED_MODULES (9pnet.ko + 9p.ko md5 $patched_md5)"
fi
install -m 0755 "$here/guest/init" "$base/init"
install -m 0644 "$here/guest/tests.sh" "$base/p9x/tests.sh"

# 4. Helpers.
gcc -static -O2 -Wall -Wextra -o "$out/p9xt" "$here/src/p9xt.c"
gcc -O2 -Wall -Wextra -o "$out/relay" "$here/src/relay.c"
install -m 0755 "$out/p9xt" "$base/bin/p9xt"

cat > "$out/env" <<EOF
KERNEL='$kernel'
KERNEL_KIND=$kind
KVER=$kver
MODULES_TCP='${tcp_list[*]}'
MODULES_VIRTIO='${virtio_list[*]}'
PATCHED_MD5='$patched_md5'
EOF
log "modules (load order): ${order[*]}"
log "initramfs base: $base; helpers: $out/p9xt $out/relay"
