// SPDX-License-Identifier: MIT
// `p9x-conform fixture DIR`: builds the multi-filesystem export that the identity cases need
// (two byte-identical ext4 images loop-mounted at DIR/p1 and DIR/p2, a tmpfs at DIR/p3), by
// running tests/fixture/make-fixture.sh. Needs root, and says so without it.
#pragma once

#include <cstdio>
#include <string>

namespace p9x::conformance {

// Returns the exit status (0 built; 2 not root or the script is missing; else the script's).
int BuildFixture(const std::string& dir, const std::string& script, FILE* out);

}  // namespace p9x::conformance
