// SPDX-License-Identifier: MIT
// Probe: one connection to the server under test, driven frame by frame on the codec.
//
// A probe sends frames with the tags the case chooses (or fresh ones), records every frame both
// ways in the case's transcript, and checks these invariants on EVERY reply it receives:
//  - the frame is no larger than the negotiated msize (for Rversion: the offered msize);
//    version(5): msize is "the maximum length, in bytes, it will ever generate or expect to
//    receive in a single 9P message";
//  - its tag is the tag of a request in flight (intro(5): "the reply ... has the same tag"), and
//    not a tag whose Rflush has already arrived (flush(5));
//  - its type is the request's type + 1, or Rlerror;
//  - an error sent as type 107 (Rerror, 9P2000/9P2000.u) with a Linux errno body is understood
//    as an error but recorded as a non-conformance (nfs-ganesha sends every error this way).
// A violation fails the case; it is never a crash. Every receive has a timeout, so a server that
// never answers fails the case with "no reply within Ns" instead of hanging the run.
//
// Probe operations are no-ops once the case has ended (CaseLog is sticky), so cases read as a
// straight line. The Must-style helpers (Walk, Getattr, MakeFile, ...) fail the case when the
// server does not succeed and return default values afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "codec/constants.h"
#include "codec/dirent.h"
#include "codec/frame.h"
#include "codec/linux_errno.h"
#include "codec/messages.h"
#include "conformance/case_log.h"
#include "conformance/transport.h"
#include "negotiation/version.h"

namespace p9x::conformance {

// ReplyOf<T> (codec/messages.h): the reply message of request T.

// The 9P2000/9P2000.u error type. Not part of 9P2000.L, so not in the message table; a
// 9P2000.L server must not send it (ganesha does, with an errno body).
using negotiation::kRerrorType;

enum class ReplyStatus : uint8_t {
  kOk,        // the expected R-message arrived and decoded
  kLerror,    // Rlerror (or a type-107 Rerror with an errno body)
  kClosed,    // the server closed the connection
  kTimeout,   // nothing within the probe's timeout
  kBadReply,  // a frame arrived but is not the expected reply or does not decode
  kNotSent,   // the case had already ended, or the request could not be encoded
};

// What a request got. `frame` owns the bytes that the decoded message's views point into, so a
// Reply is move-only.
struct ReplyBase {
  ReplyStatus status = ReplyStatus::kNotSent;
  Errno error = Errno::kOk;  // when kLerror
  std::string detail;        // why, for kBadReply/kClosed/kTimeout/kNotSent
  std::vector<uint8_t> frame;
  uint8_t type = 0;  // the received frame's type (0 when none)

  ReplyBase() = default;
  ReplyBase(ReplyBase&&) = default;
  ReplyBase& operator=(ReplyBase&&) = default;
  ReplyBase(const ReplyBase&) = delete;
  ReplyBase& operator=(const ReplyBase&) = delete;

  bool ok() const { return status == ReplyStatus::kOk; }
  bool is_error() const { return status == ReplyStatus::kLerror; }
  // "Rwalk", "Rlerror ENOENT (2)", "no reply within 5s", "connection closed by the server", ...
  std::string Describe() const;
};

template <class R>
struct Reply : ReplyBase {
  R msg{};
};

// A raw frame as received (or why none was).
struct RawFrame {
  ReplyStatus status = ReplyStatus::kNotSent;  // kOk: `bytes` holds one whole frame
  std::vector<uint8_t> bytes;
  uint8_t type = 0;
  uint16_t tag = 0;
  std::string detail;
};

// A directory entry with its name copied out of the frame.
struct Entry {
  Qid qid;
  uint64_t offset = 0;
  uint8_t type = 0;
  std::string name;
};

// The session a case starts with (from the run's options and the negotiated dialect).
struct SessionParams {
  std::string version = kVersion9P2000L;
  uint32_t msize = kDefaultMsize;
  std::string aname;
  std::string uname;
  uint32_t n_uname = kNoUname;
};

// The version string of an xqid offer, "9P2000.L.xqid", as negotiation/ spells it.
const std::string& XqidVersion();

class Probe {
 public:
  Probe(CaseLog& log, int id, Transport transport, std::chrono::milliseconds timeout);
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  int id() const { return id_; }
  const WireContext& context() const { return ctx_; }
  uint32_t msize() const { return ctx_.msize; }
  Dialect dialect() const { return ctx_.dialect; }
  bool closed() const { return closed_; }
  CaseLog& log() { return log_; }

  uint16_t NextTag();
  uint32_t NextFid() { return next_fid_++; }

  // ---- frames ----
  // Encodes and sends `msg` with `tag` in the session's context and marks the tag in flight.
  template <class T>
  bool Send(uint16_t tag, const T& msg);
  // Sends bytes as they are (malformed frames). If they hold a 7-byte header, its tag is
  // marked in flight with its type. Replies to a malformed frame may carry any tag when they
  // are Rlerror (the server may not have been able to read the tag).
  bool SendBytes(std::span<const uint8_t> bytes);
  // The next frame from the server (whatever its tag), after the invariant checks.
  RawFrame Receive();
  // Waits for the reply with `tag`; frames with other tags are kept for later Receive/Await.
  template <class R>
  Reply<R> Await(uint16_t tag);
  // Send with a fresh tag, then Await.
  template <class T>
  Reply<ReplyOf<T>> Call(const T& msg);
  // Decodes a received frame as R (or Rlerror).
  template <class R>
  Reply<R> Convert(RawFrame raw);
  // True when the server closes the connection or answers within the timeout; false on timeout.
  // Used after malformed frames: returns what happened.
  RawFrame ReceiveAny() { return Receive(); }
  // Tags still in flight (sent, not answered, not flushed).
  size_t in_flight() const { return pending_.size(); }
  // Frames received while awaiting another tag, not yet taken by Receive/Await.
  size_t stashed() const { return stash_.size(); }

  // ---- session ----
  // Tversion; on Rversion adopts its msize and the dialect its version string names
  // (negotiation::ParseVersion; a string outside the grammar leaves the dialect as it was).
  Reply<Rversion> Version(uint32_t msize, std::string_view version);
  // Tversion + Tattach as `params` say; fails the case unless both succeed.
  bool Start(const SessionParams& params);
  uint32_t root() const { return root_fid_; }
  const Qid& root_qid() const { return root_qid_; }
  Reply<Rattach> Attach(uint32_t fid, const SessionParams& params);

  // ---- must-succeed helpers: fail the case (message names `what`) unless the server succeeds
  // Returns r.ok(); otherwise fails the case with "<what>: <r.Describe()>".
  bool Must(const ReplyBase& r, std::string_view what);
  // Walks `names` from `fid` to a fresh fid; fails unless every name is walked.
  uint32_t Walk(uint32_t fid, const std::vector<std::string>& names, Qid* last = nullptr);
  Rgetattr Getattr(uint32_t fid, uint64_t mask = kGetattrBasic);
  Rlopen Open(uint32_t fid, uint32_t flags);
  // Walk + Tlopen: a fresh open fid.
  uint32_t OpenPath(uint32_t dirfid, const std::vector<std::string>& names, uint32_t flags,
                    Rlopen* opened = nullptr);
  // Creates `name` in `dirfid` with `data` (Tlcreate on a clone, Twrite, Tclunk); its qid.
  Qid MakeFile(uint32_t dirfid, std::string_view name, std::string_view data = {}, uint32_t mode = 0644);
  // Tlcreate on a clone of dirfid: the returned fid is the new file, open with `flags`.
  uint32_t CreateOpen(uint32_t dirfid, std::string_view name, uint32_t flags, uint32_t mode = 0644,
                      Rlcreate* created = nullptr);
  Qid MakeDir(uint32_t dirfid, std::string_view name, uint32_t mode = 0755);
  // Reads the whole file from `offset` in chunks of the session's iounit.
  std::string ReadAll(uint32_t open_fid, uint64_t offset = 0);
  bool WriteAll(uint32_t open_fid, uint64_t offset, std::string_view data);
  // All entries of an open directory, Treaddir with `count` until an empty reply.
  std::vector<Entry> ReaddirAll(uint32_t open_fid, uint32_t count = 0);
  // The names in the open directory `open_fid` other than "." and "..", for the runner's own
  // housekeeping, which must not fail a case: stops quietly at an error, at a malformed entry or
  // after `max_rounds` Treaddirs.
  std::vector<std::string> ListNamesQuietly(uint32_t open_fid, int max_rounds);
  // One Treaddir, entries decoded (fails the case on malformed entries).
  std::vector<Entry> Readdir(uint32_t open_fid, uint64_t offset, uint32_t count, uint32_t* bytes = nullptr);
  void Clunk(uint32_t fid);
  // The largest data payload per Tread/Twrite: msize - 24 (Linux P9_IOHDRSZ).
  uint32_t io_size() const { return ctx_.msize > kIoHeaderSize ? ctx_.msize - kIoHeaderSize : 0; }
  // Closes the connection (the server sees EOF).
  void Close();
  // Ends the stream toward the server (shutdown SHUT_WR); replies can still be received.
  void ShutdownWrite();

 private:
  struct Pending {
    uint8_t type = 0;
    uint32_t msize_bound = 0;  // for Tversion: the offered msize
    bool is_flush = false;
    uint16_t oldtag = 0;
    bool malformed = false;
  };

  bool SendEncoded(std::span<const uint8_t> bytes, uint16_t tag, const Pending& pending);
  // The next frame, read within `deadline` (default: the probe's timeout from now).
  RawFrame ReadFrame(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
  // Called when a frame is stashed: past kMaxStashedFrames the server is flooding the
  // connection with replies nobody awaits; fails the case, closes, and returns a kClosed frame.
  std::optional<RawFrame> StashOverflow();
  bool ReadExact(uint8_t* out, size_t n, std::chrono::steady_clock::time_point deadline,
                 RawFrame* failure);
  void CheckInvariants(const RawFrame& frame);
  WireContext DecodeContext(size_t frame_size) const;

  CaseLog& log_;
  int id_;
  Transport transport_;
  std::chrono::milliseconds timeout_;
  WireContext ctx_{Dialect::kLegacy, kMaxMsize};
  std::map<uint16_t, Pending> pending_;
  std::set<uint16_t> flushed_;
  std::deque<RawFrame> stash_;
  bool closed_ = false;
  bool malformed_sent_ = false;
  uint16_t next_tag_ = 1;
  uint32_t next_fid_ = 1;
  uint32_t root_fid_ = kNoFid;
  Qid root_qid_{};
};

// ---- templates ----

template <class T>
bool Probe::Send(uint16_t tag, const T& msg) {
  if (log_.stopped() || closed_) return false;
  std::vector<uint8_t> bytes(EncodedSize(msg, ctx_.dialect));
  WireContext ctx = ctx_;
  ctx.msize = static_cast<uint32_t>(bytes.size());  // the probe may send what it likes
  auto n = Encode(tag, msg, ctx, bytes);
  if (!n) {
    log_.Fail("cannot encode " + std::string(T::kName) + ": " + n.error().Describe());
    return false;
  }
  Pending pending;
  pending.type = static_cast<uint8_t>(T::kType);
  if constexpr (std::is_same_v<T, Tversion>) pending.msize_bound = msg.msize;
  if constexpr (std::is_same_v<T, Tflush>) {
    pending.is_flush = true;
    pending.oldtag = msg.oldtag;
  }
  return SendEncoded(bytes, tag, pending);
}

template <class R>
Reply<R> Probe::Convert(RawFrame raw) {
  Reply<R> reply;
  reply.status = raw.status;
  reply.detail = std::move(raw.detail);
  reply.type = raw.type;
  if (raw.status != ReplyStatus::kOk) return reply;
  reply.frame = std::move(raw.bytes);
  const WireContext ctx = DecodeContext(reply.frame.size());
  if (raw.type == static_cast<uint8_t>(R::kType)) {
    // DecodeInto, straight into the reply: its views point into reply.frame, which it owns.
    auto decoded = DecodeInto(reply.frame, ctx, &reply.msg);
    if (decoded) return reply;
    reply.msg = R{};
    reply.status = ReplyStatus::kBadReply;
    reply.detail = "undecodable " + std::string(R::kName) + ": " + decoded.error().Describe();
    return reply;
  }
  if (raw.type == static_cast<uint8_t>(MsgType::kRlerror) ||
      (raw.type == kRerrorType && reply.frame.size() == kHeaderSize + 4)) {
    reply.status = ReplyStatus::kLerror;
    reply.error = static_cast<Errno>(reply.frame[7] | (reply.frame[8] << 8) | (reply.frame[9] << 16) |
                                     (static_cast<uint32_t>(reply.frame[10]) << 24));
    if (reply.frame.size() != kHeaderSize + 4) {
      reply.status = ReplyStatus::kBadReply;
      reply.detail = "malformed Rlerror of " + std::to_string(reply.frame.size()) + " bytes";
    }
    return reply;
  }
  const MsgInfo* info = FindMsgInfo(raw.type);
  reply.status = ReplyStatus::kBadReply;
  reply.detail = "expected " + std::string(R::kName) + " or Rlerror, got " +
                 (info ? std::string(info->name) : "type " + std::to_string(raw.type));
  return reply;
}

template <class R>
Reply<R> Probe::Await(uint16_t tag) {
  for (auto it = stash_.begin(); it != stash_.end(); ++it) {
    if (it->tag == tag) {
      RawFrame raw = std::move(*it);
      stash_.erase(it);
      return Convert<R>(std::move(raw));
    }
  }
  // One deadline for the reply, however many other frames arrive meanwhile.
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    RawFrame raw = ReadFrame(deadline);
    if (raw.status != ReplyStatus::kOk || raw.tag == tag) return Convert<R>(std::move(raw));
    stash_.push_back(std::move(raw));
    if (auto overflow = StashOverflow()) return Convert<R>(std::move(*overflow));
  }
}

template <class T>
Reply<ReplyOf<T>> Probe::Call(const T& msg) {
  const uint16_t tag = std::is_same_v<T, Tversion> ? kNoTag : NextTag();
  if (!Send(tag, msg)) {
    Reply<ReplyOf<T>> r;
    r.detail = log_.stopped() ? "not sent: the case had already ended" : "not sent: connection closed";
    return r;
  }
  return Await<ReplyOf<T>>(tag);
}

}  // namespace p9x::conformance
