// SPDX-License-Identifier: MIT
// The report in its three other forms: protobuf JSON (read and write), JUnit XML, and the
// terminal summary.
#include <google/protobuf/util/json_util.h>

#include <map>
#include <string>

#include "conformance/runner.h"

namespace p9x::conformance {

std::string MarkupEscape(std::string_view s) {
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
        // XML 1.0 and HTML forbid most control characters even escaped; a server's bytes may
        // contain any.
        out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
    }
  }
  return out;
}

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
  // Cases not run (the server died) are skipped testcases; the death itself is the suite's one
  // error, so that a JUnit reader fails the run as p9x-conform's exit status does.
  const std::string counts = "tests=\"" + std::to_string(report.cases_size()) + "\" failures=\"" +
                             std::to_string(failures) + "\" errors=\"" +
                             std::string(report.server_died_in().empty() ? "0" : "1") + "\" skipped=\"" +
                             std::to_string(s.skipped() + s.not_run()) + "\"";
  out += "<testsuites name=\"p9x-conform\" " + counts + ">\n";
  out += "  <testsuite name=\"" + MarkupEscape("p9x-conform " + report.target() + " " + report.session().dialect()) +
         "\" " + counts + ">\n";
  if (!report.server_died_in().empty()) {
    out += "    <system-err>" + MarkupEscape(ServerDiedLine(report)) + "</system-err>\n";
  }
  for (const proto::CaseResult& c : report.cases()) {
    const size_t last_dot = c.name().rfind('.');
    out += "    <testcase classname=\"" + MarkupEscape(c.name().substr(0, last_dot)) + "\" name=\"" +
           MarkupEscape(c.name().substr(last_dot + 1)) + "\" time=\"" +
           std::to_string(static_cast<double>(c.duration_micros()) / 1e6) + "\">\n";
    switch (c.outcome()) {
      case proto::SKIP:
        out += "      <skipped message=\"" + MarkupEscape(c.skip_reason()) + "\"/>\n";
        break;
      case proto::UNEXPECTED_FAILURE:
      case proto::MESSAGE_MISMATCH:
        out += "      <failure type=\"" + std::string(proto::Outcome_Name(c.outcome())) + "\" message=\"" +
               MarkupEscape(c.failure_message()) + "\">" + MarkupEscape(c.spec()) + "</failure>\n";
        break;
      case proto::UNEXPECTED_PASS:
        out += "      <failure type=\"UNEXPECTED_PASS\" message=\"listed in " + MarkupEscape(report.expected_list()) +
               " as " + MarkupEscape(c.expected_entry()) + " but passed: remove it (--fix)\"/>\n";
        break;
      case proto::EXPECTED_FAILURE:
        out += "      <skipped message=\"expected failure: " + MarkupEscape(c.failure_message()) + "\"/>\n";
        break;
      case proto::SERVER_GONE:
        out += "      <skipped message=\"" + MarkupEscape(c.skip_reason()) + "\"/>\n";
        break;
      default:
        break;
    }
    if (c.status() == proto::FAILED) out += "      <system-out>" + MarkupEscape(c.transcript_pretty()) + "</system-out>\n";
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string SummaryLine(const proto::Summary& s) {
  return std::string("CONFORMANCE SUITE ") + (s.passed() ? "PASSED" : "FAILED") + ": " +
         std::to_string(s.successes()) + " successes, " + std::to_string(s.skipped()) + " skipped, " +
         std::to_string(s.expected_failures()) + " expected failures, " +
         std::to_string(s.unexpected_failures()) + " unexpected failures" +
         (s.not_run() > 0 ? ", " + std::to_string(s.not_run()) + " not run." : std::string("."));
}

std::string ServerDiedLine(const proto::Report& report) {
  if (report.server_died_in().empty()) return "";
  const proto::Summary& s = report.summary();
  return std::to_string(s.unexpected_failures()) + " real failure" + (s.unexpected_failures() == 1 ? "" : "s") +
         ", then the server died in case " + report.server_died_in() + " (" + report.server_died_why() + "), " +
         std::to_string(s.not_run()) + " case" + (s.not_run() == 1 ? "" : "s") + " not run.";
}

void PrintSummary(const proto::Report& report, FILE* out) {
  struct Row {
    int pass = 0, fail = 0, xfail = 0, unexpected = 0, skip = 0, not_run = 0;
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
        case proto::SERVER_GONE:
          ++row->not_run;
          break;
        default:
          ++row->unexpected;
          break;
      }
      if (c.status() == proto::FAILED) ++row->fail;
    }
  }
  std::fprintf(out, "\n%-14s %6s %6s %6s %6s %6s %7s\n", "area", "pass", "fail", "xfail", "unexp", "skip", "not run");
  std::fprintf(out, "%-14s %6s %6s %6s %6s %6s %7s\n", "--------------", "----", "----", "-----", "-----", "----",
               "-------");
  for (const auto& [area, r] : rows) {
    std::fprintf(out, "%-14s %6d %6d %6d %6d %6d %7d\n", area.c_str(), r.pass, r.fail, r.xfail, r.unexpected, r.skip,
                 r.not_run);
  }
  std::fprintf(out, "%-14s %6d %6d %6d %6d %6d %7d\n", "total", total.pass, total.fail, total.xfail,
               total.unexpected, total.skip, total.not_run);

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
  if (!report.server_died_in().empty()) std::fprintf(out, "\n%s\n", ServerDiedLine(report).c_str());
  std::fprintf(out, "\n%s\n", SummaryLine(report.summary()).c_str());
}

}  // namespace p9x::conformance
