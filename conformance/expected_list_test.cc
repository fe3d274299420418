// SPDX-License-Identifier: MIT
#include "conformance/expected_list.h"

#include <gtest/gtest.h>

namespace p9x::conformance {
namespace {

ExpectedList Parse(std::string_view text) {
  auto list = ExpectedList::Parse(text);
  EXPECT_TRUE(list.has_value()) << (list ? "" : list.error());
  return list ? std::move(*list) : ExpectedList{};
}

TEST(ExpectedList, ParsesNamesPatternsPrefixesAndComments) {
  const ExpectedList list = Parse(
      "# diod 1.0.24\n"
      "# second header line\n"
      "\n"
      "Required.Walk.ZeroNamesClones   # Twalk with no names: Rlerror\n"
      "Recommended.*.*Errno*\n");
  ASSERT_EQ(list.entries().size(), 2u);
  EXPECT_EQ(list.header().size(), 2u);
  EXPECT_EQ(list.entries()[0].pattern, "Required.Walk.ZeroNamesClones");
  EXPECT_EQ(list.entries()[0].message_prefix, "Twalk with no names: Rlerror");
  EXPECT_EQ(list.entries()[1].message_prefix, "");
  EXPECT_EQ(list.entries()[1].line, 5);
}

TEST(ExpectedList, RejectsMalformedPatterns) {
  EXPECT_FALSE(ExpectedList::Parse("Required..Walk\n").has_value());
  EXPECT_FALSE(ExpectedList::Parse("Required.Walk_Zero.X\n").has_value());
}

TEST(ExpectedList, WildcardsMatchPerComponent) {
  const ExpectedList list = Parse("Required.Walk.*\n*.Flush.*Tag*\n");
  EXPECT_NE(list.Match("Required.Walk.ZeroNamesClones"), nullptr);
  EXPECT_NE(list.Match("Recommended.Flush.TagReusable"), nullptr);
  EXPECT_EQ(list.Match("Required.Fid.UnknownFidRefused"), nullptr);
}

TEST(Judge, UnlistedFailureIsUnexpected) {
  EXPECT_EQ(Judge(Verdict::kFailed, "boom", nullptr), Outcome::kUnexpectedFailure);
  EXPECT_TRUE(IsUnexpected(Outcome::kUnexpectedFailure));
}

TEST(Judge, ListedPassIsAnUnexpectedPass) {
  const ExpectedList list = Parse("Required.Walk.*\n");
  EXPECT_EQ(Judge(Verdict::kPassed, "", list.Match("Required.Walk.ZeroNamesClones")), Outcome::kUnexpectedPass);
  EXPECT_TRUE(IsUnexpected(Outcome::kUnexpectedPass));
}

TEST(Judge, ListedFailureWithMatchingPrefixIsExpected) {
  const ExpectedList list = Parse("Required.Walk.ZeroNamesClones # Twalk with no names\n");
  const ExpectedEntry* e = list.Match("Required.Walk.ZeroNamesClones");
  EXPECT_EQ(Judge(Verdict::kFailed, "Twalk with no names: Rlerror EIO (5)", e), Outcome::kExpectedFailure);
  EXPECT_EQ(Judge(Verdict::kFailed, "Tgetattr: Rlerror EIO (5)", e), Outcome::kMessageMismatch);
  EXPECT_FALSE(IsUnexpected(Outcome::kExpectedFailure));
}

TEST(Judge, SkipsAreNeverJudged) {
  const ExpectedList list = Parse("Required.Walk.*\n");
  EXPECT_EQ(Judge(Verdict::kSkipped, "needs xattrs", list.Match("Required.Walk.X")), Outcome::kSkip);
  EXPECT_EQ(Judge(Verdict::kSkipped, "needs xattrs", nullptr), Outcome::kSkip);
}

TEST(StaleEntries, ReportsEntriesMatchingNoCase) {
  const ExpectedList list = Parse("Required.Walk.*\nRequired.Gone.Case\n");
  const auto stale = StaleEntries(list, {"Required.Walk.ZeroNamesClones", "Required.Fid.X"});
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].pattern, "Required.Gone.Case");
}

TEST(StablePrefix, CutsAtVariableTokens) {
  EXPECT_EQ(StablePrefix("Twalk p1/file: Rlerror ENOENT (2)"), "Twalk p1/file: Rlerror ENOENT (2)");
  EXPECT_EQ(StablePrefix("p1 and p2 share qid path {type=0x80 version=0 path=0x2}"), "p1 and p2 share qid path {type=");
  EXPECT_EQ(StablePrefix("read back 1048576 bytes"), "read back");
}

TEST(FixedList, WritesFailuresKeepsUnrunEntriesAndDropsPassesAndStale) {
  const ExpectedList old = Parse(
      "# header kept\n"
      "Required.Walk.ZeroNamesClones  # old message\n"
      "Required.Fid.*\n"
      "Required.Gone.Case\n");
  const std::vector<FixInput> cases = {
      {"Required.Walk.ZeroNamesClones", true, Verdict::kPassed, ""},                    // now passes: dropped
      {"Required.Fid.UnknownFidRefused", false, Verdict::kPassed, ""},                  // filtered out: kept
      {"Required.Negotiation.ReplyEchoesTag", true, Verdict::kFailed, "Tversion tag 1 answered with another tag"},
      {"Required.Io.WriteThenReadBack", true, Verdict::kSkipped, "needs writable export"},
  };
  const std::string fixed = FixedList(old, cases);
  EXPECT_EQ(fixed,
            "# header kept\n"
            "Required.Fid.*\n"
            "Required.Negotiation.ReplyEchoesTag  # Tversion tag 1 answered with another tag\n");
  // The rewritten list parses and judges this run as expected.
  const ExpectedList again = Parse(fixed);
  EXPECT_EQ(Judge(Verdict::kFailed, "Tversion tag 1 answered with another tag", again.Match("Required.Negotiation.ReplyEchoesTag")),
            Outcome::kExpectedFailure);
  EXPECT_EQ(again.Match("Required.Walk.ZeroNamesClones"), nullptr);
}

TEST(ExpectedList, FlakyEntryAcceptsPassAndAnyFailure) {
  const ExpectedList list = Parse("Required.Malformed.SizeZero  # flaky: ganesha answers from a stale buffer\n");
  const ExpectedEntry* entry = list.Match("Required.Malformed.SizeZero");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->flaky);
  EXPECT_EQ(Judge(Verdict::kPassed, "", entry), Outcome::kSuccess);
  EXPECT_EQ(Judge(Verdict::kFailed, "no reply within 2s", entry), Outcome::kExpectedFailure);
  EXPECT_EQ(Judge(Verdict::kFailed, "answered Rattach", entry), Outcome::kExpectedFailure);
  EXPECT_EQ(Judge(Verdict::kSkipped, "", entry), Outcome::kSkip);
}

TEST(ExpectedList, FixKeepsFlakyEntriesVerbatim) {
  const ExpectedList old = Parse(
      "Required.Malformed.SizeZero  # flaky: stale buffer\n"
      "Required.Walk.ZeroNamesClones  # old message\n");
  const std::string fixed = FixedList(old, {{"Required.Malformed.SizeZero", true, Verdict::kPassed, ""},
                                            {"Required.Walk.ZeroNamesClones", true, Verdict::kFailed, "new message"}});
  EXPECT_NE(fixed.find("Required.Malformed.SizeZero  # flaky: stale buffer\n"), std::string::npos) << fixed;
  EXPECT_NE(fixed.find("Required.Walk.ZeroNamesClones  # new message\n"), std::string::npos) << fixed;
  EXPECT_EQ(fixed.find("old message"), std::string::npos) << fixed;
}

}  // namespace
}  // namespace p9x::conformance
