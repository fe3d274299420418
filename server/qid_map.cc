#include "server/qid_map.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <utility>

namespace p9x::server {
namespace {

// ---------------------------------------------------------------------------------------------
// Path arithmetic.

constexpr uint64_t LowMask(int bits) {
  return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
}

constexpr uint64_t WordOf(size_t tier, uint32_t index) {
  return (uint64_t{kTiers[tier].marker} << kTiers[tier].index_bits) | index;
}

constexpr uint64_t TierPath(size_t tier, uint32_t index, uint64_t ino) {
  const int shift = kTiers[tier].InodeBits();
  return (WordOf(tier, index) << shift) | (ino & LowMask(shift));
}

constexpr uint64_t FullMapPath(uint64_t epoch, uint64_t index) {
  return (kFullMapMarker << (kFullMapEpochBits + kFullMapIndexBits)) |
         ((epoch & LowMask(kFullMapEpochBits)) << kFullMapIndexBits) | index;
}

constexpr uint32_t WordsKeyB(uint32_t device, size_t tier) {
  return (device << 3) | static_cast<uint32_t>(tier);
}

// True when [first, last] overlaps one of the spans (disjoint, keyed by first inode).
bool Overlaps(const std::map<uint64_t, uint64_t>& spans, uint64_t first, uint64_t last) {
  auto it = spans.lower_bound(first);
  if (it != spans.end() && it->first <= last) return true;
  if (it != spans.begin() && std::prev(it)->second >= first) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Per-thread lookup cache: the last block seen for a device, direct-mapped by st_dev. An entry is
// valid only for the mapper whose id it carries; ids are never reused, and assignments are never
// removed, so a matching entry is always right.

struct CacheEntry {
  uint64_t mapper = 0;  // 0: empty
  uint64_t dev = 0;
  uint64_t key = 0;       // ino >> shift, when has_block
  uint64_t base = 0;      // word << shift
  uint64_t low_mask = 0;  // inode bits kept
  uint32_t device = 0;    // device number (valid whenever mapper matches)
  uint8_t shift = 0;
  bool has_block = false;
};

constexpr int kCacheBits = 4;
thread_local std::array<CacheEntry, size_t{1} << kCacheBits> t_cache;

inline CacheEntry& CacheSlot(uint64_t dev) {
  return t_cache[static_cast<size_t>((dev * 0x9E3779B97F4A7C15ULL) >> (64 - kCacheBits))];
}

std::atomic<uint64_t> g_next_mapper_id{1};

// ---------------------------------------------------------------------------------------------
// State file encoding: little-endian, CRC-32C trailer.

constexpr char kMagic[8] = {'P', '9', 'X', 'Q', 'I', 'D', 'M', 'P'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kLayoutId = 1;  // the kTiers table + full-map layout above
constexpr size_t kHeaderBytes = 32;
constexpr size_t kDeviceRecordBytes = 8;
constexpr size_t kWordRecordBytes = 16;
constexpr size_t kTrailerBytes = 4;

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

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t GetU32(const std::string& in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}
uint64_t GetU64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return v;
}

Errno HostErrno(int e) { return WireErrnoFromHost(e); }

QidMapError SysError(int e, const std::string& what) {
  return QidMapError{HostErrno(e), what + ": " + std::strerror(e)};
}

QidMapError Corrupt(const std::string& path, const std::string& why) {
  return QidMapError{Errno::kEBADMSG, "qid-map state file " + path + " is refused: " + why +
                                          " (move it away to start with fresh assignments)"};
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

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

// -----------------------------------------------------------------------------------------------
// DeviceTable

uint32_t DeviceTable::Find(uint64_t st_dev) const {
  const uint32_t* n = index_.Find(st_dev, 1);
  return n == nullptr ? kNoDevice : *n;
}

uint32_t DeviceTable::Add(uint64_t st_dev) {
  st_devs_.push_back(st_dev);
  const uint32_t number = static_cast<uint32_t>(st_devs_.size());
  index_.Insert(st_dev, 1, number);
  return number;
}

// -----------------------------------------------------------------------------------------------
// QidMapper

namespace {

QidCapacities Clamp(QidCapacities c) {
  for (size_t t = 0; t < kNumTiers; ++t) {
    c.tier_words[t] = std::min(c.tier_words[t], kTiers[t].Capacity());
  }
  c.full_map_entries = std::min(c.full_map_entries, kMaxFullMapEntries);
  c.devices = std::min(c.devices, kMaxDevices);
  return c;
}

}  // namespace

QidMapper::QidMapper(QidMapperOptions options)
    : id_(g_next_mapper_id.fetch_add(1, std::memory_order_relaxed)),
      options_(std::move(options)),
      devices_(Clamp(options_.capacities).devices) {
  options_.capacities = Clamp(options_.capacities);
}

QidMapper::~QidMapper() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<QidMapper>, QidMapError> QidMapper::Create(QidMapperOptions options) {
  std::unique_ptr<QidMapper> mapper(new QidMapper(std::move(options)));
  if (auto opened = mapper->Open(); !opened) return Unexpected(opened.error());

  // Register the export root before any other file so it gets device 1 and tier T0 (on a fresh
  // state), then write the state once: the new epoch and the root's assignments.
  {
    std::unique_lock lock(mapper->mu_);
    const QidMapperOptions& o = mapper->options_;
    if (o.policy == MultiDevPolicy::kRemap) {
      if (auto r = mapper->AssignLocked(o.root_dev, o.root_ino); !r) {
        return Unexpected(QidMapError{r.error(), "cannot map the export root"});
      }
    } else if (mapper->devices_.Find(o.root_dev) == DeviceTable::kNoDevice) {
      if (mapper->devices_.full()) {
        return Unexpected(QidMapError{Errno::kENFILE, "device table is full"});
      }
      mapper->Commit(Pending{o.root_dev, std::nullopt});
    }
    mapper->writes_enabled_ = true;
    if (auto w = mapper->Persist(Pending{}); !w) return Unexpected(w.error());
  }
  return mapper;
}

Result<void, QidMapError> QidMapper::Open() {
  const std::string& path = options_.state_path;
  if (path.empty()) return {};

  // One live mapper per state file: two would hand out the same words to different keys.
  const std::string lock_path = path + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Unexpected(SysError(errno, "cannot open " + lock_path));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EWOULDBLOCK) {
      return Unexpected(QidMapError{
          Errno::kEBUSY, "qid-map state file " + path + " is in use by another live mapper"});
    }
    return Unexpected(SysError(e, "cannot lock " + lock_path));
  }

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      epoch_ = 1;  // fresh state
      return {};
    }
    return Unexpected(SysError(errno, "cannot open " + path));
  }
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return Unexpected(SysError(e, "cannot read " + path));
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  std::unique_lock lock(mu_);
  return Parse(bytes);
}

std::optional<uint64_t> QidMapper::FindLocked(uint32_t device, uint64_t ino, size_t* tier) const {
  const DeviceBlocks& d = blocks_[device - 1];
  for (size_t t = 0; t < kNumTiers; ++t) {
    if ((d.tier_mask & (1u << t)) == 0) continue;
    const uint32_t* index = words_.Find(ino >> kTiers[t].InodeBits(), WordsKeyB(device, t));
    if (index != nullptr) {
      if (tier != nullptr) *tier = t;
      return TierPath(t, *index, ino);
    }
  }
  if (d.has_full) {
    if (const uint32_t* index = full_map_.Find(ino, device)) {
      if (tier != nullptr) *tier = kNumTiers;  // not cacheable
      return FullMapPath(epoch_, *index);
    }
  }
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
  if (entry.mapper == id_ && entry.dev == dev && entry.has_block &&
      (ino >> entry.shift) == entry.key) {
    return entry.base | (ino & entry.low_mask);
  }
  {
    std::shared_lock lock(mu_);
    const uint32_t device = devices_.Find(dev);
    if (device != DeviceTable::kNoDevice) {
      size_t tier = kNumTiers;
      if (std::optional<uint64_t> path = FindLocked(device, ino, &tier)) {
        if (tier < kNumTiers) {
          const int shift = kTiers[tier].InodeBits();
          entry = CacheEntry{id_,
                             dev,
                             ino >> shift,
                             *path & ~LowMask(shift),
                             LowMask(shift),
                             device,
                             static_cast<uint8_t>(shift),
                             true};
        }
        return *path;
      }
    }
  }
  std::unique_lock lock(mu_);
  return AssignLocked(dev, ino);
}

Result<uint64_t> QidMapper::AssignLocked(uint64_t dev, uint64_t ino) {
  Pending pending;
  uint32_t device = devices_.Find(dev);
  if (device != DeviceTable::kNoDevice) {
    if (std::optional<uint64_t> path = FindLocked(device, ino, nullptr)) return *path;  // raced
  } else {
    if (devices_.full()) return Unexpected(Errno::kENFILE);
    device = devices_.size() + 1;
    pending.new_st_dev = dev;
  }

  // The lowest tier with a free word whose block around ino is disjoint from the device's blocks.
  for (size_t t = 0; t < kNumTiers; ++t) {
    if (words_used_[t] >= options_.capacities.tier_words[t]) continue;
    const int shift = kTiers[t].InodeBits();
    const uint64_t key = ino >> shift;
    const uint64_t first = key << shift;
    const uint64_t last = first | LowMask(shift);
    if (!pending.new_st_dev && Overlaps(blocks_[device - 1].spans, first, last)) continue;
    pending.word = WordRecord{key, device, static_cast<uint8_t>(t), words_used_[t]};
    break;
  }
  if (!pending.word && full_map_.size() >= options_.capacities.full_map_entries) {
    return Unexpected(Errno::kENFILE);  // refuse rather than collide
  }
  if (pending.new_st_dev || pending.word) {
    if (auto w = Persist(pending); !w) return Unexpected(w.error().code);
  }
  Commit(pending);
  if (pending.word) return TierPath(pending.word->tier, pending.word->index, ino);

  const uint32_t index = static_cast<uint32_t>(full_map_.size());
  full_map_.Insert(ino, device, index);
  blocks_[device - 1].has_full = true;
  return FullMapPath(epoch_, index);
}

Result<uint32_t> QidMapper::DeviceNumber(uint64_t dev) {
  CacheEntry& entry = CacheSlot(dev);
  if (entry.mapper == id_ && entry.dev == dev) return entry.device;
  {
    std::shared_lock lock(mu_);
    const uint32_t device = devices_.Find(dev);
    if (device != DeviceTable::kNoDevice) {
      entry = CacheEntry{id_, dev, 0, 0, 0, device, 0, false};
      return device;
    }
  }
  std::unique_lock lock(mu_);
  if (const uint32_t device = devices_.Find(dev); device != DeviceTable::kNoDevice) return device;
  if (devices_.full()) return Unexpected(Errno::kENFILE);
  const Pending pending{dev, std::nullopt};
  if (auto w = Persist(pending); !w) return Unexpected(w.error().code);
  Commit(pending);
  return devices_.size();
}

Result<XqidPath> QidMapper::ExtendedPath(uint64_t dev, uint64_t ino) {
  if (options_.policy == MultiDevPolicy::kForbid && dev != options_.root_dev) {
    return Unexpected(Errno::kENODEV);
  }
  Result<uint32_t> device = DeviceNumber(dev);
  if (!device) return Unexpected(device.error());
  return XqidPath{*device, ino};
}

void QidMapper::Commit(const Pending& pending) {
  if (pending.new_st_dev) {
    devices_.Add(*pending.new_st_dev);
    blocks_.emplace_back();
  }
  if (pending.word) {
    const WordRecord& w = *pending.word;
    const int shift = kTiers[w.tier].InodeBits();
    words_.Insert(w.key, WordsKeyB(w.device, w.tier), w.index);
    ++words_used_[w.tier];
    word_log_.push_back(w);
    DeviceBlocks& d = blocks_[w.device - 1];
    d.tier_mask = static_cast<uint8_t>(d.tier_mask | (1u << w.tier));
    const uint64_t first = w.key << shift;
    d.spans.emplace(first, first | LowMask(shift));
  }
}

QidMapStats QidMapper::Stats() const {
  std::shared_lock lock(mu_);
  QidMapStats s;
  s.devices = devices_.size();
  s.words_used = words_used_;
  s.full_map_entries = full_map_.size();
  s.state_writes = state_writes_;
  s.epoch = epoch_;
  return s;
}

// -----------------------------------------------------------------------------------------------
// Persistence

std::string QidMapper::Serialize(const Pending& pending) const {
  const uint32_t devices = devices_.size() + (pending.new_st_dev ? 1 : 0);
  const uint32_t words = static_cast<uint32_t>(word_log_.size() + (pending.word ? 1 : 0));
  std::string out;
  out.reserve(kHeaderBytes + devices * kDeviceRecordBytes + words * kWordRecordBytes +
              kTrailerBytes);
  out.append(kMagic, sizeof kMagic);
  PutU32(out, kFormatVersion);
  PutU32(out, kLayoutId);
  PutU64(out, epoch_);
  PutU32(out, devices);
  PutU32(out, words);
  for (uint32_t n = 1; n <= devices_.size(); ++n) PutU64(out, devices_.StDev(n));
  if (pending.new_st_dev) PutU64(out, *pending.new_st_dev);
  auto put_word = [&out](const WordRecord& w) {
    PutU64(out, w.key);
    PutU32(out, w.device);
    PutU32(out, (uint32_t{w.tier} << 24) | w.index);
  };
  for (const WordRecord& w : word_log_) put_word(w);
  if (pending.word) put_word(*pending.word);
  PutU32(out, Crc32c(out.data(), out.size()));
  return out;
}

Result<void, QidMapError> QidMapper::Persist(const Pending& pending) {
  const std::string& path = options_.state_path;
  if (path.empty() || !writes_enabled_) return {};
  const std::string bytes = Serialize(pending);
  const std::string tmp = path + ".tmp";

  // Crash safety: the new content goes to a temp file in the same directory and is fsync'd before
  // rename(2) replaces the old file atomically; the directory fsync makes the rename durable before
  // we return (and so before any qid using the assignment is sent). A crash at any point leaves
  // either the old or the new complete file; a stale .tmp is truncated by the next write.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unexpected(SysError(errno, "cannot create " + tmp));
  if (!WriteAll(fd, bytes) || ::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Unexpected(SysError(e, "cannot write " + tmp));
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Unexpected(SysError(e, "cannot write " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Unexpected(SysError(e, "cannot rename " + tmp + " to " + path));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Unexpected(SysError(errno, "cannot open directory " + dir));
  const int synced = ::fsync(dir_fd);
  const int e = errno;
  ::close(dir_fd);
  if (synced != 0) return Unexpected(SysError(e, "cannot fsync directory " + dir));
  ++state_writes_;
  return {};
}

Result<void, QidMapError> QidMapper::Parse(const std::string& bytes) {
  const std::string& path = options_.state_path;
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Unexpected(Corrupt(path, "it is not a p9x qid-map state file (bad magic)"));
  }
  // Every format version ends with the CRC-32C of all preceding bytes, so a torn or bit-flipped
  // file is told apart from a newer version before the version field is trusted.
  if (bytes.size() < kHeaderBytes + kTrailerBytes) return Unexpected(Corrupt(path, "truncated"));
  const size_t body = bytes.size() - kTrailerBytes;
  if (Crc32c(bytes.data(), body) != GetU32(bytes, body)) {
    return Unexpected(Corrupt(path, "checksum mismatch (torn or corrupted)"));
  }
  const uint32_t version = GetU32(bytes, 8);
  const uint32_t layout = GetU32(bytes, 12);
  if (version != kFormatVersion || layout != kLayoutId) {
    return Unexpected(QidMapError{
        Errno::kEPROTONOSUPPORT, "qid-map state file " + path + " has format " +
                                     std::to_string(version) + " layout " + std::to_string(layout) +
                                     "; this p9xd reads format 1 layout 1"});
  }
  const uint64_t epoch = GetU64(bytes, 16);
  const uint64_t devices = GetU32(bytes, 24);
  const uint64_t words = GetU32(bytes, 28);
  if (kHeaderBytes + devices * kDeviceRecordBytes + words * kWordRecordBytes + kTrailerBytes !=
      bytes.size()) {
    return Unexpected(Corrupt(path, "record counts do not match the file size"));
  }
  if (devices > kMaxDevices) return Unexpected(Corrupt(path, "too many devices"));

  // Validate everything before committing anything: a file we could not have written is refused.
  size_t at = kHeaderBytes;
  for (uint64_t n = 0; n < devices; ++n, at += kDeviceRecordBytes) {
    const uint64_t st_dev = GetU64(bytes, at);
    if (devices_.Find(st_dev) != DeviceTable::kNoDevice) {
      return Unexpected(Corrupt(path, "st_dev " + std::to_string(st_dev) + " appears twice"));
    }
    devices_.Add(st_dev);  // DeviceTable capacity does not bind restored devices
    blocks_.emplace_back();
  }
  for (uint64_t n = 0; n < words; ++n, at += kWordRecordBytes) {
    WordRecord w;
    w.key = GetU64(bytes, at);
    w.device = GetU32(bytes, at + 8);
    const uint32_t tier_index = GetU32(bytes, at + 12);
    const uint32_t tier = tier_index >> 24;
    w.index = tier_index & 0xFFFFFF;
    const std::string where = "word record " + std::to_string(n);
    if (w.device == 0 || w.device > devices) {
      return Unexpected(Corrupt(path, where + " names an unknown device"));
    }
    if (tier >= kNumTiers || w.index >= kTiers[tier].Capacity()) {
      return Unexpected(Corrupt(path, where + " has an impossible tier or index"));
    }
    w.tier = static_cast<uint8_t>(tier);
    const int shift = kTiers[tier].InodeBits();
    if ((w.key >> kTiers[tier].WordBits()) != 0) {
      return Unexpected(Corrupt(path, where + " has a key wider than its tier"));
    }
    if (w.index != words_used_[tier]) {  // words are handed out densely, in order, per tier
      return Unexpected(Corrupt(path, where + " is out of sequence"));
    }
    const uint64_t first = w.key << shift;
    if (Overlaps(blocks_[w.device - 1].spans, first, first | LowMask(shift))) {
      return Unexpected(Corrupt(path, where + " overlaps another block of its device"));
    }
    Commit(Pending{std::nullopt, w});
  }
  if (epoch == ~uint64_t{0}) return Unexpected(Corrupt(path, "epoch overflow"));
  epoch_ = epoch + 1;
  return {};
}

}  // namespace p9x::server
