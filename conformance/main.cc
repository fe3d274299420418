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

#include "conformance/cases/cases.h"
#include "conformance/fixture.h"
#include "conformance/runner.h"
#include "conformance/shipped_files.h"
#include "conformance/transport.h"

namespace {

constexpr char kUsage[] =
    "usage: p9x-conform --target TARGET [options]\n"
    "       p9x-conform --list [--filter PATTERN]\n"
    "       p9x-conform fixture DIR [--script make-fixture.sh]\n"
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
    "  --list                list the cases (with --filter: the matching ones) and exit\n"
    "  --expected FILE       expected-failure list (conformance/expected/<server>.txt)\n"
    "  --fix                 rewrite the --expected list from this run's failures\n"
    "  --json FILE           write the report as JSON (schema: conformance/report.proto)\n"
    "  --junit FILE          write a JUnit XML report\n"
    "  --timeout MS          per-reply timeout (default 5000)\n"
    "  --restart-cmd CMD     when the server stops answering after a failed case (it crashed), run CMD\n"
    "                        with /bin/sh -c to restart it and go on (at most 64 times); without it,\n"
    "                        every later case fails \"the server is gone\"\n"
    "  --vectors DIR         invalid vectors to send (default: PREFIX/share/p9x/vectors when installed,\n"
    "                        else spec/vectors of the source tree)\n"
    "  --keep-scratch        do not remove the scratch directory\n"
    "  --verbose             print the transcript of every failing case\n"
    "\n"
    "Exit status: 0 iff there is no unexpected result (unexpected failure, unexpected pass, message\n"
    "mismatch or stale expected-failure entry); 1 otherwise; 2 if the run could not start.\n";

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
  if (argc >= 2 && std::string_view(argv[1]) == "fixture") {
    if (argc < 3) {
      std::fputs(kUsage, stderr);
      return 64;
    }
    std::string script = DefaultFixtureScript();
    if (argc >= 5 && std::string_view(argv[3]) == "--script") script = argv[4];
    return BuildFixture(argv[2], script, stdout);
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
      if (!ParseUint(value("--n-uname"), 0xFFFFFFFFu, &n)) return 64;
      options.n_uname = static_cast<uint32_t>(n);
    } else if (arg == "--dialect") {
      options.dialect = value("--dialect");
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
    } else if (arg == "--timeout") {
      if (!ParseUint(value("--timeout"), 600000, &n) || n == 0) return 64;
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

  // Without its vectors the runner would silently run fewer cases: refuse to start instead.
  if (std::error_code ec; !std::filesystem::is_directory(options.vectors_dir + "/invalid", ec)) {
    std::fprintf(stderr, "p9x-conform: no invalid vectors in %s/invalid (pass --vectors DIR)\n",
                 options.vectors_dir.c_str());
    return 2;
  }
  Catalogue catalogue;
  RegisterAllCases(catalogue, options.vectors_dir);
  if (list) {
    for (const Case* c : catalogue.Select(options.filter)) {
      std::string needs;
      for (Capability cap : c->needs) needs += (needs.empty() ? " [needs " : ", ") + std::string(CapabilityName(cap));
      if (!needs.empty()) needs += "]";
      std::printf("%s%s\n", c->name.c_str(), needs.c_str());
    }
    std::printf("%zu cases\n", catalogue.Select(options.filter).size());
    return 0;
  }
  std::string why;
  if (options.target.empty() || !IsValidTarget(options.target, &why)) {
    std::fprintf(stderr, "p9x-conform: %s\n\n%s", options.target.empty() ? "--target is required" : why.c_str(), kUsage);
    return 64;
  }
  return RunConformance(options, catalogue, stdout);
}
