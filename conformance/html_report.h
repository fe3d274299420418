// SPDX-License-Identifier: MIT
// HTML views of p9x-conform reports, rendered from the report protobuf (the JSON report's
// schema, conformance/report.proto), so a page says exactly what the JSON says. Each page is one
// self-contained file: inline CSS and script, no network access, no external asset; its filters
// work when the file is opened from disk.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/report.pb.h"

namespace p9x::conformance {

// One run: target, dialect and capabilities; totals per level and per area; every case with its
// level, spec citation and duration, failures first and expanded with their transcripts (pretty
// and hex); filters by area, level and status.
std::string ReportToHtml(const proto::Report& report);

// A report and the column heading it gets on the comparison page (e.g. "diod-auto").
struct LabelledReport {
  std::string label;
  proto::Report report;
};

// Several runs side by side: per-area totals per server, then one row per case (the union of
// the reports' cases, in the order first seen) and one column per server, each cell the case's
// status with its failure or skip message on hover and on expand.
std::string CompareToHtml(const std::vector<LabelledReport>& reports);

// The status a page shows for a case: "failed" (an unexpected result: failure, message mismatch
// or unexpected pass), "xfail", "passed", "skipped" or "not-run".
std::string DisplayStatus(const proto::CaseResult& c);

}  // namespace p9x::conformance

namespace p9x::conformance {

// The subcommands that render saved JSON reports (exit status 0, or 64 with a message on `err`
// for bad arguments, 1 for an unreadable report or an unwritable output):
//   compare A.json B.json ... --html OUT   one column per report, headed by the file's stem
//   render A.json --html OUT              the single-run page of a saved report
int RunReportCommand(std::string_view command, const std::vector<std::string>& args, FILE* err);

}  // namespace p9x::conformance
