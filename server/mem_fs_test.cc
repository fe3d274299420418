// SPDX-License-Identifier: MIT
// MemFs alone, without a server: readdir cookies, rename(2) and lock rules, mount points and
// devices, and the parsing of the mem: export spec.
#include "server/mem_fs.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "codec/constants.h"

namespace p9x::server {
namespace {

// The backend alone: readdir cookies survive changes, rename(2) and lock rules.
TEST(MemFs, ReaddirCookiesSurviveRemovalsAndRenameFollowsLinux) {
  MemFs m;
  const NodeRef& root = m.root();
  auto d = m.Mkdir(root, "d", 0755, 0);
  ASSERT_TRUE(d);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(m.Create(*d, "f" + std::to_string(i), kOpenRdwr, 0644, 0));
  auto open = m.OpenNode(*d, kOpenRdonly);
  ASSERT_TRUE(open);
  std::vector<std::pair<std::string, uint64_t>> seen;
  auto list = [&](uint64_t from, size_t max) {
    seen.clear();
    ASSERT_TRUE(m.ReadDirPlus(*d, **open, from, [&](const DirEntryPlus& e) {
      if (seen.size() == max) return false;
      seen.emplace_back(std::string(e.name), e.next_offset);
      return true;
    }));
  };
  list(0, 5);  // ".", "..", f0, f1, f2
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[2].first, "f0");
  const uint64_t cookie = seen.back().second;
  ASSERT_TRUE(m.Unlinkat(*d, "f1", 0));
  ASSERT_TRUE(m.Unlinkat(*d, "f3", 0));
  list(cookie, 100);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().first, "f4");  // resumes after f2; removed f3 is not offered
  EXPECT_EQ(seen.size(), 6u);

  auto sub = m.Mkdir(*d, "sub", 0755, 0);
  ASSERT_TRUE(sub);
  EXPECT_EQ(m.Renameat(root, "d", *sub, "inside").error(), Errno::kEINVAL);  // below itself
  EXPECT_EQ(m.Unlinkat(root, "d", kAtRemovedir).error(), Errno::kENOTEMPTY);
  EXPECT_EQ(m.Unlinkat(*d, "sub", 0).error(), Errno::kEISDIR);
  ASSERT_TRUE(m.Renameat(*d, "f0", *sub, "moved"));
  EXPECT_EQ(m.Walk(*d, "f0").error(), Errno::kENOENT);
  EXPECT_TRUE(m.Walk(*sub, "moved"));

  // Replacing a file by rename frees its data, as unlinking it would.
  const uint64_t free_before = m.Statfs(root)->bfree;
  {
    auto big = m.Create(*d, "big", kOpenRdwr, 0644, 0);
    ASSERT_TRUE(big);
    const std::vector<uint8_t> data(1 << 20, 7);
    ASSERT_TRUE(big->second->Write(data, 0));
  }
  EXPECT_EQ(m.Statfs(root)->bfree, free_before - 256);
  ASSERT_TRUE(m.Renameat(*d, "f4", *d, "big"));
  EXPECT_EQ(m.Statfs(root)->bfree, free_before);

  auto f = m.Walk(*d, "f2");
  ASSERT_TRUE(f);
  auto a = m.OpenNode(*f, kOpenRdwr);
  auto b = m.OpenNode(*f, kOpenRdwr);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(*(*a)->SetLock({kLockTypeWrlck, 0, 10, 1}));
  EXPECT_FALSE(*(*b)->SetLock({kLockTypeRdlck, 5, 1, 2}));  // conflicts with a's write lock
  EXPECT_TRUE(*(*b)->SetLock({kLockTypeRdlck, 10, 0, 2}));  // after it: free
  auto held = (*b)->TestLock({kLockTypeWrlck, 0, 0, 2});
  ASSERT_TRUE(held);
  EXPECT_EQ(held->type, kLockTypeWrlck);
  EXPECT_EQ(held->proc_id, 1u);
  a->reset();  // closing releases a's locks
  EXPECT_TRUE(*(*b)->SetLock({kLockTypeWrlck, 0, 10, 2}));
}

TEST(MemFs, MountPointsAreBusyAndDevicesDoNotMix) {
  MemFsOptions o;
  o.mounts = {"p1", "p2"};
  MemFs m(o);
  const NodeRef& root = m.root();
  EXPECT_EQ(m.Renameat(root, "p1", root, "moved").error(), Errno::kEBUSY);
  EXPECT_EQ(m.Unlinkat(root, "p2", kAtRemovedir).error(), Errno::kEBUSY);
  auto p1 = m.Walk(root, "p1");
  auto p2 = m.Walk(root, "p2");
  ASSERT_TRUE(p1 && p2);
  ASSERT_TRUE(m.Create(*p1, "file", kOpenRdwr, 0644, 0));
  auto file = m.Walk(*p1, "file");
  ASSERT_TRUE(file);
  EXPECT_EQ(m.Renameat(*p1, "file", *p2, "file").error(), Errno::kEXDEV);
  EXPECT_EQ(m.Link(*p2, *file, "hard").error(), Errno::kEXDEV);
  auto st1 = m.Stat(*p1);
  auto st2 = m.Stat(*p2);
  ASSERT_TRUE(st1 && st2);
  EXPECT_EQ(st1->st_ino, st2->st_ino) << "mounts number their inodes identically";
  EXPECT_NE(st1->st_dev, st2->st_dev);
}

TEST(MemFs, SpecParsesAndRefusesWithAReason) {
  auto o = ParseMemFsSpec("mem:mounts=p1+p2,gen=big:1000000:0x10:3");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mounts, (std::vector<std::string>{"p1", "p2"}));
  ASSERT_EQ(o->generated.size(), 1u);
  EXPECT_EQ(o->generated[0].count, 1000000u);
  EXPECT_EQ(o->generated[0].first_ino, 16u);
  EXPECT_EQ(o->generated[0].stride, 3u);
  EXPECT_FALSE(ParseMemFsSpec("mem:mounts=a/b"));
  EXPECT_FALSE(ParseMemFsSpec("mem:gen=x"));
  EXPECT_FALSE(ParseMemFsSpec("mem:colour=blue"));
  EXPECT_FALSE(ParseMemFsSpec("/srv"));
}

}  // namespace
}  // namespace p9x::server
