// SPDX-License-Identifier: MIT
// Connecting the runner to the server under test (transport.h), over the client's connector.
#include "conformance/transport.h"

namespace p9x::conformance {

Transport Connect(std::string_view target, std::string* error) {
  auto t = client::Transport::Dial(target);
  if (!t) {
    *error = t.error().Describe();  // names the target and the errno
    return Transport();
  }
  return std::move(*t);
}

bool IsValidTarget(std::string_view target, std::string* why) {
  auto parsed = client::ParseTarget(target);
  if (parsed) return true;
  *why = parsed.error().Describe();  // names the target and the three accepted forms
  return false;
}

}  // namespace p9x::conformance
