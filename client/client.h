// SPDX-License-Identifier: MIT
// The p9x client session: connect, negotiate the dialect, and make typed 9P2000.L calls.
//
//   client::Options options{.target = "tcp:127.0.0.1:564"};
//   auto client = client::Client::Connect(options);           // dials, runs the version ladder
//   if (!client) { puts(client.error().Describe().c_str()); }
//   auto root = (*client)->AttachRoot("alice", "/srv/export");  // a Fid: clunked when dropped
//   auto file = root->Walk("dir/file.txt");
//   auto opened = file->Open(kOpenRdonly);
//   auto bytes = file->ReadAll();                              // split to fit iounit/msize
//
// Three layers, each usable on its own:
//  - Connection (client/connection.h): frames, tags, raw send/receive, Tflush.
//  - Client: one typed call per T-message (Walk(fid, newfid, names) -> Reply<Rwalk>), plus
//    Start() for pipelining; a reply that is Rlerror (or nfs-ganesha's type-107 errno) becomes an
//    Error carrying the errno, decided in one place (ErrorFromReply).
//  - Fid: RAII handle with path-level operations (walk a path, read/write/readdir whole
//    files split to msize/iounit, mkdir, unlink...). A Fid clunks itself when dropped, so fids
//    never leak; after a Tversion (which frees every fid, version(5)) old handles know their fid
//    is gone and send nothing.
//
// Timeouts: every call waits at most Options::timeout; then the request is flushed (flush(5))
// and the call fails with kTimeout unless the reply beat the Rflush.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "client/connection.h"
#include "client/error.h"
#include "client/transport.h"
#include "codec/constants.h"
#include "codec/frame.h"
#include "codec/messages.h"
#include "negotiation/version.h"

namespace p9x::client {

// ReplyOf<T> (codec/messages.h): the reply message of request T.

// A decoded reply that owns the frame its views (strings, data, dirents) point into. Moving
// keeps the views valid (a moved vector keeps its buffer); copying is not allowed.
template <class M>
class Reply {
 public:
  Reply(RawFrame frame, const M& msg) : frame_(std::move(frame)), msg_(msg) {}
  Reply(Reply&&) noexcept = default;
  Reply& operator=(Reply&&) noexcept = default;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  const M& operator*() const { return msg_; }
  const M* operator->() const { return &msg_; }
  const M& msg() const { return msg_; }
  uint16_t tag() const { return frame_.tag(); }
  const RawFrame& frame() const { return frame_; }

 private:
  RawFrame frame_;
  M msg_;
};

// Decodes `frame` as R, or turns an error reply into its Error (ErrorFromReply).
template <class R>
Result<Reply<R>> DecodeReply(RawFrame frame, const WireContext& ctx) {
  if (frame.type() != static_cast<uint8_t>(R::kType)) return Unexpected(ErrorFromReply(frame.bytes, R::kName));
  R msg{};
  if (auto done = DecodeInto(frame.bytes, ctx, &msg); !done) return Unexpected(Error::Codec(done.error()));
  // msg's views point into frame.bytes, whose buffer moves with it into the Reply.
  return Reply<R>(std::move(frame), msg);
}

// A typed request in flight (Client::Start). Move-only; dropping it abandons the request.
template <class R>
class Pending {
 public:
  Pending(RawCall call, WireContext ctx, Timeout timeout) : call_(std::move(call)), ctx_(ctx), timeout_(timeout) {}
  uint16_t tag() const { return call_.tag(); }
  bool ready() const { return call_.ready(); }
  // Waits up to the client's timeout; on timeout flushes the request (see Client).
  Result<Reply<R>> Wait() {
    auto frame = call_.Wait(timeout_);
    if (!frame && frame.error().kind == Error::Kind::kTimeout) {
      auto flushed = call_.Flush(timeout_);
      if (!flushed) {
        if (flushed.error().kind == Error::Kind::kCancelled) return Unexpected(frame.error());
        return Unexpected(flushed.error());
      }
      return DecodeReply<R>(std::move(*flushed), ctx_);
    }
    if (!frame) return Unexpected(frame.error());
    return DecodeReply<R>(std::move(*frame), ctx_);
  }
  // Cancels now with Tflush: the reply if it came before the Rflush, else kCancelled.
  Result<Reply<R>> Flush() {
    auto frame = call_.Flush(timeout_);
    if (!frame) return Unexpected(frame.error());
    return DecodeReply<R>(std::move(*frame), ctx_);
  }
  RawCall& call() { return call_; }

 private:
  RawCall call_;
  WireContext ctx_;
  Timeout timeout_;
};

struct Options {
  std::string target;  // tcp:HOST:PORT, unix:PATH or exec:COMMAND (client/transport.h)
  negotiation::DialectChoice dialect = negotiation::DialectChoice::kAuto;
  uint32_t msize = kDefaultMsize;  // offered; the server may lower it
  Timeout timeout = std::chrono::seconds(30);  // per request (and per Tversion)
};

// What Tversion agreed, and how.
struct Negotiated {
  Dialect dialect = Dialect::kLegacy;
  uint32_t msize = 0;
  std::string version;                 // the Rversion string, e.g. "9P2000.L"
  negotiation::FeatureSet features;
  std::vector<std::string> history;    // the ladder: one line per offer and its answer
  int connections = 0;                 // connections opened (more than 1: the server hung up)
};

// Opens a fresh stream to the server (the ladder calls it again when the server hangs up).
using Dialer = std::function<Result<Transport>()>;

class Fid;

// Directory entry from Treaddir, owning its name.
struct DirEntry {
  Qid qid;
  uint64_t offset = 0;
  uint8_t type = 0;  // d_type (kDt*)
  std::string name;
};

class Client {
 public:
  // Dials options.target and negotiates (negotiation::ClientLadder), reconnecting when the
  // ladder says so. Fails with kTransport (cannot connect), kTimeout, or kNegotiation (no
  // common dialect: detail holds the ladder's reason and history).
  static Result<std::unique_ptr<Client>> Connect(const Options& options);
  // Same with a custom dialer (tests; options.target is then only a label).
  static Result<std::unique_ptr<Client>> Connect(const Options& options, Dialer dialer);
  ~Client();

  const Negotiated& negotiated() const { return negotiated_; }
  Connection& connection() { return *connection_; }
  WireContext wire() const { return connection_->wire(); }
  Timeout timeout() const { return options_.timeout; }
  // The most data one Tread/Twrite/Treaddir may carry: msize - 24 (Linux P9_IOHDRSZ).
  uint32_t max_io() const;
  // Incremented by every Tversion: fids from an older generation were freed by the server.
  uint64_t generation() const { return generation_.load(); }

  // ---- Generic calls ----
  // Sends `request` on a fresh tag; the reply comes through the Pending.
  template <class T>
  Result<Pending<ReplyOf<T>>> Start(const T& request);
  // Start() then Wait(): the reply, or its Error (errno from Rlerror, timeout, transport...).
  template <class T>
  Result<Reply<ReplyOf<T>>> Call(const T& request) {
    auto pending = Start(request);
    if (!pending) return Unexpected(pending.error());
    return pending->Wait();
  }

  // ---- One typed call per 9P2000.L request (field names from the man pages) ----
  // Tversion resets the session (version(5)): every call in flight fails, every Fid handle
  // goes stale; on an Rversion naming a dialect p9x knows, the connection switches to it.
  Result<Reply<Rversion>> Version(uint32_t msize, std::string_view version);
  Result<Reply<Rauth>> Auth(uint32_t afid, std::string_view uname, std::string_view aname, uint32_t n_uname);
  Result<Reply<Rattach>> Attach(uint32_t fid, uint32_t afid, std::string_view uname, std::string_view aname,
                                uint32_t n_uname);
  // The bare message. To cancel a call of this client use Pending::Flush, which also
  // retires the call's tag correctly.
  Result<Reply<Rflush>> Flush(uint16_t oldtag);
  // At most 16 names (walk(5)); more fail with kCodec/kTooManyWalkElements. Fid::Walk splits.
  Result<Reply<Rwalk>> Walk(uint32_t fid, uint32_t newfid, std::span<const std::string_view> wnames);
  Result<Reply<Rread>> Read(uint32_t fid, uint64_t offset, uint32_t count);
  Result<Reply<Rwrite>> Write(uint32_t fid, uint64_t offset, std::span<const uint8_t> data);
  Result<Reply<Rclunk>> Clunk(uint32_t fid);
  Result<Reply<Rremove>> Remove(uint32_t fid);
  Result<Reply<Rstatfs>> Statfs(uint32_t fid);
  Result<Reply<Rlopen>> Lopen(uint32_t fid, uint32_t flags);
  Result<Reply<Rlcreate>> Lcreate(uint32_t fid, std::string_view name, uint32_t flags, uint32_t mode, uint32_t gid);
  Result<Reply<Rsymlink>> Symlink(uint32_t fid, std::string_view name, std::string_view symtgt, uint32_t gid);
  Result<Reply<Rmknod>> Mknod(uint32_t dfid, std::string_view name, uint32_t mode, uint32_t major, uint32_t minor,
                              uint32_t gid);
  Result<Reply<Rrename>> Rename(uint32_t fid, uint32_t dfid, std::string_view name);
  Result<Reply<Rreadlink>> Readlink(uint32_t fid);
  Result<Reply<Rgetattr>> Getattr(uint32_t fid, uint64_t request_mask);
  Result<Reply<Rsetattr>> Setattr(const Tsetattr& request);
  Result<Reply<Rxattrwalk>> Xattrwalk(uint32_t fid, uint32_t newfid, std::string_view name);
  Result<Reply<Rxattrcreate>> Xattrcreate(uint32_t fid, std::string_view name, uint64_t attr_size, uint32_t flags);
  Result<Reply<Rreaddir>> Readdir(uint32_t fid, uint64_t offset, uint32_t count);
  Result<Reply<Rfsync>> Fsync(uint32_t fid, uint32_t datasync);
  Result<Reply<Rlock>> Lock(const Tlock& request);
  Result<Reply<Rgetlock>> Getlock(const Tgetlock& request);
  Result<Reply<Rlink>> Link(uint32_t dfid, uint32_t fid, std::string_view name);
  Result<Reply<Rmkdir>> Mkdir(uint32_t dfid, std::string_view name, uint32_t mode, uint32_t gid);
  Result<Reply<Rrenameat>> Renameat(uint32_t olddirfid, std::string_view oldname, uint32_t newdirfid,
                                    std::string_view newname);
  Result<Reply<Runlinkat>> Unlinkat(uint32_t dirfd, std::string_view name, uint32_t flags);

  // ---- Fids ----
  // A fid number no live handle uses; EMFILE when none is left.
  Result<uint32_t> AllocateFid();
  // Returns a number to the pool (the caller has clunked it, or the server never created it).
  void FreeFid(uint32_t fid);
  size_t fids_in_use() const;
  // Tattach with a new fid (afid NOFID: no authentication).
  Result<Fid> AttachRoot(std::string_view uname, std::string_view aname, uint32_t n_uname = kNoUname);

 private:
  explicit Client(Options options) : options_(std::move(options)) {}
  Result<RawCall> StartEncoded(std::vector<uint8_t> frame);

  Options options_;
  std::unique_ptr<Connection> connection_;
  Negotiated negotiated_;
  std::atomic<uint64_t> generation_{0};

  mutable std::mutex fid_mu_;
  uint32_t next_fid_ = 0;
  std::vector<uint32_t> free_fids_;
  size_t fids_in_use_ = 0;
};

// A fid on the server, owned: dropping the handle clunks it (clunk(5): "the fid is removed
// even if the clunk returns an error", so the number is reused whatever the answer). Not
// thread-safe per handle; different handles may be used from different threads.
class Fid {
 public:
  Fid() = default;
  Fid(Client* client, uint32_t fid, const Qid& qid);
  Fid(Fid&& other) noexcept;
  Fid& operator=(Fid&& other) noexcept;
  Fid(const Fid&) = delete;
  Fid& operator=(const Fid&) = delete;
  ~Fid();

  bool valid() const { return client_ != nullptr; }
  uint32_t number() const { return fid_; }
  const Qid& qid() const { return qid_; }
  bool is_dir() const { return (qid_.type & kQtDir) != 0; }
  // The iounit from Tlopen/Tlcreate (0: none given).
  uint32_t iounit() const { return iounit_; }
  bool opened() const { return opened_; }
  Client* client() const { return client_; }

  // Walks a '/'-separated path ("" or "." clones). Empty components and "." are skipped;
  // ".." is sent as is. More than 16 names are walked in steps. walk(5): a walk that stops
  // early ("nwqid < nwname") is an error (ENOENT), and no fid is created.
  Result<Fid> Walk(std::string_view path) const;
  Result<Fid> WalkNames(std::span<const std::string> names) const;

  // Tlopen: this fid becomes an open file (iounit() and qid() updated).
  Result<void> Open(uint32_t flags);
  // Tlcreate in this directory: this fid becomes the new file, open with `flags`.
  Result<void> Create(std::string_view name, uint32_t flags, uint32_t mode, uint32_t gid);

  Result<Rgetattr> GetAttr(uint64_t request_mask = kGetattrBasic) const;
  Result<void> SetAttr(Tsetattr request) const;  // request.fid is filled in
  Result<Rstatfs> StatFs() const;

  // Reads into `out` from `offset`, several Treads in flight; returns the bytes read (fewer
  // only at end of file). Needs Open().
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const;
  // Reads from `offset` to end of file.
  Result<std::vector<uint8_t>> ReadAll(uint64_t offset = 0) const;
  // Writes all of `data` at `offset`, several Twrites in flight, re-sending after short writes.
  Result<void> WriteAt(uint64_t offset, std::span<const uint8_t> data) const;
  // Every entry of this (open) directory, "." and ".." included when the server sends them.
  Result<std::vector<DirEntry>> ReadDir() const;
  Result<std::string> ReadLink() const;

  // Directory operations on this (directory) fid.
  Result<Qid> Mkdir(std::string_view name, uint32_t mode, uint32_t gid) const;
  Result<Qid> Symlink(std::string_view name, std::string_view target, uint32_t gid) const;
  Result<void> Link(std::string_view name, const Fid& target) const;
  // Tunlinkat(name, flags); servers without it (diod: EOPNOTSUPP) get walk + Tremove, as the
  // Linux client does.
  Result<void> Unlink(std::string_view name, uint32_t flags) const;
  // Trenameat; servers without it get walk + Trename.
  Result<void> Rename(std::string_view oldname, const Fid& newdir, std::string_view newname) const;

  // Extended attributes (spec/9p2000.L.md, Txattrwalk and Txattrcreate), each through a fid
  // of its own so that this one is left as it was (it must not be open: they walk from it).
  // The attribute names (Txattrwalk with an empty name: the NUL-separated list, split).
  Result<std::vector<std::string>> XattrList() const;
  // One attribute's value (Txattrwalk, then Treads of the size it announced).
  Result<std::vector<uint8_t>> XattrGet(std::string_view name) const;
  // Txattrcreate(name, value size, flags: 0, kXattrCreate or kXattrReplace), the value in
  // Twrites, then Tclunk, whose reply says whether the server set it.
  Result<void> XattrSet(std::string_view name, std::span<const uint8_t> value, uint32_t flags = 0) const;
  // Txattrcreate with size 0 and kXattrReplace, then Tclunk: what Linux's removexattr sends.
  Result<void> XattrRemove(std::string_view name) const;

  // Tclunk now; the handle becomes empty either way.
  Result<void> Clunk();
  // Tremove (which also clunks, remove(5)); the handle becomes empty either way.
  Result<void> Remove();

 private:
  void Reset();
  Client* client_ = nullptr;
  uint32_t fid_ = kNoFid;
  Qid qid_;
  uint32_t iounit_ = 0;
  bool opened_ = false;
  uint64_t generation_ = 0;
};

template <class T>
Result<Pending<ReplyOf<T>>> Client::Start(const T& request) {
  const WireContext ctx = connection_->wire();
  std::vector<uint8_t> bytes(EncodedSize(request, ctx.dialect));
  auto n = Encode(0, request, ctx, bytes);
  if (!n) return Unexpected(Error::Codec(n.error()));
  auto call = StartEncoded(std::move(bytes));
  if (!call) return Unexpected(call.error());
  return Pending<ReplyOf<T>>(std::move(*call), ctx, options_.timeout);
}

}  // namespace p9x::client
