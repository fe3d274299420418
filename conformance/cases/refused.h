// SPDX-License-Identifier: MIT
// The "...Refused" cases as table rows: a request the spec forbids, sent after an optional setup
// on a fresh session, must get Rlerror (any errno). AddRefusedCase turns one row into a case.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "conformance/catalogue.h"
#include "conformance/context.h"

namespace p9x::conformance {

struct RefusedCase {
  std::string name;  // Level.Area.Case
  std::string spec;  // the sentence that forbids the request
  std::vector<Capability> needs = {};
  // The forbidden request, as the failure message and the case's `checks` text name it
  // ("Tgetattr on a clunked fid").
  std::string refused;
  // Prepares what the request needs on `p` (a session attached as the run negotiated) and sends
  // the request; returns its reply.
  std::function<ReplyBase(CaseContext& c, Probe& p)> send;
};

// Adds `row` as a case: Session(), then row.send, then ExpectError on its reply. Its `checks`
// text is "<Refused>: expects Rlerror (any errno)." (first letter capitalized).
void AddRefusedCase(Catalogue& catalogue, RefusedCase row);

}  // namespace p9x::conformance
