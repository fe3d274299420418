#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs every Debian package p9x needs to build, test and benchmark, and nothing else.
# Idempotent and non-interactive: packages already present are skipped, so a second run is a
# no-op apart from the dpkg query. Run as root (or with sudo available) on Debian 12.
set -euo pipefail

# Build: compiler, CMake, and the libraries the code links.
build_packages=(
  g++ cmake make ninja-build ccache pkg-config git ca-certificates
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libprotobuf-dev protobuf-compiler
  scdoc          # the manual pages (dist/man/*.scd -> roff)
  file dpkg-dev  # scripts/package.sh: CPack's dpkg-shlibdeps step
  pandoc python3 # scripts/render-spec.sh: spec/*.md to HTML, and its link check (a CTest test)
)
# Tests: the fuzzer and sanitizers (clang), the independent decoder (tshark), real third-party
# servers (diod, nfs-ganesha), the multi-filesystem fixture (e2fsprogs, util-linux), network
# namespaces (iproute2), the Linux-client tier (QEMU, busybox, cpio, kmod), and profiling the
# servers under bench/run-matrix.sh (linux-perf, valgrind), and the HTML reports (headless
# Chromium, tidy, pdftotext).
test_packages=(
  clang libclang-rt-14-dev llvm
  tshark
  diod nfs-ganesha nfs-ganesha-vfs
  e2fsprogs util-linux iproute2 procps psmisc
  xfsprogs btrfs-progs   # tests/qid-identity: XFS with inode numbers above 2^32, btrfs subvolumes
  qemu-system-x86 busybox-static cpio kmod xz-utils zstd
  python3
  gcc libc6-dev   # tests/linux-client: static guest helper and guestfwd relay (libc.a)
  linux-perf valgrind
  clang-format    # scripts/check-format.sh: the layout of changed lines
  chromium tidy poppler-utils fonts-dejavu-core   # tests/reports: the HTML pages in a real browser
  linux-source-6.1   # linux/build-modules.sh: net/9p and fs/9p of the guest kernel's release
  systemd              # dist/: systemd-analyze checks the units (no running systemd needed)
  lintian              # scripts/package.sh checks the package with it
  # qemu/build-qemu.sh: Debian's qemu source package (dpkg-source) and the minimal
  # qemu-system-x86_64's build dependencies; the firmware comes with qemu-system-x86 (seabios)
  dpkg-dev patch perl meson flex bison
  libglib2.0-dev libpixman-1-dev libcap-ng-dev libattr1-dev zlib1g-dev libslirp-dev libfdt-dev
)
# linux/build-modules.sh also needs the headers of exactly the kernel the Linux-client tier boots
# (what linux-image-amd64 depends on); resolved from the package lists, after an update if needed.
guest_kernel_headers() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/{sub("linux-image-","linux-headers-",$2); print $2; exit}'
}

wanted=("${build_packages[@]}")
headers_unresolved=0
if [[ "${1:-}" != "--build-only" ]]; then
  wanted+=("${test_packages[@]}")
  headers=$(guest_kernel_headers)
  if [[ -n "$headers" ]]; then wanted+=("$headers"); else headers_unresolved=1; fi
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)) && ((headers_unresolved == 0)); then
  echo "setup: all ${#wanted[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package lists are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]] ||
   ((headers_unresolved)); then
  $SUDO apt-get update -q
fi
if ((headers_unresolved)); then
  headers=$(guest_kernel_headers)
  [[ -n "$headers" ]] || { echo "setup: cannot resolve linux-image-amd64's kernel for its headers" >&2; exit 1; }
  dpkg-query -W -f='${Status}' "$headers" 2>/dev/null | grep -q 'install ok installed' || missing+=("$headers")
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# nfs-ganesha's package starts a daemon on install; p9x's tests start their own instances.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nfs-ganesha >/dev/null 2>&1 || true; fi
pkill -x ganesha.nfsd 2>/dev/null || true
echo "setup: done"
