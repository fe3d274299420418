// SPDX-License-Identifier: MIT
// Smoke tests for the benchmark client: the loops run, count and check replies correctly.
// Nothing here asserts on speed.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "bench/p9bench/conn.h"
#include "bench/p9bench/driver.h"
#include "bench/p9bench/floor_server.h"
#include "bench/p9bench/net.h"
#include "bench/p9bench/workloads.h"

namespace p9bench {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/p9bench-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

RunOptions CountBounded(uint64_t ops) {
  RunOptions options;
  options.warmup_seconds = 0;
  options.warmup_ops = 0;
  options.max_ops = ops;
  return options;
}

TEST(Histogram, QuantilesAreWithinTheBucketError) {
  Histogram histogram;
  for (uint64_t us = 1; us <= 1000; ++us) histogram.Add(us * 1000);
  const double p50 = static_cast<double>(histogram.Quantile(0.5));
  const double p99 = static_cast<double>(histogram.Quantile(0.99));
  EXPECT_NEAR(p50, 500'000, 500'000 * 0.04);
  EXPECT_NEAR(p99, 990'000, 990'000 * 0.04);
  EXPECT_EQ(histogram.count(), 1000u);
}

TEST(Schedule, PrintsGroupsAndPipelinedSteps) {
  const Schedule schedule = {{Step{22, 22}, Step{19, 160}}, {Step{11, 7}}};
  EXPECT_EQ(ScheduleToString(schedule), "22/22,19/160;11/7");
}

TEST(FrameReader, ReassemblesFramesSplitAcrossReads) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  // Three frames: 7 bytes, 200 KiB (a "large" frame read up to its own end), 11 bytes.
  std::vector<uint8_t> stream;
  for (uint32_t size : {7u, 200u * 1024u, 11u}) {
    const size_t at = stream.size();
    stream.resize(at + size, static_cast<uint8_t>(size));
    p9x::internal::StoreLe<uint32_t>(stream.data() + at, size);
  }
  std::thread writer([&] {
    for (size_t at = 0; at < stream.size();) {
      const size_t n = std::min<size_t>(4093, stream.size() - at);
      ASSERT_EQ(write(pair[1], stream.data() + at, n), static_cast<ssize_t>(n));
      at += n;
    }
  });
  FrameReader reader(300 * 1024);
  std::vector<size_t> sizes;
  while (sizes.size() < 3) {
    auto frame = reader.Next();
    if (frame.empty()) {
      ASSERT_GT(reader.Fill(pair[0]), 0);
      continue;
    }
    sizes.push_back(frame.size());
    EXPECT_EQ(frame.back(), static_cast<uint8_t>(frame.size()));
  }
  writer.join();
  EXPECT_EQ(sizes, (std::vector<size_t>{7, 200 * 1024, 11}));
  close(pair[0]);
  close(pair[1]);
}

TEST(Floor, ReplaysPipelinedSchedulesAtDepthFour) {
  TempDir dir;
  Address address{.transport = Transport::kUnix, .host = {}, .port = 0, .path = dir.path() + "/floor.sock"};
  auto listen_fd = Listen(address);
  ASSERT_TRUE(listen_fd) << listen_fd.error();
  StartFloorThread(*listen_fd);
  auto fd = Connect(address);
  ASSERT_TRUE(fd) << fd.error();
  Conn conn(*fd, Transport::kUnix, 200 * 1024);
  const Schedule schedule = {{Step{22, 22}, Step{19, 160}, Step{11, 7}}, {Step{23 + 65536, 11}},
                             {Step{23, 11 + 131072}}};
  auto workload = MakeFloorWorkload({schedule}, false);
  Conn* conns[] = {&conn};
  const Measurement m = RunWorkload(conns, 4, *workload, CountBounded(100));
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.ops, 100u);
  ASSERT_EQ(m.schedules.size(), 1u);
  EXPECT_EQ(ScheduleToString(m.schedules[0]), ScheduleToString(schedule));
  // Every reply's bytes are counted: 100 measured ops of (22+160+7) + 11 + (11+131072), plus
  // whatever parts of the 3 other lanes' ops had arrived when the 100th op completed.
  const uint64_t per_op = 22 + 160 + 7 + 11 + 11 + 131072;
  EXPECT_GE(m.payload_bytes, 100u * per_op);
  EXPECT_LT(m.payload_bytes, 103u * per_op);
}

TEST(Floor, ServesManyConnectionsWithOneLaneEach) {
  TempDir dir;
  Address address{.transport = Transport::kUnix, .host = {}, .port = 0, .path = dir.path() + "/floor.sock"};
  auto listen_fd = Listen(address);
  ASSERT_TRUE(listen_fd) << listen_fd.error();
  StartFloorThread(*listen_fd);
  std::vector<std::unique_ptr<Conn>> owned;
  std::vector<Conn*> conns;
  for (int i = 0; i < 20; ++i) {
    auto fd = Connect(address);
    ASSERT_TRUE(fd) << fd.error();
    owned.push_back(std::make_unique<Conn>(*fd, Transport::kUnix, 64 * 1024));
    conns.push_back(owned.back().get());
  }
  const Schedule getattr = {{Step{19, 160}}};
  const Schedule read = {{Step{23, 11 + 4096}}};
  auto workload = MakeFloorWorkload({getattr, read}, true);
  const Measurement m = RunWorkload(conns, 1, *workload, CountBounded(1000));
  ASSERT_EQ(m.error, "");
  EXPECT_GE(m.ops, 1000u);
  ASSERT_EQ(m.schedules.size(), 2u);
  EXPECT_EQ(ScheduleToString(m.schedules[1]), "23/4107");
}

TEST(ScanDirectory, CountsEveryEntryIncludingDotAndDotDot) {
  TempDir dir;
  for (int i = 0; i < 50; ++i) std::ofstream(dir.path() + "/e" + std::to_string(i));
  auto scan = ScanDirectory(dir.path(), true);
  ASSERT_TRUE(scan) << scan.error();
  EXPECT_EQ(scan->entries, 52u);
}

// Against a real 9P2000.L server: diod, one process on a socketpair (-r/-w), when installed.
class AgainstDiod : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v diod >/dev/null 2>&1") != 0) GTEST_SKIP() << "diod is not installed";
    if (geteuid() != 0) GTEST_SKIP() << "diod attach as root needs root";
    export_ = dir_.path() + "/export";
    fs::create_directories(export_ + "/big");
    fs::create_directories(export_ + "/create");
    std::ofstream(export_ + "/f") << std::string(4096, 'f');
    for (const char* name : {"data", "wdata"}) {
      std::ofstream(export_ + "/" + name) << std::string(kFileSize, 'd');
    }
    for (int i = 0; i < 300; ++i) std::ofstream(export_ + "/big/e" + std::to_string(i));
  }
  void TearDown() override {
    conn_.reset();
    if (pid_ > 0) Terminate(pid_);
  }

  Conn& Session() {
    int pair[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    auto pid = Spawn({"diod", "-f", "-n", "-N", "-c", "/dev/null", "-r", std::to_string(pair[1]), "-w",
                      std::to_string(pair[1]), "-e", export_, "-L", "stderr"},
                     dir_.path() + "/diod.log", pair[1]);
    close(pair[1]);
    EXPECT_TRUE(pid) << pid.error();
    pid_ = *pid;
    TuneSocket(pair[0], Transport::kUnix);
    auto conn = Open9P(pair[0], Transport::kUnix, 128 * 1024, export_);
    EXPECT_TRUE(conn) << conn.error();
    conn_ = std::move(*conn);
    return *conn_;
  }

  Measurement RunOn(Workload& workload, uint32_t depth, uint64_t ops) {
    Conn* conns[] = {conn_.get()};
    return RunWorkload(conns, depth, workload, CountBounded(ops));
  }

  static constexpr size_t kFileSize = 1 << 20;
  TempDir dir_;
  std::string export_;
  pid_t pid_ = -1;
  std::unique_ptr<Conn> conn_;
};

TEST_F(AgainstDiod, ReadsMoveExactlyCountBytesPerOp) {
  Conn& conn = Session();
  auto workload = MakeReadWorkload(kFileSize);
  const Measurement m = RunOn(*workload, 4, 40);
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.ops, 40u);
  EXPECT_EQ(m.payload_bytes, 40u * (conn.ctx().msize - p9x::kIoHeaderSize));
  ASSERT_EQ(m.schedules.size(), 1u);
  EXPECT_EQ(ScheduleToString(m.schedules[0]),
            "23/" + std::to_string(11 + conn.ctx().msize - p9x::kIoHeaderSize));
}

TEST_F(AgainstDiod, WritesAreAcknowledgedInFull) {
  Conn& conn = Session();
  auto workload = MakeWriteWorkload(kFileSize);
  const Measurement m = RunOn(*workload, 4, 40);
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.payload_bytes, 40u * (conn.ctx().msize - p9x::kIoHeaderSize));
}

// Only the in-turn form: diod runs a connection's requests on a worker pool, so the pipelined
// form's Tgetattr may overtake its Twalk (Rlerror EIO), and whether it does is timing.
TEST_F(AgainstDiod, WalkGetattrClunkInTurnRecordsThreeGroups) {
  Session();
  auto workload = MakeWalkGetattrClunkWorkload(false);
  const Measurement m = RunOn(*workload, 1, 50);
  ASSERT_EQ(m.error, "");
  ASSERT_EQ(m.schedules.size(), 1u);
  EXPECT_EQ(m.schedules[0].size(), 3u);
}

TEST_F(AgainstDiod, GetattrAndCreateRunWithoutErrors) {
  Session();
  auto getattr = MakeGetattrWorkload();
  EXPECT_EQ(RunOn(*getattr, 1, 50).error, "");
  conn_.reset();
  Terminate(pid_);
  Session();
  std::string description;
  auto create = MakeCreateWorkload(&description);
  const Measurement m = RunOn(*create, 1, 30);
  EXPECT_EQ(m.error, "");
  EXPECT_FALSE(description.empty());
  // Every created file was removed again.
  EXPECT_TRUE(fs::is_empty(export_ + "/create"));
}

TEST_F(AgainstDiod, ReaddirSeesEveryEntryAndListLongStatsThem) {
  Conn& conn = Session();
  uint64_t entries = 0;
  auto readdir = MakeReaddirWorkload(&entries);
  const Measurement m = RunOn(*readdir, 1, 2);
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(entries, 302u);  // 300 files, . and ..
  auto names = ListNames(conn, "big");
  ASSERT_TRUE(names) << names.error();
  EXPECT_EQ(names->size(), 300u);
  auto list = MakeListLongWorkload(std::make_shared<const std::vector<std::string>>(std::move(*names)));
  EXPECT_EQ(RunOn(*list, 1, 300).error, "");
}

}  // namespace
}  // namespace p9bench
