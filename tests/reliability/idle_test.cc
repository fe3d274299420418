// SPDX-License-Identifier: MIT
// Many idle connections against the real p9xd: thousands of clients that negotiate, attach and
// then say nothing must cost the server little memory each and must not slow anyone down.
#include <sys/resource.h>

#include "tests/reliability/reliability_util.h"

namespace p9x::reliability {
namespace {

// What one idle connection may cost in server RSS, in KiB. An idle connection holds its
// Connection (the fid table, the tag map, the reply queue: about 1 KiB), its first read buffer
// (8 KiB, not zero-filled: the pages a Tversion and a Tattach touched) and its attach fid; the
// kernel's socket buffers are not RSS. The bound is the memory per idle connection that p9xd
// measured with a thread per connection (bench/README.md: 23-24 KiB, the stack pages each
// thread touched), which the event loops must not exceed; a connection that touched 64 KiB at
// once (a read buffer of a whole large frame, a thread's stack) would exceed it 2.7 times over.
constexpr double kMaxIdleKiB = 24;

// Idle connections opened: enough that per-connection memory dwarfs the noise of the heap (a
// few hundred KiB), few enough for a quick test and a default descriptor limit of 4096.
constexpr int kIdle = 3000;

class IdleConnections : public P9xdTest {};

TEST_F(IdleConnections, CostLittleMemoryAndDelayNobody) {
  // Each idle connection is a descriptor here too.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < kIdle + 256) {
    GTEST_SKIP() << "RLIMIT_NOFILE " << limit.rlim_cur << " cannot hold " << kIdle << " connections";
  }
  StartServer({"--max-connections", std::to_string(kIdle + 16)});
  ConnectGoodClient();  // also starts what the server starts lazily (its loops, its workers)
  const int fds = SettledFdCount();
  const double before = MedianRoundTrip(20);
  const long rss_before = RssKiB(pid_);

  std::vector<std::unique_ptr<RawSocket>> idle;
  const auto opening = Clock::now();
  for (int i = 0; i < kIdle; ++i) {
    auto s = std::make_unique<RawSocket>(port_);
    ASSERT_TRUE(s->ok()) << "connection " << i << ": " << std::strerror(errno);
    ASSERT_EQ(s->Version(8192), 8192u) << "connection " << i << " was not answered";
    ASSERT_EQ(s->Call(1, Tattach{0, kNoFid, "root", "", 0}).first, static_cast<int>(MsgType::kRattach))
        << "connection " << i;
    idle.push_back(std::move(s));
  }
  const double open_ms = std::chrono::duration<double, std::milli>(Clock::now() - opening).count();
  std::this_thread::sleep_for(milliseconds(200));
  const long rss_after = RssKiB(pid_);
  const double per_connection = static_cast<double>(rss_after - rss_before) / kIdle;
  std::printf("%d idle connections opened in %.0f ms; p9xd RSS %ld -> %ld KiB: %.2f KiB each (bound %.0f)\n", kIdle,
              open_ms, rss_before, rss_after, per_connection, kMaxIdleKiB);

  // One more client is answered at once, and the good client's round trip is unchanged.
  const auto t0 = Clock::now();
  RawSocket late(port_);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late.Version(8192), 8192u);
  EXPECT_EQ(late.Call(1, Tattach{0, kNoFid, "root", "", 0}).first, static_cast<int>(MsgType::kRattach));
  const double late_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const double during = MedianRoundTrip(20);
  std::printf("one more client: Tversion + Tattach answered in %.2f ms\n", late_ms);
  EXPECT_LT(late_ms, std::max(20 * before, 50.0));
  ExpectLatencyBounded(before, during);
  // The idle ones were not forgotten: the first and the last still answer.
  for (RawSocket* s : {idle.front().get(), idle.back().get()}) {
    EXPECT_EQ(s->Call(2, Tgetattr{0, kGetattrBasic}).first, static_cast<int>(MsgType::kRgetattr));
  }
  if (kMemoryFiguresAreReal) {
    EXPECT_LT(per_connection, kMaxIdleKiB);
  }

  idle.clear();
  late.Close();
  ExpectServerAlive();
  ExpectFdsReturnTo(fds);
}

}  // namespace
}  // namespace p9x::reliability
