// SPDX-License-Identifier: MIT
// Handlers of metadata: Tgetattr, Tsetattr, Tstatfs, extended attributes (Txattrwalk,
// Txattrcreate) and POSIX byte-range locks (Tlock, Tgetlock).
#include "server/handlers.h"

#include <sys/stat.h>

#include <string>

namespace p9x::server {

Reply Connection::Handle(const Tgetattr& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  struct stat st;
  auto q = QidOf(f->Node(), req.wire.dialect, &st);
  if (!q) return Unexpected(q.error());
  Rgetattr r;
  r.valid = kGetattrBasic;
  r.qid = *q;
  r.mode = st.st_mode;
  r.uid = st.st_uid;
  r.gid = st.st_gid;
  r.nlink = st.st_nlink;
  r.rdev = st.st_rdev;
  r.size = static_cast<uint64_t>(st.st_size);
  r.blksize = static_cast<uint64_t>(st.st_blksize);
  r.blocks = static_cast<uint64_t>(st.st_blocks);
  r.atime_sec = static_cast<uint64_t>(st.st_atim.tv_sec);
  r.atime_nsec = static_cast<uint64_t>(st.st_atim.tv_nsec);
  r.mtime_sec = static_cast<uint64_t>(st.st_mtim.tv_sec);
  r.mtime_nsec = static_cast<uint64_t>(st.st_mtim.tv_nsec);
  r.ctime_sec = static_cast<uint64_t>(st.st_ctim.tv_sec);
  r.ctime_nsec = static_cast<uint64_t>(st.st_ctim.tv_nsec);
  return Make(req, r);
}

Reply Connection::Handle(const Tsetattr& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  Backend::SetattrArgs args{m.valid,     m.mode,       m.uid,       m.gid,       m.size,
                            m.atime_sec, m.atime_nsec, m.mtime_sec, m.mtime_nsec};
  if (auto r = s_.fs->Setattr(f->Node(), args); !r) return Unexpected(r.error());
  return Make(req, Rsetattr{});
}

Reply Connection::Handle(const Tstatfs& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  auto st = s_.fs->Statfs(f->Node());
  if (!st) return Unexpected(st.error());
  // spec/qid-map.md §6: the fsid is derived per export from the filesystem's identity, as path_hi
  // is; the host's f_fsid (from the UUID or the block device) never goes on the wire.
  auto node_st = s_.fs->Stat(f->Node());
  if (!node_st) return Unexpected(node_st.error());
  auto fsid = s_.qids->FilesystemId(static_cast<uint64_t>(node_st->st_dev));
  if (!fsid) return Unexpected(fsid.error());
  return Make(
      req, Rstatfs{st->type, st->bsize, st->blocks, st->bfree, st->bavail, st->files, st->ffree, *fsid, st->namelen});
}

Reply Connection::Handle(const Txattrwalk& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  const NodeRef node = f->Node();
  auto value = s_.fs->GetXattr(node, m.name);
  if (!value) return Unexpected(value.error());
  auto x = std::make_shared<Fid>();
  x->node = node;
  x->user = f->user;
  x->kind = Fid::Kind::kXattrRead;
  x->xattr = std::move(*value);
  const uint64_t size = x->xattr.size();
  if (auto put = PutFid(m.newfid, std::move(x), req.generation); !put) return Unexpected(put.error());
  return Make(req, Rxattrwalk{size});
}

Reply Connection::Handle(const Txattrcreate& m, const Request& req) {
  P9X_FID(f, m.fid);
  // Held for the whole call: the kind and the xattr state change together, after the kind check.
  std::lock_guard lock(f->mu);
  // QEMU and Linux turn any fid (open or not) into the attribute-writing fid.
  if (f->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
  if (m.name.empty() || (m.flags & ~(kXattrCreate | kXattrReplace)) != 0) return Unexpected(Errno::kEINVAL);
  if (m.attr_size > 65536) return Unexpected(Errno::kE2BIG);  // Linux XATTR_SIZE_MAX
  // No host action here (so no credential switch): Tclunk sets the value, as the fid's user.
  f->kind = Fid::Kind::kXattrWrite;
  f->xattr_name = std::string(m.name);
  f->xattr_size = m.attr_size;
  f->xattr_flags = m.flags;
  f->xattr.clear();
  return Make(req, Rxattrcreate{});
}

Reply Connection::Handle(const Tlock& m, const Request& req) {
  P9X_FID(f, m.fid);
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (m.type > kLockTypeUnlck || (m.flags & ~(kLockFlagsBlock | kLockFlagsReclaim)) != 0) {
    return Unexpected(Errno::kEINVAL);
  }
  // Each fid's open file is one lock owner, as each open file is for the Linux client. A lock
  // that would block is answered BLOCKED at once (the Linux client retries), so no request ever
  // waits on a lock inside the server.
  auto set = open->SetLock(ByteRangeLock{m.type, m.start, m.length, m.proc_id});
  if (!set) return Unexpected(set.error());
  if (!*set) return Make(req, Rlock{kLockBlocked});
  return Make(req, Rlock{kLockSuccess});
}

Reply Connection::Handle(const Tgetlock& m, const Request& req) {
  P9X_FID(f, m.fid);
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (m.type > kLockTypeWrlck) return Unexpected(Errno::kEINVAL);
  auto held = open->TestLock(ByteRangeLock{m.type, m.start, m.length, m.proc_id});
  if (!held) return Unexpected(held.error());
  if (held->type == kLockTypeUnlck) {
    return Make(req, Rgetlock{kLockTypeUnlck, m.start, m.length, m.proc_id, m.client_id});
  }
  return Make(req, Rgetlock{held->type, held->start, held->length, held->proc_id, m.client_id});
}

}  // namespace p9x::server
