// SPDX-License-Identifier: MIT
// Remove: removes the file and clunks the fid, even when the remove fails.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"

namespace p9x::conformance {

void RegisterRemoveCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Remove.RemovesFile",
      .spec = kRemoveSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.Walk(dir, {"f"});
            if (!p.Must(p.Call(Tremove{f}), "Tremove")) return;
            c.Expect(!Exists(p, dir, "f"), "f still exists after Tremove");
          },
  });
  catalogue.Add({
      .name = "Required.Remove.ClunksFid",
      .spec = kRemoveSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.Walk(dir, {"f"});
            if (!p.Must(p.Call(Tremove{f}), "Tremove")) return;
            c.ExpectError(p.Call(Tclunk{f}), "Tclunk of a fid after Tremove");
          },
  });
  catalogue.Add({
      .name = "Required.Remove.FailureStillClunksFid",
      .spec = kRemoveSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeDir(dir, "d");
            p.MakeFile(p.Walk(dir, {"d"}), "f");
            const uint32_t d = p.Walk(dir, {"d"});
            if (!c.ExpectError(p.Call(Tremove{d}), "Tremove of a non-empty directory")) return;
            c.ExpectError(p.Call(Tclunk{d}), "Tclunk of the fid after a failed Tremove");
          },
  });
}

}  // namespace p9x::conformance
