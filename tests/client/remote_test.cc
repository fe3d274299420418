// SPDX-License-Identifier: MIT
// The client library's file work against a server someone else started: the target comes from
// the environment, so a driver script can run this inside a network namespace (nfs-ganesha,
// see cli_peer_test.sh). Not registered with CTest on its own: without the environment it skips.
//   P9X_REMOTE_TARGET   tcp:HOST:PORT | unix:PATH | exec:COMMAND
//   P9X_REMOTE_ANAME    the attach name
//   P9X_REMOTE_EXPORT   the export directory on this host (to check the bytes on disk)
//   P9X_REMOTE_DIALECT  legacy | xqid: what the ladder must reach from an auto offer
//   P9X_REMOTE_REFUSAL  optional: the errno name the server declines 9P2000.L.xqid with

#include <gtest/gtest.h>

#include <cstdlib>

#include "client/client.h"
#include "tests/client/file_work.h"

namespace p9x::client {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

class RemoteClient : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = Env("P9X_REMOTE_TARGET");
    if (target_.empty()) GTEST_SKIP() << "P9X_REMOTE_TARGET is not set (run through cli_peer_test.sh)";
    Options o;
    o.target = target_;
    o.timeout = std::chrono::seconds(10);
    auto c = Client::Connect(o);
    ASSERT_TRUE(c.has_value()) << c.error().Describe();
    client_ = std::move(*c);
  }
  std::string target_;
  std::unique_ptr<Client> client_;
};

TEST_F(RemoteClient, ReachesTheExpectedDialectThroughTheLadder) {
  const Negotiated& n = client_->negotiated();
  EXPECT_EQ(n.dialect, Env("P9X_REMOTE_DIALECT") == "xqid" ? Dialect::kXqid : Dialect::kLegacy);
  const std::string refusal = Env("P9X_REMOTE_REFUSAL");
  if (!refusal.empty()) {
    ASSERT_EQ(n.history.size(), 2u);
    EXPECT_NE(n.history[0].find(refusal), std::string::npos) << n.history[0];
  }
}

TEST_F(RemoteClient, DoesRealFileWork) {
  auto root = client_->AttachRoot("root", Env("P9X_REMOTE_ANAME"), 0);
  ASSERT_TRUE(root.has_value()) << root.error().Describe();
  testing::ExerciseFileWork(*client_, *root, Env("P9X_REMOTE_EXPORT"));
}

}  // namespace
}  // namespace p9x::client
