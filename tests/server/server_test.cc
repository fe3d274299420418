// SPDX-License-Identifier: MIT
// p9xd over real unix sockets against real temporary directories, driven by the p9x client.
#include "server/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "client/client.h"
#include "codec/frame.h"

namespace p9x::server {
namespace {

namespace fs = std::filesystem;
using client::Client;

int CountOpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/p9xd-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    export_ = base_ / "export";
    fs::create_directories(export_ / "dir");
    std::ofstream(export_ / "dir" / "file") << "hello";
    fs::create_symlink("/", export_ / "escape");
    fs::create_symlink("../../..", export_ / "dir" / "up");
    std::ofstream(base_ / "secret") << "outside";
  }
  void TearDown() override {
    StopServer();
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  void StartServer(ServerOptions options = {}) {
    options.export_path = export_;
    auto server = Server::Create(options);
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    socket_ = (base_ / "sock").string();
    auto fd = BindListener("unix:" + socket_, nullptr);
    ASSERT_TRUE(fd) << fd.error();
    listen_fd_ = *fd;
    accept_ = std::thread([this] { AcceptLoop(*server_, listen_fd_, stop_); });
  }
  void StopServer() {
    if (!server_) return;
    stop_ = true;
    accept_.join();
    close(listen_fd_);
    server_->Shutdown();
    server_.reset();
  }
  std::unique_ptr<Client> Connect(negotiation::DialectChoice dialect = negotiation::DialectChoice::kAuto) {
    client::Options o;
    o.target = "unix:" + socket_;
    o.dialect = dialect;
    o.timeout = std::chrono::seconds(10);
    auto c = Client::Connect(o);
    EXPECT_TRUE(c) << (c ? "" : c.error().detail);
    return c ? std::move(*c) : nullptr;
  }
  int RawConnect() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, socket_.c_str(), sizeof sa.sun_path - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    return fd;
  }

  fs::path base_, export_;
  std::string socket_;
  std::unique_ptr<Server> server_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_;
};

TEST_F(ServerTest, XqidSessionGetsFilesystemNumberAndInode) {
  StartServer();
  auto c = Connect(negotiation::DialectChoice::kXqidOnly);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->negotiated().version, "9P2000.L.xqid");
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  struct stat st;
  ASSERT_EQ(lstat(export_.c_str(), &st), 0);
  EXPECT_EQ(root->qid().path, st.st_ino);
  EXPECT_NE(root->qid().path_hi, 0u);  // a number derived from the filesystem's identity
  EXPECT_NE(root->qid().path_hi, static_cast<uint64_t>(st.st_dev));
  EXPECT_EQ(root->qid().type, kQtDir);
}

TEST_F(ServerTest, LegacySessionSeesInodeNumbersOnOneFilesystem) {
  StartServer();
  auto c = Connect(negotiation::DialectChoice::kLegacyOnly);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->negotiated().version, "9P2000.L");
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto file = root->Walk("dir/file");
  ASSERT_TRUE(file);
  struct stat st;
  ASSERT_EQ(lstat((export_ / "dir" / "file").c_str(), &st), 0);
  EXPECT_EQ(file->qid().path, st.st_ino);
  EXPECT_EQ(file->qid().path_hi, 0u);
  EXPECT_NE(file->qid().version, 0u);
}

TEST_F(ServerTest, CreateWriteReadBackAndOnDisk) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto dir = root->Walk("dir");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(dir->Create("new", kOpenRdwr, 0644, getegid()));
  std::vector<uint8_t> data(300000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(dir->WriteAt(0, data));
  auto back = dir->ReadAll(0);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
  std::ifstream disk(export_ / "dir" / "new", std::ios::binary);
  std::vector<uint8_t> on_disk((std::istreambuf_iterator<char>(disk)), {});
  EXPECT_EQ(on_disk, data);
}

TEST_F(ServerTest, ReaddirQidsEqualWalkQids) {
  StartServer();
  for (int i = 0; i < 200; ++i) std::ofstream(export_ / "dir" / ("f" + std::to_string(i))) << i;
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto dir = root->Walk("dir");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(dir->Open(kOpenRdonly));
  auto entries = dir->ReadDir();
  ASSERT_TRUE(entries);
  std::set<std::string> names;
  for (const auto& e : *entries) {
    names.insert(e.name);
    if (e.name == "." || e.name == "..") continue;
    auto walked = root->Walk("dir/" + e.name);
    ASSERT_TRUE(walked) << e.name;
    // The entry's qid is the walk qid, with version 0 (spec/9p2000.L.md §8.16).
    Qid expected = walked->qid();
    expected.version = 0;
    EXPECT_EQ(expected, e.qid) << e.name;
  }
  EXPECT_EQ(names.size(), 200u + 4);  // f0..f199, file, up, ".", ".."
}

TEST_F(ServerTest, DotDotAtTheRootStaysAtTheRoot) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto up = root->Walk("..");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->qid(), root->qid());
  auto up_up = root->Walk("dir/../../..");
  ASSERT_TRUE(up_up);
  EXPECT_EQ(up_up->qid(), root->qid());
}

TEST_F(ServerTest, SymlinksAreNeverFollowedOutOfTheExport) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto link = root->Walk("escape");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->qid().type, kQtSymlink);
  EXPECT_FALSE(root->Walk("escape/etc"));
  EXPECT_FALSE(root->Walk("dir/up/secret"));
  auto opened = link->Open(kOpenRdonly);
  EXPECT_FALSE(opened);
  auto target = link->ReadLink();
  ASSERT_TRUE(target);
  EXPECT_EQ(*target, "/");
}

TEST_F(ServerTest, NamesWithSlashesAreRefused) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  const std::string_view bad[] = {"dir/file"};
  auto w = c->Walk(root->number(), 77, bad);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errno::kEINVAL);
  auto m = c->Mkdir(root->number(), "a/b", 0755, getegid());
  ASSERT_FALSE(m);
}

TEST_F(ServerTest, ReadOnlyExportRefusesChanges) {
  ServerOptions o;
  o.read_only = true;
  StartServer(o);
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto m = c->Mkdir(root->number(), "nope", 0755, getegid());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errno::kEROFS);
  EXPECT_FALSE(fs::exists(export_ / "nope"));
}

TEST_F(ServerTest, ReversionClunksEveryFid) {
  StartServer();
  auto c = Connect(negotiation::DialectChoice::kLegacyOnly);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Attach(5, kNoFid, "root", "", kNoUname));
  ASSERT_TRUE(c->Version(8192, "9P2000.L"));
  auto g = c->Getattr(5, kGetattrBasic);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errno::kEBADF);
  ASSERT_TRUE(c->Attach(5, kNoFid, "root", "", kNoUname));  // the number is free again
}

TEST_F(ServerTest, MalformedFrameClosesOnlyThatConnection) {
  StartServer();
  auto good = Connect();
  ASSERT_TRUE(good);
  auto root = good->AttachRoot("root", "");
  ASSERT_TRUE(root);
  int bad = RawConnect();
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0x7f, 100, 0xff, 0xff};  // size 2 GiB
  ASSERT_EQ(write(bad, junk, sizeof junk), static_cast<ssize_t>(sizeof junk));
  uint8_t buf[64];
  ssize_t n;
  while ((n = read(bad, buf, sizeof buf)) > 0) {
  }
  EXPECT_EQ(n, 0);  // the server closed it
  close(bad);
  EXPECT_TRUE(root->GetAttr());
}

TEST_F(ServerTest, VanishedClientsLeakNoDescriptors) {
  StartServer();
  {
    auto warm = Connect();  // first use allocates the worker threads etc.
    ASSERT_TRUE(warm);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int baseline = CountOpenFds();
  for (int i = 0; i < 20; ++i) {
    auto c = Connect();
    ASSERT_TRUE(c);
    // Raw fids (no RAII handles): the client goes away with them open on the server.
    ASSERT_TRUE(c->Attach(1, kNoFid, "root", "", kNoUname));
    const std::string_view path[] = {"dir", "file"};
    ASSERT_TRUE(c->Walk(1, 2, path));
    ASSERT_TRUE(c->Lopen(2, kOpenRdonly));
    ASSERT_TRUE(c->Walk(1, 3, std::span<const std::string_view>(path, 1)));
    ASSERT_TRUE(c->Lopen(3, kOpenRdonly));
    (void)c->Start(Tread{2, 0, 4096});  // possibly in flight when the connection drops
  }
  for (int i = 0; i < 100 && CountOpenFds() > baseline; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(CountOpenFds(), baseline);
  EXPECT_EQ(server_->active_connections(), 0u);
}

TEST_F(ServerTest, ManyTagsInFlightAreAllAnswered) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto f = root->Walk("dir/file");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->Open(kOpenRdonly));
  std::vector<client::Pending<Rread>> reads;
  for (int i = 0; i < 200; ++i) {
    auto p = c->Start(Tread{f->number(), 0, 5});
    ASSERT_TRUE(p);
    reads.push_back(std::move(*p));
  }
  for (auto& p : reads) {
    auto r = p.Wait();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->msg().data.bytes.size(), 5u);
  }
}

}  // namespace
}  // namespace p9x::server

namespace p9x::server {
namespace {

// tcp:HOST:PORT takes IPv6 literals in brackets; the bound address names them
// the same way, and a client reaches the server there.
TEST(ServerListen, ServesOverIpv6Loopback) {
  char tmpl[] = "/tmp/p9xd-v6-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/hello") << "over v6";
  ServerOptions options;
  options.export_path = dir;
  auto server = Server::Create(options);
  ASSERT_TRUE(server) << server.error();
  std::string bound;
  auto fd = BindListener("tcp:[::1]:0", &bound);
  if (!fd) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "no IPv6 loopback on this machine: " << fd.error();
  }
  EXPECT_EQ(bound.rfind("tcp:[::1]:", 0), 0u) << bound;
  std::atomic<bool> stop{false};
  std::thread accept([&] { AcceptLoop(**server, *fd, stop); });
  {
    client::Options o;
    o.target = bound;
    o.timeout = std::chrono::seconds(10);
    auto c = client::Client::Connect(o);
    ASSERT_TRUE(c) << c.error().detail;
    auto root = (*c)->AttachRoot("root", "");
    ASSERT_TRUE(root);
    auto f = root->Walk("hello");
    ASSERT_TRUE(f && f->Open(kOpenRdonly));
    auto data = f->ReadAll();
    ASSERT_TRUE(data);
    EXPECT_EQ(std::string(data->begin(), data->end()), "over v6");
  }
  stop = true;
  accept.join();
  close(*fd);
  (*server)->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace p9x::server
