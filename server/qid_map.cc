// SPDX-License-Identifier: MIT
// QidMapper's lookups: numbering filesystems by identity, legacy paths from blocks and the
// fallback, extended paths, the per-thread lookup cache and the mount watcher. The state file they
// journal to is server/qid_map_journal.cc.
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

#include "server/qid_map_journal.h"

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

#ifdef P9X_FAULT_PATH_HI_BUILD
namespace fault {
// Defined by tests/conformance/path_hi_fault.cc, linked only into the test build p9xd-path-hi-fault.
std::optional<uint64_t> BrokenPathHi(uint64_t st_dev, uint64_t root_dev);
}  // namespace fault
#endif

Result<XqidPath> QidMapper::ExtendedPath(uint64_t dev, uint64_t ino) {
  if (options_.policy == MultiDevPolicy::kForbid && dev != options_.root_dev) {
    return Unexpected(Errno::kENODEV);
  }
  const CacheEntry& entry = CacheSlot(dev);
  uint64_t path_hi = entry.path_hi;
  if (entry.mapper != cache_id_.load(std::memory_order_acquire) || entry.dev != dev) {
    auto fs = FilesystemNumber(dev);
    if (!fs) return Unexpected(fs.error());
    path_hi = CacheSlot(dev).path_hi;
  }
#ifdef P9X_FAULT_PATH_HI_BUILD
  // A test build that breaks spec/xqid.md §7 on purpose (tests/conformance/fault_test.sh).
  if (auto broken = fault::BrokenPathHi(dev, options_.root_dev)) path_hi = *broken;
#endif
  return XqidPath{path_hi, ino};
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
