// SPDX-License-Identifier: MIT
// HostFs's directory listing: getdents64 into a per-open-directory buffer, and the identity of
// each entry from getdents64 itself where that is safe, with a stat only where it is not (mount
// points, filesystems whose d_ino cannot be trusted).
#include <dirent.h>
#include <poll.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstring>

#include "server/host_fs_internal.h"

namespace p9x::server {

using host_fs_internal::Fail;
using host_fs_internal::Fd;
using host_fs_internal::StatFd;

MountPoints::Answer MountPoints::In(const struct stat& dir) {
  std::lock_guard lock(mu_);
  pollfd p{fd_, POLLPRI, 0};
  if (fd_ >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR))) Reload();
  if (!table_) return {true, nullptr};
  auto it = table_->find(Key(dir));
  if (it == table_->end()) return {};
  return {false, it->second};
}

std::pair<uint64_t, uint64_t> MountPoints::Key(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

std::string MountPoints::Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int v = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        const char c = field[i + k];
        if (c < '0' || c > '7') octal = false;
        v = v * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

void MountPoints::Reload() {
  table_.reset();
  if (fd_ < 0 || lseek(fd_, 0, SEEK_SET) != 0) return;
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  std::map<std::pair<uint64_t, uint64_t>, std::vector<std::string>> by_dir;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    std::string_view line(text.data() + line_start, line_end - line_start);
    line_start = line_end + 1;
    // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw": field 5 is the
    // mount point.
    size_t at = 0;
    std::string_view field;
    for (int i = 0; i < 5; ++i) {
      const size_t end = line.find(' ', at);
      if (end == std::string_view::npos && i < 4) return;
      field = line.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
      at = end + 1;
    }
    const std::string mount_point = Unescape(field);
    if (mount_point.empty() || mount_point[0] != '/') return;
    if (mount_point == "/") continue;
    const size_t slash = mount_point.rfind('/');
    const std::string parent = slash == 0 ? "/" : mount_point.substr(0, slash);
    struct stat st;
    // AT_NO_AUTOMOUNT: do not trigger an automount just to learn where mounts are.
    if (fstatat(AT_FDCWD, parent.c_str(), &st, AT_NO_AUTOMOUNT) != 0) {
      // Not reachable from here (another root, a lazily unmounted parent): it cannot be in
      // the export either, unless the export is reached another way; stay safe.
      if (errno == ENOENT) continue;
      return;
    }
    by_dir[Key(st)].push_back(mount_point.substr(slash + 1));
  }
  auto table = std::make_unique<Table>();
  for (auto& [key, names] : by_dir) {
    (*table)[key] = std::make_shared<const std::vector<std::string>>(std::move(names));
  }
  table_ = std::move(table);
}

Result<void> HostFs::SeekDir(HostOpenFile& dir, uint64_t offset) {
  // Continuing where the last call stopped costs nothing; any other cookie (or the first call)
  // seeks, and drops what is buffered. lseek(2) on a directory takes a d_off cookie as is.
  if (dir.dir_started && offset == dir.dir_offset) return {};
  if (offset > static_cast<uint64_t>(INT64_MAX)) return Unexpected(Errno::kEINVAL);
  if (lseek(dir.fd, static_cast<off_t>(offset), SEEK_SET) < 0) return Fail();
  dir.dir_offset = offset;
  dir.dir_pos = dir.dir_len = 0;
  dir.dir_started = true;
  return {};
}

Result<bool> HostFs::FillDirBuffer(HostOpenFile& dir) {
  if (dir.dir_buffer.empty()) dir.dir_buffer.resize(kMinDirBuffer);
  const long n = syscall(SYS_getdents64, dir.fd, dir.dir_buffer.data(), dir.dir_buffer.size());
  if (n < 0) return Fail();
  dir.dir_pos = 0;
  dir.dir_len = static_cast<size_t>(n);
  if (n == 0) {
    dir.dir_buffer.clear();
    dir.dir_buffer.shrink_to_fit();
  }
  return n > 0;
}

bool HostFs::PeekDirEntry(HostOpenFile& dir, DirEntry* out) {
  // struct linux_dirent64 (getdents64(2)): d_ino[8] d_off[8] d_reclen[2] d_type[1] d_name[].
  constexpr size_t kNameAt = 19;
  if (dir.dir_pos + kNameAt > dir.dir_len) return false;
  const uint8_t* p = dir.dir_buffer.data() + dir.dir_pos;
  int64_t d_off;
  uint16_t reclen;
  std::memcpy(&d_off, p + 8, sizeof d_off);
  std::memcpy(&reclen, p + 16, sizeof reclen);
  if (reclen < kNameAt || dir.dir_pos + reclen > dir.dir_len) return false;
  std::memcpy(&out->d_ino, p, sizeof out->d_ino);
  out->next_offset = static_cast<uint64_t>(d_off);
  out->reclen = reclen;
  out->d_type = p[18];
  const char* name = reinterpret_cast<const char*>(p + kNameAt);
  out->name.assign(name, strnlen(name, reclen - kNameAt));
  return true;
}

namespace {

// Filesystems whose getdents64 d_ino is the st_ino a stat gives, on the directory's own st_dev,
// for every entry that is not a mount point. Anything not listed (overlayfs, whose d_ino may
// differ from st_ino; network and FUSE filesystems) has every entry stat'ed.
enum class DinoTrust { kStatEvery, kTrusted, kTrustedExceptDirs };

DinoTrust DinoTrustOf(int dir_fd) {
  struct statfs fs;
  if (fstatfs(dir_fd, &fs) != 0) return DinoTrust::kStatEvery;
  switch (static_cast<uint64_t>(fs.f_type)) {
    case 0xEF53:      // EXT2/3/4_SUPER_MAGIC
    case 0x58465342:  // XFS_SUPER_MAGIC
    case 0x01021994:  // TMPFS_MAGIC
    case 0x858458F6:  // RAMFS_MAGIC
    case 0xF2F52010:  // F2FS_SUPER_MAGIC
      return DinoTrust::kTrusted;
    case 0x9123683E:  // BTRFS_SUPER_MAGIC: a subvolume is a directory with its own st_dev, and
                      // its entry in the parent does not say so.
      return DinoTrust::kTrustedExceptDirs;
    default:
      return DinoTrust::kStatEvery;
  }
}

}  // namespace

Result<void> HostFs::ReadDirPlus(const NodeRef& dir, OpenFile& open, uint64_t offset, EmitEntry emit) {
  // One stat per entry made a 100,000-entry listing cost 8x a bare getdents64 loop (bench/
  // PROFILE.md P1). An entry's identity comes from getdents64 itself (d_ino, d_type, and the
  // directory's st_dev) unless it may be on another device: a mount point, a btrfs
  // subdirectory, DT_UNKNOWN, or a filesystem not known to keep d_ino == st_ino.
  const uint64_t dir_dev = static_cast<uint64_t>(dir->initial_stat().st_dev);
  const DinoTrust trust = DinoTrustOf(Fd(*dir));
  const MountPoints::Answer mounts = mounts_->In(dir->initial_stat());
  auto needs_stat = [&](const DirEntry& e) {
    if (trust == DinoTrust::kStatEvery || mounts.stat_every_entry || e.d_type == DT_UNKNOWN) return true;
    if (trust == DinoTrust::kTrustedExceptDirs && e.d_type == DT_DIR) return true;
    return mounts.names && std::find(mounts.names->begin(), mounts.names->end(), e.name) != mounts.names->end();
  };
  return ReadDir(open, offset, [&](const DirEntry& e) -> bool {
    struct stat st;
    if (e.name != "." && e.name != ".." && !needs_stat(e)) {
      return emit(DirEntryPlus{e.name, e.next_offset, dir_dev, e.d_ino, static_cast<mode_t>(DTTOIF(e.d_type))});
    }
    if (e.name == "." || e.name == "..") {
      // The directory itself and the node it was walked from (at the root: the root), not what
      // the host's ".." names: the export's top is its own parent.
      const NodeRef target = e.name == "." ? dir : WalkDotDot(dir);
      auto s = StatFd(Fd(target ? *target : *dir));
      if (!s) return true;  // vanished: skip
      st = *s;
    } else if (fstatat(Fd(*dir), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return true;  // removed since getdents: skip
    }
    return emit(DirEntryPlus::FromStat(e.name, e.next_offset, st));
  });
}

}  // namespace p9x::server
