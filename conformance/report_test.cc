#include <gtest/gtest.h>

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

}  // namespace
}  // namespace p9x::conformance
