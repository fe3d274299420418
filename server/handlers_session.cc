// SPDX-License-Identifier: MIT
// Handlers of the session: Tattach (the attach point, walked as the attaching user) and Twalk,
// and the qid of a node, which every handler that answers with a qid uses.
#include "server/handlers.h"

#include <string>
#include <string_view>

namespace p9x::server {

Result<Qid> Connection::QidOf(const NodeRef& node, Dialect d, struct stat* st_out) {
  auto st = s_.fs->Stat(node);
  if (!st) return Unexpected(st.error());
  if (st_out) *st_out = *st;
  return s_.MakeQid(*st, d);
}

Reply Connection::Handle(const Tattach& m, const Request& req) {
  if (m.afid != kNoFid) return Unexpected(Errno::kEINVAL);  // no authentication is configured
  auto f = std::make_shared<Fid>();
  auto user = AttachingUser(m);
  if (!user) return Unexpected(user.error());
  f->user = std::move(*user);
  // The walk to the attach point is the user's own: a directory the user cannot search on the
  // host is not a root the user can attach to.
  P9X_ACT_AS(f);
  f->node = s_.fs->root();
  // aname selects the export root: "", "/", or the exported path itself (diod's convention);
  // otherwise a path below the export, walked one name at a time.
  std::string_view aname = m.aname;
  const std::string& exported = s_.options.export_path;
  if (aname == exported) aname = "";
  while (!aname.empty()) {
    size_t slash = aname.find('/');
    std::string_view name = aname.substr(0, slash);
    aname = slash == std::string_view::npos ? std::string_view() : aname.substr(slash + 1);
    if (name.empty()) continue;
    if (name == "..") return Unexpected(Errno::kEACCES);
    auto next = s_.fs->Walk(f->node, name);
    if (!next) return Unexpected(next.error());
    f->node = *next;
  }
  if (!f->node->is_dir()) return Unexpected(Errno::kENOTDIR);
  auto q = QidOf(f->node, req.wire.dialect);
  if (!q) return Unexpected(q.error());
  if (auto put = PutFid(m.fid, f, req.generation); !put) return Unexpected(put.error());
  return Make(req, Rattach{*q});
}

Reply Connection::Handle(const Twalk& m, const Request& req) {
  P9X_FID(from, m.fid);
  NodeRef node;
  {
    std::lock_guard lock(from->mu);
    if (from->open || from->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
    node = from->node;
  }
  P9X_ACT_AS(from);
  Rwalk r;
  for (uint16_t i = 0; i < m.wnames.count; ++i) {
    std::string_view name = m.wnames.names[i];
    if (name.empty() || name == "." || name.find('/') != std::string_view::npos) {
      if (i == 0) return Unexpected(Errno::kEINVAL);
      break;
    }
    if (!node->is_dir()) {
      if (i == 0) return Unexpected(Errno::kENOTDIR);
      break;
    }
    auto next = s_.fs->Walk(node, name);
    if (!next) {
      // walk(5): "If the first element cannot be walked for any reason, Rerror is returned."
      if (i == 0) return Unexpected(next.error());
      break;
    }
    auto q = QidOf(*next, req.wire.dialect);
    if (!q) {
      if (i == 0) return Unexpected(q.error());
      break;
    }
    r.wqids.qids[r.wqids.count++] = *q;
    node = *next;
  }
  // walk(5): newfid is affected only if the whole walk succeeds.
  if (r.wqids.count == m.wnames.count) {
    auto f = std::make_shared<Fid>();
    f->node = node;
    f->user = from->user;
    if (auto put = PutFid(m.newfid, f, req.generation); !put) return Unexpected(put.error());
  }
  return Make(req, r);
}

}  // namespace p9x::server
