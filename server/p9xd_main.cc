// SPDX-License-Identifier: MIT
// p9xd: serves a host directory over 9P2000.L and 9P2000.L.xqid.
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "server/mem_fs.h"
#include "server/server.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Each connection holds a descriptor (its socket), and one more per file its fids hold open.
// The soft RLIMIT_NOFILE (often 1024) is raised to the hard limit, which needs no privilege;
// when even that cannot hold max_connections, p9xd says so at start rather than failing
// accept(2) under load. Returns the soft limit in force.
rlim_t RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur;
}

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: p9xd --export DIR [--listen ADDR]... [options]\n"
               "Serves DIR over 9P2000.L, and 9P2000.L.xqid to clients that offer it.\n\n"
               "  -e, --export DIR        directory to export (required); or mem:[SPEC], an in-memory\n"
               "                          tree for tests: mem:mounts=p1+p2 (devices with identical\n"
               "                          inode numbers), gen=NAME:COUNT[:FIRST_INO[:STRIDE[:DEV]]]\n"
               "  -l, --listen ADDR       tcp:HOST:PORT, tcp:[V6ADDR]:PORT or unix:PATH; may be repeated\n"
               "                          (default tcp:127.0.0.1:564: loopback only, unless the service\n"
               "                          manager passed listening sockets: LISTEN_FDS, socket activation)\n"
               "      --stdio             serve one client on standard input/output (for exec: targets)\n"
               "  -r, --rfd N -w, --wfd N serve one client on file descriptors N (read) and N (write)\n"
               "      --readonly          refuse every request that changes the tree (EROFS)\n"
               "      --multidevs POLICY  files on other filesystems than the export root:\n"
               "                          remap (default): distinct qid paths, never a collision;\n"
               "                          forbid: ENODEV, and readdir does not offer them;\n"
               "                          passthrough: qid.path = inode number (UNSAFE: demonstrates collisions)\n"
               "      --qid-state FILE    keep qid path assignments in FILE across restarts (one file\n"
               "                          per export; a journal, refused for another export)\n"
               "      --qid-fallback-cap N  most per-file qid map entries (hashed inode numbers);\n"
               "                          beyond: ENFILE for new files (default 1048576, ~28 MiB)\n"
               "      --identity MODE     self (default unless root), user (root: each request as the\n"
               "                          attaching user), squash (all as --squash-uid/--squash-gid)\n"
               "      --squash-uid N, --squash-gid N\n"
               "      --root-squash       with --identity user: an attach as root runs as the squash ids\n"
               "      --msize-max N       largest msize to agree (default %u)\n"
               "      --no-xqid           do not offer the xqid dialect\n"
               "      --max-connections N, --max-fids N\n"
               "      --max-queued-reply-bytes N  per connection: stop reading its requests while this\n"
               "                          many reply bytes wait for it to read them (default 16 MiB)\n"
               "      --workers N         threads for requests that may block (default 2 x cores)\n"
               "      --trace             print every message (the codec's text form) to stderr\n"
               "  -v, --verbose           more log output; -q, --quiet: errors only\n"
               "  -h, --help\n",
               p9x::kMaxMsize);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace p9x::server;
  ServerOptions options;
  options.identity = geteuid() == 0 ? IdentityMode::kPerUser : IdentityMode::kSelf;
  std::vector<std::string> listens;
  bool stdio = false;
  int rfd = -1, wfd = -1;
  enum { kStdio = 256, kReadonly, kMultidevs, kQidState, kQidFallbackCap, kIdentity, kSquashUid, kSquashGid, kRootSquash,
         kMsizeMax, kNoXqid,
         kMaxConn, kMaxFids, kMaxQueued, kWorkers, kTrace };
  static const option kLong[] = {
      {"export", required_argument, nullptr, 'e'}, {"listen", required_argument, nullptr, 'l'},
      {"stdio", no_argument, nullptr, kStdio},     {"rfd", required_argument, nullptr, 'r'},
      {"wfd", required_argument, nullptr, 'w'},    {"readonly", no_argument, nullptr, kReadonly},
      {"multidevs", required_argument, nullptr, kMultidevs}, {"qid-state", required_argument, nullptr, kQidState},
      {"qid-fallback-cap", required_argument, nullptr, kQidFallbackCap},
      {"identity", required_argument, nullptr, kIdentity}, {"squash-uid", required_argument, nullptr, kSquashUid},
      {"squash-gid", required_argument, nullptr, kSquashGid},
      {"root-squash", no_argument, nullptr, kRootSquash}, {"msize-max", required_argument, nullptr, kMsizeMax},
      {"no-xqid", no_argument, nullptr, kNoXqid},  {"max-connections", required_argument, nullptr, kMaxConn},
      {"max-fids", required_argument, nullptr, kMaxFids},
      {"max-queued-reply-bytes", required_argument, nullptr, kMaxQueued}, {"workers", required_argument, nullptr, kWorkers},
      {"trace", no_argument, nullptr, kTrace},     {"verbose", no_argument, nullptr, 'v'},
      {"quiet", no_argument, nullptr, 'q'},        {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "e:l:r:w:vqh", kLong, nullptr)) != -1) {
    switch (c) {
      case 'e': options.export_path = optarg; break;
      case 'l': listens.push_back(optarg); break;
      case kStdio: stdio = true; break;
      case 'r': rfd = std::atoi(optarg); break;
      case 'w': wfd = std::atoi(optarg); break;
      case kReadonly: options.read_only = true; break;
      case kMultidevs: {
        std::string p = optarg;
        if (p == "remap") options.multidevs = MultiDevPolicy::kRemap;
        else if (p == "forbid") options.multidevs = MultiDevPolicy::kForbid;
        else if (p == "passthrough") options.multidevs = MultiDevPolicy::kPassthrough;
        else { std::fprintf(stderr, "p9xd: --multidevs: remap, forbid or passthrough, not '%s'\n", optarg); return 2; }
        break;
      }
      case kQidState: options.qid_state_path = optarg; break;
      case kQidFallbackCap: options.qid_fallback_cap = std::strtoull(optarg, nullptr, 0); break;
      case kIdentity: {
        std::string m = optarg;
        if (m == "self") options.identity = IdentityMode::kSelf;
        else if (m == "user") options.identity = IdentityMode::kPerUser;
        else if (m == "squash") options.identity = IdentityMode::kSquash;
        else { std::fprintf(stderr, "p9xd: --identity: self, user or squash, not '%s'\n", optarg); return 2; }
        break;
      }
      case kSquashUid: options.squash_uid = static_cast<uid_t>(std::atoi(optarg)); break;
      case kSquashGid: options.squash_gid = static_cast<gid_t>(std::atoi(optarg)); break;
      case kRootSquash: options.root_squash = true; break;
      case kMsizeMax: {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(optarg, &end, 0);
        if (end == optarg || *end != '\0' || v < 4096 || v > 0xFFFFFFFFull) {
          std::fprintf(stderr, "p9xd: --msize-max must be a number from 4096 to 4294967295, not '%s'\n", optarg);
          return 2;
        }
        options.policy.max_msize = static_cast<uint32_t>(v);
        break;
      }
      case kNoXqid: options.policy.supported = p9x::negotiation::FeatureSet(); break;
      case kMaxConn: options.max_connections = static_cast<uint32_t>(std::atoi(optarg)); break;
      case kMaxFids: options.max_fids_per_connection = static_cast<uint32_t>(std::atoi(optarg)); break;
      case kMaxQueued: options.max_queued_reply_bytes = std::strtoull(optarg, nullptr, 0); break;
      case kWorkers: options.worker_threads = static_cast<unsigned>(std::atoi(optarg)); break;
      case kTrace: options.trace = true; break;
      case 'v': options.log_level = 2; break;
      case 'q': options.log_level = 0; break;
      case 'h': Usage(stdout); return 0;
      default: Usage(stderr); return 2;
    }
  }
  if (options.export_path.rfind("mem:", 0) == 0) {
    auto mem = p9x::server::ParseMemFsSpec(options.export_path);
    if (!mem) {
      std::fprintf(stderr, "p9xd: %s\n", mem.error().c_str());
      return 64;
    }
    options.backend = std::make_shared<p9x::server::MemFs>(std::move(*mem));
  }
  if (options.export_path.empty()) {
    std::fprintf(stderr, "p9xd: --export DIR is required (p9xd --help)\n");
    return 2;
  }
  if (stdio) rfd = 0, wfd = 1;
  if ((rfd >= 0) != (wfd >= 0)) {
    std::fprintf(stderr, "p9xd: --rfd and --wfd go together\n");
    return 2;
  }
  std::vector<std::string> inherited_where;
  auto inherited = InheritedListeners(&inherited_where);
  if (!inherited) {
    std::fprintf(stderr, "p9xd: %s\n", inherited.error().c_str());
    return 1;
  }
  if (rfd < 0 && listens.empty() && inherited->empty()) listens.push_back("tcp:127.0.0.1:564");
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const rlim_t descriptors = RaiseDescriptorLimit();
  constexpr rlim_t kDescriptorsPerConnection = 1, kOtherDescriptors = 64;
  if (descriptors != RLIM_INFINITY &&
      descriptors < options.max_connections * kDescriptorsPerConnection + kOtherDescriptors && options.log_level >= 1) {
    std::fprintf(
        stderr,
        "p9xd: the descriptor limit (RLIMIT_NOFILE %llu) holds about %llu connections, fewer than "
        "--max-connections %u; raise the hard limit (ulimit -Hn, LimitNOFILE=) for more\n",
        static_cast<unsigned long long>(descriptors),
        static_cast<unsigned long long>((descriptors > kOtherDescriptors ? descriptors - kOtherDescriptors : 0) /
                                        kDescriptorsPerConnection),
        options.max_connections);
  }
  auto server = Server::Create(options);
  if (!server) {
    std::fprintf(stderr, "p9xd: %s\n", server.error().c_str());
    return 1;
  }
  const char* policy = options.multidevs == MultiDevPolicy::kRemap    ? "remap"
                       : options.multidevs == MultiDevPolicy::kForbid ? "forbid"
                                                                      : "passthrough (UNSAFE)";
  const char* identity = options.identity == IdentityMode::kSelf      ? "self"
                         : options.identity == IdentityMode::kPerUser ? "per user"
                                                                      : "squash";
  auto describe = [&](const std::string& where) {
    if (options.log_level >= 1) {
      std::fprintf(stderr, "p9xd: exporting %s on %s (%s, multidevs %s, identity %s, xqid %s, msize <= %u%s%s)\n",
                   options.export_path.c_str(), where.c_str(), options.read_only ? "read-only" : "read-write", policy,
                   identity, options.policy.supported.empty() ? "off" : "on", options.policy.max_msize,
                   options.qid_state_path.empty() ? "" : ", qid state ", options.qid_state_path.c_str());
    }
  };
  if (rfd >= 0) {
    describe("fds " + std::to_string(rfd) + "/" + std::to_string(wfd));
    (*server)->ServeConnection(rfd, wfd, "stdio");
    (*server)->Shutdown();
    return 0;
  }
  std::vector<int> fds = *inherited;
  for (const std::string& where : inherited_where) describe(where);
  for (const std::string& address : listens) {
    std::string bound;
    auto fd = BindListener(address, &bound);
    if (!fd) {
      std::fprintf(stderr, "p9xd: %s\n", fd.error().c_str());
      return 1;
    }
    describe(bound);
    fds.push_back(*fd);
  }
  std::vector<std::thread> loops;
  for (int fd : fds) loops.emplace_back([&, fd] { AcceptLoop(**server, fd, g_stop); });
  for (auto& t : loops) t.join();
  if (options.log_level >= 1) std::fprintf(stderr, "p9xd: shutting down\n");
  for (int fd : fds) close(fd);
  for (const std::string& address : listens) {
    if (address.rfind("unix:", 0) == 0) unlink(address.substr(5).c_str());
  }
  (*server)->Shutdown();
  return 0;
}
