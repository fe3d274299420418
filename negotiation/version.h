// SPDX-License-Identifier: MIT
// Version strings, feature sets, the server's answer to Tversion, and the client's ladder.
// This module owns every version string in p9x: nothing else parses or formats one.
//
// Grammar (spec/xqid.md §4.1; ABNF, RFC 5234):
//   version  = base *( "." feature )             e.g. "9P2000.L", "9P2000.L.xqid"
//   base     = %s"9P2000.L"                       case-sensitive
//   feature  = 1*( %x61-7A / DIGIT / "-" )       lower-case letters, digits, "-"
// A client sends the features in strictly increasing byte order (sorted, no duplicates), so that
// each feature set has exactly one spelling; a server reads an offer as a set (ReadOffer).
// version(5): "If the server does not understand the client's version string, it should
// respond with an Rversion message (not Rerror) with the version string the 7 characters
// 'unknown'", and "if the client string contains one or more period characters, the initial
// substring up to but not including any single period in the version string defines a version
// of the protocol": a server may strip suffixes it does not understand. A p9x server answers an
// offer based on 9P2000.L with the offered features it implements (possibly none: plain
// "9P2000.L"), and never with a feature the client did not offer (the Linux client accepts any
// reply starting with "9P2000.L" and would misparse xqid qids).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec_error.h"
#include "codec/constants.h"
#include "codec/frame.h"
#include "codec/linux_errno.h"
#include "codec/qid.h"
#include "codec/result.h"

namespace p9x::negotiation {

// A protocol feature negotiated in the version string. Each has one predicate (Supports*) that
// callers use instead of comparing strings.
enum class Feature : uint32_t {
  kXqid = 1u << 0,  // "xqid": 128-bit qid paths (spec/xqid.md)
};

class FeatureSet {
 public:
  constexpr FeatureSet() = default;
  constexpr explicit FeatureSet(uint32_t bits) : bits_(bits) {}
  constexpr FeatureSet With(Feature f) const { return FeatureSet(bits_ | static_cast<uint32_t>(f)); }
  constexpr bool Has(Feature f) const { return (bits_ & static_cast<uint32_t>(f)) != 0; }
  constexpr FeatureSet Intersect(FeatureSet o) const { return FeatureSet(bits_ & o.bits_); }
  constexpr bool IsSubsetOf(FeatureSet o) const { return (bits_ & ~o.bits_) == 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint32_t bits() const { return bits_; }
  friend constexpr bool operator==(FeatureSet, FeatureSet) = default;

 private:
  uint32_t bits_ = 0;
};

// The dialect a feature set implies: the qid layout of the session.
constexpr Dialect DialectFor(FeatureSet f) {
  return f.Has(Feature::kXqid) ? Dialect::kXqid : Dialect::kLegacy;
}

// ---- Feature predicates -------------------------------------------------------------------
//
// One predicate per feature. Code outside negotiation/ asks these and never compares version
// strings or FeatureSet bits itself.

// True when the session carries 21-byte qids with a 128-bit path (spec/xqid.md §Qid layout).
// Who must check it: anything that encodes or decodes a qid-bearing frame (through
// Session::wire(): WireContext.dialect) and a server deciding whether a file whose identity
// needs path_hi != 0 can be sent as is, or must go through the 64-bit prefix map
// (spec/qid-map.md). A legacy session must never carry a qid whose path_hi is not 0.
constexpr bool SupportsXqid(FeatureSet features) { return features.Has(Feature::kXqid); }

// ---- Version strings ----------------------------------------------------------------------

// "9P2000.L": the base every p9x version string starts with.
inline constexpr std::string_view kBaseVersion = "9P2000.L";

// The wire name of a feature ("xqid").
std::string_view FeatureName(Feature feature);
// The feature with that wire name, if p9x knows it.
std::optional<Feature> FeatureFromName(std::string_view name);

struct ParsedVersion {
  FeatureSet features;                        // the known features named
  std::vector<std::string> unknown_features;  // well-formed names p9x does not know, in order
};

// nullopt unless `version` matches the grammar at the top of this file exactly: "9P2000.L",
// optionally followed by ".feature" parts, each non-empty, of [a-z0-9-] only, in strictly
// increasing byte order (so sorted and without duplicates). Everything else is nullopt,
// including "9P2000", "9P2000.u", "9P2000.L.Google.1" (upper case), "9P2000.L+xqid",
// "9P2000.L." and an embedded NUL ("9P2000.L\0xqid": nfs-ganesha 4.3 accepts this by strncmp,
// spec/evidence/peers.md; p9x does not). This is what a client accepts in an Rversion.
std::optional<ParsedVersion> ParseVersion(std::string_view version);

// How a server reads a Tversion string (spec/xqid.md §4.2). nullopt unless the string is
// "9P2000.L" or begins with "9P2000.L.". The suffix is read as a set: features in any order,
// repeats allowed; `unknown_features` come out sorted and without repeats. A suffix outside the
// grammar (an empty or upper-case part, as in gVisor's "9P2000.L.Google.10") is stripped as
// version(5)'s period rule allows: the offer reads as plain "9P2000.L", with suffix_stripped set.
struct OfferReading {
  FeatureSet features;
  std::vector<std::string> unknown_features;
  bool suffix_stripped = false;
};
std::optional<OfferReading> ReadOffer(std::string_view version);

// spec/xqid.md §4.1: a server MUST understand a version string of up to this many bytes; a
// client MUST NOT send a longer one. (p9xd reads any string that fits its first frame.)
inline constexpr size_t kMaxPortableVersionLength = 64;

// The canonical string of a feature set: "9P2000.L" or "9P2000.L.xqid" (features sorted by
// name). ParseVersion(FormatVersion(f))->features == f for every f.
std::string FormatVersion(FeatureSet features);

// ---- Server side --------------------------------------------------------------------------

// What a server accepts. The defaults are p9xd's.
struct ServerPolicy {
  FeatureSet supported = FeatureSet().With(Feature::kXqid);
  uint32_t min_msize = kMinMsize;
  uint32_t max_msize = kMaxMsize;
};

// The server's answer to one Tversion.
struct TversionAnswer {
  enum class Kind {
    kAccept,   // send Rversion{msize, version}; the session is negotiated with `features`
    kUnknown,  // send Rversion{msize, "unknown"}; the connection stays unnegotiated
    kReject,   // send Rlerror{error}; the connection stays unnegotiated
  } kind = Kind::kUnknown;
  uint32_t msize = 0;        // for the Rversion (kAccept/kUnknown)
  std::string version;       // for the Rversion: agreed string, or "unknown"
  FeatureSet features;       // kAccept: the session's features
  Errno error = Errno::kOk;  // kReject: the Rlerror ecode
  std::string reason;        // one line for logs
};

// The errno p9x sends when Tversion's msize is below policy.min_msize. version(5) says nothing
// about a minimum; Linux (P9_MIN_MSIZE) and QEMU refuse msize < 4096. EINVAL ("Invalid
// argument") because the argument is what is wrong: gVisor and crosvm send EINVAL for a bad
// msize, QEMU sends EMSGSIZE ("Message too long", which describes the opposite case), diod EIO
// and nfs-ganesha ERANGE (spec/evidence/peers.md).
inline constexpr Errno kMsizeTooSmallErrno = Errno::kEINVAL;

// Decides the reply to Tversion{msize, version}. Pure: the caller sends the reply, with the
// Tversion's own tag, and applies it to its Session (Session::OnTversion). The rules, in order
// (spec/xqid.md §4.2):
//  1. A string ReadOffer refuses (not based on 9P2000.L: "9P2000", "9P2000.u", "", "9P2000.L+x",
//     "9P2000.L\0xqid") -> kUnknown: version(5), "If the server does not understand the
//     client's version string, it should respond with an Rversion message (not Rerror) with the
//     version string the 7 characters 'unknown'." p9x implements only 9P2000.L; a server that
//     also speaks 9P2000.u would answer those strings by its own rules. msize: min(offer,
//     max_msize), which clients ignore. No msize check: nothing is agreed.
//  2. msize < policy.min_msize -> kReject with kMsizeTooSmallErrno (the connection stays usable:
//     a client may retry with a larger msize).
//  3. Otherwise kAccept: msize = min(offer, max_msize) (version(5): the server's msize "must be
//     less than or equal to the client's value"), never below min_msize; features = offered ∩
//     policy.supported, formatted sorted. Unknown offered features and a stripped suffix are
//     dropped, never echoed, and a feature the client did not offer is never added: the Linux
//     client accepts any reply that starts with "9P2000.L" as plain .L, so an unrequested ".xqid"
//     would make it misparse every qid.
TversionAnswer AnswerTversion(const ServerPolicy& policy, uint32_t msize, std::string_view version);

// ---- Session state: what both ends know after Tversion ---------------------------------------
//
// version(5): "A successful version request initializes the connection. All outstanding I/O on
// the connection is aborted; all active fids are freed ('clunked') automatically."
//
// The p9x contract, stricter than "successful" and the same on both ends so that they agree
// without knowing each other's implementation: from the moment a Tversion is sent (client) or
// received (server), the previous session is over, whatever the answer turns out to be. Every
// fid is gone and every outstanding tag is aborted. The server drops its fid table and answers
// nothing more for the old tags; the client fails every outstanding request and forgets every
// fid. QEMU and crosvm clunk even on a rejected Tversion (spec/evidence/peers.md), so a client cannot
// assume otherwise. Until a Tversion is accepted, the only message either side may process is
// Tversion (a server answers any other request with Rlerror(kNotNegotiatedErrno)).
inline constexpr Errno kNotNegotiatedErrno = Errno::kEPROTO;

// The largest frame accepted before a session is negotiated: it bounds the Tversion a server
// reads and the Rversion/Rlerror a client reads (a version string needs far less).
inline constexpr uint32_t kPreNegotiationMsize = kMinMsize;

class Session {
 public:
  // True once a Tversion was accepted (and no later Tversion was sent or received).
  bool negotiated() const { return negotiated_; }
  FeatureSet features() const { return features_; }
  Dialect dialect() const { return DialectFor(features_); }
  uint32_t msize() const { return msize_; }
  // Counts Tversions seen. A fid table stamped with an older generation is stale: every fid in
  // it was freed by the Tversion that came after.
  uint64_t generation() const { return generation_; }

  // The codec's context for this connection: the agreed dialect and msize, or (before
  // negotiation) legacy framing bounded by kPreNegotiationMsize.
  WireContext wire() const {
    return negotiated_ ? WireContext{dialect(), msize_} : WireContext{Dialect::kLegacy, kPreNegotiationMsize};
  }

  // Call when a Tversion is sent or received, before anything else: ends the session. The
  // caller must then drop every fid and abort every outstanding tag.
  void BeginVersion() {
    negotiated_ = false;
    features_ = FeatureSet();
    msize_ = 0;
    ++generation_;
  }
  // Call when the Tversion is accepted (server: TversionAnswer::kAccept; client: kAgreed).
  void Agree(FeatureSet features, uint32_t msize) {
    negotiated_ = true;
    features_ = features;
    msize_ = msize;
  }
  // Server convenience: BeginVersion() then, on kAccept, Agree(answer.features, answer.msize).
  void OnTversion(const TversionAnswer& answer) {
    BeginVersion();
    if (answer.kind == TversionAnswer::Kind::kAccept) Agree(answer.features, answer.msize);
  }

 private:
  bool negotiated_ = false;
  FeatureSet features_;
  uint32_t msize_ = 0;
  uint64_t generation_ = 0;
};

// The predicate form on a session; false before negotiation.
inline bool SupportsXqid(const Session& session) {
  return session.negotiated() && SupportsXqid(session.features());
}

// ---- Client side --------------------------------------------------------------------------

// Which dialects a client may end up in.
enum class DialectChoice {
  kAuto,        // offer 9P2000.L.xqid, fall back to 9P2000.L (default)
  kXqidOnly,    // offer 9P2000.L.xqid only; fail if the server does not confirm it
  kLegacyOnly,  // offer 9P2000.L only
};

// The 9P2000 Rerror type number. Not a 9P2000.L message (so not in the codec's table), but
// nfs-ganesha answers Tversion with it, and 9P2000 servers may.
inline constexpr uint8_t kRerrorType = 107;

// A reply to Tversion as it came off the wire, before the ladder interprets it.
struct VersionReply {
  enum class Kind {
    kRversion,      // msize, version
    kRlerror,       // ecode: Rlerror (type 7), or type 107 with a 4-byte errno body (nfs-ganesha)
    kRerrorString,  // ename: a 9P2000 Rerror (type 107, ename[s]; 9P2000.u adds errno[4])
    kOther,         // any other frame: a protocol violation
  } kind = Kind::kOther;
  uint32_t msize = 0;
  std::string version;
  uint32_t ecode = 0;
  std::string ename;
  uint8_t type = 0;  // the frame's type byte
  uint16_t tag = 0;
};

// Classifies a whole frame received in answer to Tversion. Type 107 with a body of exactly 4
// bytes is read as an errno, as Linux's p9_check_errors does in 9P2000.L mode (nfs-ganesha sends
// every error so, spec/evidence/peers.md); any other type-107 body as ename[s] (optionally
// followed by errno[4]) when it is one, else as a kRerrorString with an empty ename: the ladder
// declines on any type-107 reply whatever its body (a 4-byte errno and a 2-byte string look the
// same). Fails with the codec's error when the header or an Rversion/Rlerror does not decode.
Result<VersionReply, CodecError> DecodeVersionReply(std::span<const uint8_t> frame);

// How long a client waits for the reply to one Tversion (spec/xqid.md §4.3): after it the
// Tversion counts as unanswered (ClientLadder::OnTimeout).
inline constexpr std::chrono::seconds kVersionReplyTimeout{30};

// Whether the client can open a new connection to the same server: TCP, unix sockets and
// spawned commands can; a virtio or Xen channel or an inherited file descriptor cannot.
enum class Reconnect { kPossible, kImpossible };

// The client's fallback ladder as a pure state machine (no I/O). The caller sends each offer
// as Tversion (tag NOTAG), feeds back what came, and stops at kAgreed or kFailed:
//
//   ClientLadder ladder(DialectChoice::kAuto, 128 * 1024);
//   while (auto offer = ladder.NextOffer()) {
//     if (offer->reconnect_first) Reconnect();
//     Send(Tversion{offer->msize, offer->version});       // session.BeginVersion() here
//     Outcome o = ... ladder.OnReply(r) / OnConnectionClosed() / OnTimeout() ...;
//     if (o == kAgreed) { session.Agree(ladder.features(), ladder.msize()); break; }
//     if (o == kFailed) break;                              // ladder.failure_reason()
//   }
//
// Offers: kAuto "9P2000.L.xqid" then "9P2000.L"; kXqidOnly "9P2000.L.xqid"; kLegacyOnly
// "9P2000.L". So against any legacy server the cost is at most one extra round trip.
// Interpretation of each reply to an offer O (spec/xqid.md §4.3, whose table this implements;
// the peers named are in spec/evidence/peers.md):
//  - Rversion "9P2000.L" or beginning with "9P2000.L.": a protocol violation (kFailed) unless it
//    is in the grammar (sorted) and names only features in O, with kMinMsize <= msize <= the
//    offer; otherwise kAgreed with exactly the features named. "9P2000.L" in answer to the xqid
//    offer is the server declining xqid: agreed in legacy, no extra round trip (kXqidOnly:
//    kFailed).
//  - Rversion "unknown" (QEMU, crosvm, kvmtool), any other Rversion string such as "9P2000"
//    (plan9port lib9p) or "9P2000.u", Rlerror with any errno (diod EIO, gVisor EINVAL/EAGAIN,
//    WSL), any type-107 reply (nfs-ganesha's errno, a 9P2000 ename): O declined, and the next
//    offer goes on the same connection. kTryNext if an offer remains, else kFailed.
//  - Connection closed, or no reply within kVersionReplyTimeout (the caller then closes the
//    connection, so that a late reply cannot answer the next offer): O declined; the next offer
//    has reconnect_first = true. With Reconnect::kImpossible: kFailed, saying so.
// The ladder never reports kAgreed for a dialect the server did not name.
class ClientLadder {
 public:
  ClientLadder(DialectChoice choice, uint32_t msize, Reconnect reconnect = Reconnect::kPossible);

  struct Offer {
    uint32_t msize;
    std::string version;
    bool reconnect_first;  // the connection was closed: open a new one before sending
  };
  // The next Tversion to send; nullopt when exhausted, agreed or failed. Each call moves past
  // the offer it returns, and exactly one On*() call must follow it.
  std::optional<Offer> NextOffer();

  enum class Outcome { kAgreed, kTryNext, kFailed };
  Outcome OnRversion(uint32_t msize, std::string_view version);
  // Rlerror (type 7), or nfs-ganesha's type-107 Rerror with a 4-byte errno body.
  Outcome OnRlerror(uint32_t ecode);
  // Any other type-107 reply (a 9P2000 Rerror's ename, possibly empty).
  Outcome OnRerrorString(std::string_view ename);
  // The peer closed the connection: the next offer has reconnect_first = true.
  Outcome OnConnectionClosed();
  // No reply within kVersionReplyTimeout (or the caller's own bound): as a closed connection.
  Outcome OnTimeout();
  // Dispatches a decoded reply; a kOther frame (or a tag other than NOTAG) is kFailed.
  Outcome OnReply(const VersionReply& reply);

  // Valid after kAgreed.
  FeatureSet features() const { return features_; }
  Dialect dialect() const { return DialectFor(features_); }
  uint32_t msize() const { return agreed_msize_; }
  bool agreed() const { return state_ == State::kAgreed; }
  bool failed() const { return state_ == State::kFailed; }

  // One line per offer and what answered it, for `p9x version`.
  const std::vector<std::string>& history() const { return history_; }
  // Why the ladder failed ("" unless kFailed).
  std::string failure_reason() const { return failure_reason_; }

 private:
  enum class State { kReady, kAwaitingReply, kAgreed, kFailed };
  Outcome Declined(const std::string& what);
  Outcome Fail(const std::string& what, const std::string& reason);
  Outcome Agreed(const std::string& what, FeatureSet features, uint32_t msize);
  bool RequireOutstanding(const std::string& what);
  Outcome NeedsNewConnection(const std::string& what);

  DialectChoice choice_;
  uint32_t msize_;
  Reconnect can_reconnect_;
  std::vector<FeatureSet> offers_;
  size_t next_ = 0;
  FeatureSet offered_;  // the outstanding offer
  bool reconnect_ = false;
  State state_ = State::kReady;
  FeatureSet features_;
  uint32_t agreed_msize_ = 0;
  std::vector<std::string> history_;
  std::string failure_reason_;
};

}  // namespace p9x::negotiation
