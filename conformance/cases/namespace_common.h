// SPDX-License-Identifier: MIT
// The spec sentences and helpers shared by the namespace case files (Rename, Renameat, Unlinkat, Remove, Link,
// Symlink, Readlink, Mknod).
#pragma once

#include "conformance/cases/helpers.h"

namespace p9x::conformance {

inline constexpr char kRenameSpec[] =
    "spec/9p2000.L.md §8.19; 9P2000.L rename (diod protocol.md): \"rename renames a file system object referenced by "
    "fid, to "
    "name in the directory referenced by dfid\"";
inline constexpr char kRenameatSpec[] =
    "spec/9p2000.L.md §8.20; 9P2000.L renameat (diod protocol.md): \"renameat is preferred over rename\"; it renames "
    "oldname in "
    "olddirfid to newname in newdirfid, as renameat(2)";
inline constexpr char kUnlinkatSpec[] =
    "spec/9p2000.L.md §8.26; 9P2000.L unlinkat (diod protocol.md): \"unlinkat is preferred over remove\"; it removes "
    "name from "
    "dirfd, as unlinkat(2) with flags (AT_REMOVEDIR)";
inline constexpr char kRemoveSpec[] =
    "remove(5): \"The remove request asks the file server both to remove the file represented by fid and "
    "to clunk the fid, even if the remove fails.\"";

inline bool Exists(Probe& p, uint32_t dir, const std::string& name) {
  const uint32_t fid = p.NextFid();
  auto r = p.Call(MakeWalk(dir, fid, {name}));
  if (r.ok()) (void)p.Call(Tclunk{fid});
  return r.ok();
}

}  // namespace p9x::conformance
