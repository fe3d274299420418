// SPDX-License-Identifier: MIT
// The catalogue's registration functions, one per area file. main() calls RegisterAllCases.
#pragma once

#include <string>

#include "conformance/catalogue.h"

namespace p9x::conformance {

void RegisterNegotiationCases(Catalogue& catalogue);
void RegisterAttachCases(Catalogue& catalogue);
void RegisterWalkCases(Catalogue& catalogue);
void RegisterFidCases(Catalogue& catalogue);
void RegisterIoCases(Catalogue& catalogue);         // lopen, lcreate, mkdir, read, write, fsync
void RegisterReaddirCases(Catalogue& catalogue);
void RegisterAttrCases(Catalogue& catalogue);       // getattr, setattr, statfs
void RegisterNamespaceCases(Catalogue& catalogue);  // rename(at), unlinkat, remove, link, symlink, readlink, mknod
void RegisterXattrLockCases(Catalogue& catalogue);
void RegisterFlushCases(Catalogue& catalogue);
void RegisterMsizeCases(Catalogue& catalogue);
void RegisterErrorsCases(Catalogue& catalogue);
// Malformed frames and the invalid vectors; registered last because a server that crashes on
// one takes every later case with it.
void RegisterMalformedCases(Catalogue& catalogue, const std::string& vectors_dir);
void RegisterConcurrencyCases(Catalogue& catalogue);
void RegisterQidCases(Catalogue& catalogue);
void RegisterCredentialsCases(Catalogue& catalogue);  // a user's requests act with the user's rights only

// Every area, in report order. `vectors_dir` holds spec/vectors (the invalid vectors become
// Required.Malformed.Vector* cases).
void RegisterAllCases(Catalogue& catalogue, const std::string& vectors_dir);

}  // namespace p9x::conformance
