// SPDX-License-Identifier: MIT
#include "conformance/catalogue.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "conformance/cases/cases.h"

namespace p9x::conformance {
namespace {

TEST(CaseName, AcceptsLevelAreaCase) {
  EXPECT_EQ(CheckCaseName("Required.Walk.ZeroNamesClones"), "");
  EXPECT_EQ(CheckCaseName("Xqid.Wire.RwalkQidsAreExtended"), "");
}

TEST(CaseName, RejectsUnderscoresWrongLevelsAndSegmentCounts) {
  EXPECT_NE(CheckCaseName("Required.Walk.Zero_Names"), "");
  EXPECT_NE(CheckCaseName("Optional.Walk.ZeroNames"), "");
  EXPECT_NE(CheckCaseName("Required.Walk"), "");
  EXPECT_NE(CheckCaseName("Required.walk.ZeroNames"), "");
  EXPECT_NE(CheckCaseName("Required.Walk.Zero.Names"), "");
}

TEST(NameMatches, StarMatchesInsideOneComponent) {
  EXPECT_TRUE(NameMatches("Required.Walk.*", "Required.Walk.ZeroNamesClones"));
  EXPECT_TRUE(NameMatches("*.Walk.*Clones", "Required.Walk.ZeroNamesClones"));
  EXPECT_TRUE(NameMatches("Required.*.*Refused", "Required.Fid.UnknownFidRefused"));
  EXPECT_FALSE(NameMatches("Required.Walk.*", "Required.Fid.UnknownFidRefused"));
  EXPECT_FALSE(NameMatches("Required.*Refused", "Required.Fid.UnknownFidRefused"));  // '*' does not cross '.'
  EXPECT_TRUE(NameMatches("Required.Walk.ZeroNamesClones", "Required.Walk.ZeroNamesClones"));
  EXPECT_FALSE(NameMatches("Required.Walk.ZeroNames", "Required.Walk.ZeroNamesClones"));
}

TEST(NameMatches, TrailingStarCoversTheRestAndCommasAlternate) {
  EXPECT_TRUE(NameMatches("Required.*", "Required.Walk.ZeroNamesClones"));
  EXPECT_FALSE(NameMatches("Recommended.*", "Required.Walk.ZeroNamesClones"));
  EXPECT_TRUE(NameMatches("Xqid.*,Required.Walk.*", "Required.Walk.ZeroNamesClones"));
}

TEST(Catalogue, EveryRegisteredCaseIsWellFormedAndUnique) {
  Catalogue catalogue;
  RegisterAllCases(catalogue, std::string(P9X_TEST_SOURCE_DIR) + "/spec/vectors");
  std::set<std::string> names;
  for (const Case& c : catalogue.cases()) {
    EXPECT_EQ(CheckCaseName(c.name), "") << c.name;
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_FALSE(c.spec.empty()) << c.name << " cites no spec";
    EXPECT_TRUE(c.name.starts_with(std::string(LevelName(c.level)) + ".")) << c.name;
  }
  EXPECT_GE(catalogue.size(), 100u);
}

// Every case named in spec/xqid.md and spec/9p2000.L.md (backquoted Level.Area.Case), read from
// the documents themselves so that the catalogue and the specs cannot drift apart.
TEST(Catalogue, HasEveryCaseTheSpecDocumentsName) {
  Catalogue catalogue;
  RegisterAllCases(catalogue, "");
  std::set<std::string> names;
  for (const Case& c : catalogue.cases()) names.insert(c.name);
  const std::regex cited("`((Required|Recommended|Xqid)\\.[A-Z][A-Za-z0-9]*\\.[A-Z][A-Za-z0-9]*)`");
  for (const char* doc : {"spec/xqid.md", "spec/9p2000.L.md"}) {
    std::ifstream in(std::string(P9X_TEST_SOURCE_DIR) + "/" + doc);
    ASSERT_TRUE(in) << doc;
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    size_t found = 0;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), cited); it != std::sregex_iterator(); ++it) {
      ++found;
      EXPECT_TRUE(names.contains((*it)[1].str())) << doc << " names " << (*it)[1].str();
    }
    EXPECT_GT(found, 10u) << doc;
  }
}

// spec/xqid.md §12: the xqid profile is the negotiation cases and the Xqid cases; base is the
// rest of the catalogue's levels; the two together are every case.
TEST(Catalogue, ProfilesSelectWhatTheSpecSays) {
  Catalogue catalogue;
  RegisterAllCases(catalogue, "");
  const auto xqid = catalogue.Select("", Profile::kXqid);
  const auto base = catalogue.Select("", Profile::kBase);
  size_t negotiation = 0, xqid_level = 0;
  for (const Case& c : catalogue.cases()) {
    negotiation += c.area() == "Negotiation" && c.level != Level::kXqid;
    xqid_level += c.level == Level::kXqid;
  }
  EXPECT_GE(negotiation, 20u);
  EXPECT_GT(xqid_level, 10u);
  EXPECT_EQ(xqid.size(), negotiation + xqid_level);
  for (const Case* c : xqid) EXPECT_TRUE(c->level == Level::kXqid || c->area() == "Negotiation") << c->name;
  for (const Case* c : base) EXPECT_NE(c->level, Level::kXqid) << c->name;
  EXPECT_EQ(base.size() + xqid_level, catalogue.size());
  EXPECT_EQ(catalogue.Select("Required.*", Profile::kXqid).size(),
            catalogue.Select("Required.Negotiation.*").size());
  EXPECT_EQ(ProfileFromName("xqid"), Profile::kXqid);
  EXPECT_EQ(ProfileFromName("base"), Profile::kBase);
  EXPECT_EQ(ProfileFromName("all"), Profile::kAll);
  EXPECT_FALSE(ProfileFromName("Xqid").has_value());
}

TEST(Catalogue, LevelComesFromTheName) {
  Catalogue catalogue;
  catalogue.Add({.name = "Xqid.Walk.Example", .spec = "s", .needs = {}, .run = [](CaseContext&) {}});
  catalogue.Add({.name = "Recommended.Walk.Example", .spec = "s", .needs = {}, .run = [](CaseContext&) {}});
  EXPECT_EQ(catalogue.cases()[0].level, Level::kXqid);
  EXPECT_EQ(catalogue.cases()[1].level, Level::kRecommended);
}

TEST(Catalogue, DescribeSaysLevelProfilesNeedsSpecAndChecks) {
  Catalogue catalogue;
  RegisterAllCases(catalogue, "");
  const auto found = catalogue.Select("Required.Negotiation.ReplyEchoesTag");
  ASSERT_EQ(found.size(), 1u);
  const std::string text = DescribeCase(*found[0]);
  for (const char* part : {"Required.Negotiation.ReplyEchoesTag\n", "level:    Required (a MUST", "profiles: xqid, base",
                           "needs:    nothing", "spec:     version(5)", "checks:   Sends Tversion with tag NOTAG"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " in\n" << text;
  }
  // Every negotiation case says what it sends and expects.
  for (const Case* c : catalogue.Select("*.Negotiation.*")) EXPECT_FALSE(c->checks.empty()) << c->name;
}

TEST(Catalogue, SelectFiltersByPattern) {
  Catalogue catalogue;
  RegisterAllCases(catalogue, "");
  const auto walk = catalogue.Select("Required.Walk.*");
  ASSERT_FALSE(walk.empty());
  for (const Case* c : walk) EXPECT_EQ(c->area(), "Walk");
  EXPECT_EQ(catalogue.Select("").size(), catalogue.size());
}

}  // namespace
}  // namespace p9x::conformance
