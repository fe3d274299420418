// SPDX-License-Identifier: MIT
// Fid lifecycle: clunk, reuse, unknown fids, per-connection fid spaces, many fids.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/refused.h"
#include "conformance/cases/walk_common.h"

namespace p9x::conformance {
namespace {

constexpr char kClunkSpec[] =
    "clunk(5): \"The clunk request informs the file server that the current file represented by fid is "
    "no longer needed by the client.\" and \"Once a fid has been clunked, the same fid can be reused in "
    "a new walk or attach request.\"";

}  // namespace

void RegisterFidCases(Catalogue& catalogue) {
  AddRefusedCase(catalogue, {
                                .name = "Required.Fid.UseAfterClunkRefused",
                                .spec = kClunkSpec,
                                .needs = {},
                                .refused = "Tgetattr on a clunked fid",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  const uint32_t fid = p.Walk(p.root(), {});
                                  p.Clunk(fid);
                                  return p.Call(Tgetattr{fid, kGetattrBasic});
                                },
                            });
  AddRefusedCase(catalogue, {
                                .name = "Required.Fid.DoubleClunkRefused",
                                .spec = kClunkSpec,
                                .needs = {},
                                .refused = "second Tclunk of the same fid",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  const uint32_t fid = p.Walk(p.root(), {});
                                  p.Clunk(fid);
                                  return p.Call(Tclunk{fid});
                                },
                            });
  catalogue.Add({
      .name = "Required.Fid.ClunkReleasesFid",
      .spec = kClunkSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t fid = p.Walk(p.root(), {});
        p.Clunk(fid);
        p.Must(p.Call(Twalk{p.root(), fid, {}}), "Twalk to a clunked fid number");
        p.Getattr(fid);
      },
  });
  AddRefusedCase(catalogue,
                 {
                     .name = "Required.Fid.ClunkUnknownRefused",
                     .spec = "clunk(5): the fid must be valid; intro(5): a request on an unknown fid gets an error",
                     .needs = {},
                     .refused = "Tclunk of a fid never used",
                     .send = [](CaseContext&, Probe& p) -> ReplyBase { return p.Call(Tclunk{0x7ead0002u}); },
                 });
  catalogue.Add({
      .name = "Required.Fid.FidsArePerConnection",
      .spec = "intro(5): \"fids ... are chosen by the client\" per connection; a fid of one connection "
              "means nothing on another",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& a = c.Session();
        const uint32_t fid = a.Walk(a.root(), {});
        Probe& b = c.Connect();
        if (!b.Must(b.Version(c.env().session.msize, c.env().session.version), "Tversion")) return;
        c.ExpectError(b.Call(Tgetattr{fid, kGetattrBasic}), "Tgetattr on another connection's fid");
      },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Fid.NoFidRefused",
                                .spec = "attach(5): NOFID ((u32)~0) is not a fid",
                                .needs = {},
                                .refused = "Tgetattr on NOFID",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  return p.Call(Tgetattr{kNoFid, kGetattrBasic});
                                },
                            });
  catalogue.Add({
      .name = "Required.Fid.ThousandFids",
      .spec = "intro(5): a client may hold many fids at once; each walk creates one",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        std::vector<uint32_t> fids;
        for (int i = 0; i < 1000 && !c.stopped(); ++i) fids.push_back(p.Walk(p.root(), {}));
        for (size_t i = 0; i < fids.size() && !c.stopped(); i += 97) p.Getattr(fids[i]);
        for (uint32_t fid : fids) p.Clunk(fid);
      },
  });
  catalogue.Add({
      .name = "Required.Fid.ClunkedOpenFidCannotRead",
      .spec = kClunkSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "data");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        p.Clunk(f);
        c.ExpectError(p.Call(Tread{f, 0, 4}), "Tread on a clunked open fid");
      },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Fid.NewfidInUseRefused",
                                .spec = kNewfidSpec,
                                .needs = {},
                                .refused = "Twalk to a newfid that is in use",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  const uint32_t other = p.Walk(p.root(), {});
                                  return p.Call(Twalk{p.root(), other, {}});
                                },
                            });
  AddRefusedCase(catalogue, {
                                .name = "Required.Fid.UnknownFidRefused",
                                .spec = "walk(5): \"The fid must be valid in the current session\"",
                                .needs = {},
                                .refused = "Twalk from a fid never attached",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  return p.Call(Twalk{0x7ead0001u, p.NextFid(), {}});
                                },
                            });
}

}  // namespace p9x::conformance
