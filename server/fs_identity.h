// SPDX-License-Identifier: MIT
// Filesystem identity for qid numbering: what names a host filesystem, at its place in an export,
// across reboots and remounts (spec/qid-map.md §2). QidMapper numbers filesystems by it.
#pragma once

#include <cstdint>
#include <string>

namespace p9x::server {

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
