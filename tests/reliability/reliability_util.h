// SPDX-License-Identifier: MIT
// Shared harness of the reliability tests: the real p9xd binary on a loopback port, raw sockets
// for hostile clients (they send bytes the client library would never send, and never read), a
// well-behaved client whose round-trip time is measured, and p9xd's RSS and descriptor count
// read from /proc.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "codec/frame.h"
#include "tests/client/server_process.h"

#ifndef P9X_P9XD_PATH
#error "P9X_P9XD_PATH must name where the build puts p9xd"
#endif

namespace p9x::reliability {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- /proc ----

// A "Name:   1234 kB" field of /proc/PID/status, in KiB (-1 when unreadable).
inline long ProcStatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}
inline long RssKiB(pid_t pid) { return ProcStatusKiB(pid, "VmRSS"); }

// Whether p9xd's memory figures mean what they say: under AddressSanitizer or ThreadSanitizer
// (the sanitizer tiers build p9xd and the tests alike) shadow memory adds to RSS (ThreadSanitizer
// maps several bytes of shadow per byte touched) and freed memory stays in ASan's quarantine
// (256 MiB by default), so memory bounds are printed there but asserted only in the plain build.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMemoryFiguresAreReal = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kMemoryFiguresAreReal = false;
#else
inline constexpr bool kMemoryFiguresAreReal = true;
#endif
#else
inline constexpr bool kMemoryFiguresAreReal = true;
#endif
inline long PeakRssKiB(pid_t pid) { return ProcStatusKiB(pid, "VmHWM"); }

inline int FdCount(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ---- raw sockets ----

// A hostile (or just hand-driven) client: a TCP socket and the bytes it sends, nothing more.
class RawSocket {
 public:
  explicit RawSocket(int port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() { Close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

  // Writes all of `bytes` (blocking). False when the peer is gone.
  bool Send(std::span<const uint8_t> bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  template <class M>
  bool SendMsg(uint16_t tag, const M& msg, Dialect dialect = Dialect::kLegacy) {
    return Send(EncodeMsg(tag, msg, dialect));
  }
  template <class M>
  static std::vector<uint8_t> EncodeMsg(uint16_t tag, const M& msg, Dialect dialect = Dialect::kLegacy) {
    std::vector<uint8_t> bytes(EncodedSize(msg, dialect));
    (void)Encode(tag, msg, WireContext{dialect, kMaxMsize}, bytes);
    return bytes;
  }

  enum class Got { kFrame, kEof, kTimeout, kError };
  // The next whole frame (size[4] first), waiting at most `wait` in all.
  Got ReadFrame(std::vector<uint8_t>* frame, milliseconds wait) {
    const auto deadline = Clock::now() + wait;
    while (true) {
      if (buf_.size() >= 4) {
        const uint32_t size = buf_[0] | buf_[1] << 8 | buf_[2] << 16 | static_cast<uint32_t>(buf_[3]) << 24;
        if (size < 7 || size > kMaxMsize) return Got::kError;
        if (buf_.size() >= size) {
          frame->assign(buf_.begin(), buf_.begin() + size);
          buf_.erase(buf_.begin(), buf_.begin() + size);
          return Got::kFrame;
        }
      }
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return Got::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      uint8_t tmp[65536];
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0) return Got::kEof;
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return errno == ECONNRESET ? Got::kEof : Got::kError;
      }
      buf_.insert(buf_.end(), tmp, tmp + n);
    }
  }

  // Tversion then Rversion; the agreed msize, or 0.
  uint32_t Version(uint32_t msize, const std::string& version = "9P2000.L") {
    if (!SendMsg(kNoTag, Tversion{msize, version})) return 0;
    std::vector<uint8_t> f;
    if (ReadFrame(&f, milliseconds(5000)) != Got::kFrame || f[4] != static_cast<uint8_t>(MsgType::kRversion)) return 0;
    return f[7] | f[8] << 8 | f[9] << 16 | static_cast<uint32_t>(f[10]) << 24;
  }
  // Sends `msg` and reads one frame: its type byte, and its errno when it is an Rlerror.
  template <class M>
  std::pair<int, uint32_t> Call(uint16_t tag, const M& msg) {
    if (!SendMsg(tag, msg)) return {-1, 0};
    std::vector<uint8_t> f;
    if (ReadFrame(&f, milliseconds(5000)) != Got::kFrame) return {-1, 0};
    uint32_t ecode = 0;
    if (f[4] == static_cast<uint8_t>(MsgType::kRlerror) && f.size() >= 11) {
      ecode = f[7] | f[8] << 8 | f[9] << 16 | static_cast<uint32_t>(f[10]) << 24;
    }
    return {f[4], ecode};
  }

 private:
  int fd_ = -1;
  std::vector<uint8_t> buf_;
};

inline std::vector<uint8_t> Le32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}

// ---- the server under test ----

class P9xdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = P9X_P9XD_PATH;
    if (!client::testing::ExecutableExists(binary_)) GTEST_SKIP() << "p9xd is not built (" << binary_ << ")";
    ASSERT_FALSE(base_.path().empty());
    export_ = base_.path() + "/export";
    std::filesystem::create_directories(export_ + "/d");
    std::ofstream(export_ + "/small") << "small file";
    // 2 MiB of known bytes, for reads that fill whole replies.
    std::ofstream big(export_ + "/big", std::ios::binary);
    std::string chunk(1 << 20, 'b');
    big << chunk << chunk;
  }
  void TearDown() override {
    good_fid_ = {};
    good_.reset();
    server_.Stop();
  }

  // Starts p9xd on a free loopback port with `extra` options; `launcher` (a command that execs
  // the rest of its arguments, e.g. setpriv ... --) goes before it when given.
  void StartServer(std::vector<std::string> extra = {}, std::vector<std::string> launcher = {}) {
    port_ = client::testing::FreeLoopbackPort();
    log_ = base_.path() + "/p9xd.log";
    std::vector<std::string> argv = launcher;
    for (std::string arg : {binary_, std::string("--listen"), "tcp:127.0.0.1:" + std::to_string(port_),
                            std::string("--export"), export_}) {
      argv.push_back(std::move(arg));
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(server_.Start(argv, log_));
    ASSERT_TRUE(client::testing::WaitForListener(port_, std::chrono::seconds(10))) << ReadText(log_);
    pid_ = server_.pid();
  }

  std::string target() const { return "tcp:127.0.0.1:" + std::to_string(port_); }

  std::unique_ptr<client::Client> Connect() {
    client::Options o;
    o.target = target();
    o.timeout = std::chrono::seconds(10);
    auto c = client::Client::Connect(o);
    if (!c) {
      ADD_FAILURE() << "connect: " << c.error().Describe();
      return nullptr;
    }
    return std::move(*c);
  }

  // The well-behaved client: its own connection, an open fid on "small".
  void ConnectGoodClient() {
    good_ = Connect();
    ASSERT_NE(good_, nullptr);
    auto root = good_->AttachRoot("root", "", 0);
    ASSERT_TRUE(root) << root.error().Describe();
    auto f = root->Walk("small");
    ASSERT_TRUE(f) << f.error().Describe();
    ASSERT_TRUE(f->Open(kOpenRdonly));
    good_fid_ = std::move(*f);
  }

  // One round trip of the good client: a Tread (served by the worker pool, where a flood of
  // hostile requests would queue) and a Tgetattr (served by the connection thread). Milliseconds.
  double GoodRoundTrip() {
    const auto t0 = Clock::now();
    auto r = good_->Read(good_fid_.number(), 0, 64);
    EXPECT_TRUE(r) << "good client's Tread: " << r.error().Describe();
    if (r) {
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->msg().data.bytes.data()), r->msg().data.bytes.size()),
                "small file");
    }
    auto g = good_->Getattr(good_fid_.number(), kGetattrBasic);
    EXPECT_TRUE(g) << "good client's Tgetattr: " << g.error().Describe();
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }

  double MedianRoundTrip(int n) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(GoodRoundTrip());
    return Median(v);
  }

  // Runs `abuse` on a thread while the good client keeps measuring; returns the median round
  // trip during the abuse (at least `min_samples` samples, the last ones after it ended).
  double MedianRoundTripDuring(const std::function<void()>& abuse, int min_samples = 20) {
    std::atomic<bool> done{false};
    std::thread t([&] {
      abuse();
      done = true;
    });
    std::vector<double> v;
    while (!done.load() || static_cast<int>(v.size()) < min_samples) {
      v.push_back(GoodRoundTrip());
      if (!done.load()) std::this_thread::sleep_for(milliseconds(2));
    }
    t.join();
    return Median(v);
  }

  // The generous bound on the good client's latency under abuse: never flaky on a loaded 2-core
  // machine, but far below what a blocked server (seconds) would show.
  static void ExpectLatencyBounded(double baseline_ms, double during_ms) {
    const double bound = std::max(20 * baseline_ms, 50.0);
    std::printf("good client median RTT: %.3f ms before, %.3f ms during the abuse (bound %.1f ms)\n", baseline_ms,
                during_ms, bound);
    EXPECT_LT(during_ms, bound);
  }

  // p9xd's descriptor count once it has settled (connections close asynchronously, e.g. the
  // probe that waited for the listener): the same value for 200 ms running, or after 5 s.
  int SettledFdCount() {
    int last = FdCount(pid_), same = 0;
    for (int i = 0; i < 250 && same < 10; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
      const int now = FdCount(pid_);
      same = now == last ? same + 1 : 0;
      last = now;
    }
    return last;
  }

  // p9xd's descriptors return to `baseline` (closing connections is asynchronous): waits up to 5 s.
  void ExpectFdsReturnTo(int baseline) {
    int now = FdCount(pid_);
    for (int i = 0; i < 250 && now != baseline; ++i) {
      std::this_thread::sleep_for(milliseconds(20));
      now = FdCount(pid_);
    }
    std::printf("p9xd descriptors: %d at baseline, %d after the abuse\n", baseline, now);
    EXPECT_EQ(now, baseline) << ReadText("/proc/" + std::to_string(pid_) + "/fd");
  }

  void ExpectServerAlive() {
    EXPECT_TRUE(server_.running()) << "p9xd died; log:\n" << ReadText(log_);
  }

  std::string binary_;
  client::testing::TempDir base_;
  std::string export_;
  client::testing::ServerProcess server_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string log_;
  std::unique_ptr<client::Client> good_;
  client::Fid good_fid_;
};

}  // namespace p9x::reliability
