// SPDX-License-Identifier: MIT
// Readlink: the target, and readlink on a file.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterReadlinkCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Readlink.ReturnsTarget",
      .spec = "spec/9p2000.L.md §8.21; 9P2000.L readlink (diod protocol.md): \"readlink returns the contents of the "
              "symbolic link "
              "referenced by fid\"",
      .needs = {Capability::kWritable, Capability::kSymlinks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.Must(p.Call(Tsymlink{dir, "s", "../some/target", 0}), "Tsymlink");
            auto r = p.Call(Treadlink{p.Walk(dir, {"s"})});
            if (!p.Must(r, "Treadlink")) return;
            c.Expect(r.msg.target == "../some/target", "Treadlink returned \"" + std::string(r.msg.target) + "\"");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Readlink.OnFileRefused",
                                .spec = "readlink(2): EINVAL \"The named file is not a symbolic link\"",
                                .needs = {Capability::kWritable},
                                .refused = "Treadlink of a regular file",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f");
                                  return p.Call(Treadlink{p.Walk(dir, {"f"})});
                                },
                            });
}

}  // namespace p9x::conformance
