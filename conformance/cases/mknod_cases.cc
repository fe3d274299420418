// SPDX-License-Identifier: MIT
// Mknod: FIFOs, character devices, existing names.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/namespace_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterMknodCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Mknod.CreatesFifo",
      .spec = "spec/9p2000.L.md §8.14; 9P2000.L mknod (diod protocol.md): \"mknod creates a device node name in "
              "directory dfid with "
              "major and minor numbers\"; mode carries the S_IFMT type (mknod(2))",
      .needs = {Capability::kWritable, Capability::kFifos},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            if (!p.Must(p.Call(Tmknod{dir, "fifo", kSIfifo | 0644, 0, 0, 0}), "Tmknod S_IFIFO")) return;
            const Rgetattr a = p.Getattr(p.Walk(dir, {"fifo"}));
            c.Expect((a.mode & kSIfmt) == kSIfifo,
                     "Rgetattr of the FIFO has mode type 0" + std::to_string(a.mode >> 12));
          },
  });
  catalogue.Add({
      .name = "Required.Mknod.CreatesCharDevice",
      .spec = "spec/9p2000.L.md §8.14; 9P2000.L mknod: major and minor give the device number (stat(2) st_rdev)",
      .needs = {Capability::kWritable, Capability::kDevices},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            if (!p.Must(p.Call(Tmknod{dir, "null", kSIfchr | 0644, 1, 3, 0}), "Tmknod S_IFCHR 1:3")) return;
            const Rgetattr a = p.Getattr(p.Walk(dir, {"null"}));
            c.Expect((a.mode & kSIfmt) == kSIfchr && a.rdev == ((1u << 8) | 3u),
                     "Rgetattr of char device 1:3: mode type 0" + std::to_string(a.mode >> 12) + " rdev " +
                         std::to_string(a.rdev));
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Mknod.ExistingNameRefused",
                                .spec = "mknod(2): EEXIST \"pathname already exists\"",
                                .needs = {Capability::kWritable, Capability::kFifos},
                                .refused = "Tmknod over an existing name",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f");
                                  return p.Call(Tmknod{dir, "f", kSIfifo | 0644, 0, 0, 0});
                                },
                            });
}

}  // namespace p9x::conformance
