// SPDX-License-Identifier: MIT
#include "server/qid_map.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <utility>

namespace p9x::server {
namespace {

constexpr uint64_t LowMask(int bits) {
  return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
}
constexpr uint64_t BlockPath(uint64_t index, uint64_t ino) {
  return kIdentityLimit + (index << kBlockBits) + (ino & LowMask(kBlockBits));
}
constexpr uint64_t FallbackPath(uint64_t index) { return kFallbackBase + index; }

// ---------------------------------------------------------------------------------------------
// Per-thread lookup cache: the last block seen for a device, direct-mapped by st_dev. An entry is
// valid only for the mapper whose id it carries; ids are never reused, and assignments are never
// removed, so a matching entry is always right.

struct CacheEntry {
  uint64_t mapper = 0;  // 0: empty
  uint64_t dev = 0;
  uint32_t fs = 0;        // filesystem number (valid whenever mapper and dev match)
  uint64_t path_hi = 0;   // its path_hi (likewise)
  bool has_block = false;
  uint64_t key = 0;       // ino >> kBlockBits, when has_block
  uint64_t base = 0;      // path of the block's first inode
};

constexpr int kCacheBits = 4;
thread_local std::array<CacheEntry, size_t{1} << kCacheBits> t_cache;

inline CacheEntry& CacheSlot(uint64_t dev) {
  return t_cache[static_cast<size_t>((dev * 0x9E3779B97F4A7C15ULL) >> (64 - kCacheBits))];
}

std::atomic<uint64_t> g_next_mapper_id{1};

// ---------------------------------------------------------------------------------------------
// Journal encoding (spec/qid-map.md §3): little-endian, CRC-32C per header and per record.

constexpr char kMagic[8] = {'P', '9', 'X', 'Q', 'I', 'D', 'M', 'P'};
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kLayoutId = 2;
constexpr size_t kRecordHeader = 5;  // kind u8, payload length u16, its complement u16
constexpr size_t kRecordTrailer = 4;  // CRC-32C of kind, length and payload
enum RecordKind : uint8_t { kFilesystemRecord = 1, kBlockRecord = 2, kFallbackRecord = 3 };

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

std::string Header(const std::string& export_id) {
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
  return QidMapError{Errno::kEBADMSG,
                     "qid-map state file " + path + " is refused: " + why +
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

}  // namespace

// The record a lookup is about to add; appended to the journal before Commit makes it visible.
struct QidMapper::Assignment {
  RecordKind kind = kFilesystemRecord;
  uint32_t fs = 0;            // block, fallback: the owner
  uint64_t value = 0;         // block: st_ino >> kBlockBits; fallback: st_ino
  std::string identity;       // filesystem
  uint64_t path_hi = 0;       // filesystem

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

// -----------------------------------------------------------------------------------------------
// internal::PackedTable

namespace internal {

PackedTable::PackedTable() : slots_(16), mask_(15), shift_(60) {}

size_t PackedTable::IndexOf(uint64_t a, uint32_t b) const {
  // Fibonacci hashing: the top bits of the product spread sequential inode numbers evenly.
  const uint64_t h = (a ^ (uint64_t{b} * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL;
  return static_cast<size_t>(h >> shift_);
}

const uint32_t* PackedTable::Find(uint64_t a, uint32_t b) const {
  for (size_t i = IndexOf(a, b);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.b == 0) return nullptr;
    if (s.a == a && s.b == b) return &s.value;
  }
}

void PackedTable::Insert(uint64_t a, uint32_t b, uint32_t value) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
  size_t i = IndexOf(a, b);
  while (slots_[i].b != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{a, b, value};
  ++size_;
}

void PackedTable::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  --shift_;
  for (const Slot& s : old) {
    if (s.b == 0) continue;
    size_t i = IndexOf(s.a, s.b);
    while (slots_[i].b != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void ShardedSharedMutex::lock() {
  for (Shard& s : shards_) s.mu.lock();
}

void ShardedSharedMutex::unlock() {
  for (size_t i = kShards; i-- > 0;) shards_[i].mu.unlock();
}

std::shared_mutex& ShardedSharedMutex::ReaderShard() {
  static std::atomic<size_t> next_thread{0};
  thread_local const size_t slot = next_thread.fetch_add(1, std::memory_order_relaxed);
  return shards_[slot % kShards].mu;
}

}  // namespace internal

namespace internal {

uint64_t IdentityHash(std::string_view domain, std::string_view export_id, std::string_view identity) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  auto mix = [&h](std::string_view part) {
    uint64_t n = part.size();
    for (int i = 0; i < 8; ++i, n >>= 8) h = (h ^ (n & 0xFF)) * 0x100000001b3ULL;
    for (char c : part) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  };
  mix(domain);
  mix(export_id);
  mix(identity);
  // splitmix64's finalizer: every input bit reaches every output bit.
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h == 0 ? 1 : h;
}

}  // namespace internal

// -----------------------------------------------------------------------------------------------
// QidMapper

namespace {
constexpr size_t kMaxIdentityBytes = 16384;
}  // namespace

QidMapper::QidMapper(QidMapperOptions options)
    : cache_id_(g_next_mapper_id.fetch_add(1, std::memory_order_relaxed)), options_(std::move(options)) {
  QidCapacities& c = options_.capacities;
  c.blocks = std::min(c.blocks, kMaxBlocks);
  c.blocks_per_filesystem = std::min(c.blocks_per_filesystem, kBlocksPerFilesystem);
  c.filesystems = std::min(c.filesystems, kMaxFilesystems);
  options_.fallback_cap = std::min(options_.fallback_cap, kMaxFallbackEntries);
  if (!options_.identify) {
    options_.identify = [](uint64_t st_dev) { return "st_dev:" + std::to_string(st_dev); };
  }
}

QidMapper::~QidMapper() {
  if (watcher_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
    watcher_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (journal_fd_ >= 0) ::close(journal_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<QidMapper>, QidMapError> QidMapper::Create(QidMapperOptions options) {
  std::unique_ptr<QidMapper> mapper(new QidMapper(std::move(options)));
  if (auto opened = mapper->Open(); !opened) return Unexpected(opened.error());
  const QidMapperOptions& o = mapper->options_;
  std::unique_lock lock(mapper->mu_);
  // The export root's filesystem is the first record of a fresh journal (so it owns the identity
  // region), and the root itself is mapped before any other file.
  auto fs = mapper->FilesystemLocked(o.root_dev);
  if (!fs) return Unexpected(QidMapError{fs.error(), "cannot number the export root's filesystem"});
  if (o.policy == MultiDevPolicy::kRemap) {
    if (auto r = mapper->AssignLocked(o.root_dev, o.root_ino); !r) {
      return Unexpected(QidMapError{r.error(), "cannot map the export root"});
    }
  }
  if (o.watch_mounts) {
    mapper->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (mapper->wake_fd_ < 0) return Unexpected(SysError(errno, "cannot watch the mount table"));
    QidMapper* self = mapper.get();
    mapper->watcher_ = std::thread([self] { self->WatchMounts(); });
  }
  return mapper;
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
      return Unexpected(QidMapError{
          Errno::kEBUSY, "qid-map state file " + path + " is in use by another live p9xd"});
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
  const std::string header = Header(options_.export_id);
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
    return Unexpected(QidMapError{
        Errno::kEPROTONOSUPPORT,
        "qid-map state file " + path + " was written by an older p9xd (format 1: numbers keyed by "
        "st_dev, top-bit prefix layout); its numbers cannot be carried over. Move it away (p9xd "
        "then starts a new journal there) and have clients with persistent caches of this export "
        "drop them: files get new qids"});
  }
  if (version != kFormatVersion || layout != kLayoutId) {
    return Unexpected(QidMapError{Errno::kEPROTONOSUPPORT,
                                  "qid-map state file " + path + " has format " +
                                      std::to_string(version) + " layout " + std::to_string(layout) +
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
    return Unexpected(QidMapError{Errno::kEXDEV, "qid-map state file " + path + " belongs to export '" +
                                                     recorded + "', not '" + options_.export_id +
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
      return Unexpected(Corrupt(path, "record " + std::to_string(record) + " at byte " + std::to_string(at) +
                                          " has a damaged length"));
    }
    const size_t total = kRecordHeader + length + kRecordTrailer;
    if (total > left) break;
    if (Crc32c(bytes.data() + at, kRecordHeader + length) != GetLe(bytes, at + kRecordHeader + length, 4)) {
      if (total == left) break;
      return Unexpected(Corrupt(path, "record " + std::to_string(record) + " at byte " +
                                          std::to_string(at) + " has a bad checksum and is not the last"));
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

void QidMapper::Commit(const Assignment& a) {
  switch (a.kind) {
    case kFilesystemRecord: {
      filesystems_.push_back(Filesystem{a.identity, a.path_hi, 0});
      const auto number = static_cast<uint32_t>(filesystems_.size());
      by_identity_.emplace(a.identity, number);
      by_path_hi_.emplace(a.path_hi, number);
      break;
    }
    case kBlockRecord:
      blocks_.Insert(a.value, a.fs, static_cast<uint32_t>(block_count_));
      ++block_count_;
      ++filesystems_[a.fs - 1].blocks;
      break;
    case kFallbackRecord:
      fallback_.Insert(a.value, a.fs, static_cast<uint32_t>(fallback_.size()));
      break;
  }
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
  if (::ftruncate(journal_fd_, static_cast<off_t>(journal_bytes_)) != 0 ||
      ::lseek(journal_fd_, 0, SEEK_END) < 0) {
    journal_broken_ = true;
    journal_errno_ = e;
    std::fprintf(stderr, "p9xd: qid-map state file %s: a failed append could not be undone (%s); "
                         "no new file will be mapped until p9xd restarts\n",
                 options_.state_path.c_str(), std::strerror(errno));
  }
  return Unexpected(HostErrno(e));
}

// The filesystem number of a live st_dev; a new record (journaled) for an identity never seen.
Result<uint32_t> QidMapper::FilesystemLocked(uint64_t dev) {
  if (const uint32_t* n = live_.Find(dev, 1)) return *n;
  // Once per st_dev per mapper life; p9xd's identifier reads mountinfo and stats mount points,
  // during which other threads' cache misses wait.
  const std::string identity = options_.identify(dev);
  if (identity.size() > kMaxIdentityBytes) return Unexpected(Errno::kENAMETOOLONG);
  uint32_t number = 0;
  if (auto it = by_identity_.find(identity); it != by_identity_.end()) {
    number = it->second;
    if (auto bound = live_dev_of_.find(number); bound != live_dev_of_.end()) {
      // Two live filesystems the identifier cannot tell apart: numbering both would merge them.
      std::fprintf(stderr, "p9xd: qid map: st_dev %llu and %llu have one identity (%s); the second is refused\n",
                   static_cast<unsigned long long>(bound->second), static_cast<unsigned long long>(dev),
                   identity.c_str());
      return Unexpected(Errno::kENFILE);
    }
  } else {
    if (filesystems_.size() >= options_.capacities.filesystems) return Unexpected(Errno::kENFILE);
    Assignment a = Assignment::Of(kFilesystemRecord);
    a.identity = identity;
    a.path_hi = internal::IdentityHash("path_hi", options_.export_id, identity);
    if (auto other = by_path_hi_.find(a.path_hi); other != by_path_hi_.end()) {
      std::fprintf(stderr, "p9xd: qid map: identities '%s' and '%s' hash to one path_hi; the second is refused\n",
                   filesystems_[other->second - 1].identity.c_str(), identity.c_str());
      return Unexpected(Errno::kENFILE);  // fail closed: never two filesystems on one number
    }
    if (auto w = Append(a); !w) return Unexpected(w.error());
    Commit(a);
    number = static_cast<uint32_t>(filesystems_.size());
  }
  live_.Insert(dev, 1, number);
  live_dev_of_.emplace(number, dev);
  return number;
}

std::optional<uint64_t> QidMapper::FindLocked(uint32_t fs, uint64_t ino) const {
  if (fs == 1 && ino < kIdentityLimit) return ino;
  if (const uint32_t* block = blocks_.Find(ino >> kBlockBits, fs)) return BlockPath(*block, ino);
  if (const uint32_t* index = fallback_.Find(ino, fs)) return FallbackPath(*index);
  return std::nullopt;
}

Result<uint64_t> QidMapper::LegacyPath(uint64_t dev, uint64_t ino) {
  switch (options_.policy) {
    case MultiDevPolicy::kPassthrough:
      return ino;  // UNSAFE by design: see MultiDevPolicy::kPassthrough
    case MultiDevPolicy::kForbid:
      if (dev != options_.root_dev) return Unexpected(Errno::kENODEV);
      return ino;  // one device: st_ino alone is injective
    case MultiDevPolicy::kRemap:
      break;
  }
  CacheEntry& entry = CacheSlot(dev);
  if (entry.mapper == cache_id_.load(std::memory_order_acquire) && entry.dev == dev) {
    if (entry.fs == 1 && ino < kIdentityLimit) return ino;
    if (entry.has_block && (ino >> kBlockBits) == entry.key) return entry.base + (ino & LowMask(kBlockBits));
  }
  {
    std::shared_lock lock(mu_);
    if (const uint32_t* fs = live_.Find(dev, 1)) {
      if (std::optional<uint64_t> path = FindLocked(*fs, ino)) {
        entry = CacheEntry{cache_id_.load(std::memory_order_relaxed), dev, *fs, filesystems_[*fs - 1].path_hi,
                           false, 0, 0};
        if (const uint32_t* block = blocks_.Find(ino >> kBlockBits, *fs)) {
          entry.has_block = true;
          entry.key = ino >> kBlockBits;
          entry.base = BlockPath(*block, 0);
        }
        return *path;
      }
    }
  }
  std::unique_lock lock(mu_);
  return AssignLocked(dev, ino);
}

Result<uint64_t> QidMapper::AssignLocked(uint64_t dev, uint64_t ino) {
  auto fs = FilesystemLocked(dev);
  if (!fs) return Unexpected(fs.error());
  if (std::optional<uint64_t> path = FindLocked(*fs, ino)) return *path;  // raced, or known
  Filesystem& f = filesystems_[*fs - 1];
  if (f.blocks < options_.capacities.blocks_per_filesystem && block_count_ < options_.capacities.blocks) {
    Assignment a = Assignment::Of(kBlockRecord, *fs, ino >> kBlockBits);
    if (auto w = Append(a); !w) return Unexpected(w.error());
    Commit(a);
    return BlockPath(block_count_ - 1, ino);
  }
  if (fallback_.size() >= options_.fallback_cap) {
    if (!fallback_full_logged_) {
      fallback_full_logged_ = true;
      std::fprintf(stderr, "p9xd: qid map: the per-file fallback map is full (%llu entries, --qid-fallback-cap); "
                           "new files on filesystems without room for blocks get ENFILE\n",
                   static_cast<unsigned long long>(options_.fallback_cap));
    }
    return Unexpected(Errno::kENFILE);  // refuse rather than collide
  }
  Assignment a = Assignment::Of(kFallbackRecord, *fs, ino);
  if (auto w = Append(a); !w) return Unexpected(w.error());
  Commit(a);
  return FallbackPath(fallback_.size() - 1);
}

Result<uint32_t> QidMapper::FilesystemNumber(uint64_t dev) {
  CacheEntry& entry = CacheSlot(dev);
  if (entry.mapper == cache_id_.load(std::memory_order_acquire) && entry.dev == dev) return entry.fs;
  {
    std::shared_lock lock(mu_);
    if (const uint32_t* fs = live_.Find(dev, 1)) {
      entry = CacheEntry{cache_id_.load(std::memory_order_relaxed), dev, *fs, filesystems_[*fs - 1].path_hi,
                         false, 0, 0};
      return *fs;
    }
  }
  std::unique_lock lock(mu_);
  auto fs = FilesystemLocked(dev);
  if (!fs) return Unexpected(fs.error());
  entry = CacheEntry{cache_id_.load(std::memory_order_relaxed), dev, *fs, filesystems_[*fs - 1].path_hi, false, 0, 0};
  return *fs;
}

Result<XqidPath> QidMapper::ExtendedPath(uint64_t dev, uint64_t ino) {
  if (options_.policy == MultiDevPolicy::kForbid && dev != options_.root_dev) {
    return Unexpected(Errno::kENODEV);
  }
  const CacheEntry& entry = CacheSlot(dev);
  if (entry.mapper == cache_id_.load(std::memory_order_acquire) && entry.dev == dev) {
    return XqidPath{entry.path_hi, ino};
  }
  auto fs = FilesystemNumber(dev);
  if (!fs) return Unexpected(fs.error());
  return XqidPath{CacheSlot(dev).path_hi, ino};
}

Result<uint64_t> QidMapper::FilesystemId(uint64_t dev) {
  auto fs = FilesystemNumber(dev);
  if (!fs) return Unexpected(fs.error());
  std::shared_lock lock(mu_);
  return internal::IdentityHash("fsid", options_.export_id, filesystems_[*fs - 1].identity);
}

void QidMapper::ForgetLiveDevices() {
  std::unique_lock lock(mu_);
  live_ = internal::PackedTable();
  live_dev_of_.clear();
  cache_id_.store(g_next_mapper_id.fetch_add(1, std::memory_order_relaxed), std::memory_order_release);
}

// The kernel flags /proc/self/mountinfo with POLLPRI | POLLERR after every change of this mount
// namespace; poll() itself re-arms it.
void QidMapper::WatchMounts() {
  const int fd = ::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  for (;;) {
    struct pollfd fds[2] = {{fd, POLLPRI, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & (POLLPRI | POLLERR)) != 0) ForgetLiveDevices();
  }
  ::close(fd);
}

QidMapStats QidMapper::Stats() const {
  std::shared_lock lock(mu_);
  QidMapStats s;
  s.filesystems = static_cast<uint32_t>(filesystems_.size());
  s.blocks = block_count_;
  s.fallback_entries = fallback_.size();
  s.journal_appends = journal_appends_;
  s.journal_bytes = journal_bytes_;
  return s;
}

}  // namespace p9x::server
