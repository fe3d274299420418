// SPDX-License-Identifier: MIT
// Filesystem identity for qid numbering: what names a host filesystem, at its place in an export,
// across reboots and remounts (spec/qid-map.md §2). QidMapper numbers filesystems by it. Also the
// reading of the mount table that it and BlockingMounts (blocking_mounts.h) share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace p9x::server {

// One line of /proc/self/mountinfo (proc(5)), unescaped.
struct MountEntry {
  int id = 0;
  uint64_t dev = 0;         // "major:minor": the st_dev of the files of this mount
  std::string root;         // the directory of the filesystem mounted here
  std::string mount_point;  // absolute
  std::string type;         // e.g. "ext4", "nfs4", "fuse.sshfs"
};
std::vector<MountEntry> ReadMountTable();

// True when `path` is `dir` or lies below it (both absolute, no trailing slash except "/").
bool PathIsAtOrBelow(const std::string& path, const std::string& dir);

// The identity of the filesystem whose st_dev is `st_dev`, as seen from the export rooted at
// `export_path` (absolute, no trailing slash). Lines "key=value\n", in this order:
//   type=   the filesystem type (mountinfo)
//   uuid=   the filesystem UUID (FS_IOC_GETFSUUID), or fsid= (statfs f_fsid, only for types whose
//           f_fsid is derived from the UUID: ext2/3/4, btrfs), or, for a filesystem with neither,
//           boot= and mount= (this boot, this mount: it is never taken for another filesystem)
//   root=   the directory of the filesystem mounted there (mountinfo root: btrfs subvolumes, bind
//           mounts), plus the export's path below it for the export's own filesystem
//   at=     where it is mounted, relative to the export ("" for the export's own filesystem)
// A st_dev with no visible mount in or above the export (a btrfs subvolume that is not a mount
// point) gets "unlisted" with this boot's id and the st_dev: stable for one boot only.
// Never a device name (/dev/loopN is what a reboot renumbers) and never st_dev alone.
std::string FilesystemIdentity(const std::string& export_path, uint64_t st_dev);

}  // namespace p9x::server
