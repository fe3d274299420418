// SPDX-License-Identifier: MIT
// Errors: the server answers errors with Rlerror and a nonzero Linux errno.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {

void RegisterErrorsCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Errors.RlerrorNotRerror",
      .spec = "spec/9p2000.L.md §5: \"A 9P2000.L server MUST answer errors with Rlerror (type 7), not Rerror (type 107)\"",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        auto r = p.Call(MakeWalk(p.root(), p.NextFid(), {"p9x-conform-no-such-name"}));
        if (!c.ExpectError(r, "Twalk of a missing name")) return;
        c.Expect(r.type == static_cast<uint8_t>(MsgType::kRlerror),
                 "the error came as type " + std::to_string(r.type) + ", not Rlerror (7)");
      },
  });
  catalogue.Add({
      .name = "Required.Errors.EcodeIsNonzero",
      .spec = "spec/9p2000.L.md §8.27; 9P2000.L Rlerror (diod protocol.md): \"ecode is a numerical Linux errno\"; 0 is not an error",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        auto r = p.Call(Tclunk{0x7ead0007u});
        if (!c.ExpectError(r, "Tclunk of an unknown fid")) return;
        c.Expect(r.error != Errno::kOk, "Rlerror with ecode 0");
      },
  });
}

}  // namespace p9x::conformance
