// SPDX-License-Identifier: MIT
// A client that negotiates the way gVisor's pkg/p9 client does, against p9xd: it connects.
//
// The rules mirrored (google/gvisor pkg/p9/client.go NewClient and pkg/p9/version.go
// parseVersion/versionString, at commits 0af9965bfcaf672875438256d6bc0f655254dce2 and
// 1e7f0c822b3a7c643d532d40a14ab79eb1df85c6): Tversion carries an ordinary tag (its tag pool
// starts at 1) and offers "9P2000.L.Google.N" from the highest N down; an Rlerror EAGAIN means
// "step down to N-1" (after N = 0, "exhausted all versions"); any other Rlerror fails; an
// Rversion is accepted only if its string is "9P2000.L" (version 0) or "9P2000.L.Google.X" with a
// decimal X, and anything else ("unknown" included) fails with "bad version string".
//
// spec/xqid.md §4.2 is what lets it in: an offer that begins with "9P2000.L." and whose suffix is
// outside the grammar is answered "9P2000.L", as version(5)'s period rule allows; and the reply
// echoes the Tversion's tag.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "codec/frame.h"
#include "tests/client/server_process.h"

#ifndef P9X_P9XD_PATH
#error "P9X_P9XD_PATH must name where the build puts p9xd"
#endif

namespace p9x {
namespace {

using client::testing::ServerProcess;
using client::testing::TempDir;

constexpr uint32_t kGvisorHighestVersion = 10;  // pkg/p9/version.go highestSupportedVersion
constexpr uint32_t kEagain = 11;

// gVisor's parseVersion: "9P2000.L" is version 0; "9P2000.L.Google.X" (exactly four
// period-separated parts, X a decimal number) is version X; anything else is refused.
std::optional<uint32_t> GvisorParseVersion(const std::string& s) {
  if (s == "9P2000.L") return 0;
  const std::string prefix = "9P2000.L.Google.";
  if (s.compare(0, prefix.size(), prefix) != 0 || s.size() == prefix.size()) return std::nullopt;
  const std::string digits = s.substr(prefix.size());
  if (digits.find('.') != std::string::npos) return std::nullopt;
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

std::string GvisorVersionString(uint32_t v) { return v == 0 ? "9P2000.L" : "9P2000.L.Google." + std::to_string(v); }

class Wire {
 public:
  explicit Wire(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Wire() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  template <class M>
  void Send(uint16_t tag, const M& msg, const WireContext& ctx) {
    std::vector<uint8_t> out(ctx.msize);
    auto n = Encode(tag, msg, ctx, out);
    ASSERT_TRUE(n);
    ASSERT_EQ(write(fd_, out.data(), *n), static_cast<ssize_t>(*n));
  }
  // One whole frame, or empty at end of stream.
  std::vector<uint8_t> Receive() {
    std::vector<uint8_t> frame(4);
    if (!Fill(frame, 0, 4)) return {};
    const uint32_t size = frame[0] | frame[1] << 8 | frame[2] << 16 | static_cast<uint32_t>(frame[3]) << 24;
    if (size < kHeaderSize || size > kMaxMsize) return {};
    frame.resize(size);
    if (!Fill(frame, 4, size)) return {};
    return frame;
  }

 private:
  bool Fill(std::vector<uint8_t>& buf, size_t from, size_t to) {
    while (from < to) {
      const ssize_t n = read(fd_, buf.data() + from, to - from);
      if (n <= 0) return false;
      from += static_cast<size_t>(n);
    }
    return true;
  }
  int fd_ = -1;
};

uint16_t TagOf(const std::vector<uint8_t>& frame) { return static_cast<uint16_t>(frame[5] | frame[6] << 8); }

class GvisorStyleClient : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string binary = P9X_P9XD_PATH;
    if (!client::testing::ExecutableExists(binary)) GTEST_SKIP() << "p9xd is not built yet (" << binary << ")";
    ASSERT_FALSE(export_.path().empty());
    sock_ = work_.path() + "/p9xd.sock";
    ASSERT_TRUE(server_.Start({binary, "--listen", "unix:" + sock_, "--export", export_.path()},
                              work_.path() + "/p9xd.log"));
    ASSERT_TRUE(client::testing::WaitForUnixSocket(sock_, std::chrono::seconds(10)));
  }

  TempDir export_;
  TempDir work_;
  ServerProcess server_;
  std::string sock_;
};

TEST_F(GvisorStyleClient, ConnectsAsPlain9P2000LAndWorks) {
  Wire wire(sock_);
  ASSERT_TRUE(wire.ok());
  const WireContext pre{Dialect::kLegacy, kMinMsize};
  const uint16_t tag = 1;  // gVisor's tag pool starts at 1: Tversion does not use NOTAG
  const uint32_t msize = 1 << 20;
  uint32_t requested = kGvisorHighestVersion;
  std::optional<uint32_t> agreed;
  std::vector<std::string> offered;
  uint32_t agreed_msize = 0;
  for (;;) {
    offered.push_back(GvisorVersionString(requested));
    wire.Send(tag, Tversion{msize, offered.back()}, pre);
    const std::vector<uint8_t> reply = wire.Receive();
    ASSERT_FALSE(reply.empty()) << "p9xd closed the connection on " << offered.back();
    ASSERT_EQ(TagOf(reply), tag) << "gVisor's client drops a reply whose tag it did not send";
    if (reply[4] == static_cast<uint8_t>(MsgType::kRlerror)) {
      auto e = DecodeAs<Rlerror>(reply, pre);
      ASSERT_TRUE(e);
      ASSERT_EQ(e->ecode, kEagain) << "gVisor's client fails on any Rlerror but EAGAIN";
      ASSERT_GT(requested, 0u) << "exhausted all versions to negotiate";
      --requested;
      continue;
    }
    auto r = DecodeAs<Rversion>(reply, pre);
    ASSERT_TRUE(r);
    agreed = GvisorParseVersion(std::string(r->version));
    ASSERT_TRUE(agreed.has_value()) << "bad version string: p9xd answered \"" << r->version << "\"";
    agreed_msize = r->msize;
    break;
  }
  // One round trip: the Google suffix is stripped, not refused.
  EXPECT_EQ(offered, std::vector<std::string>{"9P2000.L.Google.10"});
  EXPECT_EQ(*agreed, 0u);
  ASSERT_GE(agreed_msize, kMinMsize);
  ASSERT_LE(agreed_msize, msize);

  // The session is plain 9P2000.L: 13-byte qids, answered with the request's tag.
  const WireContext session{Dialect::kLegacy, agreed_msize};
  wire.Send(2, Tattach{1, kNoFid, "root", "", 0}, session);
  const std::vector<uint8_t> attach = wire.Receive();
  ASSERT_FALSE(attach.empty());
  ASSERT_EQ(attach[4], static_cast<uint8_t>(MsgType::kRattach));
  EXPECT_EQ(attach.size(), kHeaderSize + 13);
  EXPECT_EQ(TagOf(attach), 2);
  wire.Send(3, Tgetattr{1, kGetattrBasic}, session);
  const std::vector<uint8_t> getattr = wire.Receive();
  ASSERT_FALSE(getattr.empty());
  auto g = DecodeAs<Rgetattr>(getattr, session);
  ASSERT_TRUE(g) << "Rgetattr does not decode as a 9P2000.L Rgetattr";
  EXPECT_EQ(g->qid.path_hi, 0u);
}

}  // namespace
}  // namespace p9x
