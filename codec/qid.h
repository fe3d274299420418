// SPDX-License-Identifier: MIT
// The qid, the server's identity for a file, and the dialect that decides its wire size.
#pragma once

#include <compare>
#include <cstdint>

namespace p9x {

// Which qid layout the session uses. This is the only thing the dialect changes on the wire
// (spec/xqid.md): every message keeps its layout except that each qid grows by 8 bytes.
enum class Dialect : uint8_t {
  // 9P2000.L: qid = type[1] version[4] path[8], 13 bytes.
  kLegacy = 0,
  // 9P2000.L.xqid: qid = type[1] version[4] path[8] path_hi[8], 21 bytes. The first 13 bytes
  // are laid out exactly as a legacy qid; path_hi follows.
  kXqid = 1,
};

inline constexpr uint32_t QidWireSize(Dialect d) { return d == Dialect::kXqid ? 21 : 13; }

// The dialect's short name in p9x's text and JSON output: "legacy" or "xqid".
inline constexpr const char* DialectName(Dialect d) { return d == Dialect::kXqid ? "xqid" : "legacy"; }

// qid(5): "The qid represents the server's unique identification for the file being accessed:
// two files on the same server hierarchy are the same if and only if their qids are the same."
//
// The path is 128 bits, (path_hi, path). In legacy sessions path_hi is always 0 and path is the
// 64-bit path; a legacy encoder refuses a qid whose path_hi is not 0 rather than truncate it.
// In xqid sessions p9xd puts a server-assigned filesystem number in path_hi and the inode number
// in path (spec/xqid.md §Qid layout).
struct Qid {
  uint8_t type = 0;      // kQt* bits
  uint32_t version = 0;  // changes when the file changes
  uint64_t path = 0;     // low 64 bits of the path
  uint64_t path_hi = 0;  // high 64 bits (xqid only)

  friend constexpr bool operator==(const Qid&, const Qid&) = default;
  friend constexpr auto operator<=>(const Qid&, const Qid&) = default;
};

}  // namespace p9x
