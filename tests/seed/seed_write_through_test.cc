// SPDX-License-Identifier: MIT
// The multi-filesystem scenario on the real fixture, in both dialects:
// two byte-identical ext4 images at p1/ and p2/ and a tmpfs at p3/ (tests/fixture), served by a
// p9xd process. With p1/file open, a write through p2/file lands in p2/file, checked on the
// host; p1/file is unchanged; the two files have different qids. Needs root (loop mounts):
// skipped otherwise, with the reason.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "client/client.h"
#include "codec/constants.h"

#ifndef P9X_P9XD_PATH
#error "P9X_P9XD_PATH must name where the build puts p9xd"
#endif
#ifndef P9X_FIXTURE_DIR
#error "P9X_FIXTURE_DIR must name tests/fixture"
#endif

namespace p9x {
namespace {

using negotiation::DialectChoice;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class SeedFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    char tmpl[] = "/tmp/p9x-seed-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    base_ = tmpl;
    export_ = base_ + "/export";
    const std::string cmd = "P9X_FIXTURE_BIG=0 " + std::string(P9X_FIXTURE_DIR) + "/make-fixture.sh " + export_ +
                            " > " + base_ + "/fixture.log 2>&1";
    made_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    if (base_.empty()) return;
    const std::string cmd = std::string(P9X_FIXTURE_DIR) + "/teardown-fixture.sh " + export_ + " >/dev/null 2>&1; rm -rf " + base_;
    (void)!std::system(cmd.c_str());
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the fixture loop-mounts two ext4 images";
    ASSERT_TRUE(made_) << "make-fixture.sh failed: see " << base_ << "/fixture.log";
  }
  std::unique_ptr<client::Client> Connect(DialectChoice dialect) {
    client::Options o;
    o.target = "exec:" + std::string(P9X_P9XD_PATH) + " --stdio --export " + export_ + " 2>>" + base_ + "/p9xd.log";
    o.dialect = dialect;
    o.timeout = std::chrono::seconds(30);
    auto c = client::Client::Connect(o);
    EXPECT_TRUE(c) << (c ? "" : c.error().detail);
    return c ? std::move(*c) : nullptr;
  }
  static inline std::string base_, export_;
  static inline bool made_ = false;
};

TEST_F(SeedFixture, WriteThroughP2WhileP1IsOpenLandsInP2InBothDialects) {
  struct stat s1, s2;
  ASSERT_EQ(stat((export_ + "/p1/file").c_str(), &s1), 0);
  ASSERT_EQ(stat((export_ + "/p2/file").c_str(), &s2), 0);
  ASSERT_EQ(s1.st_ino, s2.st_ino) << "the fixture's two images must repeat inode numbers";
  ASSERT_NE(s1.st_dev, s2.st_dev);
  const std::string p1_before = Slurp(export_ + "/p1/file");
  for (DialectChoice dialect : {DialectChoice::kXqidOnly, DialectChoice::kLegacyOnly}) {
    const bool xqid = dialect == DialectChoice::kXqidOnly;
    SCOPED_TRACE(xqid ? "xqid" : "legacy");
    auto c = Connect(dialect);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->negotiated().version, xqid ? "9P2000.L.xqid" : "9P2000.L");
    auto root = c->AttachRoot("root", "");
    ASSERT_TRUE(root);
    auto f1 = root->Walk("p1/file");
    auto f2 = root->Walk("p2/file");
    auto f3 = root->Walk("p3");
    ASSERT_TRUE(f1 && f2 && f3);
    EXPECT_NE(f1->qid(), f2->qid());
    if (xqid) {
      EXPECT_EQ(f1->qid().path, s1.st_ino) << "xqid: path is the inode number";
      EXPECT_NE(f1->qid().path_hi, f2->qid().path_hi);
    } else {
      EXPECT_NE(f1->qid().path, f2->qid().path);
    }
    ASSERT_TRUE(f1->Open(kOpenRdonly));
    ASSERT_TRUE(f2->Open(kOpenWronly | kOpenTrunc));
    const std::string text = std::string("written through p2 in ") + (xqid ? "xqid" : "legacy") + "\n";
    ASSERT_TRUE(f2->WriteAt(0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
    ASSERT_TRUE(root->client()->Fsync(f2->number(), 0));
    EXPECT_EQ(Slurp(export_ + "/p2/file"), text) << "checked on the host";
    EXPECT_EQ(Slurp(export_ + "/p1/file"), p1_before) << "p1/file must not change";
    auto back = f1->ReadAll();
    ASSERT_TRUE(back);
    EXPECT_EQ(std::string(back->begin(), back->end()), p1_before);
  }
}

}  // namespace
}  // namespace p9x
