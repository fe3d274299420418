// SPDX-License-Identifier: MIT
// What every backend shares (backend.h): the check that a name is one valid path component.
#include "server/backend.h"

#include <climits>

namespace p9x::server {

Result<void> ValidName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Unexpected(Errno::kEINVAL);
  }
  if (name.size() > NAME_MAX) return Unexpected(Errno::kENAMETOOLONG);
  return {};
}

}  // namespace p9x::server
