// SPDX-License-Identifier: MIT
#include "server/qid_map.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
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
constexpr uint64_t kTwo31 = uint64_t{1} << 31;
constexpr uint64_t kTwo32 = uint64_t{1} << 32;
constexpr uint64_t kTwo53 = uint64_t{1} << 53;

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
  o.export_id = "/srv/export";
  return o;
}

// An identifier from a table: what a host's mountinfo would say about each st_dev. Tests change
// the table between "boots" to renumber devices while identities stay.
struct Identities {
  std::map<uint64_t, std::string> by_dev;
  FilesystemIdentifier Identifier() const {
    return [table = by_dev](uint64_t dev) {
      auto it = table.find(dev);
      return it == table.end() ? "st_dev:" + std::to_string(dev) : it->second;
    };
  }
};

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// ------------------------------------------------------------------------------------------------
// Layout (spec/qid-map.md §1)

TEST(QidLayout, SingleFilesystemExportSeesTheInodeNumbers) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  for (uint64_t ino : {uint64_t{2}, uint64_t{12}, uint64_t{1} << 20, kTwo31 - 1}) {
    EXPECT_EQ(MustLegacy(*m, kRootDev, ino), ino);
  }
  EXPECT_EQ(m->Stats().blocks, 0u);
}

TEST(QidLayout, RootInodesFromTwoToTheThirtyOneGetBlocksAboveTheIdentityRegion) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  const uint64_t a = MustLegacy(*m, kRootDev, kTwo31);
  const uint64_t b = MustLegacy(*m, kRootDev, kTwo31 + 5);
  EXPECT_EQ(a, kTwo31);  // block 0: 2^31 + 0 * 2^20 + (2^31 & 0xfffff)
  EXPECT_EQ(b, kTwo31 + 5);
  const uint64_t high = MustLegacy(*m, kRootDev, (uint64_t{1} << 62) + 7);
  EXPECT_EQ(high, kTwo31 + (uint64_t{1} << 20) + 7);  // block 1
}

TEST(QidLayout, OtherFilesystemsGetBlocksInOrderOfFirstNeed) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(MustLegacy(*m, 0x701, 12), kTwo31 + 12);                          // p1/file
  EXPECT_EQ(MustLegacy(*m, 0x702, 12), kTwo31 + (uint64_t{1} << 20) + 12);    // p2/file
  EXPECT_EQ(MustLegacy(*m, 0x701, 13), kTwo31 + 13);
}

// The exact condition for 32-bit paths: record 1's inodes below 2^31, at most 2048 blocks, no
// fallback entry. 2048 small filesystems fit; the 2049th block does not.
TEST(QidLayout, PathsStayBelowTwoToTheThirtyTwoUpToTwoThousandFortyEightBlocks) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t dev = 1; dev <= 2048; ++dev) {
    for (uint64_t ino : {uint64_t{2}, uint64_t{11}, uint64_t{12}, (uint64_t{1} << 20) - 1}) files.push_back({dev, ino});
  }
  for (uint64_t ino = 2; ino < 5000; ++ino) files.push_back({kRootDev, ino * 4099});
  const std::vector<uint64_t> paths = ExpectInjective(*m, files);
  for (size_t i = 0; i < paths.size(); ++i) ASSERT_LT(paths[i], kTwo32) << "file " << i;
  EXPECT_EQ(m->Stats().blocks, 2048u);
  EXPECT_GE(MustLegacy(*m, 4000, 2), kTwo32);
}

// At least 1,000 filesystems whose inode numbers are below 2^32, each using all 4096 blocks such
// numbers can need, stay below 2^53 and never collide. (One inode per block: the rest of a block
// is copied.)
TEST(QidLayout, ThousandFilesystemsWithInodesBelowTwoToTheThirtyTwoStayBelowTwoToTheFiftyThree) {
  auto m = MakeMapper();
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  files.reserve(1000 * 4096);
  for (uint64_t dev = 1; dev <= 1000; ++dev) {
    for (uint64_t block = 0; block < 4096; ++block) files.push_back({dev, (block << 20) | (dev & 0xfffff)});
  }
  const std::vector<uint64_t> paths = ExpectInjective(*m, files);
  EXPECT_LT(*std::max_element(paths.begin(), paths.end()), kTwo53);
  EXPECT_EQ(m->Stats().fallback_entries, 0u);
}

// Property: any mix of filesystems and inode numbers (dense, XFS-like high allocation groups,
// random 64-bit) maps injectively, as a function, below 2^53; exhaustion is ENFILE, never a reuse.
TEST(QidLayout, RandomWorkloadsNeverCollideAndFailClosed) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    QidMapperOptions o;
    o.root_dev = kRootDev;
    o.root_ino = kRootIno;
    o.capacities.blocks = 40 + seed * 30;
    o.capacities.blocks_per_filesystem = 3 + static_cast<uint32_t>(seed);
    o.fallback_cap = 3000;
    auto m = MakeMapper(std::move(o));
    ASSERT_NE(m, nullptr);
    std::mt19937_64 rng(seed);
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> seen;
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> owner;
    size_t refused = 0;
    for (int i = 0; i < 20000; ++i) {
      const uint64_t dev = (rng() % 12) + (rng() % 4 == 0 ? kRootDev - 1 : 0);
      uint64_t ino = 0;
      switch (rng() % 4) {
        case 0: ino = rng() % 5000; break;                                   // ext4, tmpfs
        case 1: ino = ((rng() % 8) << 36) | (rng() % 100000); break;         // XFS inode64 AGs
        case 2: ino = rng(); break;                                          // hashed
        default: ino = kTwo31 - 50 + rng() % 100; break;                     // the identity edge
      }
      Result<uint64_t> r = m->LegacyPath(dev, ino);
      const auto key = std::pair(dev, ino);
      if (!r) {
        ASSERT_EQ(r.error(), Errno::kENFILE);
        ASSERT_EQ(seen.count(key), 0u) << "a mapped file became unmappable";
        ++refused;
        continue;
      }
      ASSERT_LT(*r, kTwo53);
      auto [it, fresh] = seen.emplace(key, *r);
      ASSERT_EQ(it->second, *r) << "a file changed path";
      if (fresh) {
        auto [o2, unique] = owner.emplace(*r, key);
        ASSERT_TRUE(unique) << "path " << Hex(*r) << " given to two files";
      }
    }
    EXPECT_GT(refused, 0u) << "seed " << seed << ": the caps were never reached";
    EXPECT_EQ(m->Stats().fallback_entries, 3000u);
  }
}

TEST(QidLayout, FallbackCapReachedRefusesWithEnfileAndKeepsOldPaths) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.blocks_per_filesystem = 2;
  o.fallback_cap = 10;
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  std::vector<uint64_t> paths;
  for (uint64_t i = 0; i < 12; ++i) paths.push_back(MustLegacy(*m, 0x900, i << 40));  // 2 blocks + 10
  EXPECT_EQ(paths[2], kFallbackBase);
  Result<uint64_t> over = m->LegacyPath(0x900, uint64_t{99} << 40);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error(), Errno::kENFILE);
  for (uint64_t i = 0; i < 12; ++i) EXPECT_EQ(MustLegacy(*m, 0x900, i << 40), paths[i]);
  EXPECT_EQ(MustLegacy(*m, 0x900, (uint64_t{1} << 40) + 1), paths[1] + 1);  // blocks still serve
  EXPECT_EQ(m->Stats().fallback_entries, 10u);
}

TEST(QidLayout, ConcurrentThreadsAssigningTheSameFilesAgree) {
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.capacities.blocks_per_filesystem = 4;  // so that the fallback is exercised too
  auto m = MakeMapper(std::move(o));
  ASSERT_NE(m, nullptr);
  std::vector<File> files;
  for (uint64_t dev = 0; dev < 100; ++dev) {
    for (uint64_t ino = 0; ino < 2000; ++ino) files.push_back({dev, ino << (dev % 3 == 0 ? 40 : 0)});
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
  EXPECT_GT(m->Stats().fallback_entries, 0u);
}

// ------------------------------------------------------------------------------------------------
// Identity (spec/qid-map.md §2)

TEST(QidIdentity, PathHiIsAHashOfTheIdentityNotTheStDevNorTheOrderOfVisits) {
  Identities ids;
  ids.by_dev = {{kRootDev, "type=ext4\nuuid=aa\nroot=/\nat=\n"}, {0x701, "type=ext4\nuuid=11\nroot=/\nat=p1\n"},
                {0x702, "type=ext4\nuuid=11\nroot=/\nat=p2\n"}};
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.export_id = "/srv/export";
  o.identify = ids.Identifier();
  auto first = MakeMapper(o);
  auto second = MakeMapper(o);  // another p9xd, no shared file
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const XqidPath p1 = first->ExtendedPath(0x701, 12).value();
  const XqidPath p2 = first->ExtendedPath(0x702, 12).value();
  EXPECT_NE(p1, p2);  // byte-identical clones, told apart by their place in the export
  EXPECT_NE(p1.path_hi, 0x701u);
  // Visited in the other order, they get the same numbers.
  EXPECT_EQ(second->ExtendedPath(0x702, 12).value(), p2);
  EXPECT_EQ(second->ExtendedPath(0x701, 12).value(), p1);
  // Another export of the same filesystems numbers them differently (no correlation).
  o.export_id = "/srv/other";
  auto other = MakeMapper(o);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->ExtendedPath(0x701, 12).value(), p1);
  // The fsid is derived the same way, per export, and is neither st_dev nor path_hi.
  const uint64_t fsid = first->FilesystemId(0x701).value();
  EXPECT_EQ(second->FilesystemId(0x701).value(), fsid);
  EXPECT_NE(fsid, p1.path_hi);
  EXPECT_NE(fsid, first->FilesystemId(0x702).value());
  EXPECT_NE(other->FilesystemId(0x701).value(), fsid);
}

TEST(QidIdentity, TwoLiveDevicesWithOneIdentityAreRefusedNotMerged) {
  Identities ids;
  ids.by_dev = {{0x801, "same"}, {0x802, "same"}};
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.identify = ids.Identifier();
  auto m = MakeMapper(o);
  ASSERT_NE(m, nullptr);
  const uint64_t first = MustLegacy(*m, 0x801, 5);
  Result<uint64_t> second = m->LegacyPath(0x802, 5);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error(), Errno::kENFILE);
  EXPECT_FALSE(m->ExtendedPath(0x802, 5).has_value());
  EXPECT_EQ(MustLegacy(*m, 0x801, 5), first);
}

// The reboot of the seed report: the two clones come back under each other's st_dev. Keyed by
// identity, every path stays; keyed by st_dev (the previous design), p1/file got p2/file's qid.
TEST(QidIdentity, RenumberedDevicesAfterARebootKeepEveryPath) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  Identities boot1, boot2;
  boot1.by_dev = {{kRootDev, "root"}, {0x701, "p1"}, {0x702, "p2"}, {0x703, "p3"}};
  boot2.by_dev = {{kRootDev + 1, "root"}, {0x702, "p1"}, {0x701, "p2"}, {0x704, "p3"}};
  std::map<std::string, uint64_t> legacy;
  std::map<std::string, XqidPath> extended;
  {
    QidMapperOptions o = Persistent(state);
    o.identify = boot1.Identifier();
    auto m = MakeMapper(o);
    ASSERT_NE(m, nullptr);
    for (const auto& [dev, name] : boot1.by_dev) {
      for (uint64_t ino : {uint64_t{2}, uint64_t{12}, uint64_t{17}, kTwo31 + 3}) {
        legacy[name + "/" + std::to_string(ino)] = MustLegacy(*m, dev, ino);
        extended[name + "/" + std::to_string(ino)] = m->ExtendedPath(dev, ino).value();
      }
    }
  }
  QidMapperOptions o = Persistent(state);
  o.root_dev = kRootDev + 1;
  o.identify = boot2.Identifier();
  auto m = MakeMapper(o);
  ASSERT_NE(m, nullptr);
  for (const auto& [dev, name] : boot2.by_dev) {
    for (uint64_t ino : {kTwo31 + 3, uint64_t{17}, uint64_t{12}, uint64_t{2}}) {
      EXPECT_EQ(MustLegacy(*m, dev, ino), legacy[name + "/" + std::to_string(ino)]) << name << " " << ino;
      EXPECT_EQ(m->ExtendedPath(dev, ino).value(), extended[name + "/" + std::to_string(ino)]);
    }
  }
  EXPECT_EQ(m->Stats().journal_appends, 0u);  // nothing new was assigned
}

// A filesystem mounted in place of another under the same st_dev (a freed anonymous or loop
// minor reused): once the mount table changed, the st_dev is identified again and the new
// filesystem gets its own numbers; the old one's are kept for it.
TEST(QidIdentity, AfterTheMountTableChangesAReusedStDevIsIdentifiedAgain) {
  auto table = std::make_shared<std::map<uint64_t, std::string>>();
  (*table)[0x30] = "type=tmpfs\nboot=b\nmount=unique:1\nroot=/\nat=p3\n";
  QidMapperOptions o;
  o.root_dev = kRootDev;
  o.root_ino = kRootIno;
  o.identify = [table](uint64_t dev) {
    auto it = table->find(dev);
    return it == table->end() ? "st_dev:" + std::to_string(dev) : it->second;
  };
  auto m = MakeMapper(o);
  ASSERT_NE(m, nullptr);
  const uint64_t old_legacy = MustLegacy(*m, 0x30, 2);
  const XqidPath old_xqid = m->ExtendedPath(0x30, 2).value();
  (*table)[0x30] = "type=tmpfs\nboot=b\nmount=unique:2\nroot=/\nat=p3\n";
  EXPECT_EQ(MustLegacy(*m, 0x30, 2), old_legacy);  // not yet told: the binding of this life holds
  m->ForgetLiveDevices();
  EXPECT_NE(MustLegacy(*m, 0x30, 2), old_legacy);
  EXPECT_NE(m->ExtendedPath(0x30, 2).value(), old_xqid);
  EXPECT_EQ(MustLegacy(*m, kRootDev, 77), 77u);  // the export root's filesystem is record 1 again
  EXPECT_EQ(m->Stats().filesystems, 3u);
}

// ------------------------------------------------------------------------------------------------
// Journal (spec/qid-map.md §3)

TEST(QidJournal, EachNewFilesystemBlockAndFallbackEntryAppendsOneSmallRecord) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  QidMapperOptions o = Persistent(state);
  o.capacities.blocks_per_filesystem = 1;
  auto m = MakeMapper(o);
  ASSERT_NE(m, nullptr);
  const QidMapStats before = m->Stats();
  MustLegacy(*m, 0x900, 3);  // new filesystem + new block
  QidMapStats s = m->Stats();
  EXPECT_EQ(s.journal_appends - before.journal_appends, 2u);
  EXPECT_EQ(s.journal_bytes - before.journal_bytes, (5 + 8 + 11 + 4) + (5 + 12 + 4))
      << "filesystem record (identity 'st_dev:2304') + block record";
  MustLegacy(*m, 0x900, 4);  // same block: nothing written
  EXPECT_EQ(m->Stats().journal_appends, s.journal_appends);
  MustLegacy(*m, 0x900, uint64_t{1} << 40);  // block quota used: fallback entry
  EXPECT_EQ(m->Stats().journal_bytes - s.journal_bytes, 5u + 12 + 4);
  EXPECT_EQ(ReadFile(state).size(), m->Stats().journal_bytes);
}

TEST(QidJournal, EveryCutOfTheJournalLoadsAsAPrefixOfItsRecords) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  std::vector<std::pair<File, uint64_t>> mapped;
  std::vector<size_t> ends;  // journal size after each assignment
  {
    QidMapperOptions o = Persistent(state);
    o.capacities.blocks_per_filesystem = 2;
    auto m = MakeMapper(o);
    ASSERT_NE(m, nullptr);
    ends.push_back(m->Stats().journal_bytes);
    for (const File& f : std::vector<File>{{0x900, 3}, {0x901, 3}, {0x900, 1ull << 40}, {0x900, 2ull << 40}}) {
      mapped.push_back({f, MustLegacy(*m, f.dev, f.ino)});
      ends.push_back(m->Stats().journal_bytes);
    }
  }
  const std::string good = ReadFile(state);
  for (size_t n = ends.front(); n <= good.size(); ++n) {
    WriteFile(state, good.substr(0, n));
    QidMapperOptions o = Persistent(state);
    o.capacities.blocks_per_filesystem = 2;
    auto m = MakeMapper(o);
    ASSERT_NE(m, nullptr) << "refused a journal cut to " << n << " bytes";
    // Every assignment whose records are whole on disk keeps its path.
    for (size_t i = 0; i < mapped.size(); ++i) {
      if (ends[i + 1] <= n) {
        ASSERT_EQ(MustLegacy(*m, mapped[i].first.dev, mapped[i].first.ino), mapped[i].second);
      }
    }
  }
}

TEST(QidJournal, ADamagedRecordBeforeTheLastIsRefusedAndTheLastIsATornTail) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  size_t header = 0;
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    header = ReadFile(state).size();
    MustLegacy(*m, 0x900, 3);
    MustLegacy(*m, 0x901, 3);
  }
  const std::string good = ReadFile(state);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    WriteFile(state, bad);
    auto r = QidMapper::Create(Persistent(state));
    const size_t last_record = good.size() - (5 + 12 + 4);  // 0x901's block
    if (i >= last_record + 5) {  // payload or checksum of the last record: a torn tail, ignored
      EXPECT_TRUE(r.has_value()) << "byte " << i << ": " << (r ? "" : r.error().message);
      continue;
    }
    if (i >= last_record) continue;  // its kind or length: ignored as torn, or refused
    ASSERT_FALSE(r.has_value()) << "accepted a flipped byte " << i << " (header " << header << ")";
    EXPECT_EQ(ReadFile(state), bad) << "a refused file must not be rewritten";
  }
}

TEST(QidJournal, AFileOfTheOldLayoutIsRefusedWithWhatToDo) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  std::string v1 = "P9XQIDMP";
  v1 += std::string("\x01\0\0\0\x01\0\0\0", 8) + std::string(24, '\0');
  WriteFile(state, v1);
  auto r = QidMapper::Create(Persistent(state));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errno::kEPROTONOSUPPORT);
  EXPECT_NE(r.error().message.find("older p9xd"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("Move it away"), std::string::npos) << r.error().message;
  EXPECT_EQ(ReadFile(state), v1);
}

TEST(QidJournal, AHeaderCutShortOnTheFirstStartIsWrittenAgain) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  std::string header;
  {
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr);
    header = ReadFile(state).substr(0, 35);  // magic, format, layout, length, "/srv/export", CRC
  }
  for (size_t n = 0; n < header.size(); ++n) {
    WriteFile(state, header.substr(0, n));
    auto m = MakeMapper(Persistent(state));
    ASSERT_NE(m, nullptr) << "refused a header cut to " << n << " bytes";
    EXPECT_EQ(MustLegacy(*m, 0x900, 3), kTwo31 + 3);
  }
}

TEST(QidJournal, AFileOfAnotherExportIsRefused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  { ASSERT_NE(MakeMapper(Persistent(state)), nullptr); }
  QidMapperOptions o = Persistent(state);
  o.export_id = "/srv/another";
  auto r = QidMapper::Create(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errno::kEXDEV);
  EXPECT_NE(r.error().message.find("/srv/export"), std::string::npos) << r.error().message;
}

TEST(QidJournal, AForeignFileAndASecondLiveMapperAreRefused) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  WriteFile(state, "#!/bin/sh\necho not a state file\n");
  auto r = QidMapper::Create(Persistent(state));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errno::kEBADMSG);
  std::filesystem::remove(state);
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  auto second = QidMapper::Create(Persistent(state));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errno::kEBUSY);
}

// A failed append (here: the file size limit, EFBIG) leaves the file as it was, fails the lookup
// with the host errno, assigns nothing, and everything mapped before is still served.
TEST(QidJournal, AFailedAppendLeavesTheFileIntactAndKeepsServingWhatIsMapped) {
  TempDir dir;
  const std::string state = dir.File("qid.state");
  auto m = MakeMapper(Persistent(state));
  ASSERT_NE(m, nullptr);
  const uint64_t old_path = MustLegacy(*m, 0x900, 3);
  const std::string before = ReadFile(state);
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = saved;
  tight.rlim_cur = before.size() + 5;  // room for part of a record only
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  Result<uint64_t> failed = m->LegacyPath(0x901, 3);
  Result<uint64_t> failed_block = m->LegacyPath(0x900, kTwo32);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, previous);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), static_cast<Errno>(EFBIG));
  ASSERT_FALSE(failed_block.has_value());
  EXPECT_EQ(ReadFile(state), before);
  EXPECT_EQ(MustLegacy(*m, 0x900, 3), old_path);
  EXPECT_EQ(MustLegacy(*m, 0x900, 4), old_path + 1);
  EXPECT_EQ(MustLegacy(*m, kRootDev, 77), 77u);
  // Once the disk has room again, the same file is mapped and durable.
  const uint64_t later = MustLegacy(*m, 0x901, 3);
  m.reset();
  auto revived = MakeMapper(Persistent(state));
  ASSERT_NE(revived, nullptr);
  EXPECT_EQ(MustLegacy(*revived, 0x901, 3), later);
}

// ------------------------------------------------------------------------------------------------
// Policies

TEST(QidMapperPolicy, RemapIsTheDefault) { EXPECT_EQ(QidMapperOptions{}.policy, MultiDevPolicy::kRemap); }

TEST(QidMapperPolicy, ForbidRefusesOtherDevicesWithEnodevInBothDialects) {
  auto m = MakeMapper(MultiDevPolicy::kForbid);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(MustLegacy(*m, kRootDev, 9), 9u);
  EXPECT_EQ(MustLegacy(*m, kRootDev, ~uint64_t{0}), ~uint64_t{0});
  EXPECT_EQ(m->ExtendedPath(kRootDev, 9).value().path, 9u);
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

}  // namespace
}  // namespace p9x::server
