// SPDX-License-Identifier: MIT
// Unlinkat: files, directories with and without AT_REMOVEDIR, missing names.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterUnlinkatCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Unlinkat.RemovesFile",
      .spec = kUnlinkatSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            if (!p.Must(p.Call(Tunlinkat{dir, "f", 0}), "Tunlinkat f")) return;
            c.Expect(!Exists(p, dir, "f"), "f still exists after Tunlinkat");
          },
  });
  catalogue.Add({
      .name = "Required.Unlinkat.RemovesDirectoryWithFlag",
      .spec = kUnlinkatSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeDir(dir, "d");
            if (!p.Must(p.Call(Tunlinkat{dir, "d", kAtRemovedir}), "Tunlinkat d AT_REMOVEDIR")) return;
            c.Expect(!Exists(p, dir, "d"), "d still exists after Tunlinkat AT_REMOVEDIR");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Unlinkat.NonEmptyDirectoryRefused",
                                .spec = kUnlinkatSpec + std::string("; rmdir(2): ENOTEMPTY"),
                                .needs = {Capability::kWritable},
                                .refused = "Tunlinkat of a non-empty directory",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeDir(dir, "d");
                                  p.MakeFile(p.Walk(dir, {"d"}), "f");
                                  return p.Call(Tunlinkat{dir, "d", kAtRemovedir});
                                },
                            });
  AddRefusedCase(catalogue, {
                                .name = "Required.Unlinkat.MissingNameRefused",
                                .spec = kUnlinkatSpec,
                                .needs = {Capability::kWritable},
                                .refused = "Tunlinkat of a missing name",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  return p.Call(Tunlinkat{dir, "missing", 0});
                                },
                            });
  catalogue.Add({
      .name = "Recommended.Unlinkat.DirectoryWithoutFlagIsEisdir",
      .spec = kUnlinkatSpec + std::string("; unlink(2): EISDIR \"pathname refers to a directory\""),
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeDir(dir, "d");
            c.ExpectErrno(p.Call(Tunlinkat{dir, "d", 0}), Errno::kEISDIR,
                          "Tunlinkat of a directory without AT_REMOVEDIR");
          },
  });
}

}  // namespace p9x::conformance
