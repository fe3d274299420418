// SPDX-License-Identifier: MIT
// Fsync: of an open file, and with datasync.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/io_common.h"

namespace p9x::conformance {

void RegisterFsyncCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Fsync.OpenFileSucceeds",
      .spec = "spec/9p2000.L.md §8.22; 9P2000.L fsync (diod protocol.md): \"fsync tells the server to flush any cached "
              "data "
              "associated with fid, previously opened with lopen\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
            p.WriteAll(f, 0, "data");
            p.Must(p.Call(Tfsync{f, 0}), "Tfsync");
          },
  });
  catalogue.Add({
      .name = "Required.Fsync.DatasyncSucceeds",
      .spec = "spec/9p2000.L.md §8.22; 9P2000.L fsync: datasync != 0 asks for fdatasync(2)",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
            p.WriteAll(f, 0, "data");
            p.Must(p.Call(Tfsync{f, 1}), "Tfsync datasync=1");
          },
  });
}

}  // namespace p9x::conformance
