// The run's report in its three forms: JSON (the protobuf mapping), JUnit XML and the terminal
// summary.
#include <google/protobuf/util/json_util.h>

#include <map>
#include <string>

#include "conformance/runner.h"

namespace p9x::conformance {
namespace {

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
      case '\t':
        out += static_cast<char>(c);
        break;
      default:
        // XML 1.0 forbids most control characters even escaped.
        if (c < 0x20) {
          out += '?';
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace

std::string ReportToJson(const proto::Report& report) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(report, &json, options);
  return json;
}

bool JsonToReport(const std::string& json, proto::Report* report, std::string* error) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, report, options);
  if (!status.ok()) {
    *error = std::string(status.message());
    return false;
  }
  return true;
}

std::string ReportToJunit(const proto::Report& report) {
  const proto::Summary& s = report.summary();
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const uint32_t failures = s.unexpected_failures();
  out += "<testsuites name=\"p9x-conform\" tests=\"" + std::to_string(report.cases_size()) +
         "\" failures=\"" + std::to_string(failures) + "\" skipped=\"" + std::to_string(s.skipped()) + "\">\n";
  out += "  <testsuite name=\"" + XmlEscape("p9x-conform " + report.target() + " " + report.session().dialect()) +
         "\" tests=\"" + std::to_string(report.cases_size()) + "\" failures=\"" + std::to_string(failures) +
         "\" skipped=\"" + std::to_string(s.skipped()) + "\">\n";
  for (const proto::CaseResult& c : report.cases()) {
    const size_t last_dot = c.name().rfind('.');
    out += "    <testcase classname=\"" + XmlEscape(c.name().substr(0, last_dot)) + "\" name=\"" +
           XmlEscape(c.name().substr(last_dot + 1)) + "\" time=\"" +
           std::to_string(static_cast<double>(c.duration_micros()) / 1e6) + "\">\n";
    switch (c.outcome()) {
      case proto::SKIP:
        out += "      <skipped message=\"" + XmlEscape(c.skip_reason()) + "\"/>\n";
        break;
      case proto::UNEXPECTED_FAILURE:
      case proto::MESSAGE_MISMATCH:
        out += "      <failure type=\"" + std::string(proto::Outcome_Name(c.outcome())) + "\" message=\"" +
               XmlEscape(c.failure_message()) + "\">" + XmlEscape(c.spec()) + "</failure>\n";
        break;
      case proto::UNEXPECTED_PASS:
        out += "      <failure type=\"UNEXPECTED_PASS\" message=\"listed in " + XmlEscape(report.expected_list()) +
               " as " + XmlEscape(c.expected_entry()) + " but passed: remove it (--fix)\"/>\n";
        break;
      case proto::EXPECTED_FAILURE:
        out += "      <skipped message=\"expected failure: " + XmlEscape(c.failure_message()) + "\"/>\n";
        break;
      default:
        break;
    }
    if (c.status() == proto::FAILED) out += "      <system-out>" + XmlEscape(c.transcript_pretty()) + "</system-out>\n";
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string SummaryLine(const proto::Summary& s) {
  return std::string("CONFORMANCE SUITE ") + (s.passed() ? "PASSED" : "FAILED") + ": " +
         std::to_string(s.successes()) + " successes, " + std::to_string(s.skipped()) + " skipped, " +
         std::to_string(s.expected_failures()) + " expected failures, " +
         std::to_string(s.unexpected_failures()) + " unexpected failures.";
}

void PrintSummary(const proto::Report& report, FILE* out) {
  struct Row {
    int pass = 0, fail = 0, xfail = 0, unexpected = 0, skip = 0;
  };
  std::map<std::string, Row> rows;
  Row total;
  for (const proto::CaseResult& c : report.cases()) {
    Row& r = rows[c.area()];
    for (Row* row : {&r, &total}) {
      switch (c.outcome()) {
        case proto::SUCCESS:
          ++row->pass;
          break;
        case proto::EXPECTED_FAILURE:
          ++row->xfail;
          break;
        case proto::SKIP:
          ++row->skip;
          break;
        default:
          ++row->unexpected;
          break;
      }
      if (c.status() == proto::FAILED) ++row->fail;
    }
  }
  std::fprintf(out, "\n%-14s %6s %6s %6s %6s %6s\n", "area", "pass", "fail", "xfail", "unexp", "skip");
  std::fprintf(out, "%-14s %6s %6s %6s %6s %6s\n", "--------------", "----", "----", "-----", "-----", "----");
  for (const auto& [area, r] : rows) {
    std::fprintf(out, "%-14s %6d %6d %6d %6d %6d\n", area.c_str(), r.pass, r.fail, r.xfail, r.unexpected, r.skip);
  }
  std::fprintf(out, "%-14s %6d %6d %6d %6d %6d\n", "total", total.pass, total.fail, total.xfail,
               total.unexpected, total.skip);

  if (report.server_restarts_size() > 0) {
    std::fprintf(out, "\nThe server stopped answering and was restarted (--restart-cmd) after:\n");
    for (const std::string& after : report.server_restarts()) std::fprintf(out, "  %s\n", after.c_str());
  }

  bool header = false;
  for (const proto::CaseResult& c : report.cases()) {
    if (c.outcome() != proto::UNEXPECTED_FAILURE && c.outcome() != proto::UNEXPECTED_PASS && c.outcome() != proto::MESSAGE_MISMATCH) {
      continue;
    }
    if (!header) {
      std::fprintf(out, "\nUnexpected results:\n");
      header = true;
    }
    if (c.outcome() == proto::UNEXPECTED_PASS) {
      std::fprintf(out, "  %-52s UNEXPECTED PASS (listed as %s)\n", c.name().c_str(), c.expected_entry().c_str());
    } else {
      std::fprintf(out, "  %-52s %s\n", c.name().c_str(), c.failure_message().c_str());
    }
  }
  for (const std::string& stale : report.stale_entries()) {
    std::fprintf(out, "  stale expected-failure entry (matches no case): %s\n", stale.c_str());
  }
  if (!report.summary().passed() && !report.expected_list().empty()) {
    std::fprintf(out, "\nTo accept the current results, rerun with --fix (rewrites %s).\n",
                 report.expected_list().c_str());
  }
  std::fprintf(out, "\n%s\n", SummaryLine(report.summary()).c_str());
}

}  // namespace p9x::conformance
