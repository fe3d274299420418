// SPDX-License-Identifier: MIT
// HostFs against real directories: the safety contract of host_fs.h (walks never leave the export,
// symlinks are never followed) and every operation the engine calls.
#include "server/host_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "codec/constants.h"

namespace p9x::server {
namespace {

namespace fs = std::filesystem;

// The host descriptor behind an OpenFile of HostFs.
int FdOf(const OpenFile& f) { return static_cast<const HostOpenFile&>(f).fd; }

// "ENOENT" for failures, "ok" for successes: readable assertion messages.
template <class T>
std::string Describe(const Result<T>& r) {
  return r.has_value() ? "ok" : std::string(ErrnoName(r.error()));
}
#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const auto& r_ = (expr);                                \
    ASSERT_TRUE(r_.has_value()) << #expr << ": " << Describe(r_); \
  } while (0)
#define EXPECT_ERRNO(expr, e)                                \
  do {                                                       \
    const auto& r_ = (expr);                                 \
    ASSERT_FALSE(r_.has_value()) << #expr << " succeeded";   \
    EXPECT_EQ(ErrnoName(r_.error()), ErrnoName(Errno::e)) << #expr; \
  } while (0)

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

struct stat Lstat(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
  return st;
}

bool SameFile(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

int CountOpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// A fresh temp tree: <base>/export is served, <base>/outside must never be reached.
class HostFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/p9x_host_fs_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    export_ = base_ / "export";
    outside_ = base_ / "outside";
    fs::create_directory(export_);
    fs::create_directory(outside_);
    WriteFile(outside_ / "secret", "outside");
    auto opened = HostFs::Open(export_);
    ASSERT_OK(opened);
    hostfs_ = std::move(*opened);
  }
  void TearDown() override {
    hostfs_.reset();
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  NodeRef MustWalk(const NodeRef& dir, std::string_view name) {
    auto n = hostfs_->Walk(dir, name);
    EXPECT_TRUE(n.has_value()) << name << ": " << Describe(n);
    return n.has_value() ? *n : nullptr;
  }
  NodeRef root() { return hostfs_->root(); }

  fs::path base_, export_, outside_;
  std::unique_ptr<HostFs> hostfs_;
};

TEST(HostFs, ToWireErrnoKeepsLinuxNumbersAndMapsUnknownToEio) {
  EXPECT_EQ(ToWireErrno(ENOENT), Errno::kENOENT);
  EXPECT_EQ(ToWireErrno(ENOTEMPTY), Errno::kENOTEMPTY);
  EXPECT_EQ(ToWireErrno(ESTALE), Errno::kESTALE);
  EXPECT_EQ(ToWireErrno(EHWPOISON), Errno::kEIO);  // 133: not a 9P-relevant errno
  EXPECT_EQ(ToWireErrno(0), Errno::kEIO);
}

TEST(HostFs, OpenRefusesAFileAsRootAndLeaksNothing) {
  const int before = CountOpenFds();
  auto r = HostFs::Open("/proc/self/status");
  EXPECT_ERRNO(r, kENOTDIR);
  EXPECT_ERRNO(HostFs::Open("/nonexistent/p9x"), kENOENT);
  EXPECT_EQ(CountOpenFds(), before);
}

TEST(HostFs, ValidNameRefusesSlashEmptyDotAndDotDot) {
  EXPECT_ERRNO(HostFs::ValidName(""), kEINVAL);
  EXPECT_ERRNO(HostFs::ValidName("."), kEINVAL);
  EXPECT_ERRNO(HostFs::ValidName(".."), kEINVAL);
  EXPECT_ERRNO(HostFs::ValidName("a/b"), kEINVAL);
  EXPECT_ERRNO(HostFs::ValidName("/"), kEINVAL);
  EXPECT_ERRNO(HostFs::ValidName(std::string_view("a\0b", 3)), kEINVAL);
  EXPECT_ERRNO(HostFs::ValidName(std::string(256, 'x')), kENAMETOOLONG);
  ASSERT_OK(HostFs::ValidName("..."));
  ASSERT_OK(HostFs::ValidName(".hidden"));
  ASSERT_OK(HostFs::ValidName(std::string(255, 'x')));
}

TEST_F(HostFsTest, WalkDotDotAtRootStaysAtRoot) {
  auto up = hostfs_->Walk(root(), "..");
  ASSERT_OK(up);
  ASSERT_EQ(*up, root());
  EXPECT_TRUE((*up)->is_root());
}

TEST_F(HostFsTest, WalkRefusesInvalidNamesWithoutTouchingTheHost) {
  fs::create_directory(export_ / "d");
  EXPECT_ERRNO(hostfs_->Walk(root(), "."), kEINVAL);
  EXPECT_ERRNO(hostfs_->Walk(root(), ""), kEINVAL);
  EXPECT_ERRNO(hostfs_->Walk(root(), "d/.."), kEINVAL);
  EXPECT_ERRNO(hostfs_->Walk(root(), "../outside"), kEINVAL);
  EXPECT_ERRNO(hostfs_->Walk(root(), "missing"), kENOENT);
}

TEST_F(HostFsTest, WalkDotDotFromASubdirGivesTheParentItWasReachedFrom) {
  fs::create_directories(export_ / "a" / "b");
  fs::create_directory(export_ / "elsewhere");
  NodeRef a = MustWalk(root(), "a");
  NodeRef b = MustWalk(a, "b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name(), "b");
  EXPECT_EQ(b->parent(), a);
  auto up = hostfs_->Walk(b, "..");
  ASSERT_OK(up);
  EXPECT_EQ(*up, a);
  // Renamed on the host: ".." is still the parent the server walked down from.
  fs::rename(export_ / "a" / "b", export_ / "elsewhere" / "b");
  up = hostfs_->Walk(b, "..");
  ASSERT_OK(up);
  EXPECT_EQ(*up, a);
}

TEST_F(HostFsTest, WalkFromAFileIsNotADirectory) {
  WriteFile(export_ / "f", "x");
  NodeRef f = MustWalk(root(), "f");
  EXPECT_ERRNO(hostfs_->Walk(f, "x"), kENOTDIR);
  EXPECT_ERRNO(hostfs_->Walk(f, ".."), kENOTDIR);
}

TEST_F(HostFsTest, SymlinksOutOfTheExportAreOpenedAsThemselvesAndNeverFollowed) {
  fs::create_directory(export_ / "sub");
  fs::create_directory_symlink("/", export_ / "to_root");
  fs::create_directory_symlink("../..", export_ / "sub" / "up2");
  fs::create_directory_symlink(outside_, export_ / "to_outside");
  fs::create_symlink(outside_ / "secret", export_ / "to_secret");
  NodeRef sub = MustWalk(root(), "sub");
  for (auto [dir, name] : {std::pair{root(), "to_root"}, std::pair{sub, "up2"}, std::pair{root(), "to_outside"},
                           std::pair{root(), "to_secret"}}) {
    SCOPED_TRACE(name);
    NodeRef link = MustWalk(dir, name);
    ASSERT_TRUE(link);
    EXPECT_TRUE(link->is_symlink());
    EXPECT_TRUE(SameFile(link->initial_stat(), Lstat(export_ / (dir == sub ? "sub" : "") / name)));
    EXPECT_ERRNO(hostfs_->Walk(link, "etc"), kENOTDIR);
    EXPECT_ERRNO(hostfs_->Walk(link, "secret"), kENOTDIR);
    EXPECT_ERRNO(hostfs_->Walk(link, ".."), kENOTDIR);
    EXPECT_ERRNO(hostfs_->OpenNode(link, kOpenRdonly), kELOOP);
    EXPECT_ERRNO(hostfs_->OpenNode(link, kOpenRdonly | kOpenDirectory), kELOOP);
  }
  auto target = hostfs_->Readlink(MustWalk(sub, "up2"));
  ASSERT_OK(target);
  EXPECT_EQ(*target, "../..");
}

// A host process swaps a real directory and a symlink to the outside (RENAME_EXCHANGE) while the
// server walks through the name and opens what it finds: every file opened must be the one
// inside the export.
TEST_F(HostFsTest, DirectorySwappedForASymlinkDuringWalksNeverEscapes) {
  fs::create_directory(export_ / "a");
  WriteFile(export_ / "a" / "secret", "inside");
  fs::create_directory_symlink(outside_, export_ / "b");
  const struct stat inside = Lstat(export_ / "a" / "secret");

  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0}, swap_errno{0};
  std::thread swapper([&] {
    while (!stop.load()) {
      if (renameat2(AT_FDCWD, (export_ / "a").c_str(), AT_FDCWD, (export_ / "b").c_str(), RENAME_EXCHANGE) != 0) {
        swap_errno.store(errno);
        return;
      }
      swaps.fetch_add(1);
    }
  });
  // Stops and joins the swapper however the loop below ends (an ASSERT returns early).
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop.store(true);
      thread.join();
    }
  } joiner{stop, swapper};
  int opened = 0, refused = 0;
  for (int i = 0; i < 400; ++i) {
    for (const char* name : {"a", "b"}) {
      auto dir = hostfs_->Walk(root(), name);
      if (!dir) continue;  // mid-swap
      auto file = hostfs_->Walk(*dir, "secret");
      if (!file) {
        ++refused;  // the name was the symlink: ENOTDIR
        EXPECT_EQ(file.error(), Errno::kENOTDIR);
        continue;
      }
      auto open = hostfs_->OpenNode(*file, kOpenRdonly);
      ASSERT_OK(open);
      struct stat st;
      ASSERT_EQ(fstat(FdOf(**open), &st), 0);
      ASSERT_TRUE(SameFile(st, inside)) << "opened a file outside the export";
      ASSERT_TRUE(SameFile((*file)->initial_stat(), inside));
      ++opened;
    }
  }
  EXPECT_EQ(swap_errno.load(), 0);
  EXPECT_GT(opened + refused, 0);
  EXPECT_GT(swaps.load(), 0);
}

TEST_F(HostFsTest, StatAndStatfsDescribeTheNode) {
  WriteFile(export_ / "f", "12345");
  NodeRef f = MustWalk(root(), "f");
  auto st = hostfs_->Stat(f);
  ASSERT_OK(st);
  EXPECT_EQ(st->st_size, 5);
  EXPECT_TRUE(SameFile(*st, Lstat(export_ / "f")));
  auto sfs = hostfs_->Statfs(f);
  ASSERT_OK(sfs);
  struct statfs host;
  ASSERT_EQ(statfs(export_.c_str(), &host), 0);
  EXPECT_EQ(sfs->type, static_cast<uint32_t>(host.f_type));
  EXPECT_EQ(sfs->bsize, static_cast<uint32_t>(host.f_bsize));
  EXPECT_EQ(sfs->blocks, host.f_blocks);
  EXPECT_EQ(sfs->namelen, static_cast<uint32_t>(host.f_namelen));
  EXPECT_EQ(sfs->fsid, 0u);  // never the host's f_fsid: the engine derives one per export
}

TEST_F(HostFsTest, OpenNodeReadsWritesAndRefusesWritingADirectory) {
  WriteFile(export_ / "f", "hello");
  fs::create_directory(export_ / "d");
  NodeRef f = MustWalk(root(), "f");
  auto rw = hostfs_->OpenNode(f, kOpenRdwr | kOpenTrunc | kOpenNofollow | kOpenCreate | kOpenExcl);
  ASSERT_OK(rw);
  EXPECT_EQ(fs::file_size(export_ / "f"), 0u);
  ASSERT_EQ(pwrite(FdOf(**rw), "abc", 3, 0), 3);
  EXPECT_EQ((fcntl(FdOf(**rw), F_GETFD) & FD_CLOEXEC), FD_CLOEXEC);
  NodeRef d = MustWalk(root(), "d");
  EXPECT_ERRNO(hostfs_->OpenNode(d, kOpenWronly), kEISDIR);
  ASSERT_OK(hostfs_->OpenNode(d, kOpenRdonly | kOpenDirectory));
  EXPECT_ERRNO(hostfs_->OpenNode(f, kOpenRdonly | kOpenDirectory), kENOTDIR);
}

TEST_F(HostFsTest, OpenNodeRefusesDeviceNodesLikeANodevMount) {
  auto dev = hostfs_->Mknod(root(), "null", S_IFCHR | 0666, 1, 3, static_cast<uint32_t>(-1));
  if (!dev) GTEST_SKIP() << "mknod of a character device refused here: " << ErrnoName(dev.error());
  EXPECT_ERRNO(hostfs_->OpenNode(*dev, kOpenRdonly), kEACCES);
  // Nor through Tlcreate of the existing name.
  EXPECT_ERRNO(hostfs_->Create(root(), "null", kOpenRdwr | kOpenCreate, 0644, static_cast<uint32_t>(-1)), kEACCES);
}

TEST_F(HostFsTest, CreateHonoursExclAndRefusesToFollowAPlantedSymlink) {
  auto created = hostfs_->Create(root(), "new", kOpenRdwr | kOpenCreate | kOpenExcl, 0640, static_cast<uint32_t>(-1));
  ASSERT_OK(created);
  auto& [node, file] = *created;
  EXPECT_EQ(node->name(), "new");
  EXPECT_EQ(node->parent(), root());
  ASSERT_EQ(pwrite(FdOf(*file), "data", 4, 0), 4);
  const struct stat st = Lstat(export_ / "new");
  EXPECT_TRUE(SameFile(node->initial_stat(), st));
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~mask);
  EXPECT_EQ(st.st_size, 4);

  EXPECT_ERRNO(hostfs_->Create(root(), "new", kOpenRdwr | kOpenCreate | kOpenExcl, 0644, static_cast<uint32_t>(-1)),
               kEEXIST);
  auto again = hostfs_->Create(root(), "new", kOpenRdwr | kOpenCreate, 0644, static_cast<uint32_t>(-1));
  ASSERT_OK(again);
  EXPECT_TRUE(SameFile(again->first->initial_stat(), st));

  // A symlink planted at the name (dangling, or to an existing file outside) is never followed.
  fs::create_symlink(outside_ / "created_outside", export_ / "planted");
  fs::create_symlink(outside_ / "secret", export_ / "planted2");
  EXPECT_ERRNO(hostfs_->Create(root(), "planted", kOpenRdwr | kOpenCreate, 0644, static_cast<uint32_t>(-1)), kELOOP);
  EXPECT_ERRNO(hostfs_->Create(root(), "planted2", kOpenWronly | kOpenCreate | kOpenTrunc, 0644,
                               static_cast<uint32_t>(-1)),
               kELOOP);
  EXPECT_FALSE(fs::exists(outside_ / "created_outside"));
  EXPECT_EQ(fs::file_size(outside_ / "secret"), 7u);
  EXPECT_ERRNO(hostfs_->Create(root(), "a/b", kOpenRdwr | kOpenCreate, 0644, static_cast<uint32_t>(-1)), kEINVAL);
  // Without O_EXCL an existing file is opened (O_TRUNC honoured); a directory is EISDIR.
  auto trunc = hostfs_->Create(root(), "new", kOpenWronly | kOpenCreate | kOpenTrunc, 0644, static_cast<uint32_t>(-1));
  ASSERT_OK(trunc);
  EXPECT_EQ(fs::file_size(export_ / "new"), 0u);
  fs::create_directory(export_ / "dir");
  EXPECT_ERRNO(hostfs_->Create(root(), "dir", kOpenRdonly | kOpenCreate, 0644, static_cast<uint32_t>(-1)), kEISDIR);
}

TEST_F(HostFsTest, CreatedFilesGetTheRequestedGroupAndKeepTheirSetgidBit) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a file to another group needs root";
  const uint32_t gid = 4242;
  auto created = hostfs_->Create(root(), "g", kOpenWronly | kOpenCreate, 02750, gid);
  ASSERT_OK(created);
  struct stat st = Lstat(export_ / "g");
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(created->first->initial_stat().st_gid, gid);
  EXPECT_TRUE(st.st_mode & S_ISGID);
  auto dir = hostfs_->Mkdir(root(), "gd", 0755, gid);
  ASSERT_OK(dir);
  EXPECT_EQ(Lstat(export_ / "gd").st_gid, gid);
  auto link = hostfs_->Symlink(root(), "gl", "target", gid);
  ASSERT_OK(link);
  EXPECT_EQ(Lstat(export_ / "gl").st_gid, gid);
}

TEST_F(HostFsTest, MkdirSymlinkMknodLinkAndReadlinkMakeWhatTheySay) {
  auto dir = hostfs_->Mkdir(root(), "dir", 0750, static_cast<uint32_t>(-1));
  ASSERT_OK(dir);
  EXPECT_TRUE((*dir)->is_dir());
  EXPECT_TRUE(SameFile((*dir)->initial_stat(), Lstat(export_ / "dir")));
  EXPECT_ERRNO(hostfs_->Mkdir(root(), "dir", 0750, static_cast<uint32_t>(-1)), kEEXIST);

  const std::string long_target(1000, 'z');
  auto link = hostfs_->Symlink(*dir, "link", long_target, static_cast<uint32_t>(-1));
  ASSERT_OK(link);
  EXPECT_TRUE((*link)->is_symlink());
  auto text = hostfs_->Readlink(*link);
  ASSERT_OK(text);
  EXPECT_EQ(*text, long_target);
  EXPECT_ERRNO(hostfs_->Readlink(*dir), kEINVAL);
  EXPECT_ERRNO(hostfs_->Symlink(root(), "empty", "", static_cast<uint32_t>(-1)), kEINVAL);

  auto fifo = hostfs_->Mknod(root(), "fifo", S_IFIFO | 0600, 0, 0, static_cast<uint32_t>(-1));
  ASSERT_OK(fifo);
  EXPECT_EQ((*fifo)->type(), static_cast<mode_t>(S_IFIFO));
  EXPECT_TRUE(S_ISFIFO(Lstat(export_ / "fifo").st_mode));
  EXPECT_ERRNO(hostfs_->Mknod(root(), "d2", S_IFDIR | 0700, 0, 0, static_cast<uint32_t>(-1)), kEPERM);
  // Opening a FIFO never waits for the other end: a reader opens at once, a lone writer is
  // refused, and the client's blocking mode is kept.
  auto reader = hostfs_->OpenNode(*fifo, kOpenRdonly);
  ASSERT_OK(reader);
  EXPECT_EQ(fcntl(FdOf(**reader), F_GETFL) & O_NONBLOCK, 0);
  reader->reset();
  EXPECT_ERRNO(hostfs_->OpenNode(*fifo, kOpenWronly), kENXIO);
  EXPECT_ERRNO(hostfs_->Create(root(), "fifo", kOpenWronly | kOpenCreate, 0600, static_cast<uint32_t>(-1)), kENXIO);

  WriteFile(export_ / "f", "x");
  NodeRef f = MustWalk(root(), "f");
  ASSERT_OK(hostfs_->Link(*dir, f, "hard"));
  EXPECT_TRUE(SameFile(Lstat(export_ / "dir" / "hard"), Lstat(export_ / "f")));
  EXPECT_EQ(Lstat(export_ / "f").st_nlink, 2u);
  ASSERT_OK(hostfs_->Link(root(), *link, "hard_link_to_symlink"));
  EXPECT_TRUE(SameFile(Lstat(export_ / "hard_link_to_symlink"), Lstat(export_ / "dir" / "link")));
  EXPECT_ERRNO(hostfs_->Link(root(), *dir, "dirlink"), kEPERM);
  EXPECT_ERRNO(hostfs_->Link(root(), f, "f"), kEEXIST);
  EXPECT_ERRNO(hostfs_->Link(f, f, "x"), kENOTDIR);
}

TEST_F(HostFsTest, RenameMovesTheFileAndTheNodeFollows) {
  fs::create_directory(export_ / "d1");
  fs::create_directory(export_ / "d2");
  WriteFile(export_ / "d1" / "f", "x");
  NodeRef d1 = MustWalk(root(), "d1");
  NodeRef d2 = MustWalk(root(), "d2");
  NodeRef f = MustWalk(d1, "f");
  ASSERT_OK(hostfs_->Rename(f, d2, "g"));
  EXPECT_FALSE(fs::exists(export_ / "d1" / "f"));
  EXPECT_TRUE(SameFile(Lstat(export_ / "d2" / "g"), f->initial_stat()));
  EXPECT_EQ(f->name(), "g");
  EXPECT_EQ(f->parent(), d2);
  // The node's new place is used from now on.
  ASSERT_OK(hostfs_->Rename(f, d2, "h"));
  EXPECT_TRUE(fs::exists(export_ / "d2" / "h"));
  EXPECT_ERRNO(hostfs_->Rename(root(), d2, "x"), kEBUSY);
  EXPECT_ERRNO(hostfs_->Rename(f, d2, ".."), kEINVAL);
  EXPECT_ERRNO(hostfs_->Rename(d1, d1, "inside_itself"), kEINVAL);
  // Renamed behind the server's back and replaced: the other file is not moved.
  fs::rename(export_ / "d2" / "h", export_ / "d2" / "moved");
  WriteFile(export_ / "d2" / "h", "impostor");
  EXPECT_ERRNO(hostfs_->Rename(f, d1, "back"), kESTALE);
  EXPECT_TRUE(fs::exists(export_ / "d2" / "h"));
}

TEST_F(HostFsTest, RenameatAndUnlinkatWorkByNameAndCheckFlags) {
  fs::create_directory(export_ / "d");
  WriteFile(export_ / "f", "x");
  ASSERT_OK(hostfs_->Renameat(root(), "f", MustWalk(root(), "d"), "g"));
  EXPECT_TRUE(fs::exists(export_ / "d" / "g"));
  EXPECT_ERRNO(hostfs_->Renameat(root(), "missing", root(), "x"), kENOENT);
  EXPECT_ERRNO(hostfs_->Renameat(root(), "..", root(), "x"), kEINVAL);
  EXPECT_ERRNO(hostfs_->Renameat(root(), "d", root(), "a/b"), kEINVAL);

  NodeRef d = MustWalk(root(), "d");
  EXPECT_ERRNO(hostfs_->Unlinkat(d, "g", 1), kEINVAL);
  EXPECT_ERRNO(hostfs_->Unlinkat(d, "g", kAtRemovedir | 1), kEINVAL);
  EXPECT_ERRNO(hostfs_->Unlinkat(d, "g", kAtRemovedir), kENOTDIR);
  ASSERT_OK(hostfs_->Unlinkat(d, "g", 0));
  EXPECT_FALSE(fs::exists(export_ / "d" / "g"));
  EXPECT_ERRNO(hostfs_->Unlinkat(root(), "d", 0), kEISDIR);
  EXPECT_ERRNO(hostfs_->Unlinkat(root(), ".", kAtRemovedir), kEINVAL);
  ASSERT_OK(hostfs_->Unlinkat(root(), "d", kAtRemovedir));
  EXPECT_FALSE(fs::exists(export_ / "d"));
}

TEST_F(HostFsTest, RemoveDeletesTheNodeOnlyWhileItsNameStillNamesIt) {
  fs::create_directory(export_ / "d");
  WriteFile(export_ / "f", "x");
  WriteFile(export_ / "victim", "x");
  ASSERT_OK(hostfs_->Remove(MustWalk(root(), "f")));
  EXPECT_FALSE(fs::exists(export_ / "f"));
  ASSERT_OK(hostfs_->Remove(MustWalk(root(), "d")));
  EXPECT_FALSE(fs::exists(export_ / "d"));
  EXPECT_ERRNO(hostfs_->Remove(root()), kEBUSY);

  NodeRef victim = MustWalk(root(), "victim");
  fs::rename(export_ / "victim", export_ / "renamed");
  EXPECT_ERRNO(hostfs_->Remove(victim), kENOENT);
  WriteFile(export_ / "victim", "someone else's");
  EXPECT_ERRNO(hostfs_->Remove(victim), kESTALE);
  EXPECT_TRUE(fs::exists(export_ / "victim"));
  EXPECT_TRUE(fs::exists(export_ / "renamed"));
}

HostFs::SetattrArgs Args(uint32_t valid) { return HostFs::SetattrArgs{valid, 0, 0, 0, 0, 0, 0, 0, 0}; }

TEST_F(HostFsTest, SetattrChangesSizeModeOwnerAndTimes) {
  WriteFile(export_ / "f", "0123456789");
  NodeRef f = MustWalk(root(), "f");
  auto a = Args(kSetattrSize);
  a.size = 3;
  ASSERT_OK(hostfs_->Setattr(f, a));
  EXPECT_EQ(fs::file_size(export_ / "f"), 3u);

  a = Args(kSetattrMode);
  a.mode = S_IFREG | 0604;
  ASSERT_OK(hostfs_->Setattr(f, a));
  EXPECT_EQ(Lstat(export_ / "f").st_mode & 07777, 0604u);

  if (geteuid() == 0) {
    a = Args(kSetattrUid | kSetattrGid);
    a.uid = 1234;
    a.gid = 5678;
    ASSERT_OK(hostfs_->Setattr(f, a));
    EXPECT_EQ(Lstat(export_ / "f").st_uid, 1234u);
    EXPECT_EQ(Lstat(export_ / "f").st_gid, 5678u);
  }

  // Explicit times (the _SET bits).
  a = Args(kSetattrAtime | kSetattrAtimeSet | kSetattrMtime | kSetattrMtimeSet);
  a.atime_sec = 1000000000;
  a.atime_nsec = 5;
  a.mtime_sec = 1200000000;
  a.mtime_nsec = 7;
  ASSERT_OK(hostfs_->Setattr(f, a));
  struct stat st = Lstat(export_ / "f");
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 7);

  // MTIME without MTIME_SET: the server's current time; atime untouched (UTIME_OMIT).
  timespec before{};
  clock_gettime(CLOCK_REALTIME, &before);
  ASSERT_OK(hostfs_->Setattr(f, Args(kSetattrMtime)));
  st = Lstat(export_ / "f");
  EXPECT_GE(st.st_mtim.tv_sec, before.tv_sec - 1);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);

  // CTIME alone changes neither atime nor mtime.
  const struct stat prior = st;
  ASSERT_OK(hostfs_->Setattr(f, Args(kSetattrCtime)));
  st = Lstat(export_ / "f");
  EXPECT_EQ(st.st_mtim.tv_nsec, prior.st_mtim.tv_nsec);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_GE(st.st_ctim.tv_sec, prior.st_ctim.tv_sec);

  a = Args(kSetattrAtime | kSetattrAtimeSet);
  a.atime_nsec = 1000000000;
  EXPECT_ERRNO(hostfs_->Setattr(f, a), kEINVAL);

  fs::create_directory(export_ / "d");
  a = Args(kSetattrSize);
  EXPECT_ERRNO(hostfs_->Setattr(MustWalk(root(), "d"), a), kEISDIR);
}

TEST_F(HostFsTest, SetattrOnASymlinkChangesOwnerAndTimesButNotModeOrSize) {
  WriteFile(export_ / "target", "x");
  fs::create_symlink("target", export_ / "link");
  NodeRef link = MustWalk(root(), "link");
  const struct stat target_before = Lstat(export_ / "target");

  auto a = Args(kSetattrMode);
  a.mode = 0777;
  EXPECT_ERRNO(hostfs_->Setattr(link, a), kEOPNOTSUPP);
  EXPECT_ERRNO(hostfs_->Setattr(link, Args(kSetattrSize)), kEINVAL);

  a = Args(kSetattrMtime | kSetattrMtimeSet);
  a.mtime_sec = 1100000000;
  ASSERT_OK(hostfs_->Setattr(link, a));
  EXPECT_EQ(Lstat(export_ / "link").st_mtim.tv_sec, 1100000000);
  EXPECT_EQ(Lstat(export_ / "target").st_mtim.tv_sec, target_before.st_mtim.tv_sec);

  if (geteuid() == 0) {
    a = Args(kSetattrUid);
    a.uid = 4321;
    ASSERT_OK(hostfs_->Setattr(link, a));
    EXPECT_EQ(Lstat(export_ / "link").st_uid, 4321u);
    EXPECT_EQ(Lstat(export_ / "target").st_uid, target_before.st_uid);
  }
}

TEST_F(HostFsTest, XattrsAreSetReadListedAndRemoved) {
  WriteFile(export_ / "f", "x");
  NodeRef f = MustWalk(root(), "f");
  const std::vector<uint8_t> value = {'h', 'e', 'l', 'l', 'o', 0, 1};
  auto set = hostfs_->SetXattr(f, "user.p9x", value, 0, false);
  if (!set && (set.error() == Errno::kEOPNOTSUPP)) {
    GTEST_SKIP() << "the filesystem under /tmp refuses user.* extended attributes";
  }
  ASSERT_OK(set);
  auto got = hostfs_->GetXattr(f, "user.p9x");
  ASSERT_OK(got);
  EXPECT_EQ(*got, value);
  ASSERT_OK(hostfs_->SetXattr(f, "user.empty", {}, 0, false));
  got = hostfs_->GetXattr(f, "user.empty");
  ASSERT_OK(got);
  EXPECT_TRUE(got->empty());

  auto list = hostfs_->GetXattr(f, "");
  ASSERT_OK(list);
  std::set<std::string> names;
  for (size_t at = 0; at < list->size();) {
    std::string name(reinterpret_cast<const char*>(list->data() + at));
    at += name.size() + 1;
    names.insert(name);
  }
  EXPECT_TRUE(names.count("user.p9x"));
  EXPECT_TRUE(names.count("user.empty"));

  EXPECT_ERRNO(hostfs_->SetXattr(f, "user.p9x", value, kXattrCreate, false), kEEXIST);
  EXPECT_ERRNO(hostfs_->SetXattr(f, "user.absent", value, kXattrReplace, false), kENODATA);
  EXPECT_ERRNO(hostfs_->SetXattr(f, "user.p9x", value, 4, false), kEINVAL);
  ASSERT_OK(hostfs_->SetXattr(f, "user.p9x", {}, 0, true));
  EXPECT_ERRNO(hostfs_->GetXattr(f, "user.p9x"), kENODATA);
  EXPECT_ERRNO(hostfs_->SetXattr(f, "user.p9x", {}, 0, true), kENODATA);

  // Directories go through the same path; symlinks are not followed (Linux refuses user.* on
  // symlinks with EPERM, and the target keeps no attribute).
  fs::create_directory(export_ / "d");
  NodeRef d = MustWalk(root(), "d");
  ASSERT_OK(hostfs_->SetXattr(d, "user.dir", value, 0, false));
  EXPECT_EQ(*hostfs_->GetXattr(d, "user.dir"), value);
  fs::create_symlink("f", export_ / "link");
  NodeRef link = MustWalk(root(), "link");
  EXPECT_ERRNO(hostfs_->SetXattr(link, "user.via_link", value, 0, false), kEPERM);
  EXPECT_ERRNO(hostfs_->GetXattr(f, "user.via_link"), kENODATA);
  ASSERT_OK(hostfs_->GetXattr(link, ""));
  if (geteuid() == 0) {
    ASSERT_OK(hostfs_->SetXattr(link, "trusted.p9x", value, 0, false));
    EXPECT_EQ(*hostfs_->GetXattr(link, "trusted.p9x"), value);
    EXPECT_ERRNO(hostfs_->GetXattr(f, "trusted.p9x"), kENODATA);
  }
}

// Reads the whole of `dir` in calls that accept at most `budget` entries each, resuming from the
// last accepted cookie, as a Treaddir client does.
std::vector<DirEntry> ReadAll(HostFs& hostfs, OpenFile& dir, int budget) {
  std::vector<DirEntry> all;
  uint64_t cookie = 0;
  for (int calls = 0; calls < 100000; ++calls) {
    int taken = 0;
    bool refused = false;
    auto r = hostfs.ReadDir(dir, cookie, [&](const DirEntry& e) {
      if (taken == budget) {
        refused = true;
        return false;
      }
      ++taken;
      all.push_back(e);
      cookie = e.next_offset;
      return true;
    });
    EXPECT_TRUE(r.has_value()) << Describe(r);
    if (!r.has_value() || (!refused && taken < budget) || taken == 0) break;
  }
  return all;
}

TEST_F(HostFsTest, ReadDirOfAThousandEntriesResumesFromEveryCookie) {
  fs::create_directory(export_ / "big");
  std::set<std::string> expected = {".", ".."};
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "entry_" + std::to_string(i);
    WriteFile(export_ / "big" / name, "");
    expected.insert(name);
  }
  NodeRef big = MustWalk(root(), "big");
  for (int budget : {1, 3, 1000, 5000}) {
    SCOPED_TRACE(budget);
    auto dir = hostfs_->OpenNode(big, kOpenRdonly | kOpenDirectory);
    ASSERT_OK(dir);
    const std::vector<DirEntry> all = ReadAll(*hostfs_, **dir, budget);
    std::multiset<std::string> seen;
    for (const DirEntry& e : all) seen.insert(e.name);
    EXPECT_EQ(seen.size(), expected.size());
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);
    for (const DirEntry& e : all) {
      if (e.name.starts_with("entry_")) {
        EXPECT_EQ(e.d_type, kDtReg);
      }
    }
    if (budget != 3) continue;
    // Resuming from any cookie, on this descriptor (seeking back and forth) or a fresh one,
    // gives the entry that followed it.
    auto fresh = hostfs_->OpenNode(big, kOpenRdonly | kOpenDirectory);
    ASSERT_OK(fresh);
    for (size_t i = 0; i + 1 < all.size(); ++i) {
      OpenFile& use = (i % 2 == 0) ? **dir : **fresh;
      std::string first;
      auto r = hostfs_->ReadDir(use, all[i].next_offset, [&](const DirEntry& e) {
        first = e.name;
        return false;
      });
      ASSERT_OK(r);
      ASSERT_EQ(first, all[i + 1].name) << "after cookie " << all[i].next_offset;
    }
    // Offset 0 rewinds.
    std::string first;
    ASSERT_OK(hostfs_->ReadDir(**dir, 0, [&](const DirEntry& e) {
      first = e.name;
      return false;
    }));
    EXPECT_EQ(first, all[0].name);
    // The cookie of the last entry is the end: nothing more.
    int more = 0;
    ASSERT_OK(hostfs_->ReadDir(**dir, all.back().next_offset, [&](const DirEntry&) { return ++more, true; }));
    EXPECT_EQ(more, 0);
  }
}

TEST_F(HostFsTest, DescriptorsAreClosedWhenNodesAndFilesAreDropped) {
  fs::create_directories(export_ / "a" / "b");
  WriteFile(export_ / "a" / "b" / "f", "x");
  fs::create_symlink("f", export_ / "a" / "b" / "l");
  const int before = CountOpenFds();
  for (int i = 0; i < 50; ++i) {
    NodeRef a = MustWalk(root(), "a");
    NodeRef b = MustWalk(a, "b");
    NodeRef f = MustWalk(b, "f");
    NodeRef l = MustWalk(b, "l");
    auto open = hostfs_->OpenNode(f, kOpenRdonly);
    ASSERT_OK(open);
    auto dir = hostfs_->OpenNode(b, kOpenRdonly);
    ASSERT_OK(dir);
    ASSERT_OK(hostfs_->ReadDir(**dir, 0, [](const DirEntry&) { return true; }));
    auto created = hostfs_->Create(b, "c", kOpenRdwr | kOpenCreate, 0644, static_cast<uint32_t>(-1));
    ASSERT_OK(created);
    ASSERT_OK(hostfs_->Mkdir(b, "m", 0755, static_cast<uint32_t>(-1)));
    ASSERT_OK(hostfs_->Unlinkat(b, "m", kAtRemovedir));
    ASSERT_OK(hostfs_->Remove(created->first));
    EXPECT_FALSE(hostfs_->Walk(b, "missing").has_value());
    EXPECT_FALSE(hostfs_->OpenNode(l, kOpenRdonly).has_value());
    EXPECT_FALSE(hostfs_->Create(b, "f", kOpenRdwr | kOpenCreate | kOpenExcl, 0644, 0).has_value());
  }
  EXPECT_EQ(CountOpenFds(), before);
}

// p1/ and p2/ in the project's test setup are filesystems mounted inside the export: a walk
// crosses into them and ".." comes back. Runs in a child with its own mount namespace.
TEST_F(HostFsTest, WalkCrossesAMountPointInsideTheExport) {
  fs::create_directory(export_ / "p1");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(77);
    if (mount("p9x_test", (export_ / "p1").c_str(), "tmpfs", 0, "size=1m") != 0) _exit(77);
    WriteFile(export_ / "p1" / "inner", "x");
    auto opened = HostFs::Open(export_);
    if (!opened) _exit(1);
    HostFs& hfs = **opened;
    auto p1 = hfs.Walk(hfs.root(), "p1");
    if (!p1 || (*p1)->initial_stat().st_dev == hfs.root()->initial_stat().st_dev) _exit(2);
    auto inner = hfs.Walk(*p1, "inner");
    if (!inner || !SameFile((*inner)->initial_stat(), Lstat(export_ / "p1" / "inner"))) _exit(3);
    auto up = hfs.Walk(*p1, "..");
    if (!up || *up != hfs.root()) _exit(4);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount in a private namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: open, 2: same st_dev, 3: inner, 4: ..";
}

// ReadDirPlus takes an entry's identity from getdents64 without a stat, except where the entry
// may be on another device. A mount point's d_ino is the inode it covers: its identity must be
// the mounted root's, as a walk gives, including for mounts made after HostFs opened (the mount
// table is re-read when it changes) and for a file bind-mounted over a file.
TEST_F(HostFsTest, ReadDirPlusGivesMountPointsTheMountedRootsIdentity) {
  for (const char* d : {"p1", "d", "plain_dir"}) fs::create_directory(export_ / d);
  fs::create_directory(export_ / "d" / "p3");
  WriteFile(export_ / "bindme", "covered");
  WriteFile(export_ / "plain", "x");
  symlink("plain", (export_ / "link").c_str());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(77);
    auto opened = HostFs::Open(export_);  // before the mounts: they must be noticed later
    if (!opened) _exit(1);
    HostFs& hfs = **opened;
    // Checks every entry of `dir` (host path `host`) against lstat of its name; returns the
    // number of entries checked, or -1 on a mismatch (printed).
    auto check = [&](const NodeRef& dir, const fs::path& host) -> int {
      auto open = hfs.OpenNode(dir, kOpenRdonly | kOpenDirectory);
      if (!open) return -1;
      int checked = 0;
      bool bad = false;
      auto r = hfs.ReadDirPlus(dir, **open, 0, [&](const DirEntryPlus& e) {
        if (e.name == "." || e.name == "..") return true;
        const struct stat st = Lstat(host / std::string(e.name));
        if (e.dev != static_cast<uint64_t>(st.st_dev) || e.ino != static_cast<uint64_t>(st.st_ino) ||
            e.type != (st.st_mode & S_IFMT)) {
          std::fprintf(stderr, "%s: entry (dev %llu, ino %llu, type %o), lstat (dev %llu, ino %llu, type %o)\n",
                       std::string(e.name).c_str(), (unsigned long long)e.dev, (unsigned long long)e.ino,
                       e.type, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                       st.st_mode & S_IFMT);
          bad = true;
        }
        ++checked;
        return true;
      });
      return r && !bad ? checked : -1;
    };
    if (check(hfs.root(), export_) != 6) _exit(2);  // p1 d plain_dir bindme plain link
    if (mount("p9x_test", (export_ / "p1").c_str(), "tmpfs", 0, "size=1m") != 0) _exit(77);
    if (mount((outside_ / "secret").c_str(), (export_ / "bindme").c_str(), nullptr, MS_BIND, nullptr) != 0) _exit(77);
    if (mount("p9x_test", (export_ / "d" / "p3").c_str(), "tmpfs", 0, "size=1m") != 0) _exit(77);
    if (check(hfs.root(), export_) != 6) _exit(3);
    auto d = hfs.Walk(hfs.root(), "d");
    if (!d || check(*d, export_ / "d") != 1) _exit(4);
    if (umount((export_ / "p1").c_str()) != 0) _exit(77);
    if (check(hfs.root(), export_) != 6) _exit(5);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount in a private namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: open, 2: before mounting, 3: after, 4: d/p3, 5: after umount p1";
}

}  // namespace
}  // namespace p9x::server
