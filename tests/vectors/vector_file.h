// SPDX-License-Identifier: MIT
// Reading the golden vectors of spec/vectors/ (format: spec/vectors/README.md).
//
// Shared by the vector tests, the tshark cross-check, the fuzz seed writer and the corpus replay.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "codec/codec_error.h"
#include "codec/qid.h"

namespace p9x::vectors {

// The msize a vector is decoded with when its file has no `msize:` line.
inline constexpr uint32_t kDefaultVectorMsize = 8192;

struct Vector {
  std::string name;                // "valid/Twalk-two-names.both" (path below the root, no .vec)
  bool valid = false;              // under valid/ (else invalid/)
  std::string dialect_name;        // "legacy", "xqid" or "both"
  std::vector<Dialect> dialects;   // the dialects the vector is checked in
  uint32_t msize = kDefaultVectorMsize;
  bool has_hex = false;
  std::vector<uint8_t> bytes;      // from hex:
  std::string text;                // from text: (may be empty)
  std::optional<CodecErrorKind> error;
  std::optional<uint32_t> offset;
  std::string note;
};

struct VectorSet {
  std::vector<Vector> vectors;      // sorted by name
  std::vector<std::string> problems;  // malformed files, one line each
};

// The spec/vectors directory of the source tree (compiled in as P9X_VECTORS_DIR).
std::string VectorsDir();

// Reads every *.vec under dir/valid and dir/invalid. Never throws; problems are listed.
VectorSet LoadVectors(const std::string& dir);

// The set loaded once from VectorsDir(), for parameterised tests.
const VectorSet& AllVectors();

// GoogleTest prints a vector parameter by its name.
inline void PrintTo(const Vector& v, std::ostream* os) { *os << v.name; }

// "valid/Twalk-two-names.both" -> "ValidTwalkTwoNamesBoth" (a GoogleTest parameter name).
std::string CamelName(const std::string& name);

}  // namespace p9x::vectors
