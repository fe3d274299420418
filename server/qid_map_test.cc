#include "server/qid_map.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace p9x::server {
namespace {

constexpr uint64_t kRootDev = 0x10301;  // an arbitrary st_dev for the export root
constexpr uint64_t kRootIno = 2;
constexpr uint64_t kTwo63 = uint64_t{1} << 63;

std::unique_ptr<QidMapper> MakeMapper(QidMapperOptions options) {
  auto created = QidMapper::Create(std::move(options));
  if (!created) {
    ADD_FAILURE() << "Create failed: " << created.error().message;
    return nullptr;
  }
  return std::move(*created);
}

std::unique_ptr<QidMapper> MakeMapper(MultiDevPolicy policy = MultiDevPolicy::kRemap) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.policy = policy;
  return MakeMapper(std::move(o));
}

uint64_t MustLegacy(QidMapper& m, uint64_t dev, uint64_t ino) {
  Result<uint64_t> r = m.LegacyPath(dev, ino);
  if (!r) {
    ADD_FAILURE() << "LegacyPath(" << dev << ", " << ino << ") failed: " << ErrnoName(r.error());
    return 0;
  }
  return *r;
}

struct File {
  uint64_t dev;
  uint64_t ino;
};

// Maps every file (the caller guarantees the (dev, ino) pairs are distinct), asserts that no two
// files share a path and that a second lookup gives the same answers. Returns the paths.
std::vector<uint64_t> ExpectInjective(QidMapper& m, const std::vector<File>& files) {
  std::vector<uint64_t> paths;
  paths.reserve(files.size());
  for (const File& f : files) paths.push_back(MustLegacy(m, f.dev, f.ino));
  std::vector<uint64_t> sorted = paths;
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  EXPECT_EQ(dup, sorted.end()) << "duplicate path 0x" << std::hex
                               << (dup == sorted.end() ? 0 : *dup);
  for (size_t i = 0; i < files.size(); i += 1 + files.size() / 100000) {
    EXPECT_EQ(MustLegacy(m, files[i].dev, files[i].ino), paths[i]) << "file " << i;
  }
  return paths;
}

std::vector<File> Distinct(std::vector<File> files) {
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) {
    return std::pair(a.dev, a.ino) < std::pair(b.dev, b.ino);
  });
  files.erase(
      std::unique(files.begin(), files.end(),
                  [](const File& a, const File& b) { return a.dev == b.dev && a.ino == b.ino; }),
      files.end());
  return files;
}

// A fresh directory per test for state files.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/qid_map_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

QidMapperOptions Persistent(const std::string& state_path) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.state_path = state_path;
  return o;
}

// CRC-32C, to forge files whose checksum is right but whose content is not.
uint32_t Crc32c(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : s) {
    c ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::string WithCrc(std::string body) {
  const uint32_t crc = Crc32c(body);
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  return body;
}

// ------------------------------------------------------------------------------------------------

TEST(PrefixCode, TiersAndFullMapPrefixPartitionThePathSpace) {
  // Every word's path range [word << (64-L), (word+1) << (64-L)) must be disjoint from every other
  // (prefix-free) and together they must cover all 2^64 paths (Kraft sum 1).
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // first, last
  for (size_t t = 0; t < kNumTiers; ++t) {
    const PrefixTier& tier = kTiers[t];
    const int shift = tier.InodeBits();
    for (uint64_t i = 0; i < tier.Capacity(); ++i) {
      const uint64_t word = (uint64_t{tier.marker} << tier.index_bits) | i;
      const uint64_t first = word << shift;
      ranges.emplace_back(first, first | ((uint64_t{1} << shift) - 1));
    }
  }
  ranges.emplace_back(kFullMapMarker << 59, ~uint64_t{0});
  std::sort(ranges.begin(), ranges.end());
  EXPECT_EQ(ranges.front().first, 0u);
  EXPECT_EQ(ranges.back().second, ~uint64_t{0});
  for (size_t i = 1; i < ranges.size(); ++i) {
    ASSERT_EQ(ranges[i].first, ranges[i - 1].second + 1) << "gap or overlap at range " << i;
  }
  EXPECT_EQ(ranges.size(), 1u + 4 + 64 + 4096 + 1048576 + 1);
  EXPECT_EQ(kFullMapEpochBits + kFullMapIndexBits + 5, 64);
}

TEST(PrefixCode, PathsHaveTheDocumentedBitLayout) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.tier_words = {1, 1, 1, 1, 1};
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  const uint64_t ino = 0x1234;
  EXPECT_EQ(MustLegacy(*m, kRootDev, ino), ino);                             // T0 "0"
  EXPECT_EQ(MustLegacy(*m, 2, ino), (uint64_t{0b1000} << 60) | ino);         // T1 "10 00"
  EXPECT_EQ(MustLegacy(*m, 3, ino), (uint64_t{0b110000000} << 55) | ino);    // T2 "110 000000"
  EXPECT_EQ(MustLegacy(*m, 4, ino), (uint64_t{0xE000} << 48) | ino);         // T3 "1110 0..0"
  EXPECT_EQ(MustLegacy(*m, 5, ino), (uint64_t{0b11110} << 20 << 39) | ino);  // T4
  EXPECT_EQ(MustLegacy(*m, 6, ino), (uint64_t{0b11111} << 59) | 0);          // full, epoch 0
  EXPECT_EQ(MustLegacy(*m, 6, ino + 1), (uint64_t{0b11111} << 59) | 1);
}

TEST(QidMapperIdentity, SingleFilesystemExportSeesTheInodeNumbers) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::mt19937_64 rng(1);
  std::vector<uint64_t> inos = {0, 1, 2, 3, 11, 12, 4096, 0xFFFFFFFF, kTwo63 - 1, kTwo63 - 2};
  for (int i = 0; i < 200000; ++i) inos.push_back(rng() >> 1);  // below 2^63
  for (uint64_t ino : inos) ASSERT_EQ(MustLegacy(*m, kRootDev, ino), ino);
  const QidMapStats s = m->Stats();
  EXPECT_EQ(s.devices, 1u);
  EXPECT_EQ(s.words_used[0], 1u);
  EXPECT_EQ(s.words_used[1] + s.words_used[2] + s.words_used[3] + s.words_used[4], 0u);
  EXPECT_EQ(s.full_map_entries, 0u);
}

TEST(QidMapperInjectivity, IdenticalFilesystemsOnTwoDevicesGetDistinctPaths) {
  // Motakis's p1/p2 case: two clones with the same inode numbers.
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t ino = 2; ino < 50000; ++ino) {
    files.push_back({0x701, ino});
    files.push_back({0x702, ino});
  }
  ExpectInjective(*m, files);
  EXPECT_EQ(m->Stats().words_used[1], 2u);  // each clone owns one T1 block
}

TEST(QidMapperInjectivity, ThousandsOfDevicesWithDenseInodesNeverCollide) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t dev = 1; dev <= 6000; ++dev) {
    for (uint64_t ino = 2; ino < 170; ++ino) files.push_back({dev << 8, ino});
  }
  ExpectInjective(*m, files);
  const QidMapStats s = m->Stats();
  EXPECT_EQ(s.devices, 6001u);  // the root plus 6000
  // The root takes T0; the others fill T1, T2, T3 in order, then T4.
  EXPECT_EQ(s.words_used[1], 4u);
  EXPECT_EQ(s.words_used[2], 64u);
  EXPECT_EQ(s.words_used[3], 4096u);
  EXPECT_EQ(s.words_used[4], 6000u - 4 - 64 - 4096);
  EXPECT_EQ(s.full_map_entries, 0u);
}

TEST(QidMapperInjectivity, InodesWithHighBitsSetAcrossEveryTierBoundaryNeverCollide) {
  // Inode numbers at and around every tier's block boundary, with high bits set, and pairs that
  // differ only in bits between two tiers' key widths (QEMU's fixed-key-width flaw).
  std::vector<uint64_t> inos;
  for (int b : {39, 47, 48, 49, 54, 55, 56, 59, 60, 61, 62, 63}) {
    const uint64_t p = uint64_t{1} << b;
    for (uint64_t base : {p, p - 1, p + 1, p | kTwo63, (p - 1) | kTwo63, ~uint64_t{0} - p}) {
      inos.push_back(base);
      inos.push_back(base ^ 1);
    }
  }
  for (uint64_t x :
       {uint64_t{0}, uint64_t{2}, ~uint64_t{0}, ~uint64_t{0} - 1, kTwo63, kTwo63 - 1}) {
    inos.push_back(x);
  }
  for (int i = 1; i < 64; ++i) inos.push_back(kTwo63 | (uint64_t{1} << (63 - i)));
  std::vector<File> files;
  for (uint64_t dev : {kRootDev, uint64_t{7}, uint64_t{8}, uint64_t{0}, ~uint64_t{0}}) {
    for (uint64_t ino : inos) files.push_back({dev, ino});
  }
  files = Distinct(files);
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  ExpectInjective(*m, files);
  // The same set again in reverse order on a fresh mapper: assignment order must not matter.
  auto m2 = MakeMapper();
  ASSERT_NE(m2, nullptr);
  std::reverse(files.begin(), files.end());
  ExpectInjective(*m2, files);
}

TEST(QidMapperInjectivity, RandomSixtyFourBitInodesExhaustThePrefixesAndFallBackToTheFullMap) {
  // Random 64-bit inode numbers defeat the prefix idea: nearly every file needs its own block,
  // so the 1,052,741 words run out and the rest go to the full map. Still never a duplicate.
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::mt19937_64 rng(42);
  std::vector<File> files;
  for (int i = 0; i < 1300000; ++i) files.push_back({rng() % 64, rng()});
  files = Distinct(files);
  ExpectInjective(*m, files);
  const QidMapStats s = m->Stats();
  EXPECT_EQ(s.words_used[4], 1048576u);
  EXPECT_GT(s.full_map_entries, 200000u);
}

TEST(QidMapperInjectivity, MillionsOfFilesOnSeveralDevicesNeedOneWordPerDevice) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  files.reserve(4000000);
  for (uint64_t dev = 0; dev < 8; ++dev) {
    const uint64_t stride = dev % 2 == 0 ? 1 : 4099;           // dense and sparse ranges
    const uint64_t base = dev == 7 ? (uint64_t{1} << 50) : 2;  // and one device up high
    for (uint64_t i = 0; i < 500000; ++i) files.push_back({kRootDev + dev, base + i * stride});
  }
  ExpectInjective(*m, files);
  const QidMapStats s = m->Stats();
  EXPECT_EQ(s.devices, 8u);
  EXPECT_EQ(s.words_used[0] + s.words_used[1] + s.words_used[2], 8u);  // one word per device
  EXPECT_EQ(s.full_map_entries, 0u);
}

TEST(QidMapperExhaustion, FullMapAtCapacityRefusesWithEnfileAndKeepsOldPaths) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.tier_words = {1, 0, 0, 0, 0};
  o.capacities.full_map_entries = 100;
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t ino = 0; ino < 100; ++ino) files.push_back({ino % 2 == 0 ? 5u : 6u, ino});
  const std::vector<uint64_t> paths = ExpectInjective(*m, files);
  for (uint64_t ino = 100; ino < 150; ++ino) {
    Result<uint64_t> r = m->LegacyPath(5 + ino % 2, ino);
    ASSERT_FALSE(r.has_value()) << "got 0x" << std::hex << *r;
    EXPECT_EQ(r.error(), Errno::kENFILE);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(MustLegacy(*m, files[i].dev, files[i].ino), paths[i]);
  }
  EXPECT_EQ(MustLegacy(*m, kRootDev, 123456), 123456u);  // the root's block still serves
  EXPECT_EQ(m->Stats().full_map_entries, 100u);
}

TEST(QidMapperExhaustion, EveryStageFillsThenEnfileWithoutDuplicates) {
  // Small tiers, many devices: T0..T4 fill, then the full map, then ENFILE for new files only.
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.tier_words = {1, 2, 3, 4, 5};
  o.capacities.full_map_entries = 1000;
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  std::vector<uint64_t> paths;
  int refused = 0;
  for (uint64_t dev = 1; dev <= 40; ++dev) {
    for (uint64_t ino = 0; ino < 100; ++ino) {
      Result<uint64_t> r = m->LegacyPath(dev * 1000, ino << 40);  // every ino in its own T4 block
      if (r) {
        paths.push_back(*r);
      } else {
        EXPECT_EQ(r.error(), Errno::kENFILE);
        ++refused;
      }
    }
  }
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(std::adjacent_find(paths.begin(), paths.end()), paths.end());
  const QidMapStats s = m->Stats();
  EXPECT_EQ(s.words_used, (std::array<uint32_t, kNumTiers>{1, 2, 3, 4, 5}));
  EXPECT_EQ(s.full_map_entries, 1000u);
  // Devices 1-2 get T1 blocks, 3-5 T2, 6-9 T3: each covers all 100 of the device's inodes
  // (below 2^47). Device 10 gets the 5 T4 blocks (2^39 each: one inode each), then its other 95
  // inodes and devices 11-40 share the 1000 full-map entries; the rest are refused.
  EXPECT_EQ(paths.size(), 9u * 100 + 5 + 1000);
  EXPECT_EQ(refused, 4000 - 9 * 100 - 5 - 1000);
}

TEST(QidMapperExhaustion, DeviceTableAtCapacityRefusesNewDevicesWithEnfile) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.devices = 3;
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->LegacyPath(10, 2).has_value());
  EXPECT_TRUE(m->ExtendedPath(11, 2).has_value());
  Result<uint64_t> legacy = m->LegacyPath(12, 2);
  ASSERT_FALSE(legacy.has_value());
  EXPECT_EQ(legacy.error(), Errno::kENFILE);
  Result<XqidPath> extended = m->ExtendedPath(13, 2);
  ASSERT_FALSE(extended.has_value());
  EXPECT_EQ(extended.error(), Errno::kENFILE);
  EXPECT_EQ(m->ExtendedPath(11, 9).value(), (XqidPath{3, 9}));
}

TEST(QidMapperStability, RepeatedLookupsReturnTheSamePath) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t dev = 0; dev < 40; ++dev) {  // more devices than the per-thread cache has slots
    for (uint64_t ino = 0; ino < 2000; ino += 7) files.push_back({dev, ino * (dev + 1)});
  }
  files = Distinct(files);
  const std::vector<uint64_t> first = ExpectInjective(*m, files);
  std::mt19937_64 rng(3);
  for (int round = 0; round < 5; ++round) {
    std::vector<size_t> order(files.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) ASSERT_EQ(MustLegacy(*m, files[i].dev, files[i].ino), first[i]);
  }
}

TEST(QidMapperStability, ConcurrentThreadsAssigningTheSameFilesAgree) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.tier_words = {1, 4, 8, 8, 64};  // so that the full map is exercised too
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t dev = 0; dev < 100; ++dev) {
    for (uint64_t ino = 0; ino < 2000; ++ino)
      files.push_back({dev, ino << (dev % 3 == 0 ? 40 : 0)});
  }
  constexpr size_t kThreads = 4;
  std::vector<std::vector<uint64_t>> results(kThreads, std::vector<uint64_t>(files.size()));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<size_t> order(files.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t i : order) {
        Result<uint64_t> r = m->LegacyPath(files[i].dev, files[i].ino);
        results[t][i] = r ? *r : 0;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (size_t t = 1; t < kThreads; ++t) ASSERT_EQ(results[t], results[0]) << "thread " << t;
  std::vector<uint64_t> sorted = results[0];
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_GT(m->Stats().full_map_entries, 0u);
}

TEST(DeviceTable, NumbersStartAtOneAndNeverReuse) {
  DeviceTable table(10);
  EXPECT_EQ(table.Find(0), DeviceTable::kNoDevice);
  EXPECT_EQ(table.Add(0), 1u);  // st_dev 0 is a legal key; number 0 is what is reserved
  EXPECT_EQ(table.Add(0x803), 2u);
  EXPECT_EQ(table.Find(0), 1u);
  EXPECT_EQ(table.Find(0x803), 2u);
  EXPECT_EQ(table.StDev(2), 0x803u);
  EXPECT_EQ(table.Find(0x804), DeviceTable::kNoDevice);
}

TEST(QidMapperExtended, PathHiIsTheDeviceNumberNotTheRawStDev) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->ExtendedPath(kRootDev, 77).value(), (XqidPath{1, 77}));
  EXPECT_EQ(m->ExtendedPath(0xfd00, 77).value(), (XqidPath{2, 77}));
  EXPECT_EQ(m->ExtendedPath(0x1234567, ~uint64_t{0}).value(), (XqidPath{3, ~uint64_t{0}}));
  EXPECT_EQ(m->ExtendedPath(0xfd00, 78).value(), (XqidPath{2, 78}));
  // The legacy map shares the device table.
  EXPECT_EQ(MustLegacy(*m, 0xfd00, 5), (uint64_t{0b1000} << 60) | 5);
  EXPECT_EQ(m->Stats().devices, 3u);
}

TEST(QidMapperPolicy, RemapIsTheDefault) {
  EXPECT_EQ(QidMapperOptions{}.policy, MultiDevPolicy::kRemap);
}

TEST(QidMapperPolicy, ForbidRefusesOtherDevicesWithEnodevInBothDialects) {
  auto m = MakeMapper(MultiDevPolicy::kForbid);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(MustLegacy(*m, kRootDev, 9), 9u);
  EXPECT_EQ(MustLegacy(*m, kRootDev, ~uint64_t{0}), ~uint64_t{0});
  EXPECT_EQ(m->ExtendedPath(kRootDev, 9).value(), (XqidPath{1, 9}));
  Result<uint64_t> legacy = m->LegacyPath(kRootDev + 1, 9);
  ASSERT_FALSE(legacy.has_value());
  EXPECT_EQ(legacy.error(), Errno::kENODEV);
  Result<XqidPath> extended = m->ExtendedPath(kRootDev + 1, 9);
  ASSERT_FALSE(extended.has_value());
  EXPECT_EQ(extended.error(), Errno::kENODEV);
}

TEST(QidMapperPolicy, PassthroughCollidesAcrossDevicesWhichIsWhyItIsUnsafe) {
  auto m = MakeMapper(MultiDevPolicy::kPassthrough);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(MustLegacy(*m, 0x701, 17), MustLegacy(*m, 0x702, 17));  // the p1/p2 collision
  EXPECT_NE(m->ExtendedPath(0x701, 17).value(), m->ExtendedPath(0x702, 17).value());
  auto remap = MakeMapper(MultiDevPolicy::kRemap);
  ASSERT_NE(remap, nullptr);
  EXPECT_NE(MustLegacy(*remap, 0x701, 17), MustLegacy(*remap, 0x702, 17));
}

// ------------------------------------------------------------------------------------------------
// Persistence

std::vector<File> PersistenceWorkload() {
  std::vector<File> files;
  for (uint64_t dev = 1; dev <= 300; ++dev) {  // enough devices to reach T3
    for (uint64_t ino = 2; ino < 40; ++ino) files.push_back({dev * 16, ino});
    files.push_back({dev * 16, kTwo63 + dev});  // and a second block per device
  }
  for (uint64_t ino = 2; ino < 1000; ++ino) files.push_back({kRootDev, ino});
  return Distinct(files);
}

TEST(QidMapperPersistence, RestartFromTheStateFileGivesIdenticalPathsAndDeviceNumbers) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  const std::vector<File> files = PersistenceWorkload();
  std::vector<uint64_t> paths;
  std::vector<uint64_t> device_numbers;
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    paths = ExpectInjective(*m, files);
    for (const File& f : files) device_numbers.push_back(m->ExtendedPath(f.dev, f.ino)->path_hi);
    EXPECT_EQ(m->Stats().epoch, 1u);
  }
  for (int restart = 0; restart < 2; ++restart) {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    // Look the files up in another order, so assignment order cannot explain the agreement.
    for (size_t i = files.size(); i-- > 0;) {
      ASSERT_EQ(MustLegacy(*m, files[i].dev, files[i].ino), paths[i]) << "file " << i;
      ASSERT_EQ(m->ExtendedPath(files[i].dev, files[i].ino)->path_hi, device_numbers[i]);
    }
    const QidMapStats s = m->Stats();
    EXPECT_EQ(s.epoch, 2u + static_cast<uint64_t>(restart));
    EXPECT_EQ(s.state_writes, 1u);  // the epoch; nothing new was assigned
  }
  // New assignments after a restart do not collide with restored ones.
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  std::vector<File> more = files;
  for (uint64_t dev = 301; dev <= 400; ++dev) more.push_back({dev * 16, 5});
  ExpectInjective(*m, more);
}

TEST(QidMapperPersistence, AnAssignmentIsDurableBeforeItsPathIsReturned) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  const uint64_t path = MustLegacy(*m, 0xbeef, 42);
  const uint64_t writes = m->Stats().state_writes;
  EXPECT_EQ(writes, 2u);  // Create's, then the new device and word together
  // "Crash" now: take the file as it is on disk while the first mapper still lives.
  const std::string copy = dir.File("copy.state");
  WriteFile(copy, ReadFile(state));
  auto revived = MakeMapper(Persistent(copy));
  ASSERT_NE(revived, nullptr);
  EXPECT_EQ(MustLegacy(*revived, 0xbeef, 42), path);
  // A lookup served from existing words writes nothing.
  EXPECT_EQ(MustLegacy(*m, 0xbeef, 43), path + 1);
  EXPECT_EQ(m->Stats().state_writes, writes);
  // A new word for a known device is written before it is returned, too. Take it first on the
  // copy's mapper for another device, so that a lost record would be visible as a changed path.
  const uint64_t high = MustLegacy(*m, 0xbeef, kTwo63 + 42);
  EXPECT_EQ(m->Stats().state_writes, writes + 1);
  revived.reset();
  WriteFile(copy, ReadFile(state));
  revived = MakeMapper(Persistent(copy));
  ASSERT_NE(revived, nullptr);
  EXPECT_EQ(MustLegacy(*revived, 0xcafe, 1), (uint64_t{0b1010} << 60) | 1);
  EXPECT_EQ(MustLegacy(*revived, 0xbeef, kTwo63 + 42), high);
}

TEST(QidMapperPersistence, EveryTruncationOfTheStateFileIsRefused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    MustLegacy(*m, 0x900, 3);
    MustLegacy(*m, 0x901, 3);
  }
  const std::string good = ReadFile(state);
  ASSERT_EQ(good.size(), 32u + 3 * 8 + 3 * 16 + 4);
  for (size_t n = 0; n < good.size(); ++n) {
    WriteFile(state, good.substr(0, n));
    auto r = QidMapper::Create(Persistent(state));
    ASSERT_FALSE(r.has_value()) << "accepted a file cut to " << n << " bytes";
    EXPECT_EQ(r.error().code, Errno::kEBADMSG) << r.error().message;
    EXPECT_EQ(ReadFile(state), good.substr(0, n)) << "a refused file must not be rewritten";
  }
  WriteFile(state, good + "x");
  EXPECT_FALSE(QidMapper::Create(Persistent(state)).has_value());
  WriteFile(state, good);
  EXPECT_TRUE(QidMapper::Create(Persistent(state)).has_value());
}

TEST(QidMapperPersistence, EveryFlippedByteIsRefused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    MustLegacy(*m, 0x900, 3);
  }
  const std::string good = ReadFile(state);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    WriteFile(state, bad);
    auto r = QidMapper::Create(Persistent(state));
    ASSERT_FALSE(r.has_value()) << "accepted a flip at byte " << i;
    EXPECT_EQ(r.error().code, Errno::kEBADMSG) << r.error().message;
  }
}

TEST(QidMapperPersistence, AForeignFileIsRefusedWithAClearMessage) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  WriteFile(state, "# some other program's configuration\nkey = value\n");
  auto r = QidMapper::Create(Persistent(state));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errno::kEBADMSG);
  EXPECT_NE(r.error().message.find("not a p9x qid-map state file"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find(state), std::string::npos);
}

TEST(QidMapperPersistence, ANewerFormatVersionIsRefusedNotReset) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  { ASSERT_NE(MakeMapper(Persistent(state)), nullptr); }
  std::string body = ReadFile(state);
  body.resize(body.size() - 4);
  body[8] = 2;  // format version 2, with a valid checksum
  WriteFile(state, WithCrc(body));
  auto r = QidMapper::Create(Persistent(state));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errno::kEPROTONOSUPPORT) << r.error().message;
}

TEST(QidMapperPersistence, AChecksummedFileWithImpossibleContentIsRefused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    MustLegacy(*m, 0x900, 3);  // device 2, T1 word 0
    MustLegacy(*m, 0x901, 3);  // device 3, T1 word 1
  }
  std::string body = ReadFile(state);
  body.resize(body.size() - 4);
  const size_t devices_at = 32;
  const size_t words_at = 32 + 3 * 8;
  {
    std::string dup = body;  // device 3 gets device 2's st_dev
    std::copy_n(body.begin() + devices_at + 8, 8, dup.begin() + devices_at + 16);
    WriteFile(state, WithCrc(dup));
    auto r = QidMapper::Create(Persistent(state));
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("appears twice"), std::string::npos) << r.error().message;
  }
  {
    std::string seq = body;  // the third word claims T1 index 0 again
    seq[words_at + 2 * 16 + 12] = 0;
    WriteFile(state, WithCrc(seq));
    auto r = QidMapper::Create(Persistent(state));
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("out of sequence"), std::string::npos) << r.error().message;
  }
}

TEST(QidMapperPersistence, ALeftoverTempFileFromACrashedWriteIsIgnored) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  uint64_t path = 0;
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    path = MustLegacy(*m, 0x900, 3);
  }
  WriteFile(state + ".tmp", "half a state file");  // a crash between write and rename
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(MustLegacy(*m, 0x900, 3), path);
}

TEST(QidMapperPersistence, ASecondLiveMapperOnTheSameStateFileIsRefused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  auto r = QidMapper::Create(Persistent(state));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errno::kEBUSY);
  m.reset();
  EXPECT_TRUE(QidMapper::Create(Persistent(state)).has_value());
}

TEST(QidMapperPersistence, TheEpochKeepsFullMapPathsOfEarlierLivesFromBeingReused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  QidMapperOptions o = Persistent(state);
  o.capacities.tier_words = {1, 0, 0, 0, 0};
  uint64_t first_life = 0;
  {
    auto m = MakeMapper(o);
    ASSERT_NE(m, nullptr);
    first_life = MustLegacy(*m, 0x900, 3);
    EXPECT_EQ(first_life, (uint64_t{0b11111} << 59) | (uint64_t{1} << 43) | 0);
  }
  auto m = MakeMapper(o);
  ASSERT_NE(m, nullptr);
  const uint64_t other = MustLegacy(*m, 0x900, 4);  // the first full-map entry of life 2
  EXPECT_EQ(other, (uint64_t{0b11111} << 59) | (uint64_t{2} << 43) | 0);
  EXPECT_NE(other, first_life);
  EXPECT_EQ(m->ExtendedPath(0x900, 4)->path_hi, 2u);  // the device number did persist
}

TEST(QidMapperPersistence, AFailedStateWriteAssignsNothingAndReturnsTheError) {
  TempDir dir;
  const std::string sub = dir.File("sub");
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  const std::string state = sub + "/qid.state";
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  const uint64_t known = MustLegacy(*m, kRootDev, 77);
  std::filesystem::remove_all(sub);  // the next write's temp file cannot be created
  Result<uint64_t> r = m->LegacyPath(0x900, 3);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Errno::kENOENT);
  EXPECT_EQ(m->Stats().devices, 1u);
  Result<XqidPath> x = m->ExtendedPath(0x900, 3);
  ASSERT_FALSE(x.has_value());
  EXPECT_EQ(MustLegacy(*m, kRootDev, 77), known);  // existing words need no write
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_EQ(MustLegacy(*m, 0x900, 3), (uint64_t{0b1000} << 60) | 3);
}

TEST(QidMapperPersistence, ABlockRestoredFromASmallerTierIsNeverOverlappedByALargerOne) {
  // Life 1 has only T0 and T4, so device 0x900 gets a T4 block [0, 2^39). Life 2 has every tier:
  // a T1..T3 block around 2^40 would contain that T4 block, so the mapper must skip to T4.
  TempDir dir;
  const std::string state = dir.File("qid.state");
  QidMapperOptions small = Persistent(state);
  small.capacities.tier_words = {1, 0, 0, 0, 8};
  uint64_t low = 0;
  {
    auto m = MakeMapper(small);
    ASSERT_NE(m, nullptr);
    low = MustLegacy(*m, 0x900, 5);
  }
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  const uint64_t high = MustLegacy(*m, 0x900, (uint64_t{1} << 40) + 5);
  EXPECT_EQ(MustLegacy(*m, 0x900, 5), low);
  EXPECT_NE(high & ~((uint64_t{1} << 39) - 1), low & ~((uint64_t{1} << 39) - 1));
  const QidMapStats s = m->Stats();
  EXPECT_EQ(s.words_used[1] + s.words_used[2] + s.words_used[3], 0u);
  EXPECT_EQ(s.words_used[4], 2u);
  // A different device may still take T1.
  EXPECT_EQ(MustLegacy(*m, 0x901, 5), (uint64_t{0b1000} << 60) | 5);
}

}  // namespace
}  // namespace p9x::server
