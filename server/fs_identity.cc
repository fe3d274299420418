// SPDX-License-Identifier: MIT
#include "server/fs_identity.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "server/blocking_mounts.h"

namespace p9x::server {
namespace {

#ifndef FS_IOC_GETFSUUID
struct fsuuid2 {
  uint8_t len;
  uint8_t uuid[16];
};
#define FS_IOC_GETFSUUID _IOR(0x15, 0, struct fsuuid2)
#endif
constexpr unsigned kStatxMntIdUnique = 0x4000;  // STATX_MNT_ID_UNIQUE (Linux 6.8)

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool octal = s[i] == '\\' && s.size() - i > 3 &&
                       s.substr(i + 1, 3).find_first_not_of("01234567") == std::string_view::npos;
    if (octal) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 15]);
  }
  return out;
}

bool AllZero(const uint8_t* bytes, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

// "uuid=..." / "fsid=..." / "boot=...\nmount=..." for the filesystem under `dir`.
std::string Uniqueness(const std::string& dir, const MountEntry& m) {
  // Opening a directory of a filesystem that can block is a request to its server or daemon
  // (which may never answer); none of those types has a UUID or a usable f_fsid anyway.
  const int fd = FilesystemTypeCanBlock(m.type) ? -1 : ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    struct fsuuid2 u = {};
    u.len = sizeof u.uuid;
    // An all-zero UUID (an ext4 made without one) names nothing; neither does its f_fsid then.
    const bool have_uuid = ::ioctl(fd, FS_IOC_GETFSUUID, &u) == 0 && u.len > 0 && u.len <= sizeof u.uuid &&
                           !AllZero(u.uuid, u.len);
    struct statfs s = {};
    const bool have_fsid = ::fstatfs(fd, &s) == 0 &&
                           !AllZero(reinterpret_cast<const uint8_t*>(&s.f_fsid), sizeof s.f_fsid);
    ::close(fd);
    if (have_uuid) return "uuid=" + Hex(u.uuid, u.len);
    // ext4 derives f_fsid from its UUID, btrfs from its UUID and the subvolume; other types use
    // the device number (XFS) or nothing stable, so their f_fsid is not used.
    if (have_fsid && (m.type == "ext2" || m.type == "ext3" || m.type == "ext4" || m.type == "btrfs")) {
      return "fsid=" + Hex(reinterpret_cast<const uint8_t*>(&s.f_fsid), sizeof s.f_fsid);
    }
  }
  // No lasting identity: this mount, this boot. The unique mount id is never reused in a boot;
  // without it (before Linux 6.8) the reusable mountinfo id is the best left.
  std::string mount = "id:" + std::to_string(m.id);
  struct statx sx = {};
  if (::statx(AT_FDCWD, dir.c_str(), AT_STATX_DONT_SYNC, kStatxMntIdUnique, &sx) == 0 &&
      (sx.stx_mask & kStatxMntIdUnique)) {
    mount = "unique:" + std::to_string(sx.stx_mnt_id);
  }
  return "boot=" + BootId() + "\nmount=" + mount;
}

}  // namespace

std::vector<MountEntry> ReadMountTable() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw"
    std::istringstream fields(line);
    std::string id, parent, devno, root, point, options, word;
    if (!(fields >> id >> parent >> devno >> root >> point >> options)) continue;
    while (fields >> word && word != "-") {
    }
    std::string type;
    if (!(fields >> type)) continue;
    unsigned major = 0, minor = 0;
    if (std::sscanf(devno.c_str(), "%u:%u", &major, &minor) != 2) continue;
    mounts.push_back(MountEntry{std::atoi(id.c_str()), static_cast<uint64_t>(makedev(major, minor)), Unescape(root),
                                Unescape(point), Unescape(type)});
  }
  return mounts;
}

bool PathIsAtOrBelow(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path.compare(0, dir.size(), dir) == 0 && (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string FilesystemIdentity(const std::string& export_path, uint64_t st_dev) {
  const std::vector<MountEntry> mounts = ReadMountTable();
  // The export's own filesystem: the deepest mount at or above the export.
  const MountEntry* own = nullptr;
  for (const MountEntry& m : mounts) {
    if (PathIsAtOrBelow(export_path, m.mount_point) && (!own || m.mount_point.size() >= own->mount_point.size()))
      own = &m;
  }
  struct stat st = {};
  if (own && ::stat(export_path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_dev) == st_dev) {
    std::string below = export_path.substr(own->mount_point == "/" ? 0 : own->mount_point.size());
    std::string root = own->root == "/" ? below : own->root + below;
    if (root.empty()) root = "/";
    return "type=" + own->type + "\n" + Uniqueness(export_path, *own) + "\nroot=" + root + "\nat=\n";
  }
  // A mount inside the export whose visible root has this st_dev; the first position in name
  // order when one filesystem is mounted at several places (a bind mount), so that the choice
  // does not depend on mountinfo's order.
  const MountEntry* found = nullptr;
  std::string at;
  for (const MountEntry& m : mounts) {
    if (m.mount_point == export_path || !PathIsAtOrBelow(m.mount_point, export_path)) continue;
    // A filesystem that can block (blocking_mounts.h) is never stat'ed to learn its st_dev: the
    // stat of a dead NFS server's or a hung FUSE daemon's mount point waits for ever, and the
    // qid map's other misses wait for this identification. Its mountinfo "major:minor" is the
    // st_dev of its files (these types have no subvolumes).
    const bool same_dev = FilesystemTypeCanBlock(m.type)
                              ? m.dev == st_dev
                              : ::stat(m.mount_point.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_dev) == st_dev;
    if (!same_dev) continue;
    std::string position = m.mount_point.substr(export_path == "/" ? 1 : export_path.size() + 1);
    if (!found || position < at) {
      found = &m;
      at = position;
    }
  }
  if (found) {
    return "type=" + found->type + "\n" + Uniqueness(found->mount_point, *found) + "\nroot=" + found->root +
           "\nat=" + at + "\n";
  }
  return "unlisted\nboot=" + BootId() + "\nst_dev=" + std::to_string(st_dev) + "\n";
}

}  // namespace p9x::server
