// SPDX-License-Identifier: MIT
// The file work every real-server test does through the client library, checked against the
// export directory on the host: what the client writes must be on disk, what is on disk must
// come back, and no fid may be left behind.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "client/client.h"

namespace p9x::client::testing {

inline std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

inline std::vector<uint8_t> ReadHostFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Runs the whole scenario; `export_dir` is the server's export on this host.
inline void ExerciseFileWork(Client& client, const Fid& root, const std::string& export_dir) {
  const uint32_t gid = static_cast<uint32_t>(getegid());
  const size_t fids_before = client.fids_in_use();
  // More than one msize and not a multiple of it: the write and the read must be split.
  const std::vector<uint8_t> content = RandomBytes(3 * client.negotiated().msize + 12345, 7);

  // Create and write (Tlcreate, pipelined Twrites).
  {
    auto file = root.Walk("");
    ASSERT_TRUE(file.has_value()) << file.error().Describe();
    auto created = file->Create("hello.bin", kOpenWronly | kOpenCreate | kOpenTrunc, 0644, gid);
    ASSERT_TRUE(created.has_value()) << created.error().Describe();
    auto written = file->WriteAt(0, content);
    ASSERT_TRUE(written.has_value()) << written.error().Describe();
    ASSERT_TRUE(file->Clunk().has_value());
  }
  EXPECT_EQ(ReadHostFile(export_dir + "/hello.bin"), content) << "the bytes on disk differ from those written";

  // Read back (pipelined Treads).
  {
    auto file = root.Walk("hello.bin");
    ASSERT_TRUE(file.has_value()) << file.error().Describe();
    ASSERT_TRUE(file->Open(kOpenRdonly).has_value());
    auto data = file->ReadAll();
    ASSERT_TRUE(data.has_value()) << data.error().Describe();
    EXPECT_EQ(*data, content);
    auto attr = file->GetAttr();
    ASSERT_TRUE(attr.has_value()) << attr.error().Describe();
    EXPECT_EQ(attr->size, content.size());
    EXPECT_EQ(attr->mode & 0777, 0644u);
    EXPECT_EQ(attr->qid.path, file->qid().path);
    struct stat st {};
    ASSERT_EQ(stat((export_dir + "/hello.bin").c_str(), &st), 0);
    // A legacy qid carries the inode (diod, ganesha) or a mapped path (p9xd); both are stable.
    auto again = root.Walk("hello.bin");
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->qid().path, file->qid().path);
    EXPECT_EQ(again->qid().path_hi, file->qid().path_hi);
  }

  // A file written on the host is read through the server.
  {
    std::ofstream(export_dir + "/from-host.txt") << "written on the host\n";
    auto file = root.Walk("from-host.txt");
    ASSERT_TRUE(file.has_value()) << file.error().Describe();
    ASSERT_TRUE(file->Open(kOpenRdonly).has_value());
    auto data = file->ReadAll();
    ASSERT_TRUE(data.has_value());
    EXPECT_EQ(std::string(data->begin(), data->end()), "written on the host\n");
  }

  // Directories and listing.
  {
    auto qid = root.Mkdir("dir", 0755, gid);
    ASSERT_TRUE(qid.has_value()) << qid.error().Describe();
    EXPECT_NE(qid->type & kQtDir, 0);
    EXPECT_TRUE(std::filesystem::is_directory(export_dir + "/dir"));
    auto again = root.Mkdir("dir", 0755, gid);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, Errno::kEEXIST);

    auto listing = root.Walk("");
    ASSERT_TRUE(listing.has_value());
    ASSERT_TRUE(listing->Open(kOpenRdonly).has_value());
    auto entries = listing->ReadDir();
    ASSERT_TRUE(entries.has_value()) << entries.error().Describe();
    std::vector<std::string> names;
    for (const auto& e : *entries) {
      if (e.name == "dir") {
        EXPECT_EQ(e.type, kDtDir);
      }
      if (e.name == "hello.bin") {
        EXPECT_EQ(e.type, kDtReg);
      }
      names.push_back(e.name);
    }
    std::sort(names.begin(), names.end());
    for (const char* want : {"dir", "from-host.txt", "hello.bin"}) {
      EXPECT_TRUE(std::binary_search(names.begin(), names.end(), want)) << want << " missing from Treaddir";
    }
  }

  // Rename into the directory, symlink to it, read the link.
  {
    auto dir = root.Walk("dir");
    ASSERT_TRUE(dir.has_value());
    auto renamed = root.Rename("hello.bin", *dir, "moved.bin");
    ASSERT_TRUE(renamed.has_value()) << renamed.error().Describe();
    EXPECT_FALSE(std::filesystem::exists(export_dir + "/hello.bin"));
    EXPECT_EQ(ReadHostFile(export_dir + "/dir/moved.bin"), content);
    auto link = root.Symlink("link", "dir/moved.bin", gid);
    ASSERT_TRUE(link.has_value()) << link.error().Describe();
    EXPECT_NE(link->type & kQtSymlink, 0);
    auto walked = root.Walk("link");
    ASSERT_TRUE(walked.has_value());
    auto target = walked->ReadLink();
    ASSERT_TRUE(target.has_value()) << target.error().Describe();
    EXPECT_EQ(*target, "dir/moved.bin");
    EXPECT_EQ(std::filesystem::read_symlink(export_dir + "/link").string(), "dir/moved.bin");
  }

  // Errors carry the errno.
  {
    auto missing = root.Walk("dir/nope");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, Errno::kENOENT);
    auto dir = root.Walk("dir");
    ASSERT_TRUE(dir.has_value());
    auto not_empty = root.Unlink("dir", kAtRemovedir);
    ASSERT_FALSE(not_empty.has_value());
    EXPECT_TRUE(not_empty.error().code == Errno::kENOTEMPTY || not_empty.error().code == Errno::kEEXIST)
        << not_empty.error().Describe();
  }

  // Pipelining: many requests in flight on one connection.
  {
    std::vector<Pending<Rgetattr>> pending;
    for (int i = 0; i < 32; ++i) {
      auto p = client.Start(Tgetattr{root.number(), kGetattrBasic});
      ASSERT_TRUE(p.has_value());
      pending.push_back(std::move(*p));
    }
    for (auto& p : pending) {
      auto r = p.Wait();
      ASSERT_TRUE(r.has_value()) << r.error().Describe();
      // Same file, same identity; qid.version may differ since the root changed above.
      EXPECT_EQ((*r)->qid.path, root.qid().path);
      EXPECT_EQ((*r)->qid.path_hi, root.qid().path_hi);
      EXPECT_EQ((*r)->qid.type, root.qid().type);
    }
  }

  // Cancellation: a flushed request ends with its reply or kCancelled, and frees its tag.
  {
    auto file = root.Walk("dir/moved.bin");
    ASSERT_TRUE(file.has_value());
    ASSERT_TRUE(file->Open(kOpenRdonly).has_value());
    auto p = client.Start(Tread{file->number(), 0, 4096});
    ASSERT_TRUE(p.has_value());
    auto r = p->Flush();
    if (r.has_value()) {
      EXPECT_EQ((*r)->data.bytes.size(), 4096u);
    } else {
      EXPECT_EQ(r.error().kind, Error::Kind::kCancelled) << r.error().Describe();
    }
    EXPECT_EQ(client.connection().tags_in_use(), 0u);
  }

  // Remove everything (Tunlinkat, or walk+Tremove where the server lacks it).
  ASSERT_TRUE(root.Unlink("link", 0).has_value());
  {
    auto dir = root.Walk("dir");
    ASSERT_TRUE(dir.has_value());
    auto removed = dir->Unlink("moved.bin", 0);
    ASSERT_TRUE(removed.has_value()) << removed.error().Describe();
  }
  auto rmdir = root.Unlink("dir", kAtRemovedir);
  ASSERT_TRUE(rmdir.has_value()) << rmdir.error().Describe();
  ASSERT_TRUE(root.Unlink("from-host.txt", 0).has_value());
  EXPECT_TRUE(std::filesystem::is_empty(export_dir));
  EXPECT_EQ(client.fids_in_use(), fids_before) << "a fid leaked";
}

}  // namespace p9x::client::testing
