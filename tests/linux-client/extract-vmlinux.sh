#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# extract-vmlinux.sh BZIMAGE OUT — get the uncompressed ELF vmlinux out of a bzImage.
#
# A bzImage is a small decompressor followed by the compressed kernel. Find each compression
# magic (xz, zstd, gzip, lzma, bzip2, lz4), try to decompress from there, and keep the first
# result that is an ELF file. QEMU boots the ELF through its PVH entry (CONFIG_PVH), about twice
# as fast under TCG as letting the bzImage decompress itself.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 BZIMAGE OUT" >&2; exit 64; }
in=$1 out=$2
export LC_ALL=C

try() { # try NAME DECOMPRESSOR... ; reads the payload on stdin, writes $out.tmp
  shift
  "$@" > "$out.tmp" 2>/dev/null || true
  [[ -s "$out.tmp" ]] && [[ "$(head -c4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]]
}

# magic (as grep -P escapes) and decompressor command
declare -a names=(xz zstd gzip lzma bzip2 lz4)
declare -A magic=(
  [xz]='\xfd\x37\x7a\x58\x5a\x00'
  [zstd]='\x28\xb5\x2f\xfd'
  [gzip]='\x1f\x8b\x08'
  [lzma]='\x5d\x00\x00\x00'
  [bzip2]='BZh'
  [lz4]='\x02\x21\x4c\x18'
)
declare -A decomp=(
  [xz]='xz -dc --single-stream'
  [zstd]='zstd -dc'
  [gzip]='gzip -dc'
  [lzma]='xz -dc --format=lzma'
  [bzip2]='bzip2 -dc'
  [lz4]='lz4 -dc'
)
for name in "${names[@]}"; do
  tool=${decomp[$name]%% *}
  command -v "$tool" >/dev/null || continue
  # Byte offsets of every occurrence of the magic (usually only a few).
  while IFS=: read -r off _; do
    # shellcheck disable=SC2086
    # (process substitution, not a pipe: tail gets SIGPIPE when the decompressor stops early)
    if try "$name" ${decomp[$name]} < <(tail -c +$((off + 1)) "$in"); then
      mv "$out.tmp" "$out"
      echo "extract-vmlinux: $name payload at offset $off -> $out ($(stat -c %s "$out") bytes, ELF)"
      exit 0
    fi
  done < <(grep -obUaP "${magic[$name]}" "$in" | head -20)
done
rm -f "$out.tmp"
echo "extract-vmlinux: no decompressible ELF payload found in $in" >&2
exit 1
