// SPDX-License-Identifier: MIT
// Rename: moving a file by fid, within and across directories.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"

namespace p9x::conformance {

void RegisterRenameCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Rename.MovesFile",
      .spec = kRenameSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "old");
            const uint32_t f = p.Walk(dir, {"old"});
            if (!p.Must(p.Call(Trename{f, dir, "new"}), "Trename old -> new")) return;
            c.Expect(!Exists(p, dir, "old") && Exists(p, dir, "new"),
                     "after Trename, old still exists or new does not");
          },
  });
  catalogue.Add({
      .name = "Required.Rename.FidFollowsFile",
      .spec = kRenameSpec + std::string(" (the fid keeps referring to the renamed object)"),
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "old", "content");
            const uint32_t f = p.Walk(dir, {"old"});
            if (!p.Must(p.Call(Trename{f, dir, "new"}), "Trename old -> new")) return;
            p.Open(f, kOpenRdonly);
            const std::string got = p.ReadAll(f);
            c.Expect(got == "content", "the renamed fid reads \"" + got + "\"");
          },
  });
  catalogue.Add({
      .name = "Required.Rename.IntoOtherDirectory",
      .spec = kRenameSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeDir(dir, "sub");
            p.MakeFile(dir, "f");
            const uint32_t sub = p.Walk(dir, {"sub"});
            const uint32_t f = p.Walk(dir, {"f"});
            if (!p.Must(p.Call(Trename{f, sub, "g"}), "Trename f -> sub/g")) return;
            c.Expect(Exists(p, sub, "g") && !Exists(p, dir, "f"), "after Trename f -> sub/g the tree is wrong");
          },
  });
}

}  // namespace p9x::conformance
