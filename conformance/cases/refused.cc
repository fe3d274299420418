// SPDX-License-Identifier: MIT
// Turns a RefusedCase row into a catalogue case (conformance/cases/refused.h).
#include "conformance/cases/refused.h"

#include <cctype>
#include <utility>

namespace p9x::conformance {

void AddRefusedCase(Catalogue& catalogue, RefusedCase row) {
  std::string checks = row.refused + ": expects Rlerror (any errno).";
  checks[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(checks[0])));
  catalogue.Add({
      .name = std::move(row.name),
      .spec = std::move(row.spec),
      .checks = std::move(checks),
      .needs = std::move(row.needs),
      .run =
          [send = std::move(row.send), refused = std::move(row.refused)](CaseContext& c) {
            Probe& p = c.Session();
            const ReplyBase reply = send(c, p);
            c.ExpectError(reply, refused);
          },
  });
}

}  // namespace p9x::conformance
