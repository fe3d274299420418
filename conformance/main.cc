// SPDX-License-Identifier: MIT
// p9x-conform: validates a 9P2000.L server (and the 9P2000.L.xqid dialect) over the wire.
//
//   p9x-conform --target tcp:127.0.0.1:5640 [options]
//   p9x-conform --list [--filter PATTERN]
//   p9x-conform fixture DIR
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/cases/cases.h"
#include "conformance/fixture.h"
#include "conformance/html_report.h"
#include "conformance/runner.h"
#include "conformance/shipped_files.h"
#include "conformance/transport.h"

namespace {

constexpr char kUsage[] =
    "usage: p9x-conform --target TARGET [options]\n"
    "       p9x-conform --list [--filter PATTERN] [--profile P]\n"
    "       p9x-conform --describe NAME\n"
    "       p9x-conform fixture DIR [--script make-fixture.sh]\n"
    "       p9x-conform compare A.json B.json ... --html OUT.html   (saved reports side by side)\n"
    "       p9x-conform render A.json --html OUT.html               (a saved report as a page)\n"
    "\n"
    "TARGET: tcp:HOST:PORT | unix:PATH | exec:COMMAND (a server speaking 9P on its stdin/stdout)\n"
    "\n"
    "options:\n"
    "  --aname NAME          attach name (default \"\")\n"
    "  --uname NAME          user name for Tattach (default root)\n"
    "  --n-uname N           numeric uid for Tattach (default 0)\n"
    "  --dialect D           auto (offer 9P2000.L.xqid, fall back), xqid (require it) or legacy (default auto)\n"
    "  --msize N             msize to offer (default 131072)\n"
    "  --local-root DIR      where the export is on this machine: ground truth (device, inode) via lstat\n"
    "  --filter PATTERN      run only matching cases: Level.Area.Case with '*' per component, comma-separated\n"
    "  --profile P           xqid: the negotiation and Xqid cases, what a 9P2000.L.xqid claim needs (implies\n"
    "                        --dialect xqid unless --dialect is given); base: the Required and Recommended\n"
    "                        cases (9P2000.L as spec/9p2000.L.md reads it); all (default)\n"
    "  --list                list the cases (with --filter: the matching ones) and exit\n"
    "  --describe NAME       print a case's level, profiles, needs, spec sentence and what it checks\n"
    "  --expected FILE       expected-failure list (conformance/expected/<server>.txt)\n"
    "  --fix                 rewrite the --expected list from this run's failures\n"
    "  --json FILE           write the report as JSON (schema: conformance/report.proto)\n"
    "  --junit FILE          write a JUnit XML report\n"
    "  --html FILE           write the report as one self-contained HTML page\n"
    "  --timeout MS          per-reply timeout (default 5000)\n"
    "  --restart-cmd CMD     when the server stops answering after a failed case (it crashed), run CMD\n"
    "                        with /bin/sh -c to restart it and go on (at most 64 times); without it,\n"
    "                        every later case is reported \"not run\" and the run fails\n"
    "  --vectors DIR         invalid vectors to send (default: PREFIX/share/p9x/vectors when installed,\n"
    "                        else spec/vectors of the source tree)\n"
    "  --keep-scratch        do not remove the scratch directory\n"
    "  --verbose             print the transcript of every failing case\n"
    "\n"
    "Exit status: 0 iff there is no unexpected result (unexpected failure, unexpected pass, message\n"
    "mismatch or stale expected-failure entry) and the server did not die; 1 otherwise; 2 if the run\n"
    "could not start.\n";

bool ParseUint(const char* s, uint64_t max, uint64_t* out) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 0);
  if (end == s || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace p9x::conformance;
  std::signal(SIGPIPE, SIG_IGN);
  RunOptions options;
  options.vectors_dir = DefaultVectorsDir();
  bool list = false;
  bool dialect_given = false;
  std::string describe;
  if (argc >= 2 && std::string_view(argv[1]) == "fixture") {
    if (argc < 3) {
      std::fputs(kUsage, stderr);
      return 64;
    }
    std::string script = DefaultFixtureScript();
    if (argc >= 5 && std::string_view(argv[3]) == "--script") script = argv[4];
    return BuildFixture(argv[2], script, stdout);
  }
  if (argc >= 2 && (std::string_view(argv[1]) == "compare" || std::string_view(argv[1]) == "render")) {
    return RunReportCommand(argv[1], std::vector<std::string>(argv + 2, argv + argc), stderr);
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "p9x-conform: %s needs a value\n", name);
        std::exit(64);
      }
      return argv[++i];
    };
    uint64_t n = 0;
    if (arg == "--target") {
      options.target = value("--target");
    } else if (arg == "--aname") {
      options.aname = value("--aname");
    } else if (arg == "--uname") {
      options.uname = value("--uname");
    } else if (arg == "--n-uname") {
      if (!ParseUint(value("--n-uname"), 0xFFFFFFFFu, &n)) {
        std::fprintf(stderr, "p9x-conform: --n-uname must be a number from 0 to 4294967295\n");
        return 64;
      }
      options.n_uname = static_cast<uint32_t>(n);
    } else if (arg == "--dialect") {
      options.dialect = value("--dialect");
      dialect_given = true;
      if (options.dialect != "auto" && options.dialect != "xqid" && options.dialect != "legacy") {
        std::fprintf(stderr, "p9x-conform: --dialect must be auto, xqid or legacy\n");
        return 64;
      }
    } else if (arg == "--msize") {
      if (!ParseUint(value("--msize"), 0xFFFFFFFFu, &n) || n < 4096) {
        std::fprintf(stderr, "p9x-conform: --msize must be a number >= 4096\n");
        return 64;
      }
      options.msize = static_cast<uint32_t>(n);
    } else if (arg == "--local-root") {
      options.local_root = value("--local-root");
    } else if (arg == "--filter") {
      options.filter = value("--filter");
    } else if (arg == "--profile") {
      const char* name = value("--profile");
      const auto profile = ProfileFromName(name);
      if (!profile) {
        std::fprintf(stderr, "p9x-conform: --profile must be xqid, base or all\n");
        return 64;
      }
      options.profile = *profile;
    } else if (arg == "--describe") {
      describe = value("--describe");
    } else if (arg == "--list") {
      list = true;
    } else if (arg == "--expected") {
      options.expected = value("--expected");
    } else if (arg == "--fix") {
      options.fix = true;
    } else if (arg == "--json") {
      options.json = value("--json");
    } else if (arg == "--junit") {
      options.junit = value("--junit");
    } else if (arg == "--html") {
      options.html = value("--html");
    } else if (arg == "--timeout") {
      if (!ParseUint(value("--timeout"), 600000, &n) || n == 0) {
        std::fprintf(stderr, "p9x-conform: --timeout must be a number of milliseconds from 1 to 600000\n");
        return 64;
      }
      options.timeout_ms = static_cast<int>(n);
    } else if (arg == "--restart-cmd") {
      options.restart_cmd = value("--restart-cmd");
    } else if (arg == "--vectors") {
      options.vectors_dir = value("--vectors");
    } else if (arg == "--keep-scratch") {
      options.keep_scratch = true;
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "p9x-conform: unknown argument %s\n\n%s", argv[i], kUsage);
      return 64;
    }
  }

  if (options.profile == Profile::kXqid && !dialect_given) options.dialect = "xqid";
  // Without its vectors the runner would silently run fewer cases: refuse to start instead.
  if (std::error_code ec; !std::filesystem::is_directory(options.vectors_dir + "/invalid", ec)) {
    std::fprintf(stderr, "p9x-conform: no invalid vectors in %s/invalid (pass --vectors DIR)\n",
                 options.vectors_dir.c_str());
    return 2;
  }
  Catalogue catalogue;
  RegisterAllCases(catalogue, options.vectors_dir);
  if (!describe.empty()) {
    const auto found = catalogue.Select(describe);
    if (found.empty()) {
      std::fprintf(stderr, "p9x-conform: no case matches %s (see --list)\n", describe.c_str());
      return 64;
    }
    for (const Case* c : found) std::fputs(DescribeCase(*c).c_str(), stdout);
    return 0;
  }
  if (list) {
    for (const Case* c : catalogue.Select(options.filter, options.profile)) {
      std::string needs;
      for (Capability cap : c->needs) needs += (needs.empty() ? " [needs " : ", ") + std::string(CapabilityName(cap));
      if (!needs.empty()) needs += "]";
      std::printf("%s%s\n", c->name.c_str(), needs.c_str());
    }
    std::printf("%zu cases\n", catalogue.Select(options.filter, options.profile).size());
    return 0;
  }
  std::string why;
  if (options.target.empty() || !IsValidTarget(options.target, &why)) {
    std::fprintf(stderr, "p9x-conform: %s\n\n%s", options.target.empty() ? "--target is required" : why.c_str(), kUsage);
    return 64;
  }
  return RunConformance(options, catalogue, stdout);
}
