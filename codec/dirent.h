// SPDX-License-Identifier: MIT
// Directory entries inside Rreaddir's data: qid offset[8] type[1] name[s] each (diod
// protocol.md readdir). The qid makes the entry size dialect-dependent: 24+len(name) bytes in
// 9P2000.L, 32+len(name) in xqid.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "codec/qid.h"

namespace p9x {

struct Dirent {
  Qid qid;
  uint64_t offset = 0;  // cookie: Treaddir at this offset continues after this entry
  uint8_t type = 0;     // d_type (kDt*), not qid.type
  std::string_view name;
  friend bool operator==(const Dirent&, const Dirent&) = default;
};

inline uint32_t DirentWireSize(Dialect d, size_t name_len) {
  return QidWireSize(d) + 8 + 1 + 2 + static_cast<uint32_t>(name_len);
}

// Iterates the entries of Rreaddir data. Next() returns false at the end or on a malformed
// entry; ok() tells which.
class DirentReader {
 public:
  DirentReader(std::span<const uint8_t> data, Dialect dialect) : data_(data), dialect_(dialect) {}
  bool Next(Dirent* out);
  bool ok() const { return ok_; }
  // Byte offset in the data of the first malformed entry (meaningful when !ok()).
  size_t error_offset() const { return pos_; }

 private:
  std::span<const uint8_t> data_;
  Dialect dialect_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Packs entries into a caller's buffer (typically the Rreaddir reply buffer, right after its
// 11-byte header) and stops at the first entry that does not fit whole.
class DirentWriter {
 public:
  DirentWriter(std::span<uint8_t> out, Dialect dialect) : out_(out), dialect_(dialect) {}
  // False (and nothing written) when the entry does not fit in what is left.
  bool Add(const Dirent& entry);
  size_t size() const { return used_; }
  std::span<const uint8_t> bytes() const { return out_.first(used_); }

 private:
  std::span<uint8_t> out_;
  Dialect dialect_;
  size_t used_ = 0;
};

}  // namespace p9x
