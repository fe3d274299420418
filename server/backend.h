// SPDX-License-Identifier: MIT
// Backend: what p9xd's protocol engine (server.cc) needs from a file store. Two implement it:
// HostFs (host_fs.h), a host directory reached only through descriptors under the export root,
// and MemFs (mem_fs.h), a deterministic in-memory tree for tests that can present several
// devices with identical inode numbers and millions of files.
//
// The engine owns the protocol (fids, tags, qids, dialects, iounit, wire errors); a backend owns
// files. Contract shared by every backend:
//  - A Node is one file the engine walked to, reached from its parent by one name. Its type,
//    device and inode never change; its (parent, name) changes only by Rename through the
//    backend. ".." is resolved from the node's own parent (WalkDotDot), never by name, so a walk
//    can never leave the tree the root names.
//  - Names are checked with ValidName before any operation that takes one.
//  - Errors are Linux errno values (the wire's Rlerror numbers).
//  - Stat returns a struct stat whose st_dev/st_ino identify the file within the backend; the
//    engine builds qids from them with the qid map (qid_map.h).
//  - Every method may be called from any thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "codec/linux_errno.h"
#include "codec/result.h"

namespace p9x::server {

// A non-owning reference to a callable, for callbacks that do not outlive the call (readdir's
// emit): no allocation, one indirect call.
template <class Signature>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... args) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(args...); }) {}
  R operator()(Args... args) const { return call_(object_, args...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

struct StatfsResult {
  uint32_t type, bsize;
  uint64_t blocks, bfree, bavail, files, ffree, fsid;
  uint32_t namelen;
};

// Checks that `name` may be created or walked: no '/', no NUL, not empty, not "." or "..", at
// most NAME_MAX bytes.
Result<void> ValidName(std::string_view name);

// A file the engine has walked to. Backends derive from it to attach their handle (a descriptor,
// an inode pointer).
class Node {
 public:
  Node(std::shared_ptr<Node> parent, std::string name, const struct stat& st)
      : st_(st), parent_(std::move(parent)), name_(std::move(name)) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  bool is_root() const { return parent() == nullptr; }
  mode_t type() const { return st_.st_mode & S_IFMT; }
  bool is_dir() const { return S_ISDIR(st_.st_mode); }
  bool is_symlink() const { return S_ISLNK(st_.st_mode); }
  // The stat taken when the node was reached (type, dev and ino never change for a node).
  const struct stat& initial_stat() const { return st_; }

  std::shared_ptr<Node> parent() const {
    std::lock_guard lock(mu_);
    return parent_;
  }
  std::string name() const {
    std::lock_guard lock(mu_);
    return name_;
  }
  void Moved(std::shared_ptr<Node> parent, std::string name) {
    std::lock_guard lock(mu_);
    parent_ = std::move(parent);
    name_ = std::move(name);
  }

 private:
  const struct stat st_;
  mutable std::mutex mu_;
  std::shared_ptr<Node> parent_;
  std::string name_;
};
using NodeRef = std::shared_ptr<Node>;

// walk(5): "A walk of the name .. in the root directory of a server is a no-op." Elsewhere ".."
// is the node this one was reached from, which lies under the root by construction.
inline NodeRef WalkDotDot(const NodeRef& dir) { return dir->is_root() ? dir : dir->parent(); }

// A POSIX byte-range lock as Tlock/Tgetlock carry it (type is kLockType*; length 0 = to EOF).
struct ByteRangeLock {
  uint8_t type = 0;
  uint64_t start = 0;
  uint64_t length = 0;
  uint32_t proc_id = 0;
};

// An open file or directory (Tlopen / Tlcreate). Each OpenFile is one lock owner, as each open
// file description is on Linux. Not used by two requests at once for readdir (the engine holds
// the fid's mutex there); Read/Write/Sync may run concurrently.
class OpenFile {
 public:
  explicit OpenFile(uint32_t flags) : flags_(flags) {}
  virtual ~OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  // The Linux open flags the client asked for.
  uint32_t flags() const { return flags_; }

  // pread/pwrite semantics: bytes transferred (0 at end of file), or an errno.
  virtual Result<size_t> Read(std::span<uint8_t> into, uint64_t offset) = 0;
  virtual Result<size_t> Write(std::span<const uint8_t> data, uint64_t offset) = 0;
  virtual Result<void> Sync(bool datasync) = 0;
  // A descriptor of a regular file whose page-cache pages the kernel may move into a pipe
  // (splice(2)) for a Tread, so that the data never passes through user space; or -1, and the
  // engine reads through Read (MemFs, FIFOs, devices, O_DIRECT files). It stays open as long as
  // this OpenFile.
  virtual int SpliceSource() const { return -1; }
  // A descriptor of a regular file that the kernel may fill from a pipe (splice(2)) for a
  // Twrite whose payload went from the socket into that pipe, never through user space; or -1,
  // and the engine writes through Write. -1 also for a file opened O_APPEND (splice(2): EINVAL
  // "The target file is opened in append mode"). It stays open as long as this OpenFile.
  virtual int SpliceTarget() const { return -1; }
  // True when Read and Write never wait for storage (the data lives in memory: tmpfs, ramfs,
  // MemFs), so that the engine may answer pipelined Treads and Twrites without a worker.
  virtual bool InMemory() const { return false; }
  // Whether a Read of `count` bytes at `offset` would find them in memory: true for InMemory
  // files; for others, whether the first and the last of those bytes are in the page cache
  // (preadv2(2) RWF_NOWAIT of one byte each: EAGAIN "if data would have to be read from the
  // backing storage"). Readahead fills a file's cache in order, so a range whose ends are cached
  // is, in practice, cached; a miss in between waits for storage once. False when the file's
  // filesystem cannot tell (EOPNOTSUPP).
  virtual bool Cached(uint64_t offset, size_t count) {
    (void)offset;
    (void)count;
    return InMemory();
  }
  // Write without waiting for storage (pwritev2(2) RWF_NOWAIT): the bytes written, or EAGAIN
  // when the whole write could not be done without waiting (block allocation, locks, dirty-page
  // throttling), or when the filesystem cannot write without waiting (EOPNOTSUPP). After EAGAIN
  // the engine does the write again on a worker with Write: a write at an offset may be redone
  // (files opened O_APPEND never come here).
  virtual Result<size_t> WriteNoWait(std::span<const uint8_t> data, uint64_t offset) {
    (void)data;
    (void)offset;
    return Unexpected(Errno::kEAGAIN);
  }
  // Sets or releases a lock without ever waiting: true when done, false when another owner's
  // lock conflicts (the engine answers Rlock BLOCKED; the Linux client retries).
  virtual Result<bool> SetLock(const ByteRangeLock& lock) = 0;
  // The first lock of another owner that conflicts with `lock`, or type kLockTypeUnlck if none.
  virtual Result<ByteRangeLock> TestLock(const ByteRangeLock& lock) = 0;

 private:
  const uint32_t flags_;
};

// One directory entry as ReadDirPlus offers it: the name, the cookie that resumes after it, and
// what the engine makes the entry's qid and d_type from: the (device, inode) identity and the
// file type. Contract: (dev, ino) are the st_dev and st_ino that a stat of the entry would give
// (for a mount point: the mounted root's), so that the entry's qid path equals the walk qid's.
// A backend may know them without a stat (HostFs: d_ino from getdents64); it stats when it
// cannot be sure (mount points, DT_UNKNOWN, filesystems whose d_ino is not st_ino).
struct DirEntryPlus {
  std::string_view name;
  uint64_t next_offset;
  uint64_t dev;
  uint64_t ino;
  mode_t type;  // the S_IFMT bits of st_mode

  static DirEntryPlus FromStat(std::string_view name, uint64_t next_offset, const struct stat& st) {
    return {name, next_offset, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
            static_cast<mode_t>(st.st_mode & S_IFMT)};
  }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const NodeRef& root() const = 0;

  // One walk step: "..", or a single name (checked with ValidName).
  virtual Result<NodeRef> Walk(const NodeRef& dir, std::string_view name) = 0;
  virtual Result<struct stat> Stat(const NodeRef& node) = 0;
  virtual Result<StatfsResult> Statfs(const NodeRef& node) = 0;

  // Opens node for I/O with Linux open flags (O_CREAT/O_EXCL/O_NOCTTY ignored; never follows a
  // symlink: ELOOP; device nodes: EACCES).
  virtual Result<std::unique_ptr<OpenFile>> OpenNode(const NodeRef& node, uint32_t flags) = 0;
  // Creates (or, without O_EXCL, opens an existing) regular file; returns its node and open file.
  virtual Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> Create(const NodeRef& dir, std::string_view name,
                                                                       uint32_t flags, uint32_t mode,
                                                                       uint32_t gid) = 0;
  virtual Result<NodeRef> Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid) = 0;
  virtual Result<NodeRef> Symlink(const NodeRef& dir, std::string_view name, std::string_view target,
                                  uint32_t gid) = 0;
  virtual Result<NodeRef> Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major,
                                uint32_t minor, uint32_t gid) = 0;
  virtual Result<void> Link(const NodeRef& dir, const NodeRef& target, std::string_view name) = 0;
  virtual Result<std::string> Readlink(const NodeRef& node) = 0;
  virtual Result<void> Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name) = 0;
  virtual Result<void> Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                                std::string_view new_name) = 0;
  virtual Result<void> Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags) = 0;
  virtual Result<void> Remove(const NodeRef& node) = 0;

  // Tsetattr: the fields selected by `valid` (kSetattr* bits), with UTIME_NOW/OMIT semantics.
  struct SetattrArgs {
    uint32_t valid, mode, uid, gid;
    uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
  };
  virtual Result<void> Setattr(const NodeRef& node, const SetattrArgs& args) = 0;

  // Extended attributes: the value of `name`, or (empty name) the NUL-separated list.
  virtual Result<std::vector<uint8_t>> GetXattr(const NodeRef& node, std::string_view name) = 0;
  // Sets (or with remove, removes) an attribute, with XATTR_CREATE/XATTR_REPLACE flags.
  virtual Result<void> SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                                uint32_t flags, bool remove) = 0;

  // Treaddir with attributes: the entries of directory `dir` (opened as `open`) after cookie
  // `offset` (0 = start), "." and ".." included, each with its stat ("..", at the root, is the
  // root). emit returns false when an entry did not fit: that entry is not consumed, and a call
  // with the cookie of the entry before it resumes there. Entries removed while listing are
  // skipped.
  using EmitEntry = FunctionRef<bool(const DirEntryPlus&)>;
  virtual Result<void> ReadDirPlus(const NodeRef& dir, OpenFile& open, uint64_t offset, EmitEntry emit) = 0;
};

}  // namespace p9x::server
