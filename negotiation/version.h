// Version strings, feature sets, the server's answer to Tversion, and the client's ladder.
// This module owns every version string in p9x: nothing else parses or formats one (GUIDE R4).
//
// Grammar (spec/xqid.md §Negotiation):
//   version  = base *( "." feature )      e.g. "9P2000.L", "9P2000.L.xqid"
//   base     = "9P2000.L"
//   feature  = 1*( ALPHA / DIGIT / "-" )  lower-case, sorted, no duplicates
// version(5): "If the server does not understand the client's version string, it should
// respond with an Rversion message (not Rerror) with the version string the 7 characters
// 'unknown'." A p9x server answers an offer it understands with the subset of offered features
// it accepts (possibly none: plain "9P2000.L"), and never with a feature the client did not offer
// (the Linux client accepts any reply starting with "9P2000.L" and would misparse xqid qids).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
constexpr Dialect DialectFor(FeatureSet f) { return f.Has(Feature::kXqid) ? Dialect::kXqid : Dialect::kLegacy; }

}  // namespace p9x::negotiation
