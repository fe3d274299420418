// HostFs: the host-directory backend. Every operation is relative to an O_PATH descriptor that
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

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "codec/linux_errno.h"
#include "codec/result.h"

namespace p9x::server {

struct StatfsResult {
  uint32_t type, bsize;
  uint64_t blocks, bfree, bavail, files, ffree, fsid;
  uint32_t namelen;
};

// Converts a host errno to the Linux errno carried by Rlerror. The one place host errors cross
// onto the wire; on Linux hosts the numbers are the same, anything unknown becomes EIO.
Errno ToWireErrno(int host_errno);

// A file the server has walked to: an O_PATH descriptor plus how it was reached.
class Node {
 public:
  Node(int fd, std::shared_ptr<Node> parent, std::string name, const struct stat& st);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  int fd() const { return fd_; }
  bool is_root() const { return parent_ == nullptr; }
  mode_t type() const { return st_.st_mode & S_IFMT; }
  bool is_dir() const { return S_ISDIR(st_.st_mode); }
  bool is_symlink() const { return S_ISLNK(st_.st_mode); }
  // The stat taken when the node was reached (type, dev and ino never change for a descriptor).
  const struct stat& initial_stat() const { return st_; }

  std::shared_ptr<Node> parent() const;
  std::string name() const;
  void Moved(std::shared_ptr<Node> parent, std::string name);

 private:
  const int fd_;
  const struct stat st_;
  mutable std::mutex mu_;
  std::shared_ptr<Node> parent_;
  std::string name_;
};
using NodeRef = std::shared_ptr<Node>;

// An open file or directory (Tlopen / Tlcreate): a real descriptor with the open flags.
struct OpenFile {
  int fd = -1;
  uint32_t flags = 0;
  // Directory reading state: the getdents64 position this descriptor is at.
  uint64_t dir_offset = 0;
  std::vector<uint8_t> dir_buffer;
  size_t dir_pos = 0;
  size_t dir_len = 0;
  bool dir_started = false;
  ~OpenFile();
};

struct DirEntry {
  std::string name;
  uint64_t next_offset = 0;  // cookie to resume after this entry
  uint8_t d_type = 0;
  uint16_t reclen = 0;  // size of the getdents64 record (internal)
};

class HostFs {
 public:
  // Opens the export root. Fails with the host errno if it is not a directory.
  static Result<std::unique_ptr<HostFs>> Open(const std::string& root_path);

  const NodeRef& root() const { return root_; }

  // One walk step: "..", or a single validated name.
  Result<NodeRef> Walk(const NodeRef& dir, std::string_view name);
  Result<struct stat> Stat(const NodeRef& node);
  Result<StatfsResult> Statfs(const NodeRef& node);

  // Opens node for I/O with Linux open flags (O_CREAT/O_EXCL/O_NOCTTY dropped; O_NOFOLLOW implied).
  Result<std::unique_ptr<OpenFile>> OpenNode(const NodeRef& node, uint32_t flags);
  // Creates and opens a regular file; returns the new node and its open file.
  Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> Create(const NodeRef& dir, std::string_view name,
                                                               uint32_t flags, uint32_t mode, uint32_t gid);
  Result<NodeRef> Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid);
  Result<NodeRef> Symlink(const NodeRef& dir, std::string_view name, std::string_view target, uint32_t gid);
  Result<NodeRef> Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major,
                        uint32_t minor, uint32_t gid);
  Result<void> Link(const NodeRef& dir, const NodeRef& target, std::string_view name);
  Result<std::string> Readlink(const NodeRef& node);
  Result<void> Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name);
  Result<void> Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                        std::string_view new_name);
  Result<void> Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags);
  Result<void> Remove(const NodeRef& node);

  // Tsetattr: the fields selected by `valid` (kSetattr* bits).
  struct SetattrArgs {
    uint32_t valid, mode, uid, gid;
    uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
  };
  Result<void> Setattr(const NodeRef& node, const SetattrArgs& args);

  // Extended attributes: the value of `name`, or (empty name) the NUL-separated list.
  Result<std::vector<uint8_t>> GetXattr(const NodeRef& node, std::string_view name);
  // Sets (or with remove, removes) an attribute, with XATTR_CREATE/XATTR_REPLACE flags.
  Result<void> SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                        uint32_t flags, bool remove);

  // Reads directory entries from `dir` starting at cookie `offset` (0 = start).
  // Calls emit(entry) until it returns false (entry did not fit) or the directory ends.
  template <class Emit>
  Result<void> ReadDir(OpenFile& dir, uint64_t offset, Emit&& emit);

  // Checks that `name` may be created or walked: no '/', not empty, not "." or "..".
  static Result<void> ValidName(std::string_view name);

 private:
  explicit HostFs(NodeRef root) : root_(std::move(root)) {}
  Result<NodeRef> Child(const NodeRef& dir, std::string_view name);
  Result<bool> FillDirBuffer(OpenFile& dir);
  Result<void> SeekDir(OpenFile& dir, uint64_t offset);
  static bool PeekDirEntry(OpenFile& dir, DirEntry* out);

  NodeRef root_;
};

// Treaddir semantics: `offset` is 0 or the cookie of the last entry the client consumed. An
// entry that emit() refuses is not consumed: the next call (at the cookie of the entry before
// it) resumes there without seeking.
template <class Emit>
Result<void> HostFs::ReadDir(OpenFile& dir, uint64_t offset, Emit&& emit) {
  if (auto seek = SeekDir(dir, offset); !seek) return seek;
  for (;;) {
    if (dir.dir_pos >= dir.dir_len) {
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
