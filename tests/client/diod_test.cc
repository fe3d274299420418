// SPDX-License-Identifier: MIT
// The client library against diod, a real third-party 9P2000.L server (Debian package diod),
// run by the test on a loopback port with a temporary export and no authentication
// (as tests/peers/diod.sh runs it: diod -f -n -N -c /dev/null -l 127.0.0.1:PORT -e DIR).

#include <gtest/gtest.h>
#include <unistd.h>

#include "client/client.h"
#include "tests/client/file_work.h"
#include "tests/client/server_process.h"

namespace p9x::client {
namespace {

using testing::ServerProcess;
using testing::TempDir;

class DiodClient : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string diod = testing::FindProgram("diod");
    if (diod.empty()) GTEST_FAIL() << "diod is not installed: run scripts/setup.sh (Debian package diod)";
    if (getuid() != 0) GTEST_SKIP() << "diod's attach as another user needs root";
    ASSERT_FALSE(export_.path().empty());
    ASSERT_FALSE(work_.path().empty());
    port_ = testing::FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    log_ = work_.path() + "/diod.log";
    ASSERT_TRUE(server_.Start({diod, "-f", "-n", "-N", "-c", "/dev/null", "-l", "127.0.0.1:" + std::to_string(port_),
                               "-e", export_.path(), "-L", "stderr"},
                              log_));
    ASSERT_TRUE(testing::WaitForListener(port_, std::chrono::seconds(10)))
        << "diod did not listen; log:\n" << testing::ReadHostFile(log_).data();
  }

  Options DiodOptions(negotiation::DialectChoice choice) const {
    Options o;
    o.target = "tcp:127.0.0.1:" + std::to_string(port_);
    o.dialect = choice;
    o.timeout = std::chrono::seconds(10);
    return o;
  }

  TempDir export_;
  TempDir work_;
  ServerProcess server_;
  int port_ = 0;
  std::string log_;
};

TEST_F(DiodClient, LadderFallsBackToLegacyAfterEio) {
  auto client = Client::Connect(DiodOptions(negotiation::DialectChoice::kAuto));
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  const Negotiated& n = (*client)->negotiated();
  EXPECT_EQ(n.dialect, Dialect::kLegacy);
  EXPECT_EQ(n.version, "9P2000.L");
  EXPECT_EQ(n.msize, 65536u);  // diod caps msize at 64 KiB (peers.md §2)
  EXPECT_EQ(n.connections, 1);
  ASSERT_EQ(n.history.size(), 2u);
  EXPECT_NE(n.history[0].find("9P2000.L.xqid"), std::string::npos) << n.history[0];
  EXPECT_NE(n.history[0].find("EIO"), std::string::npos) << n.history[0];  // diod 1.0.24: Rlerror EIO
}

TEST_F(DiodClient, XqidOnlyIsRefusedWithTheLadderHistory) {
  auto client = Client::Connect(DiodOptions(negotiation::DialectChoice::kXqidOnly));
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().kind, Error::Kind::kNegotiation);
  EXPECT_NE(client.error().detail.find("EIO"), std::string::npos) << client.error().detail;
}

TEST_F(DiodClient, DoesRealFileWork) {
  auto client = Client::Connect(DiodOptions(negotiation::DialectChoice::kAuto));
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  auto root = (*client)->AttachRoot("root", export_.path(), 0);
  ASSERT_TRUE(root.has_value()) << root.error().Describe();
  testing::ExerciseFileWork(**client, *root, export_.path());
}

TEST_F(DiodClient, WrongAnameIsAnErrnoNotACrash) {
  auto client = Client::Connect(DiodOptions(negotiation::DialectChoice::kLegacyOnly));
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  auto root = (*client)->AttachRoot("root", "/definitely/not/exported", 0);
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().kind, Error::Kind::kRemote);
  EXPECT_NE(root.error().code, Errno::kOk);
  EXPECT_EQ((*client)->fids_in_use(), 0u);
}

}  // namespace
}  // namespace p9x::client
