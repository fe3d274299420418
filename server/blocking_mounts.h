// SPDX-License-Identifier: MIT
// Which filesystems of an export can block a caller indefinitely (a network filesystem whose
// server is gone, a FUSE daemon that hangs, an automount that never completes), so that the
// protocol engine never runs a request on them on an event loop (server.h, "Threading";
// Connection::NeedsWorkerForBlockingMount).
//
// The classification comes from the kernel's mount table (/proc/self/mountinfo, proc(5)): each
// mount's filesystem type and st_dev ("major:minor"), read without calling into the filesystem
// itself. statfs(2)'s f_type names the same types, but asking for it is a request to the
// filesystem (FUSE_STATFS to the daemon, an FSSTAT call to the NFS server) and hangs exactly when
// the answer matters. The table is re-read whenever the kernel says it changed (a watcher thread
// polls mountinfo for POLLPRI, proc(5): "/proc/[pid]/mountinfo ... poll"), so the checks the
// engine makes per request are a load of an atomic flag and, only on an export that holds such
// a mount, a lookup in a small sorted vector: no system call.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace p9x::server {

// True for a mountinfo filesystem type whose operations can wait indefinitely on something other
// than the local machine's storage: NFS, CIFS/SMB, FUSE (every "fuse.*" subtype, fuseblk,
// virtiofs), 9p, ceph, AFS, cluster filesystems, autofs. Anything else counts as local.
bool FilesystemTypeCanBlock(std::string_view type);

class BlockingMounts {
 public:
  // Reads the mount table for the export at `export_path` (absolute, symlinks resolved) and
  // watches it until destroyed.
  explicit BlockingMounts(std::string export_path);
  ~BlockingMounts();
  BlockingMounts(const BlockingMounts&) = delete;
  BlockingMounts& operator=(const BlockingMounts&) = delete;

  // True when the export lies on, or holds a mount of, a filesystem that can block.
  bool AnyInExport() const { return any_.load(std::memory_order_acquire); }
  // True when st_dev `dev` is such a filesystem mounted in (or under) the export.
  bool Blocks(uint64_t dev) const;

  // Re-reads /proc/self/mountinfo now (the watcher does it on every change; tests call it).
  void Reload();

 private:
  // The watcher thread: re-reads the table whenever `mountinfo` (an open /proc/self/mountinfo,
  // which it closes) reports a change, until wake_fd_ is signalled.
  void Watch(int mountinfo);

  const std::string export_path_;
  mutable std::shared_mutex mu_;  // guards devs_; a leaf lock
  std::vector<uint64_t> devs_;    // sorted st_dev of the blocking filesystems in the export
  std::atomic<bool> any_{false};  // !devs_.empty()
  int wake_fd_ = -1;              // ends the watcher
  std::thread watcher_;
};

}  // namespace p9x::server
