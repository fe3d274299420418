#!/usr/bin/env bash
# build-qemu.sh — builds a qemu-system-x86_64 whose 9p server speaks 9P2000.L.xqid, from Debian's
# own qemu source package with Debian's patches and then qemu/patches/ applied.
#
# usage: qemu/build-qemu.sh [--version VERSION] [--out DIR] [--check]
#   --version VERSION  the Debian source version to build (default: the newest 1:7.2+dfsg-7+deb12u*
#                      in the machine's apt sources)
#   --out DIR          where the binary goes (default ${P9X_CACHE:-/var/cache/p9x}/qemu-xqid)
#   --check            check the series as a submission: QEMU's scripts/checkpatch.pl on each
#                      patch before it is applied, and a build after each patch, so that every
#                      prefix of the series builds
# The source comes through apt from the same archive as the machine's binary packages: a deb-src
# entry derived from /etc/apt/sources.list(.d) in a private apt state directory (under
# ${P9X_CACHE:-/var/cache/p9x}/qemu-xqid/apt), so the machine's own package lists are untouched.
# The binary is a minimal one (x86_64 TCG, virtfs, slirp, no firmware: run it with
# -L /usr/share/qemu -L /usr/share/seabios). The compiler runs under ccache. Output is cached:
# when the source version, the series and this script are unchanged, nothing is rebuilt. Prints
# the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version="" out="" check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-qemu: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "build-qemu: $*" >&2; }
die() { echo "build-qemu: $*" >&2; exit 2; }
for tool in apt-get apt-cache dpkg-source patch perl python3 meson ninja ccache cc sha256sum flock; do
  command -v "$tool" >/dev/null || die "missing $tool (run scripts/setup.sh)"
done

cache=${P9X_CACHE:-/var/cache/p9x}/qemu-xqid
out=${out:-$cache}
mkdir -p "$cache" "$out"
exec 9>"$cache/.lock"
flock 9   # one build at a time: the work tree below has a fixed path (ccache hits need one)

# --- Debian's source package, through a private apt state directory ---------------------------
apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d"
# Every binary source of the machine, as a source entry: deb822 files get Types: deb-src, one-line
# files deb-src lines. Only the private directory is written.
rm -f "$apt_dir"/sources.list.d/*
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] && sed -E 's/^Types:.*/Types: deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f "$f" ]] && sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
done
apt_opts=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$apt_dir/sources.list.d"
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
          -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
newest_source() { # the newest 1:7.2+dfsg-7+deb12u* in the source lists (sort -V orders u9 < u18)
  apt-cache "${apt_opts[@]}" showsrc qemu 2>/dev/null |
    awk '/^Version: 1:7\.2\+dfsg-7\+deb12u[0-9]+$/{print $2}' | sort -uV | tail -1
}
if [[ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*Sources*' -mtime -1 2>/dev/null | head -1)" ]]; then
  log "updating the private source lists ($apt_dir)"
  apt-get -q "${apt_opts[@]}" update >&2 || die "apt-get update of the deb-src lists failed"
fi
if [[ -z "$version" ]]; then
  version=$(newest_source)
  [[ -n "$version" ]] || die "no qemu 1:7.2+dfsg-7+deb12u* source in $apt_dir/sources.list.d (the series is written against Debian 12's qemu 7.2; pass --version to choose another)"
fi
upstream=${version#*:}   # file names carry no epoch
upstream_dir=${upstream%-*}

# Contents and names only: the same checkout reached by another path (qemu/build-qemu.sh from the
# top, ../../qemu/build-qemu.sh from a test) is the same input.
key=$( { echo "$version"; cat "$0"; for p in "$here"/patches/*.patch; do basename "$p"; cat "$p"; done; } |
       sha256sum | cut -d' ' -f1)
binary=$out/qemu-system-x86_64
stored=$(cat "$out/.inputs" 2>/dev/null || true)
if [[ -x "$binary" ]] && { [[ "$stored" == "$key checked" ]] || { ((check == 0)) && [[ "$stored" == "$key" ]]; }; }; then
  log "up to date (Debian qemu $version, $(ls "$here"/patches/*.patch | wc -l) patches$( ((check)) && echo ', checked')): $binary"
  echo "$binary"
  exit 0
fi

dl=$cache/source
mkdir -p "$dl"
dsc=$dl/qemu_${upstream}.dsc
if [[ ! -f "$dsc" ]]; then
  log "downloading Debian's qemu $version source package"
  (cd "$dl" && apt-get -q "${apt_opts[@]}" source --download-only "qemu=$version" >&2) ||
    die "cannot download the qemu $version source package"
fi

# --- unpack (Debian's patches), then the series ---------------------------------------------------
work=$cache/work   # a fixed path, so that ccache finds the objects of the previous build
rm -rf "$work"
mkdir -p "$work"
log "unpacking $dsc (dpkg-source applies Debian's patches)"
dpkg-source --no-check -x "$dsc" "$work/src" > "$work/dpkg-source.log" 2>&1 ||
  { cat "$work/dpkg-source.log" >&2; die "dpkg-source -x failed for qemu $version"; }
src=$work/src
# QEMU 7.2 unpacks the edk2 firmware blobs whenever bzip2 is found for an x86 target, with no
# configure switch, and the dfsg tarball has none: build without them.
sed -i 's/^\([[:space:]]*\)unpack_edk2_blobs = bzip2\.found()$/\1unpack_edk2_blobs = false/' "$src/meson.build"
grep -q 'unpack_edk2_blobs = bzip2.found()' "$src/meson.build" &&
  die "could not turn off unpack_edk2_blobs in qemu $version's meson.build"

configure_and_build() { # WHAT: (re)build qemu-system-x86_64 in $work/build; fails with WHAT
  if [[ ! -f "$work/build/build.ninja" ]]; then
    mkdir -p "$work/build"
    (cd "$work/build" && "$src/configure" --cc="ccache cc" --cxx="ccache c++" \
        --target-list=x86_64-softmmu --without-default-features \
        --enable-virtfs --enable-slirp --enable-attr --enable-cap-ng --enable-tcg --enable-fdt=system \
        --disable-docs --disable-install-blobs > "$work/configure.log" 2>&1) ||
      { tail -30 "$work/configure.log" >&2; die "configure failed $1 (log: $work/configure.log)"; }
  fi
  ninja -C "$work/build" -j"${P9X_JOBS:-2}" qemu-system-x86_64 > "$work/ninja.log" 2>&1 ||
    { grep -E -B2 -A8 'error:|FAILED' "$work/ninja.log" | head -60 >&2; die "the build failed $1 (log: $work/ninja.log)"; }
}

mapfile -t series < <(ls "$here"/patches/*.patch 2>/dev/null | sort)
((${#series[@]})) || die "no patches in $here/patches"
for p in "${series[@]}"; do
  name=$(basename "$p")
  if ((check)); then
    (cd "$src" && perl scripts/checkpatch.pl --no-signoff -q "$p") > "$work/checkpatch.log" 2>&1 ||
      { cat "$work/checkpatch.log" >&2; die "checkpatch reports problems in $name"; }
  fi
  if ! patch -d "$src" -p1 --forward --batch < "$p" > "$work/patch.log" 2>&1; then
    cat "$work/patch.log" >&2
    die "$name no longer applies to Debian's qemu $version (the series is written against 1:7.2+dfsg-7+deb12u18): rebase it onto this revision (qemu/README.md)"
  fi
  if ((check)); then configure_and_build "with the series up to $name"; log "$name: checkpatch clean, builds"; fi
done
log "applied ${#series[@]} patches to Debian's qemu $version"
if ((check == 0)); then
  log "building qemu-system-x86_64 (ccache; minutes the first time)"
  configure_and_build "with the whole series"
fi
cp "$work/build/qemu-system-x86_64" "$binary.new"
mv "$binary.new" "$binary"
if ((check)); then echo "$key checked" > "$out/.inputs"; else echo "$key" > "$out/.inputs"; fi
log "built $binary from Debian's qemu $version and ${#series[@]} patches"
echo "$binary"
