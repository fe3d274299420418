// SPDX-License-Identifier: MIT
// The read-only commands that look at the tree: p9x ls, stat and tree.
#include "client/cli/cli.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace p9x::client::cli {

namespace {

struct ListedEntry {
  std::string name;
  Qid qid;
  uint8_t dtype = 0;
  std::optional<Rgetattr> attr;
  std::string link_target;
};

void PrintLong(const ListedEntry& e) {
  if (!e.attr) {
    std::printf("?????????? %s\n", e.name.c_str());
    return;
  }
  const Rgetattr& a = *e.attr;
  const time_t t = static_cast<time_t>(a.mtime_sec);
  tm tm_utc{};
  gmtime_r(&t, &tm_utc);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm_utc);
  std::printf("%s %3llu %5u %5u %10llu %s %s", ModeString(a.mode).c_str(), static_cast<unsigned long long>(a.nlink),
              a.uid, a.gid, static_cast<unsigned long long>(a.size), when, e.name.c_str());
  if (!e.link_target.empty()) std::printf(" -> %s", e.link_target.c_str());
  std::printf("\n");
}

json EntryJson(const ListedEntry& e) {
  json j{{"name", e.name}, {"qid", QidJson(e.qid)}, {"dtype", e.dtype}};
  if (e.attr) j["attr"] = AttrJson(*e.attr);
  if (!e.link_target.empty()) j["link_target"] = e.link_target;
  return j;
}

}  // namespace

Outcome RunLs(Context& ctx, const std::vector<std::string>& args) {
  bool long_format = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "-l") {
      long_format = true;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) paths.push_back("");
  Outcome failure;
  json all = json::array();
  for (const auto& path : paths) {
    auto fid = WalkTo(ctx, path);
    if (!fid) return Fail("ls " + Shown(path), fid.error());
    std::vector<ListedEntry> entries;
    if (!fid->is_dir()) {
      ListedEntry e{path, fid->qid(), 0, std::nullopt, ""};
      if (long_format) {
        auto attr = fid->GetAttr();
        if (!attr) return Fail("ls " + Shown(path), attr.error());
        e.attr = *attr;
        if ((e.qid.type & kQtSymlink) != 0) {
          auto link = fid->ReadLink();
          if (link) e.link_target = *link;
        }
      }
      entries.push_back(std::move(e));
    } else {
      auto opened = fid->Open(kOpenRdonly);
      if (!opened) return Fail("ls " + Shown(path), opened.error());
      auto dir = fid->ReadDir();
      if (!dir) return Fail("ls " + Shown(path), dir.error());
      for (const auto& d : *dir) {
        if (d.name == "." || d.name == "..") continue;
        entries.push_back(ListedEntry{d.name, d.qid, d.type, std::nullopt, ""});
      }
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      if (long_format) {
        for (auto& e : entries) {
          const std::string child = JoinPath(path, e.name);
          auto cf = WalkTo(ctx, child);
          if (!cf) {
            std::fprintf(stderr, "p9x: ls %s: %s\n", child.c_str(), cf.error().Describe().c_str());
            failure = Fail("ls " + child, cf.error());
            continue;
          }
          auto attr = cf->GetAttr();
          if (!attr) {
            std::fprintf(stderr, "p9x: ls %s: %s\n", child.c_str(), attr.error().Describe().c_str());
            failure = Fail("ls " + child, attr.error());
            continue;
          }
          e.attr = *attr;
          if ((attr->mode & S_IFMT) == S_IFLNK) {
            auto link = cf->ReadLink();
            if (link) e.link_target = *link;
          }
        }
      }
    }
    if (ctx.g.json) {
      json list = json::array();
      for (const auto& e : entries) list.push_back(EntryJson(e));
      all.push_back(json{{"path", Shown(path)}, {"entries", list}});
      continue;
    }
    if (paths.size() > 1) std::printf("%s:\n", Shown(path).c_str());
    for (const auto& e : entries) {
      if (long_format) {
        PrintLong(e);
      } else {
        const bool dir = (e.qid.type & kQtDir) != 0;
        std::printf("%s%s\n", e.name.c_str(), dir ? "/" : "");
      }
    }
  }
  if (ctx.g.json) {
    ctx.out = paths.size() == 1 ? all[0] : all;
    ctx.out_is_object = true;
  }
  if (failure) failure->message.clear();  // already printed per entry
  return failure;
}

Outcome RunStat(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty()) return UsageFailure("stat needs at least one PATH");
  json all = json::array();
  for (const auto& path : args) {
    auto fid = WalkTo(ctx, path);
    if (!fid) return Fail("stat " + Shown(path), fid.error());
    auto attr = fid->GetAttr(kGetattrAll);
    if (!attr) return Fail("stat " + Shown(path), attr.error());
    const Rgetattr& a = *attr;
    if (ctx.g.json) {
      json j = AttrJson(a);
      j["path"] = Shown(path);
      j["walk_qid"] = QidJson(fid->qid());
      all.push_back(j);
      continue;
    }
    std::printf("path:    %s\n", Shown(path).c_str());
    std::printf("qid:     %s\n", QidText(a.qid).c_str());
    if (fid->qid() != a.qid) std::printf("walk qid: %s (differs from Rgetattr's)\n", QidText(fid->qid()).c_str());
    std::printf("mode:    %s (0%o)\n", ModeString(a.mode).c_str(), a.mode);
    std::printf("uid:     %u  gid: %u  nlink: %llu\n", a.uid, a.gid, static_cast<unsigned long long>(a.nlink));
    std::printf("size:    %llu  blocks: %llu  blksize: %llu  rdev: %llu\n", static_cast<unsigned long long>(a.size),
                static_cast<unsigned long long>(a.blocks), static_cast<unsigned long long>(a.blksize),
                static_cast<unsigned long long>(a.rdev));
    std::printf("atime:   %s\n", TimeText(a.atime_sec, a.atime_nsec).c_str());
    std::printf("mtime:   %s\n", TimeText(a.mtime_sec, a.mtime_nsec).c_str());
    std::printf("ctime:   %s\n", TimeText(a.ctime_sec, a.ctime_nsec).c_str());
    if (a.valid & kGetattrBtime) std::printf("btime:   %s\n", TimeText(a.btime_sec, a.btime_nsec).c_str());
    std::printf("gen:     %llu  data_version: %llu  valid: %s\n", static_cast<unsigned long long>(a.gen),
                static_cast<unsigned long long>(a.data_version), Hex(a.valid).c_str());
    if (args.size() > 1) std::printf("\n");
  }
  if (ctx.g.json) {
    ctx.out = args.size() == 1 ? all[0] : all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

namespace {

Outcome TreeWalk(Context& ctx, const Fid& dir, const std::string& path, int depth, json& all) {
  auto listing = dir.Walk("");
  if (!listing) return Fail("tree " + Shown(path), listing.error());
  auto opened = listing->Open(kOpenRdonly);
  if (!opened) return Fail("tree " + Shown(path), opened.error());
  auto entries = listing->ReadDir();
  if (!entries) return Fail("tree " + Shown(path), entries.error());
  (void)listing->Clunk();
  std::sort(entries->begin(), entries->end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& e : *entries) {
    if (e.name == "." || e.name == "..") continue;
    const std::string child = JoinPath(path, e.name);
    // The walk's qid is the file's identity (walk(5)); the directory entry's is reported too
    // when it differs, since a server may disagree with itself there (peers.md §3).
    auto fid = dir.Walk(e.name);
    if (!fid) return Fail("tree " + child, fid.error());
    if (ctx.g.json) {
      json j{{"path", child}, {"qid", QidJson(fid->qid())}, {"depth", depth}};
      if (e.qid != fid->qid()) j["dirent_qid"] = QidJson(e.qid);
      all.push_back(j);
    } else {
      std::printf("%s  %s%s\n", QidText(fid->qid()).c_str(), child.c_str(), fid->is_dir() ? "/" : "");
      if (e.qid != fid->qid()) std::printf("    (directory entry says %s)\n", QidText(e.qid).c_str());
    }
    if (fid->is_dir()) {
      if (auto failed = TreeWalk(ctx, *fid, child, depth + 1, all)) return failed;
    }
  }
  return std::nullopt;
}

}  // namespace

Outcome RunTree(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() > 1) return UsageFailure("tree takes at most one PATH");
  const std::string path = args.empty() ? "" : args[0];
  auto fid = WalkTo(ctx, path);
  if (!fid) return Fail("tree " + Shown(path), fid.error());
  json all = json::array();
  if (ctx.g.json) {
    all.push_back(json{{"path", Shown(path)}, {"qid", QidJson(fid->qid())}, {"depth", 0}});
  } else {
    std::printf("%s  %s\n", QidText(fid->qid()).c_str(), Shown(path).c_str());
  }
  if (fid->is_dir()) {
    if (auto failed = TreeWalk(ctx, *fid, path, 1, all)) return failed;
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

}  // namespace p9x::client::cli
