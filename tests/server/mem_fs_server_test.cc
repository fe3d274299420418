// SPDX-License-Identifier: MIT
// MemFs as the backend of a real p9xd engine over real unix sockets, driven by the p9x client:
// two devices with identical inode numbers in both dialects, and the qid map over millions of
// generated files. (The backend alone is tested in server/mem_fs_test.cc.)
#include "server/mem_fs.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <unordered_set>

#include "client/client.h"
#include "codec/constants.h"
#include "server/server.h"

namespace p9x::server {
namespace {

namespace fs = std::filesystem;
using client::Client;
using negotiation::DialectChoice;

class MemFsServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) {
      stop_ = true;
      accept_.join();
      close(listen_fd_);
      server_->Shutdown();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Start(MemFsOptions mem) {
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/p9xd-memfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    memfs_ = std::make_shared<MemFs>(std::move(mem));
    ServerOptions options;
    options.export_path = "mem:";
    options.backend = memfs_;
    auto server = Server::Create(options);
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    socket_ = dir_ + "/sock";
    auto fd = BindListener("unix:" + socket_, nullptr);
    ASSERT_TRUE(fd) << fd.error();
    listen_fd_ = *fd;
    accept_ = std::thread([this] { AcceptLoop(*server_, listen_fd_, stop_); });
  }
  std::unique_ptr<Client> Connect(DialectChoice dialect) {
    client::Options o;
    o.target = "unix:" + socket_;
    o.dialect = dialect;
    o.timeout = std::chrono::seconds(60);
    auto c = Client::Connect(o);
    EXPECT_TRUE(c) << (c ? "" : c.error().detail);
    return c ? std::move(*c) : nullptr;
  }
  static std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

  std::string dir_, socket_;
  std::shared_ptr<MemFs> memfs_;
  std::unique_ptr<Server> server_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_;
};

// The multi-filesystem scenario on two in-memory devices that number their inodes identically: every file
// has its own qid in both dialects, and a write through p2/file while p1/file is open lands in
// p2/file.
TEST_F(MemFsServerTest, SeedScenarioTwoDevicesWithIdenticalInodeNumbers) {
  MemFsOptions o;
  o.mounts = {"p1", "p2"};
  Start(o);
  for (DialectChoice dialect : {DialectChoice::kLegacyOnly, DialectChoice::kXqidOnly}) {
    SCOPED_TRACE(dialect == DialectChoice::kXqidOnly ? "xqid" : "legacy");
    auto c = Connect(dialect);
    ASSERT_TRUE(c);
    auto root = c->AttachRoot("root", "mem:");
    ASSERT_TRUE(root);
    const std::string name = dialect == DialectChoice::kXqidOnly ? "x" : "l";
    for (const char* p : {"p1", "p2"}) {
      auto d = root->Walk(p);
      ASSERT_TRUE(d);
      ASSERT_TRUE(d->Create(name, kOpenRdwr, 0644, getegid()));
      ASSERT_TRUE(d->WriteAt(0, Bytes(std::string(p) + " original")));
    }
    auto f1 = root->Walk("p1/" + name);
    auto f2 = root->Walk("p2/" + name);
    ASSERT_TRUE(f1 && f2);
    auto a1 = f1->GetAttr();
    auto a2 = f2->GetAttr();
    ASSERT_TRUE(a1 && a2);
    // The backend gives both the same inode number; only the qid map tells them apart.
    EXPECT_NE(f1->qid(), f2->qid());
    if (dialect == DialectChoice::kXqidOnly) {
      EXPECT_EQ(f1->qid().path, f2->qid().path) << "xqid path is the inode number";
      EXPECT_NE(f1->qid().path_hi, f2->qid().path_hi);
    }
    // Same file, same qid, by walk, getattr and readdir.
    EXPECT_EQ(a1->qid, f1->qid());
    auto p2 = root->Walk("p2");
    ASSERT_TRUE(p2 && p2->Open(kOpenRdonly));
    auto entries = p2->ReadDir();
    ASSERT_TRUE(entries);
    bool seen = false;
    for (const auto& e : *entries) {
      if (e.name == name) {
        Qid expected = f2->qid();  // the walk qid, with version 0 in a directory entry
        expected.version = 0;
        EXPECT_EQ(e.qid, expected);
        seen = true;
      }
    }
    EXPECT_TRUE(seen);
    // p1/file open, then a write through p2/file.
    ASSERT_TRUE(f1->Open(kOpenRdonly));
    ASSERT_TRUE(f2->Open(kOpenWronly | kOpenTrunc));
    ASSERT_TRUE(f2->WriteAt(0, Bytes("written through p2")));
    EXPECT_EQ(*memfs_->ReadFileForTest("p2/" + name), Bytes("written through p2"));
    EXPECT_EQ(*memfs_->ReadFileForTest("p1/" + name), Bytes("p1 original"));
    EXPECT_EQ(*f1->ReadAll(), Bytes("p1 original"));
  }
}

// The qid map over millions of files on several devices with identical,
// high-bit and sparse inode numbers, listed by Treaddir: no two entries share a qid path.
TEST_F(MemFsServerTest, MillionsOfGeneratedFilesGetDistinctQids) {
  const uint64_t n = std::getenv("P9X_MEMFS_FILES") ? std::strtoull(std::getenv("P9X_MEMFS_FILES"), nullptr, 10)
                                                    : 1'000'000;
  MemFsOptions o;
  auto gen = [&](const char* name, uint64_t count, uint64_t first_ino, uint64_t stride) {
    MemFsOptions::Generated g;
    g.name = name;
    g.count = count;
    g.first_ino = first_ino;
    g.stride = stride;
    o.generated.push_back(g);
  };
  gen("dense1", n, 12, 1);
  gen("dense2", n, 12, 1);  // the same inode numbers on another device
  gen("high", n / 10, 0xfffffff000000000ull, 7);
  gen("sparse", n / 10, 1, 0x100000001ull);
  Start(o);
  for (DialectChoice dialect : {DialectChoice::kLegacyOnly, DialectChoice::kXqidOnly}) {
    SCOPED_TRACE(dialect == DialectChoice::kXqidOnly ? "xqid" : "legacy");
    auto c = Connect(dialect);
    ASSERT_TRUE(c);
    auto root = c->AttachRoot("root", "");
    ASSERT_TRUE(root);
    std::unordered_set<uint64_t> legacy;
    std::set<std::pair<uint64_t, uint64_t>> xqid;
    uint64_t files = 0;
    for (const char* d : {"dense1", "dense2", "high", "sparse"}) {
      auto dir = root->Walk(d);
      ASSERT_TRUE(dir && dir->Open(kOpenRdonly));
      auto entries = dir->ReadDir();
      ASSERT_TRUE(entries);
      for (const auto& e : *entries) {
        if (e.name == "." || e.name == "..") continue;
        ++files;
        if (dialect == DialectChoice::kXqidOnly) {
          EXPECT_TRUE(xqid.emplace(e.qid.path_hi, e.qid.path).second) << d << "/" << e.name;
        } else {
          ASSERT_TRUE(legacy.insert(e.qid.path).second) << d << "/" << e.name << " repeats path " << e.qid.path;
        }
      }
      // A walk gives the same qid as the listing.
      auto last = root->Walk(std::string(d) + "/" + entries->back().name);
      ASSERT_TRUE(last);
      Qid expected = last->qid();  // version 0 in a directory entry
      expected.version = 0;
      EXPECT_EQ(expected, entries->back().qid);
    }
    EXPECT_EQ(files, 2 * n + 2 * (n / 10));
  }
}

}  // namespace
}  // namespace p9x::server
