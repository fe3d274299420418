#!/usr/bin/env bash
# build-modules.sh — builds the patched 9p modules (9pnet, 9pnet_fd, 9pnet_virtio, 9p) out of tree
# for the kernel the Linux-client test tier boots, from Debian's own sources and headers.
#
# usage: linux/build-modules.sh [--kver KVER] [--out DIR] [--check]
#   --kver KVER   kernel ABI to build for (default: what linux-image-amd64 depends on, e.g.
#                 6.1.0-57-amd64; the tier boots the same image)
#   --out DIR     where the .ko files go (default ${P9X_CACHE:-/var/cache/p9x}/linux-xqid/KVER)
#   --check       check the series as a submission: the source tree's scripts/checkpatch.pl
#                 --strict --no-signoff on each patch before it is applied, and a build (with
#                 warnings as failures) after each patch, so every prefix of the series builds
# Inputs: /usr/src/linux-source-6.1.tar.xz (package linux-source-6.1) and
# /usr/src/linux-headers-KVER (package linux-headers-KVER), both installed by scripts/setup.sh;
# the source package must be the same Debian version as the image. Nothing is downloaded.
# Output is cached: when the source tarball, the headers, the series and this script are
# unchanged, the modules are not rebuilt. Prints the output directory on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kver="" out="" check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kver) kver=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-modules: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "build-modules: $*" >&2; }
die() { echo "build-modules: $*" >&2; exit 2; }

if [[ -z "$kver" ]]; then
  kver=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{sub("linux-image-","",$2); print $2; exit}')
  [[ -n "$kver" ]] || die "cannot resolve linux-image-amd64's kernel (apt-get update, or pass --kver)"
fi
tarball=/usr/src/linux-source-6.1.tar.xz
headers=/usr/src/linux-headers-$kver
[[ -f "$tarball" ]] || die "$tarball missing: install linux-source-6.1 (scripts/setup.sh)"
[[ -d "$headers" ]] || die "$headers missing: install linux-headers-$kver (scripts/setup.sh)"
for tool in make gcc tar xz patch sha256sum dpkg-query; do
  command -v "$tool" >/dev/null || die "missing $tool (run scripts/setup.sh)"
done

# The image and the source must come from one Debian release: the patches are written against
# that release's net/9p and fs/9p, and the modules must match the kernel they are loaded into.
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo unknown)
hdr_version=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null || echo unknown)
if [[ "$src_version" != "$hdr_version" ]]; then
  die "linux-source-6.1 is $src_version but linux-headers-$kver is $hdr_version: install both from one release"
fi

mapfile -t series < <(ls "$here"/patches/*.patch 2>/dev/null | sort)
((${#series[@]})) || die "no patches in $here/patches"

out=${out:-${P9X_CACHE:-/var/cache/p9x}/linux-xqid/$kver}
mkdir -p "$out"
# Contents and names only: the same checkout reached by another path is the same input.
key=$( { echo "$kver $src_version"; stat -c '%s %Y' "$tarball" "$headers/.config" "$headers/Module.symvers";
         cat "$0"; for p in "${series[@]}"; do basename "$p"; cat "$p"; done; } | sha256sum | cut -d' ' -f1)
modules=(9pnet 9pnet_fd 9pnet_virtio 9p)
have_all=1
for m in "${modules[@]}"; do [[ -f "$out/$m.ko" ]] || have_all=0; done
# A build that passed --check also serves a plain build; a plain one does not serve --check.
stored=$(cat "$out/.inputs" 2>/dev/null || true)
if ((have_all)) && { [[ "$stored" == "$key checked" ]] || { ((check == 0)) && [[ "$stored" == "$key" ]]; }; }; then
  log "up to date ($kver, Debian $src_version, ${#series[@]} patches$( ((check)) && echo ', checked')): $out"
  echo "$out"
  exit 0
fi

rm -f "$out/.inputs"
work=$(mktemp -d /tmp/p9x-9p-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
log "extracting net/9p, fs/9p, include/net/9p from $tarball (Debian $src_version)"
tar -xJf "$tarball" -C "$work" linux-source-6.1/net/9p linux-source-6.1/fs/9p linux-source-6.1/include/net/9p \
  linux-source-6.1/Documentation/filesystems/9p.rst \
  linux-source-6.1/scripts/checkpatch.pl linux-source-6.1/scripts/spelling.txt \
  linux-source-6.1/scripts/const_structs.checkpatch
tree=$work/linux-source-6.1
# One external-module tree: the patched include/net/9p comes before the headers' own copy
# (NOSTDINC_FLAGS precede LINUXINCLUDE on the compiler's command line), and fs/9p links against
# the symbols of the 9pnet built next to it. The Xen and RDMA transports are not built.
echo 'obj-m += net/9p/ fs/9p/' > "$tree/Kbuild"
build() { # build WHAT : incremental make of the tree; any compiler warning fails it
  make -C "$headers" M="$tree" -j"${P9X_JOBS:-2}" \
    NOSTDINC_FLAGS="-nostdinc -I$tree/include" \
    CONFIG_NET_9P_XEN= CONFIG_NET_9P_RDMA= modules > "$work/make.log" 2>&1 ||
    { cat "$work/make.log" >&2; die "module build failed $1"; }
  if grep -E 'warning:' "$work/make.log" >&2; then die "the build printed warnings $1 (above)"; fi
}
for p in "${series[@]}"; do
  name=$(basename "$p")
  if ((check)); then
    # checkpatch looks at the patch before it is applied, as a reviewer's tree would
    (cd "$tree" && perl scripts/checkpatch.pl --strict --no-signoff --no-tree --root="$tree" -q "$p") ||
      die "checkpatch reports problems in $name"
  fi
  if ! patch -d "$tree" -p1 --forward --batch --quiet < "$p" > "$work/patch.log" 2>&1; then
    cat "$work/patch.log" >&2
    die "$name no longer applies to Debian's linux-source-6.1 $src_version (the series was written against 6.1.192-3): rebase it onto this release"
  fi
  if ((check)); then build "with the series up to $name"; log "$name: checkpatch clean, builds"; fi
done
log "applied ${#series[@]} patches"
((check)) || { log "building ${modules[*]} against $headers"; build "with the whole series"; }
for m in "${modules[@]}"; do
  f=$(find "$tree" -name "$m.ko" | head -1)
  [[ -n "$f" ]] || die "$m.ko was not built"
  cp "$f" "$out/$m.ko"
done
if ((check)); then echo "$key checked" > "$out/.inputs"; else echo "$key" > "$out/.inputs"; fi
log "built ${modules[*]} for $kver (vermagic: $(modinfo -F vermagic "$out/9p.ko")): $out"
echo "$out"
