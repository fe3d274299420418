// SPDX-License-Identifier: MIT
// Reads spec/xqid.md, spec/qid-map.md and spec/9p2000.L.md sentence by sentence and fails on a
// normative sentence (one with MUST, MUST NOT, SHOULD or SHOULD NOT) that names no check, or names
// a check that does not exist. A check is a conformance case, `Level.Area.Case`, registered in the catalogue; a
// unit test, `Suite.Name`, defined by TEST/TEST_F/TEST_P in a *_test.cc file of the tree; or a
// check of the Linux-client tier, `present.cp` or `host.seed-*.landed`, reported by
// tests/linux-client/guest/tests.sh or run.sh (a `*` stands for the part those scripts fill in
// at run time, such as the seed variant). The names are backquoted and stand in the sentence
// itself (spec/xqid.md §13).
#include <fnmatch.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cctype>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "conformance/cases/cases.h"
#include "conformance/catalogue.h"

namespace p9x::conformance {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "Suite.Name" of every gtest defined in the tree's *_test.cc files (build directories skipped).
std::set<std::string> UnitTestNames(const std::filesystem::path& root) {
  std::set<std::string> names;
  const std::regex defined(R"(\bTEST(?:_F|_P)?\(\s*(\w+)\s*,\s*(\w+)\s*\))");
  for (auto it = std::filesystem::recursive_directory_iterator(root); it != std::filesystem::recursive_directory_iterator();
       ++it) {
    const std::string leaf = it->path().filename().string();
    if (it->is_directory() && (leaf.starts_with("build") || leaf.starts_with("."))) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !leaf.ends_with("_test.cc")) continue;
    const std::string text = ReadFile(it->path());
    for (auto m = std::sregex_iterator(text.begin(), text.end(), defined); m != std::sregex_iterator(); ++m) {
      names.insert((*m)[1].str() + "." + (*m)[2].str());
    }
  }
  return names;
}

// The names of the Linux-client tier's checks, as glob patterns: what tests/linux-client/guest/
// tests.sh reports with `check NAME` or `R "NAME"`, and run.sh with `RESULT NAME`, each shell
// expansion in a name (`$name`, `${v%%:*}`) turned into `*`.
std::vector<std::string> GuestCheckPatterns(const std::filesystem::path& root) {
  std::vector<std::string> patterns;
  const std::regex reported(R"((?:\bcheck |\bR "|RESULT )([a-z$][-a-z0-9_.^${}%:*]*))");
  const std::regex expansion(R"(\$\{[^}]*\}|\$[a-z_]+)");
  for (const char* script : {"tests/linux-client/guest/tests.sh", "tests/linux-client/run.sh"}) {
    const std::string text = ReadFile(root / script);
    for (auto m = std::sregex_iterator(text.begin(), text.end(), reported); m != std::sregex_iterator(); ++m) {
      const std::string name = std::regex_replace((*m)[1].str(), expansion, "*");
      if (name.find('.') != std::string::npos) patterns.push_back(name);
    }
  }
  return patterns;
}

// Whether `cited` (a `*` for a run-time part) names one of the guest checks.
bool IsGuestCheck(const std::string& cited, const std::vector<std::string>& patterns) {
  std::string probe = cited;
  std::replace(probe.begin(), probe.end(), '*', 'x');
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return fnmatch(p.c_str(), probe.c_str(), 0) == 0; });
}

struct Sentence {
  int line;  // where it starts in the document (1-based)
  std::string text;
};

// Splits a sentence after '.', '!' or '?' followed by a space and a capital letter, a backquote,
// '*' or '('; "e.g." and "i.e." do not end one.
void SplitSentences(const std::string& block, int line, std::vector<Sentence>* out) {
  size_t start = 0;
  for (size_t i = 0; i + 2 < block.size(); ++i) {
    const char c = block[i];
    if ((c != '.' && c != '!' && c != '?') || block[i + 1] != ' ') continue;
    const char next = block[i + 2];
    if (!(std::isupper(static_cast<unsigned char>(next)) || next == '`' || next == '*' || next == '(')) continue;
    const std::string before = block.substr(start, i + 1 - start);
    if (before.ends_with("e.g.") || before.ends_with("i.e.")) continue;
    out->push_back({line, before});
    start = i + 2;
  }
  if (start < block.size()) out->push_back({line, block.substr(start)});
}

// The document's prose as sentences: fenced code is skipped; a heading, a list item and a table
// row each start a new block; lines of one paragraph or item are joined.
std::vector<Sentence> Sentences(const std::string& doc) {
  std::vector<Sentence> out;
  std::istringstream in(doc);
  std::string line, block;
  int number = 0, block_line = 0;
  bool fenced = false;
  auto flush = [&] {
    if (!block.empty()) SplitSentences(block, block_line, &out);
    block.clear();
  };
  const std::regex item(R"(^\s*([*+-]|\d+\.)\s)");
  while (std::getline(in, line)) {
    ++number;
    if (line.starts_with("```")) {
      flush();
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const bool blank = line.find_first_not_of(" \t") == std::string::npos;
    const bool starts_block = line.starts_with("#") || line.starts_with("|") || std::regex_search(line, item);
    if (blank || starts_block) flush();
    if (blank) continue;
    if (block.empty()) block_line = number;
    block += (block.empty() ? "" : " ") + line;
    if (line.starts_with("#") || line.starts_with("|")) flush();
  }
  flush();
  return out;
}

struct Problem {
  int line;
  std::string what;
};

// Every problem with `doc`'s normative sentences; `cases` and `tests` are the names that exist.
std::vector<Problem> CheckDocument(const std::string& doc, const std::set<std::string>& cases,
                                   const std::set<std::string>& tests, const std::vector<std::string>& guest = {}) {
  const std::regex normative(R"(\b(MUST|SHOULD)\b)");
  const std::regex named(R"(`([A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*){1,2})`)");
  std::vector<Problem> problems;
  for (const Sentence& s : Sentences(doc)) {
    if (!std::regex_search(s.text, normative) || s.text.find("RFC 2119") != std::string::npos) continue;
    const std::string excerpt = s.text.substr(0, 140);
    int checks = 0, unknown = 0;
    for (auto m = std::sregex_iterator(s.text.begin(), s.text.end(), named); m != std::sregex_iterator(); ++m) {
      const std::string name = (*m)[1].str();
      const bool is_case = std::count(name.begin(), name.end(), '.') == 2;
      if (is_case ? cases.contains(name) : tests.contains(name)) {
        ++checks;
      } else {
        ++unknown;
        problems.push_back({s.line, "names " + name + ", which is not a " +
                                        (is_case ? "conformance case" : "unit test") + ": " + excerpt});
      }
    }
    // Lower-case dotted names are guest checks when one matches; other such names (file names)
    // are not citations at all.
    const std::regex lower(R"(`([a-z][-a-z0-9_*^]*(?:\.[-a-z0-9_*^]+)+)`)");
    for (auto m = std::sregex_iterator(s.text.begin(), s.text.end(), lower); m != std::sregex_iterator(); ++m) {
      if (IsGuestCheck((*m)[1].str(), guest)) ++checks;
    }
    if (checks == 0 && unknown == 0) problems.push_back({s.line, "names no check: " + excerpt});
  }
  return problems;
}

std::set<std::string> CaseNames() {
  Catalogue catalogue;
  RegisterAllCases(catalogue, "");
  std::set<std::string> names;
  for (const Case& c : catalogue.cases()) names.insert(c.name);
  return names;
}

TEST(SpecCitations, CheckerFindsUncitedAndUnknownNamesSentenceBySentence) {
  const std::set<std::string> cases = {"Required.Walk.ZeroNamesClones"};
  const std::set<std::string> tests = {"Suite.Name"};
  const std::string doc =
      "# Title\n\nA server MUST do x (`Required.Walk.ZeroNamesClones`). A client SHOULD do y.\n"
      "It MUST NOT do z (`Suite.Name`),\nsaid on two lines, e.g. here.\n\n"
      "* A list item MUST cite `Required.Walk.NoSuchCase`.\n"
      "| a table row | SHOULD cite `No.Such` |\n\n```\nMUST in code is not prose\n```\n"
      "The key words MUST and SHOULD are used as in RFC 2119.\n";
  const std::vector<Problem> problems = CheckDocument(doc, cases, tests);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_NE(problems[0].what.find("names no check: A client SHOULD do y."), std::string::npos) << problems[0].what;
  EXPECT_NE(problems[1].what.find("Required.Walk.NoSuchCase, which is not a conformance case"), std::string::npos);
  EXPECT_EQ(problems[1].line, 7);
  EXPECT_NE(problems[2].what.find("No.Such, which is not a unit test"), std::string::npos);
}

TEST(SpecCitations, EveryNormativeSentenceNamesACheckThatExists) {
  const std::filesystem::path root = P9X_TEST_SOURCE_DIR;
  const std::set<std::string> cases = CaseNames();
  const std::set<std::string> tests = UnitTestNames(root);
  ASSERT_TRUE(tests.contains("SpecCitations.EveryNormativeSentenceNamesACheckThatExists"));
  const std::vector<std::string> guest = GuestCheckPatterns(root);
  ASSERT_TRUE(IsGuestCheck("present.cp", guest));
  ASSERT_TRUE(IsGuestCheck("host.seed-*.landed", guest));
  ASSERT_FALSE(IsGuestCheck("present.no-such-check", guest));
  for (const char* doc : {"spec/xqid.md", "spec/qid-map.md", "spec/9p2000.L.md"}) {
    const std::string text = ReadFile(root / doc);
    ASSERT_FALSE(text.empty()) << doc;
    for (const Problem& p : CheckDocument(text, cases, tests, guest)) ADD_FAILURE() << doc << ":" << p.line << ": " << p.what;
  }
}

}  // namespace
}  // namespace p9x::conformance
