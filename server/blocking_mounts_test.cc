// SPDX-License-Identifier: MIT
// The classification of filesystem types that can block (blocking_mounts.h), and BlockingMounts
// following mounts made in and outside an export (as root, in a private mount namespace).
// tests/reliability/hung_mount_test.cc serves an export with a FUSE mount that hangs.
#include "server/blocking_mounts.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "server/fs_identity.h"

namespace p9x::server {
namespace {

TEST(FilesystemTypeCanBlock, NetworkFuseAndAutomountTypesBlock) {
  for (const char* type : {"nfs", "nfs4", "cifs", "smb3", "fuse", "fuseblk", "fuse.sshfs", "fuse.glusterfs", "virtiofs",
                           "9p", "ceph", "afs", "gfs2", "ocfs2", "autofs"}) {
    EXPECT_TRUE(FilesystemTypeCanBlock(type)) << type;
  }
}

TEST(FilesystemTypeCanBlock, LocalAndUnknownTypesDoNot) {
  // fusectl is the kernel's own control filesystem for FUSE, not a FUSE mount.
  for (const char* type : {"ext4", "xfs", "btrfs", "tmpfs", "ramfs", "overlay", "proc", "sysfs", "fusectl", "fuse_",
                           "nfsd", "devtmpfs", "squashfs", "zfs", "some-new-type", ""}) {
    EXPECT_FALSE(FilesystemTypeCanBlock(type)) << type;
  }
}

// Waits up to 5 s for the watcher to see the mount table change.
bool EventuallyAny(const BlockingMounts& m, bool want) {
  for (int i = 0; i < 500 && m.AnyInExport() != want; ++i) usleep(10'000);
  return m.AnyInExport() == want;
}

uint64_t MountDev(const std::string& point) {
  for (const MountEntry& m : ReadMountTable()) {
    if (m.mount_point == point) return m.dev;
  }
  return 0;
}

// A FUSE mount whose INIT is never answered: it is in the mount table, and nothing here touches
// it (a stat would wait for the daemon).
TEST(BlockingMounts, FollowsMountsInTheExportAsTheyComeAndGo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: mounting";
  if (access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse here (modprobe fuse)";
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    GTEST_SKIP() << "cannot make a private mount namespace: " << std::strerror(errno);
  }
  char base[] = "/tmp/p9x-blocking-XXXXXX";
  ASSERT_NE(mkdtemp(base), nullptr);
  const std::string b = base, exported = b + "/export", local = exported + "/local", fuse = exported + "/fuse",
                    outside = b + "/outside";
  for (const std::string& d : {exported, local, fuse, outside}) mkdir(d.c_str(), 0755);
  BlockingMounts mounts(exported);
  EXPECT_FALSE(mounts.AnyInExport());
  ASSERT_EQ(mount("p9x-test", local.c_str(), "tmpfs", 0, nullptr), 0) << std::strerror(errno);
  // One /dev/fuse descriptor per mount (the kernel refuses a second mount on one).
  const int devices[2] = {open("/dev/fuse", O_RDWR | O_CLOEXEC), open("/dev/fuse", O_RDWR | O_CLOEXEC)};
  ASSERT_GE(devices[0], 0);
  ASSERT_GE(devices[1], 0);
  auto options = [](int fd) { return "fd=" + std::to_string(fd) + ",rootmode=40000,user_id=0,group_id=0"; };
  // Outside the export: not the export's concern.
  ASSERT_EQ(mount("p9x-test", outside.c_str(), "fuse", 0, options(devices[0]).c_str()), 0) << std::strerror(errno);
  usleep(200'000);
  EXPECT_FALSE(mounts.AnyInExport());
  ASSERT_EQ(mount("p9x-test", fuse.c_str(), "fuse", 0, options(devices[1]).c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(EventuallyAny(mounts, true)) << "the watcher did not see the FUSE mount in the export";
  EXPECT_TRUE(mounts.Blocks(MountDev(fuse)));
  EXPECT_FALSE(mounts.Blocks(MountDev(local)));
  EXPECT_FALSE(mounts.Blocks(MountDev(outside)));
  umount2(fuse.c_str(), MNT_DETACH);
  EXPECT_TRUE(EventuallyAny(mounts, false)) << "the watcher did not see the FUSE mount go";
  umount2(outside.c_str(), MNT_DETACH);
  close(devices[0]);
  close(devices[1]);
  umount2(local.c_str(), MNT_DETACH);
  for (const std::string& d : {local, fuse, exported, outside, b}) rmdir(d.c_str());
}

}  // namespace
}  // namespace p9x::server
