// SPDX-License-Identifier: MIT
// Expected-failure lists (expected_list.h): parsing, matching a run against one, and --fix.
#include "conformance/expected_list.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "conformance/catalogue.h"

namespace p9x::conformance {
namespace {

constexpr std::string_view kFlakyMarker = "flaky:";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A pattern: dotted components of letters, digits and '*'.
bool ValidPattern(std::string_view p) {
  if (p.empty() || p.front() == '.' || p.back() == '.') return false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '.' && i + 1 < p.size() && p[i + 1] == '.') return false;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '*' && c != '.') return false;
  }
  return true;
}

}  // namespace

Result<ExpectedList, std::string> ExpectedList::Parse(std::string_view text) {
  ExpectedList list;
  int line_no = 0;
  bool in_header = true;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    const std::string_view line = Trim(raw);
    if (line.empty()) {
      if (end == text.size()) break;
      continue;
    }
    if (line.front() == '#') {
      if (in_header) list.header_.emplace_back(line);
      if (end == text.size()) break;
      continue;
    }
    in_header = false;
    ExpectedEntry entry;
    entry.line = line_no;
    const size_t hash = line.find('#');
    entry.pattern = std::string(Trim(line.substr(0, hash)));
    if (hash != std::string_view::npos) entry.message_prefix = std::string(Trim(line.substr(hash + 1)));
    entry.flaky = entry.message_prefix.starts_with(kFlakyMarker);
    if (!ValidPattern(entry.pattern)) {
      return Unexpected("line " + std::to_string(line_no) + ": \"" + entry.pattern +
                        "\" is not a case name or pattern (Level.Area.Case, '*' wildcards)");
    }
    list.entries_.push_back(std::move(entry));
    if (end == text.size()) break;
  }
  return list;
}

Result<ExpectedList, std::string> ExpectedList::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Unexpected("cannot read expected-failure list " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto list = Parse(ss.str());
  if (!list) return Unexpected(path + ": " + list.error());
  return list;
}

const ExpectedEntry* ExpectedList::Match(std::string_view name) const {
  for (const ExpectedEntry& e : entries_) {
    if (NameMatches(e.pattern, name)) return &e;
  }
  return nullptr;
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSuccess:
      return "SUCCESS";
    case Outcome::kExpectedFailure:
      return "EXPECTED FAILURE";
    case Outcome::kUnexpectedFailure:
      return "UNEXPECTED FAILURE";
    case Outcome::kUnexpectedPass:
      return "UNEXPECTED PASS";
    case Outcome::kMessageMismatch:
      return "MESSAGE MISMATCH";
    case Outcome::kSkip:
      return "SKIPPED";
  }
  return "?";
}

Outcome Judge(Verdict verdict, std::string_view message, const ExpectedEntry* entry) {
  if (entry != nullptr && entry->flaky && verdict != Verdict::kSkipped) {
    return verdict == Verdict::kPassed ? Outcome::kSuccess : Outcome::kExpectedFailure;
  }
  switch (verdict) {
    case Verdict::kSkipped:
      return Outcome::kSkip;
    case Verdict::kPassed:
      return entry == nullptr ? Outcome::kSuccess : Outcome::kUnexpectedPass;
    case Verdict::kFailed:
      if (entry == nullptr) return Outcome::kUnexpectedFailure;
      if (!entry->message_prefix.empty() && !message.starts_with(entry->message_prefix)) {
        return Outcome::kMessageMismatch;
      }
      return Outcome::kExpectedFailure;
  }
  return Outcome::kUnexpectedFailure;
}

std::vector<ExpectedEntry> StaleEntries(const ExpectedList& list, const std::vector<std::string>& names) {
  std::vector<ExpectedEntry> stale;
  for (const ExpectedEntry& e : list.entries()) {
    const bool used = std::any_of(names.begin(), names.end(),
                                  [&](const std::string& n) { return NameMatches(e.pattern, n); });
    if (!used) stale.push_back(e);
  }
  return stale;
}

std::string StablePrefix(std::string_view message) {
  size_t cut = std::min<size_t>(message.size(), 100);
  for (size_t i = 0; i < cut; ++i) {
    const bool hex = message.substr(i).starts_with("0x");
    size_t digits = 0;
    while (i + digits < message.size() && std::isdigit(static_cast<unsigned char>(message[i + digits]))) ++digits;
    const bool starts_token = i == 0 || !std::isalnum(static_cast<unsigned char>(message[i - 1]));
    if (starts_token && (hex || digits >= 3)) {
      cut = i;
      break;
    }
  }
  std::string_view prefix = message.substr(0, cut);
  if (const size_t nl = prefix.find('\n'); nl != std::string_view::npos) prefix = prefix.substr(0, nl);
  // '#' would start a new comment on reading the list back: cut there too.
  if (const size_t h = prefix.find('#'); h != std::string_view::npos) prefix = prefix.substr(0, h);
  return std::string(Trim(prefix));
}

std::string FixedList(const ExpectedList& old, const std::vector<FixInput>& cases) {
  std::vector<std::string> all_names;
  for (const FixInput& c : cases) all_names.push_back(c.name);
  std::vector<std::pair<std::string, std::string>> lines;  // sort key, line
  std::set<std::string> written;
  // Flaky entries stay as they are, and their cases get no other line.
  for (const ExpectedEntry& e : old.entries()) {
    if (!e.flaky) continue;
    lines.emplace_back(e.pattern, e.pattern + "  # " + e.message_prefix);
    written.insert(e.pattern);
    for (const FixInput& c : cases) {
      if (NameMatches(e.pattern, c.name)) written.insert(c.name);
    }
  }
  for (const FixInput& c : cases) {
    if (written.contains(c.name)) continue;
    if (c.ran && c.verdict == Verdict::kFailed) {
      std::string line = c.name;
      const std::string prefix = StablePrefix(c.message);
      if (!prefix.empty()) line += "  # " + prefix;
      lines.emplace_back(c.name, line);
      written.insert(c.name);
    }
  }
  // Keep entries for cases that did not run or were skipped, unless stale.
  for (const ExpectedEntry& e : old.entries()) {
    bool keep = false;
    bool any = false;
    for (const FixInput& c : cases) {
      if (!NameMatches(e.pattern, c.name)) continue;
      any = true;
      if (!c.ran || c.verdict == Verdict::kSkipped) keep = true;
      if (c.ran && c.verdict != Verdict::kSkipped) {
        keep = false;
        break;
      }
    }
    if (!any || !keep || written.contains(e.pattern)) continue;
    std::string line = e.pattern;
    if (!e.message_prefix.empty()) line += "  # " + e.message_prefix;
    lines.emplace_back(e.pattern, line);
    written.insert(e.pattern);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& h : old.header()) out += h + "\n";
  if (old.header().empty()) {
    out += "# Expected failures for p9x-conform (one case name or pattern per line, optional\n";
    out += "# \"# message prefix\"). Rewrite with: p9x-conform ... --expected FILE --fix\n";
  }
  for (const auto& [key, line] : lines) out += line + "\n";
  return out;
}

}  // namespace p9x::conformance
