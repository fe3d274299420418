// SPDX-License-Identifier: MIT
// The client session (client.h): connecting through the version ladder, the typed calls, fid
// numbers, and Fid handles with walk, open, windowed reads and writes, and directory reading.
#include "client/client.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "codec/dirent.h"

namespace p9x::client {
namespace {

using negotiation::ClientLadder;

// Requests kept in flight by ReadAt/WriteAt: enough to fill a loopback pipe, few enough that
// an error stops the transfer quickly.
constexpr size_t kIoWindow = 8;

std::string JoinHistory(const std::vector<std::string>& history) {
  std::string out;
  for (const auto& line : history) {
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

}  // namespace

// ---- Client: connect and negotiate ----

Result<std::unique_ptr<Client>> Client::Connect(const Options& options) {
  auto target = ParseTarget(options.target);
  if (!target) return Unexpected(target.error());
  return Connect(options, [t = *target]() { return Transport::Dial(t); });
}

Result<std::unique_ptr<Client>> Client::Connect(const Options& options, Dialer dialer) {
  std::unique_ptr<Client> client(new Client(options));
  ClientLadder ladder(options.dialect, options.msize);
  std::unique_ptr<Connection> connection;
  int connections = 0;
  auto negotiation_error = [&](std::string why) {
    // With one offer the reason already says what it was and how it was answered.
    if (ladder.history().size() > 1) why += " (ladder: " + JoinHistory(ladder.history()) + ")";
    return Error{Error::Kind::kNegotiation, Errno::kEPROTONOSUPPORT, why, {}};
  };

  while (auto offer = ladder.NextOffer()) {
    if (!connection || offer->reconnect_first) {
      connection.reset();
      auto transport = dialer();
      if (!transport) {
        Error e = transport.error();
        if (connections > 0) e.detail += " (reconnecting after: " + JoinHistory(ladder.history()) + ")";
        return Unexpected(e);
      }
      connection = std::make_unique<Connection>(std::move(*transport));
      ++connections;
    }
    // version(5): "The tag should be NOTAG (value (ushort)~0) for a version message."
    Tversion tversion;
    tversion.msize = offer->msize;
    tversion.version = offer->version;
    std::vector<uint8_t> bytes(EncodedSize(tversion, Dialect::kLegacy));
    auto n = Encode(kNoTag, tversion, WireContext{Dialect::kLegacy, kMaxMsize}, bytes);
    if (!n) return Unexpected(Error::Codec(n.error()));

    ClientLadder::Outcome outcome;
    auto call = connection->StartWithTag(kNoTag, std::move(bytes));
    Result<RawFrame> frame = call ? call->Wait(options.timeout) : Result<RawFrame>(Unexpected(call.error()));
    if (frame) {
      auto reply = negotiation::DecodeVersionReply(frame->bytes);
      if (!reply) {
        return Unexpected(Error{Error::Kind::kCodec, Errno::kEPROTO,
                                "undecodable reply to Tversion " + offer->version + ": " + reply.error().Describe(),
                                reply.error()});
      }
      outcome = ladder.OnReply(*reply);
    } else if (frame.error().kind == Error::Kind::kTransport) {
      outcome = ladder.OnConnectionClosed();
    } else if (frame.error().kind == Error::Kind::kTimeout) {
      // spec/xqid.md §4.3: an unanswered Tversion counts as a closed connection; this one is
      // dropped so that a late Rversion cannot be read as the answer to the next offer.
      outcome = ladder.OnTimeout();
      if (outcome == ClientLadder::Outcome::kFailed) {
        return Unexpected(Error::Timeout("no answer to Tversion \"" + offer->version + "\" from " +
                                         connection->description() + " (ladder: " +
                                         JoinHistory(ladder.history()) + ")"));
      }
    } else {
      return Unexpected(frame.error());
    }

    if (outcome == ClientLadder::Outcome::kAgreed) {
      connection->SetWire(WireContext{ladder.dialect(), ladder.msize()});
      client->connection_ = std::move(connection);
      Negotiated& neg = client->negotiated_;
      neg.dialect = ladder.dialect();
      neg.msize = ladder.msize();
      neg.features = ladder.features();
      neg.version = negotiation::FormatVersion(ladder.features());
      neg.history = ladder.history();
      neg.connections = connections;
      return client;
    }
    if (outcome == ClientLadder::Outcome::kFailed) return Unexpected(negotiation_error(ladder.failure_reason()));
  }
  return Unexpected(negotiation_error(ladder.failed() ? ladder.failure_reason() : "every offer was declined"));
}

Client::~Client() {
  if (connection_) connection_->Close();
}

uint32_t Client::max_io() const {
  const uint32_t msize = connection_->wire().msize;
  return msize > kIoHeaderSize ? msize - kIoHeaderSize : 0;
}

Result<RawCall> Client::StartEncoded(std::vector<uint8_t> frame) { return connection_->Start(std::move(frame)); }

// ---- Typed calls ----

Result<Reply<Rversion>> Client::Version(uint32_t msize, std::string_view version) {
  // version(5): "All outstanding I/O on the connection is aborted; all active fids are freed".
  // p9x's session contract (negotiation/version.h): from the moment Tversion is sent.
  ++generation_;
  connection_->AbortCalls(Error::Transport(Errno::kECANCELED, "aborted by Tversion"));
  {
    std::lock_guard<std::mutex> lock(fid_mu_);
    next_fid_ = 0;
    free_fids_.clear();
    fids_in_use_ = 0;
  }
  connection_->SetWire(WireContext{Dialect::kLegacy, negotiation::kPreNegotiationMsize});
  Tversion request;
  request.msize = msize;
  request.version = version;
  std::vector<uint8_t> bytes(EncodedSize(request, Dialect::kLegacy));
  auto n = Encode(kNoTag, request, WireContext{Dialect::kLegacy, kMaxMsize}, bytes);
  if (!n) return Unexpected(Error::Codec(n.error()));
  auto call = connection_->StartWithTag(kNoTag, std::move(bytes));
  if (!call) return Unexpected(call.error());
  auto frame = call->Wait(options_.timeout);
  if (!frame) return Unexpected(frame.error());
  auto reply = DecodeReply<Rversion>(std::move(*frame), WireContext{Dialect::kLegacy, kMaxMsize});
  if (!reply) return reply;
  auto parsed = negotiation::ParseVersion((*reply)->version);
  if (parsed && (*reply)->msize >= kMinMsize) {
    connection_->SetWire(WireContext{negotiation::DialectFor(parsed->features), (*reply)->msize});
    negotiated_.dialect = negotiation::DialectFor(parsed->features);
    negotiated_.features = parsed->features;
    negotiated_.msize = (*reply)->msize;
    negotiated_.version = std::string((*reply)->version);
  }
  return reply;
}

Result<Reply<Rauth>> Client::Auth(uint32_t afid, std::string_view uname, std::string_view aname, uint32_t n_uname) {
  return Call(Tauth{afid, uname, aname, n_uname});
}

Result<Reply<Rattach>> Client::Attach(uint32_t fid, uint32_t afid, std::string_view uname, std::string_view aname,
                                      uint32_t n_uname) {
  return Call(Tattach{fid, afid, uname, aname, n_uname});
}

Result<Reply<Rflush>> Client::Flush(uint16_t oldtag) { return Call(Tflush{oldtag}); }

Result<Reply<Rwalk>> Client::Walk(uint32_t fid, uint32_t newfid, std::span<const std::string_view> wnames) {
  Twalk request;
  request.fid = fid;
  request.newfid = newfid;
  if (wnames.size() > kMaxWalkElements) {
    return Unexpected(Error::Codec(CodecError{CodecErrorKind::kTooManyWalkElements, 0,
                                              static_cast<uint8_t>(MsgType::kTwalk)}));
  }
  request.wnames.count = static_cast<uint16_t>(wnames.size());
  std::copy(wnames.begin(), wnames.end(), request.wnames.names.begin());
  return Call(request);
}

Result<Reply<Rread>> Client::Read(uint32_t fid, uint64_t offset, uint32_t count) {
  return Call(Tread{fid, offset, count});
}

Result<Reply<Rwrite>> Client::Write(uint32_t fid, uint64_t offset, std::span<const uint8_t> data) {
  return Call(Twrite{fid, offset, Bytes{data}});
}

Result<Reply<Rclunk>> Client::Clunk(uint32_t fid) { return Call(Tclunk{fid}); }
Result<Reply<Rremove>> Client::Remove(uint32_t fid) { return Call(Tremove{fid}); }
Result<Reply<Rstatfs>> Client::Statfs(uint32_t fid) { return Call(Tstatfs{fid}); }
Result<Reply<Rlopen>> Client::Lopen(uint32_t fid, uint32_t flags) { return Call(Tlopen{fid, flags}); }

Result<Reply<Rlcreate>> Client::Lcreate(uint32_t fid, std::string_view name, uint32_t flags, uint32_t mode,
                                        uint32_t gid) {
  return Call(Tlcreate{fid, name, flags, mode, gid});
}

Result<Reply<Rsymlink>> Client::Symlink(uint32_t fid, std::string_view name, std::string_view symtgt, uint32_t gid) {
  return Call(Tsymlink{fid, name, symtgt, gid});
}

Result<Reply<Rmknod>> Client::Mknod(uint32_t dfid, std::string_view name, uint32_t mode, uint32_t major,
                                    uint32_t minor, uint32_t gid) {
  return Call(Tmknod{dfid, name, mode, major, minor, gid});
}

Result<Reply<Rrename>> Client::Rename(uint32_t fid, uint32_t dfid, std::string_view name) {
  return Call(Trename{fid, dfid, name});
}

Result<Reply<Rreadlink>> Client::Readlink(uint32_t fid) { return Call(Treadlink{fid}); }

Result<Reply<Rgetattr>> Client::Getattr(uint32_t fid, uint64_t request_mask) {
  return Call(Tgetattr{fid, request_mask});
}

Result<Reply<Rsetattr>> Client::Setattr(const Tsetattr& request) { return Call(request); }

Result<Reply<Rxattrwalk>> Client::Xattrwalk(uint32_t fid, uint32_t newfid, std::string_view name) {
  return Call(Txattrwalk{fid, newfid, name});
}

Result<Reply<Rxattrcreate>> Client::Xattrcreate(uint32_t fid, std::string_view name, uint64_t attr_size,
                                                uint32_t flags) {
  return Call(Txattrcreate{fid, name, attr_size, flags});
}

Result<Reply<Rreaddir>> Client::Readdir(uint32_t fid, uint64_t offset, uint32_t count) {
  return Call(Treaddir{fid, offset, count});
}

Result<Reply<Rfsync>> Client::Fsync(uint32_t fid, uint32_t datasync) { return Call(Tfsync{fid, datasync}); }
Result<Reply<Rlock>> Client::Lock(const Tlock& request) { return Call(request); }
Result<Reply<Rgetlock>> Client::Getlock(const Tgetlock& request) { return Call(request); }

Result<Reply<Rlink>> Client::Link(uint32_t dfid, uint32_t fid, std::string_view name) {
  return Call(Tlink{dfid, fid, name});
}

Result<Reply<Rmkdir>> Client::Mkdir(uint32_t dfid, std::string_view name, uint32_t mode, uint32_t gid) {
  return Call(Tmkdir{dfid, name, mode, gid});
}

Result<Reply<Rrenameat>> Client::Renameat(uint32_t olddirfid, std::string_view oldname, uint32_t newdirfid,
                                          std::string_view newname) {
  return Call(Trenameat{olddirfid, oldname, newdirfid, newname});
}

Result<Reply<Runlinkat>> Client::Unlinkat(uint32_t dirfd, std::string_view name, uint32_t flags) {
  return Call(Tunlinkat{dirfd, name, flags});
}

// ---- Fid numbers ----

Result<uint32_t> Client::AllocateFid() {
  std::lock_guard<std::mutex> lock(fid_mu_);
  if (!free_fids_.empty()) {
    const uint32_t fid = free_fids_.back();
    free_fids_.pop_back();
    ++fids_in_use_;
    return fid;
  }
  if (next_fid_ == kNoFid) return Unexpected(Error::Usage(Errno::kEMFILE, "no fid numbers left"));
  ++fids_in_use_;
  return next_fid_++;
}

void Client::FreeFid(uint32_t fid) {
  std::lock_guard<std::mutex> lock(fid_mu_);
  free_fids_.push_back(fid);
  if (fids_in_use_ > 0) --fids_in_use_;
}

size_t Client::fids_in_use() const {
  std::lock_guard<std::mutex> lock(fid_mu_);
  return fids_in_use_;
}

Result<Fid> Client::AttachRoot(std::string_view uname, std::string_view aname, uint32_t n_uname) {
  auto fid = AllocateFid();
  if (!fid) return Unexpected(fid.error());
  auto reply = Attach(*fid, kNoFid, uname, aname, n_uname);
  if (!reply) {
    FreeFid(*fid);
    return Unexpected(reply.error());
  }
  return Fid(this, *fid, (*reply)->qid);
}

// ---- Fid ----

Fid::Fid(Client* client, uint32_t fid, const Qid& qid)
    : client_(client), fid_(fid), qid_(qid), generation_(client->generation()) {}

Fid::Fid(Fid&& other) noexcept
    : client_(std::exchange(other.client_, nullptr)), fid_(std::exchange(other.fid_, kNoFid)),
      qid_(other.qid_), iounit_(other.iounit_), opened_(other.opened_), generation_(other.generation_) {}

Fid& Fid::operator=(Fid&& other) noexcept {
  if (this != &other) {
    (void)Clunk();
    client_ = std::exchange(other.client_, nullptr);
    fid_ = std::exchange(other.fid_, kNoFid);
    qid_ = other.qid_;
    iounit_ = other.iounit_;
    opened_ = other.opened_;
    generation_ = other.generation_;
  }
  return *this;
}

Fid::~Fid() { (void)Clunk(); }

void Fid::Reset() {
  client_ = nullptr;
  fid_ = kNoFid;
  opened_ = false;
  iounit_ = 0;
}

Result<void> Fid::Clunk() {
  if (!client_) return {};
  Client* client = client_;
  const uint32_t fid = fid_;
  const bool stale = generation_ != client->generation();
  Reset();
  if (stale) return {};  // the Tversion since freed it on both ends (and reset the pool)
  auto reply = client->Clunk(fid);
  // clunk(5): "the fid is clunked even if the clunk returns an error". A timed-out or failed
  // transport leaves the server's state unknown: the number is not reused.
  if (reply || reply.error().is_remote()) client->FreeFid(fid);
  if (!reply) return Unexpected(reply.error());
  return {};
}

Result<void> Fid::Remove() {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Remove on an empty Fid"));
  Client* client = client_;
  const uint32_t fid = fid_;
  Reset();
  auto reply = client->Remove(fid);
  // remove(5): "The fid is clunked even if the remove fails."
  if (reply || reply.error().is_remote()) client->FreeFid(fid);
  if (!reply) return Unexpected(reply.error());
  return {};
}

Result<Fid> Fid::Walk(std::string_view path) const {
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (!part.empty() && part != ".") names.emplace_back(part);
    pos = slash + 1;
  }
  return WalkNames(names);
}

Result<Fid> Fid::WalkNames(std::span<const std::string> names) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Walk on an empty Fid"));
  auto newfid = client_->AllocateFid();
  if (!newfid) return Unexpected(newfid.error());
  uint32_t from = fid_;
  Qid qid = qid_;
  size_t done = 0;
  bool created = false;
  do {
    const size_t n = std::min<size_t>(names.size() - done, kMaxWalkElements);
    std::vector<std::string_view> step(names.begin() + static_cast<ptrdiff_t>(done),
                                       names.begin() + static_cast<ptrdiff_t>(done + n));
    auto reply = client_->Walk(from, *newfid, step);
    if (!reply || (*reply)->wqids.count != n) {
      // walk(5): "If the first element cannot be walked for any reason, Rerror is returned.
      // Otherwise, the walk will return an Rwalk message containing nwqid qids ... If nwqid <
      // nwname, ... newfid is not affected." So newfid exists only if an earlier step made it.
      Fid partial = created ? Fid(client_, *newfid, qid) : Fid();
      if (!created) client_->FreeFid(*newfid);
      if (!reply) return Unexpected(reply.error());
      const size_t failed = done + (*reply)->wqids.count;
      return Unexpected(Error{Error::Kind::kRemote, Errno::kENOENT,
                              "walk stopped at \"" + names[failed] + "\"", {}});
    }
    if (n > 0) qid = (*reply)->wqids.view().back();
    created = true;
    from = *newfid;
    done += n;
  } while (done < names.size());
  return Fid(client_, *newfid, qid);
}

// Linux's XATTR_SIZE_MAX and XATTR_LIST_MAX: no value or name list is larger, so a bigger size
// announced by a server is not allocated.
constexpr uint64_t kMaxXattrSize = 65536;

Result<std::vector<uint8_t>> Fid::XattrGet(std::string_view name) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "XattrGet on an empty Fid"));
  auto newfid = client_->AllocateFid();
  if (!newfid) return Unexpected(newfid.error());
  auto reply = client_->Xattrwalk(fid_, *newfid, name);
  if (!reply) {
    client_->FreeFid(*newfid);
    return Unexpected(reply.error());
  }
  Fid value_fid(client_, *newfid, qid_);
  const uint64_t size = (*reply)->size;
  if (size > kMaxXattrSize) return Unexpected(Error::Protocol("Rxattrwalk size " + std::to_string(size)));
  std::vector<uint8_t> value(static_cast<size_t>(size));
  auto n = value_fid.ReadAt(0, value);
  if (!n) return Unexpected(n.error());
  value.resize(*n);
  if (auto clunked = value_fid.Clunk(); !clunked) return Unexpected(clunked.error());
  return value;
}

Result<std::vector<std::string>> Fid::XattrList() const {
  auto list = XattrGet("");
  if (!list) return Unexpected(list.error());
  std::vector<std::string> names;
  size_t start = 0;
  for (size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i] != 0) continue;
    if (i > start) names.emplace_back(reinterpret_cast<const char*>(list->data() + start), i - start);
    start = i + 1;
  }
  return names;
}

Result<void> Fid::XattrSet(std::string_view name, std::span<const uint8_t> value, uint32_t flags) const {
  auto writer = Walk("");
  if (!writer) return Unexpected(writer.error());
  auto created = client_->Xattrcreate(writer->number(), name, value.size(), flags);
  if (!created) return Unexpected(created.error());
  if (!value.empty()) {
    if (auto written = writer->WriteAt(0, value); !written) return Unexpected(written.error());
  }
  return writer->Clunk();
}

Result<void> Fid::XattrRemove(std::string_view name) const {
  auto writer = Walk("");
  if (!writer) return Unexpected(writer.error());
  auto created = client_->Xattrcreate(writer->number(), name, 0, kXattrReplace);
  if (!created) return Unexpected(created.error());
  return writer->Clunk();
}

Result<void> Fid::Open(uint32_t flags) {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Open on an empty Fid"));
  auto reply = client_->Lopen(fid_, flags);
  if (!reply) return Unexpected(reply.error());
  qid_ = (*reply)->qid;
  iounit_ = (*reply)->iounit;
  opened_ = true;
  return {};
}

Result<void> Fid::Create(std::string_view name, uint32_t flags, uint32_t mode, uint32_t gid) {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Create on an empty Fid"));
  auto reply = client_->Lcreate(fid_, name, flags, mode, gid);
  if (!reply) return Unexpected(reply.error());
  qid_ = (*reply)->qid;
  iounit_ = (*reply)->iounit;
  opened_ = true;
  return {};
}

Result<Rgetattr> Fid::GetAttr(uint64_t request_mask) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "GetAttr on an empty Fid"));
  auto reply = client_->Getattr(fid_, request_mask);
  if (!reply) return Unexpected(reply.error());
  return reply->msg();  // Rgetattr has no views: safe to copy out
}

Result<void> Fid::SetAttr(Tsetattr request) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "SetAttr on an empty Fid"));
  request.fid = fid_;
  auto reply = client_->Setattr(request);
  if (!reply) return Unexpected(reply.error());
  return {};
}

Result<Rstatfs> Fid::StatFs() const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "StatFs on an empty Fid"));
  auto reply = client_->Statfs(fid_);
  if (!reply) return Unexpected(reply.error());
  return reply->msg();
}

namespace {

// The largest count for one Tread/Twrite on `fid`. open(5): iounit "may be zero. If it is not,
// it is the maximum number of bytes that are guaranteed to be read from or written to the file
// without breaking the I/O transfer into multiple 9P messages".
uint32_t IoSize(const Client& client, const Fid& fid) {
  uint32_t size = client.max_io();
  if (fid.iounit() != 0) size = std::min(size, fid.iounit());
  return std::max<uint32_t>(size, 1);
}

// Windowed pipelined I/O over bytes [0, total): up to kIoWindow requests of at most `chunk`
// bytes in flight, their replies consumed in offset order. start(at, len) sends the request for
// [at, at + len); take(at, len, reply) checks one reply and returns how many bytes it moved. A
// short transfer ends its window (the window's later replies are awaited and dropped) and the
// next window starts at the first byte not moved; a transfer of 0 bytes ends the whole run.
// Returns the bytes moved from 0 on.
template <class R, class Start, class Take>
Result<size_t> WindowedIo(size_t total, uint32_t chunk, Start start, Take take) {
  size_t done = 0;
  while (done < total) {
    struct InFlight {
      size_t at;
      uint32_t len;
      Pending<R> pending;
    };
    std::deque<InFlight> window;
    for (size_t issued = done; window.size() < kIoWindow && issued < total;) {
      const uint32_t len = static_cast<uint32_t>(std::min<size_t>(chunk, total - issued));
      Result<Pending<R>> pending = start(issued, len);
      if (!pending) return Unexpected(pending.error());
      window.push_back({issued, len, std::move(*pending)});
      issued += len;
    }
    bool short_transfer = false;
    bool ended = false;
    for (auto& w : window) {
      auto reply = w.pending.Wait();
      if (short_transfer) continue;
      if (!reply) return Unexpected(reply.error());
      Result<uint32_t> moved = take(w.at, w.len, reply->msg());
      if (!moved) return Unexpected(moved.error());
      done = w.at + *moved;
      if (*moved < w.len) {
        short_transfer = true;
        ended = *moved == 0;
      }
    }
    if (ended) break;
  }
  return done;
}

}  // namespace

Result<size_t> Fid::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Read on an empty Fid"));
  // A short read ends the window; 0 bytes is the end of the file.
  return WindowedIo<Rread>(
      out.size(), IoSize(*client_, *this),
      [&](size_t at, uint32_t len) {
        return client_->Start(Tread{fid_, offset + at, len});
      },
      [&](size_t at, uint32_t len, const Rread& reply) -> Result<uint32_t> {
        const auto data = reply.data.bytes;
        if (data.size() > len) {
          return Unexpected(Error::Protocol("Rread returned " + std::to_string(data.size()) + " bytes for a count of " +
                                            std::to_string(len)));
        }
        std::memcpy(out.data() + at, data.data(), data.size());
        return static_cast<uint32_t>(data.size());
      });
}

Result<std::vector<uint8_t>> Fid::ReadAll(uint64_t offset) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Read on an empty Fid"));
  std::vector<uint8_t> out;
  const size_t step = static_cast<size_t>(IoSize(*client_, *this)) * kIoWindow;
  while (true) {
    const size_t at = out.size();
    out.resize(at + step);
    auto n = ReadAt(offset + at, std::span<uint8_t>(out).subspan(at));
    if (!n) return Unexpected(n.error());
    out.resize(at + *n);
    if (*n < step) return out;
  }
}

Result<void> Fid::WriteAt(uint64_t offset, std::span<const uint8_t> data) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Write on an empty Fid"));
  // After a short write, later chunks may have been written too; they are written again.
  auto written = WindowedIo<Rwrite>(
      data.size(), IoSize(*client_, *this),
      [&](size_t at, uint32_t len) {
        return client_->Start(Twrite{fid_, offset + at, Bytes{data.subspan(at, len)}});
      },
      [&](size_t, uint32_t len, const Rwrite& reply) -> Result<uint32_t> {
        if (reply.count > len) {
          return Unexpected(Error::Protocol("Rwrite count " + std::to_string(reply.count) + " exceeds the " +
                                            std::to_string(len) + " bytes sent"));
        }
        if (reply.count == 0) return Unexpected(Error{Error::Kind::kRemote, Errno::kEIO, "Rwrite count 0", {}});
        return reply.count;
      });
  if (!written) return Unexpected(written.error());
  return {};
}

Result<std::vector<DirEntry>> Fid::ReadDir() const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "ReadDir on an empty Fid"));
  std::vector<DirEntry> entries;
  uint64_t offset = 0;
  const uint32_t count = IoSize(*client_, *this);
  const Dialect dialect = client_->wire().dialect;
  while (true) {
    auto reply = client_->Readdir(fid_, offset, count);
    if (!reply) return Unexpected(reply.error());
    DirentReader reader((*reply)->data.bytes, dialect);
    Dirent d;
    size_t n = 0;
    while (reader.Next(&d)) {
      // A name is one path component: callers join it to paths (`p9x ls`, `p9x get -r`), so a
      // '/' or a NUL in it, or an empty one, would name another file than the entry.
      if (d.name.empty() || d.name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos) {
        std::string shown;
        for (char ch : d.name) shown += ch == '\0' ? std::string("\\0") : std::string(1, ch);
        return Unexpected(Error::Protocol("Rreaddir lists an entry named \"" + shown +
                                          "\": a name is not empty and holds no '/' or NUL"));
      }
      entries.push_back(DirEntry{d.qid, d.offset, d.type, std::string(d.name)});
      offset = d.offset;
      ++n;
    }
    if (!reader.ok()) {
      return Unexpected(Error::Protocol("malformed directory entry at byte " + std::to_string(reader.error_offset()) +
                                        " of Rreaddir"));
    }
    if (n == 0) return entries;
    if (entries.size() > (1u << 24)) return Unexpected(Error::Protocol("directory offsets do not advance"));
  }
}

Result<std::string> Fid::ReadLink() const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "ReadLink on an empty Fid"));
  auto reply = client_->Readlink(fid_);
  if (!reply) return Unexpected(reply.error());
  return std::string((*reply)->target);
}

Result<Qid> Fid::Mkdir(std::string_view name, uint32_t mode, uint32_t gid) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Mkdir on an empty Fid"));
  auto reply = client_->Mkdir(fid_, name, mode, gid);
  if (!reply) return Unexpected(reply.error());
  return (*reply)->qid;
}

Result<Qid> Fid::Symlink(std::string_view name, std::string_view target, uint32_t gid) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Symlink on an empty Fid"));
  auto reply = client_->Symlink(fid_, name, target, gid);
  if (!reply) return Unexpected(reply.error());
  return (*reply)->qid;
}

Result<void> Fid::Link(std::string_view name, const Fid& target) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Link on an empty Fid"));
  auto reply = client_->Link(fid_, target.number(), name);
  if (!reply) return Unexpected(reply.error());
  return {};
}

namespace {
bool NotImplemented(const Error& e) {
  return e.is_remote() && (e.code == Errno::kEOPNOTSUPP || e.code == Errno::kENOSYS);
}
}  // namespace

Result<void> Fid::Unlink(std::string_view name, uint32_t flags) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Unlink on an empty Fid"));
  auto reply = client_->Unlinkat(fid_, name, flags);
  if (reply) return {};
  if (!NotImplemented(reply.error())) return Unexpected(reply.error());
  std::string one(name);
  auto child = WalkNames(std::span<const std::string>(&one, 1));
  if (!child) return Unexpected(child.error());
  return child->Remove();
}

Result<void> Fid::Rename(std::string_view oldname, const Fid& newdir, std::string_view newname) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Rename on an empty Fid"));
  auto reply = client_->Renameat(fid_, oldname, newdir.number(), newname);
  if (reply) return {};
  if (!NotImplemented(reply.error())) return Unexpected(reply.error());
  std::string one(oldname);
  auto child = WalkNames(std::span<const std::string>(&one, 1));
  if (!child) return Unexpected(child.error());
  auto renamed = client_->Rename(child->number(), newdir.number(), newname);
  if (!renamed) return Unexpected(renamed.error());
  return {};
}

}  // namespace p9x::client
