// SPDX-License-Identifier: MIT
// The client library against p9xd (server/), in both dialects and over every transport. Until
// the server is built these tests skip with a message; once build/server/p9xd exists they run.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <ostream>

#include "client/client.h"
#include "tests/client/file_work.h"
#include "tests/client/server_process.h"

#ifndef P9X_P9XD_PATH
#error "P9X_P9XD_PATH must name where the build puts p9xd"
#endif

namespace p9x::client {
namespace {

using negotiation::DialectChoice;
using testing::ServerProcess;
using testing::TempDir;

enum class Via { kTcp, kUnix, kExec };

struct Case {
  DialectChoice choice;
  Dialect expect;
  Via via;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << (c.choice == DialectChoice::kLegacyOnly ? "legacy" : "auto")
      << (c.via == Via::kTcp ? " tcp" : c.via == Via::kUnix ? " unix" : " exec");
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.choice == DialectChoice::kLegacyOnly ? "Legacy" : "Auto";
  name += info.param.via == Via::kTcp ? "Tcp" : info.param.via == Via::kUnix ? "Unix" : "Exec";
  return name;
}

// `p9xd --help`, to find how its stdio mode is spelled.
std::string HelpText(const std::string& binary) {
  std::string out;
  FILE* p = popen((binary + " --help 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class P9xdClient : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    binary_ = P9X_P9XD_PATH;
    if (!testing::ExecutableExists(binary_)) {
      GTEST_SKIP() << "p9xd is not built yet (" << binary_ << "); these tests run once server/ builds it";
    }
    ASSERT_FALSE(export_.path().empty());
    const std::string log = work_.path() + "/p9xd.log";
    switch (GetParam().via) {
      case Via::kTcp: {
        const int port = testing::FreeLoopbackPort();
        target_ = "tcp:127.0.0.1:" + std::to_string(port);
        ASSERT_TRUE(server_.Start({binary_, "--listen", target_, "--export", export_.path()}, log));
        ASSERT_TRUE(testing::WaitForListener(port, std::chrono::seconds(10)))
            << "p9xd did not listen on " << target_ << "; log:\n" << testing::ReadHostFile(log).data();
        break;
      }
      case Via::kUnix: {
        const std::string sock = work_.path() + "/p9xd.sock";
        target_ = "unix:" + sock;
        ASSERT_TRUE(server_.Start({binary_, "--listen", target_, "--export", export_.path()}, log));
        ASSERT_TRUE(testing::WaitForUnixSocket(sock, std::chrono::seconds(10)))
            << "p9xd did not listen on " << target_ << "; log:\n" << testing::ReadHostFile(log).data();
        break;
      }
      case Via::kExec: {
        const std::string help = HelpText(binary_);
        std::string stdio;
        if (help.find("--stdio") != std::string::npos) {
          stdio = "--stdio";
        } else if (help.find("stdio") != std::string::npos) {
          stdio = "--listen stdio";
        } else {
          GTEST_SKIP() << "p9xd --help names no stdio mode; exec: needs one";
        }
        target_ = "exec:" + binary_ + " " + stdio + " --export " + export_.path() + " 2>>" + log;
        break;
      }
    }
  }

  Options ClientOptions() const {
    Options o;
    o.target = target_;
    o.dialect = GetParam().choice;
    o.timeout = std::chrono::seconds(10);
    return o;
  }

  std::string binary_;
  TempDir export_;
  TempDir work_;
  ServerProcess server_;
  std::string target_;
};

TEST_P(P9xdClient, ReachesTheExpectedDialect) {
  auto client = Client::Connect(ClientOptions());
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  const Negotiated& n = (*client)->negotiated();
  EXPECT_EQ(n.dialect, GetParam().expect);
  EXPECT_EQ(n.version, GetParam().expect == Dialect::kXqid ? "9P2000.L.xqid" : "9P2000.L");
  EXPECT_EQ(n.connections, 1);
  EXPECT_EQ(n.history.size(), 1u) << "p9xd should agree on the first offer";
}

TEST_P(P9xdClient, DoesRealFileWork) {
  auto client = Client::Connect(ClientOptions());
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  auto root = (*client)->AttachRoot("root", "", 0);
  ASSERT_TRUE(root.has_value()) << root.error().Describe();
  testing::ExerciseFileWork(**client, *root, export_.path());
}

INSTANTIATE_TEST_SUITE_P(
    Dialects, P9xdClient,
    ::testing::Values(Case{DialectChoice::kAuto, Dialect::kXqid, Via::kTcp},
                      Case{DialectChoice::kLegacyOnly, Dialect::kLegacy, Via::kTcp},
                      Case{DialectChoice::kAuto, Dialect::kXqid, Via::kUnix},
                      Case{DialectChoice::kLegacyOnly, Dialect::kLegacy, Via::kUnix},
                      Case{DialectChoice::kAuto, Dialect::kXqid, Via::kExec},
                      Case{DialectChoice::kLegacyOnly, Dialect::kLegacy, Via::kExec}),
    CaseName);

}  // namespace
}  // namespace p9x::client
