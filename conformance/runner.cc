// SPDX-License-Identifier: MIT
// The run (runner.h): negotiation, the selected cases, judging against the expected-failure list,
// and the report. The capability probes are conformance/capabilities.cc.
#include "conformance/runner.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>

#include "conformance/capabilities.h"
#include "conformance/context.h"
#include "conformance/expected_list.h"
#include "conformance/html_report.h"

namespace p9x::conformance {
namespace {

using Clock = std::chrono::steady_clock;

// Transcripts kept per case in the report.
constexpr size_t kMaxTranscriptChars = 64 * 1024;

std::string Now3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

proto::Level ToProto(Level level) {
  switch (level) {
    case Level::kRequired:
      return proto::REQUIRED;
    case Level::kRecommended:
      return proto::RECOMMENDED;
    case Level::kXqid:
      return proto::XQID;
  }
  return proto::LEVEL_UNSPECIFIED;
}

// Removes `name` (a file or a whole tree) inside `parent_fid`, with plain 9P requests. Best
// effort: the cleanup of a misbehaving server must not hang or abort the run.
void RemoveTree(Probe& p, uint32_t parent_fid, const std::string& name, int depth) {
  if (depth > 40 || p.closed()) return;
  const uint32_t fid = p.NextFid();
  Twalk w{parent_fid, fid, {}};
  w.wnames.count = 1;
  w.wnames.names[0] = name;
  auto walked = p.Call(w);
  if (!walked.ok() || walked.msg.wqids.count != 1) {
    if (walked.ok()) (void)p.Call(Tclunk{fid});
    return;
  }
  const bool is_dir = (walked.msg.wqids.qids[0].type & kQtDir) != 0;
  if (is_dir) {
    const uint32_t dir = p.NextFid();
    Twalk clone{fid, dir, {}};
    if (p.Call(clone).ok()) {
      if (p.Call(Tlopen{dir, kOpenRdonly}).ok()) {
        const std::vector<std::string> names = p.ListNamesQuietly(dir, 10000);
        for (const std::string& n : names) RemoveTree(p, fid, n, depth + 1);
      }
      (void)p.Call(Tclunk{dir});
    }
  }
  // remove(5) clunks the fid whether or not it succeeds.
  if (!p.Call(Tremove{fid}).ok()) {
    (void)p.Call(Tunlinkat{parent_fid, name, is_dir ? kAtRemovedir : 0u});
  }
}

// Creates a probe on its own log, for the runner's setup and cleanup.
struct RunnerConnection {
  CaseLog log;
  std::unique_ptr<Probe> probe;
  std::string error;

  RunnerConnection(const std::string& target, std::chrono::milliseconds timeout) {
    Transport t = Connect(target, &error);
    probe = std::make_unique<Probe>(log, 0, std::move(t), timeout);
  }
};

// True when a fresh connection gets an answer (Rversion or an error) to Tversion "9P2000.L"
// within `timeout`. A bare connect is not enough: a process that is dying (a crashed thread, the
// others still unwinding) may still accept connections and answer nothing.
bool ServerAnswers(const std::string& target, std::chrono::milliseconds timeout, std::string* why) {
  RunnerConnection c(target, timeout);
  if (c.probe->closed()) {
    *why = c.error;
    return false;
  }
  auto v = c.probe->Call(Tversion{kMinMsize, kVersion9P2000L});
  if (v.ok() || v.is_error()) return true;
  *why = "Tversion \"9P2000.L\": " + v.Describe();
  return false;
}

// Runs `command` with /bin/sh -c and waits for it; its output goes where the runner's goes.
// Returns the exit status (or -1 when it could not run or was killed).
int RunShell(const std::string& command, FILE* out) {
  std::fflush(out);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (out == stdout || out == stderr) dup2(fileno(out), STDOUT_FILENO);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace

int RunConformance(const RunOptions& options, const Catalogue& catalogue, FILE* out) {
  const auto timeout = std::chrono::milliseconds(options.timeout_ms);
  proto::Report report;
  report.set_tool("p9x-conform 0.1.0");
  report.set_target(options.target);
  report.set_aname(options.aname);
  report.set_uname(options.uname);
  report.set_dialect_requested(options.dialect);
  report.set_started_at(Now3339());
  report.set_filter(options.filter);
  report.set_local_root(options.local_root);
  report.set_expected_list(options.expected);

  ExpectedList expected;
  if (!options.expected.empty()) {
    auto loaded = ExpectedList::Load(options.expected);
    if (!loaded) {
      if (options.fix && !std::filesystem::exists(options.expected)) {
        std::fprintf(out, "expected-failure list %s does not exist yet; --fix will create it\n",
                     options.expected.c_str());
      } else {
        std::fprintf(out, "p9x-conform: %s\n", loaded.error().c_str());
        return 2;
      }
    } else {
      expected = std::move(*loaded);
    }
  }

  RunEnvironment env;
  env.target = options.target;
  env.timeout = timeout;
  env.vectors_dir = options.vectors_dir;
  env.session.msize = options.msize;
  env.session.aname = options.aname;
  env.session.uname = options.uname;
  env.session.n_uname = options.n_uname;

  // 1. Negotiate the dialect (auto and xqid offer 9P2000.L.xqid first).
  std::fprintf(out, "p9x-conform: target %s, dialect %s\n", options.target.c_str(), options.dialect.c_str());
  proto::Session* session = report.mutable_session();
  if (options.dialect == "auto" || options.dialect == "xqid") {
    // negotiation's ladder, offering xqid only, judges the answer: it agrees only when the server
    // names exactly the offered feature within the offered msize (an error, "unknown", "9P2000.L"
    // or a closed connection is a decline).
    RunnerConnection c(options.target, timeout);
    if (c.probe->closed()) {
      std::fprintf(out, "p9x-conform: cannot connect: %s\n", c.error.c_str());
      return 2;
    }
    negotiation::ClientLadder ladder(negotiation::DialectChoice::kXqidOnly, options.msize);
    const auto offer = ladder.NextOffer();
    auto v = c.probe->Version(offer->msize, offer->version);
    env.xqid_answer = v.ok() ? "Rversion \"" + std::string(v.msg.version) + "\"" : v.Describe();
    if (v.status == ReplyStatus::kClosed) {
      ladder.OnConnectionClosed();
    } else if (!v.frame.empty()) {
      if (auto reply = negotiation::DecodeVersionReply(v.frame)) ladder.OnReply(*reply);
    }
    env.xqid_negotiated = ladder.agreed() && negotiation::SupportsXqid(ladder.features());
    if (ladder.failed() && v.ok()) env.xqid_answer += " (" + ladder.failure_reason() + ")";
    env.xqid_required = options.dialect == "xqid";
    session->set_xqid_answer(env.xqid_answer);
    std::fprintf(out, "offered \"%s\": %s\n", XqidVersion().c_str(), env.xqid_answer.c_str());
  }
  env.session.version = env.xqid_negotiated ? XqidVersion() : std::string(kVersion9P2000L);
  session->set_version_offered(env.session.version);

  RunnerConnection setup(options.target, timeout);
  if (setup.probe->closed()) {
    std::fprintf(out, "p9x-conform: cannot connect: %s\n", setup.error.c_str());
    return 2;
  }
  Probe& p = *setup.probe;
  if (!p.Start(env.session)) {
    std::fprintf(out, "p9x-conform: cannot start a session: %s\n", setup.log.message().c_str());
    return 2;
  }
  session->set_version(env.session.version);
  session->set_msize(p.msize());
  session->set_dialect(p.dialect() == Dialect::kXqid ? "xqid" : "legacy");
  env.session.msize = p.msize();
  std::fprintf(out, "session: \"%s\", msize %u, root qid path 0x%llx\n", env.session.version.c_str(), p.msize(),
               static_cast<unsigned long long>(p.root_qid().path));

  // 2. Scratch directory.
  const std::string scratch = "p9x-conform-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
  auto made = p.Call(Tmkdir{p.root(), scratch, 0777, 0});
  if (made.ok()) {
    env.scratch_name = scratch;
  } else {
    std::fprintf(out, "no scratch directory (%s): cases that write are skipped\n", made.Describe().c_str());
  }

  // 3. Capabilities.
  DetectCapabilities(options, env, p, out);
  for (Capability c : {Capability::kWritable, Capability::kXattrs, Capability::kHardLinks, Capability::kSymlinks,
                       Capability::kFifos, Capability::kDevices, Capability::kLocks, Capability::kMultiFs,
                       Capability::kLocalRoot, Capability::kRunnerRoot}) {
    auto* cap = report.add_capabilities();
    cap->set_name(std::string(CapabilityName(c)));
    cap->set_present(env.capabilities.contains(c));
    if (!cap->present()) cap->set_reason(env.missing[c]);
    std::fprintf(out, "  %-22s %s\n", cap->name().c_str(), cap->present() ? "yes" : ("no: " + cap->reason()).c_str());
  }

  // 4. The cases.
  const std::vector<const Case*> selected = catalogue.Select(options.filter, options.profile);
  std::fprintf(out, "running %zu of %zu cases\n\n", selected.size(), catalogue.size());
  std::vector<FixInput> fix_inputs;
  std::set<std::string> ran;
  size_t index = 0;
  std::string server_gone_after;  // the case after which the server stopped accepting connections
  for (const Case* c : selected) {
    ++index;
    CaseLog log;
    const auto start = Clock::now();
    std::string skip;

    if (c->level == Level::kXqid && !env.xqid_negotiated) {
      if (env.xqid_required) {
        log.Fail("--dialect xqid: the server did not accept \"9P2000.L.xqid\" (" + env.xqid_answer + ")");
      } else {
        skip = "9P2000.L.xqid not negotiated (" + (options.dialect == "legacy" ? std::string("--dialect legacy")
                                                                               : env.xqid_answer) + ")";
      }
    }
    for (Capability need : c->needs) {
      if (skip.empty() && !log.stopped() && !env.capabilities.contains(need)) {
        skip = "needs " + std::string(CapabilityName(need)) + ": " + env.missing[need];
      }
    }
    // A case after the server died for good is not run: its result would say nothing about it.
    const bool not_run = skip.empty() && !log.stopped() && !server_gone_after.empty();
    if (!skip.empty()) log.Skip(skip);
    auto run_case = [&] {
      CaseContext context(env, log, "c" + std::to_string(index));
      try {
        c->run(context);
      } catch (const std::exception& e) {
        log.Fail(std::string("runner error: ") + e.what());
      }
    };
    if (skip.empty() && server_gone_after.empty() && !log.stopped()) run_case();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    if (log.failed() && server_gone_after.empty()) {
      std::string why;
      if (!ServerAnswers(options.target, timeout, &why)) {
        if (!options.restart_cmd.empty() && report.server_restarts_size() < options.max_restarts) {
          std::fprintf(out, "!! the server stopped answering during %s (%s); restarting it: %s\n", c->name.c_str(),
                       why.c_str(), options.restart_cmd.c_str());
          const int rc = RunShell(options.restart_cmd, out);
          if (rc == 0 && ServerAnswers(options.target, timeout, &why)) {
            report.add_server_restarts(c->name);
            if (!log.sent_any_frame()) {
              // The case never reached the server (it was still restarting after the case
              // before, or died between cases): its failure says nothing about the case. Run
              // it once more on the restarted server.
              std::fprintf(out, "!! %s did not reach the server; running it again\n", c->name.c_str());
              log = CaseLog();
              run_case();
            }
          } else {
            why = "--restart-cmd exited " + std::to_string(rc) + "; " + why;
            server_gone_after = c->name;
          }
        } else {
          server_gone_after = c->name;
        }
        if (!server_gone_after.empty()) {
          report.set_server_died_in(server_gone_after);
          report.set_server_died_why(why);
          std::fprintf(out, "!! the server no longer answers (%s); the remaining cases are not run\n", why.c_str());
        }
      }
    }

    proto::CaseResult* r = report.add_cases();
    r->set_name(c->name);
    r->set_level(ToProto(c->level));
    r->set_area(std::string(c->area()));
    r->set_spec(c->spec);
    for (Capability need : c->needs) r->add_needs(std::string(CapabilityName(need)));
    r->set_duration_micros(static_cast<uint64_t>(micros));
    for (const std::string& n : log.nonconformances()) r->add_nonconformances(n);
    bool truncated_pretty = false, truncated_hex = false;
    r->set_transcript_pretty(log.Pretty(kMaxTranscriptChars, &truncated_pretty));
    r->set_transcript_hex(log.Hex(kMaxTranscriptChars, &truncated_hex));
    r->set_transcript_truncated(truncated_pretty || truncated_hex);
    if (not_run) {
      r->set_status(proto::NOT_RUN);
      r->set_outcome(proto::SERVER_GONE);
      r->set_skip_reason("not run: the server stopped answering during " + server_gone_after);
      fix_inputs.push_back({c->name, false, Verdict::kPassed, ""});  // keeps its entries as they are
      ran.insert(c->name);
      std::fprintf(out, "[%3zu/%zu] n/r   %s\n", index, selected.size(), c->name.c_str());
      continue;
    }
    switch (log.verdict()) {
      case Verdict::kPassed:
        r->set_status(proto::PASSED);
        break;
      case Verdict::kFailed:
        r->set_status(proto::FAILED);
        r->set_failure_message(log.message());
        break;
      case Verdict::kSkipped:
        r->set_status(proto::SKIPPED);
        r->set_skip_reason(log.message());
        break;
    }
    const ExpectedEntry* entry = expected.Match(c->name);
    const Outcome outcome = Judge(log.verdict(), log.message(), entry);
    if (entry != nullptr) r->set_expected_entry(entry->pattern);
    switch (outcome) {
      case Outcome::kSuccess:
        r->set_outcome(proto::SUCCESS);
        break;
      case Outcome::kExpectedFailure:
        r->set_outcome(proto::EXPECTED_FAILURE);
        break;
      case Outcome::kUnexpectedFailure:
        r->set_outcome(proto::UNEXPECTED_FAILURE);
        break;
      case Outcome::kUnexpectedPass:
        r->set_outcome(proto::UNEXPECTED_PASS);
        break;
      case Outcome::kMessageMismatch:
        r->set_outcome(proto::MESSAGE_MISMATCH);
        break;
      case Outcome::kSkip:
        r->set_outcome(proto::SKIP);
        break;
    }
    ran.insert(c->name);
    fix_inputs.push_back({c->name, true, log.verdict(), log.message()});

    const char* mark = outcome == Outcome::kSuccess           ? "PASS "
                       : outcome == Outcome::kSkip            ? "skip "
                       : outcome == Outcome::kExpectedFailure ? "xfail"
                       : outcome == Outcome::kUnexpectedPass  ? "XPASS"
                                                                           : "FAIL ";
    std::fprintf(out, "[%3zu/%zu] %s %-58s %6.1f ms", index, selected.size(), mark, c->name.c_str(),
                 static_cast<double>(micros) / 1000.0);
    if (log.verdict() != Verdict::kPassed) std::fprintf(out, "  %s", log.message().c_str());
    std::fprintf(out, "\n");
    if (options.verbose && log.verdict() == Verdict::kFailed) {
      std::fprintf(out, "%s\n", r->transcript_pretty().c_str());
    }
    std::fflush(out);
  }

  // 5. Remove the scratch directory.
  if (!env.scratch_name.empty() && !options.keep_scratch) {
    RunnerConnection cleanup(options.target, timeout);
    SessionParams params = env.session;
    if (cleanup.probe->Start(params)) RemoveTree(*cleanup.probe, cleanup.probe->root(), env.scratch_name, 0);
    if (!env.local_root.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(env.local_root + "/" + env.scratch_name, ec);
    }
    auto check = cleanup.probe->Call(Twalk{cleanup.probe->root(), cleanup.probe->NextFid(), {}});
    (void)check;
  }

  // 6. Judge and report.
  for (const Case& c : catalogue.cases()) {
    if (!ran.contains(c.name)) fix_inputs.push_back({c.name, false, Verdict::kPassed, ""});
  }
  std::vector<std::string> all_names;
  for (const Case& c : catalogue.cases()) all_names.push_back(c.name);
  for (const ExpectedEntry& stale : StaleEntries(expected, all_names)) {
    report.add_stale_entries(stale.pattern + " (line " + std::to_string(stale.line) + ")");
  }
  proto::Summary* s = report.mutable_summary();
  for (const proto::CaseResult& r : report.cases()) {
    switch (r.outcome()) {
      case proto::SUCCESS:
        s->set_successes(s->successes() + 1);
        break;
      case proto::SKIP:
        s->set_skipped(s->skipped() + 1);
        break;
      case proto::SERVER_GONE:
        s->set_not_run(s->not_run() + 1);
        break;
      case proto::EXPECTED_FAILURE:
        s->set_expected_failures(s->expected_failures() + 1);
        break;
      case proto::UNEXPECTED_PASS:
        s->set_unexpected_passes(s->unexpected_passes() + 1);
        s->set_unexpected_failures(s->unexpected_failures() + 1);
        break;
      case proto::MESSAGE_MISMATCH:
        s->set_message_mismatches(s->message_mismatches() + 1);
        s->set_unexpected_failures(s->unexpected_failures() + 1);
        break;
      default:
        s->set_unexpected_failures(s->unexpected_failures() + 1);
        break;
    }
  }
  s->set_stale_entries(static_cast<uint32_t>(report.stale_entries_size()));
  s->set_passed(s->unexpected_failures() == 0 && s->stale_entries() == 0 && report.server_died_in().empty());

  if (!options.json.empty()) {
    std::ofstream(options.json) << ReportToJson(report);
    std::fprintf(out, "JSON report: %s\n", options.json.c_str());
  }
  if (!options.junit.empty()) {
    std::ofstream(options.junit) << ReportToJunit(report);
    std::fprintf(out, "JUnit report: %s\n", options.junit.c_str());
  }
  if (!options.html.empty()) {
    std::ofstream(options.html) << ReportToHtml(report);
    std::fprintf(out, "HTML report: %s\n", options.html.c_str());
  }
  PrintSummary(report, out);
  if (options.fix) {
    if (options.expected.empty()) {
      std::fprintf(out, "--fix needs --expected FILE\n");
      return 2;
    }
    std::ofstream(options.expected) << FixedList(expected, fix_inputs);
    std::fprintf(out, "rewrote %s\n", options.expected.c_str());
    return 0;
  }
  return s->passed() ? 0 : 1;
}

}  // namespace p9x::conformance
