// SPDX-License-Identifier: MIT
// The commands that change the tree: p9x mkdir, rm, mv and ln.
#include "client/cli/cli.h"

#include <cstdio>

namespace p9x::client::cli {

Outcome RunMkdir(Context& ctx, const std::vector<std::string>& args) {
  bool parents = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "-p") {
      parents = true;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) return UsageFailure("mkdir needs at least one PATH");
  json all = json::array();
  for (const auto& path : paths) {
    std::vector<std::string> todo;
    if (parents) {
      std::string sofar;
      std::stringstream ss(path);
      std::string part;
      while (std::getline(ss, part, '/')) {
        if (part.empty() || part == ".") continue;
        sofar = JoinPath(sofar, part);
        todo.push_back(sofar);
      }
    } else {
      todo.push_back(path);
    }
    for (const auto& p : todo) {
      std::string parent, name;
      if (!SplitParent(p, &parent, &name)) return UsageFailure("mkdir: bad path " + p);
      auto dir = WalkTo(ctx, parent);
      if (!dir) return Fail("mkdir " + Shown(parent), dir.error());
      auto qid = dir->Mkdir(name, 0755, CurrentGid());
      if (!qid) {
        if (parents && qid.error().is_remote() && qid.error().code == Errno::kEEXIST) continue;
        return Fail("mkdir " + p, qid.error());
      }
      all.push_back(json{{"path", p}, {"qid", QidJson(*qid)}});
    }
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

// Removes everything below the open directory `dir` (at `path`), depth first.
namespace {

Outcome RemoveTree(Context& ctx, const Fid& dir, const std::string& path) {
  auto listing = dir.Walk("");
  if (!listing) return Fail("rm " + path, listing.error());
  auto opened = listing->Open(kOpenRdonly);
  if (!opened) return Fail("rm " + path, opened.error());
  auto entries = listing->ReadDir();
  if (!entries) return Fail("rm " + path, entries.error());
  (void)listing->Clunk();
  for (const auto& e : *entries) {
    if (e.name == "." || e.name == "..") continue;
    const std::string child = JoinPath(path, e.name);
    uint32_t flags = 0;
    if ((e.qid.type & kQtDir) != 0) {
      auto sub = dir.Walk(e.name);
      if (!sub) return Fail("rm " + child, sub.error());
      if (auto failed = RemoveTree(ctx, *sub, child)) return failed;
      flags = kAtRemovedir;
    }
    auto removed = dir.Unlink(e.name, flags);
    if (!removed) return Fail("rm " + child, removed.error());
  }
  return std::nullopt;
}

}  // namespace

Outcome RunRm(Context& ctx, const std::vector<std::string>& args) {
  bool recursive = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "-r" || a == "-rf" || a == "-R") {
      recursive = true;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) return UsageFailure("rm needs at least one PATH");
  for (const auto& path : paths) {
    std::string parent, name;
    if (!SplitParent(path, &parent, &name)) return UsageFailure("rm: refusing to remove " + Shown(path));
    auto target = WalkTo(ctx, path);
    if (!target) return Fail("rm " + path, target.error());
    uint32_t flags = 0;
    if (target->is_dir()) {
      if (!recursive) return Fail("rm " + path, Error{Error::Kind::kRemote, Errno::kEISDIR, "use rm -r", {}});
      if (auto failed = RemoveTree(ctx, *target, path)) return failed;
      flags = kAtRemovedir;
    }
    (void)target->Clunk();
    auto dir = WalkTo(ctx, parent);
    if (!dir) return Fail("rm " + Shown(parent), dir.error());
    auto removed = dir->Unlink(name, flags);
    if (!removed) return Fail("rm " + path, removed.error());
  }
  return std::nullopt;
}

Outcome RunMv(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageFailure("mv needs SOURCE DEST");
  std::string src_parent, src_name, dst_parent, dst_name;
  if (!SplitParent(args[0], &src_parent, &src_name)) return UsageFailure("mv: bad SOURCE " + args[0]);
  std::string dest = args[1];
  // Like mv(1): an existing directory as DEST receives SOURCE under its own name.
  if (auto existing = WalkTo(ctx, dest); existing && existing->is_dir()) dest = JoinPath(dest, src_name);
  if (!SplitParent(dest, &dst_parent, &dst_name)) return UsageFailure("mv: bad DEST " + args[1]);
  auto from = WalkTo(ctx, src_parent);
  if (!from) return Fail("mv " + Shown(src_parent), from.error());
  auto to = WalkTo(ctx, dst_parent);
  if (!to) return Fail("mv " + Shown(dst_parent), to.error());
  auto renamed = from->Rename(src_name, *to, dst_name);
  if (!renamed) return Fail("mv " + args[0] + " " + dest, renamed.error());
  return std::nullopt;
}

Outcome RunLn(Context& ctx, const std::vector<std::string>& args) {
  bool symbolic = false;
  std::vector<std::string> rest;
  for (const auto& a : args) {
    if (a == "-s") {
      symbolic = true;
    } else {
      rest.push_back(a);
    }
  }
  if (rest.size() != 2) return UsageFailure("ln needs TARGET LINK");
  std::string parent, name;
  if (!SplitParent(rest[1], &parent, &name)) return UsageFailure("ln: bad LINK " + rest[1]);
  auto dir = WalkTo(ctx, parent);
  if (!dir) return Fail("ln " + Shown(parent), dir.error());
  if (symbolic) {
    auto qid = dir->Symlink(name, rest[0], CurrentGid());
    if (!qid) return Fail("ln -s " + rest[1], qid.error());
    if (ctx.g.json) {
      ctx.out = json{{"link", rest[1]}, {"target", rest[0]}, {"qid", QidJson(*qid)}};
      ctx.out_is_object = true;
    }
    return std::nullopt;
  }
  auto target = WalkTo(ctx, rest[0]);
  if (!target) return Fail("ln " + rest[0], target.error());
  auto linked = dir->Link(name, *target);
  if (!linked) return Fail("ln " + rest[1], linked.error());
  return std::nullopt;
}

}  // namespace p9x::client::cli
