// SPDX-License-Identifier: MIT
// BlockingMounts (blocking_mounts.h): the filesystem types that can block indefinitely, and the
// st_devs of those mounted in an export, kept current by a thread that watches the mount table.
#include "server/blocking_mounts.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <mutex>

#include "server/fs_identity.h"

namespace p9x::server {

bool FilesystemTypeCanBlock(std::string_view type) {
  // Every FUSE filesystem: the kernel forwards each lookup, getattr, open and read to a daemon
  // and waits for its answer; a daemon that hangs (or an sshfs/glusterfs whose own server is
  // gone) leaves the caller waiting for ever. mountinfo names them "fuse.<subtype>".
  if (type.substr(0, 5) == "fuse.") return true;
  static constexpr std::string_view kBlocking[] = {
      "fuse",     "fuseblk",  // FUSE without a subtype; FUSE on a block device (ntfs-3g)
      "virtiofs",             // FUSE requests to a host daemon (virtiofsd)
      "nfs",      "nfs4",     // a hard mount retries a dead server for ever (nfs(5), "hard")
      "cifs",     "smb3",     // SMB: every call waits for the server while it reconnects
      "9p",                   // another 9P server, over a network or virtio transport
      "ceph",                 // waits for the monitors and OSDs of the cluster
      "afs",                  // kAFS and OpenAFS: waits for the file servers
      "gfs2",     "ocfs2",    // cluster filesystems: lock requests wait for a dead node's fencing
      "lustre",   "gpfs",    "beegfs", "orangefs", "pvfs2", "coda",  // other network filesystems
      "autofs",  // a walk into a trigger waits for the automount daemon to mount it
  };
  return std::find(std::begin(kBlocking), std::end(kBlocking), type) != std::end(kBlocking);
}

BlockingMounts::BlockingMounts(std::string export_path) : export_path_(std::move(export_path)) {
  // Opened before the first read: a change made between the two is then still reported.
  const int table = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  Reload();
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (table >= 0 && wake_fd_ >= 0) {
    watcher_ = std::thread([this, table] { Watch(table); });
  } else if (table >= 0) {
    close(table);
  }
}

BlockingMounts::~BlockingMounts() {
  if (watcher_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
    watcher_.join();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool BlockingMounts::Blocks(uint64_t dev) const {
  if (!AnyInExport()) return false;
  std::shared_lock lock(mu_);
  return std::binary_search(devs_.begin(), devs_.end(), dev);
}

void BlockingMounts::Reload() {
  const std::vector<MountEntry> mounts = ReadMountTable();
  // The export's own filesystem (the deepest mount at or above it) and every mount below it. A
  // filesystem mounted elsewhere is out of the export's reach (walks never leave the root).
  const MountEntry* own = nullptr;
  for (const MountEntry& m : mounts) {
    if (PathIsAtOrBelow(export_path_, m.mount_point) && (!own || m.mount_point.size() >= own->mount_point.size())) {
      own = &m;
    }
  }
  std::vector<uint64_t> devs;
  for (const MountEntry& m : mounts) {
    const bool in_export = &m == own || PathIsAtOrBelow(m.mount_point, export_path_);
    if (in_export && FilesystemTypeCanBlock(m.type)) devs.push_back(m.dev);
  }
  std::sort(devs.begin(), devs.end());
  devs.erase(std::unique(devs.begin(), devs.end()), devs.end());
  std::unique_lock lock(mu_);
  devs_ = std::move(devs);
  any_.store(!devs_.empty(), std::memory_order_release);
}

// The kernel flags /proc/self/mountinfo with POLLPRI | POLLERR after every change of this mount
// namespace; poll() itself re-arms it (proc(5)).
void BlockingMounts::Watch(int fd) {
  for (;;) {
    pollfd fds[2] = {{fd, POLLPRI, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & (POLLPRI | POLLERR)) != 0) Reload();
  }
  close(fd);
}

}  // namespace p9x::server
