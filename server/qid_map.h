// SPDX-License-Identifier: MIT
// Qid identity maps: how p9xd turns a host file's (st_dev, st_ino) into a qid path that no other
// file on the export shares, in both dialects. The design write-up, with the test that checks each
// rule, is spec/qid-map.md.
//
// qid(5): "two files on the same server hierarchy are the same if and only if their qids are the
// same." A Linux client with cache=loose/fscache reuses one guest inode for two host files whose
// qid.path (and version, type) match, so a duplicate path routes I/O to the wrong file. Every qid
// p9xd sends therefore goes through a QidMapper.
//
// FILESYSTEMS are numbered by their IDENTITY, a byte string the caller derives from what survives
// a reboot (spec/qid-map.md §2: type, UUID, root within the filesystem, position in the export),
// never by st_dev alone. st_dev only finds a live filesystem's record for the mapper's life.
// Records are numbered 1, 2, 3, ... in order of first sight and never reused.
//
// EXTENDED (xqid) SESSIONS. path = st_ino; path_hi = a 64-bit hash of (export identity, filesystem
// identity), never 0: the same filesystems get the same numbers in every run and in every p9xd
// exporting them the same way, whatever the order in which clients visit them. Two identities with
// one hash are refused (ENFILE), never merged.
//
// LEGACY (9P2000.L) SESSIONS, policy kRemap (layout 2):
//
//   [0, 2^31)           filesystem record 1 (the export root's at the first run): path = st_ino
//   [2^31, 2^52)        blocks: block k holds the 2^20 inode numbers of one (filesystem,
//                       st_ino >> 20); path = 2^31 + k * 2^20 + (st_ino & (2^20 - 1))
//   [2^52, 2^53)        per-file fallback: path = 2^52 + index
//
// Blocks are handed out in order of first need and never reused; a filesystem owns at most
// kBlocksPerFilesystem of them (enough for every inode number below 2^36), then its new blocks go
// to the fallback, which is capped (QidMapperOptions::fallback_cap); beyond it a lookup fails with
// ENFILE, never a duplicate. Every path is below 2^53, and below 2^32 as long as record 1's inode
// numbers are below 2^31 and at most 2048 blocks and no fallback entry were handed out.
//
// INJECTIVITY: the three regions are disjoint; in the identity region the path is the inode of
// record 1; a block belongs to one (record, st_ino >> 20) and keeps the low 20 bits; a fallback
// index belongs to one (record, st_ino); records are one per identity and the caller's identities
// tell live filesystems apart. The mapping is a function: a file in the identity region never
// gets a block; a file gets a fallback entry only when its block does not exist and cannot be
// made (its filesystem's block quota or the block region is used up, which never reverses).
//
// PERSISTENCE: with a state file, every new record, block and fallback entry is appended to a
// journal and fdatasync'd BEFORE the lookup that made it returns (one small record, one sync). A
// torn last record is ignored on load; any other damage refuses the file. The file names its
// export and is refused for another. A failed append is cut off again and the lookup fails with
// the host errno; what was mapped before keeps being served.
//
// CONCURRENCY. Every public method may be called from any number of threads at once. Lookups first
// consult a per-thread cache (last block per st_dev slot, no lock), then a sharded shared lock;
// assignments take the exclusive side. Entries are never removed, so a cached entry never becomes
// wrong.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codec/linux_errno.h"
#include "codec/result.h"

namespace p9x::server {

// What to do with files whose st_dev differs from the export root's (QEMU's multidevs=).
enum class MultiDevPolicy : uint8_t {
  // Legacy sessions get mapped paths (above); never a duplicate. The default.
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

// Layout 2 (state-file layout id 2). Changing any of these invalidates every state file.
inline constexpr int kIdentityBits = 31;                          // record 1: path = st_ino below
inline constexpr uint64_t kIdentityLimit = uint64_t{1} << kIdentityBits;
inline constexpr int kBlockBits = 20;                             // inode numbers per block: 2^20
inline constexpr uint64_t kBlockRegionEnd = uint64_t{1} << 52;    // blocks: [2^31, 2^52)
inline constexpr uint64_t kMaxBlocks = (kBlockRegionEnd - kIdentityLimit) >> kBlockBits;
inline constexpr uint32_t kBlocksPerFilesystem = 65536;           // 2^16 * 2^20 = 2^36 inodes
inline constexpr uint64_t kFallbackBase = kBlockRegionEnd;        // fallback: [2^52, 2^53)
inline constexpr uint64_t kMaxFallbackEntries = 0xffffffffULL;    // index stored in 32 bits
inline constexpr uint64_t kDefaultFallbackCap = uint64_t{1} << 20;  // ~28 MiB of map at most
inline constexpr uint32_t kMaxFilesystems = (uint32_t{1} << 24) - 1;

// Limits, for tests: lowering them never changes the layout, only makes exhaustion reachable.
struct QidCapacities {
  uint64_t blocks = kMaxBlocks;
  uint32_t blocks_per_filesystem = kBlocksPerFilesystem;
  uint32_t filesystems = kMaxFilesystems;
};

// A filesystem's identity for numbering: bytes that name the same filesystem at the same place in
// the export across reboots and remounts, and differ between filesystems visible at once.
using FilesystemIdentifier = std::function<std::string(uint64_t st_dev)>;

struct QidMapperOptions {
  uint64_t root_dev = 0;  // st_dev of the export root
  uint64_t root_ino = 0;  // st_ino of the export root: mapped first
  MultiDevPolicy policy = MultiDevPolicy::kRemap;
  // Empty: no persistence (assignments last for the mapper's life). Otherwise the journal; its
  // directory must exist. "<state_path>.lock" and "<state_path>.tmp" are used beside it.
  std::string state_path;
  // Names the export (p9xd: its absolute path). Recorded in the state file, which is refused for
  // another export, and hashed into every path_hi and fsid so that exports do not correlate.
  std::string export_id;
  // st_dev -> identity. Empty: "st_dev:<n>" (tests and in-memory backends; not reboot-stable).
  FilesystemIdentifier identify;
  // Most per-file fallback entries this export may hold (spec/qid-map.md §4).
  uint64_t fallback_cap = kDefaultFallbackCap;
  // Watch /proc/self/mountinfo (a thread) and ForgetLiveDevices() whenever it changes, so that a
  // filesystem mounted in place of another under a reused st_dev is identified afresh.
  bool watch_mounts = false;
  QidCapacities capacities;
};

// Why Create failed: the errno plus a sentence naming the file, the problem and what to do.
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
  uint32_t filesystems = 0;
  uint64_t blocks = 0;
  uint64_t fallback_entries = 0;
  uint64_t journal_appends = 0;  // records appended (and synced) since Create
  uint64_t journal_bytes = 0;    // size of the journal file
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

// The 64-bit number of `identity` within `export_id` for `domain` ("path_hi", "fsid"): FNV-1a
// over the three, length-prefixed, then a 64-bit finalizer; never 0. Deterministic on every host.
uint64_t IdentityHash(std::string_view domain, std::string_view export_id, std::string_view identity);

}  // namespace internal

// The one interface the server uses: one instance per export, shared by all its sessions.
class QidMapper {
 public:
  // Loads (or creates) the journal, checks that it belongs to this export, registers the export
  // root's filesystem and maps the root. Fails when the file is corrupt (EBADMSG), written by
  // another layout or format (EPROTONOSUPPORT), for another export (EXDEV), held by another live
  // mapper (EBUSY), or cannot be read or written (the host errno). A refused file is never
  // rewritten: the message says what to do.
  static Result<std::unique_ptr<QidMapper>, QidMapError> Create(QidMapperOptions options);
  ~QidMapper();
  QidMapper(const QidMapper&) = delete;
  QidMapper& operator=(const QidMapper&) = delete;

  // The 64-bit qid.path for a legacy session. Fails with ENFILE when the maps are exhausted (or an
  // identity's hash collides), ENODEV under kForbid for another device, or the host errno when a
  // new assignment could not be made durable (nothing is assigned then). Same (dev, ino), same
  // answer, for the mapper's life.
  Result<uint64_t> LegacyPath(uint64_t dev, uint64_t ino);

  // The 128-bit path for an xqid session: {path_hi of dev's filesystem, st_ino}. Errors as above.
  Result<XqidPath> ExtendedPath(uint64_t dev, uint64_t ino);

  // Rstatfs fsid for dev's filesystem: derived like path_hi (other domain), never the host's.
  Result<uint64_t> FilesystemId(uint64_t dev);

  // The mount table changed: a st_dev may now name another filesystem. Drops every st_dev ->
  // filesystem binding of this life (never a record, block or entry), so that each st_dev is
  // identified again at its next lookup.
  void ForgetLiveDevices();

  MultiDevPolicy policy() const { return options_.policy; }
  QidMapStats Stats() const;

 private:
  struct Filesystem {  // one record, persisted
    std::string identity;
    uint64_t path_hi = 0;
    uint32_t blocks = 0;  // blocks owned
  };
  struct Assignment;  // a record not yet committed (qid_map.cc)

  explicit QidMapper(QidMapperOptions options);
  Result<void, QidMapError> Open();
  Result<void, QidMapError> Load(const std::string& bytes, size_t* good_end);
  std::optional<uint64_t> FindLocked(uint32_t fs, uint64_t ino) const;
  Result<uint32_t> FilesystemLocked(uint64_t dev);
  Result<uint32_t> FilesystemNumber(uint64_t dev);
  Result<uint64_t> AssignLocked(uint64_t dev, uint64_t ino);
  Result<void> Append(const Assignment& a);
  Result<void, QidMapError> Validate(const Assignment& a, uint64_t record) const;
  void Commit(const Assignment& a);

  void WatchMounts();

  // Tags this mapper's entries in the per-thread cache; a new, never reused value whenever the
  // st_dev bindings are dropped, which invalidates every cached entry at once.
  std::atomic<uint64_t> cache_id_;
  std::thread watcher_;
  int wake_fd_ = -1;
  QidMapperOptions options_;
  int lock_fd_ = -1;
  int journal_fd_ = -1;
  bool journal_broken_ = false;  // a failed append could not be cut off: assign nothing more
  int journal_errno_ = 0;

  mutable internal::ShardedSharedMutex mu_;
  std::vector<Filesystem> filesystems_;                  // [number - 1]; guarded by mu_
  std::unordered_map<std::string, uint32_t> by_identity_;  // guarded by mu_
  std::unordered_map<uint64_t, uint32_t> by_path_hi_;      // guarded by mu_
  internal::PackedTable live_;       // (st_dev, 1) -> filesystem number, this life; guarded
  std::unordered_map<uint32_t, uint64_t> live_dev_of_;  // filesystem number -> its st_dev now
  internal::PackedTable blocks_;     // (st_ino >> 20, filesystem) -> block index; guarded
  uint64_t block_count_ = 0;         // guarded by mu_
  internal::PackedTable fallback_;   // (st_ino, filesystem) -> fallback index; guarded
  bool fallback_full_logged_ = false;
  uint64_t journal_appends_ = 0;     // guarded by mu_
  uint64_t journal_bytes_ = 0;       // guarded by mu_
};

}  // namespace p9x::server
