// SPDX-License-Identifier: MIT
// The spec sentences of xattrs and locks and the xattr set/get helpers, shared by the Xattr and Lock case files.
#pragma once

#include "conformance/cases/helpers.h"

namespace p9x::conformance {

inline constexpr char kXattrSpec[] =
    "spec/9p2000.L.md §8.15; 9P2000.L xattrcreate/xattrwalk (diod protocol.md): \"xattrcreate gets a fid pointing to "
    "the xattr "
    "name. This fid can later be used to set the xattr value.\" and \"xattrwalk gets a newfid pointing to "
    "xattr name. This fid can later be used to read the xattr value. If name is NULL newfid can be used "
    "to get the list of extended attributes associated with the file system object.\"";
inline constexpr char kLockSpec[] =
    "spec/9p2000.L.md §8.23; 9P2000.L lock/getlock (diod protocol.md): \"lock is used to acquire or release a POSIX "
    "record lock "
    "on fid and has semantics similar to Linux fcntl(F_SETLK)\"; \"getlock tests for the existence of a "
    "POSIX record lock and has semantics similar to Linux fcntl(F_GETLK)\"";

// Sets `name` = `value` on the file `fid` refers to (on a clone); true on success.
inline bool SetXattr(Probe& p, uint32_t fid, std::string_view name, std::string_view value, uint32_t flags,
                     ReplyBase* failure) {
  const uint32_t x = p.Walk(fid, {});
  auto created = p.Call(Txattrcreate{x, name, value.size(), flags});
  if (!created.ok()) {
    *failure = std::move(created);
    return false;
  }
  if (!value.empty()) p.WriteAll(x, 0, value);
  auto clunked = p.Call(Tclunk{x});
  if (!clunked.ok()) {
    *failure = std::move(clunked);
    return false;
  }
  return true;
}

// Reads xattr `name` ("" lists names) of `fid`.
inline std::string GetXattr(CaseContext& c, Probe& p, uint32_t fid, std::string_view name, ReplyBase* failure) {
  const uint32_t x = p.NextFid();
  auto walked = p.Call(Txattrwalk{fid, x, name});
  if (!walked.ok()) {
    *failure = std::move(walked);
    return {};
  }
  std::string value;
  while (value.size() < walked.msg.size && !c.stopped()) {
    auto r = p.Call(Tread{x, value.size(), p.io_size()});
    if (!p.Must(r, "Tread of an xattr fid") || r.msg.data.bytes.empty()) break;
    value += AsString(r.msg.data);
  }
  p.Clunk(x);
  c.Expect(value.size() == walked.msg.size, "Rxattrwalk size " + std::to_string(walked.msg.size) + " but read " +
                                                std::to_string(value.size()) + " bytes");
  return value;
}

}  // namespace p9x::conformance
