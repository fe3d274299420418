// SPDX-License-Identifier: MIT
// The qid map's state file: opening and locking it, loading and validating its records at start,
// and appending one record, durably, before an assignment becomes visible (spec/qid-map.md §3-4).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "server/qid_map.h"
#include "server/qid_map_journal.h"

namespace p9x::server {
namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

}  // namespace

uint32_t Crc32c(const char* data, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c = kCrcTable[(c ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFu;
}

void PutU16(std::string& out, uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t GetLe(const std::string& in, size_t at, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}

std::string JournalHeader(const std::string& export_id) {
  std::string out(kMagic, sizeof kMagic);
  PutU32(out, kFormatVersion);
  PutU32(out, kLayoutId);
  PutU32(out, static_cast<uint32_t>(export_id.size()));
  out += export_id;
  PutU32(out, Crc32c(out.data(), out.size()));
  return out;
}

Errno HostErrno(int e) { return WireErrnoFromHost(e); }

QidMapError SysError(int e, const std::string& what) {
  return QidMapError{HostErrno(e), what + ": " + std::strerror(e)};
}

QidMapError Corrupt(const std::string& path, const std::string& why) {
  return QidMapError{Errno::kEBADMSG, "qid-map state file " + path + " is refused: " + why +
                                          " (move it away and restart p9xd; clients with persistent caches of this "
                                          "export must drop them, because files will get new qids)"};
}

bool WriteAll(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = ENOSPC;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

Result<void, QidMapError> QidMapper::Open() {
  const std::string& path = options_.state_path;
  if (path.empty()) return {};

  // One live mapper per state file: two would hand out the same numbers to different files.
  const std::string lock_path = path + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Unexpected(SysError(errno, "cannot open " + lock_path));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EWOULDBLOCK) {
      return Unexpected(QidMapError{Errno::kEBUSY, "qid-map state file " + path + " is in use by another live p9xd"});
    }
    return Unexpected(SysError(e, "cannot lock " + lock_path));
  }

  journal_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (journal_fd_ < 0) return Unexpected(SysError(errno, "cannot open " + path));
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(journal_fd_, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unexpected(SysError(errno, "cannot read " + path));
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  const std::string header = JournalHeader(options_.export_id);
  // A new journal, or one whose first start was cut short while writing the header (nothing can
  // have been numbered yet): the header, durably, before anything is numbered.
  if (bytes.size() < header.size() && header.compare(0, bytes.size(), bytes) == 0) {
    if (::ftruncate(journal_fd_, 0) != 0 || ::lseek(journal_fd_, 0, SEEK_SET) != 0) {
      return Unexpected(SysError(errno, "cannot write " + path));
    }
    if (!WriteAll(journal_fd_, header.data(), header.size()) || ::fdatasync(journal_fd_) != 0) {
      const int e = errno;
      (void)::ftruncate(journal_fd_, 0);
      return Unexpected(SysError(e, "cannot write " + path));
    }
    const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      (void)::fsync(dir_fd);  // the file's name, so that the header is found after a crash
      ::close(dir_fd);
    }
    journal_bytes_ = header.size();
    return {};
  }
  size_t good_end = 0;
  {
    std::unique_lock lock(mu_);
    if (auto loaded = Load(bytes, &good_end); !loaded) return loaded;
  }
  if (good_end != bytes.size()) {  // a torn last record: cut it off before appending after it
    if (::ftruncate(journal_fd_, static_cast<off_t>(good_end)) != 0 || ::fdatasync(journal_fd_) != 0) {
      return Unexpected(SysError(errno, "cannot cut the torn tail of " + path));
    }
  }
  if (::lseek(journal_fd_, 0, SEEK_END) < 0) return Unexpected(SysError(errno, "cannot seek " + path));
  journal_bytes_ = good_end;
  return {};
}

Result<void, QidMapError> QidMapper::Load(const std::string& bytes, size_t* good_end) {
  const std::string& path = options_.state_path;
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Unexpected(Corrupt(path, "it is not a p9x qid-map state file (bad magic)"));
  }
  const uint32_t version = static_cast<uint32_t>(GetLe(bytes, 8, 4));
  const uint32_t layout = static_cast<uint32_t>(GetLe(bytes, 12, 4));
  if (version == 1) {
    return Unexpected(
        QidMapError{Errno::kEPROTONOSUPPORT,
                    "qid-map state file " + path +
                        " was written by an older p9xd (format 1: numbers keyed by "
                        "st_dev, top-bit prefix layout); its numbers cannot be carried over. Move it away (p9xd "
                        "then starts a new journal there) and have clients with persistent caches of this export "
                        "drop them: files get new qids"});
  }
  if (version != kFormatVersion || layout != kLayoutId) {
    return Unexpected(
        QidMapError{Errno::kEPROTONOSUPPORT, "qid-map state file " + path + " has format " + std::to_string(version) +
                                                 " layout " + std::to_string(layout) +
                                                 "; this p9xd reads format 2 layout 2 (use the p9xd that wrote it)"});
  }
  if (bytes.size() < 20) return Unexpected(Corrupt(path, "truncated header"));
  const size_t export_len = GetLe(bytes, 16, 4);
  if (export_len > bytes.size() || 20 + export_len + 4 > bytes.size()) {
    return Unexpected(Corrupt(path, "truncated header"));
  }
  const size_t header_end = 20 + export_len + 4;
  if (Crc32c(bytes.data(), header_end - 4) != GetLe(bytes, header_end - 4, 4)) {
    return Unexpected(Corrupt(path, "header checksum mismatch"));
  }
  const std::string recorded = bytes.substr(20, export_len);
  if (recorded != options_.export_id) {
    return Unexpected(QidMapError{Errno::kEXDEV, "qid-map state file " + path + " belongs to export '" + recorded +
                                                     "', not '" + options_.export_id +
                                                     "': give each export its own --qid-state file"});
  }

  std::unordered_set<uint64_t> fallback_blocks;  // (fs << 44 | st_ino >> 20) of fallback entries
  size_t at = header_end;
  uint64_t record = 0;
  while (at < bytes.size()) {
    // A torn tail is what an append cut short leaves: a prefix of one record, zeros (space
    // allocated, data never written), or a last record failing its checksum. Damage anywhere
    // else refuses the file: ignoring it would forget numbers that clients may hold and hand
    // them to other files. The length is stored twice so that a damaged length is seen as
    // damage rather than taken for a record running past the end.
    const size_t left = bytes.size() - at;
    if (bytes.find_first_not_of('\0', at) == std::string::npos) break;
    if (left < kRecordHeader) break;
    const size_t length = GetLe(bytes, at + 1, 2);
    if ((length ^ GetLe(bytes, at + 3, 2)) != 0xFFFF) {
      return Unexpected(Corrupt(
          path, "record " + std::to_string(record) + " at byte " + std::to_string(at) + " has a damaged length"));
    }
    const size_t total = kRecordHeader + length + kRecordTrailer;
    if (total > left) break;
    if (Crc32c(bytes.data() + at, kRecordHeader + length) != GetLe(bytes, at + kRecordHeader + length, 4)) {
      if (total == left) break;
      return Unexpected(Corrupt(path, "record " + std::to_string(record) + " at byte " + std::to_string(at) +
                                          " has a bad checksum and is not the last"));
    }
    Assignment a = Assignment::Of(static_cast<RecordKind>(bytes[at]));
    const size_t p = at + kRecordHeader;
    if (a.kind == kFilesystemRecord && length >= 8) {
      a.path_hi = GetLe(bytes, p, 8);
      a.identity = bytes.substr(p + 8, length - 8);
    } else if ((a.kind == kBlockRecord || a.kind == kFallbackRecord) && length == 12) {
      a.fs = static_cast<uint32_t>(GetLe(bytes, p, 4));
      a.value = GetLe(bytes, p + 4, 8);
    } else {
      return Unexpected(Corrupt(path, "record " + std::to_string(record) + " has an unknown kind or size"));
    }
    if (auto valid = Validate(a, record); !valid) return Unexpected(valid.error());
    if (a.kind == kBlockRecord && fallback_blocks.count((uint64_t{a.fs} << 44) | a.value)) {
      return Unexpected(Corrupt(path, "record " + std::to_string(record) + " makes a block over a fallback entry"));
    }
    if (a.kind == kFallbackRecord) fallback_blocks.insert((uint64_t{a.fs} << 44) | (a.value >> kBlockBits));
    Commit(a);
    at += total;
    ++record;
  }
  *good_end = at;
  return {};
}

// Checks a record read from the journal against everything before it: a file this code could not
// have written is refused.
Result<void, QidMapError> QidMapper::Validate(const Assignment& a, uint64_t record) const {
  const std::string& path = options_.state_path;
  const std::string where = "record " + std::to_string(record);
  switch (a.kind) {
    case kFilesystemRecord:
      if (by_identity_.count(a.identity)) return Unexpected(Corrupt(path, where + " repeats an identity"));
      if (a.path_hi != internal::IdentityHash("path_hi", options_.export_id, a.identity)) {
        return Unexpected(Corrupt(path, where + " has a path_hi that is not its identity's"));
      }
      if (by_path_hi_.count(a.path_hi)) return Unexpected(Corrupt(path, where + " repeats a path_hi"));
      if (filesystems_.size() >= kMaxFilesystems) return Unexpected(Corrupt(path, "too many filesystems"));
      return {};
    case kBlockRecord:
    case kFallbackRecord:
      if (a.fs == 0 || a.fs > filesystems_.size()) {
        return Unexpected(Corrupt(path, where + " names an unknown filesystem"));
      }
      break;
  }
  if (a.kind == kBlockRecord) {
    if ((a.value >> (64 - kBlockBits)) != 0) return Unexpected(Corrupt(path, where + " has a key wider than 44 bits"));
    if (a.fs == 1 && a.value < (kIdentityLimit >> kBlockBits)) {
      return Unexpected(Corrupt(path, where + " makes a block inside the identity region"));
    }
    if (blocks_.Find(a.value, a.fs)) return Unexpected(Corrupt(path, where + " repeats a block"));
    if (filesystems_[a.fs - 1].blocks >= kBlocksPerFilesystem || block_count_ >= kMaxBlocks) {
      return Unexpected(Corrupt(path, where + " exceeds the block limits"));
    }
  } else {
    if (a.fs == 1 && a.value < kIdentityLimit) {
      return Unexpected(Corrupt(path, where + " makes a fallback entry inside the identity region"));
    }
    if (fallback_.Find(a.value, a.fs)) return Unexpected(Corrupt(path, where + " repeats a fallback entry"));
    if (blocks_.Find(a.value >> kBlockBits, a.fs)) {
      return Unexpected(Corrupt(path, where + " makes a fallback entry inside a block"));
    }
    if (fallback_.size() >= kMaxFallbackEntries) return Unexpected(Corrupt(path, "too many fallback entries"));
  }
  return {};
}

// Appends one record and syncs it. On failure the journal is cut back to where it was, so that
// the file stays as it was and a later append does not land after a half record; if even that
// fails, no further assignment is made (they would follow damage that the next load refuses).
Result<void> QidMapper::Append(const Assignment& a) {
  if (journal_fd_ < 0) return {};
  if (journal_broken_) return Unexpected(HostErrno(journal_errno_));
  const std::string bytes = a.Encode();
  if (WriteAll(journal_fd_, bytes.data(), bytes.size()) && ::fdatasync(journal_fd_) == 0) {
    journal_bytes_ += bytes.size();
    ++journal_appends_;
    return {};
  }
  const int e = errno;
  if (::ftruncate(journal_fd_, static_cast<off_t>(journal_bytes_)) != 0 || ::lseek(journal_fd_, 0, SEEK_END) < 0) {
    journal_broken_ = true;
    journal_errno_ = e;
    std::fprintf(stderr,
                 "p9xd: qid-map state file %s: a failed append could not be undone (%s); "
                 "no new file will be mapped until p9xd restarts\n",
                 options_.state_path.c_str(), std::strerror(errno));
  }
  return Unexpected(HostErrno(e));
}

}  // namespace p9x::server
