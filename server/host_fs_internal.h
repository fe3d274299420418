// SPDX-License-Identifier: MIT
// HostFs's internals shared by its files: descriptor helpers and the mount-point table.
// host_fs.cc implements the node operations, host_fs_dir.cc directory listing (getdents64 and
// which entries need a stat). Only they include this.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/host_fs.h"

namespace p9x::server {
namespace host_fs_internal {

// Owns a descriptor until released into a Node or OpenFile.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// The current errno as a wire error.
inline UnexpectedValue<Errno> Fail() { return Unexpected(ToWireErrno(errno)); }

// The descriptor of a node of this backend (the engine hands back only nodes HostFs made).
inline int Fd(const Node& node) { return static_cast<const HostNode&>(node).fd(); }

// "/proc/self/fd/N": the magic link names the inode the descriptor holds, not a path.
inline std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

inline Result<struct stat> StatFd(int fd) {
  struct stat st;
  if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return Fail();
  return st;
}

}  // namespace host_fs_internal

// ---- mount points, for readdir without a stat per entry ----

// A directory entry that is a mount point shows, in getdents64, the inode it covers, not the
// mounted root a walk reaches: its (dev, ino) needs a stat. MountPoints knows, for each
// directory (by st_dev, st_ino) that has a mount point directly in it, the names of those mount
// points, from /proc/self/mountinfo (proc(5)), re-read when the kernel says the mount table
// changed (poll(2) on it reports POLLPRI: proc(5), "/proc/pid/mountinfo ... poll"). When the
// table cannot be read, every entry of every directory is stat'ed, as before.
class MountPoints {
 public:
  MountPoints() : fd_(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)) { Reload(); }
  ~MountPoints() {
    if (fd_ >= 0) close(fd_);
  }

  struct Answer {
    bool stat_every_entry = false;                          // the table is unknown
    std::shared_ptr<const std::vector<std::string>> names;  // mount points in this directory
  };
  Answer In(const struct stat& dir);

 private:
  using Table = std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const std::vector<std::string>>>;
  static std::pair<uint64_t, uint64_t> Key(const struct stat& st);
  // mountinfo escapes space, tab, newline and backslash as \ooo (octal).
  static std::string Unescape(std::string_view field);
  // Called with mu_ held. On any failure the table is dropped (stat every entry).
  void Reload();

  std::mutex mu_;
  const int fd_;
  std::unique_ptr<Table> table_;
};

}  // namespace p9x::server
