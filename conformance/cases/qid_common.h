// SPDX-License-Identifier: MIT
// Qid identity helpers shared by the Identity, Wire and Xqid Readdir cases: the multi-filesystem fixture's paths,
// the distinctness check and the survey of the export against local ground truth.
#pragma once

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "conformance/cases/helpers.h"

namespace p9x::conformance {

inline constexpr char kQidSpec[] =
    "intro(5): \"The qid represents the server's unique identification for the file being accessed: two "
    "files on the same server hierarchy are the same if and only if their qids are the same.\"";
inline constexpr char kDistinctSpec[] =
    "spec/xqid.md §8 and spec/qid-map.md: a server MUST NOT give two files one qid path (legacy sessions); §7: "
    "files on different filesystems have different (path_hi, path) (xqid sessions). The fixture's p1 and p2 are "
    "byte-identical ext4 images (same inode numbers) and p3 a tmpfs";

// The fixture files that exist on every filesystem of the export (tests/fixture/make-fixture.sh).
inline const std::vector<std::vector<std::string>>& FixturePaths() {
  static const std::vector<std::vector<std::string>> paths = {
      {"p1"},         {"p2"},        {"p3"},        {"p1", "file"}, {"p2", "file"},
      {"p3", "file"}, {"p1", "dir"}, {"p2", "dir"}, {"p3", "dir"},
  };
  return paths;
}

inline std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : "/") + n;
  return s;
}

// Walks every fixture path; fails the case when one cannot be walked.
inline std::map<std::string, Qid> WalkFixture(Probe& p) {
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
inline void ExpectAllDistinct(CaseContext& c, const std::map<std::string, Qid>& qids) {
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
inline std::vector<Seen> SurveyTree(CaseContext& c, Probe& p, size_t limit) {
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

}  // namespace p9x::conformance
