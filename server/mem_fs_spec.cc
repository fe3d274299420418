// SPDX-License-Identifier: MIT
// Parsing of the mem: export spec (ParseMemFsSpec, mem_fs.h) into MemFsOptions.
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "server/mem_fs.h"

namespace p9x::server {

namespace {
bool ParseNumber(std::string_view s, uint64_t* out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}
}  // namespace

Result<MemFsOptions, std::string> ParseMemFsSpec(std::string_view spec) {
  if (spec.substr(0, 4) != "mem:") return Unexpected(std::string("an in-memory export starts with \"mem:\""));
  spec.remove_prefix(4);
  MemFsOptions o;
  if (spec.empty()) return o;
  for (std::string_view item : Split(spec, ',')) {
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    const auto bad = [&](const char* why) { return Unexpected("mem: " + std::string(item) + ": " + why); };
    if (key == "mounts") {
      for (std::string_view m : Split(value, '+')) {
        if (!ValidName(m)) return bad("a mount is one valid name");
        o.mounts.emplace_back(m);
      }
    } else if (key == "gen") {
      auto f = Split(value, ':');
      MemFsOptions::Generated g;
      if (f.size() < 2 || f.size() > 5 || !ValidName(f[0]))
        return bad("expected gen=NAME:COUNT[:FIRST_INO[:STRIDE[:DEV]]]");
      g.name = std::string(f[0]);
      if (!ParseNumber(f[1], &g.count) || (f.size() > 2 && !ParseNumber(f[2], &g.first_ino)) ||
          (f.size() > 3 && !ParseNumber(f[3], &g.stride)) || (f.size() > 4 && !ParseNumber(f[4], &g.dev))) {
        return bad("numbers are decimal or 0x hex");
      }
      o.generated.push_back(std::move(g));
    } else if (key == "max_data") {
      if (!ParseNumber(value, &o.max_data_bytes)) return bad("expected a number of bytes");
    } else {
      return bad("unknown option (mounts=, gen=, max_data=)");
    }
  }
  return o;
}

}  // namespace p9x::server
