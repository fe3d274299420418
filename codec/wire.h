// SPDX-License-Identifier: MIT
// Primitive readers and writers for 9P wire types. Internal to the codec (frame.h is the API).
//
// Reader never fails mid-field: the first problem is recorded (kind and byte offset) and every
// later read is a no-op returning zeros, so a message decoder is a straight run of Read() calls
// followed by one ok() check (GUIDE R2). Writer works the same way for encoding.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "codec/codec_error.h"
#include "codec/constants.h"
#include "codec/messages.h"
#include "codec/qid.h"

namespace p9x::internal {

template <class T>
inline T LoadLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) {
    T r = 0;
    for (size_t i = 0; i < sizeof v; ++i) r = static_cast<T>(r | (T(p[i]) << (8 * i)));
    v = r;
  }
  return v;
}

template <class T>
inline void StoreLe(uint8_t* p, T v) {
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < sizeof v; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
  } else {
    std::memcpy(p, &v, sizeof v);
  }
}

class Reader {
 public:
  // `bytes` is the part of the frame to read; `base_offset` is its offset in the frame, so
  // error offsets are frame offsets.
  Reader(std::span<const uint8_t> bytes, Dialect dialect, uint32_t base_offset = 0)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), begin_(bytes.data()),
        base_(base_offset), dialect_(dialect) {}

  bool ok() const { return ok_; }
  CodecErrorKind error_kind() const { return kind_; }
  uint32_t error_offset() const { return error_offset_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  uint32_t offset() const { return base_ + static_cast<uint32_t>(p_ - begin_); }

  void Read(uint8_t& v) { v = Fixed<uint8_t>(); }
  void Read(uint16_t& v) { v = Fixed<uint16_t>(); }
  void Read(uint32_t& v) { v = Fixed<uint32_t>(); }
  void Read(uint64_t& v) { v = Fixed<uint64_t>(); }

  void Read(std::string_view& s) {
    const uint16_t len = Fixed<uint16_t>();
    const uint8_t* at = Take(len);
    s = at ? std::string_view(reinterpret_cast<const char*>(at), len) : std::string_view();
  }

  void Read(Qid& q) {
    const uint32_t size = QidWireSize(dialect_);
    const uint8_t* at = Take(size);
    if (!at) {
      q = Qid{};
      return;
    }
    q.type = at[0];
    q.version = LoadLe<uint32_t>(at + 1);
    q.path = LoadLe<uint64_t>(at + 5);
    q.path_hi = dialect_ == Dialect::kXqid ? LoadLe<uint64_t>(at + 13) : 0;
  }

  void Read(Bytes& d) { d.bytes = Counted(); }
  void Read(DirentBytes& d);  // validates the entries (frame.cc)

  void Read(WalkNames& w) {
    const uint32_t at = offset();
    w.count = Fixed<uint16_t>();
    if (w.count > kMaxWalkElements) {
      Fail(CodecErrorKind::kTooManyWalkElements, at);
      w.count = 0;
      return;
    }
    for (uint16_t i = 0; i < w.count; ++i) Read(w.names[i]);
  }

  void Read(WalkQids& w) {
    const uint32_t at = offset();
    w.count = Fixed<uint16_t>();
    if (w.count > kMaxWalkElements) {
      Fail(CodecErrorKind::kTooManyWalkElements, at);
      w.count = 0;
      return;
    }
    for (uint16_t i = 0; i < w.count; ++i) Read(w.qids[i]);
  }

  void Fail(CodecErrorKind kind, uint32_t at) {
    if (ok_) {
      ok_ = false;
      kind_ = kind;
      error_offset_ = at;
    }
    p_ = end_;
  }

 private:
  template <class T>
  T Fixed() {
    const uint8_t* at = Take(sizeof(T));
    return at ? LoadLe<T>(at) : T{0};
  }
  const uint8_t* Take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) {
      Fail(CodecErrorKind::kTruncated, offset());
      return nullptr;
    }
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }
  std::span<const uint8_t> Counted() {
    const uint32_t count = Fixed<uint32_t>();
    const uint8_t* at = Take(count);
    return at ? std::span<const uint8_t>(at, count) : std::span<const uint8_t>();
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* begin_;
  uint32_t base_;
  Dialect dialect_;
  bool ok_ = true;
  CodecErrorKind kind_ = CodecErrorKind::kTruncated;
  uint32_t error_offset_ = 0;
};

// Wire size of each field type.
inline uint32_t WireSize(uint8_t, Dialect) { return 1; }
inline uint32_t WireSize(uint16_t, Dialect) { return 2; }
inline uint32_t WireSize(uint32_t, Dialect) { return 4; }
inline uint32_t WireSize(uint64_t, Dialect) { return 8; }
inline uint32_t WireSize(std::string_view s, Dialect) { return 2 + static_cast<uint32_t>(s.size()); }
inline uint32_t WireSize(const Qid&, Dialect d) { return QidWireSize(d); }
inline uint32_t WireSize(const Bytes& b, Dialect) { return 4 + static_cast<uint32_t>(b.bytes.size()); }
inline uint32_t WireSize(const DirentBytes& b, Dialect) {
  return 4 + static_cast<uint32_t>(b.bytes.size());
}
inline uint32_t WireSize(const WalkNames& w, Dialect) {
  uint32_t n = 2;
  for (uint16_t i = 0; i < w.count && i < kMaxWalkElements; ++i) n += 2 + static_cast<uint32_t>(w.names[i].size());
  return n;
}
inline uint32_t WireSize(const WalkQids& w, Dialect d) { return 2 + QidWireSize(d) * w.count; }

class Writer {
 public:
  Writer(std::span<uint8_t> out, Dialect dialect)
      : p_(out.data()), end_(out.data() + out.size()), begin_(out.data()), dialect_(dialect) {}

  bool ok() const { return ok_; }
  CodecErrorKind error_kind() const { return kind_; }
  uint32_t error_offset() const { return error_offset_; }
  size_t size() const { return static_cast<size_t>(p_ - begin_); }

  void Write(uint8_t v) { Fixed(v); }
  void Write(uint16_t v) { Fixed(v); }
  void Write(uint32_t v) { Fixed(v); }
  void Write(uint64_t v) { Fixed(v); }

  void Write(std::string_view s) {
    if (s.size() > 0xFFFF) return Fail(CodecErrorKind::kStringTooLong);
    Fixed(static_cast<uint16_t>(s.size()));
    Raw(s.data(), s.size());
  }

  void Write(const Qid& q) {
    if (dialect_ == Dialect::kLegacy && q.path_hi != 0) return Fail(CodecErrorKind::kQidNeedsXqid);
    uint8_t* at = Take(QidWireSize(dialect_));
    if (!at) return;
    at[0] = q.type;
    StoreLe(at + 1, q.version);
    StoreLe(at + 5, q.path);
    if (dialect_ == Dialect::kXqid) StoreLe(at + 13, q.path_hi);
  }

  void Write(const Bytes& d) { Counted(d.bytes); }
  void Write(const DirentBytes& d) { Counted(d.bytes); }

  void Write(const WalkNames& w) {
    if (w.count > kMaxWalkElements) return Fail(CodecErrorKind::kTooManyWalkElements);
    Fixed(w.count);
    for (uint16_t i = 0; i < w.count; ++i) Write(w.names[i]);
  }
  void Write(const WalkQids& w) {
    if (w.count > kMaxWalkElements) return Fail(CodecErrorKind::kTooManyWalkElements);
    Fixed(w.count);
    for (uint16_t i = 0; i < w.count; ++i) Write(w.qids[i]);
  }

  void Fail(CodecErrorKind kind) {
    if (ok_) {
      ok_ = false;
      kind_ = kind;
      error_offset_ = static_cast<uint32_t>(p_ - begin_);
    }
    p_ = end_;
  }

 private:
  template <class T>
  void Fixed(T v) {
    if (uint8_t* at = Take(sizeof v)) StoreLe(at, v);
  }
  void Raw(const void* data, size_t n) {
    if (uint8_t* at = Take(n); at && n) std::memcpy(at, data, n);
  }
  void Counted(std::span<const uint8_t> bytes) {
    if (bytes.size() > 0xFFFFFFFFu) return Fail(CodecErrorKind::kFrameTooLarge);
    Fixed(static_cast<uint32_t>(bytes.size()));
    Raw(bytes.data(), bytes.size());
  }
  uint8_t* Take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) {
      Fail(CodecErrorKind::kBufferTooSmall);
      return nullptr;
    }
    uint8_t* at = p_;
    p_ += n;
    return at;
  }

  uint8_t* p_;
  uint8_t* end_;
  uint8_t* begin_;
  Dialect dialect_;
  bool ok_ = true;
  CodecErrorKind kind_ = CodecErrorKind::kBufferTooSmall;
  uint32_t error_offset_ = 0;
};

}  // namespace p9x::internal
