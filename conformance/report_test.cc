// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include "conformance/html_report.h"
#include "conformance/runner.h"

namespace p9x::conformance {
namespace {

proto::Report SampleReport() {
  proto::Report report;
  report.set_tool("p9x-conform test");
  report.set_target("tcp:127.0.0.1:1");
  report.mutable_session()->set_version("9P2000.L");
  report.mutable_session()->set_msize(65536);
  report.mutable_session()->set_dialect("legacy");
  auto* pass = report.add_cases();
  pass->set_name("Required.Walk.ZeroNamesClones");
  pass->set_level(proto::REQUIRED);
  pass->set_area("Walk");
  pass->set_status(proto::PASSED);
  pass->set_outcome(proto::SUCCESS);
  auto* fail = report.add_cases();
  fail->set_name("Required.Negotiation.UnknownVersionAnsweredUnknown");
  fail->set_level(proto::REQUIRED);
  fail->set_area("Negotiation");
  fail->set_status(proto::FAILED);
  fail->set_outcome(proto::UNEXPECTED_FAILURE);
  fail->set_failure_message("Tversion \"x\": Rlerror EIO (5) <&>");
  fail->set_transcript_pretty("c1 -> Tversion{tag=65535 msize=65536 version=\"x\"}\n");
  auto* skip = report.add_cases();
  skip->set_name("Required.Xattr.SetThenGet");
  skip->set_status(proto::SKIPPED);
  skip->set_outcome(proto::SKIP);
  skip->set_skip_reason("needs xattrs");
  proto::Summary* s = report.mutable_summary();
  s->set_successes(1);
  s->set_skipped(1);
  s->set_unexpected_failures(1);
  s->set_passed(false);
  return report;
}

TEST(ReportJson, RoundTripsThroughTheProtoSchema) {
  const proto::Report report = SampleReport();
  const std::string json = ReportToJson(report);
  EXPECT_NE(json.find("\"failure_message\""), std::string::npos);
  EXPECT_NE(json.find("\"UNEXPECTED_FAILURE\""), std::string::npos);
  proto::Report back;
  std::string error;
  ASSERT_TRUE(JsonToReport(json, &back, &error)) << error;
  EXPECT_EQ(back.SerializeAsString(), report.SerializeAsString());
}

TEST(ReportJson, RejectsJsonThatIsNotAReport) {
  proto::Report back;
  std::string error;
  EXPECT_FALSE(JsonToReport("{\"no_such_field\": 1}", &back, &error));
  EXPECT_FALSE(error.empty());
}

TEST(ReportJunit, HasOneTestcasePerCaseWithEscapedFailures) {
  const std::string xml = ReportToJunit(SampleReport());
  EXPECT_NE(xml.find("tests=\"3\""), std::string::npos);
  EXPECT_NE(xml.find("classname=\"Required.Walk\" name=\"ZeroNamesClones\""), std::string::npos);
  EXPECT_NE(xml.find("<failure type=\"UNEXPECTED_FAILURE\""), std::string::npos);
  EXPECT_NE(xml.find("&lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"needs xattrs\"/>"), std::string::npos);
}

TEST(SummaryLine, FollowsProtobufsFormat) {
  proto::Summary s;
  s.set_successes(120);
  s.set_skipped(3);
  s.set_expected_failures(4);
  s.set_unexpected_failures(0);
  s.set_passed(true);
  EXPECT_EQ(SummaryLine(s),
            "CONFORMANCE SUITE PASSED: 120 successes, 3 skipped, 4 expected failures, 0 unexpected failures.");
  s.set_unexpected_failures(2);
  s.set_passed(false);
  EXPECT_EQ(SummaryLine(s),
            "CONFORMANCE SUITE FAILED: 120 successes, 3 skipped, 4 expected failures, 2 unexpected failures.");
}

// SampleReport, then the server died during its failing case and one more case did not run.
proto::Report ReportWhereTheServerDied() {
  proto::Report report = SampleReport();
  report.set_server_died_in("Required.Negotiation.UnknownVersionAnsweredUnknown");
  report.set_server_died_why("ECONNREFUSED (Connection refused)");
  auto* not_run = report.add_cases();
  not_run->set_name("Required.Walk.DotDotAtRootIsNoOp");
  not_run->set_level(proto::REQUIRED);
  not_run->set_area("Walk");
  not_run->set_status(proto::NOT_RUN);
  not_run->set_outcome(proto::SERVER_GONE);
  not_run->set_skip_reason("not run: the server stopped answering during Required.Negotiation.UnknownVersionAnsweredUnknown");
  report.mutable_summary()->set_not_run(1);
  return report;
}

TEST(NotRun, SummaryAndDeathLinesCountNotRunCasesApartFromFailures) {
  const proto::Report report = ReportWhereTheServerDied();
  EXPECT_EQ(SummaryLine(report.summary()),
            "CONFORMANCE SUITE FAILED: 1 successes, 1 skipped, 0 expected failures, 1 unexpected failures, 1 not run.");
  EXPECT_EQ(ServerDiedLine(report),
            "1 real failure, then the server died in case Required.Negotiation.UnknownVersionAnsweredUnknown "
            "(ECONNREFUSED (Connection refused)), 1 case not run.");
  EXPECT_EQ(ServerDiedLine(SampleReport()), "");
}

TEST(NotRun, JunitSkipsNotRunCasesAndReportsTheDeathAsTheSuitesError) {
  const std::string xml = ReportToJunit(ReportWhereTheServerDied());
  EXPECT_NE(xml.find("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<skipped message=\"not run: the server stopped answering during "), std::string::npos);
  EXPECT_NE(xml.find("<system-err>1 real failure, then the server died"), std::string::npos);
  EXPECT_NE(ReportToJunit(SampleReport()).find("errors=\"0\""), std::string::npos);
}

TEST(HtmlReport, ListsFailuresFirstAndOpenEscapedAndSelfContained) {
  const std::string html = ReportToHtml(ReportWhereTheServerDied());
  const size_t failed = html.find("Required.Negotiation.UnknownVersionAnsweredUnknown</span>");
  const size_t passed = html.find("Required.Walk.ZeroNamesClones</span>");
  ASSERT_NE(failed, std::string::npos);
  ASSERT_NE(passed, std::string::npos);
  EXPECT_LT(failed, passed);
  EXPECT_NE(html.find("data-status=\"failed\" open>"), std::string::npos);
  EXPECT_NE(html.find("data-status=\"not-run\">"), std::string::npos);
  EXPECT_NE(html.find("Rlerror EIO (5) &lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(html.find("then the server died in case"), std::string::npos);
  // Nothing fetched from elsewhere: no URL, no src or href attribute.
  for (const char* external : {"http:", "https:", "src=", "href=", "@import"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
}

TEST(HtmlCompare, OneRowPerCaseOfAnyReportAndOneColumnPerReport) {
  std::vector<LabelledReport> reports = {{"one", SampleReport()}, {"two", ReportWhereTheServerDied()}};
  const std::string html = CompareToHtml(reports);
  size_t rows = 0;
  for (size_t at = html.find("<tr class=\"row\""); at != std::string::npos; at = html.find("<tr class=\"row\"", at + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, 4u);
  // The case only the second report has: absent from the first, not run in the second.
  EXPECT_NE(html.find("data-status=\"absent not-run\" data-differ=\"yes\""), std::string::npos);
  EXPECT_NE(html.find("data-status=\"passed passed\" data-differ=\"no\""), std::string::npos);
  EXPECT_NE(html.find("<th>one</th><th>two</th>"), std::string::npos);
}

}  // namespace
}  // namespace p9x::conformance
