// SPDX-License-Identifier: MIT
// Where p9x-conform finds the files it ships with (the invalid vectors, the fixture scripts): under
// the installation prefix of the running binary when it is installed (`cmake --install`, the
// Debian package), else in the source tree it was built from.
#pragma once

#include <string>

namespace p9x::conformance {

// The directory of spec/vectors: PREFIX/share/p9x/vectors when installed, else the source tree's.
std::string DefaultVectorsDir();

// tests/fixture/make-fixture.sh: PREFIX/libexec/p9x/make-fixture.sh when installed, else the
// source tree's; "" when neither exists.
std::string DefaultFixtureScript();

}  // namespace p9x::conformance
