// SPDX-License-Identifier: MIT
#include "tests/vectors/vector_file.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codec/text.h"

namespace p9x::vectors {
namespace {

bool ParseU32(const std::string& s, uint32_t* out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Reads one file; false (with `why`) when it breaks the format of spec/vectors/README.md.
bool ReadVector(const std::filesystem::path& path, Vector* v, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    *why = "cannot open";
    return false;
  }
  std::string line;
  bool have_dialect = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) {
      *why = "line without 'key: value': " + line;
      return false;
    }
    const std::string key = line.substr(0, colon);
    const std::string value = line.substr(colon + 2);
    if (key == "dialect") {
      v->dialect_name = value;
      have_dialect = true;
      if (value == "legacy") {
        v->dialects = {Dialect::kLegacy};
      } else if (value == "xqid") {
        v->dialects = {Dialect::kXqid};
      } else if (value == "both") {
        v->dialects = {Dialect::kLegacy, Dialect::kXqid};
      } else {
        *why = "dialect must be legacy, xqid or both";
        return false;
      }
    } else if (key == "hex") {
      if (v->has_hex || !FromHex(value, &v->bytes)) {
        *why = "bad or repeated hex";
        return false;
      }
      v->has_hex = true;
    } else if (key == "text") {
      v->text = value;
    } else if (key == "error") {
      CodecErrorKind kind;
      if (!CodecErrorFromName(value, &kind)) {
        *why = "unknown error kind " + value;
        return false;
      }
      v->error = kind;
    } else if (key == "offset") {
      uint32_t n;
      if (!ParseU32(value, &n)) {
        *why = "bad offset";
        return false;
      }
      v->offset = n;
    } else if (key == "msize") {
      if (!ParseU32(value, &v->msize)) {
        *why = "bad msize";
        return false;
      }
    } else if (key == "note") {
      v->note = value;
    } else {
      *why = "unknown key " + key;
      return false;
    }
  }
  if (!have_dialect) {
    *why = "no dialect";
    return false;
  }
  if (v->valid) {
    if (!v->has_hex || v->text.empty() || v->error || v->offset) {
      *why = "a valid vector has hex and text and no error";
      return false;
    }
  } else if (!v->error) {
    *why = "an invalid vector names its error";
    return false;
  } else if (v->has_hex != v->offset.has_value()) {
    *why = "a decode failure has hex and offset; an encode failure has text and neither";
    return false;
  } else if (!v->has_hex && v->text.empty()) {
    *why = "an encode failure needs its text";
    return false;
  }
  return true;
}

}  // namespace

std::string VectorsDir() {
#ifdef P9X_VECTORS_DIR
  return P9X_VECTORS_DIR;
#else
  return "spec/vectors";
#endif
}

VectorSet LoadVectors(const std::string& dir) {
  VectorSet set;
  for (const char* sub : {"valid", "invalid"}) {
    const std::filesystem::path root = std::filesystem::path(dir) / sub;
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) {
      set.problems.push_back(root.string() + ": no such directory");
      continue;
    }
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      if (entry.path().extension() != ".vec") continue;
      Vector v;
      v.valid = std::string_view(sub) == "valid";
      v.name = std::string(sub) + "/" + entry.path().stem().string();
      std::string why;
      if (ReadVector(entry.path(), &v, &why)) {
        set.vectors.push_back(std::move(v));
      } else {
        set.problems.push_back(entry.path().string() + ": " + why);
      }
    }
  }
  std::sort(set.vectors.begin(), set.vectors.end(),
            [](const Vector& a, const Vector& b) { return a.name < b.name; });
  return set;
}

const VectorSet& AllVectors() {
  static const VectorSet* set = new VectorSet(LoadVectors(VectorsDir()));
  return *set;
}

std::string CamelName(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    } else {
      upper = true;
    }
  }
  return out;
}

}  // namespace p9x::vectors
