// SPDX-License-Identifier: MIT
// Extended attributes (Txattrwalk/Txattrcreate): set, get, list, missing names, XATTR_CREATE.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/refused.h"
#include "conformance/cases/xattr_lock_common.h"

namespace p9x::conformance {

void RegisterXattrCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Xattr.SetThenGet",
      .spec = kXattrSpec,
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run =
          [](CaseContext& c) {
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
      .run =
          [](CaseContext& c) {
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
  AddRefusedCase(catalogue,
                 {
                     .name = "Required.Xattr.MissingRefused",
                     .spec = kXattrSpec + std::string("; getxattr(2): ENODATA \"The named attribute does not exist\""),
                     .needs = {Capability::kWritable, Capability::kXattrs},
                     .refused = "Txattrwalk of a missing xattr",
                     .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                       const uint32_t dir = c.Scratch(p);
                       p.MakeFile(dir, "f");
                       const uint32_t f = p.Walk(dir, {"f"});
                       return p.Call(Txattrwalk{f, p.NextFid(), "user.p9x.missing"});
                     },
                 });
  catalogue.Add({
      .name = "Recommended.Xattr.MissingIsEnodata",
      .spec = "getxattr(2): ENODATA \"The named attribute does not exist\"",
      .needs = {Capability::kWritable, Capability::kXattrs},
      .run =
          [](CaseContext& c) {
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
      .run =
          [](CaseContext& c) {
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
}

}  // namespace p9x::conformance
