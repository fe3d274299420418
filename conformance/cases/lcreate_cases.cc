// SPDX-License-Identifier: MIT
// Lcreate: the fid becomes the new file, its qid and mode, existing names, lcreate on a file.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/io_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterLcreateCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Lcreate.FidBecomesNewFile",
      .spec = kLcreateSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            Rlcreate created;
            const uint32_t f = p.CreateOpen(dir, "new", kOpenRdwr | kOpenCreate, 0644, &created);
            p.WriteAll(f, 0, "hello");
            const Rgetattr a = p.Getattr(f);
            c.Expect(SamePath(a.qid, created.qid) && a.size == 5,
                     "after Tlcreate and a 5-byte write the fid has qid " + QidText(a.qid) + " size " +
                         std::to_string(a.size) + "; Rlcreate said " + QidText(created.qid));
          },
  });
  catalogue.Add({
      .name = "Required.Lcreate.QidIsFile",
      .spec = "qid(5): a regular file's qid has no QTDIR bit",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid q = p.MakeFile(dir, "f");
            c.Expect((q.type & (kQtDir | kQtSymlink)) == 0, "Rlcreate qid " + QidText(q) + " is not a plain file");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Lcreate.ExistingNameRefused",
                                .spec = "spec/9p2000.L.md §8.12; 9P2000.L lcreate is open(2) with O_CREAT: with O_EXCL "
                                        "an existing name fails (EEXIST)",
                                .needs = {Capability::kWritable},
                                .refused = "Tlcreate O_EXCL of an existing name",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f");
                                  const uint32_t again = p.Walk(dir, {});
                                  return p.Call(Tlcreate{again, "f", kOpenRdwr | kOpenCreate | kOpenExcl, 0644, 0});
                                },
                            });
  catalogue.Add({
      .name = "Required.Lcreate.VisibleToWalk",
      .spec = kLcreateSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const Qid q = p.MakeFile(dir, "f");
            Qid walked{};
            p.Walk(dir, {"f"}, &walked);
            c.Expect(SamePath(q, walked),
                     "Rlcreate qid " + QidText(q) + " differs from the walk qid " + QidText(walked));
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Lcreate.OnFileRefused",
                                .spec = kLcreateSpec + std::string(" (fid must be a directory)"),
                                .needs = {Capability::kWritable},
                                .refused = "Tlcreate inside a regular file",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f");
                                  const uint32_t f = p.Walk(dir, {"f"});
                                  return p.Call(Tlcreate{f, "g", kOpenRdwr | kOpenCreate, 0644, 0});
                                },
                            });
  catalogue.Add({
      .name = "Recommended.Lcreate.ModeApplied",
      .spec = "spec/9p2000.L.md §8.12; 9P2000.L lcreate: \"mode\" is the new file's permission bits (open(2) mode)",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "", 0640);
            const Rgetattr a = p.Getattr(p.Walk(dir, {"f"}));
            c.Expect((a.mode & 0777) == 0640, "created with mode 0640, Rgetattr mode is 0" +
                                                  std::to_string((a.mode >> 6) & 7) +
                                                  std::to_string((a.mode >> 3) & 7) + std::to_string(a.mode & 7));
          },
  });
}

}  // namespace p9x::conformance
