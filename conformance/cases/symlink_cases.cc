// SPDX-License-Identifier: MIT
// Symlink: the qid type and walks that do not follow the link.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"

namespace p9x::conformance {

void RegisterSymlinkCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Symlink.QidIsSymlink",
      .spec = "spec/9p2000.L.md §8.13; 9P2000.L symlink (diod protocol.md): \"symlink creates a symbolic link name in "
              "directory dfid\"; "
              "qid(5)/Linux: QTSYMLINK (0x02) marks symbolic links",
      .needs = {Capability::kWritable, Capability::kSymlinks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            auto r = p.Call(Tsymlink{dir, "s", "target", 0});
            if (!p.Must(r, "Tsymlink")) return;
            c.Expect((r.msg.qid.type & kQtSymlink) != 0, "Rsymlink qid " + QidText(r.msg.qid) + " lacks QTSYMLINK");
          },
  });
  catalogue.Add({
      .name = "Required.Symlink.WalkDoesNotFollow",
      .spec = "spec/9p2000.L.md §8.5: the server does not follow symbolic links on walk (the client resolves them)",
      .needs = {Capability::kWritable, Capability::kSymlinks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid target = p.MakeFile(dir, "t");
            auto r = p.Call(Tsymlink{dir, "s", "t", 0});
            if (!p.Must(r, "Tsymlink")) return;
            Qid walked{};
            p.Walk(dir, {"s"}, &walked);
            c.Expect(!SamePath(walked, target) && (walked.type & kQtSymlink) != 0,
                     "walking the symlink gave " + QidText(walked) + " (the target is " + QidText(target) + ")");
          },
  });
}

}  // namespace p9x::conformance
