// SPDX-License-Identifier: MIT
// Renameat: moving and replacing by name, a missing source.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterRenameatCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Renameat.MovesFile",
      .spec = kRenameatSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "a");
            if (!p.Must(p.Call(Trenameat{dir, "a", dir, "b"}), "Trenameat a -> b")) return;
            c.Expect(!Exists(p, dir, "a") && Exists(p, dir, "b"), "after Trenameat a -> b, a exists or b does not");
          },
  });
  catalogue.Add({
      .name = "Required.Renameat.ReplacesTarget",
      .spec = kRenameatSpec + std::string("; rename(2): \"If newpath already exists, it will be atomically replaced\""),
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "a", "from a");
            p.MakeFile(dir, "b", "from b");
            if (!p.Must(p.Call(Trenameat{dir, "a", dir, "b"}), "Trenameat a -> b (b exists)")) return;
            const std::string got = p.ReadAll(p.OpenPath(dir, {"b"}, kOpenRdonly));
            c.Expect(got == "from a", "after Trenameat a onto b, b reads \"" + got + "\"");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Renameat.MissingSourceRefused",
                                .spec = kRenameatSpec +
                                        std::string("; rename(2): ENOENT \"The link named by oldpath does not exist\""),
                                .needs = {Capability::kWritable},
                                .refused = "Trenameat of a missing name",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  return p.Call(Trenameat{dir, "missing", dir, "b"});
                                },
                            });
}

}  // namespace p9x::conformance
