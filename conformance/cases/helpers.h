// SPDX-License-Identifier: MIT
// Small helpers shared by the case files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/constants.h"
#include "codec/messages.h"
#include "codec/qid.h"
#include "codec/text.h"
#include "conformance/context.h"

namespace p9x::conformance {

// A Twalk whose names view `names` (which must outlive the message).
inline Twalk MakeWalk(uint32_t fid, uint32_t newfid, const std::vector<std::string>& names) {
  Twalk w{fid, newfid, {}};
  for (const std::string& n : names) {
    if (w.wnames.count < kMaxWalkElements) w.wnames.names[w.wnames.count++] = n;
  }
  return w;
}

// QidText (codec/text.h) prints a qid in the codec's text form.

// Same file by qid(5)'s rule: the (128-bit) path. Type and version are compared separately.
inline bool SamePath(const Qid& a, const Qid& b) { return a.path == b.path && a.path_hi == b.path_hi; }

// Deterministic, position-dependent bytes (a misplaced chunk shows up as a mismatch).
inline std::string Pattern(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>((x >> 16) & 0xff);
  }
  return s;
}

inline Bytes AsBytes(std::string_view s) {
  return Bytes{std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size())};
}
inline std::string AsString(const Bytes& b) {
  return std::string(reinterpret_cast<const char*>(b.bytes.data()), b.bytes.size());
}

// Little-endian frame building for malformed frames.
class FrameBuilder {
 public:
  FrameBuilder& U8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  FrameBuilder& U16(uint16_t v) { return U8(static_cast<uint8_t>(v)).U8(static_cast<uint8_t>(v >> 8)); }
  FrameBuilder& U32(uint32_t v) { return U16(static_cast<uint16_t>(v)).U16(static_cast<uint16_t>(v >> 16)); }
  FrameBuilder& U64(uint64_t v) { return U32(static_cast<uint32_t>(v)).U32(static_cast<uint32_t>(v >> 32)); }
  FrameBuilder& Str(std::string_view s) {
    U16(static_cast<uint16_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  // A frame: size[4] (the real length unless `size` is given) type[1] tag[2] body.
  std::vector<uint8_t> Frame(uint8_t type, uint16_t tag) const { return FrameWithSize(type, tag, 0, false); }
  std::vector<uint8_t> FrameWithSize(uint8_t type, uint16_t tag, uint32_t size, bool force = true) const {
    std::vector<uint8_t> out;
    const uint32_t real = static_cast<uint32_t>(7 + bytes_.size());
    const uint32_t s = force ? size : real;
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(s >> (8 * i)));
    out.push_back(type);
    out.push_back(static_cast<uint8_t>(tag));
    out.push_back(static_cast<uint8_t>(tag >> 8));
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    return out;
  }

 private:
  std::vector<uint8_t> bytes_;
};

// Mode bits (Linux S_IF*), as carried by Rgetattr and Tmknod.
inline constexpr uint32_t kSIfmt = 0170000;
inline constexpr uint32_t kSIfdir = 0040000;
inline constexpr uint32_t kSIfreg = 0100000;
inline constexpr uint32_t kSIflnk = 0120000;
inline constexpr uint32_t kSIfifo = 0010000;
inline constexpr uint32_t kSIfchr = 0020000;

}  // namespace p9x::conformance
