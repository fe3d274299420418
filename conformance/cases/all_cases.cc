// SPDX-License-Identifier: MIT
#include "conformance/cases/cases.h"

namespace p9x::conformance {

void RegisterAllCases(Catalogue& catalogue, const std::string& vectors_dir) {
  RegisterNegotiationCases(catalogue);
  RegisterAttachCases(catalogue);
  RegisterWalkCases(catalogue);
  RegisterFidCases(catalogue);
  RegisterIoCases(catalogue);
  RegisterReaddirCases(catalogue);
  RegisterAttrCases(catalogue);
  RegisterNamespaceCases(catalogue);
  RegisterXattrLockCases(catalogue);
  RegisterFlushCases(catalogue);
  RegisterMsizeCases(catalogue);
  RegisterErrorsCases(catalogue);
  RegisterConcurrencyCases(catalogue);
  RegisterQidCases(catalogue);
  RegisterCredentialsCases(catalogue);
  RegisterMalformedCases(catalogue, vectors_dir);
}

}  // namespace p9x::conformance
