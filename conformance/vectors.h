// SPDX-License-Identifier: MIT
// The invalid vectors of spec/vectors/ (spec/vectors/README.md), which p9x-conform sends to the
// server as malformed frames (Required.Malformed.Vector<Name>).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codec/qid.h"

namespace p9x::conformance {

struct InvalidVector {
  std::string file;         // path relative to the vectors directory
  std::string case_suffix;  // CamelCase, from the file name ("twalk-17-names.txt" -> "Twalk17Names")
  std::vector<uint8_t> bytes;
  std::optional<Dialect> dialect;  // nullopt: "both" dialects
  uint32_t msize = 0;              // the msize the vector assumes (0: any)
  std::string expected_error;  // the DecodeError kind the vector documents
};

// Every invalid vector under `dir`, sorted by file name. Files that are not invalid vectors are
// ignored; an unreadable vector is reported in `*error` (and skipped). Empty when `dir` does not
// exist.
std::vector<InvalidVector> LoadInvalidVectors(const std::string& dir, std::string* error);

// "twalk-17-names" -> "Twalk17Names" (a trailing ".both", ".legacy" or ".xqid" is dropped).
std::string CamelCaseName(std::string_view file_stem);

}  // namespace p9x::conformance
