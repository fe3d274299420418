// SPDX-License-Identifier: MIT
// MemFs's tree: walk, create, link, rename, remove, attributes, xattrs and directory listing
// (see mem_fs.h for the contract; the open file is in mem_fs_open_file.cc).
#include "server/mem_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>

#include "codec/constants.h"
#include "server/mem_fs_internal.h"

namespace p9x::server {

namespace {

using mem_fs_internal::Inode;
using mem_fs_internal::InodeRef;
using mem_fs_internal::MemOpenFile;

class MemNode final : public Node {
 public:
  MemNode(InodeRef file, std::shared_ptr<Node> parent, std::string name, const struct stat& st)
      : Node(std::move(parent), std::move(name), st), inode(std::move(file)) {}
  const InodeRef inode;
};

const InodeRef& Of(const NodeRef& node) { return static_cast<const MemNode&>(*node).inode; }

struct stat StatOf(const Inode& i) {
  struct stat st {};
  st.st_dev = static_cast<dev_t>(i.dev);
  st.st_ino = static_cast<ino_t>(i.ino);
  st.st_mode = i.mode;
  st.st_nlink = static_cast<nlink_t>(i.nlink);
  st.st_uid = i.uid;
  st.st_gid = i.gid;
  st.st_rdev = i.rdev;
  st.st_size = static_cast<off_t>(i.is_dir() ? 4096 : i.data.size());
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>((i.data.size() + 511) / 512);
  st.st_atim = i.atime;
  st.st_mtim = i.mtime;
  st.st_ctim = i.ctime;
  return st;
}

NodeRef MakeNode(InodeRef inode, NodeRef parent, std::string name) {
  const struct stat st = StatOf(*inode);
  return std::make_shared<MemNode>(std::move(inode), std::move(parent), std::move(name), st);
}

// "f<i>" with i < count and no leading zeros: the index of a generated file.
bool GeneratedIndex(const MemFsOptions::Generated& g, std::string_view name, uint64_t* index) {
  if (name.size() < 2 || name[0] != 'f' || (name[1] == '0' && name.size() > 2)) return false;
  uint64_t i = 0;
  auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), i);
  if (ec != std::errc() || end != name.data() + name.size() || i >= g.count) return false;
  *index = i;
  return true;
}

InodeRef GeneratedFile(const MemFsOptions::Generated& g, const Inode& dir, uint64_t index) {
  auto f = std::make_shared<Inode>();
  f->dev = g.dev;
  f->ino = g.first_ino + index * g.stride;
  f->mode = S_IFREG | 0444;
  f->uid = dir.uid;
  f->gid = dir.gid;
  f->atime = f->mtime = f->ctime = dir.mtime;
  f->read_only = true;
  return f;
}

Result<void> DirAndName(const NodeRef& dir, std::string_view name) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  return ValidName(name);
}

}  // namespace

MemFs::MemFs(MemFsOptions options) : state_(std::make_shared<State>(std::move(options))) {
  auto& o = state_->options;
  auto root = std::make_shared<Inode>();
  root->dev = o.root_dev;
  root->ino = o.root_ino;
  root->mode = S_IFDIR | 0755;
  root->uid = state_->owner_uid;
  root->gid = state_->owner_gid;
  root->nlink = 2;
  root->atime = root->mtime = root->ctime = state_->Now();
  state_->inodes = 1;
  uint64_t dev = o.root_dev;
  auto add_dir = [&](const std::string& name, uint64_t on_dev, bool new_device) {
    auto d = std::make_shared<Inode>(*root);
    d->dev = on_dev;
    d->ino = new_device ? o.root_ino : state_->next_ino.try_emplace(on_dev, o.root_ino + 1).first->second++;
    d->parent = root;
    d->children.clear();
    d->by_cookie.clear();
    root->children.emplace(name, Inode::Entry{root->next_cookie, d});
    root->by_cookie.emplace(root->next_cookie++, name);
    ++root->nlink;
    ++state_->inodes;
    return d;
  };
  for (const auto& m : o.mounts) add_dir(m, ++dev, true);
  for (auto& g : o.generated) {
    const bool new_device = g.dev == 0;
    if (new_device) g.dev = ++dev;
    auto d = add_dir(g.name, g.dev, new_device && g.dev != o.root_dev);
    d->generated = &g;
    d->read_only = true;
    d->mode = S_IFDIR | 0555;
  }
  root_ = MakeNode(std::move(root), nullptr, "");
}

MemFs::~MemFs() = default;

size_t MemFs::stored_inodes() const {
  std::lock_guard lock(state_->mu);
  return state_->inodes;
}

Result<NodeRef> MemFs::Walk(const NodeRef& dir, std::string_view name) {
  if (!dir->is_dir()) return Unexpected(Errno::kENOTDIR);
  if (name == "..") return WalkDotDot(dir);
  if (auto ok = ValidName(name); !ok) return Unexpected(ok.error());
  std::lock_guard lock(state_->mu);
  const Inode& d = *Of(dir);
  if (d.generated) {
    uint64_t index;
    if (!GeneratedIndex(*d.generated, name, &index)) return Unexpected(Errno::kENOENT);
    return MakeNode(GeneratedFile(*d.generated, d, index), dir, std::string(name));
  }
  auto it = d.children.find(name);
  if (it == d.children.end()) return Unexpected(Errno::kENOENT);
  return MakeNode(it->second.inode, dir, std::string(name));
}

Result<struct stat> MemFs::Stat(const NodeRef& node) {
  std::lock_guard lock(state_->mu);
  return StatOf(*Of(node));
}

Result<StatfsResult> MemFs::Statfs(const NodeRef& node) {
  std::lock_guard lock(state_->mu);
  const auto& o = state_->options;
  StatfsResult r{};
  r.type = 0x01021994;  // TMPFS_MAGIC: an in-memory filesystem
  r.bsize = 4096;
  r.blocks = o.max_data_bytes / 4096;
  r.bfree = r.bavail = (o.max_data_bytes - state_->data_bytes) / 4096;
  r.files = o.max_inodes;
  r.ffree = o.max_inodes - std::min(o.max_inodes, state_->inodes);
  r.fsid = Of(node)->dev;
  r.namelen = 255;
  return r;
}

Result<std::unique_ptr<OpenFile>> MemFs::OpenNode(const NodeRef& node, uint32_t flags) {
  std::lock_guard lock(state_->mu);
  const InodeRef& inode = Of(node);
  const mode_t type = inode->mode & S_IFMT;
  const bool writes = (flags & kOpenAccmode) != kOpenRdonly;
  if (type == S_IFLNK) return Unexpected(Errno::kELOOP);
  if (type == S_IFCHR || type == S_IFBLK) return Unexpected(Errno::kEACCES);  // nodev, as HostFs
  if (type == S_IFIFO || type == S_IFSOCK) return Unexpected(Errno::kEOPNOTSUPP);
  if ((flags & kOpenDirectory) && type != S_IFDIR) return Unexpected(Errno::kENOTDIR);
  if (type == S_IFDIR && writes) return Unexpected(Errno::kEISDIR);
  if ((writes || (flags & kOpenTrunc)) && inode->read_only) return Unexpected(Errno::kEROFS);
  if ((flags & kOpenTrunc) && writes && !inode->data.empty()) {
    state_->data_bytes -= inode->data.size();
    inode->data.clear();
    state_->Changed(*inode);
  }
  return std::unique_ptr<OpenFile>(std::make_unique<MemOpenFile>(state_, inode, flags));
}

namespace {
// Adds a new entry `name` -> inode to dir (the caller checked it is absent).
void AddEntry(Inode& dir, std::string_view name, const InodeRef& inode, const std::shared_ptr<Inode>& dir_ref) {
  dir.children.emplace(std::string(name), Inode::Entry{dir.next_cookie, inode});
  dir.by_cookie.emplace(dir.next_cookie++, std::string(name));
  if (inode->is_dir()) {
    ++dir.nlink;
    inode->parent = dir_ref;
  }
}
void RemoveEntry(Inode& dir, std::map<std::string, Inode::Entry, std::less<>>::iterator it) {
  if (it->second.inode->is_dir()) --dir.nlink;
  dir.by_cookie.erase(it->second.cookie);
  dir.children.erase(it);
}
}  // namespace

Result<std::pair<NodeRef, std::unique_ptr<OpenFile>>> MemFs::Create(const NodeRef& dir, std::string_view name,
                                                                    uint32_t flags, uint32_t mode, uint32_t gid) {
  if (auto ok = DirAndName(dir, name); !ok) return Unexpected(ok.error());
  NodeRef node;
  {
    std::lock_guard lock(state_->mu);
    const InodeRef& d = Of(dir);
    if (d->read_only) return Unexpected(Errno::kEROFS);
    auto it = d->children.find(name);
    if (it != d->children.end()) {
      if (flags & kOpenExcl) return Unexpected(Errno::kEEXIST);
      if (it->second.inode->is_dir()) return Unexpected(Errno::kEISDIR);
      node = MakeNode(it->second.inode, dir, std::string(name));
    } else {
      auto inode = state_->NewInode(d->dev, S_IFREG | (mode & 07777), gid);
      if (!inode) return Unexpected(inode.error());
      AddEntry(*d, name, *inode, d);
      state_->Changed(*d);
      node = MakeNode(std::move(*inode), dir, std::string(name));
    }
  }
  // An existing file is opened by the rules of OpenNode (a symlink: ELOOP, never followed).
  auto file = OpenNode(node, flags & ~(kOpenCreate | kOpenExcl | kOpenDirectory));
  if (!file) return Unexpected(file.error());
  return std::make_pair(std::move(node), std::move(*file));
}

namespace {
// The shared part of Tmkdir/Tsymlink/Tmknod: a new inode of `mode` named `name` in dir.
template <class Fill>
Result<NodeRef> MakeEntry(MemFs::State& state, const NodeRef& dir, std::string_view name, mode_t mode, uint32_t gid,
                          Fill&& fill) {
  if (auto ok = DirAndName(dir, name); !ok) return Unexpected(ok.error());
  std::lock_guard lock(state.mu);
  const InodeRef& d = Of(dir);
  if (d->read_only) return Unexpected(Errno::kEROFS);
  if (d->children.count(name)) return Unexpected(Errno::kEEXIST);
  auto inode = state.NewInode(d->dev, mode, gid);
  if (!inode) return Unexpected(inode.error());
  fill(**inode);
  AddEntry(*d, name, *inode, d);
  state.Changed(*d);
  return MakeNode(std::move(*inode), dir, std::string(name));
}
}  // namespace

Result<NodeRef> MemFs::Mkdir(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t gid) {
  return MakeEntry(*state_, dir, name, S_IFDIR | (mode & 07777), gid, [](Inode&) {});
}

Result<NodeRef> MemFs::Symlink(const NodeRef& dir, std::string_view name, std::string_view target, uint32_t gid) {
  // The target is stored, never resolved: any text except NUL, at most PATH_MAX.
  if (target.empty() || target.find('\0') != std::string_view::npos) return Unexpected(Errno::kEINVAL);
  if (target.size() >= 4096) return Unexpected(Errno::kENAMETOOLONG);
  return MakeEntry(*state_, dir, name, S_IFLNK | 0777, gid,
                   [&](Inode& i) { i.data.assign(target.begin(), target.end()); });
}

Result<NodeRef> MemFs::Mknod(const NodeRef& dir, std::string_view name, uint32_t mode, uint32_t major, uint32_t minor,
                             uint32_t gid) {
  const mode_t type = mode & S_IFMT;
  // mknod(2): "EINVAL mode requested creation of something other than a regular file, device
  // special file, FIFO or socket."
  if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK && type != 0) {
    return Unexpected(Errno::kEINVAL);
  }
  const mode_t full = (type == 0 ? S_IFREG : type) | (mode & 07777);
  return MakeEntry(*state_, dir, name, full, gid, [&](Inode& i) {
    if (type == S_IFCHR || type == S_IFBLK) i.rdev = makedev(major, minor);
  });
}

Result<void> MemFs::Link(const NodeRef& dir, const NodeRef& target, std::string_view name) {
  if (auto ok = DirAndName(dir, name); !ok) return ok;
  if (target->is_dir()) return Unexpected(Errno::kEPERM);  // link(2): "oldpath is a directory"
  std::lock_guard lock(state_->mu);
  const InodeRef& d = Of(dir);
  const InodeRef& t = Of(target);
  if (d->read_only) return Unexpected(Errno::kEROFS);
  if (d->dev != t->dev) return Unexpected(Errno::kEXDEV);
  if (t->nlink == 0) return Unexpected(Errno::kENOENT);  // linkat(2) of an unlinked file
  if (d->children.count(name)) return Unexpected(Errno::kEEXIST);
  AddEntry(*d, name, t, d);
  ++t->nlink;
  t->ctime = state_->Now();
  state_->Changed(*d);
  return {};
}

Result<std::string> MemFs::Readlink(const NodeRef& node) {
  if (!node->is_symlink()) return Unexpected(Errno::kEINVAL);
  std::lock_guard lock(state_->mu);
  const auto& d = Of(node)->data;
  return std::string(d.begin(), d.end());
}

namespace {

// rename(2) on two directories' entries, under the state's mutex. `expect`, when set, is the
// inode the old name must still name (Trename of a fid).
Result<void> RenameLocked(MemFs::State& state, const InodeRef& od, std::string_view old_name, const InodeRef& nd,
                          std::string_view new_name, const Inode* expect) {
  if (od->read_only || nd->read_only) return Unexpected(Errno::kEROFS);
  auto from = od->children.find(old_name);
  if (from == od->children.end()) return Unexpected(Errno::kENOENT);
  const InodeRef moving = from->second.inode;
  if (expect && moving.get() != expect) return Unexpected(Errno::kESTALE);
  // A mount point is busy (rename(2): EBUSY "oldpath or newpath is a directory that is in use
  // by ... the system (for example as a mount point)").
  if (moving->dev != od->dev) return Unexpected(Errno::kEBUSY);
  if (od->dev != nd->dev) return Unexpected(Errno::kEXDEV);
  // rename(2): "EINVAL The new pathname contained a path prefix of the old" -- a directory
  // cannot move below itself.
  if (moving->is_dir()) {
    for (InodeRef p = nd; p; p = p->parent.lock()) {
      if (p == moving) return Unexpected(Errno::kEINVAL);
    }
  }
  auto to = nd->children.find(new_name);
  if (to != nd->children.end()) {
    const InodeRef& replaced = to->second.inode;
    if (replaced == moving) return {};  // "oldpath and newpath are existing hard links to the same file"
    if (moving->is_dir() && !replaced->is_dir()) return Unexpected(Errno::kENOTDIR);
    if (!moving->is_dir() && replaced->is_dir()) return Unexpected(Errno::kEISDIR);
    if (replaced->is_dir() && !replaced->children.empty()) return Unexpected(Errno::kENOTEMPTY);
    if (replaced->dev != nd->dev) return Unexpected(Errno::kEBUSY);  // a mount point
    replaced->nlink = replaced->is_dir() ? 0 : replaced->nlink - 1;
    if (replaced->nlink == 0) {
      --state.inodes;
      state.data_bytes -= replaced->data.size();  // as unlink(2) of its last name
    }
    RemoveEntry(*nd, to);
  }
  from = od->children.find(old_name);
  RemoveEntry(*od, from);
  AddEntry(*nd, new_name, moving, nd);
  moving->ctime = state.Now();
  state.Changed(*od);
  state.Changed(*nd);
  return {};
}

}  // namespace

Result<void> MemFs::Rename(const NodeRef& node, const NodeRef& new_dir, std::string_view new_name) {
  if (node->is_root()) return Unexpected(Errno::kEBUSY);
  if (auto ok = DirAndName(new_dir, new_name); !ok) return ok;
  const NodeRef parent = node->parent();
  const std::string old_name = node->name();
  {
    std::lock_guard lock(state_->mu);
    if (auto r = RenameLocked(*state_, Of(parent), old_name, Of(new_dir), new_name, Of(node).get()); !r) return r;
  }
  node->Moved(new_dir, std::string(new_name));
  return {};
}

Result<void> MemFs::Renameat(const NodeRef& old_dir, std::string_view old_name, const NodeRef& new_dir,
                             std::string_view new_name) {
  if (auto ok = DirAndName(old_dir, old_name); !ok) return ok;
  if (auto ok = DirAndName(new_dir, new_name); !ok) return ok;
  std::lock_guard lock(state_->mu);
  return RenameLocked(*state_, Of(old_dir), old_name, Of(new_dir), new_name, nullptr);
}

namespace {
Result<void> UnlinkLocked(MemFs::State& state, Inode& d, std::string_view name, bool rmdir, const Inode* expect) {
  if (d.read_only) return Unexpected(Errno::kEROFS);
  auto it = d.children.find(name);
  if (it == d.children.end()) return Unexpected(Errno::kENOENT);
  Inode& victim = *it->second.inode;
  if (expect && &victim != expect) return Unexpected(Errno::kESTALE);
  if (rmdir) {
    if (!victim.is_dir()) return Unexpected(Errno::kENOTDIR);
    if (!victim.children.empty() || victim.generated) return Unexpected(Errno::kENOTEMPTY);
    // A mount point is busy (rmdir(2): EBUSY "pathname is currently in use ... as a mount point").
    if (victim.dev != d.dev) return Unexpected(Errno::kEBUSY);
    victim.nlink = 0;
  } else {
    if (victim.is_dir()) return Unexpected(Errno::kEISDIR);  // unlink(2) on Linux
    --victim.nlink;
  }
  if (victim.nlink == 0) {
    --state.inodes;
    state.data_bytes -= victim.data.size();
    victim.ctime = state.Now();
  }
  RemoveEntry(d, it);
  state.Changed(d);
  return {};
}
}  // namespace

Result<void> MemFs::Unlinkat(const NodeRef& dir, std::string_view name, uint32_t flags) {
  if (auto ok = DirAndName(dir, name); !ok) return ok;
  if (flags != 0 && flags != kAtRemovedir) return Unexpected(Errno::kEINVAL);
  std::lock_guard lock(state_->mu);
  return UnlinkLocked(*state_, *Of(dir), name, flags == kAtRemovedir, nullptr);
}

Result<void> MemFs::Remove(const NodeRef& node) {
  if (node->is_root()) return Unexpected(Errno::kEBUSY);
  const NodeRef parent = node->parent();
  const std::string name = node->name();
  std::lock_guard lock(state_->mu);
  return UnlinkLocked(*state_, *Of(parent), name, node->is_dir(), Of(node).get());
}

namespace {
Result<timespec> SetTime(MemFs::State& state, uint32_t valid, uint32_t bit, uint32_t set_bit, uint64_t sec,
                         uint64_t nsec, timespec keep) {
  if ((valid & bit) == 0) return keep;
  if ((valid & set_bit) == 0) return state.Now();
  if (nsec >= 1'000'000'000u) return Unexpected(Errno::kEINVAL);
  return timespec{static_cast<time_t>(sec), static_cast<long>(nsec)};
}
}  // namespace

Result<void> MemFs::Setattr(const NodeRef& node, const SetattrArgs& a) {
  std::lock_guard lock(state_->mu);
  Inode& i = *Of(node);
  const bool link = S_ISLNK(i.mode);
  if (i.read_only && (a.valid & (kSetattrMode | kSetattrUid | kSetattrGid | kSetattrSize | kSetattrAtime |
                                 kSetattrMtime | kSetattrCtime))) {
    return Unexpected(Errno::kEROFS);
  }
  if (link && (a.valid & kSetattrMode)) return Unexpected(Errno::kEOPNOTSUPP);
  if (a.valid & kSetattrSize) {
    if (i.is_dir()) return Unexpected(Errno::kEISDIR);
    if (!S_ISREG(i.mode)) return Unexpected(Errno::kEINVAL);
    if (a.size > state_->options.max_file_bytes) return Unexpected(Errno::kEFBIG);
    if (a.size > i.data.size() && state_->data_bytes + (a.size - i.data.size()) > state_->options.max_data_bytes) {
      return Unexpected(Errno::kENOSPC);
    }
  }
  auto atime = SetTime(*state_, a.valid, kSetattrAtime, kSetattrAtimeSet, a.atime_sec, a.atime_nsec, i.atime);
  if (!atime) return Unexpected(atime.error());
  auto mtime = SetTime(*state_, a.valid, kSetattrMtime, kSetattrMtimeSet, a.mtime_sec, a.mtime_nsec, i.mtime);
  if (!mtime) return Unexpected(mtime.error());
  if (a.valid & kSetattrUid) i.uid = a.uid;
  if (a.valid & kSetattrGid) i.gid = a.gid;
  if ((a.valid & (kSetattrUid | kSetattrGid)) && !i.is_dir()) i.mode &= ~(S_ISUID | S_ISGID);  // chown(2)
  if (a.valid & kSetattrMode) i.mode = (i.mode & S_IFMT) | (a.mode & 07777);
  if (a.valid & kSetattrSize) {
    state_->data_bytes = state_->data_bytes - i.data.size() + a.size;
    i.data.resize(a.size);
    i.mtime = state_->Now();  // truncate(2) updates mtime; a given mtime below wins
  }
  i.atime = *atime;
  if (a.valid & kSetattrMtime) i.mtime = *mtime;
  if (a.valid) i.ctime = state_->Now();
  return {};
}

Result<std::vector<uint8_t>> MemFs::GetXattr(const NodeRef& node, std::string_view name) {
  std::lock_guard lock(state_->mu);
  const Inode& i = *Of(node);
  if (name.empty()) {
    std::vector<uint8_t> list;
    for (const auto& [n, v] : i.xattrs) {
      list.insert(list.end(), n.begin(), n.end());
      list.push_back(0);
    }
    return list;
  }
  auto it = i.xattrs.find(name);
  if (it == i.xattrs.end()) return Unexpected(Errno::kENODATA);
  return it->second;
}

Result<void> MemFs::SetXattr(const NodeRef& node, const std::string& name, const std::vector<uint8_t>& value,
                             uint32_t flags, bool remove) {
  if ((flags & ~(kXattrCreate | kXattrReplace)) != 0) return Unexpected(Errno::kEINVAL);
  if (name.empty() || name.find('\0') != std::string::npos) return Unexpected(Errno::kEINVAL);
  if (name.size() > 255) return Unexpected(Errno::kERANGE);  // setxattr(2): name too long
  std::lock_guard lock(state_->mu);
  Inode& i = *Of(node);
  if (i.read_only) return Unexpected(Errno::kEROFS);
  auto it = i.xattrs.find(name);
  if (remove) {
    if (it == i.xattrs.end()) return Unexpected(Errno::kENODATA);
    i.xattr_bytes -= it->first.size() + it->second.size();
    i.xattrs.erase(it);
  } else {
    if ((flags & kXattrCreate) && it != i.xattrs.end()) return Unexpected(Errno::kEEXIST);
    if ((flags & kXattrReplace) && it == i.xattrs.end()) return Unexpected(Errno::kENODATA);
    const uint64_t old = it == i.xattrs.end() ? 0 : name.size() + it->second.size();
    if (i.xattr_bytes - old + name.size() + value.size() > state_->options.max_xattr_bytes_per_file) {
      return Unexpected(Errno::kENOSPC);
    }
    i.xattr_bytes = i.xattr_bytes - old + name.size() + value.size();
    i.xattrs[name] = value;
  }
  i.ctime = state_->Now();
  return {};
}

Result<void> MemFs::ReadDirPlus(const NodeRef& dir, OpenFile& open, uint64_t offset, EmitEntry emit) {
  const InodeRef& d = static_cast<MemOpenFile&>(open).inode();
  if (!d->is_dir()) return Unexpected(Errno::kENOTDIR);
  std::lock_guard lock(state_->mu);
  // "." (cookie 1) and ".." (cookie 2) first: the directory and the node it was walked from.
  if (offset < 1) {
    const struct stat st = StatOf(*d);
    if (!emit(DirEntryPlus::FromStat(".", 1, st))) return {};
  }
  if (offset < 2) {
    const NodeRef up = WalkDotDot(dir);
    const struct stat st = StatOf(*Of(up ? up : dir));
    if (!emit(DirEntryPlus::FromStat("..", 2, st))) return {};
  }
  if (d->generated) {
    const auto& g = *d->generated;
    char name[24];
    for (uint64_t i = offset >= 3 ? offset - 2 : 0; i < g.count; ++i) {
      name[0] = 'f';
      auto [end, ec] = std::to_chars(name + 1, name + sizeof name, i);
      const struct stat st = StatOf(*GeneratedFile(g, *d, i));
      if (!emit(DirEntryPlus::FromStat(std::string_view(name, static_cast<size_t>(end - name)), i + 3, st))) return {};
    }
    return {};
  }
  for (auto it = d->by_cookie.upper_bound(std::max<uint64_t>(offset, 2)); it != d->by_cookie.end(); ++it) {
    const auto& entry = d->children.find(it->second)->second;
    const struct stat st = StatOf(*entry.inode);
    if (!emit(DirEntryPlus::FromStat(it->second, it->first, st))) return {};
  }
  return {};
}

Result<std::vector<uint8_t>> MemFs::ReadFileForTest(std::string_view path) {
  std::lock_guard lock(state_->mu);
  InodeRef at = Of(root_);
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view name = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (name.empty()) continue;
    auto it = at->children.find(name);
    if (it == at->children.end()) return Unexpected(Errno::kENOENT);
    at = it->second.inode;
  }
  if (at->is_dir()) return Unexpected(Errno::kEISDIR);
  return at->data;
}

}  // namespace p9x::server
