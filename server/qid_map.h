// Qid identity maps: how p9xd turns a host file's (st_dev, st_ino) into a qid path that no other
// file on the export shares, in both dialects. The design write-up is spec/qid-map.md.
//
// qid(5): "two files on the same server hierarchy are the same if and only if their qids are the
// same." A Linux client with cache=loose/fscache reuses one guest inode for two host files whose
// qid.path (and version, type) match, so a duplicate path routes I/O to the wrong file
// (research/protocol.md §3.6). Every qid p9xd sends therefore goes through a QidMapper.
//
// EXTENDED (xqid) SESSIONS. The path is 128 bits: path_hi = a server-assigned filesystem number
// from the DeviceTable (1 for the export root's filesystem, 2, 3, ... in order of first sight; 0 is
// reserved) and path = st_ino verbatim. Raw st_dev is never sent: it leaks host layout and changes
// across reboots. Injective because (st_dev, st_ino) identifies a host file and the DeviceTable is
// injective.
//
// LEGACY (9P2000.L) SESSIONS, policy kRemap. The 64-bit path is a prefix code word in the top bits
// followed by low inode bits:
//
//   tier  code word                      L = word bits  words      inode bits kept = 64-L
//   T0    0                              1              1          63
//   T1    10   + 2-bit index             4              4          60
//   T2    110  + 6-bit index             9              64         55
//   T3    1110 + 12-bit index            16             4096       48
//   T4    11110 + 20-bit index           25             1048576    39
//   full  11111 + epoch[16] + index[43]  5 (+59)        2^32-1 per server lifetime (slot packing)
//
//   path = word << (64-L) | (st_ino & (2^(64-L) - 1))       (prefix tiers)
//   path = 0b11111 << 59 | (epoch & 0xffff) << 43 | index    (full map)
//
// A code word of tier t is assigned to exactly one KEY (device number, t, st_ino >> (64-L_t)):
// the key names the aligned block of 2^(64-L_t) inode numbers that share those top bits. Words
// are handed out in index order per tier and never reused. On a miss for (dev, ino) the mapper
// takes the lowest tier that has a free word and whose block around ino does not overlap a block
// the device already owns; if none qualifies, (dev, ino) gets a per-file full-map entry; if the
// full map is at capacity the lookup fails with ENFILE. The export root's key is assigned first, so
// it gets T0: an export of one filesystem whose inode numbers are below 2^63 shows clients
// qid.path == st_ino.
//
// INJECTIVITY (two different files never get one path):
//   (a) The code {T0..T4 words, 11111} is prefix-free: the count of leading 1s before the first 0
//       names the tier (0..4), and five leading 1s is the full-map prefix; within a tier all words
//       have one length. Kraft sum 1/2 + 4/16 + 64/512 + 4096/2^16 + 2^20/2^25 + 1/32 = 1.
//       So paths built on different words differ within the shorter word's bits.
//   (b) Same word => same key (each word goes to one key) => same device number => same st_dev
//       (DeviceTable is injective), and the same top L bits of st_ino; the low 64-L bits are copied
//       verbatim, so equal paths => equal st_ino.
//   (c) Full-map paths start with 11111, which no tier word does (a). Within the region, (epoch,
//       index) is unique: index comes from a per-lifetime counter, epoch from the state file and
//       increases at every start, so a full-map path of an earlier server life is not reused for
//       another file in a later one (as long as fewer than 65536 restarts separate them).
// The mapping is also a FUNCTION (one file, one path, for the mapper's life): a new block is
// created only for an ino that no block of its device contains, and only if it is disjoint from
// all of that device's blocks, so a device's blocks stay pairwise disjoint and at most one contains
// a given ino. An inode sent to the full map is never covered by a later block: when it was sent
// there, every tier was full (and stays full: words are never freed) or its block in that tier
// overlapped an existing block (and still does: blocks are never freed). This avoids QEMU's latent
// flaws, a key width fixed per device at first sight while later suffixes are longer, and a key
// truncated to 16 bits (research/protocol.md §3.4): here the key width is the tier's own L and
// the key is all top L bits.
//
// STABILITY (QEMU's rule, kept): a key's word and a st_dev's device number never change while the
// mapper lives. With a state file they also survive restarts: every new device number and every new
// word is written durably (temp file, fsync, rename, fsync dir) BEFORE the lookup that created it
// returns, so no qid using an assignment can reach a client before the assignment is on disk.
// Full-map entries are per server life (not persisted); the epoch keeps them distinct across lives.
// Everything is keyed by the numeric st_dev (or whatever 64-bit key the caller passes as `dev`).
// st_dev of real block devices (major:minor) is normally stable across reboots; of loop, dm, and
// anonymous devices (tmpfs, overlay, FUSE, btrfs subvolumes) it is not. A caller that wants reboot
// stability may pass its own stable 64-bit key, but it must stay injective over live filesystems:
// filesystem UUIDs and f_fsid are NOT (cloned ext4 images share both, research/peers.md), which is
// why the default is st_dev.
//
// CONCURRENCY. Every public method may be called from any number of threads at once.
// LegacyPath/ExtendedPath first consult a small per-thread cache (last block per device slot); a
// hit takes no lock and touches no shared memory. Otherwise they take a shared lock for the
// lookup, and an exclusive lock to assign (and, with a state file, to write it: an assignment
// costs one fsync'd rewrite, during which other threads' cache misses wait). Entries are never
// removed, so a cached entry can never become wrong.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "codec/linux_errno.h"
#include "codec/result.h"

namespace p9x::server {

// What to do with files whose st_dev differs from the export root's (QEMU's multidevs=).
enum class MultiDevPolicy : uint8_t {
  // Legacy sessions get prefix-mapped paths (above); never a duplicate. The default.
  kRemap = 0,
  // Files on any other device than the export root's are refused with ENODEV, in both dialects
  // (so both kinds of client see the same tree). ENODEV, as QEMU's multidevs=forbid: EXDEV is
  // wrong because userspace gives it a meaning (mv(1) treats EXDEV from rename as "copy across
  // filesystems" and retries as copy+unlink). Root-device files get path = st_ino.
  kForbid = 1,
  // Legacy path = st_ino, unmapped. UNSAFE: files on different devices collide. It exists only to
  // demonstrate the failure. xqid sessions are unaffected (path_hi still separates devices).
  kPassthrough = 2,
};

inline constexpr size_t kNumTiers = 5;

// One tier of the prefix code: `marker_bits` bits of `marker` then `index_bits` bits of index.
struct PrefixTier {
  uint32_t marker;
  uint8_t marker_bits;
  uint8_t index_bits;
  constexpr uint8_t WordBits() const { return static_cast<uint8_t>(marker_bits + index_bits); }
  constexpr uint8_t InodeBits() const { return static_cast<uint8_t>(64 - WordBits()); }
  constexpr uint32_t Capacity() const { return uint32_t{1} << index_bits; }
};

// The code layout (state-file layout id 1). Changing it invalidates every state file.
inline constexpr std::array<PrefixTier, kNumTiers> kTiers = {{
    {0b0, 1, 0},       // T0: 1 word, 63 inode bits
    {0b10, 2, 2},      // T1: 4 words, 60 inode bits
    {0b110, 3, 6},     // T2: 64 words, 55 inode bits
    {0b1110, 4, 12},   // T3: 4096 words, 48 inode bits
    {0b11110, 5, 20},  // T4: 1048576 words, 39 inode bits
}};
inline constexpr uint64_t kFullMapMarker = 0b11111;  // top 5 bits of every full-map path
inline constexpr int kFullMapEpochBits = 16;
inline constexpr int kFullMapIndexBits = 43;
inline constexpr uint64_t kMaxFullMapEntries = 0xffffffffULL;  // index stored in 32 bits
inline constexpr uint32_t kMaxDevices = (uint32_t{1} << 29) - 1;

// Limits, for tests: defaults are the code's natural capacities. Lowering them never changes the
// layout (the injectivity argument does not depend on them); it only makes exhaustion reachable.
struct QidCapacities {
  std::array<uint32_t, kNumTiers> tier_words = {1, 4, 64, 4096, 1048576};  // clamped to Capacity()
  uint64_t full_map_entries = kMaxFullMapEntries;                          // clamped likewise
  uint32_t devices = kMaxDevices;                                          // clamped likewise
};

struct QidMapperOptions {
  uint64_t root_dev = 0;  // st_dev of the export root: device number 1 on a fresh state
  uint64_t root_ino = 0;  // st_ino of the export root: its key is assigned first (tier T0)
  MultiDevPolicy policy = MultiDevPolicy::kRemap;
  // Empty: no persistence (assignments last for the mapper's life). Otherwise the state file; its
  // directory must exist. "<state_path>.tmp" and "<state_path>.lock" are used beside it.
  std::string state_path;
  QidCapacities capacities;
};

// Why Create failed: the errno plus a sentence naming the file and the problem.
struct QidMapError {
  Errno code = Errno::kEIO;
  std::string message;
};

// A 128-bit xqid path (codec/qid.h Qid::path_hi, Qid::path).
struct XqidPath {
  uint64_t path_hi = 0;
  uint64_t path = 0;
  friend constexpr bool operator==(const XqidPath&, const XqidPath&) = default;
};

struct QidMapStats {
  uint32_t devices = 0;
  std::array<uint32_t, kNumTiers> words_used = {};  // prefix entries per tier
  uint64_t full_map_entries = 0;
  uint64_t state_writes = 0;  // durable rewrites of the state file since Create
  uint64_t epoch = 0;         // 0 without a state file
};

namespace internal {

// Open-addressing (linear probing) table from (a, b) to a 32-bit value, 16 bytes a slot; b == 0
// marks an empty slot, so callers keep b non-zero. Grows at 3/4 load. Not thread-safe.
class PackedTable {
 public:
  PackedTable();
  const uint32_t* Find(uint64_t a, uint32_t b) const;
  void Insert(uint64_t a, uint32_t b, uint32_t value);  // (a, b) must be absent
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t a;
    uint32_t b;
    uint32_t value;
  };
  size_t IndexOf(uint64_t a, uint32_t b) const;
  void Grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 0;
  size_t size_ = 0;
};

// A reader-writer lock split into shards so that readers on different threads do not write the
// same cache line: a reader locks only its thread's shard (shared), a writer locks every shard.
// With one std::shared_mutex, two threads missing the per-thread cache made each lookup 40% slower
// than one thread alone did (spec/qid-map.md, Measurements). Meets the SharedMutex requirements,
// provided a thread unlocks what it locked (true of std::shared_lock/std::unique_lock).
class ShardedSharedMutex {
 public:
  static constexpr size_t kShards = 8;
  void lock();
  void unlock();
  void lock_shared() { ReaderShard().lock_shared(); }
  void unlock_shared() { ReaderShard().unlock_shared(); }

 private:
  struct alignas(64) Shard {
    std::shared_mutex mu;
  };
  std::shared_mutex& ReaderShard();
  std::array<Shard, kShards> shards_;
};

}  // namespace internal

// st_dev -> small filesystem number, 1, 2, 3... in order of Add; 0 (kNoDevice) is never used.
// Not thread-safe: QidMapper guards its table with its lock.
class DeviceTable {
 public:
  static constexpr uint32_t kNoDevice = 0;
  explicit DeviceTable(uint32_t capacity) : capacity_(capacity) {}
  uint32_t Find(uint64_t st_dev) const;  // kNoDevice if absent
  bool full() const { return st_devs_.size() >= capacity_; }
  uint32_t Add(uint64_t st_dev);  // precondition: absent and !full()
  uint64_t StDev(uint32_t number) const { return st_devs_[number - 1]; }
  uint32_t size() const { return static_cast<uint32_t>(st_devs_.size()); }

 private:
  uint32_t capacity_;
  internal::PackedTable index_;    // (st_dev, 1) -> number
  std::vector<uint64_t> st_devs_;  // [number - 1]
};

// The one interface the server uses: one instance per export, shared by all its sessions.
class QidMapper {
 public:
  // Loads (or creates) the state file, advances its epoch, registers the export root (device 1,
  // tier T0 on a fresh state) and writes the state back durably. Fails when the state file is
  // corrupt, truncated or foreign (EBADMSG), of an unknown version or layout (EPROTONOSUPPORT),
  // held by another live mapper (EBUSY), or cannot be read or written (the host errno). A bad file
  // is never silently reset: the operator must move it away.
  static Result<std::unique_ptr<QidMapper>, QidMapError> Create(QidMapperOptions options);
  ~QidMapper();
  QidMapper(const QidMapper&) = delete;
  QidMapper& operator=(const QidMapper&) = delete;

  // The 64-bit qid.path for a legacy session. Fails with ENFILE when the maps are exhausted, ENODEV
  // under kForbid for another device, or the host errno when a new assignment could not be made
  // durable (nothing is assigned then). Same (dev, ino), same answer, for the mapper's life.
  Result<uint64_t> LegacyPath(uint64_t dev, uint64_t ino);

  // The 128-bit path for an xqid session: {device number, st_ino}. Fails with ENFILE when the
  // DeviceTable is full, ENODEV under kForbid, or the host errno as above.
  Result<XqidPath> ExtendedPath(uint64_t dev, uint64_t ino);

  MultiDevPolicy policy() const { return options_.policy; }
  QidMapStats Stats() const;

 private:
  struct DeviceBlocks {
    uint8_t tier_mask = 0;               // tiers in which the device owns a word
    bool has_full = false;               // the device has full-map entries
    std::map<uint64_t, uint64_t> spans;  // first inode -> last inode of each owned block
  };
  struct WordRecord {  // one assignment, as persisted
    uint64_t key;      // st_ino >> InodeBits()
    uint32_t device;
    uint8_t tier;
    uint32_t index;
  };
  struct Pending {  // an assignment not yet committed
    std::optional<uint64_t> new_st_dev;
    std::optional<WordRecord> word;
  };

  explicit QidMapper(QidMapperOptions options);
  Result<void, QidMapError> Open();
  std::optional<uint64_t> FindLocked(uint32_t device, uint64_t ino, size_t* tier) const;
  Result<uint32_t> DeviceNumber(uint64_t dev);
  Result<uint64_t> AssignLocked(uint64_t dev, uint64_t ino);
  Result<void, QidMapError> Persist(const Pending& pending);
  void Commit(const Pending& pending);
  std::string Serialize(const Pending& pending) const;
  Result<void, QidMapError> Parse(const std::string& bytes);

  const uint64_t id_;  // distinguishes mappers in the per-thread cache; never reused
  QidMapperOptions options_;
  int lock_fd_ = -1;
  uint64_t epoch_ = 0;
  bool writes_enabled_ = false;  // false while Create registers the root (one write at the end)

  mutable internal::ShardedSharedMutex mu_;
  DeviceTable devices_;               // guarded by mu_
  std::vector<DeviceBlocks> blocks_;  // [device - 1], guarded by mu_
  internal::PackedTable words_;       // (key, device << 3 | tier) -> index; guarded by mu_
  std::vector<WordRecord> word_log_;  // assignment order, for the state file; guarded
  std::array<uint32_t, kNumTiers> words_used_ = {};  // guarded by mu_
  internal::PackedTable full_map_;                   // (ino, device) -> index; guarded by mu_
  uint64_t state_writes_ = 0;                        // guarded by mu_
};

}  // namespace p9x::server
