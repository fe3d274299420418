// SPDX-License-Identifier: MIT
// The failure rules of spec/qid-map.md §5, through the real engine (MemFs backend, real unix
// socket, the p9x client): what a client gets when a file cannot be given a qid. The qid map's
// journal is made to fail with the file size limit (RLIMIT_FSIZE: EFBIG, SIGXFSZ ignored), the
// same way for every request, so each rule is seen with a real host errno.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "client/client.h"
#include "codec/constants.h"
#include "codec/dirent.h"
#include "server/mem_fs.h"
#include "server/server.h"

namespace p9x::server {
namespace {

namespace fs = std::filesystem;
using client::Client;
using negotiation::DialectChoice;

constexpr uint64_t kBlock = uint64_t{1} << kBlockBits;

// While alive, appending to the qid journal fails: the file may not grow past its size now.
class JournalFull {
 public:
  explicit JournalFull(const std::string& journal) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = saved_;
    tight.rlim_cur = fs::file_size(journal);
    setrlimit(RLIMIT_FSIZE, &tight);
  }
  ~JournalFull() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, previous_);
  }

 private:
  struct rlimit saved_;
  sighandler_t previous_;
};

class QidFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/p9xd-qidfail-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Every device's root is inode 2^20 - 1, so a new file (2^20) needs a new block of the map:
    // a journal append. "many" holds f<i> at inode i * 2^20, one block each.
    MemFsOptions mem;
    mem.root_ino = kBlock - 1;
    mem.mounts = {"p1"};
    MemFsOptions::Generated g;
    g.name = "many";
    g.count = 10;
    g.first_ino = 0;
    g.stride = kBlock;
    mem.generated.push_back(g);
    memfs_ = std::make_shared<MemFs>(std::move(mem));
    ServerOptions options;
    options.export_path = "mem:";
    options.backend = memfs_;
    options.qid_state_path = dir_ + "/qid.state";
    auto server = Server::Create(options);
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    socket_ = dir_ + "/sock";
    auto fd = BindListener("unix:" + socket_, nullptr);
    ASSERT_TRUE(fd) << fd.error();
    listen_fd_ = *fd;
    accept_ = std::thread([this] { AcceptLoop(*server_, listen_fd_, stop_); });
    client::Options o;
    o.target = "unix:" + socket_;
    o.dialect = DialectChoice::kLegacyOnly;
    auto c = Client::Connect(o);
    ASSERT_TRUE(c) << c.error().detail;
    client_ = std::move(*c);
    auto root = client_->AttachRoot("root", "mem:");
    ASSERT_TRUE(root);
    root_ = std::move(*root);
    // Map both filesystems and their first blocks (p1, many, many/f0) while the journal can grow.
    ASSERT_TRUE(root_.Walk("p1"));
    ASSERT_TRUE(root_.Walk("many/f0"));
  }
  void TearDown() override {
    root_ = client::Fid();
    client_.reset();
    if (server_) {
      stop_ = true;
      accept_.join();
      close(listen_fd_);
      server_->Shutdown();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Journal() const { return dir_ + "/qid.state"; }
  std::string JournalBytes() const {
    std::ifstream in(Journal(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_, socket_;
  std::shared_ptr<MemFs> memfs_;
  std::unique_ptr<Server> server_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_;
  std::unique_ptr<Client> client_;
  client::Fid root_;
};

// §5.1: a creating request whose object gets no qid fails, and the object is not left behind;
// §5.4: the journal is unchanged, the errno is the host's, and what was mapped is still served.
TEST_F(QidFailureTest, ACreateThatCannotBeMappedLeavesNothingBehind) {
  auto p1 = root_.Walk("p1");
  ASSERT_TRUE(p1);
  const std::string before = JournalBytes();
  {
    JournalFull full(Journal());
    auto made = p1->Mkdir("d", 0755, getegid());
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, static_cast<Errno>(EFBIG));
    auto f = p1->Walk("");
    ASSERT_TRUE(f);
    auto created = f->Create("new", kOpenRdwr | kOpenExcl, 0644, getegid());
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, static_cast<Errno>(EFBIG));
    // Without O_EXCL (what open(O_CREAT) sends) the file this request made goes too.
    auto g = p1->Walk("");
    ASSERT_TRUE(g);
    auto plain = g->Create("plain", kOpenRdwr | kOpenTrunc, 0644, getegid());
    ASSERT_FALSE(plain);
    EXPECT_EQ(plain.error().code, static_cast<Errno>(EFBIG));
    auto link = p1->Symlink("sym", "target", getegid());
    ASSERT_FALSE(link);
    EXPECT_EQ(JournalBytes(), before);
    // Everything already mapped is served.
    EXPECT_TRUE(root_.Walk("p1"));
    EXPECT_TRUE(root_.Walk("many/f0"));
  }
  for (const char* name : {"d", "new", "plain", "sym"}) {
    EXPECT_FALSE(root_.Walk(std::string("p1/") + name)) << name << " was left behind";
  }
  // The retry succeeds (no EEXIST from a leftover).
  auto made = p1->Mkdir("d", 0755, getegid());
  EXPECT_TRUE(made) << (made ? "" : made.error().detail);
}

// §5.2: Treaddir never skips an entry silently: the reply ends before an unmappable entry, and a
// Treaddir that starts at it fails with the errno.
TEST_F(QidFailureTest, ReaddirStopsBeforeAnUnmappableEntryAndFailsOnIt) {
  ASSERT_TRUE(root_.Walk("many/f4"));  // mappable after the unmappable f1, f2, f3
  auto many = root_.Walk("many");
  ASSERT_TRUE(many && many->Open(kOpenRdonly));
  {
    JournalFull full(Journal());
    auto first = client_->Readdir(many->number(), 0, 8192);
    ASSERT_TRUE(first) << first.error().detail;
    std::vector<std::string> names;
    uint64_t next = 0;
    DirentReader reader((*first)->data.bytes, Dialect::kLegacy);
    Dirent e;
    while (reader.Next(&e)) {
      names.emplace_back(e.name);
      next = e.offset;
    }
    ASSERT_TRUE(reader.ok());
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(std::count(names.begin(), names.end(), "f1"), 0) << "f1 needs a block: it cannot be listed";
    EXPECT_EQ(std::count(names.begin(), names.end(), "f4"), 0) << "an entry after the unmappable one was sent";
    EXPECT_EQ(names.back(), "f0");
    auto second = client_->Readdir(many->number(), next, 8192);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, static_cast<Errno>(EFBIG));
  }
  auto entries = many->ReadDir();
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->size(), 12u);  // . .. f0..f9
}

// §5.3: Twalk answers per walk(5): the qids of the elements walked before the one that failed,
// and no new fid.
TEST_F(QidFailureTest, WalkAnswersTheQidsBeforeTheElementThatCannotBeMapped) {
  JournalFull full(Journal());
  const std::string_view names[] = {"many", "f3"};
  auto walked = client_->Walk(root_.number(), 77, names);
  ASSERT_TRUE(walked) << walked.error().detail;
  EXPECT_EQ((*walked)->wqids.count, 1u);
  auto clunk = client_->Clunk(77);
  ASSERT_FALSE(clunk);
  EXPECT_EQ(clunk.error().code, Errno::kEBADF);
  const std::string_view first[] = {"f4"};
  auto many = root_.Walk("many");
  ASSERT_TRUE(many);
  auto failed = client_->Walk(many->number(), 78, first);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, static_cast<Errno>(EFBIG));
}

}  // namespace
}  // namespace p9x::server
