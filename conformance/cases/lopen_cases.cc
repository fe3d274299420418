// SPDX-License-Identifier: MIT
// Lopen: the qid and iounit it returns, a second open, directories, O_TRUNC, unknown fids.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/io_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterLopenCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Lopen.QidMatchesWalk",
      .spec = kLopenSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "abc");
            Qid walked{};
            const uint32_t f = p.Walk(dir, {"f"}, &walked);
            const Rlopen o = p.Open(f, kOpenRdonly);
            c.Expect(SamePath(o.qid, walked),
                     "Rlopen qid " + QidText(o.qid) + " differs from the walk qid " + QidText(walked));
          },
  });
  AddRefusedCase(
      catalogue,
      {
          .name = "Required.Lopen.SecondOpenRefused",
          .spec = "open(5): the fid must not already be open (\"It is illegal to ... open a fid that is already open\" "
                  "follows from fids being opened once)",
          .needs = {Capability::kWritable},
          .refused = "second Tlopen of an open fid",
          .send = [](CaseContext& c, Probe& p) -> ReplyBase {
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "abc");
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
            return p.Call(Tlopen{f, kOpenRdonly});
          },
      });
  catalogue.Add({
      .name = "Required.Lopen.DirectoryReadOnly",
      .spec = kLopenSpec,
      .needs = {},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = p.Walk(p.root(), {});
            const Rlopen o = p.Open(dir, kOpenRdonly);
            c.Expect((o.qid.type & kQtDir) != 0, "Rlopen of the root: qid " + QidText(o.qid) + " lacks QTDIR");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Lopen.DirectoryForWriteRefused",
                                .spec = kLopenSpec,
                                .needs = {Capability::kWritable},
                                .refused = "Tlopen O_WRONLY of a directory",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  return p.Call(Tlopen{dir, kOpenWronly});
                                },
                            });
  catalogue.Add({
      .name = "Recommended.Lopen.DirectoryForWriteIsEisdir",
      .spec = "open(2): EISDIR \"pathname refers to a directory and the access requested involved writing\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            c.ExpectErrno(p.Call(Tlopen{dir, kOpenWronly}), Errno::kEISDIR, "Tlopen O_WRONLY of a directory");
          },
  });
  catalogue.Add({
      .name = "Required.Lopen.TruncEmptiesFile",
      .spec = "open(2) O_TRUNC, carried by Tlopen flags: \"If the file already exists and is a regular file "
              "and the access mode allows writing it will be truncated to length 0.\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "some data");
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenWronly | kOpenTrunc);
            const Rgetattr a = p.Getattr(f);
            c.Expect(a.size == 0, "after Tlopen O_TRUNC the size is " + std::to_string(a.size));
          },
  });
  catalogue.Add({
      .name = "Required.Lopen.IounitFitsMsize",
      .spec = "open(5): \"The iounit field returned by open and create may be zero. If it is not, it is the "
              "maximum number of bytes that are guaranteed to be read from or written to the file without "
              "breaking the I/O transfer into multiple 9P messages\" (so at most msize - 24)",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "abc");
            Rlopen o;
            p.OpenPath(dir, {"f"}, kOpenRdonly, &o);
            c.Expect(o.iounit <= p.io_size(),
                     "iounit " + std::to_string(o.iounit) + " exceeds msize-24 = " + std::to_string(p.io_size()));
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Lopen.UnknownFidRefused",
                                .spec = kLopenSpec,
                                .needs = {},
                                .refused = "Tlopen of an unknown fid",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  return p.Call(Tlopen{0x7ead0003u, kOpenRdonly});
                                },
                            });
}

}  // namespace p9x::conformance
