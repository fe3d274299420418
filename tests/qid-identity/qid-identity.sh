#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# qid-identity.sh P9XD P9X CASE — qid identity on real filesystems (spec/qid-map.md §7).
#
#   reboot    two byte-identical ext4 images (same UUID, same inode numbers) on loop devices at
#             export/p1 and export/p2, served with --qid-state; then both are detached and
#             attached again in the opposite order under new loop numbers (as a reboot that
#             enumerates them differently does), and p9xd restarts on the same state file:
#             every qid, in both dialects, must be unchanged; and a p9xd with no state file must
#             give the same xqid qids.
#   replaced  the same image remounted at p1 keeps its qids; a different ext4 image (another
#             UUID, the same inode numbers) mounted at p1 instead, and a fresh tmpfs replacing
#             the one at p3, must get qids that no file had before; also while one p9xd keeps
#             running (it watches the mount table).
#   big       XFS with inode numbers above 2^32 (a sparse 4 TiB image: five allocation groups of 0.8 TiB, 2^28 blocks of address
#             space each, so a directory placed in group 2, 3 or 4 gets inode numbers from 2^32 up),
#             and btrfs with two subvolumes mounted at two places (same UUID, same inode numbers)
#             plus a nested subvolume: every qid distinct in both dialects, legacy paths below 2^32.
#
# Exit 77 (CTest: skipped) when not root or a tool is missing; the reason is printed.
set -euo pipefail
p9xd=$1 p9x=$2 case=$3

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (loop devices, mount)"
for tool in mkfs.ext4 losetup mount umount; do command -v "$tool" >/dev/null || skip "missing $tool (scripts/setup.sh)"; done
if [[ $case == big ]]; then
  for tool in mkfs.xfs mkfs.btrfs btrfs; do command -v "$tool" >/dev/null || skip "missing $tool (scripts/setup.sh)"; done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/qid-identity.XXXXXX")
export_dir=$work/export
state=$work/qid.state
live_pid=""
cleanup() {
  [[ -n $live_pid ]] && kill "$live_pid" 2>/dev/null && wait "$live_pid" 2>/dev/null
  for m in $(grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
  # attach runs in a command substitution, so find this run's devices by their backing files
  losetup -a | grep -F "($work/" | cut -d: -f1 | while read -r l; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

attach() { losetup -f --show "$1"; }

# A small ext4 image with a few files, reproducible (fixed UUID) so that clones are byte-identical.
make_ext4() {  # make_ext4 IMAGE UUID
  local stage=$work/stage-$(basename "$1")
  mkdir -p "$stage/dir/sub"
  echo "file" > "$stage/file"; echo "nested" > "$stage/dir/nested"; echo "deep" > "$stage/dir/sub/deep"
  ln -s file "$stage/link"
  E2FSPROGS_FAKE_TIME=1500000000 mkfs.ext4 -q -F -b 1024 -N 64 -m 0 -U "$2" \
    -E root_owner=0:0,hash_seed=9f9c5c1e-7a11-4c1d-8e5e-000000000002 -d "$stage" "$1" 4M >/dev/null
}

# Every path below the export with its qid (type and path; the version follows the contents).
qids() {  # qids DIALECT
  "$p9x" --target "exec:$p9xd --stdio -q -e $export_dir --qid-state $state" --dialect "$1" tree 2>&1 |
    sed -E 's/ version=[0-9]+//' | grep -v '^p9xd:'
}

unique_paths() {  # the qid paths of a listing must be distinct per file (hard links aside)
  local listing=$1 n_files n_paths
  n_files=$(grep -c '^{' <<<"$listing")
  n_paths=$(grep '^{' <<<"$listing" | grep -o 'path=[^}]*' | sort -u | wc -l)
  [[ $n_files -eq $n_paths ]] || { echo "$listing" >&2; fail "$((n_files - n_paths)) qid paths shared by two files"; }
}

mkdir -p "$export_dir"/{p1,p2,p3}
echo top > "$export_dir/top.txt"

case $case in
reboot)
  make_ext4 "$work/a.img" 9f9c5c1e-7a11-4c1d-8e5e-00000000000a
  cp "$work/a.img" "$work/b.img"
  la=$(attach "$work/a.img"); lb=$(attach "$work/b.img")
  mount "$la" "$export_dir/p1"; mount "$lb" "$export_dir/p2"
  before_legacy=$(qids legacy); before_xqid=$(qids xqid)
  unique_paths "$before_legacy"; unique_paths "$before_xqid"
  grep -q ' p1/file$' <<<"$before_legacy" || fail "p1/file not listed: $before_legacy"
  umount "$export_dir/p1" "$export_dir/p2"
  losetup -d "$la" "$lb"
  # New loop numbers, opposite order: two spare devices take the lowest free numbers first.
  spare1=$(attach "$work/a.img"); spare2=$(attach "$work/a.img")
  lb2=$(attach "$work/b.img"); la2=$(attach "$work/a.img")
  losetup -d "$spare1" "$spare2"
  echo "loop devices: p1 $la -> $la2, p2 $lb -> $lb2"
  [[ $la2 != "$la" && $lb2 != "$lb" ]] || fail "the images did not get new loop numbers"
  mount "$la2" "$export_dir/p1"; mount "$lb2" "$export_dir/p2"
  after_legacy=$(qids legacy); after_xqid=$(qids xqid)
  diff <(echo "$before_legacy") <(echo "$after_legacy") || fail "legacy qids changed across the simulated reboot"
  diff <(echo "$before_xqid") <(echo "$after_xqid") || fail "xqid qids changed across the simulated reboot"
  # Another p9xd without any state file numbers the filesystems the same in xqid (path_hi comes
  # from the identity, not from the order of first sight).
  state=$work/none.state
  diff <(echo "$before_xqid") <(qids xqid) || fail "a p9xd without the state file gave other xqid qids"
  echo "PASS: $(grep -c '^{' <<<"$after_legacy") qids unchanged in both dialects"
  ;;
replaced)
  make_ext4 "$work/a.img" 9f9c5c1e-7a11-4c1d-8e5e-00000000000a
  make_ext4 "$work/c.img" 9f9c5c1e-7a11-4c1d-8e5e-00000000000c
  la=$(attach "$work/a.img"); lc=$(attach "$work/c.img")
  mount "$la" "$export_dir/p1"
  mount -t tmpfs -o size=1m tmpfs "$export_dir/p3"; echo one > "$export_dir/p3/t"
  first=$(qids legacy); first_x=$(qids xqid)
  # The same filesystem again at the same place: the same qids.
  umount "$export_dir/p1"; mount "$la" "$export_dir/p1"
  again=$(qids legacy)
  diff <(echo "$first") <(echo "$again") || fail "remounting the same filesystem changed its qids"
  # Another filesystem (other UUID, same inode numbers) and a new tmpfs in their places.
  umount "$export_dir/p1"; mount "$lc" "$export_dir/p1"
  umount "$export_dir/p3"; mount -t tmpfs -o size=1m tmpfs "$export_dir/p3"; echo two > "$export_dir/p3/t"
  second=$(qids legacy); second_x=$(qids xqid)
  for name in p1/file p1/dir/nested p3/t; do
    old=$(grep " $name\$" <<<"$first" | grep -o 'path=[^}]*'); new=$(grep " $name\$" <<<"$second" | grep -o 'path=[^}]*')
    [[ -n $old && -n $new ]] || fail "$name not listed"
    [[ $old != "$new" ]] || fail "$name of the replacing filesystem got the replaced one's qid ($old)"
    grep -q "$new}" <<<"$first" && fail "$name of the replacing filesystem got a qid another file had ($new)"
    old=$(grep " $name\$" <<<"$first_x" | grep -o 'path=[^}]*'); new=$(grep " $name\$" <<<"$second_x" | grep -o 'path=[^}]*')
    [[ $old != "$new" ]] || fail "$name: same xqid qid after the replacement ($old)"
  done
  # The same with one p9xd that stays up: the tmpfs at p3 replaced under it (a freed anonymous
  # device number is usually reused by the next tmpfs) must be identified afresh.
  "$p9xd" -q --listen "unix:$work/sock" -e "$export_dir" --qid-state "$work/live.state" & live_pid=$!
  for _ in $(seq 50); do [[ -S $work/sock ]] && break; sleep 0.1; done
  live() { "$p9x" --target "unix:$work/sock" --dialect "$1" tree | sed -E 's/ version=[0-9]+//'; }
  dev_before=$(stat -c %d "$export_dir/p3")
  live_first=$(live legacy); live_first_x=$(live xqid)
  umount "$export_dir/p3"; mount -t tmpfs -o size=1m tmpfs "$export_dir/p3"; echo three > "$export_dir/p3/t"
  dev_after=$(stat -c %d "$export_dir/p3")
  live_second=$(live legacy); live_second_x=$(live xqid)
  for pair in "$live_first|$live_second" "$live_first_x|$live_second_x"; do
    old=$(grep ' p3/t$' <<<"${pair%%|*}" | grep -o 'path=[^}]*'); new=$(grep ' p3/t$' <<<"${pair#*|}" | grep -o 'path=[^}]*')
    [[ -n $old && -n $new ]] || fail "p3/t not listed by the live p9xd"
    [[ $old != "$new" ]] || fail "live p9xd: the new tmpfs's p3/t got the old one's qid ($old; st_dev $dev_before -> $dev_after)"
  done
  echo "PASS: a remount keeps its qids; replacing filesystems get new ones, also under a running p9xd (st_dev $dev_before -> $dev_after)"
  ;;
big)
  truncate -s 4T "$work/xfs.img"
  mkfs.xfs -q -f -d agcount=5 "$work/xfs.img"
  lx=$(attach "$work/xfs.img")
  mount -o inode64 "$lx" "$export_dir/p1"
  # XFS puts each new top-level directory in the next allocation group (the inode64 rotor).
  for d in d0 d1 d2 d3 d4 d5 d6 d7; do mkdir "$export_dir/p1/$d"; echo "$d" > "$export_dir/p1/$d/f"; done
  high=$(find "$export_dir/p1" -printf '%i\n' | awk '$1 >= 4294967296' | wc -l)
  [[ $high -gt 0 ]] || fail "no XFS inode number reached 2^32: $(find "$export_dir/p1" -printf '%i %p\n')"
  truncate -s 256M "$work/btrfs.img"
  mkfs.btrfs -q -f "$work/btrfs.img"
  lb=$(attach "$work/btrfs.img")
  mkdir -p "$work/btrfs-top"; mount "$lb" "$work/btrfs-top"
  btrfs -q subvolume create "$work/btrfs-top/a"; btrfs -q subvolume create "$work/btrfs-top/b"
  echo a > "$work/btrfs-top/a/file"; echo b > "$work/btrfs-top/b/file"
  btrfs -q subvolume create "$work/btrfs-top/a/nested"; echo n > "$work/btrfs-top/a/nested/file"
  umount "$work/btrfs-top"
  mount -o subvol=a "$lb" "$export_dir/p2"; mount -o subvol=b "$lb" "$export_dir/p3"
  [[ $(stat -c %i "$export_dir/p2/file") == $(stat -c %i "$export_dir/p3/file") ]] || fail "the subvolumes' files should share an inode number"
  legacy=$(qids legacy); xqid=$(qids xqid)
  unique_paths "$legacy"; unique_paths "$xqid"
  big_paths=$(grep '^{' <<<"$legacy" | grep -o 'path=0x[0-9a-f]*' | awk -F'0x' 'length($2) > 8' || true)
  [[ -z $big_paths ]] || { echo "$legacy" >&2; fail "legacy paths at or above 2^32: $big_paths"; }
  echo "PASS: $high XFS inode numbers >= 2^32 and two btrfs subvolumes (+1 nested): $(grep -c '^{' <<<"$legacy") distinct qids, legacy paths < 2^32"
  ;;
*) echo "usage: $0 P9XD P9X reboot|replaced|big" >&2; exit 64 ;;
esac
