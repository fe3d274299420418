// SPDX-License-Identifier: MIT
// HostFs: the host-directory backend (backend.h). Every operation is relative to an O_PATH descriptor that
// lies under the export root; no path string is ever re-walked from the top (GUIDE R7).
//
// Safety argument, in one place:
//  - A node is reached from its parent's descriptor by exactly one name component, opened with
//    openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW, so a symlink is opened as
//    itself, never followed (9P clients resolve symlinks themselves). Mount points inside the
//    export are crossed on purpose (no RESOLVE_NO_XDEV): serving them is what xqid is for.
//  - Names are validated before any syscall: no '/', not empty, not "." or "..".
//  - ".." is handled here: at the export root it stays at the root (walk(5): "A walk of the
//    name .. in the root directory of a server is a no-op"); elsewhere it is the parent node the
//    server walked down from, which is under the root by construction. A directory renamed on
//    the host keeps answering ".." with the parent the server walked down from.
//  - Device nodes are never opened for I/O (EACCES), as on a nodev mount: a client may create
//    one with Tmknod, and opening it would reach host devices outside the export.
//  - Data access reopens a node through /proc/self/fd/N (the magic link names the inode the
//    descriptor holds, not a path), and refuses to do so for symlinks.
//  - Out of scope: a host process moving a directory the server holds out of the export; the
//    descriptor follows the inode, as in every fd-relative server.
// Concurrency: a Node is immutable except for its (parent, name), which Rename updates under
// the node's own mutex. HostFs methods may be called from any thread.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "codec/linux_errno.h"
#include "codec/result.h"
#include "server/backend.h"

namespace p9x::server {

// Converts a host errno to the Linux errno carried by Rlerror (codec WireErrnoFromHost) and logs,
// at most once a second, each number that had no mapping and became EIO.
Errno ToWireErrno(int host_errno);

// A host node: an O_PATH descriptor plus how it was reached (Node).
class HostNode final : public Node {
 public:
  HostNode(int fd, std::shared_ptr<Node> parent, std::string name, const struct stat& st)
      : Node(std::move(parent), std::move(name), st), fd_(fd) {}
  ~HostNode() override;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

// An open host file or directory: a real descriptor with the open flags.
class HostOpenFile final : public OpenFile {
 public:
  HostOpenFile(int descriptor, uint32_t flags);
  ~HostOpenFile() override;
  Result<size_t> Read(std::span<uint8_t> into, uint64_t offset) override;
  Result<size_t> Write(std::span<const uint8_t> data, uint64_t offset) override;
  Result<void> Sync(bool datasync) override;
  int SpliceSource() const override { return splice_source_ ? fd : -1; }
  int SpliceTarget() const override { return splice_target_ ? fd : -1; }
  bool InMemory() const override { return in_memory_; }
  bool Cached(uint64_t offset, size_t count) override;
  Result<size_t> WriteNoWait(std::span<const uint8_t> data, uint64_t offset) override;
  // Open-file-description locks (F_OFD_SETLK / F_OFD_GETLK) on this descriptor.
  Result<bool> SetLock(const ByteRangeLock& lock) override;
  Result<ByteRangeLock> TestLock(const ByteRangeLock& lock) override;

  const int fd;
  // Directory reading state: the getdents64 position this descriptor is at.
  uint64_t dir_offset = 0;
  std::vector<uint8_t> dir_buffer;
  size_t dir_pos = 0;
  size_t dir_len = 0;
  bool dir_started = false;

 private:
  bool splice_source_ = false;  // a regular file opened without O_DIRECT
  bool splice_target_ = false;  // ... and without O_APPEND
  bool in_memory_ = false;      // a regular file on tmpfs or ramfs
  // The filesystem answered EOPNOTSUPP to RWF_NOWAIT (reads, writes): not asked again.
  std::atomic<bool> no_nowait_reads_{false};
  std::atomic<bool> no_nowait_writes_{false};
};

struct DirEntry {
  std::string name;
  uint64_t next_offset = 0;  // cookie to resume after this entry
  uint64_t d_ino = 0;
  uint8_t d_type = 0;
  uint16_t reclen = 0;  // size of the getdents64 record (internal)
};

// The mount points of the server's mount namespace, by the directory that holds them
// (host_fs.cc). HostFs asks it which entries of a directory must be stat'ed in ReadDirPlus.
class MountPoints;

class HostFs final : public Backend {
 public:
  ~HostFs() override;
  // Opens the export root. Fails with the host errno if it is not a directory.
  static Result<std::unique_ptr<HostFs>> Open(const std::string& root_path);

  const NodeRef& root() const override { return root_; }

  // One walk step: "..", or a single validated name.
  Result<NodeRef> Walk(const NodeRef& dir, std::string_view name) override;
  Result<struct stat> Stat(const NodeRef& node) override;
  Result<StatfsResult> Statfs(const NodeRef& node) override;

  // Opens node for I/O with Linux open flags (O_CREAT/O_EXCL/O_NOCTTY dropped; O_NOFOLLOW implied).
  Result<std::unique_ptr<OpenFile>> OpenNode(const NodeRef& node, uint32_t flags) override;
  // Creates and opens a regular file; returns the new node and its open file.
  Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> Create(const NodeRef& dir, std::string_view name,
                                                               uint32_t flags, uint32_t mode, uint32_t gid) override;
  Result<NodeRef> Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid) override;
  Result<NodeRef> Symlink(const NodeRef& dir, std::string_view name, std::string_view target, uint32_t gid) override;
  Result<NodeRef> Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major,
                        uint32_t minor, uint32_t gid) override;
  Result<void> Link(const NodeRef& dir, const NodeRef& target, std::string_view name) override;
  Result<std::string> Readlink(const NodeRef& node) override;
  Result<void> Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name) override;
  Result<void> Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                        std::string_view new_name) override;
  Result<void> Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags) override;
  Result<void> Remove(const NodeRef& node) override;

  Result<void> Setattr(const NodeRef& node, const SetattrArgs& args) override;

  // Extended attributes: the value of `name`, or (empty name) the NUL-separated list.
  Result<std::vector<uint8_t>> GetXattr(const NodeRef& node, std::string_view name) override;
  // Sets (or with remove, removes) an attribute, with XATTR_CREATE/XATTR_REPLACE flags.
  Result<void> SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                        uint32_t flags, bool remove) override;

  Result<void> ReadDirPlus(const NodeRef& dir, OpenFile& open, uint64_t offset, EmitEntry emit) override;

  // Reads the raw getdents64 entries of `dir` (an OpenFile of this backend) from cookie
  // `offset` (0 = start). Calls emit(entry) until it returns false (entry did not fit) or the
  // directory ends.
  template <class Emit>
  Result<void> ReadDir(OpenFile& dir, uint64_t offset, Emit&& emit);

  static Result<void> ValidName(std::string_view name) { return server::ValidName(name); }

 private:
  HostFs(NodeRef root, std::unique_ptr<MountPoints> mounts);
  Result<NodeRef> Child(const NodeRef& dir, std::string_view name);
  // Reads the next entries with getdents64; at the end of the directory the buffer is given
  // back (an open directory keeps no large buffer once listed).
  Result<bool> FillDirBuffer(HostOpenFile& dir);
  static constexpr size_t kMinDirBuffer = 32 * 1024;
  static constexpr size_t kMaxDirBuffer = 1024 * 1024;
  Result<void> SeekDir(HostOpenFile& dir, uint64_t offset);
  static bool PeekDirEntry(HostOpenFile& dir, DirEntry* out);

  NodeRef root_;
  std::unique_ptr<MountPoints> mounts_;
};

// Treaddir semantics: `offset` is 0 or the cookie of the last entry the client consumed. An
// entry that emit() refuses is not consumed: the next call (at the cookie of the entry before
// it) resumes there without seeking.
template <class Emit>
Result<void> HostFs::ReadDir(OpenFile& open, uint64_t offset, Emit&& emit) {
  auto& dir = static_cast<HostOpenFile&>(open);
  if (auto seek = SeekDir(dir, offset); !seek) return seek;
  // The getdents64 buffer follows the reply's size: a call that used up a whole buffer and wants
  // more gets a buffer twice as large the next time (up to kMaxDirBuffer), so a 1 MiB Treaddir
  // costs a few getdents64 calls, not one per 32 KiB.
  bool used_a_whole_buffer = false;
  for (;;) {
    if (dir.dir_pos >= dir.dir_len) {
      if (used_a_whole_buffer && dir.dir_buffer.size() < kMaxDirBuffer)
        dir.dir_buffer.resize(dir.dir_buffer.size() * 2);
      used_a_whole_buffer = true;
      auto more = FillDirBuffer(dir);
      if (!more) return Unexpected(more.error());
      if (!*more) return {};
    }
    DirEntry entry;
    PeekDirEntry(dir, &entry);
    if (!emit(static_cast<const DirEntry&>(entry))) return {};
    dir.dir_pos += entry.reclen;
    dir.dir_offset = entry.next_offset;
  }
}

}  // namespace p9x::server
