// SPDX-License-Identifier: MIT
// One connection's fids: the state a fid names (Fid) and the session's table of them (FidTable),
// with the session generation that keeps a request of an ended session out of the next one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/result.h"
#include "server/backend.h"
#include "server/credentials.h"

namespace p9x::server {

struct Fid {
  // Guards node, open and kind (Tlopen, Tlcreate and Txattrcreate change them while other
  // requests on the same fid may run on other threads), the xattr state and the readdir
  // position. Handlers that do not hold it read node/open/kind through the snapshots below; the
  // OpenFile is shared so that a snapshot keeps it alive for the whole request.
  // Lock order: taken before the backend's and the qid map's own locks (a handler holding it
  // calls the backend); never taken while Connection::out_mu_ or FidTable::mu_ is held, and no
  // other Fid::mu is taken while it is held.
  std::mutex mu;
  NodeRef node;
  std::shared_ptr<OpenFile> open;
  enum class Kind : uint8_t { kNode, kXattrRead, kXattrWrite } kind = Kind::kNode;

  NodeRef Node() {
    std::lock_guard lock(mu);
    return node;
  }
  // The open file of a plain node fid, or null (not open, or an xattr fid).
  std::shared_ptr<OpenFile> OpenNode() {
    std::lock_guard lock(mu);
    return kind == Kind::kNode ? open : nullptr;
  }
  Kind GetKind() {
    std::lock_guard lock(mu);
    return kind;
  }
  std::vector<uint8_t> xattr;  // kXattrRead: the value; kXattrWrite: bytes written so far
  std::string xattr_name;
  uint64_t xattr_size = 0;
  uint32_t xattr_flags = 0;
  // Whose requests these are: set by Tattach, inherited by every fid walked or made from it.
  CredentialsRef user;
};
using FidRef = std::shared_ptr<Fid>;

// The table belongs to one session. Its generation is the session's: every request carries the
// generation it arrived in (Request::generation), and NewSession (each Tversion, and the end of
// the connection) moves it on. A worker still running a request of a session that a Tversion
// ended finds no fid and can add or take none (version(5): "all active fids are freed"; without
// this, an old Txattrwalk could add its newfid to the new session, or an old Tremove take a new
// fid of the same number), and its reply is dropped (Connection::CompleteLocked compares the
// same generation).
class FidTable {
 public:
  explicit FidTable(uint32_t max_fids) : max_fids_(max_fids) {}

  // The current session's generation. Only the connection thread moves it (NewSession), so there
  // it is exact; another thread sees either the old or the new value (see CompleteLocked).
  uint64_t generation() const { return generation_.load(); }
  using Fids = std::unordered_map<uint32_t, FidRef>;
  // Starts the next session and hands back every fid of the ended one, for the caller to drop
  // where it may wait: dropping the last reference to an open file closes it, and a close is a
  // request to the filesystem (FUSE FLUSH, an NFS write-back).
  [[nodiscard]] Fids NewSession();

  // The fid, or null when it is not in the table or `generation` is not the current session's.
  FidRef Get(uint32_t fid, uint64_t generation);
  bool Has(uint32_t fid);  // on the connection thread: the current session
  // EBADF for a request of an ended session, EMFILE at max_fids.
  Result<void> Put(uint32_t fid, FidRef f, uint64_t generation);
  // Removes the fid and returns it (null as Get).
  FidRef Take(uint32_t fid, uint64_t generation);

 private:
  // Guards fids_ and the writes of generation_. A leaf lock: nothing else is locked while it is
  // held.
  std::mutex mu_;
  Fids fids_;
  // Written only under mu_, by NewSession; read under mu_ by the table and without it by
  // generation().
  std::atomic<uint64_t> generation_{0};
  const uint32_t max_fids_;
};

}  // namespace p9x::server
