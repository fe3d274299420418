// SPDX-License-Identifier: MIT
// p9xd over real unix sockets against real temporary directories, driven by the p9x client.
#include "server/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
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

  // A new connection attached as root, with `path` walked to (and, by OpenInExport, opened with
  // `flags`). The file is clunked before the root, and both before the connection goes.
  struct OpenedFile {
    std::unique_ptr<Client> client;
    std::optional<client::Fid> root, file;
  };
  void WalkInExport(const std::string& path, OpenedFile* out) {
    out->client = Connect();
    ASSERT_TRUE(out->client);
    auto root = out->client->AttachRoot("root", "");
    ASSERT_TRUE(root);
    out->root.emplace(std::move(*root));
    auto f = out->root->Walk(path);
    ASSERT_TRUE(f);
    out->file.emplace(std::move(*f));
  }
  void OpenInExport(const std::string& path, uint32_t flags, OpenedFile* out) {
    ASSERT_NO_FATAL_FAILURE(WalkInExport(path, out));
    ASSERT_TRUE(out->file->Open(flags));
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
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(WalkInExport("dir", &opened));
  std::optional<client::Fid>& dir = opened.file;
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
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(OpenInExport("dir", kOpenRdonly, &opened));
  std::optional<client::Fid>& root = opened.root;
  auto entries = opened.file->ReadDir();
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
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(OpenInExport("dir/file", kOpenRdonly, &opened));
  Client* c = opened.client.get();
  client::Fid* f = &*opened.file;
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

// A file whose bytes say where they are, so a read at any offset can be checked.
std::vector<uint8_t> PatternBytes(size_t size, uint8_t seed) {
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>((i * 131 + seed) ^ (i >> 12));
  return data;
}

void WriteWholeFile(const fs::path& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// A regular file's Rread data is spliced from the page cache (a pipe holds whole pages, so a read
// that does not start on a page boundary ends with a copied tail): pipelined reads at unaligned
// offsets, across the end of the file and past it, each carry exactly the file's bytes.
TEST_F(ServerTest, SplicedReadsAtAnyOffsetCarryTheFilesBytes) {
  const std::vector<uint8_t> data = PatternBytes((3 << 20) + 123, 7);
  WriteWholeFile(export_ / "big", data);
  StartServer();
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(OpenInExport("big", kOpenRdonly, &opened));
  Client* c = opened.client.get();
  client::Fid* f = &*opened.file;
  const uint32_t count = c->max_io();
  const std::vector<uint64_t> offsets = {0,
                                         1,
                                         4095,
                                         4096 + 13,
                                         count,
                                         2 * uint64_t{count} + 511,
                                         data.size() - 100,
                                         data.size() - 1,
                                         data.size(),
                                         data.size() + 4096};
  std::vector<client::Pending<Rread>> reads;
  for (uint64_t offset : offsets) {
    auto p = c->Start(Tread{f->number(), offset, count});
    ASSERT_TRUE(p);
    reads.push_back(std::move(*p));
  }
  for (size_t i = 0; i < reads.size(); ++i) {
    auto r = reads[i].Wait();
    ASSERT_TRUE(r) << "offset " << offsets[i];
    const uint64_t start = std::min<uint64_t>(offsets[i], data.size());
    const size_t want = static_cast<size_t>(std::min<uint64_t>(count, data.size() - start));
    const auto got = r->msg().data.bytes;
    ASSERT_EQ(got.size(), want) << "offset " << offsets[i];
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<ptrdiff_t>(start)))
        << "offset " << offsets[i];
  }
}

// The count of an Rread is the data that follows it: a file shrinking and growing under its
// readers (truncated to 0 and refilled) gives short or zero reads, and each reply still carries
// exactly the bytes its count says (otherwise the client loses the framing and the next reply
// fails to decode).
TEST_F(ServerTest, ReadsOfAFileTruncatedUnderThemCountWhatTheySend) {
  const std::vector<uint8_t> data = PatternBytes(1 << 20, 3);
  WriteWholeFile(export_ / "shrinking", data);
  StartServer();
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(OpenInExport("shrinking", kOpenRdonly, &opened));
  Client* c = opened.client.get();
  client::Fid* f = &*opened.file;
  std::atomic<bool> done{false};
  std::thread truncator([&] {
    const int fd = open((export_ / "shrinking").c_str(), O_WRONLY | O_CLOEXEC);
    while (!done.load()) {
      ASSERT_EQ(ftruncate(fd, 0), 0);
      ASSERT_EQ(pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    }
    close(fd);
  });
  const uint32_t count = c->max_io();
  for (int round = 0; round < 100; ++round) {
    std::vector<client::Pending<Rread>> reads;
    for (uint64_t offset : {uint64_t{0}, uint64_t{5000}, uint64_t{count} + 77}) {
      auto p = c->Start(Tread{f->number(), offset, count});
      ASSERT_TRUE(p);
      reads.push_back(std::move(*p));
    }
    for (auto& p : reads) {
      auto r = p.Wait();
      ASSERT_TRUE(r) << r.error().Describe();
      EXPECT_LE(r->msg().data.bytes.size(), count);
    }
  }
  done = true;
  truncator.join();
}

// What cannot be spliced is not: a FIFO's Tread goes to a worker and through OpenFile::Read, whose
// pread(2) answers ESPIPE, as it did before reads were spliced; the connection goes on.
TEST_F(ServerTest, ReadOfAFifoIsNotSpliced) {
  ASSERT_EQ(mkfifo((export_ / "fifo").c_str(), 0644), 0);
  std::ofstream(export_ / "after") << "still here";
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c);
  auto root = c->AttachRoot("root", "");
  ASSERT_TRUE(root);
  auto f = root->Walk("fifo");
  ASSERT_TRUE(f);
  std::thread writer([&] {
    const int fd = open((export_ / "fifo").c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::string message(40000, 'q');
    ASSERT_EQ(write(fd, message.data(), message.size()), static_cast<ssize_t>(message.size()));
    close(fd);
  });
  ASSERT_TRUE(f->Open(kOpenRdonly));
  writer.join();
  auto r = c->Read(f->number(), 0, 65536);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, client::Error::Kind::kRemote);
  EXPECT_EQ(r.error().code, Errno::kESPIPE);
  auto after = root->Walk("after");
  ASSERT_TRUE(after);
  ASSERT_TRUE(after->Open(kOpenRdonly));
  auto back = after->ReadAll(0);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::string(back->begin(), back->end()), "still here");
}

// A Twrite larger than the connection's read buffer is read into a buffer of its own, which a
// worker takes without a copy: pipelined large writes at distinct offsets each land once.
TEST_F(ServerTest, PipelinedLargeWritesEachLandOnce) {
  StartServer();
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(WalkInExport("dir", &opened));
  Client* c = opened.client.get();
  std::optional<client::Fid>& dir = opened.file;
  ASSERT_TRUE(dir->Create("written", kOpenRdwr, 0644, getegid()));
  const uint32_t count = c->max_io();
  const std::vector<uint8_t> data = PatternBytes(size_t{count} * 12, 11);
  std::vector<client::Pending<Rwrite>> writes;
  for (size_t i = 0; i < 12; ++i) {
    const auto part = std::span<const uint8_t>(data).subspan(i * count, count);
    auto p = c->Start(Twrite{dir->number(), i * count, Bytes{part}});
    ASSERT_TRUE(p);
    writes.push_back(std::move(*p));
  }
  for (auto& p : writes) {
    auto r = p.Wait();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->msg().count, count);
  }
  std::ifstream disk(export_ / "dir" / "written", std::ios::binary);
  std::vector<uint8_t> on_disk((std::istreambuf_iterator<char>(disk)), {});
  EXPECT_EQ(on_disk, data);
}

std::vector<uint8_t> ReadWholeFile(const fs::path& path) {
  std::ifstream disk(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(disk)), {});
}

// A large Twrite to a regular file goes socket -> pipe -> file by splice(2): writes at offsets
// that are not on a page boundary, of sizes that are not whole pages, one at a time (answered on
// the connection's thread) and pipelined (on workers), each land exactly where asked.
TEST_F(ServerTest, SplicedWritesAtUnalignedOffsetsLandWhereAsked) {
  std::vector<uint8_t> model = PatternBytes(3 << 20, 5);
  WriteWholeFile(export_ / "target", model);
  StartServer();
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(OpenInExport("target", kOpenRdwr, &opened));
  Client* c = opened.client.get();
  const uint32_t fid = opened.file->number();
  const uint32_t max = c->max_io();
  struct Piece {
    uint64_t offset;
    uint32_t size;
  };
  const Piece alone[] = {{1, 20000}, {4095, 65536 + 7}, {(1 << 20) + 4097, max}, {(3 << 20) - 100, 30001}};
  const Piece pipelined[] = {{9, 40000}, {100000 + 3, 17001}, {(2 << 20) + 1, max}, {(1 << 19) + 2049, max - 1}};
  uint8_t seed = 40;
  auto payload_for = [&](const Piece& p) {
    std::vector<uint8_t> bytes = PatternBytes(p.size, seed++);
    if (model.size() < p.offset + p.size) model.resize(p.offset + p.size);
    std::copy(bytes.begin(), bytes.end(), model.begin() + static_cast<ptrdiff_t>(p.offset));
    return bytes;
  };
  for (const Piece& p : alone) {
    const std::vector<uint8_t> bytes = payload_for(p);
    auto r = c->Write(fid, p.offset, bytes);
    ASSERT_TRUE(r) << r.error().Describe();
    EXPECT_EQ(r->msg().count, p.size) << "offset " << p.offset;
  }
  std::vector<std::vector<uint8_t>> payloads;
  for (const Piece& p : pipelined) payloads.push_back(payload_for(p));
  std::vector<client::Pending<Rwrite>> writes;
  for (size_t i = 0; i < std::size(pipelined); ++i) {
    auto p = c->Start(Twrite{fid, pipelined[i].offset, Bytes{payloads[i]}});
    ASSERT_TRUE(p);
    writes.push_back(std::move(*p));
  }
  for (size_t i = 0; i < writes.size(); ++i) {
    auto r = writes[i].Wait();
    ASSERT_TRUE(r) << r.error().Describe();
    EXPECT_EQ(r->msg().count, pipelined[i].size) << "offset " << pipelined[i].offset;
  }
  const std::vector<uint8_t> on_disk = ReadWholeFile(export_ / "target");
  ASSERT_EQ(on_disk.size(), model.size());
  EXPECT_TRUE(on_disk == model) << "first difference at byte "
                                << std::mismatch(on_disk.begin(), on_disk.end(), model.begin()).first - on_disk.begin();
}

// A file opened O_APPEND is never spliced into (splice(2) refuses it: EINVAL): its large Twrite
// is written as pwrite(2) writes it there, at the end of the file whatever the offset.
TEST_F(ServerTest, LargeWriteToAnAppendOnlyFileAppends) {
  const std::vector<uint8_t> before = PatternBytes(5000, 1);
  WriteWholeFile(export_ / "log", before);
  StartServer();
  OpenedFile opened;
  ASSERT_NO_FATAL_FAILURE(OpenInExport("log", kOpenWronly | kOpenAppend, &opened));
  const std::vector<uint8_t> more = PatternBytes(70000, 2);
  auto r = opened.client->Write(opened.file->number(), 0, more);
  ASSERT_TRUE(r) << r.error().Describe();
  EXPECT_EQ(r->msg().count, more.size());
  std::vector<uint8_t> want = before;
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_TRUE(ReadWholeFile(export_ / "log") == want);
}

// An xattr fid's Twrite is never spliced: its value is kept in memory until Tclunk. A value larger
// than the read buffer arrives in pieces like any other, and the connection goes on after it.
TEST_F(ServerTest, LargeWriteToAnXattrFidIsTheValue) {
  // A value this large needs a filesystem that takes it: tmpfs does, ext4 without ea_inode does
  // not (ENOSPC). The export moves to /dev/shm where that is tmpfs.
  struct RemoveAtEnd {
    fs::path dir;
    ~RemoveAtEnd() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } shm;
  char tmpl[] = "/dev/shm/p9xd-xattr-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) {
    shm.dir = tmpl;
    export_ = shm.dir;
    fs::create_directories(export_ / "dir");
    std::ofstream(export_ / "dir" / "file") << "hello";
  }
  const bool takes_large_values = !shm.dir.empty() && setxattr((export_ / "dir" / "file").c_str(), "user.probe",
                                                               std::string(30000, 'p').data(), 30000, 0) == 0;
  StartServer();
  OpenedFile walked;
  ASSERT_NO_FATAL_FAILURE(WalkInExport("dir/file", &walked));
  Client* c = walked.client.get();
  auto x = walked.file->Walk("");
  ASSERT_TRUE(x);
  const std::vector<uint8_t> value = PatternBytes(30000, 9);
  ASSERT_TRUE(c->Xattrcreate(x->number(), "user.big", value.size(), 0));
  auto first = c->Write(x->number(), 0, std::span<const uint8_t>(value).first(20000));
  ASSERT_TRUE(first) << first.error().Describe();
  EXPECT_EQ(first->msg().count, 20000u);
  auto second = c->Write(x->number(), 20000, std::span<const uint8_t>(value).subspan(20000));
  ASSERT_TRUE(second) << second.error().Describe();
  EXPECT_EQ(second->msg().count, 10000u);
  auto clunked = x->Clunk();
  if (takes_large_values) {
    ASSERT_TRUE(clunked) << clunked.error().Describe();
    std::vector<uint8_t> got(value.size() + 1);
    const ssize_t n = getxattr((export_ / "dir" / "file").c_str(), "user.big", got.data(), got.size());
    ASSERT_EQ(n, static_cast<ssize_t>(value.size()));
    got.resize(static_cast<size_t>(n));
    EXPECT_TRUE(got == value);
  }
  EXPECT_TRUE(walked.file->GetAttr());
}

// A Tflush of large Twrites in flight: each Twrite is answered first (the data is written: the
// server does not cancel a write it has taken), then the Rflush; the connection goes on.
TEST_F(ServerTest, FlushOfPendingSplicedWritesAnswersTheWriteFirst) {
  StartServer();
  OpenedFile opened;
  std::ofstream(export_ / "flushed") << "";
  ASSERT_NO_FATAL_FAILURE(OpenInExport("flushed", kOpenRdwr, &opened));
  Client* c = opened.client.get();
  const uint32_t count = c->max_io();
  const std::vector<uint8_t> data = PatternBytes(size_t{count} * 4, 21);
  std::vector<client::Pending<Rwrite>> writes;
  for (size_t i = 0; i < 4; ++i) {
    auto p = c->Start(Twrite{opened.file->number(), i * count, Bytes{std::span(data).subspan(i * count, count)}});
    ASSERT_TRUE(p);
    writes.push_back(std::move(*p));
  }
  for (auto& p : writes) {
    auto r = p.Flush();
    ASSERT_TRUE(r) << r.error().Describe();
    EXPECT_EQ(r->msg().count, count);
  }
  EXPECT_TRUE(ReadWholeFile(export_ / "flushed") == data);
  EXPECT_TRUE(opened.file->GetAttr());
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
