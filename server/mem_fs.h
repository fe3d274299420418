// SPDX-License-Identifier: MIT
// MemFs: an in-memory Backend (backend.h) for tests, fuzzing and the qid map at scale.
//
// Deterministic: inode numbers come from a counter per device, times from a logical clock that
// ticks once per change, so the same requests always produce the same attributes and qids.
// It can present what a host directory cannot without root:
//  - several devices whose inode numbers are identical ("mounts": directories at the root that
//    are the roots of other devices, each numbering its inodes from the same start, as two
//    byte-identical filesystems do), and
//  - millions of files ("generated" directories: read-only, `count` empty files whose inode
//    numbers follow a formula, nothing stored per file), with any inode numbers, e.g. with the
//    high bits set, dense or sparse.
// Semantics follow Linux's for the same calls (rename(2), unlink(2), link(2), open(2),
// fcntl(2) OFD locks, setxattr(2), utimensat(2)); it does not check permissions (everything
// runs as the server's user) and FIFOs and sockets can be made but not opened (EOPNOTSUPP).
// Every limit below answers with the errno Linux uses for it. Thread-safe: one mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/backend.h"

namespace p9x::server {

struct MemFsOptions {
  uint64_t root_dev = 1;
  // The root's inode number on every device (2, as on ext4); new files get the next numbers.
  uint64_t root_ino = 2;
  // Directories at the root, each the root of its own device (root_dev + 1, + 2, ...).
  std::vector<std::string> mounts;
  struct Generated {
    std::string name;  // a directory at the root
    uint64_t dev = 0;  // its device (and its files'); 0: a new device after the mounts
    uint64_t count = 0;
    uint64_t first_ino = 100;  // file "f<i>" has inode first_ino + i * stride (mod 2^64)
    uint64_t stride = 1;
  };
  std::vector<Generated> generated;
  // Bounds (ENOSPC / EFBIG / E2BIG), so that no client can exhaust the test process's memory.
  uint64_t max_data_bytes = 1ull << 30;
  uint64_t max_file_bytes = 256ull << 20;
  uint64_t max_xattr_bytes_per_file = 256u << 10;
  uint64_t max_inodes = 10'000'000;  // ENOSPC, as a full inode table does
};

// Parses "mem:" specs used by p9xd --export: "mem:" alone is an empty tree; options after the
// colon, comma-separated: "mounts=p1+p2+p3", "gen=NAME:COUNT[:FIRST_INO[:STRIDE[:DEV]]]"
// (repeatable; numbers decimal or 0x hex), "max_data=BYTES". Returns a message on error.
Result<MemFsOptions, std::string> ParseMemFsSpec(std::string_view spec);

class MemFs final : public Backend {
 public:
  explicit MemFs(MemFsOptions options = {});
  ~MemFs() override;

  const NodeRef& root() const override { return root_; }
  Result<NodeRef> Walk(const NodeRef& dir, std::string_view name) override;
  Result<struct stat> Stat(const NodeRef& node) override;
  Result<StatfsResult> Statfs(const NodeRef& node) override;
  Result<std::unique_ptr<OpenFile>> OpenNode(const NodeRef& node, uint32_t flags) override;
  Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> Create(const NodeRef& dir, std::string_view name,
                                                               uint32_t flags, uint32_t mode, uint32_t gid) override;
  Result<NodeRef> Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid) override;
  Result<NodeRef> Symlink(const NodeRef& dir, std::string_view name, std::string_view target, uint32_t gid) override;
  Result<NodeRef> Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major, uint32_t minor,
                        uint32_t gid) override;
  Result<void> Link(const NodeRef& dir, const NodeRef& target, std::string_view name) override;
  Result<std::string> Readlink(const NodeRef& node) override;
  Result<void> Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name) override;
  Result<void> Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                        std::string_view new_name) override;
  Result<void> Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags) override;
  Result<void> Remove(const NodeRef& node) override;
  Result<void> Setattr(const NodeRef& node, const SetattrArgs& args) override;
  Result<std::vector<uint8_t>> GetXattr(const NodeRef& node, std::string_view name) override;
  Result<void> SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                        uint32_t flags, bool remove) override;
  Result<void> ReadDirPlus(const NodeRef& dir, OpenFile& open, uint64_t offset, EmitEntry emit) override;

  // Test hooks: the data of the file at a '/'-separated path from the root (no "..").
  Result<std::vector<uint8_t>> ReadFileForTest(std::string_view path);
  // Number of inodes stored (generated files are not stored).
  size_t stored_inodes() const;

  struct State;
  struct Inode;

 private:
  std::shared_ptr<State> state_;
  NodeRef root_;
};

}  // namespace p9x::server
