// SPDX-License-Identifier: MIT
// MemFs's data model, shared by its files: the inode, the backend's state, and the open file.
// mem_fs.cc implements the tree operations, mem_fs_open_file.cc the open file (data and
// byte-range locks), mem_fs_spec.cc the parsing of mem: export specs. Only they include this.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "server/mem_fs.h"

namespace p9x::server {

// One file. Directories keep their entries twice: by name, and by the cookie readdir resumes
// from (a counter per directory, never reused, so a cookie stays valid while others change).
struct MemFs::Inode {
  uint64_t dev = 0, ino = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t nlink = 1;
  dev_t rdev = 0;
  timespec atime{}, mtime{}, ctime{};
  std::vector<uint8_t> data;  // file contents, or a symlink's target
  std::map<std::string, std::vector<uint8_t>, std::less<>> xattrs;
  uint64_t xattr_bytes = 0;
  // Directories.
  struct Entry {
    uint64_t cookie;
    std::shared_ptr<Inode> inode;
  };
  std::map<std::string, Entry, std::less<>> children;
  std::map<uint64_t, std::string> by_cookie;
  uint64_t next_cookie = 3;                            // 1 is ".", 2 is ".."
  std::weak_ptr<Inode> parent;                         // directories: the directory holding this one
  const MemFsOptions::Generated* generated = nullptr;  // a generated directory
  bool read_only = false;                              // generated files and directories
  // Byte-range locks: owner is the MemOpenFile that set them.
  struct Lock {
    const void* owner;
    uint8_t type;
    uint64_t start, end;  // inclusive
    uint32_t proc_id;
  };
  std::vector<Lock> locks;

  bool is_dir() const { return S_ISDIR(mode); }
};

struct MemFs::State {
  explicit State(MemFsOptions o) : options(std::move(o)) {}
  MemFsOptions options;
  mutable std::mutex mu;
  uint64_t tick = 0;
  uint64_t data_bytes = 0;
  uint64_t inodes = 0;
  std::map<uint64_t, uint64_t> next_ino;  // device -> next inode number
  uid_t owner_uid = geteuid();
  gid_t owner_gid = getegid();

  // The logical clock: one tick per change, from a fixed epoch (2023-11-14), so runs repeat.
  timespec Now() {
    ++tick;
    return timespec{static_cast<time_t>(1'700'000'000 + tick / 1000), static_cast<long>(tick % 1000) * 1'000'000};
  }
  Result<std::shared_ptr<Inode>> NewInode(uint64_t dev, mode_t mode, uint32_t gid) {
    if (inodes >= options.max_inodes) return Unexpected(Errno::kENOSPC);
    auto inode = std::make_shared<Inode>();
    inode->dev = dev;
    auto [it, fresh] = next_ino.try_emplace(dev, options.root_ino + 1);
    inode->ino = it->second++;
    inode->mode = mode;
    inode->uid = owner_uid;
    inode->gid = gid == static_cast<uint32_t>(-1) ? owner_gid : gid;
    inode->nlink = S_ISDIR(mode) ? 2 : 1;
    inode->atime = inode->mtime = inode->ctime = Now();
    ++inodes;
    return inode;
  }
  void Changed(Inode& inode) { inode.mtime = inode.ctime = Now(); }
};

namespace mem_fs_internal {

using Inode = MemFs::Inode;
using InodeRef = std::shared_ptr<Inode>;

// A file open on MemFs: reads and writes its data, holds its fcntl(2)-style byte-range locks
// (released when it closes).
class MemOpenFile final : public OpenFile {
 public:
  MemOpenFile(std::shared_ptr<MemFs::State> state, InodeRef inode, uint32_t flags)
      : OpenFile(flags), state_(std::move(state)), inode_(std::move(inode)) {}
  ~MemOpenFile() override;
  const InodeRef& inode() const { return inode_; }

  Result<size_t> Read(std::span<uint8_t> into, uint64_t offset) override;
  Result<size_t> Write(std::span<const uint8_t> data, uint64_t offset) override;
  Result<void> Sync(bool) override { return {}; }
  Result<bool> SetLock(const ByteRangeLock& l) override;
  Result<ByteRangeLock> TestLock(const ByteRangeLock& l) override;

 private:
  const Inode::Lock* Conflict(uint8_t type, uint64_t start, uint64_t end) const;
  std::shared_ptr<MemFs::State> state_;
  InodeRef inode_;
};

}  // namespace mem_fs_internal
}  // namespace p9x::server
