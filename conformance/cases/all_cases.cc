// SPDX-License-Identifier: MIT
#include "conformance/cases/cases.h"

namespace p9x::conformance {

void RegisterAllCases(Catalogue& catalogue, const std::string& vectors_dir) {
  RegisterNegotiationCases(catalogue);
  RegisterAttachCases(catalogue);
  RegisterWalkCases(catalogue);
  RegisterFidCases(catalogue);
  RegisterLopenCases(catalogue);
  RegisterLcreateCases(catalogue);
  RegisterMkdirCases(catalogue);
  RegisterIoCases(catalogue);
  RegisterFsyncCases(catalogue);
  RegisterReaddirCases(catalogue);
  RegisterGetattrCases(catalogue);
  RegisterSetattrCases(catalogue);
  RegisterStatfsCases(catalogue);
  RegisterRenameCases(catalogue);
  RegisterRenameatCases(catalogue);
  RegisterUnlinkatCases(catalogue);
  RegisterRemoveCases(catalogue);
  RegisterLinkCases(catalogue);
  RegisterSymlinkCases(catalogue);
  RegisterReadlinkCases(catalogue);
  RegisterMknodCases(catalogue);
  RegisterXattrCases(catalogue);
  RegisterLockCases(catalogue);
  RegisterFlushCases(catalogue);
  RegisterMsizeCases(catalogue);
  RegisterErrorsCases(catalogue);
  RegisterConcurrencyCases(catalogue);
  RegisterIdentityCases(catalogue);
  RegisterWireCases(catalogue);
  RegisterCredentialsCases(catalogue);
  RegisterMalformedCases(catalogue, vectors_dir);
}

}  // namespace p9x::conformance
