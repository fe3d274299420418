// SPDX-License-Identifier: MIT
// The qid map's state file (spec/qid-map.md §3): its encoding and the record a lookup appends
// before it makes an assignment visible. Private to server/qid_map.cc and server/qid_map_journal.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "server/qid_map.h"

namespace p9x::server {

inline constexpr char kMagic[8] = {'P', '9', 'X', 'Q', 'I', 'D', 'M', 'P'};
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kLayoutId = 2;
inline constexpr size_t kRecordHeader = 5;   // kind u8, payload length u16, its complement u16
inline constexpr size_t kRecordTrailer = 4;  // CRC-32C of kind, length and payload
enum RecordKind : uint8_t { kFilesystemRecord = 1, kBlockRecord = 2, kFallbackRecord = 3 };

// CRC-32C (Castagnoli) of data[0, n), the checksum of the header and of every record.
uint32_t Crc32c(const char* data, size_t n);
void PutU16(std::string& out, uint16_t v);
void PutU32(std::string& out, uint32_t v);
void PutU64(std::string& out, uint64_t v);
// The little-endian integer of `bytes` bytes at in[at].
uint64_t GetLe(const std::string& in, size_t at, size_t bytes);

// The state file's header for an export: magic, format version, layout, export identity, CRC.
std::string JournalHeader(const std::string& export_id);

Errno HostErrno(int e);
// A failed system call `what` with errno `e`.
QidMapError SysError(int e, const std::string& what);
// The state file at `path` is refused because of `why`; says what the operator must do.
QidMapError Corrupt(const std::string& path, const std::string& why);
// write(2) until all of data[0, size) is written; false with errno set otherwise.
bool WriteAll(int fd, const char* data, size_t size);

// The record a lookup is about to add; appended to the journal before Commit makes it visible.
struct QidMapper::Assignment {
  RecordKind kind = kFilesystemRecord;
  uint32_t fs = 0;       // block, fallback: the owner
  uint64_t value = 0;    // block: st_ino >> kBlockBits; fallback: st_ino
  std::string identity;  // filesystem
  uint64_t path_hi = 0;  // filesystem

  static Assignment Of(RecordKind kind, uint32_t fs = 0, uint64_t value = 0) {
    Assignment a;
    a.kind = kind;
    a.fs = fs;
    a.value = value;
    return a;
  }

  std::string Encode() const {
    std::string payload;
    if (kind == kFilesystemRecord) {
      PutU64(payload, path_hi);
      payload += identity;
    } else {
      PutU32(payload, fs);
      PutU64(payload, value);
    }
    std::string out;
    out.push_back(static_cast<char>(kind));
    PutU16(out, static_cast<uint16_t>(payload.size()));
    PutU16(out, static_cast<uint16_t>(~payload.size()));
    out += payload;
    PutU32(out, Crc32c(out.data(), out.size()));
    return out;
  }
};

}  // namespace p9x::server
