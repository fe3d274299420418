// SPDX-License-Identifier: MIT
// HostFs's node operations: walk, open, create, link, rename, remove, attributes and xattrs (see
// host_fs.h for the safety contract; directory listing is in host_fs_dir.cc).
#include "server/host_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "codec/constants.h"
#include "server/host_fs_internal.h"

namespace p9x::server {
namespace {

using host_fs_internal::Fail;
using host_fs_internal::Fd;
using host_fs_internal::ProcPath;
using host_fs_internal::StatFd;
using host_fs_internal::UniqueFd;

// 9P2000.L carries Linux open flags unchanged (Linux P9_DOTL_* are the x86/generic values), so
// on a Linux host translation is a filter, checked here once.
static_assert(kOpenWronly == O_WRONLY && kOpenRdwr == O_RDWR && kOpenAccmode == O_ACCMODE);
static_assert(kOpenCreate == O_CREAT && kOpenExcl == O_EXCL && kOpenNoctty == O_NOCTTY);
static_assert(kOpenTrunc == O_TRUNC && kOpenAppend == O_APPEND && kOpenNonblock == O_NONBLOCK);
static_assert(kOpenDsync == O_DSYNC && kOpenFasync == FASYNC && kOpenDirect == O_DIRECT);
static_assert(kOpenDirectory == O_DIRECTORY && kOpenNofollow == O_NOFOLLOW && kOpenNoatime == O_NOATIME);
// P9_DOTL_SYNC is __O_SYNC alone (the kernel adds O_DSYNC to it; the Linux client sends both).
static_assert(kOpenCloexec == O_CLOEXEC && kOpenSync == (O_SYNC & ~O_DSYNC));
static_assert(kAtRemovedir == AT_REMOVEDIR && kXattrCreate == XATTR_CREATE && kXattrReplace == XATTR_REPLACE);

// The client flags that make sense on the server's own descriptor. Everything else is dropped:
// O_CREAT/O_EXCL (Tlopen never creates), O_NOCTTY, O_NOFOLLOW (the reopen goes through a magic
// link, which O_NOFOLLOW would refuse; symlinks are refused before), O_CLOEXEC (always added),
// O_LARGEFILE (implied on 64-bit), and bits 9P does not define (O_PATH, O_TMPFILE).
constexpr uint32_t kPassedOpenFlags = kOpenAccmode | kOpenTrunc | kOpenAppend | kOpenNonblock | kOpenDsync |
                                      kOpenFasync | kOpenDirect | kOpenDirectory | kOpenNoatime | kOpenSync;

int HostOpenFlags(uint32_t flags) { return static_cast<int>(flags & kPassedOpenFlags) | O_CLOEXEC; }

// Opens with O_NONBLOCK added, then restores the client's choice. fifo(7): "opening the FIFO
// blocks until the other end is opened also"; a server thread must not wait on a client's
// FIFO forever (a writer without a reader gets ENXIO instead). Regular files ignore it.
int OpenNonBlocking(int dir_fd, const char* path, int host_flags, mode_t mode) {
  const int fd = openat(dir_fd, path, host_flags | O_NONBLOCK, mode);
  if (fd >= 0 && (host_flags & O_NONBLOCK) == 0) {
    const int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
      const int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
  }
  return fd;
}

// One component below dir_fd as an O_PATH descriptor. The name was validated (no '/', not "."
// or ".."), O_NOFOLLOW opens a final symlink as itself, and RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS make the kernel refuse anything that would leave dir_fd even if that
// validation were wrong. Mount points are crossed (no RESOLVE_NO_XDEV).
int OpenBeneath(int dir_fd, const std::string& name) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = -1;
  // EAGAIN: openat2(2) "a concurrent rename or mount" raced the lookup; retrying is the documented
  // answer. Bounded so that a hostile host process cannot spin us forever.
  for (int attempt = 0; attempt < 16; ++attempt) {
    fd = static_cast<int>(syscall(SYS_openat2, dir_fd, name.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

// Succeeds when parent/name still names `node`; it may have been renamed (ENOENT) or replaced
// (ESTALE) on the host since the server walked to it.
Result<void> StillNamed(const Node& node, const Node& parent, const std::string& name) {
  struct stat now;
  if (fstatat(Fd(parent), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) return Fail();
  if (now.st_dev != node.initial_stat().st_dev || now.st_ino != node.initial_stat().st_ino) {
    return Unexpected(Errno::kESTALE);
  }
  return {};
}

constexpr uint32_t kKeepGid = static_cast<uint32_t>(-1);

// Tlcreate/Tmkdir/Tsymlink/Tmknod carry the gid the new file should have. It is applied when it
// differs from the group the kernel gave the file, best effort: an unprivileged server cannot
// give files away (EPERM), and the file exists either way. Returns the (refreshed) stat.
struct stat ApplyGid(int fd, const struct stat& st, uint32_t gid) {
  if (gid == kKeepGid || gid == st.st_gid) return st;
  if (fchownat(fd, "", static_cast<uid_t>(-1), gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return st;
  // chown(2): "the S_ISUID and S_ISGID mode bits are cleared" on a non-directory, root included;
  // the creator asked for them, so they are put back.
  if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) != 0) {
    (void)!chmod(ProcPath(fd).c_str(), st.st_mode & 07777);
  }
  return StatFd(fd).value_or(st);
}

// The node for dir/name (one validated component), given group `gid` unless kKeepGid.
Result<NodeRef> NewNode(const NodeRef& dir, std::string name, uint32_t gid) {
  UniqueFd fd(OpenBeneath(Fd(*dir), name));
  if (fd.get() < 0) return Fail();
  auto st = StatFd(fd.get());
  if (!st) return Unexpected(st.error());
  const struct stat final_st = ApplyGid(fd.get(), *st, gid);
  return std::make_shared<HostNode>(fd.release(), dir, std::move(name), final_st);
}

}  // namespace

Errno ToWireErrno(int host_errno) {
  const Errno wire = WireErrnoFromHost(host_errno);
  if (wire != Errno::kEIO || host_errno == EIO) return wire;
  // Rate-limited: at most one line per second, so a client cannot flood the log.
  static std::atomic<int64_t> last_logged{-1};
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t previous = last_logged.load();
  if (previous != now.tv_sec && last_logged.compare_exchange_strong(previous, now.tv_sec)) {
    std::fprintf(stderr, "p9xd: host errno %d (%s) has no wire mapping; sending EIO\n", host_errno,
                 std::strerror(host_errno));
  }
  return Errno::kEIO;
}

HostNode::~HostNode() { close(fd_); }

HostOpenFile::~HostOpenFile() {
  if (fd >= 0) close(fd);
}

HostOpenFile::HostOpenFile(int descriptor, uint32_t flags) : OpenFile(flags), fd(descriptor) {
  struct stat st {};
  const int status_flags = fcntl(fd, F_GETFL);
  splice_source_ = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && status_flags >= 0 && (status_flags & O_DIRECT) == 0;
  splice_target_ = splice_source_ && (status_flags & O_APPEND) == 0;
  struct statfs fs {};
  in_memory_ = splice_source_ && fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

Result<size_t> HostOpenFile::Read(std::span<uint8_t> into, uint64_t offset) {
  ssize_t n;
  do {
    n = pread(fd, into.data(), into.size(), static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Fail();
  return static_cast<size_t>(n);
}

Result<size_t> HostOpenFile::Write(std::span<const uint8_t> data, uint64_t offset) {
  ssize_t n;
  do {
    n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Fail();
  return static_cast<size_t>(n);
}

bool HostOpenFile::Cached(uint64_t offset, size_t count) {
  if (in_memory_) return true;
  if (no_nowait_reads_.load(std::memory_order_relaxed)) return false;
  uint8_t byte;
  iovec iov{&byte, 1};
  for (uint64_t at : {offset, offset + (count > 0 ? count - 1 : 0)}) {
    if (preadv2(fd, &iov, 1, static_cast<off_t>(at), RWF_NOWAIT) >= 0) continue;
    if (errno == EOPNOTSUPP) no_nowait_reads_.store(true, std::memory_order_relaxed);
    return false;
  }
  return true;
}

Result<size_t> HostOpenFile::WriteNoWait(std::span<const uint8_t> data, uint64_t offset) {
  if (no_nowait_writes_.load(std::memory_order_relaxed) || (flags() & kOpenAppend) != 0) {
    return Unexpected(Errno::kEAGAIN);
  }
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  ssize_t n;
  do {
    n = pwritev2(fd, &iov, 1, static_cast<off_t>(offset), RWF_NOWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EOPNOTSUPP) no_nowait_writes_.store(true, std::memory_order_relaxed);
    if (errno == EOPNOTSUPP || errno == EAGAIN) return Unexpected(Errno::kEAGAIN);
    return Fail();
  }
  // Stopped part way where it would have waited: the worker writes it all again.
  if (static_cast<size_t>(n) < data.size()) return Unexpected(Errno::kEAGAIN);
  return static_cast<size_t>(n);
}

Result<void> HostOpenFile::Sync(bool datasync) {
  if ((datasync ? fdatasync(fd) : fsync(fd)) != 0) return Fail();
  return {};
}

namespace {
struct flock HostLock(const ByteRangeLock& lock) {
  struct flock fl {};
  fl.l_type = static_cast<short>(lock.type == kLockTypeRdlck   ? F_RDLCK
                                 : lock.type == kLockTypeWrlck ? F_WRLCK
                                                               : F_UNLCK);
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(lock.start);
  fl.l_len = static_cast<off_t>(lock.length);
  return fl;
}
}  // namespace

Result<bool> HostOpenFile::SetLock(const ByteRangeLock& lock) {
  struct flock fl = HostLock(lock);
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
  if (errno == EAGAIN || errno == EACCES) return false;
  return Fail();
}

Result<ByteRangeLock> HostOpenFile::TestLock(const ByteRangeLock& lock) {
  struct flock fl = HostLock(lock);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return Fail();
  if (fl.l_type == F_UNLCK) return ByteRangeLock{kLockTypeUnlck, lock.start, lock.length, lock.proc_id};
  return ByteRangeLock{fl.l_type == F_RDLCK ? kLockTypeRdlck : kLockTypeWrlck, static_cast<uint64_t>(fl.l_start),
                       static_cast<uint64_t>(fl.l_len), static_cast<uint32_t>(fl.l_pid)};
}

HostFs::HostFs(NodeRef root, std::unique_ptr<MountPoints> mounts)
    : root_(std::move(root)), mounts_(std::move(mounts)) {}
HostFs::~HostFs() = default;

Result<std::unique_ptr<HostFs>> HostFs::Open(const std::string& root_path) {
  UniqueFd fd(open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Fail();
  auto st = StatFd(fd.get());
  if (!st) return Unexpected(st.error());
  return std::unique_ptr<HostFs>(new HostFs(std::make_shared<HostNode>(fd.release(), nullptr, "", *st),
                                            std::make_unique<MountPoints>()));
}

Result<NodeRef> HostFs::Child(const NodeRef& dir, std::string_view name) {
  return NewNode(dir, std::string(name), kKeepGid);
}

Result<NodeRef> HostFs::Walk(const NodeRef& dir, std::string_view name) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  // After a host-side rename, ".." is still the parent the server walked down from.
  if (name == "..") return WalkDotDot(dir);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  return Child(dir, name);
}

Result<struct stat> HostFs::Stat(const NodeRef& node) { return StatFd(Fd(*node)); }

Result<StatfsResult> HostFs::Statfs(const NodeRef& node) {
  struct statfs s;
  if (fstatfs(Fd(*node), &s) != 0) return Fail();
  StatfsResult r;
  r.type = static_cast<uint32_t>(s.f_type);
  r.bsize = static_cast<uint32_t>(s.f_bsize);
  r.blocks = s.f_blocks;
  r.bfree = s.f_bfree;
  r.bavail = s.f_bavail;
  r.files = s.f_files;
  r.ffree = s.f_ffree;
  r.fsid = 0;  // the host's f_fsid names its disk; the engine sends one derived per export
  r.namelen = static_cast<uint32_t>(s.f_namelen);
  return r;
}

Result<std::unique_ptr<OpenFile>> HostFs::OpenNode(const NodeRef& node, uint32_t flags) {
  // 9P clients resolve symlinks themselves; opening one for I/O would follow it.
  if (node->is_symlink()) return Unexpected(Errno::kELOOP);
  // nodev: a device node (possibly made by a client with Tmknod) would reach host devices.
  if (S_ISCHR(node->type()) || S_ISBLK(node->type())) return Unexpected(Errno::kEACCES);
  const std::string proc = ProcPath(Fd(*node));
  UniqueFd fd(S_ISFIFO(node->type()) ? OpenNonBlocking(AT_FDCWD, proc.c_str(), HostOpenFlags(flags), 0)
                                      : open(proc.c_str(), HostOpenFlags(flags)));
  if (fd.get() < 0) return Fail();
  return std::unique_ptr<OpenFile>(std::make_unique<HostOpenFile>(fd.release(), flags));
}

Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> HostFs::Create(const NodeRef& dir, std::string_view name,
                                                                     uint32_t flags, uint32_t mode, uint32_t gid) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  const std::string n(name);
  // The file is always made with O_CREAT | O_EXCL | O_NOFOLLOW, so what gets opened here is a
  // new regular file and a symlink planted at `name` is never followed.
  const int host = HostOpenFlags(flags & ~kOpenDirectory) | O_CREAT | O_EXCL | O_NOFOLLOW;
  int made = -1;
  for (int attempt = 0;; ++attempt) {
    made = openat(Fd(*dir), n.c_str(), host, static_cast<mode_t>(mode & 07777));
    if (made >= 0) break;
    if (errno != EEXIST || (flags & kOpenExcl) != 0 || attempt == 3) return Fail();
    // Without the client's O_EXCL an existing file is opened, as open(2) would, but through its
    // own O_PATH node, so that the rules of OpenNode apply (a symlink: ELOOP, never followed; a
    // device: refused; a FIFO: not waited on) and nothing is opened before its type is known.
    auto existing = Child(dir, n);
    if (!existing) {
      if (existing.error() == Errno::kENOENT) continue;  // removed meanwhile: create it
      return Unexpected(existing.error());
    }
    // open(2): "EISDIR pathname refers to a directory and the access requested involved
    // writing" -- and O_CREAT on a directory always fails so.
    if ((*existing)->is_dir()) return Unexpected(Errno::kEISDIR);
    auto file = OpenNode(*existing, flags);
    if (!file) return Unexpected(file.error());
    return std::make_pair(std::move(*existing), std::move(*file));
  }
  UniqueFd data(made);
  // The node is derived from the open descriptor itself, not by looking the name up again:
  // whatever happens to `name` meanwhile, node and file are the same inode.
  UniqueFd path(open(ProcPath(data.get()).c_str(), O_PATH | O_CLOEXEC));
  if (path.get() < 0) return Fail();
  auto st = StatFd(path.get());
  if (!st) return Unexpected(st.error());
  const struct stat final_st = ApplyGid(path.get(), *st, gid);
  auto node = std::make_shared<HostNode>(path.release(), dir, n, final_st);
  std::unique_ptr<OpenFile> file = std::make_unique<HostOpenFile>(data.release(), flags);
  return std::make_pair(NodeRef(std::move(node)), std::move(file));
}

Result<NodeRef> HostFs::Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  std::string n(name);
  if (mkdirat(Fd(*dir), n.c_str(), static_cast<mode_t>(mode & 07777)) != 0) return Fail();
  return NewNode(dir, std::move(n), gid);
}

Result<NodeRef> HostFs::Symlink(const NodeRef& dir, std::string_view name, std::string_view target, uint32_t gid) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  // The target is stored, never resolved by the server: any text is allowed except NUL.
  if (target.empty() || target.find('\0') != std::string_view::npos) return Unexpected(Errno::kEINVAL);
  std::string n(name);
  const std::string t(target);
  if (symlinkat(t.c_str(), Fd(*dir), n.c_str()) != 0) return Fail();
  return NewNode(dir, std::move(n), gid);
}

Result<NodeRef> HostFs::Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major,
                              uint32_t minor, uint32_t gid) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  std::string n(name);
  // mode carries the file type (S_IFIFO, S_IFSOCK, S_IFCHR, ...); the kernel refuses the rest.
  if (mknodat(Fd(*dir), n.c_str(), static_cast<mode_t>(mode & (S_IFMT | 07777)), makedev(major, minor)) != 0) {
    return Fail();
  }
  return NewNode(dir, std::move(n), gid);
}

Result<void> HostFs::Link(const NodeRef& dir, const NodeRef& target, std::string_view name) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  // link(2): "EPERM oldpath is a directory."
  if (target->is_dir()) return Unexpected(Errno::kEPERM);
  const std::string n(name);
  if (linkat(Fd(*target), "", Fd(*dir), n.c_str(), AT_EMPTY_PATH) == 0) return {};
  if (errno != EPERM && errno != ENOENT) return Fail();
  // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; without it, link the inode the magic link names.
  if (linkat(AT_FDCWD, ProcPath(Fd(*target)).c_str(), Fd(*dir), n.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return Fail();
  }
  return {};
}

Result<std::string> HostFs::Readlink(const NodeRef& node) {
  // readlink(2): "EINVAL pathname is not a symbolic link."
  if (!node->is_symlink()) return Unexpected(Errno::kEINVAL);
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = readlinkat(Fd(*node), "", buf.data(), buf.size());
    if (n < 0) return Fail();
    if (static_cast<size_t>(n) < buf.size()) {  // not truncated
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (buf.size() >= (1u << 20)) return Unexpected(Errno::kENAMETOOLONG);
    buf.resize(buf.size() * 2);
  }
}

Result<void> HostFs::Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name) {
  if (node->is_root()) return Unexpected(Errno::kEBUSY);
  if (!new_dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(new_name); !ok) return Unexpected(ok.error());
  const NodeRef parent = node->parent();
  const std::string old_name = node->name();
  // The old name must still be this file, else another file would be moved in its place.
  if (auto same = StillNamed(*node, *parent, old_name); !same) return same;
  std::string n(new_name);
  if (renameat(Fd(*parent), old_name.c_str(), Fd(*new_dir), n.c_str()) != 0) return Fail();
  node->Moved(new_dir, std::move(n));
  return {};
}

Result<void> HostFs::Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                              std::string_view new_name) {
  if (!old_dir->is_dir() || !new_dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(old_name); !ok) return Unexpected(ok.error());
  if (auto ok = ValidName(new_name); !ok) return Unexpected(ok.error());
  const std::string o(old_name), n(new_name);
  if (renameat(Fd(*old_dir), o.c_str(), Fd(*new_dir), n.c_str()) != 0) return Fail();
  return {};
}

Result<void> HostFs::Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  // unlinkat(2): flags is 0 or AT_REMOVEDIR; "EINVAL An invalid flag value was specified".
  if (flags != 0 && flags != kAtRemovedir) return Unexpected(Errno::kEINVAL);
  const std::string n(name);
  if (unlinkat(Fd(*dir), n.c_str(), flags == kAtRemovedir ? AT_REMOVEDIR : 0) != 0) return Fail();
  return {};
}

Result<void> HostFs::Remove(const NodeRef& node) {
  if (node->is_root()) return Unexpected(Errno::kEBUSY);
  const NodeRef parent = node->parent();
  const std::string name = node->name();
  // The name must still be this file: it may have been renamed or replaced on the host since.
  if (auto same = StillNamed(*node, *parent, name); !same) return same;
  if (unlinkat(Fd(*parent), name.c_str(), node->is_dir() ? AT_REMOVEDIR : 0) != 0) return Fail();
  return {};
}

namespace {

// One Tsetattr time: the bit alone means the server's current time, with its _SET bit the given
// time, neither: unchanged.
Result<timespec> SetattrTime(uint32_t valid, uint32_t bit, uint32_t set_bit, uint64_t sec, uint64_t nsec) {
  timespec ts{};
  if ((valid & bit) == 0) {
    ts.tv_nsec = UTIME_OMIT;
  } else if ((valid & set_bit) == 0) {
    ts.tv_nsec = UTIME_NOW;
  } else {
    // utimensat(2): "EINVAL Invalid value in one of the tv_nsec fields"; checked here so that a
    // client's nsec cannot alias UTIME_NOW/UTIME_OMIT.
    if (nsec >= 1000000000u) return Unexpected(Errno::kEINVAL);
    ts.tv_sec = static_cast<time_t>(sec);
    ts.tv_nsec = static_cast<long>(nsec);
  }
  return ts;
}

}  // namespace

Result<void> HostFs::Setattr(const NodeRef& node, const SetattrArgs& a) {
  const bool link = node->is_symlink();
  const std::string proc = ProcPath(Fd(*node));
  // Linux has no mode on symlinks (lchmod: EOPNOTSUPP); a size makes no sense there either.
  if (link && (a.valid & kSetattrMode)) return Unexpected(Errno::kEOPNOTSUPP);
  if (a.valid & kSetattrSize) {
    if (node->is_dir()) return Unexpected(Errno::kEISDIR);
    if (link) return Unexpected(Errno::kEINVAL);
  }
  auto atime = SetattrTime(a.valid, kSetattrAtime, kSetattrAtimeSet, a.atime_sec, a.atime_nsec);
  if (!atime) return Unexpected(atime.error());
  auto mtime = SetattrTime(a.valid, kSetattrMtime, kSetattrMtimeSet, a.mtime_sec, a.mtime_nsec);
  if (!mtime) return Unexpected(mtime.error());

  // Order: owner first (chown clears set-id bits, so a mode given with it must come after),
  // then mode, size, and times last (truncate would otherwise overwrite a given mtime).
  if (a.valid & (kSetattrUid | kSetattrGid)) {
    const uid_t uid = (a.valid & kSetattrUid) ? static_cast<uid_t>(a.uid) : static_cast<uid_t>(-1);
    const gid_t gid = (a.valid & kSetattrGid) ? static_cast<gid_t>(a.gid) : static_cast<gid_t>(-1);
    if (fchownat(Fd(*node), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return Fail();
  }
  if (a.valid & kSetattrMode) {
    if (chmod(proc.c_str(), static_cast<mode_t>(a.mode & 07777)) != 0) return Fail();
  }
  if (a.valid & kSetattrSize) {
    if (truncate(proc.c_str(), static_cast<off_t>(a.size)) != 0) return Fail();
  }
  if (a.valid & (kSetattrAtime | kSetattrMtime)) {
    const timespec ts[2] = {*atime, *mtime};
    if (!link) {
      if (utimensat(AT_FDCWD, proc.c_str(), ts, 0) != 0) return Fail();
    } else if (utimensat(Fd(*node), "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      // Kernels before AT_EMPTY_PATH support in utimensat: through the parent, by name.
      if (errno != EINVAL && errno != ENOENT) return Fail();
      const NodeRef parent = node->parent();
      const std::string name = node->name();
      if (auto same = StillNamed(*node, *parent, name); !same) return same;
      if (utimensat(Fd(*parent), name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return Fail();
    }
  } else if ((a.valid & kSetattrCtime) && !(a.valid & (kSetattrMode | kSetattrUid | kSetattrGid | kSetattrSize))) {
    // CTIME alone: only the change time moves; chown(-1, -1) does exactly that (as QEMU does).
    if (fchownat(Fd(*node), "", static_cast<uid_t>(-1), static_cast<gid_t>(-1),
                 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return Fail();
    }
  }
  return {};
}

namespace {

// A path for the *xattr calls naming `node` (there is no fgetxattr on an O_PATH descriptor).
// Files and directories: the magic link, used with the following calls (getxattr). Symlinks:
// the parent's magic link plus the one name, used with the l*xattr calls so the link is not
// followed, after checking that the name still is this symlink.
Result<std::string> XattrPath(const Node& node) {
  if (!node.is_symlink()) return ProcPath(Fd(node));
  const NodeRef parent = node.parent();
  const std::string name = node.name();
  if (auto same = StillNamed(node, *parent, name); !same) return Unexpected(same.error());
  return ProcPath(Fd(*parent)) + "/" + name;
}

}  // namespace

Result<std::vector<uint8_t>> HostFs::GetXattr(const NodeRef& node, std::string_view name) {
  auto path = XattrPath(*node);
  if (!path) return Unexpected(path.error());
  const std::string n(name);
  // Files and directories: the magic link must be followed (getxattr); symlinks: the final name
  // must not be (lgetxattr).
  const bool link = node->is_symlink();
  auto query = [&](void* buf, size_t size) -> ssize_t {
    char* list = static_cast<char*>(buf);
    if (n.empty()) return link ? llistxattr(path->c_str(), list, size) : listxattr(path->c_str(), list, size);
    return link ? lgetxattr(path->c_str(), n.c_str(), buf, size) : getxattr(path->c_str(), n.c_str(), buf, size);
  };
  // Size first, then the value; ERANGE means it grew in between: ask again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const ssize_t size = query(nullptr, 0);
    if (size < 0) return Fail();
    std::vector<uint8_t> value(static_cast<size_t>(size));
    if (size == 0) return value;
    const ssize_t got = query(value.data(), value.size());
    if (got >= 0) {
      value.resize(static_cast<size_t>(got));
      return value;
    }
    if (errno != ERANGE) return Fail();
  }
  return Unexpected(Errno::kERANGE);
}

Result<void> HostFs::SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                              uint32_t flags, bool remove) {
  if ((flags & ~(kXattrCreate | kXattrReplace)) != 0) return Unexpected(Errno::kEINVAL);
  if (name.empty() || name.find('\0') != std::string::npos) return Unexpected(Errno::kEINVAL);
  auto path = XattrPath(*node);
  if (!path) return Unexpected(path.error());
  const char* p = path->c_str();
  const int host_flags = static_cast<int>(flags);
  int rc;
  if (node->is_symlink()) {
    rc = remove ? lremovexattr(p, name.c_str()) : lsetxattr(p, name.c_str(), value.data(), value.size(), host_flags);
  } else {
    rc = remove ? removexattr(p, name.c_str()) : setxattr(p, name.c_str(), value.data(), value.size(), host_flags);
  }
  if (rc != 0) return Fail();
  return {};
}

}  // namespace p9x::server
