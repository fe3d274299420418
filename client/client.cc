// SPDX-License-Identifier: MIT
// The client session (client.h): connecting through the version ladder, the typed calls and fid
// numbers. The Fid handles over it are client/fid.cc.
#include "client/client.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "codec/dirent.h"

namespace p9x::client {
namespace {

using negotiation::ClientLadder;

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

}  // namespace p9x::client
