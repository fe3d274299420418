// SPDX-License-Identifier: MIT
// A request acts on the host with exactly the attaching user's credentials, nothing of the
// server's: the real p9xd, run as root, over a real socket, on real files.
//
// p9xd runs inside a private mount namespace (unshare(1)) whose /etc/passwd and /etc/group are
// this test's own files, bind-mounted, so that users and group memberships are the test's and
// the machine's /etc is never edited; it is started with supplementary group 0 (setpriv(1)
// --groups 0, what sudo gives). The test's users: p9xalice (4001, a member of p9xshared 4242 by
// the group file), p9xbob (4002, a member of nothing), nobody (65534).
//
// What acts on the host in a user's name, and therefore goes through the per-request switch
// (server/credentials.h); the tests below cover the ones marked *:
//   Tattach (the walk to aname), Twalk, Tgetattr, Treadlink, Tstatfs, Tlopen*, Tread*, Twrite*,
//   Treaddir* (an unreadable directory cannot be opened), Tlcreate* (its gid), Tmkdir* (its
//   gid), Tsymlink*, Tmknod* (device nodes), Tsetattr* (chgrp), Tlink, Trename, Trenameat* (two
//   fids of two users are refused), Tunlinkat*, Tremove, Txattrwalk, Tclunk of an xattr fid*
//   (trusted.*, security.*), Tfsync, Tlock, Tgetlock (on the user's open file), and every write
//   that allocates blocks* (ext4's blocks reserved for root). --root-squash* turns an attach as
//   root into the squash ids.
// Requests that never act on the host: Tversion, Tauth (refused), Tflush, Tclunk of other fids
// (it only closes), Txattrcreate (the value is set at Tclunk).
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <cstdlib>

#include "tests/reliability/reliability_util.h"

namespace p9x::reliability {
namespace {

namespace fs = std::filesystem;
using client::Fid;

constexpr uint32_t kAlice = 4001, kBob = 4002, kShared = 4242, kNobody = 65534;

// Runs a shell command, true when it exits 0.
bool Shell(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

Errno CodeOf(const client::Error& e) { return e.code; }

class Credentials : public P9xdTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: p9xd switches to other users only when it runs as root";
    if (!Shell("command -v unshare setpriv >/dev/null 2>&1")) GTEST_SKIP() << "needs unshare and setpriv (util-linux)";
    if (!Shell("unshare --mount true 2>/dev/null")) GTEST_SKIP() << "cannot make a mount namespace here";
    P9xdTest::SetUp();
    if (IsSkipped()) return;
    etc_ = base_.path() + "/etc";
    fs::create_directories(etc_);
    std::ofstream(etc_ + "/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                                       "p9xalice:x:4001:4001::/nonexistent:/bin/false\n"
                                       "p9xbob:x:4002:4002::/nonexistent:/bin/false\n";
    std::ofstream(etc_ + "/group") << "root:x:0:\n"
                                      "nogroup:x:65534:\n"
                                      "p9xalice:x:4001:\n"
                                      "p9xbob:x:4002:\n"
                                      "p9xshared:x:4242:p9xalice\n";
    // Group-root objects with group-only permissions: a file (0060) and a directory that others
    // may search but only the group may change (0071), holding a file.
    Make(export_ + "/g0file", "group root only", 0, 0, 0060);
    fs::create_directory(export_ + "/g0dir");
    Make(export_ + "/g0dir/victim", "victim", 0, 0, 0666);
    Chmod(export_ + "/g0dir", 0071);
    // A file only group p9xshared may read.
    Make(export_ + "/shared", "shared group only", 0, kShared, 0040);
    // Where anyone may create: the users' own files are made here.
    fs::create_directory(export_ + "/tmp");
    Chmod(export_ + "/tmp", 01777);
    // A directory nobody but root may list.
    fs::create_directory(export_ + "/private");
    Chmod(export_ + "/private", 0711);
  }

  static void Make(const std::string& path, const std::string& text, uid_t uid, gid_t gid, mode_t mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(chown(path.c_str(), uid, gid), 0) << path;
    Chmod(path, mode);
  }
  static void Chmod(const std::string& path, mode_t mode) { ASSERT_EQ(chmod(path.c_str(), mode), 0) << path; }

  // p9xd in its own mount namespace with the test's passwd and group files and supplementary
  // group 0; `image` (an ext4 image) is loop-mounted on export/vol when given.
  void StartConfined(const std::string& image = "", std::vector<std::string> options = {}) {
    std::string setup = "set -e; mount --bind " + Quote(etc_ + "/passwd") + " /etc/passwd; mount --bind " +
                        Quote(etc_ + "/group") + " /etc/group; ";
    if (!image.empty()) setup += "mount -o loop " + Quote(image) + " " + Quote(export_ + "/vol") + "; ";
    setup += "exec setpriv --groups 0 -- \"$@\"";
    StartServer(std::move(options), {"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setup, "sh"});
    if (HasFatalFailure()) return;
    const std::string status = ReadText("/proc/" + std::to_string(pid_) + "/status");
    const size_t at = status.find("\nGroups:");
    ASSERT_NE(at, std::string::npos);
    std::istringstream groups(status.substr(at + 8, status.find('\n', at + 1) - at - 8));
    bool group_root = false;
    for (std::string g; groups >> g;) group_root = group_root || g == "0";
    ASSERT_TRUE(group_root) << "p9xd should run with supplementary group 0:\n" << status;
  }

  // A connection attached as `uname`/`n_uname`; its root fid goes to *root. The fixture owns the
  // connection, so that it outlives every Fid of the test body (a Fid clunks through it).
  client::Client* AttachAs(const std::string& uname, uint32_t n_uname, Fid* root) {
    auto c = Connect();
    if (!c) return nullptr;
    auto r = c->AttachRoot(uname, "", n_uname);
    EXPECT_TRUE(r) << uname << ": " << r.error().Describe();
    if (r) *root = std::move(*r);
    clients_.push_back(std::move(c));
    return clients_.back().get();
  }

  // The errno of an operation that should fail, kOk when it succeeded.
  template <class T>
  static Errno ErrnoOf(const client::Result<T>& r) {
    return r ? Errno::kOk : CodeOf(r.error());
  }

  static Result<std::string, Errno> ReadFile(const Fid& dir, const std::string& name) {
    auto f = dir.Walk(name);
    if (!f) return Unexpected(CodeOf(f.error()));
    if (auto o = f->Open(kOpenRdonly); !o) return Unexpected(CodeOf(o.error()));
    auto bytes = f->ReadAll();
    if (!bytes) return Unexpected(CodeOf(bytes.error()));
    return std::string(bytes->begin(), bytes->end());
  }

  std::string etc_;
  std::vector<std::unique_ptr<client::Client>> clients_;
};

// The server's own supplementary group 0 gives `nobody` nothing: reading, writing, creating in
// and deleting from group-root objects with group-only permissions are all refused.
TEST_F(Credentials, ServerSupplementaryGroupsDoNotLeak) {
  StartConfined();
  Fid root;
  ASSERT_NE(AttachAs("nobody", kNobody, &root), nullptr);
  ASSERT_TRUE(root.valid());
  auto read = ReadFile(root, "g0file");
  EXPECT_EQ(read ? Errno::kOk : read.error(), Errno::kEACCES) << "nobody read a group-root file";
  auto g0file = root.Walk("g0file");
  ASSERT_TRUE(g0file);
  EXPECT_EQ(ErrnoOf(g0file->Open(kOpenWronly)), Errno::kEACCES) << "nobody opened a group-root file for writing";
  auto g0dir = root.Walk("g0dir");
  ASSERT_TRUE(g0dir) << g0dir.error().Describe();
  auto creator = g0dir->Walk("");
  ASSERT_TRUE(creator);
  EXPECT_EQ(ErrnoOf(creator->Create("planted", kOpenWronly, 0644, static_cast<uint32_t>(-1))), Errno::kEACCES);
  EXPECT_FALSE(fs::exists(export_ + "/g0dir/planted"));
  EXPECT_EQ(ErrnoOf(g0dir->Mkdir("planted-dir", 0755, static_cast<uint32_t>(-1))), Errno::kEACCES);
  EXPECT_EQ(ErrnoOf(g0dir->Symlink("planted-link", "victim", static_cast<uint32_t>(-1))), Errno::kEACCES);
  EXPECT_EQ(ErrnoOf(g0dir->Unlink("victim", 0)), Errno::kEACCES);
  EXPECT_TRUE(fs::exists(export_ + "/g0dir/victim"));
  // Root, for contrast, reads it (the file is readable at all).
  Fid root_root;
  ASSERT_NE(AttachAs("root", 0, &root_root), nullptr);
  auto as_root = ReadFile(root_root, "g0file");
  ASSERT_TRUE(as_root);
  EXPECT_EQ(*as_root, "group root only");
}

// The attaching user's supplementary groups come from the host's group database: p9xalice is
// in p9xshared there and reads the group's file; p9xbob is not, and cannot.
TEST_F(Credentials, HostGroupDatabaseDecidesGroupAccess) {
  StartConfined();
  Fid alice, bob, alice_by_name;
  ASSERT_NE(AttachAs("p9xalice", kAlice, &alice), nullptr);
  ASSERT_NE(AttachAs("p9xbob", kNoUname, &bob), nullptr);  // by name only
  ASSERT_NE(AttachAs("p9xalice", kNoUname, &alice_by_name), nullptr);
  ASSERT_TRUE(alice.valid() && bob.valid() && alice_by_name.valid());
  auto a = ReadFile(alice, "shared");
  EXPECT_EQ(a ? *a : "refused: " + client::ErrnoLabel(a.error()), "shared group only") << "a member of the group";
  auto an = ReadFile(alice_by_name, "shared");
  EXPECT_EQ(an ? *an : "refused: " + client::ErrnoLabel(an.error()), "shared group only")
      << "a member of the group, attached by name";
  auto b = ReadFile(bob, "shared");
  EXPECT_EQ(b ? Errno::kOk : b.error(), Errno::kEACCES) << "a user outside the group read its file";
}

// A user gives a file only a group the user is in: Tsetattr chgrp to another group is refused,
// and Tlcreate/Tmkdir with a foreign gid do not give the new object that group.
TEST_F(Credentials, GroupsAUserIsNotInCannotBeGiven) {
  StartConfined();
  Fid alice;
  ASSERT_NE(AttachAs("p9xalice", kAlice, &alice), nullptr);
  ASSERT_TRUE(alice.valid());
  auto tmp = alice.Walk("tmp");
  ASSERT_TRUE(tmp);
  auto file = tmp->Walk("");
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->Create("mine", kOpenWronly, 0644, static_cast<uint32_t>(-1)));
  struct stat st {};
  ASSERT_EQ(stat((export_ + "/tmp/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kAlice);
  Tsetattr chgrp{};
  chgrp.valid = kSetattrGid;
  chgrp.gid = kShared;  // a group alice is in: allowed
  EXPECT_TRUE(file->SetAttr(chgrp));
  ASSERT_EQ(stat((export_ + "/tmp/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kShared);
  for (uint32_t foreign : {0u, kBob}) {
    chgrp.gid = foreign;
    EXPECT_EQ(ErrnoOf(file->SetAttr(chgrp)), Errno::kEPERM) << "chgrp to " << foreign;
    ASSERT_EQ(stat((export_ + "/tmp/mine").c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, kShared) << "alice gave her file group " << foreign;
  }
  for (uint32_t foreign : {0u, kBob}) {
    const std::string name = "created-" + std::to_string(foreign);
    auto made = tmp->Walk("");
    ASSERT_TRUE(made);
    ASSERT_TRUE(made->Create(name, kOpenWronly, 0644, foreign));
    ASSERT_EQ(stat((export_ + "/tmp/" + name).c_str(), &st), 0);
    EXPECT_NE(st.st_gid, foreign) << "Tlcreate gave alice's new file group " << foreign;
    ASSERT_TRUE(tmp->Mkdir(name + "-dir", 0755, foreign));
    ASSERT_EQ(stat((export_ + "/tmp/" + name + "-dir").c_str(), &st), 0);
    EXPECT_NE(st.st_gid, foreign) << "Tmkdir gave alice's new directory group " << foreign;
  }
}

// As a user other than root, no capability is in force: trusted.* and security.* attributes
// (CAP_SYS_ADMIN) are refused, device nodes (CAP_MKNOD) are refused; root, on the same server,
// may do both (so the refusals are about the user, not the filesystem). Also: an unreadable
// directory cannot be listed, and one request cannot combine two users' fids.
TEST_F(Credentials, NoCapabilityOutlivesTheSwitch) {
  StartConfined();
  Fid nobody, root;
  auto cn = AttachAs("nobody", kNobody, &nobody);
  auto cr = AttachAs("root", 0, &root);
  ASSERT_TRUE(nobody.valid() && root.valid());
  auto tmp = nobody.Walk("tmp");
  ASSERT_TRUE(tmp);
  auto mine = tmp->Walk("");
  ASSERT_TRUE(mine);
  ASSERT_TRUE(mine->Create("mine", kOpenWronly, 0644, static_cast<uint32_t>(-1)));
  ASSERT_TRUE(mine->Clunk());
  auto target = tmp->Walk("mine");
  ASSERT_TRUE(target);
  const std::string host = export_ + "/tmp/mine";
  const uint8_t one[1] = {'y'};
  for (const char* name : {"trusted.overlay.opaque", "security.p9xtest"}) {
    EXPECT_EQ(ErrnoOf(target->XattrSet(name, one)), Errno::kEPERM) << "nobody set " << name;
    EXPECT_LT(getxattr(host.c_str(), name, nullptr, 0), 0) << "the host file carries " << name;
  }
  // user.* is the user's own: allowed (the xattr path works for this user at all).
  EXPECT_TRUE(target->XattrSet("user.p9xtest", one));
  auto value = target->XattrGet("user.p9xtest");
  EXPECT_EQ(value ? std::string(value->begin(), value->end()) : "", "y");
  auto root_mine = root.Walk("tmp/mine");
  ASSERT_TRUE(root_mine);
  EXPECT_TRUE(root_mine->XattrSet("trusted.p9xtest", one)) << "root may set trusted.* here";
  EXPECT_GT(getxattr(host.c_str(), "trusted.p9xtest", nullptr, 0), 0);

  EXPECT_EQ(ErrnoOf(cn->Mknod(tmp->number(), "null", S_IFCHR | 0666, 1, 3, static_cast<uint32_t>(-1))),
            Errno::kEPERM);
  EXPECT_FALSE(fs::exists(export_ + "/tmp/null"));
  auto root_tmp = root.Walk("tmp");
  ASSERT_TRUE(root_tmp);
  EXPECT_TRUE(cr->Mknod(root_tmp->number(), "rootnull", S_IFCHR | 0666, 1, 3, static_cast<uint32_t>(-1)))
      << "root may make device nodes here";

  auto priv = nobody.Walk("private");
  ASSERT_TRUE(priv);
  EXPECT_EQ(ErrnoOf(priv->Open(kOpenRdonly)), Errno::kEACCES) << "nobody listed a 0711 directory";

  // Two fids of two users (one connection, two attaches) in one Trenameat: refused.
  auto second = cn->AttachRoot("root", "", 0);
  ASSERT_TRUE(second);
  auto root_dir = second->Walk("tmp");
  ASSERT_TRUE(root_dir);
  EXPECT_EQ(ErrnoOf(cn->Renameat(tmp->number(), "mine", root_dir->number(), "moved")), Errno::kEPERM);
  EXPECT_TRUE(fs::exists(host));
}

// ext4 keeps blocks for root (mkfs.ext4 -m). Filled as nobody, the volume says ENOSPC while the
// reserved blocks are still free, and root can still write there afterwards.
TEST_F(Credentials, BlocksReservedForRootAreNotTheUsers) {
  if (!Shell("command -v mkfs.ext4 >/dev/null 2>&1")) GTEST_SKIP() << "needs mkfs.ext4 (e2fsprogs)";
  const std::string image = base_.path() + "/vol.img";
  ASSERT_TRUE(Shell("truncate -s 8M " + Quote(image) + " && mkfs.ext4 -q -F -b 1024 -m 25 -O ^has_journal -E root_owner=" +
                    std::to_string(kNobody) + ":" + std::to_string(kNobody) + " " + Quote(image)));
  fs::create_directory(export_ + "/vol");
  if (!Shell("unshare --mount sh -c " + Quote("mount -o loop " + image + " " + export_ + "/vol") + " 2>/dev/null")) {
    GTEST_SKIP() << "cannot loop-mount an image here (no loop devices in this container?)";
  }
  StartConfined(image);
  Fid nobody, root;
  ASSERT_NE(AttachAs("nobody", kNobody, &nobody), nullptr);
  ASSERT_NE(AttachAs("root", 0, &root), nullptr);
  ASSERT_TRUE(nobody.valid() && root.valid());
  auto vol = nobody.Walk("vol");
  ASSERT_TRUE(vol);
  auto fill = vol->Walk("");
  ASSERT_TRUE(fill);
  ASSERT_TRUE(fill->Create("fill", kOpenWronly, 0644, static_cast<uint32_t>(-1)));
  const std::vector<uint8_t> chunk(32 * 1024, 'f');
  uint64_t offset = 0;
  Errno stopped = Errno::kOk;
  while (offset < (64u << 20)) {
    auto w = fill->WriteAt(offset, chunk);
    if (!w) {
      stopped = CodeOf(w.error());
      break;
    }
    offset += chunk.size();
  }
  ASSERT_TRUE(fill->Clunk());
  EXPECT_EQ(stopped, Errno::kENOSPC) << "after " << offset << " bytes";
  auto root_vol = root.Walk("vol");
  ASSERT_TRUE(root_vol);
  auto st = root_vol->StatFs();
  ASSERT_TRUE(st);
  std::printf("nobody wrote %llu bytes; then blocks free %llu, available to users %llu (of %llu, %u bytes)\n",
              static_cast<unsigned long long>(offset), static_cast<unsigned long long>(st->bfree),
              static_cast<unsigned long long>(st->bavail), static_cast<unsigned long long>(st->blocks), st->bsize);
  // About a quarter of the volume is reserved; most of it must still be free.
  EXPECT_GT(st->bfree * st->bsize, 1u << 20) << "nobody used the blocks reserved for root";
  auto more = root_vol->Walk("");
  ASSERT_TRUE(more);
  ASSERT_TRUE(more->Create("root-still-writes", kOpenWronly, 0644, static_cast<uint32_t>(-1)));
  const std::vector<uint8_t> root_chunk(256 * 1024, 'r');
  auto w = more->WriteAt(0, root_chunk);
  EXPECT_TRUE(w) << "root could not write into its reserved blocks: " << (w ? "" : w.error().Describe());
}

// --root-squash: an attach as root acts as the squash ids (65534), with none of root's rights.
TEST_F(Credentials, RootSquashServesRootAsNobody) {
  StartConfined("", {"--root-squash"});
  Fid root;
  ASSERT_NE(AttachAs("root", 0, &root), nullptr);
  ASSERT_TRUE(root.valid());
  auto read = ReadFile(root, "g0file");
  EXPECT_EQ(read ? Errno::kOk : read.error(), Errno::kEACCES) << "a squashed root read a group-root 0060 file";
  auto tmp = root.Walk("tmp");
  ASSERT_TRUE(tmp);
  ASSERT_TRUE(tmp->Create("squashed", kOpenWronly, 0644, static_cast<uint32_t>(-1)));
  struct stat st {};
  ASSERT_EQ(stat((export_ + "/tmp/squashed").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNobody);
}

}  // namespace
}  // namespace p9x::reliability
