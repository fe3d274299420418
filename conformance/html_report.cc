// SPDX-License-Identifier: MIT
// Renders p9x-conform reports (the protobuf behind --json) as self-contained HTML pages.
#include "conformance/html_report.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <set>
#include <string_view>

#include "conformance/runner.h"

namespace p9x::conformance {
namespace {

std::string Escape(std::string_view s) { return MarkupEscape(s); }

// The statuses in the order the summaries list them, with their column headings.
constexpr std::array<std::string_view, 5> kStatuses = {"passed", "failed", "xfail", "skipped", "not-run"};
constexpr std::array<std::string_view, 5> kStatusHeadings = {"pass", "fail", "xfail", "skip", "not run"};
constexpr std::array<std::string_view, 5> kStatusMeanings = {
    "passed", "failed (an unexpected result)", "expected failure (listed in the expected-failure list)",
    "skipped (a capability is absent or the dialect was not negotiated)",
    "not run (the server had stopped answering)"};

std::string_view BadgeText(std::string_view status) {
  if (status == "passed") return "PASS";
  if (status == "failed") return "FAIL";
  if (status == "xfail") return "XFAIL";
  if (status == "skipped") return "SKIP";
  if (status == "not-run") return "NOT RUN";
  return "—";
}

std::string LevelText(proto::Level level) {
  switch (level) {
    case proto::REQUIRED:
      return "Required";
    case proto::RECOMMENDED:
      return "Recommended";
    case proto::XQID:
      return "Xqid";
    default:
      return "Unspecified";
  }
}

std::string Duration(uint64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(micros) / 1000.0);
  return buf;
}

// The message a case's status comes with (failure, skip or not-run reason, unexpected pass).
std::string CaseMessage(const proto::CaseResult& c) {
  if (c.outcome() == proto::UNEXPECTED_PASS) {
    return "passed, but the expected-failure list has it (" + c.expected_entry() + "): remove the entry";
  }
  if (c.status() == proto::FAILED) {
    std::string m = c.failure_message();
    if (c.outcome() == proto::MESSAGE_MISMATCH) m += " (the list expects: " + c.expected_entry() + ")";
    return m;
  }
  return c.skip_reason();
}

using Counts = std::array<int, kStatuses.size()>;

int StatusIndex(std::string_view status) {
  return static_cast<int>(std::find(kStatuses.begin(), kStatuses.end(), status) - kStatuses.begin());
}

// One table of counts: a row per key, a column per status, a total row; non-zero cells coloured.
std::string CountsTable(std::string_view caption, std::string_view key_heading,
                        const std::vector<std::pair<std::string, Counts>>& rows) {
  std::string h = "<div class=\"scroll\"><table class=\"counts\"><caption>" + Escape(caption) + "</caption>\n<thead><tr><th>" +
                  Escape(key_heading) + "</th>";
  for (size_t i = 0; i < kStatusHeadings.size(); ++i) {
    h += "<th><abbr title=\"" + Escape(kStatusMeanings[i]) + "\">" + Escape(kStatusHeadings[i]) + "</abbr></th>";
  }
  h += "<th>total</th></tr></thead>\n<tbody>\n";
  Counts total{};
  auto row = [&](const std::string& key, const Counts& counts, bool is_total) {
    h += is_total ? "<tr class=\"total\"><th>" : "<tr><th>";
    h += Escape(key) + "</th>";
    int sum = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      sum += counts[i];
      h += counts[i] == 0 ? "<td class=\"zero\">0</td>"
                          : "<td class=\"s-" + std::string(kStatuses[i]) + "\">" + std::to_string(counts[i]) + "</td>";
    }
    h += "<td>" + std::to_string(sum) + "</td></tr>\n";
  };
  for (const auto& [key, counts] : rows) {
    row(key, counts, false);
    for (size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
  }
  row("total", total, true);
  h += "</tbody></table></div>\n";
  return h;
}

constexpr char kStyle[] = R"css(
:root { --pass:#1a7f37; --fail:#cf222e; --xfail:#9a6700; --skip:#57606a; --notrun:#8250df; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1f2328;
       background: #f6f8fa; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 .6rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
.verdict { padding: .6rem .8rem; border-radius: 6px; color: #fff; font-weight: 600; overflow-wrap: anywhere; }
.verdict.ok { background: var(--pass); } .verdict.bad { background: var(--fail); }
.died { margin: .5rem 0; padding: .5rem .8rem; border-left: 4px solid var(--notrun); background: #fbefff;
        overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; margin: .6rem 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; background: #fff; margin: .3rem 0 .8rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: right; }
th:first-child { text-align: left; }
tr.total th, tr.total td { font-weight: 700; }
td.zero { color: #8c959f; }
td.s-passed { background: #dafbe1; } td.s-failed { background: #ffebe9; color: var(--fail); font-weight: 700; }
td.s-xfail { background: #fff8c5; } td.s-skipped { background: #eaeef2; } td.s-not-run { background: #fbefff; }
.caps th, .caps td { text-align: left; overflow-wrap: anywhere; } .caps td.yes { color: var(--pass); } .caps td.no { color: var(--fail); }
.badge { display: inline-block; min-width: 4.2em; text-align: center; border-radius: 4px; padding: 0 .3em;
         font: 700 .75rem/1.6 ui-monospace, "DejaVu Sans Mono", monospace; color: #fff; }
.b-passed { background: var(--pass); } .b-failed { background: var(--fail); } .b-xfail { background: var(--xfail); }
.b-skipped { background: var(--skip); } .b-not-run { background: var(--notrun); } .b-absent { background: #d0d7de; color: #1f2328; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .4rem 0 .6rem; }
form.filters label { display: flex; gap: .3rem; align-items: center; }
#shown { color: #57606a; }
details.case { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: .3rem 0; }
details.case > summary { cursor: pointer; padding: .35rem .6rem; display: flex; flex-wrap: wrap; gap: .2rem .6rem;
                         align-items: baseline; }
details.case.failed { border-color: var(--fail); }
.name { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9rem; overflow-wrap: anywhere; flex: 1 1 16rem; }
.meta { color: #57606a; font-size: .85rem; white-space: nowrap; }
.body { padding: 0 .8rem .6rem; overflow-wrap: anywhere; }
.msg { font-weight: 600; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; padding: .5rem; font-size: .78rem;
      white-space: pre-wrap; word-break: break-all; max-height: 28rem; overflow: auto; }
table.matrix td { text-align: center; } table.matrix td.case { text-align: left; }
table.matrix td.case { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; overflow-wrap: anywhere;
                       min-width: 12rem; }
table.matrix details summary { list-style: none; cursor: pointer; }
table.matrix details p { max-width: 22rem; margin: .3rem 0; text-align: left; font-size: .8rem; overflow-wrap: anywhere; }
[hidden] { display: none !important; }
abbr { text-decoration: none; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2rem; align-items: flex-start; }
td small { font-weight: 400; }
@media (max-width: 600px) {
  body { font-size: 14px; } main { padding: .6rem; } th, td { padding: .2rem .3rem; }
  table.counts { font-size: .8rem; }
  dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: .4rem; }
}
@media print { form.filters, #shown { display: none; } body { background: #fff; } details.case { break-inside: avoid; } }
)css";

// Filters: every element with class "row" carries data-area, data-level and data-status (a
// space-separated list on the comparison page: one status per server); a row is shown when it
// matches every selected filter.
constexpr char kScript[] = R"js(
(function () {
  var form = document.querySelector('form.filters');
  var rows = Array.prototype.slice.call(document.querySelectorAll('.row'));
  var shown = document.getElementById('shown');
  function apply() {
    var area = form.elements.area.value, level = form.elements.level.value, status = form.elements.status.value;
    var differ = form.elements.differ && form.elements.differ.checked;
    var n = 0;
    rows.forEach(function (row) {
      var statuses = row.getAttribute('data-status').split(' ');
      var ok = (!area || row.getAttribute('data-area') === area) &&
               (!level || row.getAttribute('data-level') === level) &&
               (!status || statuses.indexOf(status) >= 0) &&
               (!differ || row.getAttribute('data-differ') === 'yes');
      row.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + ' of ' + rows.length + ' cases shown';
  }
  form.addEventListener('change', apply);
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  apply();
})();
)js";

std::string PageStart(std::string_view title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         Escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n";
}

std::string PageEnd() { return std::string("</main>\n<script>") + kScript + "</script>\n</body>\n</html>\n"; }

std::string Select(std::string_view name, std::string_view label, const std::vector<std::string>& values) {
  std::string h = "<label>" + Escape(label) + " <select name=\"" + Escape(name) + "\" id=\"f-" + Escape(name) +
                  "\"><option value=\"\">all</option>";
  for (const std::string& v : values) h += "<option value=\"" + Escape(v) + "\">" + Escape(v) + "</option>";
  return h + "</select></label>";
}

std::vector<std::string> StatusValues() { return {kStatuses.begin(), kStatuses.end()}; }

std::string Badge(std::string_view status) {
  return "<span class=\"badge b-" + std::string(status) + "\">" + std::string(BadgeText(status)) + "</span>";
}

void Fact(std::string& h, std::string_view term, std::string_view value) {
  if (value.empty()) return;
  h += "<dt>" + Escape(term) + "</dt><dd>" + Escape(value) + "</dd>\n";
}

std::string CaseDetails(const proto::CaseResult& c) {
  const std::string status = DisplayStatus(c);
  const std::string level = LevelText(c.level());
  std::string h = "<details class=\"case row " + status + "\" data-area=\"" + Escape(c.area()) + "\" data-level=\"" +
                  level + "\" data-status=\"" + status + "\"" + (status == "failed" ? " open" : "") + ">\n<summary>" +
                  Badge(status) + "<span class=\"name\">" + Escape(c.name()) + "</span><span class=\"meta\">" + level +
                  " · " + Duration(c.duration_micros()) + "</span></summary>\n<div class=\"body\">\n";
  const std::string message = CaseMessage(c);
  if (!message.empty()) h += "<p class=\"msg\">" + Escape(message) + "</p>\n";
  if (!c.spec().empty()) h += "<p><b>Spec:</b> " + Escape(c.spec()) + "</p>\n";
  if (!c.expected_entry().empty() && c.outcome() != proto::UNEXPECTED_PASS) {
    h += "<p><b>Expected-failure entry:</b> " + Escape(c.expected_entry()) + "</p>\n";
  }
  if (c.needs_size() > 0) {
    std::string needs;
    for (const std::string& n : c.needs()) needs += (needs.empty() ? "" : ", ") + n;
    h += "<p><b>Needs:</b> " + Escape(needs) + "</p>\n";
  }
  for (const std::string& n : c.nonconformances()) h += "<p><b>Tolerated deviation:</b> " + Escape(n) + "</p>\n";
  if (!c.transcript_pretty().empty()) {
    const char* cut = c.transcript_truncated() ? " (truncated)" : "";
    h += "<p><b>Transcript</b>" + std::string(cut) + "</p>\n<pre>" + Escape(c.transcript_pretty()) + "</pre>\n";
    if (!c.transcript_hex().empty()) {
      h += "<details><summary>Transcript in hex</summary>\n<pre>" + Escape(c.transcript_hex()) + "</pre></details>\n";
    }
  }
  return h + "</div>\n</details>\n";
}

}  // namespace

std::string DisplayStatus(const proto::CaseResult& c) {
  switch (c.outcome()) {
    case proto::SUCCESS:
      return "passed";
    case proto::EXPECTED_FAILURE:
      return "xfail";
    case proto::SKIP:
      return "skipped";
    case proto::SERVER_GONE:
      return "not-run";
    default:
      return "failed";
  }
}

std::string ReportToHtml(const proto::Report& report) {
  const proto::Summary& s = report.summary();
  std::string h = PageStart("p9x-conform: " + report.target());
  h += "<h1>p9x-conform report: " + Escape(report.target()) + "</h1>\n";
  h += "<p class=\"verdict " + std::string(s.passed() ? "ok" : "bad") + "\">" + Escape(SummaryLine(s)) + "</p>\n";
  if (!report.server_died_in().empty()) h += "<p class=\"died\">" + Escape(ServerDiedLine(report)) + "</p>\n";
  if (report.server_restarts_size() > 0) {
    std::string after;
    for (const std::string& r : report.server_restarts()) after += (after.empty() ? "" : ", ") + r;
    h += "<p class=\"died\">The server stopped answering and was restarted (--restart-cmd) after: " + Escape(after) +
         "</p>\n";
  }

  std::map<proto::Level, Counts> by_level;
  std::map<std::string, Counts> by_area;
  std::set<std::string> areas;
  for (const proto::CaseResult& c : report.cases()) {
    const int i = StatusIndex(DisplayStatus(c));
    ++by_level[c.level()][i];
    ++by_area[c.area()][i];
    areas.insert(c.area());
  }
  std::vector<std::pair<std::string, Counts>> level_rows, area_rows;
  std::vector<std::string> levels;
  for (const auto& [level, counts] : by_level) {
    level_rows.emplace_back(LevelText(level), counts);
    levels.push_back(LevelText(level));
  }
  for (const auto& [area, counts] : by_area) area_rows.emplace_back(area, counts);
  h += "<h2>Summary</h2>\n<div class=\"tables\">" + CountsTable("Per level", "level", level_rows) +
       CountsTable("Per area", "area", area_rows) + "</div>\n";

  h += "<h2>Run</h2>\n<dl class=\"facts\">\n";
  Fact(h, "Target", report.target());
  Fact(h, "Dialect requested", report.dialect_requested());
  Fact(h, "Negotiated", report.session().version() + " (" + report.session().dialect() + "), msize " +
                            std::to_string(report.session().msize()));
  Fact(h, "Answer to the xqid offer", report.session().xqid_answer());
  Fact(h, "Attach", "uname " + report.uname() + (report.aname().empty() ? "" : ", aname " + report.aname()));
  Fact(h, "Local root", report.local_root());
  Fact(h, "Filter", report.filter());
  Fact(h, "Expected-failure list", report.expected_list());
  Fact(h, "Started", report.started_at());
  Fact(h, "Tool", report.tool());
  for (const std::string& stale : report.stale_entries()) Fact(h, "Stale expected-failure entry", stale);
  h += "</dl>\n";
  if (report.capabilities_size() > 0) {
    h += "<div class=\"scroll\"><table class=\"caps\"><caption>Capabilities</caption>\n"
         "<thead><tr><th>capability</th><th>present</th></tr></thead>\n<tbody>\n";
    for (const proto::Capability& cap : report.capabilities()) {
      h += "<tr><th>" + Escape(cap.name()) + "</th>" +
           (cap.present() ? std::string("<td class=\"yes\">yes</td>") : "<td class=\"no\">no: " + Escape(cap.reason()) + "</td>") +
           "</tr>\n";
    }
    h += "</tbody></table></div>\n";
  }

  h += "<h2>Cases</h2>\n<form class=\"filters\">" +
       Select("area", "Area", std::vector<std::string>(areas.begin(), areas.end())) +
       Select("level", "Level", levels) + Select("status", "Status", StatusValues()) +
       "<output id=\"shown\"></output></form>\n";
  // Unexpected results first (open), then the rest in catalogue order.
  for (const proto::CaseResult& c : report.cases()) {
    if (DisplayStatus(c) == "failed") h += CaseDetails(c);
  }
  for (const proto::CaseResult& c : report.cases()) {
    if (DisplayStatus(c) != "failed") h += CaseDetails(c);
  }
  return h + PageEnd();
}

std::string CompareToHtml(const std::vector<LabelledReport>& reports) {
  std::string title = "p9x-conform comparison:";
  for (const LabelledReport& r : reports) title += " " + r.label;
  std::string h = PageStart(title);
  h += "<h1>" + Escape(title) + "</h1>\n";

  // The union of cases, in the order first seen; per case, each report's result (or none).
  std::vector<std::string> names;
  std::map<std::string, std::vector<const proto::CaseResult*>> results;
  std::set<std::string> areas;
  for (size_t i = 0; i < reports.size(); ++i) {
    for (const proto::CaseResult& c : reports[i].report.cases()) {
      auto [it, inserted] = results.try_emplace(c.name(), reports.size(), nullptr);
      if (inserted) names.push_back(c.name());
      it->second[i] = &c;
      areas.insert(c.area());
    }
  }

  h += "<h2>Servers</h2>\n<dl class=\"facts\">\n";
  for (const LabelledReport& r : reports) {
    std::string line = r.report.target() + ", " + r.report.session().version() + " (" + r.report.session().dialect() +
                       "): " + SummaryLine(r.report.summary());
    if (!r.report.server_died_in().empty()) line += " " + ServerDiedLine(r.report);
    Fact(h, r.label, line);
  }
  h += "</dl>\n";

  // Per-area totals: one table per status would be long; one cell per (area, server) instead,
  // "passed/total" with the failure count coloured.
  h += "<h2>Per area</h2>\n<div class=\"scroll\"><table class=\"counts\"><caption>passed / total, and what the "
       "others were</caption>\n<thead><tr><th>area</th>";
  for (const LabelledReport& r : reports) h += "<th>" + Escape(r.label) + "</th>";
  h += "</tr></thead>\n<tbody>\n";
  auto area_row = [&](const std::string& area) {
    h += std::string(area.empty() ? "<tr class=\"total\"><th>total" : "<tr><th>" + Escape(area)) + "</th>";
    for (const LabelledReport& r : reports) {
      Counts counts{};
      int total = 0;
      for (const proto::CaseResult& c : r.report.cases()) {
        if (!area.empty() && c.area() != area) continue;
        ++total;
        ++counts[StatusIndex(DisplayStatus(c))];
      }
      // The cell takes the colour of its worst status: failed, then not run, xfail, skipped.
      std::string cls = "s-passed";
      for (std::string_view worst : {"skipped", "xfail", "not-run", "failed"}) {
        if (counts[StatusIndex(worst)] > 0) cls = "s-" + std::string(worst);
      }
      h += "<td class=\"" + cls + "\">" + std::to_string(counts[StatusIndex("passed")]) + " / " + std::to_string(total);
      for (size_t i = 1; i < counts.size(); ++i) {
        if (counts[i] > 0) h += "<br><small>" + std::to_string(counts[i]) + " " + std::string(kStatusHeadings[i]) + "</small>";
      }
      h += "</td>";
    }
    h += "</tr>\n";
  };
  for (const std::string& area : areas) area_row(area);
  area_row("");
  h += "</tbody></table></div>\n";

  h += "<h2>Cases</h2>\n<form class=\"filters\">" +
       Select("area", "Area", std::vector<std::string>(areas.begin(), areas.end())) +
       Select("level", "Level", {"Required", "Recommended", "Xqid"}) + Select("status", "Any server", StatusValues()) +
       "<label><input type=\"checkbox\" name=\"differ\" id=\"f-differ\"> only where servers differ</label>"
       "<output id=\"shown\"></output></form>\n";
  h += "<div class=\"scroll\"><table class=\"matrix\">\n<thead><tr><th>case</th>";
  for (const LabelledReport& r : reports) h += "<th>" + Escape(r.label) + "</th>";
  h += "</tr></thead>\n<tbody>\n";
  for (const std::string& name : names) {
    const auto& row = results[name];
    const proto::CaseResult* any = *std::find_if(row.begin(), row.end(), [](auto* c) { return c != nullptr; });
    std::string statuses;
    std::set<std::string> distinct;
    for (const proto::CaseResult* c : row) {
      const std::string st = c == nullptr ? "absent" : DisplayStatus(*c);
      statuses += (statuses.empty() ? "" : " ") + st;
      distinct.insert(st);
    }
    h += "<tr class=\"row\" data-area=\"" + Escape(any->area()) + "\" data-level=\"" + LevelText(any->level()) +
         "\" data-status=\"" + statuses + "\" data-differ=\"" + (distinct.size() > 1 ? "yes" : "no") +
         "\"><td class=\"case\">" + Escape(name) + "</td>";
    for (const proto::CaseResult* c : row) {
      if (c == nullptr) {
        h += "<td><span class=\"badge b-absent\" title=\"not in this report\">—</span></td>";
        continue;
      }
      const std::string st = DisplayStatus(*c);
      const std::string message = CaseMessage(*c);
      if (message.empty()) {
        h += "<td>" + Badge(st) + "</td>";
      } else {
        h += "<td><details><summary title=\"" + Escape(message) + "\">" + Badge(st) + "</summary><p>" + Escape(message) +
             "</p></details></td>";
      }
    }
    h += "</tr>\n";
  }
  h += "</tbody></table></div>\n";
  return h + PageEnd();
}

int RunReportCommand(std::string_view command, const std::vector<std::string>& args, FILE* err) {
  std::vector<std::string> inputs;
  std::string html;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--html") {
      if (i + 1 >= args.size()) {
        std::fprintf(err, "p9x-conform %s: --html needs a file name\n", std::string(command).c_str());
        return 64;
      }
      html = args[++i];
    } else if (args[i].starts_with("-")) {
      std::fprintf(err, "p9x-conform %s: unknown option %s\n", std::string(command).c_str(), args[i].c_str());
      return 64;
    } else {
      inputs.push_back(args[i]);
    }
  }
  const bool compare = command == "compare";
  if (html.empty() || inputs.empty() || (!compare && inputs.size() != 1)) {
    std::fprintf(err, "usage: p9x-conform compare A.json B.json ... --html OUT.html\n"
                      "       p9x-conform render A.json --html OUT.html\n");
    return 64;
  }
  std::vector<LabelledReport> reports;
  for (const std::string& path : inputs) {
    std::ifstream in(path);
    if (!in) {
      std::fprintf(err, "p9x-conform %s: cannot read %s\n", std::string(command).c_str(), path.c_str());
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    LabelledReport r;
    r.label = std::filesystem::path(path).stem().string();
    std::string why;
    if (!JsonToReport(text.str(), &r.report, &why)) {
      std::fprintf(err, "p9x-conform %s: %s is not a p9x-conform JSON report: %s\n", std::string(command).c_str(),
                   path.c_str(), why.c_str());
      return 1;
    }
    reports.push_back(std::move(r));
  }
  std::ofstream out(html);
  out << (compare ? CompareToHtml(reports) : ReportToHtml(reports.front().report));
  out.close();
  if (!out) {
    std::fprintf(err, "p9x-conform %s: cannot write %s\n", std::string(command).c_str(), html.c_str());
    return 1;
  }
  return 0;
}

}  // namespace p9x::conformance
