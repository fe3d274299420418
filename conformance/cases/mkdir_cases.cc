// SPDX-License-Identifier: MIT
// Mkdir: the new directory's qid and existing names.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/io_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterMkdirCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Mkdir.QidIsDirectory",
      .spec = "spec/9p2000.L.md §8.25; 9P2000.L mkdir (diod protocol.md): \"mkdir creates a new directory name in "
              "parent directory "
              "dfid\" and returns its qid",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid q = p.MakeDir(dir, "d");
            c.Expect((q.type & kQtDir) != 0, "Rmkdir qid " + QidText(q) + " lacks QTDIR");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Mkdir.ExistingNameRefused",
                                .spec = "mkdir(2): EEXIST \"pathname already exists\"",
                                .needs = {Capability::kWritable},
                                .refused = "second Tmkdir of the same name",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeDir(dir, "d");
                                  return p.Call(Tmkdir{dir, "d", 0755, 0});
                                },
                            });
  catalogue.Add({
      .name = "Recommended.Mkdir.ExistingNameIsEexist",
      .spec = "mkdir(2): EEXIST \"pathname already exists\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeDir(dir, "d");
            c.ExpectErrno(p.Call(Tmkdir{dir, "d", 0755, 0}), Errno::kEEXIST, "second Tmkdir of the same name");
          },
  });
}

}  // namespace p9x::conformance
