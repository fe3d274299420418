// SPDX-License-Identifier: MIT
// Qid identity: uniqueness across filesystems (the multi-filesystem fixture), stability across
// routes (walk, readdir, getattr, rename, hard link), a new path after delete and re-create,
// qid.version; and the xqid dialect's 128-bit paths and wire layout.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <map>
#include <filesystem>
#include <set>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kQidSpec[] =
    "intro(5): \"The qid represents the server's unique identification for the file being accessed: two "
    "files on the same server hierarchy are the same if and only if their qids are the same.\"";
constexpr char kDistinctSpec[] =
    "spec/xqid.md §8 and spec/qid-map.md: a server MUST NOT give two files one qid path (legacy sessions); §7: "
    "files on different filesystems have different (path_hi, path) (xqid sessions). The fixture's p1 and p2 are "
    "byte-identical ext4 images (same inode numbers) and p3 a tmpfs";

// The fixture files that exist on every filesystem of the export (tests/fixture/make-fixture.sh).
const std::vector<std::vector<std::string>>& FixturePaths() {
  static const std::vector<std::vector<std::string>> paths = {
      {"p1"}, {"p2"}, {"p3"}, {"p1", "file"}, {"p2", "file"}, {"p3", "file"}, {"p1", "dir"}, {"p2", "dir"}, {"p3", "dir"},
  };
  return paths;
}

std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : "/") + n;
  return s;
}

// Walks every fixture path; fails the case when one cannot be walked.
std::map<std::string, Qid> WalkFixture(Probe& p) {
  std::map<std::string, Qid> qids;
  for (const auto& path : FixturePaths()) {
    Qid q{};
    const uint32_t fid = p.Walk(p.root(), path, &q);
    if (p.log().stopped()) break;
    p.Clunk(fid);
    qids[Join(path)] = q;
  }
  return qids;
}

// Fails the case if different paths of `qids` (all of them different files) share a qid path,
// naming every group of paths that share one: "p1 = p2, p1/file = p2/file (qid paths 0x2, 0x11)".
void ExpectAllDistinct(CaseContext& c, const std::map<std::string, Qid>& qids) {
  std::map<std::pair<uint64_t, uint64_t>, std::vector<std::string>> by_path;
  for (const auto& [path, q] : qids) by_path[{q.path_hi, q.path}].push_back(path);
  std::vector<std::pair<std::string, std::string>> groups;  // "p1 = p2", qid text
  for (const auto& [key, paths] : by_path) {
    if (paths.size() < 2) continue;
    std::string group;
    for (const std::string& path : paths) group += (group.empty() ? "" : " = ") + path;
    groups.emplace_back(group, QidText(qids.at(paths.front())));
  }
  if (groups.empty()) return;
  std::sort(groups.begin(), groups.end());
  std::string names, values;
  for (const auto& [group, qid] : groups) {
    names += (names.empty() ? "" : ", ") + group;
    values += (values.empty() ? "" : ", ") + qid;
  }
  c.Fail("different files share a qid path: " + names + " (" + values + ")");
}

// One directory entry or file as the server shows it, with the local ground truth.
struct Seen {
  std::string path;
  std::string route;  // walk, getattr, readdir, dot
  Qid qid;
  dev_t dev = 0;
  ino_t ino = 0;
};

// Walks the export breadth-first (at most `limit` paths; the scratch directory and big/ are not
// entered), recording the qid each route gives and lstat's (dev, ino) through --local-root.
std::vector<Seen> SurveyTree(CaseContext& c, Probe& p, size_t limit) {
  std::vector<Seen> seen;
  std::vector<std::vector<std::string>> queue = {{}};
  size_t visited = 0;
  while (!queue.empty() && visited < limit && !c.stopped()) {
    const std::vector<std::string> dir = queue.front();
    queue.erase(queue.begin());
    const uint32_t dfid = p.Walk(p.root(), dir);
    const uint32_t open = p.Walk(dfid, {});
    p.Open(open, kOpenRdonly);
    const std::vector<Entry> entries = p.ReaddirAll(open);
    p.Clunk(open);
    for (const Entry& e : entries) {
      if (c.stopped() || visited >= limit) break;
      if (e.name == "..") continue;
      std::vector<std::string> path = dir;
      if (e.name != ".") path.push_back(e.name);
      const std::string rel = Join(path);
      struct stat st {};
      if (lstat(c.LocalPath(rel).c_str(), &st) != 0) continue;  // raced away, or not on this side
      if (e.name == ".") {
        seen.push_back({rel.empty() ? "." : rel, "readdir .", e.qid, st.st_dev, st.st_ino});
        continue;
      }
      if (dir.empty() && (e.name == c.env().scratch_name || e.name.starts_with("p9x-conform-"))) continue;
      ++visited;
      seen.push_back({rel, "readdir", e.qid, st.st_dev, st.st_ino});
      Qid walked{};
      const uint32_t fid = p.Walk(dfid, {e.name}, &walked);
      seen.push_back({rel, "walk", walked, st.st_dev, st.st_ino});
      seen.push_back({rel, "getattr", p.Getattr(fid).qid, st.st_dev, st.st_ino});
      p.Clunk(fid);
      if (S_ISDIR(st.st_mode) && e.name != "big" && e.name != "lost+found" && path.size() < 6) queue.push_back(path);
    }
    p.Clunk(dfid);
  }
  return seen;
}

}  // namespace

void RegisterQidCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Identity.FixtureFilesReachable",
      .spec = "walk(5): every file of the exported tree can be walked to; the fixture's p1, p2 (ext4) and p3 "
              "(tmpfs) are mounted inside the export (a server that does not cross mounts hides them)",
      .needs = {Capability::kMultiFs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        WalkFixture(p);
      },
  });
  catalogue.Add({
      .name = "Required.Identity.DistinctAcrossFilesystems",
      .spec = std::string(kDistinctSpec) + "; " + kQidSpec + " Checked in a plain 9P2000.L session whatever the "
              "run negotiated: the 64-bit qid path alone must tell the files apart",
      .needs = {Capability::kMultiFs},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        SessionParams plain = c.env().session;
        plain.version = kVersion9P2000L;
        if (!p.Start(plain)) return;
        const auto qids = WalkFixture(p);
        if (!c.stopped()) ExpectAllDistinct(c, qids);
      },
  });
  catalogue.Add({
      .name = "Required.Identity.DotEntriesMatchWalk",
      .spec = std::string(kQidSpec) + " The \".\" entry of a directory listing is the directory itself, also at "
              "a mount point",
      .needs = {Capability::kMultiFs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        for (const std::string name : {"p1", "p2", "p3"}) {
          Qid walked{};
          const uint32_t fid = p.Walk(p.root(), {name}, &walked);
          p.Open(fid, kOpenRdonly);
          for (const Entry& e : p.ReaddirAll(fid)) {
            if (e.name == "." && !c.Expect(SamePath(e.qid, walked), "the \".\" entry of " + name + " has qid " +
                                                                        QidText(e.qid) + ", a walk gives " + QidText(walked))) {
              return;
            }
          }
          p.Clunk(fid);
        }
      },
  });
  catalogue.Add({
      .name = "Required.Identity.TreeQidsMatchGroundTruth",
      .spec = std::string(kQidSpec) + " Checked over the export's tree (up to 400 paths) against lstat(2) "
              "(dev, ino) through --local-root, by every route: walk, getattr, readdir entries, \".\"",
      .needs = {Capability::kLocalRoot},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const std::vector<Seen> seen = SurveyTree(c, p, 400);
        if (c.stopped()) return;
        // Every route must give a file one qid, and different files different qids. All of
        // each kind are counted, so the message shows the extent of a collision (peers.md §3).
        std::map<std::pair<dev_t, ino_t>, const Seen*> by_file;
        std::map<std::pair<uint64_t, uint64_t>, std::pair<Qid, std::map<std::pair<dev_t, ino_t>, std::string>>> by_qid;
        std::string first_split;
        for (const Seen& s : seen) {
          auto [f, new_file] = by_file.emplace(std::make_pair(s.dev, s.ino), &s);
          if (!new_file && !SamePath(f->second->qid, s.qid) && first_split.empty()) {
            first_split = "one file, two qids: " + f->second->path + " (" + f->second->route + ") " +
                          QidText(f->second->qid) + " vs " + s.path + " (" + s.route + ") " + QidText(s.qid);
          }
          auto& entry = by_qid[{s.qid.path_hi, s.qid.path}];
          entry.first = s.qid;
          entry.second.emplace(std::make_pair(s.dev, s.ino), s.path);
        }
        size_t shared = 0, files = 0;
        std::string example;
        for (const auto& [key, entry] : by_qid) {
          const auto& [qid, owners] = entry;
          if (owners.size() < 2) continue;
          ++shared;
          files += owners.size();
          if (example.empty()) {
            for (const auto& [file, path] : owners) example += (example.empty() ? "" : " and ") + path;
            example += " share " + QidText(qid);
          }
        }
        if (!first_split.empty()) {
          c.Fail(first_split);
          return;
        }
        if (shared > 0) {
          c.Fail(std::to_string(shared) + " qid paths are each shared by different files (" + std::to_string(files) +
                 " of " + std::to_string(by_file.size()) + " files), e.g. " + example);
          return;
        }
        c.Note("surveyed " + std::to_string(by_file.size()) + " files");
      },
  });
  catalogue.Add({
      .name = "Required.Identity.ListingsMatchLocalTree",
      .spec = "readdir as getdents(2): a directory lists its entries, also when it is a mount point inside the "
              "export (compared with the local directory through --local-root)",
      .needs = {Capability::kLocalRoot, Capability::kMultiFs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        for (const std::string name : {"p1", "p2", "p3"}) {
          const uint32_t fid = p.Walk(p.root(), {name});
          p.Open(fid, kOpenRdonly);
          std::set<std::string> listed;
          for (const Entry& e : p.ReaddirAll(fid)) listed.insert(e.name);
          p.Clunk(fid);
          if (c.stopped()) return;
          std::error_code ec;
          for (const auto& local : std::filesystem::directory_iterator(c.LocalPath(name), ec)) {
            const std::string n = local.path().filename().string();
            if (!c.Expect(listed.contains(n), name + "/" + n + " exists locally but the server does not list it (" +
                                                  std::to_string(listed.size()) + " entries listed)")) {
              return;
            }
          }
        }
      },
  });
  catalogue.Add({
      .name = "Required.Identity.RenameKeepsQid",
      .spec = "spec/9p2000.L.md §8.19: \"fid keeps naming the file, and its qid does not change\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid before = p.MakeFile(dir, "a");
        p.Must(p.Call(Trename{p.Walk(dir, {"a"}), dir, "b"}), "Trename a -> b");
        Qid after{};
        p.Walk(dir, {"b"}, &after);
        c.Expect(SamePath(before, after), "qid before the rename " + QidText(before) + ", after " + QidText(after));
      },
  });
  catalogue.Add({
      .name = "Required.Identity.RecreatedFileGetsNewQid",
      .spec = "spec/9p2000.L.md §8.26: \"A file created later under the same name gets a different qid when the "
              "host gives it a different inode\"; " + std::string(kQidSpec),
      .needs = {Capability::kWritable, Capability::kLocalRoot},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        struct stat st {};
        const Qid first = p.MakeFile(dir, "f");
        const std::string local = c.LocalPath(c.ScratchPath() + "/f");
        if (c.stopped() || lstat(local.c_str(), &st) != 0) return;
        const ino_t ino1 = st.st_ino;
        // Keep the old inode alive (a hard link elsewhere would do too): open it before unlinking.
        const uint32_t keep = p.OpenPath(dir, {"f"}, kOpenRdonly);
        p.Must(p.Call(Tremove{p.Walk(dir, {"f"})}), "Tremove f");
        const Qid second = p.MakeFile(dir, "f");
        if (c.stopped() || lstat(local.c_str(), &st) != 0) return;
        p.Clunk(keep);
        if (st.st_ino == ino1) {
          c.Skip("the filesystem gave the new file the old inode number");
          return;
        }
        c.Expect(!SamePath(first, second), "delete and re-create gave the same qid path " + QidText(second) +
                                               " for two inodes");
      },
  });
  catalogue.Add({
      .name = "Recommended.Identity.VersionChangesOnWrite",
      .spec = "intro(5): \"The version is a version number for a file; typically, it is incremented every time "
              "the file is modified.\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
        const Qid before = p.Getattr(f).qid;
        p.WriteAll(f, 0, "changed");
        p.Must(p.Call(Tfsync{f, 0}), "Tfsync");
        const Qid after = p.Getattr(f).qid;
        c.Expect(before.version != after.version, "qid.version " + std::to_string(before.version) +
                                                      " did not change after a write");
      },
  });
  catalogue.Add({
      .name = "Recommended.Identity.StableAcrossSessions",
      .spec = "spec/xqid.md §7: the qid SHOULD be stable for the life of the server process: a client's cache "
              "lives longer than a session",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& a = c.Session();
        const Qid q1 = a.MakeFile(c.Scratch(a), "f");
        a.Close();
        Probe& b = c.Session();
        Qid q2{};
        b.Walk(c.Scratch(b), {"f"}, &q2);
        c.Expect(SamePath(q1, q2), "the same file has qid " + QidText(q1) + " in one session, " + QidText(q2) + " in the next");
      },
  });
  catalogue.Add({
      .name = "Required.Identity.DirectoryQidHasDirBit",
      .spec = "intro(5): \"the type of the file (directory, etc.), represented as a bit vector\"; QTDIR for "
              "directories, by every route",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid made = p.MakeDir(dir, "d");
        Qid walked{};
        const uint32_t d = p.Walk(dir, {"d"}, &walked);
        const Qid got = p.Getattr(d).qid;
        c.Expect((made.type & kQtDir) && (walked.type & kQtDir) && (got.type & kQtDir),
                 "qid types of a directory: mkdir " + QidText(made) + " walk " + QidText(walked) + " getattr " + QidText(got));
      },
  });

  // ---- xqid ----
  catalogue.Add({
      .name = "Xqid.Identity.DistinctAcrossFilesystems",
      .spec = kDistinctSpec,
      .needs = {Capability::kMultiFs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const auto qids = WalkFixture(p);
        if (c.stopped()) return;
        ExpectAllDistinct(c, qids);
        // Same inode number on p1 and p2: only path_hi can tell them apart.
        c.Expect(qids.at("p1/file").path_hi != qids.at("p2/file").path_hi || qids.at("p1/file").path != qids.at("p2/file").path,
                 "p1/file and p2/file are not told apart");
      },
  });
  catalogue.Add({
      .name = "Xqid.Identity.HardLinksShareQid",
      .spec = "spec/xqid.md §7: two names of one file (hard links) MUST have the same (path_hi, path)",
      .needs = {Capability::kWritable, Capability::kHardLinks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid a = p.MakeFile(dir, "a");
        p.Must(p.Call(Tlink{dir, p.Walk(dir, {"a"}), "b"}), "Tlink");
        Qid b{};
        p.Walk(dir, {"b"}, &b);
        c.Expect(SamePath(a, b), "hard links a " + QidText(a) + " and b " + QidText(b));
      },
  });
  catalogue.Add({
      .name = "Xqid.Identity.PathHiIsNotHostDevice",
      .spec = "spec/xqid.md §7: \"path_hi MUST NOT be the raw st_dev\": checked on every filesystem of the "
              "fixture (the export's, p1, p2, p3) against the device number in each encoding a server could "
              "leak (glibc's dev_t, the kernel's 32-bit new_encode_dev, the 16-bit old one, and MKDEV)",
      .needs = {Capability::kWritable, Capability::kLocalRoot, Capability::kMultiFs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        std::vector<std::pair<std::string, Qid>> files = {{c.ScratchPath() + "/f", p.MakeFile(dir, "f")}};
        for (const auto& path : FixturePaths()) {
          Qid q{};
          p.Clunk(p.Walk(p.root(), path, &q));
          files.emplace_back(Join(path), q);
        }
        for (const auto& [path, q] : files) {
          struct stat st {};
          if (c.stopped() || lstat(c.LocalPath(path).c_str(), &st) != 0) return;
          const uint64_t ma = major(st.st_dev), mi = minor(st.st_dev);
          const std::pair<uint64_t, const char*> encodings[] = {
              {static_cast<uint64_t>(st.st_dev), "st_dev"},
              {(mi & 0xff) | (ma << 8) | ((mi & ~uint64_t{0xff}) << 12), "new_encode_dev(st_dev)"},
              {((ma & 0xff) << 8) | (mi & 0xff), "old_encode_dev(st_dev)"},
              {(ma << 20) | mi, "MKDEV(major, minor)"},
          };
          for (const auto& [value, name] : encodings) {
            if (!c.Expect(q.path_hi != value, path + ": path_hi " + std::to_string(q.path_hi) + " is the host's " +
                                                  name + " (" + std::to_string(major(st.st_dev)) + ":" +
                                                  std::to_string(minor(st.st_dev)) + ")")) {
              return;
            }
          }
        }
      },
  });
  catalogue.Add({
      .name = "Xqid.Identity.StableAcrossRoutes",
      .spec = "spec/xqid.md §7: a file's qid MUST be the same by every route: walk, getattr, readdir entry, after rename",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid created = p.MakeFile(dir, "f");
        Qid walked{};
        const uint32_t f = p.Walk(dir, {"f"}, &walked);
        const Qid got = p.Getattr(f).qid;
        const Rlopen opened = p.Open(f, kOpenRdonly);
        Qid listed{};
        const uint32_t open = c.Scratch(p);
        p.Open(open, kOpenRdonly);
        for (const Entry& e : p.ReaddirAll(open)) {
          if (e.name == "f") listed = e.qid;
        }
        p.Must(p.Call(Trenameat{dir, "f", dir, "g"}), "Trenameat f -> g");
        Qid renamed{};
        p.Walk(dir, {"g"}, &renamed);
        for (const auto& [route, q] : std::vector<std::pair<std::string, Qid>>{
                 {"walk", walked}, {"getattr", got}, {"lopen", opened.qid}, {"readdir", listed}, {"rename", renamed}}) {
          if (!c.Expect(SamePath(q, created), "by " + route + " the file is " + QidText(q) + ", created as " + QidText(created))) return;
        }
      },
  });
  catalogue.Add({
      .name = "Xqid.Identity.StableWithinSession",
      .spec = "spec/xqid.md §7: \"The pair MUST be stable for the life of the session\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid first = p.MakeFile(dir, "keep");
        for (int i = 0; i < 100 && !c.stopped(); ++i) {
          p.MakeFile(dir, "t" + std::to_string(i));
          p.Must(p.Call(Tunlinkat{dir, "t" + std::to_string(i), 0}), "Tunlinkat");
        }
        Qid again{};
        p.Walk(dir, {"keep"}, &again);
        c.Expect(SamePath(first, again), "qid changed within the session: " + QidText(first) + " -> " + QidText(again));
      },
  });
  catalogue.Add({
      .name = "Xqid.Readdir.EntryQidMatchesWalk",
      .spec = "spec/xqid.md §7: the readdir entry's 128-bit qid equals the walk qid",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t open = p.Walk(p.root(), {});
        p.Open(open, kOpenRdonly);
        int checked = 0;
        for (const Entry& e : p.ReaddirAll(open)) {
          if (e.name == "." || e.name == ".." || checked >= 50) continue;
          Qid walked{};
          p.Clunk(p.Walk(p.root(), {e.name}, &walked));
          ++checked;
          if (!c.Expect(SamePath(walked, e.qid), "entry \"" + e.name + "\" has qid " + QidText(e.qid) + ", a walk gives " +
                                                    QidText(walked))) {
            return;
          }
        }
      },
  });
  catalogue.Add({
      .name = "Xqid.Wire.RwalkQidsAreExtended",
      .spec = "spec/xqid.md §6: Rwalk's nwqid*qid are 21-byte qids in an xqid session",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "a");
        p.MakeDir(p.Walk(dir, {"a"}), "b");
        auto r = p.Call(MakeWalk(dir, p.NextFid(), {"a", "b"}));
        if (!p.Must(r, "Twalk a/b")) return;
        c.Expect(r.frame.size() == kHeaderSize + 2 + 2 * 21, "Rwalk of 2 qids is " + std::to_string(r.frame.size()) +
                                                                 " bytes, expected 51");
      },
  });
  catalogue.Add({
      .name = "Xqid.Wire.RgetattrFieldsFollowExtendedQid",
      .spec = "spec/xqid.md §6: \"Rgetattr: every field after the qid (mode ... data_version) moves 8 bytes later\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", Pattern(777));
        auto r = p.Call(Tgetattr{p.Walk(dir, {"f"}), kGetattrBasic});
        if (!p.Must(r, "Tgetattr")) return;
        c.Expect(r.frame.size() == 160 + 8 && (r.msg.mode & kSIfmt) == kSIfreg && r.msg.size == 777,
                 "Rgetattr is " + std::to_string(r.frame.size()) + " bytes (expected 168) with mode 0" +
                     std::to_string(r.msg.mode >> 12) + "xxxx size " + std::to_string(r.msg.size) + " (expected a 777-byte file)");
      },
  });
  catalogue.Add({
      .name = "Xqid.Wire.RreaddirEntriesAreExtended",
      .spec = "spec/xqid.md §6: \"Rreaddir: each entry is qid offset[8] type[1] name[s], 8 bytes longer: 32 + "
              "len(name)\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "abc");
        const uint32_t open = c.Scratch(p);
        p.Open(open, kOpenRdonly);
        uint32_t bytes = 0;
        const std::vector<Entry> entries = p.Readdir(open, 0, p.io_size(), &bytes);
        uint32_t expected = 0;
        bool found = false;
        for (const Entry& e : entries) {
          expected += 32 + static_cast<uint32_t>(e.name.size());
          found = found || e.name == "abc";
        }
        c.Expect(found && bytes == expected, "Rreaddir entries do not have the xqid size (or \"abc\" is missing): " +
                                                 std::to_string(bytes) + " bytes for " + std::to_string(entries.size()) + " entries");
      },
  });
}

}  // namespace p9x::conformance
