// SPDX-License-Identifier: MIT
// The run: negotiate, probe capabilities, create the scratch directory, run the selected cases,
// remove the scratch directory, judge the results against the expected-failure list, report.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "conformance/catalogue.h"
#include "conformance/report.pb.h"

namespace p9x::conformance {

struct RunOptions {
  std::string target;
  std::string aname;
  std::string uname = "root";
  uint32_t n_uname = 0;
  std::string dialect = "auto";  // auto | xqid | legacy
  std::string local_root;
  std::string filter;
  Profile profile = Profile::kAll;  // spec/xqid.md §12
  uint32_t msize = 128 * 1024;
  int timeout_ms = 5000;
  std::string json;
  std::string junit;
  std::string html;  // a self-contained HTML page of the report (conformance/html_report.h)
  std::string expected;  // expected-failure list
  bool fix = false;
  bool keep_scratch = false;
  bool verbose = false;  // print every failing case's transcript
  std::string vectors_dir;
  // A shell command that brings the server back when it stops answering (it crashed): run with
  // /bin/sh -c after a failed case when a fresh connection gets no Rversion; the run then goes
  // on against the restarted server. Empty: every later case fails "the server is gone".
  std::string restart_cmd;
  int max_restarts = 64;  // after this many restarts a dead server stays dead
};

// Runs the catalogue; returns the exit status (0 iff no unexpected result; 2 when the run could
// not start). Progress and the summary go to `out`.
int RunConformance(const RunOptions& options, const Catalogue& catalogue, FILE* out);

// Reports (conformance/report.cc).
std::string ReportToJson(const proto::Report& report);
bool JsonToReport(const std::string& json, proto::Report* report, std::string* error);
std::string ReportToJunit(const proto::Report& report);
// `s` as text or an attribute value in XML and HTML: <>&" escaped, control characters other than
// newline and tab replaced by '?'.
std::string MarkupEscape(std::string_view s);
// The per-area table, the list of unexpected results, and the protobuf-style summary line.
void PrintSummary(const proto::Report& report, FILE* out);
// "CONFORMANCE SUITE PASSED|FAILED: N successes, K skipped, E expected failures, U unexpected failures."
std::string SummaryLine(const proto::Summary& summary);
// When the server died for good: "N real failures, then the server died in case X (why), M cases
// not run."; "" otherwise.
std::string ServerDiedLine(const proto::Report& report);

}  // namespace p9x::conformance
