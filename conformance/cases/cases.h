// SPDX-License-Identifier: MIT
// The catalogue's registration functions, one per area file (the area is the middle component of
// Level.Area.Case; conformance/cases/<area>_cases.cc holds every case of that area). main() calls RegisterAllCases.
#pragma once

#include <string>

#include "conformance/catalogue.h"

namespace p9x::conformance {

void RegisterNegotiationCases(Catalogue& catalogue);
void RegisterAttachCases(Catalogue& catalogue);
void RegisterWalkCases(Catalogue& catalogue);
void RegisterFidCases(Catalogue& catalogue);
void RegisterLopenCases(Catalogue& catalogue);
void RegisterLcreateCases(Catalogue& catalogue);
void RegisterMkdirCases(Catalogue& catalogue);
void RegisterIoCases(Catalogue& catalogue);
void RegisterFsyncCases(Catalogue& catalogue);
void RegisterReaddirCases(Catalogue& catalogue);
void RegisterGetattrCases(Catalogue& catalogue);
void RegisterSetattrCases(Catalogue& catalogue);
void RegisterStatfsCases(Catalogue& catalogue);
void RegisterRenameCases(Catalogue& catalogue);
void RegisterRenameatCases(Catalogue& catalogue);
void RegisterUnlinkatCases(Catalogue& catalogue);
void RegisterRemoveCases(Catalogue& catalogue);
void RegisterLinkCases(Catalogue& catalogue);
void RegisterSymlinkCases(Catalogue& catalogue);
void RegisterReadlinkCases(Catalogue& catalogue);
void RegisterMknodCases(Catalogue& catalogue);
void RegisterXattrCases(Catalogue& catalogue);
void RegisterLockCases(Catalogue& catalogue);
void RegisterFlushCases(Catalogue& catalogue);
void RegisterMsizeCases(Catalogue& catalogue);
void RegisterErrorsCases(Catalogue& catalogue);
// Malformed frames and the invalid vectors; registered last because a server that crashes on
// one takes every later case with it.
void RegisterMalformedCases(Catalogue& catalogue, const std::string& vectors_dir);
void RegisterConcurrencyCases(Catalogue& catalogue);
void RegisterIdentityCases(Catalogue& catalogue);
void RegisterWireCases(Catalogue& catalogue);
void RegisterCredentialsCases(Catalogue& catalogue);  // a user's requests act with the user's rights only

// Every area, in report order. `vectors_dir` holds spec/vectors (the invalid vectors become
// Required.Malformed.Vector* cases).
void RegisterAllCases(Catalogue& catalogue, const std::string& vectors_dir);

}  // namespace p9x::conformance
