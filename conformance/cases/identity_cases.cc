// SPDX-License-Identifier: MIT
// Qid identity: uniqueness across filesystems (the multi-filesystem fixture), stability across routes (walk,
// readdir, getattr, rename, hard link), a new path after delete and re-create, qid.version; the xqid dialect's
// 128-bit paths.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/qid_common.h"

namespace p9x::conformance {

void RegisterIdentityCases(Catalogue& catalogue) {
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
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid made = p.MakeDir(dir, "d");
            Qid walked{};
            const uint32_t d = p.Walk(dir, {"d"}, &walked);
            const Qid got = p.Getattr(d).qid;
            c.Expect((made.type & kQtDir) && (walked.type & kQtDir) && (got.type & kQtDir),
                     "qid types of a directory: mkdir " + QidText(made) + " walk " + QidText(walked) + " getattr " +
                         QidText(got));
          },
  });
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
      .spec = "spec/xqid.md §7: \"path_hi MUST NOT be the raw st_dev\": checked on several files of the export's "
              "own filesystem (its root, a directory, a file and a subdirectory made there) and, on the "
              "multi-filesystem fixture, on every file of p1, p2 and p3, against the device number in each "
              "encoding a server could leak (glibc's dev_t, the kernel's 32-bit new_encode_dev, the 16-bit old "
              "one, and MKDEV)",
      .needs = {Capability::kWritable, Capability::kLocalRoot},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            std::vector<std::pair<std::string, Qid>> files = {
                {".", p.root_qid()},
                {c.ScratchPath(), p.Getattr(dir).qid},
                {c.ScratchPath() + "/f", p.MakeFile(dir, "f")},
                {c.ScratchPath() + "/d", p.MakeDir(dir, "d")},
            };
            if (c.env().capabilities.contains(Capability::kMultiFs)) {
              for (const auto& path : FixturePaths()) {
                Qid q{};
                p.Clunk(p.Walk(p.root(), path, &q));
                files.emplace_back(Join(path), q);
              }
            }
            for (const auto& [path, q] : files) {
              struct stat st {};
              if (c.stopped()) return;
              if (!c.Expect(lstat(c.LocalPath(path).c_str(), &st) == 0, "lstat " + c.LocalPath(path) + " failed"))
                return;
              const uint64_t ma = major(st.st_dev), mi = minor(st.st_dev);
              const std::pair<uint64_t, const char*> encodings[] = {
                  {static_cast<uint64_t>(st.st_dev), "st_dev"},
                  {(mi & 0xff) | (ma << 8) | ((mi & ~uint64_t{0xff}) << 12), "new_encode_dev(st_dev)"},
                  {((ma & 0xff) << 8) | (mi & 0xff), "old_encode_dev(st_dev)"},
                  {(ma << 20) | mi, "MKDEV(major, minor)"},
              };
              for (const auto& [value, name] : encodings) {
                if (!c.Expect(q.path_hi != value, path + ": path_hi " + std::to_string(q.path_hi) + " is the host's " +
                                                      name + " (" + std::to_string(ma) + ":" + std::to_string(mi) +
                                                      ")")) {
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
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid first = p.MakeFile(dir, "keep");
            for (int i = 0; i < 100 && !c.stopped(); ++i) {
              p.MakeFile(dir, "t" + std::to_string(i));
              p.Must(p.Call(Tunlinkat{dir, "t" + std::to_string(i), 0}), "Tunlinkat");
            }
            Qid again{};
            p.Walk(dir, {"keep"}, &again);
            c.Expect(SamePath(first, again),
                     "qid changed within the session: " + QidText(first) + " -> " + QidText(again));
          },
  });
}

}  // namespace p9x::conformance
