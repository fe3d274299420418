// SPDX-License-Identifier: MIT
// Link: both names share one qid; directories cannot be linked.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterLinkCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Link.SameQidBothNames",
      .spec = "spec/9p2000.L.md §8.24; 9P2000.L link (diod protocol.md): \"link creates a hard link name in directory "
              "dfid. The link "
              "target is referenced by fid.\"; qid(5): one file, one qid",
      .needs = {Capability::kWritable, Capability::kHardLinks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid q = p.MakeFile(dir, "a");
            const uint32_t a = p.Walk(dir, {"a"});
            if (!p.Must(p.Call(Tlink{dir, a, "b"}), "Tlink b -> a")) return;
            Qid b{};
            p.Walk(dir, {"b"}, &b);
            c.Expect(SamePath(q, b), "the hard link b has qid " + QidText(b) + ", a has " + QidText(q));
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Link.DirectoryRefused",
                                .spec = "link(2): EPERM \"oldpath is a directory\"",
                                .needs = {Capability::kWritable, Capability::kHardLinks},
                                .refused = "Tlink of a directory",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeDir(dir, "d");
                                  const uint32_t d = p.Walk(dir, {"d"});
                                  return p.Call(Tlink{dir, d, "e"});
                                },
                            });
}

}  // namespace p9x::conformance
