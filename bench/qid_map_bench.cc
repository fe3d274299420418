// SPDX-License-Identifier: MIT
// Qid map lookups at 10 M tracked files, against a plain per-file open-addressing table.
//
// Every benchmark looks up files chosen at random (a cheap LCG, same sequence for all) from a
// population of kFiles (dev, ino) pairs built once, and reports ns per lookup plus the heap bytes
// the structure holds per tracked file (mallinfo2 delta around the build). Run:
//   qid_map_bench --benchmark_counters_tabular=true
#include <malloc.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/qid_map.h"

namespace p9x::server {
namespace {

constexpr uint64_t kFiles = 10'000'000;
constexpr uint64_t kRootDev = 0x801;

size_t HeapBytes() {
  const struct mallinfo2 mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// File i of a population spread round-robin over `devices` devices; inode numbers are dense
// from 2 (stride 1) or sparse (stride 4099) per device, as real filesystems hand them out.
struct Population {
  uint64_t devices;
  uint64_t Dev(uint64_t i) const { return kRootDev + i % devices; }
  uint64_t Ino(uint64_t i) const {
    const uint64_t n = i / devices;
    return 2 + n * ((i % devices) % 2 == 0 ? 1 : 4099);
  }
};

// Random file indexes in [0, kFiles) without a table: the high bits of a 64-bit LCG, scaled.
struct RandomIndex {
  uint64_t x;
  uint64_t Next() {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((x >> 32) * kFiles) >> 32;
  }
};

// The baseline: what a server without prefixes needs, one slot per file. (dev, ino) -> u64 with
// linear probing at <= 3/4 load, 24-byte slots.
class PlainTable {
 public:
  PlainTable() : slots_(16) {}
  uint64_t Find(uint64_t dev, uint64_t ino) const {
    for (size_t i = Index(dev, ino);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.value == 0) return 0;
      if (s.dev == dev && s.ino == ino) return s.value;
    }
  }
  void Insert(uint64_t dev, uint64_t ino, uint64_t value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) {
      std::vector<Slot> old(slots_.size() * 2);
      old.swap(slots_);
      ++bits_;
      for (const Slot& s : old) {
        if (s.value != 0) Place(s);
      }
    }
    Place(Slot{dev, ino, value});
    ++size_;
  }

 private:
  struct Slot {
    uint64_t dev;
    uint64_t ino;
    uint64_t value;  // 0: empty
  };
  size_t Index(uint64_t dev, uint64_t ino) const {
    return static_cast<size_t>(((ino ^ (dev * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL) >>
                               (64 - bits_));
  }
  void Place(const Slot& s) {
    size_t i = Index(s.dev, s.ino);
    while (slots_[i].value != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = s;
  }
  std::vector<Slot> slots_;
  int bits_ = 4;
  size_t size_ = 0;
};

struct MapperFixture {
  std::unique_ptr<QidMapper> mapper;
  Population population;
  double bytes_per_file = 0;
  QidMapStats stats;
};

std::unique_ptr<MapperFixture> BuildMapper(uint64_t devices, bool full_map_only) {
  auto f = std::make_unique<MapperFixture>();
  f->population = Population{devices};
  const size_t before = HeapBytes();
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = 2;
  o.fallback_cap = kFiles;
  if (full_map_only) o.capacities.blocks_per_filesystem = 0;
  f->mapper = QidMapper::Create(o).value();
  for (uint64_t i = 0; i < kFiles; ++i) {
    benchmark::DoNotOptimize(f->mapper->LegacyPath(f->population.Dev(i), f->population.Ino(i)));
  }
  f->bytes_per_file = static_cast<double>(HeapBytes() - before) / static_cast<double>(kFiles);
  f->stats = f->mapper->Stats();
  return f;
}

MapperFixture& Fixture(int which) {
  static std::unique_ptr<MapperFixture> eight = BuildMapper(8, false);
  if (which == 8) return *eight;
  static std::unique_ptr<MapperFixture> thousand = BuildMapper(1000, false);
  if (which == 1000) return *thousand;
  static std::unique_ptr<MapperFixture> full = BuildMapper(8, true);
  return *full;
}

void Report(benchmark::State& state, const MapperFixture& f) {
  // kAvgThreads: the fixture is shared, so report its numbers once, not summed over threads.
  state.counters["bytes/file"] =
      benchmark::Counter(f.bytes_per_file, benchmark::Counter::kAvgThreads);
  state.counters["blocks"] =
      benchmark::Counter(static_cast<double>(f.stats.blocks), benchmark::Counter::kAvgThreads);
  state.counters["fallback"] = benchmark::Counter(static_cast<double>(f.stats.fallback_entries),
                                                  benchmark::Counter::kAvgThreads);
}

void LegacyLookups(benchmark::State& state, MapperFixture& f) {
  RandomIndex r{static_cast<uint64_t>(state.thread_index()) + 1};
  uint64_t sum = 0;
  for (auto _ : state) {
    const uint64_t i = r.Next();
    sum += f.mapper->LegacyPath(f.population.Dev(i), f.population.Ino(i)).value_or(0);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  Report(state, f);
}

// 10 M files on 8 devices: a few blocks per device; lookups mostly hit the per-thread cache.
void BM_LegacyPath_8Devices(benchmark::State& state) { LegacyLookups(state, Fixture(8)); }
BENCHMARK(BM_LegacyPath_8Devices)->Threads(1)->Threads(2)->UseRealTime();

// 10 M files on 1000 devices: more devices than cache slots, so most lookups take the shared
// lock and probe the block table.
void BM_LegacyPath_1000Devices(benchmark::State& state) { LegacyLookups(state, Fixture(1000)); }
BENCHMARK(BM_LegacyPath_1000Devices)->Threads(1)->Threads(2)->UseRealTime();

// Worst case: no blocks at all, every one of the 10 M files is a per-file fallback entry.
void BM_LegacyPath_FullMapOnly(benchmark::State& state) { LegacyLookups(state, Fixture(0)); }
BENCHMARK(BM_LegacyPath_FullMapOnly)->Threads(1)->Threads(2)->UseRealTime();

void BM_ExtendedPath_8Devices(benchmark::State& state) {
  MapperFixture& f = Fixture(8);
  RandomIndex r{static_cast<uint64_t>(state.thread_index()) + 1};
  uint64_t sum = 0;
  for (auto _ : state) {
    const uint64_t i = r.Next();
    sum += f.mapper->ExtendedPath(f.population.Dev(i), f.population.Ino(i))
               .value_or(XqidPath{})
               .path_hi;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExtendedPath_8Devices)->Threads(1)->Threads(2)->UseRealTime();

// The journal: what one new assignment costs with --qid-state (an append of one record and one
// fdatasync, in a directory under $TMPDIR or /tmp: the cost is that filesystem's sync latency).
// NewFilesystem: a new filesystem record plus its first block; NewFallbackEntry: one record.
std::string JournalDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/qid_map_bench.XXXXXX";
  return ::mkdtemp(tmpl.data()) ? tmpl : std::string();
}

void JournalAppends(benchmark::State& state, bool new_filesystems) {
  const std::string dir = JournalDir();
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = 2;
  o.state_path = dir + "/qid.state";
  o.export_id = "/bench";
  o.fallback_cap = kMaxFallbackEntries;
  if (!new_filesystems) o.capacities.blocks_per_filesystem = 0;
  auto mapper = QidMapper::Create(o).value();
  uint64_t n = 0;
  for (auto _ : state) {
    ++n;
    benchmark::DoNotOptimize(new_filesystems ? mapper->LegacyPath(kRootDev + n, 2) : mapper->LegacyPath(kRootDev + 1, n));
  }
  const QidMapStats s = mapper->Stats();
  state.counters["appends/op"] = static_cast<double>(s.journal_appends) / static_cast<double>(n);
  state.counters["bytes/op"] = static_cast<double>(s.journal_bytes) / static_cast<double>(n);
  mapper.reset();
  std::filesystem::remove_all(dir);
}
void BM_Journal_NewFilesystem(benchmark::State& state) { JournalAppends(state, true); }
BENCHMARK(BM_Journal_NewFilesystem)->UseRealTime()->Iterations(2000);
void BM_Journal_NewFallbackEntry(benchmark::State& state) { JournalAppends(state, false); }
BENCHMARK(BM_Journal_NewFallbackEntry)->UseRealTime()->Iterations(2000);

// What the loops above spend outside the map: choosing a file and computing its (dev, ino).
void BM_KeyGenerationOnly(benchmark::State& state) {
  const Population population{8};
  RandomIndex r{1};
  uint64_t sum = 0;
  for (auto _ : state) {
    const uint64_t i = r.Next();
    sum += population.Dev(i) ^ population.Ino(i);
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyGenerationOnly)->UseRealTime();

struct BaselineFixture {
  PlainTable table;
  Population population{8};
  double bytes_per_file = 0;
};

BaselineFixture& Baseline() {
  static std::unique_ptr<BaselineFixture> f = [] {
    const size_t before = HeapBytes();
    auto b = std::make_unique<BaselineFixture>();
    for (uint64_t i = 0; i < kFiles; ++i)
      b->table.Insert(b->population.Dev(i), b->population.Ino(i), i + 1);
    b->bytes_per_file = static_cast<double>(HeapBytes() - before) / static_cast<double>(kFiles);
    return b;
  }();
  return *f;
}

// The baseline: 10 M files on 8 devices in a plain per-file table (single-threaded, no lock).
void BM_PlainOpenAddressingTable(benchmark::State& state) {
  BaselineFixture& f = Baseline();
  RandomIndex r{1};
  uint64_t sum = 0;
  for (auto _ : state) {
    const uint64_t i = r.Next();
    sum += f.table.Find(f.population.Dev(i), f.population.Ino(i));
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/file"] = f.bytes_per_file;
}
BENCHMARK(BM_PlainOpenAddressingTable)->UseRealTime();

// The same table behind one std::shared_mutex, as a multi-threaded server would need it: the
// lock's atomic read-modify-writes stop the CPU from overlapping one lookup's cache miss with the
// next one's, which the unlocked loop above enjoys.
void BM_PlainOpenAddressingTableLocked(benchmark::State& state) {
  static std::shared_mutex mu;
  BaselineFixture& f = Baseline();
  RandomIndex r{static_cast<uint64_t>(state.thread_index()) + 1};
  uint64_t sum = 0;
  for (auto _ : state) {
    const uint64_t i = r.Next();
    std::shared_lock lock(mu);
    sum += f.table.Find(f.population.Dev(i), f.population.Ino(i));
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/file"] =
      benchmark::Counter(f.bytes_per_file, benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_PlainOpenAddressingTableLocked)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace p9x::server

BENCHMARK_MAIN();
