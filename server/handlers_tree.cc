// SPDX-License-Identifier: MIT
// Handlers of the directory tree: Treaddir, creation (Tmkdir, Tsymlink, Tmknod, Tlink), Trename,
// Trenameat, removal (Tunlinkat, Tremove) and Treadlink.
#include "server/handlers.h"

#include <sys/stat.h>

#include <algorithm>

#include "codec/dirent.h"

namespace p9x::server {

namespace {

uint8_t DirentType(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return kDtDir;
    case S_IFREG:
      return kDtReg;
    case S_IFLNK:
      return kDtLnk;
    case S_IFCHR:
      return kDtChr;
    case S_IFBLK:
      return kDtBlk;
    case S_IFIFO:
      return kDtFifo;
    case S_IFSOCK:
      return kDtSock;
    default:
      return kDtUnknown;
  }
}

}  // namespace

Reply Connection::Handle(const Treaddir& m, const Request& req) {
  P9X_FID(f, m.fid);
  // Held for the whole call: the directory's read position is per fid; its Treaddirs run one at a time.
  std::lock_guard lock(f->mu);
  if (!f->open || !f->node->is_dir()) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  const uint32_t count = std::min(m.count, req.wire.msize - kRreadHeaderSize);
  std::vector<uint8_t> out(kRreadHeaderSize + count);
  DirentWriter writer(std::span<uint8_t>(out).subspan(kRreadHeaderSize), req.wire.dialect);
  Errno failure = Errno::kOk;
  bool any = false, full = false;
  auto done = s_.fs->ReadDirPlus(f->node, *f->open, m.offset, [&](const DirEntryPlus& e) -> bool {
    // qid.version is 0 in a directory entry, as in QEMU's and diod's: the entry's identity is
    // its path (the Linux client takes only the path, as d_ino), and the version would need a
    // stat of every entry (spec/9p2000.L.md §8.16).
    auto q = s_.MakeQid(e.dev, e.ino, e.type, 0, req.wire.dialect);
    if (!q) {
      // spec/qid-map.md §5.2: under forbid (ENODEV) the entry is not offered. Any other failure
      // ends the reply before the entry, and fails the request if it is the first entry, so the
      // client never skips an entry silently: its next Treaddir starts at this one again.
      if (q.error() == Errno::kENODEV) return true;
      failure = q.error();
      return false;
    }
    if (!writer.Add(Dirent{*q, e.next_offset, DirentType(e.type), e.name})) {
      full = true;
      return false;
    }
    any = true;
    return true;
  });
  if (!done) return Unexpected(done.error());
  if (!any && failure != Errno::kOk) return Unexpected(failure);
  if (!any && full) return Unexpected(Errno::kEINVAL);  // count too small for one entry
  const uint32_t n = static_cast<uint32_t>(writer.size());
  out.resize(kRreadHeaderSize + n);
  if (out.capacity() - out.size() > kMaxUnusedReplyBytes) out.shrink_to_fit();
  EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize>(out.data(), kRreadHeaderSize), MsgType::kRreaddir,
                           req.tag, n);
  return out;
}

Reply Connection::Handle(const Tmkdir& m, const Request& req) {
  P9X_FID(d, m.dfid);
  P9X_ACT_AS(d);
  auto node = s_.fs->Mkdir(d->Node(), m.name, m.mode, m.gid);
  if (!node) return Unexpected(node.error());
  auto q = QidOf(*node, req.wire.dialect);
  if (!q) return UndoCreate(*node, q.error(), true);  // spec/qid-map.md §5.1
  return Make(req, Rmkdir{*q});
}

Reply Connection::Handle(const Tsymlink& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  auto node = s_.fs->Symlink(f->Node(), m.name, m.symtgt, m.gid);
  if (!node) return Unexpected(node.error());
  auto q = QidOf(*node, req.wire.dialect);
  if (!q) return UndoCreate(*node, q.error(), true);  // spec/qid-map.md §5.1
  return Make(req, Rsymlink{*q});
}

Reply Connection::Handle(const Tmknod& m, const Request& req) {
  P9X_FID(f, m.dfid);
  P9X_ACT_AS(f);
  auto node = s_.fs->Mknod(f->Node(), m.name, m.mode, m.major, m.minor, m.gid);
  if (!node) return Unexpected(node.error());
  auto q = QidOf(*node, req.wire.dialect);
  if (!q) return UndoCreate(*node, q.error(), true);  // spec/qid-map.md §5.1
  return Make(req, Rmknod{*q});
}

Reply Connection::Handle(const Tlink& m, const Request& req) {
  P9X_FID(d, m.dfid);
  P9X_FID(f, m.fid);
  P9X_ACT_AS_BOTH(d, f);
  if (auto r = s_.fs->Link(d->Node(), f->Node(), m.name); !r) return Unexpected(r.error());
  return Make(req, Rlink{});
}

Reply Connection::Handle(const Trename& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_FID(d, m.dfid);
  P9X_ACT_AS_BOTH(f, d);
  if (auto r = s_.fs->Rename(f->Node(), d->Node(), m.name); !r) return Unexpected(r.error());
  return Make(req, Rrename{});
}

Reply Connection::Handle(const Trenameat& m, const Request& req) {
  P9X_FID(od, m.olddirfid);
  P9X_FID(nd, m.newdirfid);
  P9X_ACT_AS_BOTH(od, nd);
  if (auto r = s_.fs->Renameat(od->Node(), m.oldname, nd->Node(), m.newname); !r) return Unexpected(r.error());
  return Make(req, Rrenameat{});
}

Reply Connection::Handle(const Tunlinkat& m, const Request& req) {
  P9X_FID(d, m.dirfd);
  P9X_ACT_AS(d);
  if (auto r = s_.fs->Unlinkat(d->Node(), m.name, m.flags); !r) return Unexpected(r.error());
  return Make(req, Runlinkat{});
}

Reply Connection::Handle(const Tremove& m, const Request& req) {
  // remove(5): "the fid is clunked even if the remove fails".
  FidRef f = TakeFid(m.fid, req.generation);
  if (!f) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (auto removed = s_.fs->Remove(f->Node()); !removed) return Unexpected(removed.error());
  return Make(req, Rremove{});
}

Reply Connection::Handle(const Treadlink& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  auto target = s_.fs->Readlink(f->Node());
  if (!target) return Unexpected(target.error());
  return Make(req, Rreadlink{*target});
}

}  // namespace p9x::server
