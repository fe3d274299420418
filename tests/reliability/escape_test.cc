// SPDX-License-Identifier: MIT
// Escape attempts against the real p9xd over a socket. p9xd exports base/export;
// next to it, outside the export, lie a secret file, a directory with a file, and a file that a
// hard link inside the export shares. Every attempt (walks of "..", names with slashes, walks
// through symlinks to "/", to "../../.." and to absolute paths outside, creation and renaming
// with bad names, links, and a rename race on the host) is listed in the test log with its
// result, and the test asserts that none of them reached anything outside the export.
#include <dirent.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <set>

#include "tests/reliability/reliability_util.h"

namespace p9x::reliability {
namespace {

namespace fs = std::filesystem;
using client::Client;
using client::Fid;

constexpr const char* kSecret = "TOP-SECRET reached through a path";
constexpr const char* kOutsideX = "OUTSIDE-X reached through a path";
constexpr const char* kLinked = "HARDLINKED content";

class Escape : public P9xdTest {
 protected:
  void SetUp() override {
    P9xdTest::SetUp();
    if (IsSkipped()) return;
    base_path_ = base_.path();
    std::ofstream(base_path_ + "/SECRET-outside.txt") << kSecret;
    fs::create_directories(base_path_ + "/outside");
    std::ofstream(base_path_ + "/outside/x") << kOutsideX;
    std::ofstream(base_path_ + "/linked-secret") << kLinked;
    std::ofstream(export_ + "/d/x") << "inside-x";
    fs::create_symlink("/", export_ + "/to_root");
    fs::create_symlink("../../..", export_ + "/up");
    fs::create_symlink(base_path_ + "/SECRET-outside.txt", export_ + "/abs_secret");
    fs::create_symlink("../SECRET-outside.txt", export_ + "/rel_secret");
    fs::create_symlink(base_path_ + "/outside", export_ + "/to_outside_dir");
    hard_linked_ = link((base_path_ + "/linked-secret").c_str(), (export_ + "/hl").c_str()) == 0;
    StartServer();
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
    auto root = client_->AttachRoot("root", "", 0);
    ASSERT_TRUE(root) << root.error().Describe();
    root_ = std::move(*root);
  }
  void TearDown() override {
    root_ = {};
    client_.reset();
    P9xdTest::TearDown();
  }

  // One line of the table: what was tried, what happened, and whether it escaped.
  void Record(const std::string& attempt, const std::string& result, bool escaped) {
    ++attempts_;
    escapes_ += escaped;
    char line[400];
    std::snprintf(line, sizeof line, "  %-58s -> %s%s", attempt.c_str(), result.c_str(), escaped ? "  ** ESCAPE **" : "");
    table_.push_back(line);
    EXPECT_FALSE(escaped) << attempt << " -> " << result;
  }

  static std::string Label(const client::Error& e) { return client::ErrnoLabel(e.code); }

  // What a fid the server handed out gives access to: a directory's entry names, a file's
  // contents, a symlink's text (and what opening it does). Escaped when any of it belongs to the
  // outside (the secret files' contents, the names next to the export, the names of "/").
  std::string Inspect(Fid& f, bool* escaped) {
    auto attr = f.GetAttr();
    if (!attr) return "walked; getattr " + Label(attr.error());
    const uint32_t type = attr->mode & S_IFMT;
    if (type == S_IFDIR) {
      auto d = f.Walk("");
      if (!d) return "dir; clone " + Label(d.error());
      if (auto o = d->Open(kOpenRdonly); !o) return "dir; open " + Label(o.error());
      auto entries = d->ReadDir();
      if (!entries) return "dir; readdir " + Label(entries.error());
      std::string names;
      for (const auto& e : *entries) {
        if (e.name == "SECRET-outside.txt" || e.name == "linked-secret" || e.name == "outside" || e.name == "etc" ||
            e.name == "proc" || (e.name == "x" && attr->qid.path != d_qid_path_)) {
          *escaped = true;
        }
        if (e.name != "." && e.name != "..") names += e.name + " ";
      }
      const bool is_root = attr->qid.path == root_.qid().path;
      return std::string(is_root ? "the export root" : "a directory") + " [" + names + "]";
    }
    std::string result = type == S_IFLNK ? "symlink" : "file";
    if (type == S_IFLNK) {
      auto text = f.ReadLink();
      result += text ? " \"" + *text + "\"" : " readlink " + Label(text.error());
    }
    auto o = f.Walk("");
    if (!o) return result + "; clone " + Label(o.error());
    if (auto opened = o->Open(kOpenRdonly); !opened) return result + "; open " + Label(opened.error());
    auto data = o->ReadAll();
    if (!data) return result + "; read " + Label(data.error());
    const std::string content(data->begin(), data->end());
    if (content.find("TOP-SECRET") != std::string::npos || content.find("OUTSIDE-X") != std::string::npos ||
        content.find("root:") != std::string::npos) {
      *escaped = true;
    }
    return result + "; read \"" + content.substr(0, 40) + "\"";
  }

  // Twalk from `from` with exactly these names (nothing split or checked by the client).
  void TryWalk(Fid& from, const std::string& from_name, std::vector<std::string_view> names) {
    std::string attempt = "Twalk " + from_name + " [";
    for (size_t i = 0; i < names.size(); ++i) attempt += (i ? ", \"" : "\"") + std::string(names[i]) + "\"";
    attempt += "]";
    auto newfid = client_->AllocateFid();
    ASSERT_TRUE(newfid);
    auto r = client_->Walk(from.number(), *newfid, names);
    if (!r) {
      client_->FreeFid(*newfid);
      Record(attempt, "refused " + Label(r.error()), false);
      return;
    }
    if (r->msg().wqids.count != names.size()) {
      client_->FreeFid(*newfid);
      Record(attempt, "stopped after " + std::to_string(r->msg().wqids.count) + " of " + std::to_string(names.size()),
             false);
      return;
    }
    Fid f(client_.get(), *newfid, names.empty() ? from.qid() : r->msg().wqids.qids[names.size() - 1]);
    bool escaped = false;
    std::string what = Inspect(f, &escaped);
    Record(attempt, what, escaped);
  }

  Fid Clone(const Fid& f) {
    auto c = f.Walk("");
    EXPECT_TRUE(c);
    return c ? std::move(*c) : Fid();
  }

  // Nothing appeared, vanished or changed outside the export.
  void ExpectOutsideUntouched() {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(base_path_)) names.insert(e.path().filename().string());
    EXPECT_EQ(names, (std::set<std::string>{"SECRET-outside.txt", "export", "linked-secret", "outside", "p9xd.log"}));
    std::set<std::string> outside;
    for (const auto& e : fs::directory_iterator(base_path_ + "/outside")) outside.insert(e.path().filename().string());
    EXPECT_EQ(outside, (std::set<std::string>{"x"}));
    EXPECT_EQ(ReadText(base_path_ + "/SECRET-outside.txt"), kSecret);
    EXPECT_EQ(ReadText(base_path_ + "/outside/x"), kOutsideX);
    EXPECT_EQ(ReadText(base_path_ + "/linked-secret"), kLinked);
    for (const char* p : {"/tmp/p9x-escape-created", "/tmp/p9x-escape-dir", "/tmp/p9x-escape-moved",
                          "/tmp/p9x-escape-link", "/tmp/p9x-escape-sym"}) {
      struct stat st;
      EXPECT_NE(lstat(p, &st), 0) << p << " was created outside the export";
      unlink(p);
      rmdir(p);
    }
  }

  void PrintTable(const char* title) {
    std::printf("%s (%d attempts, %d escapes):\n", title, attempts_, escapes_);
    for (const auto& line : table_) std::printf("%s\n", line.c_str());
  }

  std::string base_path_;
  bool hard_linked_ = false;
  std::unique_ptr<Client> client_;
  Fid root_;
  uint64_t d_qid_path_ = ~0ull;
  int attempts_ = 0;
  int escapes_ = 0;
  std::vector<std::string> table_;
};

TEST_F(Escape, WalksNeverLeaveTheExport) {
  auto d = root_.Walk("d");
  ASSERT_TRUE(d);
  d_qid_path_ = d->qid().path;
  // ".." at the root, and from below it.
  TryWalk(root_, "/", {".."});
  TryWalk(root_, "/", {"..", ".."});
  TryWalk(root_, "/", {"..", "..", "..", "..", "..", "..", "..", ".."});
  TryWalk(root_, "/", {"d", "..", ".."});
  TryWalk(*d, "d", {"..", ".."});
  TryWalk(*d, "d", {"..", "..", "SECRET-outside.txt"});
  TryWalk(root_, "/", {"..", "SECRET-outside.txt"});
  TryWalk(root_, "/", {"..", "outside", "x"});
  TryWalk(root_, "/", {"..", "linked-secret"});
  // Names that are not one path element.
  for (std::string_view name : {"/", "/etc", "/etc/passwd", "a/b", "d/x", "../SECRET-outside.txt", "", ".", "d/.."}) {
    TryWalk(root_, "/", {name});
  }
  TryWalk(root_, "/", {"d", "/etc"});
  // Through each symlink: walking onto it gives the link itself; walking through it must fail.
  for (std::string_view link : {"to_root", "up", "abs_secret", "rel_secret", "to_outside_dir"}) {
    TryWalk(root_, "/", {link});
  }
  TryWalk(root_, "/", {"to_root", "etc"});
  TryWalk(root_, "/", {"to_root", "etc", "passwd"});
  TryWalk(root_, "/", {"up", "etc"});
  TryWalk(root_, "/", {"to_outside_dir", "x"});
  TryWalk(root_, "/", {"d", "..", "to_outside_dir", "x"});
  TryWalk(root_, "/", {"to_outside_dir", ".."});
  // Tattach with an aname that leaves the export.
  for (std::string_view aname : {"..", "../outside", "d/../..", "/", "to_outside_dir"}) {
    auto fid = client_->AllocateFid();
    ASSERT_TRUE(fid);
    auto r = client_->Attach(*fid, kNoFid, "root", aname, 0);
    if (!r) {
      client_->FreeFid(*fid);
      Record("Tattach aname \"" + std::string(aname) + "\"", "refused " + Label(r.error()), false);
      continue;
    }
    Fid f(client_.get(), *fid, r->msg().qid);
    bool escaped = false;
    std::string what = Inspect(f, &escaped);
    Record("Tattach aname \"" + std::string(aname) + "\"", what, escaped);
  }
  PrintTable("walks");
  EXPECT_EQ(escapes_, 0);
  ExpectOutsideUntouched();
}

TEST_F(Escape, ChangesWithBadNamesStayInside) {
  const uint32_t kFlags = kOpenWronly | kOpenCreate | kOpenTrunc;
  const std::vector<std::string_view> bad = {"..", ".", "", "/tmp/p9x-escape-created", "a/b", "../escaped",
                                             "d/../../escaped"};
  for (std::string_view name : bad) {
    Fid dir = Clone(root_);
    auto r = client_->Lcreate(dir.number(), name, kFlags, 0644, 0);
    Record("Tlcreate \"" + std::string(name) + "\"", r ? "created" : "refused " + Label(r.error()), false);
  }
  // Over an existing symlink pointing outside: O_CREAT|O_TRUNC must not follow it.
  for (std::string_view name : {"abs_secret", "rel_secret"}) {
    Fid dir = Clone(root_);
    auto r = client_->Lcreate(dir.number(), name, kFlags, 0644, 0);
    Record("Tlcreate O_TRUNC over symlink \"" + std::string(name) + "\"",
           r ? "opened (!)" : "refused " + Label(r.error()), ReadText(base_path_ + "/SECRET-outside.txt") != kSecret);
  }
  // In a "directory" that is a symlink to the outside.
  {
    auto link = root_.Walk("to_outside_dir");
    ASSERT_TRUE(link);
    auto r = client_->Lcreate(link->number(), "pwned", kFlags, 0644, 0);
    Record("Tlcreate \"pwned\" in symlink to_outside_dir", r ? "created (!)" : "refused " + Label(r.error()), r.has_value());
    auto m = client_->Mkdir(link->number(), "pwned-dir", 0755, 0);
    Record("Tmkdir \"pwned-dir\" in symlink to_outside_dir", m ? "created (!)" : "refused " + Label(m.error()), m.has_value());
    auto u = client_->Unlinkat(link->number(), "x", 0);
    Record("Tunlinkat \"x\" in symlink to_outside_dir", u ? "removed (!)" : "refused " + Label(u.error()), u.has_value());
  }
  for (std::string_view name : {"..", ".", "", "/tmp/p9x-escape-dir", "a/b", "../escaped-dir"}) {
    auto r = client_->Mkdir(root_.number(), name, 0755, 0);
    Record("Tmkdir \"" + std::string(name) + "\"", r ? "created" : "refused " + Label(r.error()), false);
  }
  for (std::string_view name : {"..", ".", "", "/tmp/p9x-escape-sym", "a/b", "../escaped-sym"}) {
    auto r = client_->Symlink(root_.number(), name, "/", 0);
    Record("Tsymlink \"" + std::string(name) + "\" -> /", r ? "created" : "refused " + Label(r.error()), false);
  }
  // A new symlink to a file outside is allowed (it is only text), but never followed.
  {
    auto r = client_->Symlink(root_.number(), "new_to_passwd", "/etc/passwd", 0);
    Record("Tsymlink \"new_to_passwd\" -> /etc/passwd", r ? "created (text only)" : "refused " + Label(r.error()), false);
    TryWalk(root_, "/", {"new_to_passwd"});
  }
  auto small = root_.Walk("small");
  ASSERT_TRUE(small);
  for (std::string_view name : {"..", ".", "", "/tmp/p9x-escape-link", "a/b", "../escaped-link"}) {
    auto r = client_->Link(root_.number(), small->number(), name);
    Record("Tlink small as \"" + std::string(name) + "\"", r ? "linked" : "refused " + Label(r.error()), false);
  }
  // Tlink needs a fid of the target, and no fid outside the export can be had; the nearest is
  // a symlink pointing outside: a hard link to it is another symlink, never the secret.
  {
    auto link = root_.Walk("abs_secret");
    ASSERT_TRUE(link);
    auto r = client_->Link(root_.number(), link->number(), "hl_to_symlink");
    Record("Tlink symlink abs_secret as \"hl_to_symlink\"", r ? "linked (a symlink)" : "refused " + Label(r.error()),
           false);
    if (r) TryWalk(root_, "/", {"hl_to_symlink"});
  }
  const std::vector<std::pair<std::string_view, std::string_view>> renames = {
      {"small", "../escape-moved"}, {"small", "/tmp/p9x-escape-moved"}, {"small", "to_outside_dir/small"},
      {"small", ".."},              {"small", ""},                      {"..", "pulled-in"},
      {"to_outside_dir/x", "x"},    {"d", "to_outside_dir/d"},          {"small", "a/b"}};
  for (const auto& [from, to] : renames) {
    auto r = client_->Renameat(root_.number(), from, root_.number(), to);
    Record("Trenameat \"" + std::string(from) + "\" -> \"" + std::string(to) + "\"",
           r ? "renamed" : "refused " + Label(r.error()), false);
  }
  // Renaming into a "directory" that is a symlink to the outside.
  {
    auto link = root_.Walk("to_outside_dir");
    ASSERT_TRUE(link);
    auto r = client_->Renameat(root_.number(), "small", link->number(), "moved-out");
    Record("Trenameat small -> symlink to_outside_dir/\"moved-out\"", r ? "renamed (!)" : "refused " + Label(r.error()),
           r.has_value());
  }
  for (std::string_view name : {"..", "to_outside_dir/x", "/tmp", "d/../../linked-secret"}) {
    auto r = client_->Unlinkat(root_.number(), name, 0);
    Record("Tunlinkat \"" + std::string(name) + "\"", r ? "removed" : "refused " + Label(r.error()), false);
  }
  PrintTable("changes with bad names");
  EXPECT_EQ(escapes_, 0);
  ExpectOutsideUntouched();
  // The export still holds its own files (nothing was renamed away).
  EXPECT_EQ(ReadText(export_ + "/small"), "small file");
}

// A hard link made on the host from inside the export to a file outside is a file inside the
// export: it reads the same inode, legitimately. The path to the outside file stays out of reach.
TEST_F(Escape, HostHardLinkIsAFileInsideTheExport) {
  if (!hard_linked_) GTEST_SKIP() << "link() across the export boundary failed here: " << std::strerror(errno);
  auto hl = root_.Walk("hl");
  ASSERT_TRUE(hl);
  ASSERT_TRUE(hl->Open(kOpenRdonly));
  auto data = hl->ReadAll();
  ASSERT_TRUE(data);
  EXPECT_EQ(std::string(data->begin(), data->end()), kLinked);
  std::printf("  hard link export/hl -> base/linked-secret: reads \"%s\" (allowed: the link is a file inside the "
              "export, the same inode)\n",
              kLinked);
  TryWalk(root_, "/", {"..", "linked-secret"});
  TryWalk(root_, "/", {"hl", ".."});
  TryWalk(root_, "/", {"hl", "..", "linked-secret"});
  PrintTable("the path to the hard-linked file");
  EXPECT_EQ(escapes_, 0);
}

// While a client walks and opens "d/x" again and again, the host swaps d (and then d/x) for
// symlinks to the outside and back. No open may ever return the outside file.
TEST_F(Escape, RenameRaceNeverOpensTheOutside) {
  std::atomic<bool> stop{false};
  int swaps = 0;
  std::thread host([&] {
    const std::string d = export_ + "/d", away = export_ + "/d-away";
    const std::string x = export_ + "/d/x", x_away = export_ + "/d/x-away";
    while (!stop.load()) {
      // The directory becomes a symlink to the outside directory, then comes back.
      if (rename(d.c_str(), away.c_str()) == 0) {
        symlink((base_path_ + "/outside").c_str(), d.c_str());
        std::this_thread::yield();
        unlink(d.c_str());
        rename(away.c_str(), d.c_str());
      }
      // The file becomes a symlink to the outside file, then comes back.
      if (rename(x.c_str(), x_away.c_str()) == 0) {
        symlink((base_path_ + "/outside/x").c_str(), x.c_str());
        std::this_thread::yield();
        unlink(x.c_str());
        rename(x_away.c_str(), x.c_str());
      }
      ++swaps;
      // Leave d/x in place for a moment each round: on a loaded machine a swap loop that never
      // pauses can starve every walk of a window, and the race would then test nothing.
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::map<std::string, int> outcomes;
  int tries = 0, leaks = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (; tries < 2000 && Clock::now() < deadline; ++tries) {
    auto f = root_.Walk("d/x");
    if (!f) {
      ++outcomes["walk " + Label(f.error())];
      continue;
    }
    if (auto o = f->Open(kOpenRdonly); !o) {
      ++outcomes["open " + Label(o.error())];
      continue;
    }
    auto data = f->ReadAll();
    if (!data) {
      ++outcomes["read " + Label(data.error())];
      continue;
    }
    const std::string content(data->begin(), data->end());
    if (content == "inside-x") {
      ++outcomes["read inside-x"];
    } else {
      ++outcomes["read \"" + content + "\""];
      leaks += content.find("OUTSIDE") != std::string::npos;
    }
  }
  stop = true;
  host.join();
  std::printf("rename race: %d walk+open+read attempts while the host swapped d and d/x for symlinks %d times:\n",
              tries, swaps);
  for (const auto& [what, n] : outcomes) std::printf("  %-30s %d\n", what.c_str(), n);
  EXPECT_EQ(leaks, 0) << "an open returned the file outside the export";
  EXPECT_GT(outcomes["read inside-x"], 0);
  EXPECT_GT(swaps, 10);
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace p9x::reliability
