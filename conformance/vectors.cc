// SPDX-License-Identifier: MIT
// The invalid golden vectors p9x-conform sends as malformed frames (vectors.h): loading them.
#include "conformance/vectors.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "codec/text.h"

namespace p9x::conformance {
namespace {

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

std::string CamelCaseName(std::string_view stem) {
  for (std::string_view suffix : {".both", ".legacy", ".xqid"}) {
    if (stem.ends_with(suffix)) stem.remove_suffix(suffix.size());
  }
  std::string out;
  bool upper = true;
  for (char ch : stem) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    upper = false;
  }
  if (out.empty() || !std::isupper(static_cast<unsigned char>(out[0]))) out = "V" + out;
  return out;
}

// A vector file holds "key: value" lines (spec/vectors/README.md); the keys used here are the
// frame's hex bytes ("hex"), its dialect ("dialect": 9P2000.L or 9P2000.L.xqid / legacy / xqid)
// and, for an invalid vector, the decode error it must produce ("error"). Lines starting with
// '#' are comments; a value may continue on indented lines (long hex).
std::vector<InvalidVector> LoadInvalidVectors(const std::string& dir, std::string* error) {
  std::vector<InvalidVector> out;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().filename() != "README.md") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> names;
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string line, key;
    std::map<std::string, std::string> fields;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (std::isspace(static_cast<unsigned char>(line[0])) && !key.empty()) {
        fields[key] += " " + Trim(line);
        continue;
      }
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      key = Lower(Trim(line.substr(0, colon)));
      fields[key] = Trim(line.substr(colon + 1));
    }
    const std::string err = fields.contains("error") ? fields["error"] : fields["expect_error"];
    if (err.empty() || !fields.contains("hex")) continue;  // a valid vector, or not a vector
    InvalidVector v;
    v.file = std::filesystem::relative(path, dir, ec).string();
    v.expected_error = err;
    const std::string dialect = Lower(fields["dialect"]);
    if (dialect == "xqid" || dialect == "9p2000.l.xqid") v.dialect = Dialect::kXqid;
    if (dialect == "legacy" || dialect == "9p2000.l") v.dialect = Dialect::kLegacy;
    if (fields.contains("msize")) v.msize = static_cast<uint32_t>(std::strtoul(fields["msize"].c_str(), nullptr, 0));
    if (!FromHex(fields["hex"], &v.bytes)) {
      *error += "spec/vectors/" + v.file + ": bad hex; ";
      continue;
    }
    v.case_suffix = CamelCaseName(path.stem().string());
    while (names.contains(v.case_suffix)) v.case_suffix += "X";
    names.insert(v.case_suffix);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace p9x::conformance
