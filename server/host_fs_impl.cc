#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <atomic>
#include <cstring>

#include "codec/constants.h"
#include "server/host_fs.h"

namespace p9x::server {
namespace {

std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<struct stat> StatFd(int fd) {
  struct stat st;
  if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return Unexpected(ToWireErrno(errno));
  return st;
}

// One component below dir, never following a symlink and never leaving dir.
int OpenBeneath(int dir_fd, const std::string& name) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  int fd;
  do {
    fd = static_cast<int>(syscall(SYS_openat2, dir_fd, name.c_str(), &how, sizeof how));
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0 && errno == ELOOP) {
    // RESOLVE_NO_SYMLINKS refuses even the last component when it is a symlink; O_PATH |
    // O_NOFOLLOW on that one name opens the link itself (a single component: nothing to escape).
    fd = openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  return fd;
}

uint32_t HostOpenFlags(uint32_t flags) {
  // Linux open flags travel unchanged in 9P2000.L (P9_DOTL_* are the Linux values); creation
  // and controlling-terminal flags make no sense on an existing file.
  uint32_t host = flags & ~(kOpenCreate | kOpenExcl | kOpenNoctty);
  return host | O_CLOEXEC;
}

}  // namespace

Errno ToWireErrno(int host_errno) {
  if (!ErrnoName(static_cast<Errno>(host_errno)).empty()) return static_cast<Errno>(host_errno);
  static std::atomic<int> logged{0};
  if (logged.fetch_add(1) < 10) std::fprintf(stderr, "p9xd: host errno %d has no wire mapping: EIO\n", host_errno);
  return Errno::kEIO;
}

Node::Node(int fd, std::shared_ptr<Node> parent, std::string name, const struct stat& st)
    : fd_(fd), st_(st), parent_(std::move(parent)), name_(std::move(name)) {}

Node::~Node() { close(fd_); }

std::shared_ptr<Node> Node::parent() const {
  std::lock_guard lock(mu_);
  return parent_;
}

std::string Node::name() const {
  std::lock_guard lock(mu_);
  return name_;
}

void Node::Moved(std::shared_ptr<Node> parent, std::string name) {
  std::lock_guard lock(mu_);
  parent_ = std::move(parent);
  name_ = std::move(name);
}

OpenFile::~OpenFile() {
  if (fd >= 0) close(fd);
}

Result<std::unique_ptr<HostFs>> HostFs::Open(const std::string& root_path) {
  int fd = open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unexpected(ToWireErrno(errno));
  auto st = StatFd(fd);
  if (!st) {
    close(fd);
    return Unexpected(st.error());
  }
  return std::unique_ptr<HostFs>(new HostFs(std::make_shared<Node>(fd, nullptr, "", *st)));
}

Result<void> HostFs::ValidName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Unexpected(Errno::kEINVAL);
  }
  if (name.size() > 255) return Unexpected(Errno::kENAMETOOLONG);
  return {};
}

Result<NodeRef> HostFs::Child(const NodeRef& dir, std::string_view name) {
  std::string n(name);
  int fd = OpenBeneath(dir->fd(), n);
  if (fd < 0) return Unexpected(ToWireErrno(errno));
  auto st = StatFd(fd);
  if (!st) {
    close(fd);
    return Unexpected(st.error());
  }
  return std::make_shared<Node>(fd, dir, std::move(n), *st);
}

Result<NodeRef> HostFs::Walk(const NodeRef& dir, std::string_view name) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (name == "..") {
    // walk(5): ".." at the root is a no-op; elsewhere it is the node this one was reached from,
    // which lies under the root by construction.
    if (dir->is_root()) return dir;
    NodeRef parent = dir->parent();
    return parent ? parent : dir;
  }
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  return Child(dir, name);
}

Result<struct stat> HostFs::Stat(const NodeRef& node) { return StatFd(node->fd()); }

Result<StatfsResult> HostFs::Statfs(const NodeRef& node) {
  struct statfs s;
  if (fstatfs(node->fd(), &s) != 0) return Unexpected(ToWireErrno(errno));
  StatfsResult r;
  r.type = static_cast<uint32_t>(s.f_type);
  r.bsize = static_cast<uint32_t>(s.f_bsize);
  r.blocks = s.f_blocks;
  r.bfree = s.f_bfree;
  r.bavail = s.f_bavail;
  r.files = s.f_files;
  r.ffree = s.f_ffree;
  r.fsid = static_cast<uint32_t>(s.f_fsid.__val[0]) | static_cast<uint64_t>(static_cast<uint32_t>(s.f_fsid.__val[1])) << 32;
  r.namelen = static_cast<uint32_t>(s.f_namelen);
  return r;
}

Result<std::unique_ptr<OpenFile>> HostFs::OpenNode(const NodeRef& node, uint32_t flags) {
  if (node->is_symlink()) return Unexpected(Errno::kELOOP);
  // The magic link names the inode the O_PATH descriptor holds, not a path: nothing is re-walked.
  int fd = open(ProcPath(node->fd()).c_str(), static_cast<int>(HostOpenFlags(flags)));
  if (fd < 0) return Unexpected(ToWireErrno(errno));
  auto open = std::make_unique<OpenFile>();
  open->fd = fd;
  open->flags = flags;
  return open;
}

namespace {
void ChownNew(int fd, uint32_t gid, bool symlink) {
  // Best effort: the requested group applies when the server may set it (root, or a member).
  if (gid == static_cast<uint32_t>(-1) || gid == getegid()) return;
  (void)!fchownat(fd, "", static_cast<uid_t>(-1), gid, AT_EMPTY_PATH | (symlink ? AT_SYMLINK_NOFOLLOW : 0));
}
}  // namespace

Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> HostFs::Create(const NodeRef& dir, std::string_view name,
                                                                     uint32_t flags, uint32_t mode, uint32_t gid) {
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  std::string n(name);
  // O_NOFOLLOW: a symlink planted at `name` is refused (ELOOP), never followed.
  const int host = static_cast<int>((flags & ~(kOpenNoctty)) | kOpenCreate | O_NOFOLLOW | O_CLOEXEC);
  int fd = openat(dir->fd(), n.c_str(), host, mode & 07777);
  if (fd < 0) return Unexpected(ToWireErrno(errno));
  auto open = std::make_unique<OpenFile>();
  open->fd = fd;
  open->flags = flags;
  auto node = Child(dir, n);
  if (!node) return Unexpected(node.error());
  ChownNew((*node)->fd(), gid, false);
  return std::make_pair(std::move(*node), std::move(open));
}

Result<NodeRef> HostFs::Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid) {
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  std::string n(name);
  if (mkdirat(dir->fd(), n.c_str(), mode & 07777) != 0) return Unexpected(ToWireErrno(errno));
  auto node = Child(dir, n);
  if (node) ChownNew((*node)->fd(), gid, false);
  return node;
}

Result<NodeRef> HostFs::Symlink(const NodeRef& dir, std::string_view name, std::string_view target, uint32_t gid) {
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  if (target.find('\0') != std::string_view::npos) return Unexpected(Errno::kEINVAL);
  std::string n(name), t(target);
  if (symlinkat(t.c_str(), dir->fd(), n.c_str()) != 0) return Unexpected(ToWireErrno(errno));
  auto node = Child(dir, n);
  if (node) ChownNew((*node)->fd(), gid, true);
  return node;
}

Result<NodeRef> HostFs::Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major,
                              uint32_t minor, uint32_t gid) {
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  std::string n(name);
  if (mknodat(dir->fd(), n.c_str(), mode, makedev(major, minor)) != 0) return Unexpected(ToWireErrno(errno));
  auto node = Child(dir, n);
  if (node) ChownNew((*node)->fd(), gid, false);
  return node;
}

Result<void> HostFs::Link(const NodeRef& dir, const NodeRef& target, std::string_view name) {
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  if (target->is_dir()) return Unexpected(Errno::kEPERM);
  std::string n(name);
  if (linkat(target->fd(), "", dir->fd(), n.c_str(), AT_EMPTY_PATH) == 0) return {};
  if (errno != EPERM && errno != ENOENT) return Unexpected(ToWireErrno(errno));
  // Without CAP_DAC_READ_SEARCH, AT_EMPTY_PATH is refused: link through the magic link instead.
  if (linkat(AT_FDCWD, ProcPath(target->fd()).c_str(), dir->fd(), n.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return Unexpected(ToWireErrno(errno));
  }
  return {};
}

Result<std::string> HostFs::Readlink(const NodeRef& node) {
  if (!node->is_symlink()) return Unexpected(Errno::kEINVAL);
  std::string buf(4096, '\0');
  ssize_t n = readlinkat(node->fd(), "", buf.data(), buf.size());
  if (n < 0) return Unexpected(ToWireErrno(errno));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Result<void> HostFs::Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name) {
  if (node->is_root()) return Unexpected(Errno::kEBUSY);
  if (auto ok = ValidName(new_name); !ok) return Unexpected(ok.error());
  NodeRef parent = node->parent();
  std::string old_name = node->name(), n(new_name);
  if (renameat(parent->fd(), old_name.c_str(), new_dir->fd(), n.c_str()) != 0) return Unexpected(ToWireErrno(errno));
  node->Moved(new_dir, n);
  return {};
}

Result<void> HostFs::Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                              std::string_view new_name) {
  if (auto ok = ValidName(old_name); !ok) return Unexpected(ok.error());
  if (auto ok = ValidName(new_name); !ok) return Unexpected(ok.error());
  std::string o(old_name), n(new_name);
  if (renameat(old_dir->fd(), o.c_str(), new_dir->fd(), n.c_str()) != 0) return Unexpected(ToWireErrno(errno));
  return {};
}

Result<void> HostFs::Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags) {
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  if ((flags & ~kAtRemovedir) != 0) return Unexpected(Errno::kEINVAL);
  std::string n(name);
  if (unlinkat(dir->fd(), n.c_str(), (flags & kAtRemovedir) ? AT_REMOVEDIR : 0) != 0) {
    return Unexpected(ToWireErrno(errno));
  }
  return {};
}

Result<void> HostFs::Remove(const NodeRef& node) {
  if (node->is_root()) return Unexpected(Errno::kEBUSY);
  NodeRef parent = node->parent();
  std::string name = node->name();
  // The name must still be this file: it may have been renamed on the host since.
  struct stat now;
  if (fstatat(parent->fd(), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) return Unexpected(ToWireErrno(errno));
  if (now.st_dev != node->initial_stat().st_dev || now.st_ino != node->initial_stat().st_ino) {
    return Unexpected(Errno::kESTALE);
  }
  if (unlinkat(parent->fd(), name.c_str(), node->is_dir() ? AT_REMOVEDIR : 0) != 0) {
    return Unexpected(ToWireErrno(errno));
  }
  return {};
}

Result<void> HostFs::Setattr(const NodeRef& node, const SetattrArgs& a) {
  const bool link = node->is_symlink();
  if (a.valid & kSetattrMode) {
    if (link) return Unexpected(Errno::kEOPNOTSUPP);
    if (chmod(ProcPath(node->fd()).c_str(), a.mode & 07777) != 0) return Unexpected(ToWireErrno(errno));
  }
  if (a.valid & (kSetattrUid | kSetattrGid)) {
    uid_t uid = (a.valid & kSetattrUid) ? a.uid : static_cast<uid_t>(-1);
    gid_t gid = (a.valid & kSetattrGid) ? a.gid : static_cast<gid_t>(-1);
    if (fchownat(node->fd(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return Unexpected(ToWireErrno(errno));
    }
  }
  if (a.valid & kSetattrSize) {
    if (node->is_dir()) return Unexpected(Errno::kEISDIR);
    if (link) return Unexpected(Errno::kEINVAL);
    if (truncate(ProcPath(node->fd()).c_str(), static_cast<off_t>(a.size)) != 0) return Unexpected(ToWireErrno(errno));
  }
  if (a.valid & (kSetattrAtime | kSetattrMtime)) {
    // A time bit without its _SET bit means the server's current time (UTIME_NOW).
    timespec ts[2];
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_OMIT;
    ts[0].tv_sec = ts[1].tv_sec = 0;
    if (a.valid & kSetattrAtime) {
      if (a.valid & kSetattrAtimeSet) {
        ts[0].tv_sec = static_cast<time_t>(a.atime_sec);
        ts[0].tv_nsec = static_cast<long>(a.atime_nsec);
      } else {
        ts[0].tv_nsec = UTIME_NOW;
      }
    }
    if (a.valid & kSetattrMtime) {
      if (a.valid & kSetattrMtimeSet) {
        ts[1].tv_sec = static_cast<time_t>(a.mtime_sec);
        ts[1].tv_nsec = static_cast<long>(a.mtime_nsec);
      } else {
        ts[1].tv_nsec = UTIME_NOW;
      }
    }
    int rc;
    if (link) {
      NodeRef parent = node->parent();
      if (!parent) return Unexpected(Errno::kEINVAL);
      rc = utimensat(parent->fd(), node->name().c_str(), ts, AT_SYMLINK_NOFOLLOW);
    } else {
      rc = utimensat(AT_FDCWD, ProcPath(node->fd()).c_str(), ts, 0);
    }
    if (rc != 0) return Unexpected(ToWireErrno(errno));
  } else if ((a.valid & kSetattrCtime) && !(a.valid & (kSetattrMode | kSetattrUid | kSetattrGid | kSetattrSize))) {
    // CTIME alone: touch the inode's change time, as QEMU does with chown(-1, -1).
    (void)!fchownat(node->fd(), "", static_cast<uid_t>(-1), static_cast<gid_t>(-1), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  }
  return {};
}

Result<std::vector<uint8_t>> HostFs::GetXattr(const NodeRef& node, std::string_view name) {
  if (node->is_symlink()) return Unexpected(Errno::kEOPNOTSUPP);
  const std::string path = ProcPath(node->fd());
  const std::string n(name);
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t size = n.empty() ? listxattr(path.c_str(), nullptr, 0) : getxattr(path.c_str(), n.c_str(), nullptr, 0);
    if (size < 0) return Unexpected(ToWireErrno(errno));
    std::vector<uint8_t> value(static_cast<size_t>(size));
    ssize_t got = n.empty() ? listxattr(path.c_str(), reinterpret_cast<char*>(value.data()), value.size())
                            : getxattr(path.c_str(), n.c_str(), value.data(), value.size());
    if (got >= 0) {
      value.resize(static_cast<size_t>(got));
      return value;
    }
    if (errno != ERANGE) return Unexpected(ToWireErrno(errno));  // ERANGE: it grew meanwhile
  }
  return Unexpected(Errno::kERANGE);
}

Result<void> HostFs::SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                              uint32_t flags, bool remove) {
  if (node->is_symlink()) return Unexpected(Errno::kEOPNOTSUPP);
  const std::string path = ProcPath(node->fd());
  int rc = remove ? removexattr(path.c_str(), name.c_str())
                  : setxattr(path.c_str(), name.c_str(), value.data(), value.size(), static_cast<int>(flags));
  if (rc != 0) return Unexpected(ToWireErrno(errno));
  return {};
}

Result<bool> HostFs::FillDirBuffer(OpenFile& dir) {
  if (dir.dir_buffer.empty()) dir.dir_buffer.resize(32 * 1024);
  long n = syscall(SYS_getdents64, dir.fd, dir.dir_buffer.data(), dir.dir_buffer.size());
  if (n < 0) return Unexpected(ToWireErrno(errno));
  dir.dir_pos = 0;
  dir.dir_len = static_cast<size_t>(n);
  return n > 0;
}

Result<void> HostFs::SeekDir(OpenFile& dir, uint64_t offset) {
  // Treaddir's offset is the cookie of the last entry the client consumed (0: the start). When
  // it is not where this descriptor stands, seek there and drop the buffered entries.
  if (dir.dir_started && offset == dir.dir_offset) return {};
  if (lseek(dir.fd, static_cast<off_t>(offset), SEEK_SET) < 0) return Unexpected(ToWireErrno(errno));
  dir.dir_offset = offset;
  dir.dir_pos = dir.dir_len = 0;
  dir.dir_started = true;
  return {};
}

bool HostFs::PeekDirEntry(OpenFile& dir, DirEntry* out) {
  if (dir.dir_pos >= dir.dir_len) return false;
  const uint8_t* p = dir.dir_buffer.data() + dir.dir_pos;
  uint64_t d_off;
  uint16_t reclen;
  std::memcpy(&d_off, p + 8, 8);
  std::memcpy(&reclen, p + 16, 2);
  out->d_type = p[18];
  out->name.assign(reinterpret_cast<const char*>(p + 19));
  out->next_offset = d_off;
  out->reclen = reclen;
  return true;
}

}  // namespace p9x::server
