// SPDX-License-Identifier: MIT
// Extended attributes (Txattrwalk/Txattrcreate) and locks (Tlock/Tgetlock).
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kXattrSpec[] =
    "spec/9p2000.L.md §8.15; 9P2000.L xattrcreate/xattrwalk (diod protocol.md): \"xattrcreate gets a fid pointing to the xattr "
    "name. This fid can later be used to set the xattr value.\" and \"xattrwalk gets a newfid pointing to "
    "xattr name. This fid can later be used to read the xattr value. If name is NULL newfid can be used "
    "to get the list of extended attributes associated with the file system object.\"";
constexpr char kLockSpec[] =
    "spec/9p2000.L.md §8.23; 9P2000.L lock/getlock (diod protocol.md): \"lock is used to acquire or release a POSIX record lock "
    "on fid and has semantics similar to Linux fcntl(F_SETLK)\"; \"getlock tests for the existence of a "
    "POSIX record lock and has semantics similar to Linux fcntl(F_GETLK)\"";

// Sets `name` = `value` on the file `fid` refers to (on a clone); true on success.
bool SetXattr(Probe& p, uint32_t fid, std::string_view name, std::string_view value, uint32_t flags,
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
std::string GetXattr(CaseContext& c, Probe& p, uint32_t fid, std::string_view name, ReplyBase* failure) {
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

}  // namespace

void RegisterXattrLockCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Xattr.SetThenGet",
      .spec = kXattrSpec,
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        ReplyBase failure;
        if (!SetXattr(p, f, "user.p9x", "value-1", 0, &failure)) {
          c.Fail("setting user.p9x: " + failure.Describe());
          return;
        }
        const std::string got = GetXattr(c, p, f, "user.p9x", &failure);
        if (failure.status != ReplyStatus::kNotSent) {
          c.Fail("Txattrwalk user.p9x: " + failure.Describe());
          return;
        }
        c.Expect(got == "value-1", "user.p9x reads back as \"" + got + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Xattr.ListIncludesName",
      .spec = kXattrSpec,
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        ReplyBase failure;
        if (!SetXattr(p, f, "user.p9x.listed", "v", 0, &failure)) {
          c.Fail("setting user.p9x.listed: " + failure.Describe());
          return;
        }
        const std::string list = GetXattr(c, p, f, "", &failure);
        if (failure.status != ReplyStatus::kNotSent) {
          c.Fail("Txattrwalk with an empty name (list): " + failure.Describe());
          return;
        }
        c.Expect(list.find(std::string("user.p9x.listed\0", 16)) != std::string::npos,
                 "the xattr list (listxattr(2) format) lacks user.p9x.listed");
      },
  });
  catalogue.Add({
      .name = "Required.Xattr.MissingRefused",
      .spec = kXattrSpec + std::string("; getxattr(2): ENODATA \"The named attribute does not exist\""),
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        c.ExpectError(p.Call(Txattrwalk{f, p.NextFid(), "user.p9x.missing"}), "Txattrwalk of a missing xattr");
      },
  });
  catalogue.Add({
      .name = "Recommended.Xattr.MissingIsEnodata",
      .spec = "getxattr(2): ENODATA \"The named attribute does not exist\"",
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        c.ExpectErrno(p.Call(Txattrwalk{f, p.NextFid(), "user.p9x.missing"}), Errno::kENODATA,
                      "Txattrwalk of a missing xattr");
      },
  });
  catalogue.Add({
      .name = "Required.Xattr.CreateFlagOnExistingRefused",
      .spec = kXattrSpec + std::string("; setxattr(2): XATTR_CREATE \"Perform a pure create, which fails if "
                                       "the named attribute exists already\""),
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        ReplyBase failure;
        if (!SetXattr(p, f, "user.p9x", "one", 0, &failure)) {
          c.Fail("setting user.p9x: " + failure.Describe());
          return;
        }
        // The error may come at Txattrcreate or at the Tclunk that commits the value.
        const bool set = SetXattr(p, f, "user.p9x", "two", kXattrCreate, &failure);
        c.Expect(!set && failure.is_error(), "Txattrcreate XATTR_CREATE of an existing xattr succeeded" +
                                                 (set ? std::string() : " (" + failure.Describe() + ")"));
      },
  });

  catalogue.Add({
      .name = "Required.Lock.WriteLockGranted",
      .spec = kLockSpec,
      .needs = {Capability::kWritable, Capability::kLocks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
        auto r = p.Call(Tlock{f, kLockTypeWrlck, 0, 0, 0, 1, "p9x"});
        if (!p.Must(r, "Tlock F_WRLCK")) return;
        c.Expect(r.msg.status == kLockSuccess, "Tlock F_WRLCK status " + std::to_string(r.msg.status));
      },
  });
  catalogue.Add({
      .name = "Required.Lock.UnlockSucceeds",
      .spec = kLockSpec,
      .needs = {Capability::kWritable, Capability::kLocks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
        p.Must(p.Call(Tlock{f, kLockTypeWrlck, 0, 0, 0, 1, "p9x"}), "Tlock F_WRLCK");
        auto r = p.Call(Tlock{f, kLockTypeUnlck, 0, 0, 0, 1, "p9x"});
        if (!p.Must(r, "Tlock F_UNLCK")) return;
        c.Expect(r.msg.status == kLockSuccess, "Tlock F_UNLCK status " + std::to_string(r.msg.status));
      },
  });
  catalogue.Add({
      .name = "Required.Lock.GetlockOfUnlockedFile",
      .spec = kLockSpec + std::string("; fcntl(2) F_GETLK: \"If no lock is found that would prevent the lock "
                                      "from being created, then fcntl() ... set[s] the l_type field of lock to F_UNLCK\""),
      .needs = {Capability::kWritable, Capability::kLocks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
        auto r = p.Call(Tgetlock{f, kLockTypeWrlck, 0, 0, 1, "p9x"});
        if (!p.Must(r, "Tgetlock F_WRLCK")) return;
        c.Expect(r.msg.type == kLockTypeUnlck, "Tgetlock on an unlocked file answered type " + std::to_string(r.msg.type));
      },
  });
  catalogue.Add({
      .name = "Recommended.Lock.ConflictAcrossConnectionsReported",
      .spec = kLockSpec + std::string("; fcntl(2) F_SETLK: a conflicting lock held by another client is "
                                      "refused (Rlock status BLOCKED, not SUCCESS)"),
      .needs = {Capability::kWritable, Capability::kLocks},
      .run = [](CaseContext& c) {
        Probe& a = c.Session();
        const uint32_t dir = c.Scratch(a);
        a.MakeFile(dir, "f");
        const uint32_t fa = a.OpenPath(dir, {"f"}, kOpenRdwr);
        a.Must(a.Call(Tlock{fa, kLockTypeWrlck, 0, 0, 0, 101, "p9x-a"}), "Tlock F_WRLCK on connection 1");
        Probe& b = c.Session();
        const uint32_t fb = b.OpenPath(c.Scratch(b), {"f"}, kOpenRdwr);
        auto r = b.Call(Tlock{fb, kLockTypeWrlck, 0, 0, 0, 202, "p9x-b"});
        if (!b.Must(r, "Tlock F_WRLCK on connection 2")) return;
        c.Expect(r.msg.status != kLockSuccess,
                 "two connections both hold a write lock on the same file (the server's own fcntl locks do not "
                 "conflict across its clients)");
      },
  });
}

}  // namespace p9x::conformance
