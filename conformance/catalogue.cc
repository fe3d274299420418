// SPDX-License-Identifier: MIT
#include "conformance/catalogue.h"

#include <cstdio>
#include <cstdlib>

namespace p9x::conformance {
namespace {

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// Glob inside one component: '*' matches any run of characters.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kRequired:
      return "Required";
    case Level::kRecommended:
      return "Recommended";
    case Level::kXqid:
      return "Xqid";
  }
  return "?";
}

std::string_view CapabilityName(Capability c) {
  switch (c) {
    case Capability::kWritable:
      return "writable export";
    case Capability::kXattrs:
      return "xattrs";
    case Capability::kHardLinks:
      return "hard links";
    case Capability::kSymlinks:
      return "symlinks";
    case Capability::kFifos:
      return "fifos";
    case Capability::kDevices:
      return "device nodes";
    case Capability::kLocks:
      return "locks";
    case Capability::kMultiFs:
      return "multiple filesystems";
    case Capability::kLocalRoot:
      return "local root";
    case Capability::kRunnerRoot:
      return "root";
  }
  return "?";
}

std::string_view Case::area() const {
  const size_t a = name.find('.');
  const size_t b = name.find('.', a + 1);
  return std::string_view(name).substr(a + 1, b - a - 1);
}

std::string CheckCaseName(std::string_view name) {
  const std::vector<std::string_view> parts = Split(name);
  if (parts.size() != 3) return "name must have three dotted segments Level.Area.Case";
  for (std::string_view part : parts) {
    if (part.empty() || part[0] < 'A' || part[0] > 'Z') return "segment \"" + std::string(part) + "\" must start with A-Z";
    for (char c : part) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!ok) return "segment \"" + std::string(part) + "\" must be CamelCase letters and digits";
    }
  }
  if (parts[0] != "Required" && parts[0] != "Recommended" && parts[0] != "Xqid") {
    return "level must be Required, Recommended or Xqid";
  }
  return "";
}

void Catalogue::Add(Case c) {
  std::string why = CheckCaseName(c.name);
  if (why.empty()) {
    // The level is the name's first segment; it is written once, there.
    const std::string_view level = std::string_view(c.name).substr(0, c.name.find('.'));
    for (Level l : {Level::kRequired, Level::kRecommended, Level::kXqid}) {
      if (LevelName(l) == level) c.level = l;
    }
  }
  if (why.empty() && index_.contains(c.name)) why = "duplicate case name";
  if (why.empty() && !c.run) why = "no run function";
  if (!why.empty()) {
    std::fprintf(stderr, "p9x-conform: bad case \"%s\": %s\n", c.name.c_str(), why.c_str());
    std::abort();
  }
  index_.emplace(c.name, cases_.size());
  cases_.push_back(std::move(c));
}

std::vector<const Case*> Catalogue::Select(std::string_view pattern, Profile profile) const {
  std::vector<const Case*> out;
  for (const Case& c : cases_) {
    if ((pattern.empty() || NameMatches(pattern, c.name)) && InProfile(profile, c)) out.push_back(&c);
  }
  return out;
}

std::string DescribeCase(const Case& c) {
  static constexpr std::string_view kMeaning[] = {
      "a MUST: every 9P2000.L server passes it",
      "a SHOULD: exact errno values and behaviour where servers legitimately differ",
      "a MUST of 9P2000.L.xqid, run only in a session that negotiated it",
  };
  std::string out = c.name + "\n";
  out += "  level:    " + std::string(LevelName(c.level)) + " (" + std::string(kMeaning[static_cast<int>(c.level)]) + ")\n";
  std::string profiles;
  for (Profile p : {Profile::kXqid, Profile::kBase}) {
    if (InProfile(p, c)) profiles += (profiles.empty() ? "" : ", ") + std::string(ProfileName(p));
  }
  out += "  profiles: " + profiles + "\n";
  std::string needs;
  for (Capability cap : c.needs) needs += (needs.empty() ? "" : ", ") + std::string(CapabilityName(cap));
  out += "  needs:    " + (needs.empty() ? std::string("nothing") : needs) + "\n";
  out += "  spec:     " + c.spec + "\n";
  if (!c.checks.empty()) out += "  checks:   " + c.checks + "\n";
  return out;
}

std::optional<Profile> ProfileFromName(std::string_view name) {
  for (Profile p : {Profile::kAll, Profile::kXqid, Profile::kBase}) {
    if (ProfileName(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view ProfileName(Profile profile) {
  switch (profile) {
    case Profile::kAll:
      return "all";
    case Profile::kXqid:
      return "xqid";
    case Profile::kBase:
      return "base";
  }
  return "?";
}

bool InProfile(Profile profile, const Case& c) {
  switch (profile) {
    case Profile::kAll:
      return true;
    case Profile::kXqid:
      return c.level == Level::kXqid || c.area() == "Negotiation";
    case Profile::kBase:
      return c.level != Level::kXqid;
  }
  return false;
}

bool NameMatches(std::string_view pattern, std::string_view name) {
  // A comma-separated list of patterns matches when any does (for --filter).
  if (pattern.find(',') != std::string_view::npos) {
    size_t start = 0;
    while (start <= pattern.size()) {
      const size_t comma = pattern.find(',', start);
      if (NameMatches(pattern.substr(start, comma - start), name)) return true;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return false;
  }
  const std::vector<std::string_view> p = Split(pattern);
  const std::vector<std::string_view> n = Split(name);
  if (p.size() > n.size()) return false;
  if (p.size() < n.size() && p.back() != "*") return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (i + 1 == p.size() && p.size() < n.size()) return true;  // trailing "*" covers the rest
    if (!GlobMatch(p[i], n[i])) return false;
  }
  return true;
}

}  // namespace p9x::conformance
