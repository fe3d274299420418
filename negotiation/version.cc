// SPDX-License-Identifier: MIT
// The version strings, the server's answer to Tversion and the client's ladder declared in
// negotiation/version.h.
#include "negotiation/version.h"

#include <algorithm>
#include <array>
#include <string>

namespace p9x::negotiation {
namespace {

struct FeatureEntry {
  Feature feature;
  std::string_view name;
};
// Sorted by name: FormatVersion emits features in this order, which the grammar requires.
constexpr std::array<FeatureEntry, 1> kFeatures = {{
    {Feature::kXqid, "xqid"},
}};

bool IsFeatureChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ErrnoLabel(uint32_t ecode) {
  const std::string_view name = ErrnoName(static_cast<Errno>(ecode));
  std::string out = name.empty() ? "errno " + std::to_string(ecode) : std::string(name);
  if (!name.empty()) out += " (" + std::to_string(ecode) + ")";
  return out;
}

}  // namespace

std::string_view FeatureName(Feature feature) {
  for (const auto& entry : kFeatures) {
    if (entry.feature == feature) return entry.name;
  }
  return "";
}

std::optional<Feature> FeatureFromName(std::string_view name) {
  for (const auto& entry : kFeatures) {
    if (entry.name == name) return entry.feature;
  }
  return std::nullopt;
}

std::optional<ParsedVersion> ParseVersion(std::string_view version) {
  if (version.substr(0, kBaseVersion.size()) != kBaseVersion) return std::nullopt;
  std::string_view rest = version.substr(kBaseVersion.size());
  ParsedVersion parsed;
  std::string_view previous;
  while (!rest.empty()) {
    if (rest.front() != '.') return std::nullopt;  // "9P2000.Lx", "9P2000.L+xqid"
    rest.remove_prefix(1);
    const size_t end = std::min(rest.find('.'), rest.size());
    const std::string_view name = rest.substr(0, end);
    rest.remove_prefix(end);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsFeatureChar)) return std::nullopt;
    if (!previous.empty() && name <= previous) return std::nullopt;  // unsorted or duplicate
    previous = name;
    if (auto feature = FeatureFromName(name)) {
      parsed.features = parsed.features.With(*feature);
    } else {
      parsed.unknown_features.emplace_back(name);
    }
  }
  return parsed;
}

std::optional<OfferReading> ReadOffer(std::string_view version) {
  if (version == kBaseVersion) return OfferReading{};
  if (version.substr(0, kBaseVersion.size() + 1) != std::string(kBaseVersion) + ".") return std::nullopt;
  std::string_view rest = version.substr(kBaseVersion.size() + 1);
  OfferReading reading;
  for (;;) {
    const size_t end = std::min(rest.find('.'), rest.size());
    const std::string_view name = rest.substr(0, end);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsFeatureChar)) {
      // version(5)'s period rule: what precedes the first unparsed part defines the protocol.
      return OfferReading{FeatureSet(), {}, true};
    }
    if (auto feature = FeatureFromName(name)) {
      reading.features = reading.features.With(*feature);
    } else {
      reading.unknown_features.emplace_back(name);
    }
    if (end == rest.size()) break;
    rest.remove_prefix(end + 1);
  }
  std::sort(reading.unknown_features.begin(), reading.unknown_features.end());
  reading.unknown_features.erase(std::unique(reading.unknown_features.begin(), reading.unknown_features.end()),
                                 reading.unknown_features.end());
  return reading;
}

std::string FormatVersion(FeatureSet features) {
  std::string out(kBaseVersion);
  for (const auto& entry : kFeatures) {
    if (features.Has(entry.feature)) {
      out += '.';
      out += entry.name;
    }
  }
  return out;
}

TversionAnswer AnswerTversion(const ServerPolicy& policy, uint32_t msize, std::string_view version) {
  TversionAnswer answer;
  answer.msize = std::min(msize, policy.max_msize);
  const std::optional<OfferReading> parsed = ReadOffer(version);
  if (!parsed) {
    answer.kind = TversionAnswer::Kind::kUnknown;
    answer.version = kVersionUnknown;
    answer.reason = "version " + Quote(version) + " is not 9P2000.L[.feature...]: Rversion \"unknown\"";
    return answer;
  }
  if (msize < policy.min_msize) {
    answer.kind = TversionAnswer::Kind::kReject;
    answer.msize = 0;
    answer.error = kMsizeTooSmallErrno;
    answer.reason = "msize " + std::to_string(msize) + " is below the minimum " +
                    std::to_string(policy.min_msize) + ": Rlerror " +
                    ErrnoLabel(static_cast<uint32_t>(kMsizeTooSmallErrno));
    return answer;
  }
  answer.kind = TversionAnswer::Kind::kAccept;
  answer.features = parsed->features.Intersect(policy.supported);
  answer.version = FormatVersion(answer.features);
  answer.reason = "agreed " + Quote(answer.version) + " msize " + std::to_string(answer.msize);
  if (answer.msize != msize) answer.reason += " (offered " + std::to_string(msize) + ")";
  const FeatureSet declined(parsed->features.bits() & ~answer.features.bits());
  if (!declined.empty() || !parsed->unknown_features.empty()) {
    answer.reason += "; declined";
    for (const auto& entry : kFeatures) {
      if (declined.Has(entry.feature)) answer.reason += " " + std::string(entry.name);
    }
    for (const auto& name : parsed->unknown_features) answer.reason += " " + name + "(unknown)";
  }
  if (parsed->suffix_stripped) answer.reason += "; suffix of " + Quote(version) + " stripped (not in the grammar)";
  return answer;
}

Result<VersionReply, CodecError> DecodeVersionReply(std::span<const uint8_t> frame) {
  const WireContext ctx{Dialect::kLegacy, kPreNegotiationMsize};
  auto header = DecodeHeader(frame, ctx);
  if (!header) return Unexpected(header.error());
  VersionReply reply;
  reply.type = header->type;
  reply.tag = header->tag;
  const auto body = frame.subspan(kHeaderSize);
  auto u32_at = [&](size_t at) {
    return static_cast<uint32_t>(body[at]) | static_cast<uint32_t>(body[at + 1]) << 8 |
           static_cast<uint32_t>(body[at + 2]) << 16 | static_cast<uint32_t>(body[at + 3]) << 24;
  };
  if (header->type == static_cast<uint8_t>(MsgType::kRversion)) {
    auto r = DecodeAs<Rversion>(frame, ctx);
    if (!r) return Unexpected(r.error());
    reply.kind = VersionReply::Kind::kRversion;
    reply.msize = r->msize;
    reply.version = std::string(r->version);
  } else if (header->type == static_cast<uint8_t>(MsgType::kRlerror)) {
    auto r = DecodeAs<Rlerror>(frame, ctx);
    if (!r) return Unexpected(r.error());
    reply.kind = VersionReply::Kind::kRlerror;
    reply.ecode = r->ecode;
  } else if (header->type == kRerrorType) {
    // Linux p9_check_errors in 9P2000.L mode reads a bare errno from type 107 too; nfs-ganesha
    // sends every error that way (spec/evidence/peers.md). A 9P2000 Rerror is ename[s]; 9P2000.u appends
    // errno[4]. A 4-byte body is ambiguous (a 2-byte ename) and read as an errno, like Linux.
    if (body.size() == 4) {
      reply.kind = VersionReply::Kind::kRlerror;
      reply.ecode = u32_at(0);
    } else {
      // ename[s], or ename[s] errno[4] (9P2000.u); a body that is neither leaves ename empty.
      reply.kind = VersionReply::Kind::kRerrorString;
      const size_t len = body.size() >= 2 ? (static_cast<size_t>(body[0]) | static_cast<size_t>(body[1]) << 8) : 0;
      if (body.size() >= 2 && (2 + len == body.size() || 2 + len + 4 == body.size())) {
        reply.ename.assign(reinterpret_cast<const char*>(body.data() + 2), len);
        if (2 + len + 4 == body.size()) reply.ecode = u32_at(2 + len);
      }
    }
  } else {
    reply.kind = VersionReply::Kind::kOther;
  }
  return reply;
}

// ---- ClientLadder ----

ClientLadder::ClientLadder(DialectChoice choice, uint32_t msize, Reconnect reconnect)
    : choice_(choice), msize_(msize), can_reconnect_(reconnect) {
  const FeatureSet xqid = FeatureSet().With(Feature::kXqid);
  switch (choice) {
    case DialectChoice::kAuto:
      offers_ = {xqid, FeatureSet()};
      break;
    case DialectChoice::kXqidOnly:
      offers_ = {xqid};
      break;
    case DialectChoice::kLegacyOnly:
      offers_ = {FeatureSet()};
      break;
  }
  if (msize < kMinMsize) {
    // No reply could be valid: a server's msize must be <= the offer and >= kMinMsize.
    state_ = State::kFailed;
    failure_reason_ = "msize " + std::to_string(msize) + " is below the minimum " +
                      std::to_string(kMinMsize) + "; nothing was offered";
    history_.push_back(failure_reason_);
  }
}

std::optional<ClientLadder::Offer> ClientLadder::NextOffer() {
  if (state_ != State::kReady || next_ >= offers_.size()) return std::nullopt;
  offered_ = offers_[next_++];
  state_ = State::kAwaitingReply;
  Offer offer{msize_, FormatVersion(offered_), reconnect_};
  reconnect_ = false;
  return offer;
}

bool ClientLadder::RequireOutstanding(const std::string& what) {
  if (state_ == State::kAwaitingReply) return true;
  if (state_ != State::kFailed) {
    state_ = State::kFailed;
    failure_reason_ = what + " with no Tversion outstanding";
    history_.push_back(failure_reason_);
  }
  return false;
}

ClientLadder::Outcome ClientLadder::Declined(const std::string& what) {
  const std::string offered = FormatVersion(offered_);
  std::string line = "Tversion msize=" + std::to_string(msize_) + " " + Quote(offered) + " -> " + what;
  if (next_ < offers_.size()) {
    history_.push_back(line + ": declined, next " + Quote(FormatVersion(offers_[next_])) +
                       (reconnect_ ? " on a new connection" : ""));
    state_ = State::kReady;
    return Outcome::kTryNext;
  }
  state_ = State::kFailed;
  if (offered_.empty()) {
    failure_reason_ = "server does not speak 9P2000.L: it answered " + Quote(offered) + " with " + what;
  } else if (choice_ == DialectChoice::kXqidOnly) {
    failure_reason_ =
        "server declined " + Quote(offered) + " (" + what + ") and the dialect choice is xqid-only";
  } else {
    failure_reason_ = "server declined " + Quote(offered) + ": " + what;
  }
  history_.push_back(line + ": " + failure_reason_);
  return Outcome::kFailed;
}

ClientLadder::Outcome ClientLadder::Fail(const std::string& what, const std::string& reason) {
  state_ = State::kFailed;
  failure_reason_ = reason;
  history_.push_back("Tversion msize=" + std::to_string(msize_) + " " + Quote(FormatVersion(offered_)) +
                     " -> " + what + ": " + reason);
  return Outcome::kFailed;
}

ClientLadder::Outcome ClientLadder::Agreed(const std::string& what, FeatureSet features, uint32_t msize) {
  state_ = State::kAgreed;
  features_ = features;
  agreed_msize_ = msize;
  history_.push_back("Tversion msize=" + std::to_string(msize_) + " " + Quote(FormatVersion(offered_)) +
                     " -> " + what + ": agreed " + Quote(FormatVersion(features)) + " msize " +
                     std::to_string(msize));
  return Outcome::kAgreed;
}

ClientLadder::Outcome ClientLadder::OnRversion(uint32_t msize, std::string_view version) {
  const std::string what = "Rversion msize=" + std::to_string(msize) + " " + Quote(version);
  if (!RequireOutstanding(what)) return Outcome::kFailed;
  // version(5): "the version string the 7 characters 'unknown'" means not understood. Any other
  // string that is not 9P2000.L[.feature...] ("9P2000" from plan9port lib9p, "9P2000.u") names a
  // dialect p9x does not speak: never accepted as 9P2000.L, so the offer counts as declined.
  const bool names_9p2000l =
      version == kBaseVersion || version.substr(0, kBaseVersion.size() + 1) == std::string(kBaseVersion) + ".";
  if (!names_9p2000l) return Declined(what);
  const std::optional<ParsedVersion> parsed = ParseVersion(version);
  if (!parsed) {
    return Fail(what, "protocol violation: the reply is not 9P2000.L followed by sorted features (spec/xqid.md §4.1)");
  }
  if (!parsed->unknown_features.empty() || !parsed->features.IsSubsetOf(offered_)) {
    return Fail(what, "protocol violation: the server named a feature the client did not offer");
  }
  // version(5): the server's msize "must be less than or equal to the client's value".
  if (msize > msize_) {
    return Fail(what, "protocol violation: server msize " + std::to_string(msize) +
                          " is larger than the offered " + std::to_string(msize_));
  }
  if (msize < kMinMsize) {
    return Fail(what, "server msize " + std::to_string(msize) + " is below the minimum " +
                          std::to_string(kMinMsize) + " (Linux P9_MIN_MSIZE)");
  }
  if (choice_ == DialectChoice::kXqidOnly && !SupportsXqid(parsed->features)) {
    return Fail(what, "server declined xqid and the dialect choice is xqid-only");
  }
  return Agreed(what, parsed->features, msize);
}

ClientLadder::Outcome ClientLadder::OnRlerror(uint32_t ecode) {
  const std::string what = "Rlerror " + ErrnoLabel(ecode);
  if (!RequireOutstanding(what)) return Outcome::kFailed;
  return Declined(what);
}

ClientLadder::Outcome ClientLadder::OnRerrorString(std::string_view ename) {
  const std::string what = "Rerror " + Quote(ename);
  if (!RequireOutstanding(what)) return Outcome::kFailed;
  return Declined(what);
}

ClientLadder::Outcome ClientLadder::NeedsNewConnection(const std::string& what) {
  if (!RequireOutstanding(what)) return Outcome::kFailed;
  if (can_reconnect_ == Reconnect::kImpossible) {
    return Fail(what, "the Tversion " + Quote(FormatVersion(offered_)) + " got " + what +
                          ", and this transport cannot open another connection" +
                          (offered_.empty() ? "" : ": offer only 9P2000.L to reach this server"));
  }
  reconnect_ = true;
  return Declined(what);
}

ClientLadder::Outcome ClientLadder::OnConnectionClosed() { return NeedsNewConnection("connection closed"); }

ClientLadder::Outcome ClientLadder::OnTimeout() { return NeedsNewConnection("no reply"); }

ClientLadder::Outcome ClientLadder::OnReply(const VersionReply& reply) {
  if (reply.tag != kNoTag && reply.kind != VersionReply::Kind::kOther) {
    // version(5): "The tag should be NOTAG"; a reply with another tag does not answer Tversion.
    if (!RequireOutstanding("reply")) return Outcome::kFailed;
    return Fail("type " + std::to_string(reply.type) + " tag " + std::to_string(reply.tag),
                "protocol violation: the reply to Tversion does not carry NOTAG");
  }
  switch (reply.kind) {
    case VersionReply::Kind::kRversion:
      return OnRversion(reply.msize, reply.version);
    case VersionReply::Kind::kRlerror:
      return OnRlerror(reply.ecode);
    case VersionReply::Kind::kRerrorString:
      return OnRerrorString(reply.ename);
    case VersionReply::Kind::kOther:
      break;
  }
  if (!RequireOutstanding("reply")) return Outcome::kFailed;
  return Fail("type " + std::to_string(reply.type),
              "protocol violation: Tversion answered with a message that is not Rversion or an error");
}

}  // namespace p9x::negotiation
