// SPDX-License-Identifier: MIT
// Setattr: size, mode and mtime; the size of a directory.
#include "conformance/cases/attr_common.h"
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterSetattrCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Setattr.TruncatesSize",
      .spec = kSetattrSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "0123456789");
            const uint32_t f = p.Walk(dir, {"f"});
            p.Must(p.Call(Tsetattr{f, kSetattrSize, 0, 0, 0, 4, 0, 0, 0, 0}), "Tsetattr size=4");
            const uint32_t r = p.OpenPath(dir, {"f"}, kOpenRdonly);
            const std::string got = p.ReadAll(r);
            c.Expect(got == "0123", "after Tsetattr size=4 the file reads \"" + got + "\"");
          },
  });
  catalogue.Add({
      .name = "Required.Setattr.ExtendsSizeWithZeros",
      .spec = kSetattrSpec + std::string(" (truncate(2) extends with zero bytes)"),
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "ab");
            const uint32_t f = p.Walk(dir, {"f"});
            p.Must(p.Call(Tsetattr{f, kSetattrSize, 0, 0, 0, 6, 0, 0, 0, 0}), "Tsetattr size=6");
            const std::string got = p.ReadAll(p.OpenPath(dir, {"f"}, kOpenRdonly));
            c.Expect(got == std::string("ab\0\0\0\0", 6),
                     "after Tsetattr size=6 the file is " + std::to_string(got.size()) + " bytes, not ab + 4 zeros");
          },
  });
  catalogue.Add({
      .name = "Required.Setattr.ChangesMode",
      .spec = kSetattrSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.Walk(dir, {"f"});
            p.Must(p.Call(Tsetattr{f, kSetattrMode, 0600, 0, 0, 0, 0, 0, 0, 0}), "Tsetattr mode=0600");
            const Rgetattr a = p.Getattr(f);
            c.Expect((a.mode & 07777) == 0600,
                     "after Tsetattr mode=0600, Rgetattr mode is " + std::to_string(a.mode & 07777) + " (decimal)");
          },
  });
  catalogue.Add({
      .name = "Required.Setattr.SetsMtime",
      .spec = kSetattrSpec + std::string(" (MTIME|MTIME_SET sets mtime_sec/mtime_nsec)"),
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.Walk(dir, {"f"});
            p.Must(p.Call(Tsetattr{f, kSetattrMtime | kSetattrMtimeSet, 0, 0, 0, 0, 0, 0, 1500000000, 0}),
                   "Tsetattr mtime=1500000000");
            const Rgetattr a = p.Getattr(f);
            c.Expect(a.mtime_sec == 1500000000,
                     "after Tsetattr mtime=1500000000, mtime_sec is " + std::to_string(a.mtime_sec));
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Setattr.SizeOfDirectoryRefused",
                                .spec = kSetattrSpec + std::string(" (truncate(2) of a directory fails with EISDIR)"),
                                .needs = {Capability::kWritable},
                                .refused = "Tsetattr size=0 of a directory",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  return p.Call(Tsetattr{dir, kSetattrSize, 0, 0, 0, 0, 0, 0, 0, 0});
                                },
                            });
}

}  // namespace p9x::conformance
