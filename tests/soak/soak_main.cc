// SPDX-License-Identifier: MIT
// p9x-soak: load and faults against the real p9xd over real sockets, and nothing lost.
// Four phases, each bounded by --seconds:
//
//  1. Load. --connections clients (half TCP, half unix socket; dialects mixed) are all connected
//     at once, then a small pool of threads multiplexes them: each cycle on a connection creates
//     its own file, writes a pattern derived from (connection id, sequence), reads it back, renames
//     it within its own directory, to a shared directory and back, Tgetattr's it, reads its
//     directory (which must hold exactly that file) and removes it. Every answer is checked.
//  2. Clients killed mid-write. Child processes (this program, --child-writer) connect and write
//     large files in a loop; each is SIGKILLed at a random moment. Then p9xd must still serve a
//     verified cycle, its descriptor count must return to the phase's baseline, and its RSS must
//     stay within a generous bound.
//  3. p9xd killed. p9xd runs with --qid-state FILE. Each round records the qids of a set of files
//     (walk + Tgetattr, in the legacy dialect and in xqid), runs writer threads that Twrite +
//     Tfsync and record every write acknowledged by Rwrite + Rfsync, SIGKILLs p9xd while writes
//     are in flight, restarts it with the same state file, and checks that it starts, that every
//     recorded qid is unchanged, and that every acknowledged write is on disk with exactly its
//     content, read through the host file system and through p9xd.
//  4. p9xd's descriptor count and VmRSS at baseline and after each phase; the count must return
//     to the baseline, the RSS is printed and held to a generous bound only.
//
// Exit status: 0 when every check passed, 1 when any data was lost or wrong or any check failed,
// 2 on a usage error.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "codec/text.h"
#include "tests/client/server_process.h"

extern char** environ;

namespace p9x::soak {
namespace {

namespace fs = std::filesystem;
using client::Client;
using client::Fid;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- deterministic data ----

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The byte at absolute file position `pos` of the stream named by `seed`. Position-dependent, so
// a write that lands at the wrong offset, or bytes of another file, never compare equal.
uint8_t PatternByte(uint64_t seed, uint64_t pos) {
  return static_cast<uint8_t>(Mix(seed ^ (pos >> 3)) >> ((pos & 7) * 8));
}

std::vector<uint8_t> Pattern(uint64_t seed, uint64_t offset, size_t len) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = PatternByte(seed, offset + i);
  return out;
}

uint64_t Seed(uint64_t a, uint64_t b, uint64_t c = 0) { return Mix(Mix(Mix(a) ^ b) ^ c); }

// ---- /proc ----

long ProcStatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

int FdCount(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

std::string ReadHostFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- options and results ----

struct Options {
  std::string p9xd = P9X_DEFAULT_P9XD_PATH;
  std::string export_dir;  // empty: a fresh temporary directory
  int connections = 1000;
  int seconds = 10;
  int kills = 3;
  int threads = 16;         // phase 1 worker threads
  int child_writers = 8;    // phase 2 children alive at once
  int writer_threads = 6;   // phase 3 writers
  std::string json;
};

// Failures: counted, the first few printed. Any failure makes the run fail.
class Failures {
 public:
  void Add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (++count_ <= 30) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    if (count_ == 31) std::fprintf(stderr, "FAIL: (further failures are counted, not printed)\n");
    all_.push_back(what);
  }
  int count() const {
    std::lock_guard lock(mu_);
    return count_;
  }
  std::vector<std::string> first(size_t n) const {
    std::lock_guard lock(mu_);
    return {all_.begin(), all_.begin() + static_cast<long>(std::min(n, all_.size()))};
  }

 private:
  mutable std::mutex mu_;
  int count_ = 0;
  std::vector<std::string> all_;
};

struct Checkpoint {
  std::string when;
  int fds = -1;
  long rss_kib = -1;
  long peak_rss_kib = -1;
};

// ---- the server ----

class P9xd {
 public:
  P9xd(std::string binary, std::vector<std::string> args, std::string log)
      : binary_(std::move(binary)), args_(std::move(args)), log_(std::move(log)) {}
  ~P9xd() { Stop(); }

  bool Start() {
    std::vector<std::string> argv = {binary_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, cargs.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }
  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  int exit_status() const { return exit_status_; }
  // SIGKILL and reap.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) {
      if (waitpid(pid_, &exit_status_, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    Kill();
  }
  const std::string& log() const { return log_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// ---- client helpers ----

enum class Want { kAuto, kLegacy, kXqid };

client::Result<std::unique_ptr<Client>> Connect(const std::string& target, Want want) {
  client::Options o;
  o.target = target;
  o.timeout = seconds(60);  // a loaded 2-core machine: slow is not lost
  o.dialect = want == Want::kLegacy ? negotiation::DialectChoice::kLegacyOnly
              : want == Want::kXqid ? negotiation::DialectChoice::kXqidOnly
                                    : negotiation::DialectChoice::kAuto;
  return Client::Connect(o);
}

std::string Describe(const client::Error& e) { return e.Describe(); }

bool Same(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Index of the first differing byte (or the shorter length).
size_t FirstDiff(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

// ---- the soak ----

class Soak {
 public:
  explicit Soak(Options o) : opt_(std::move(o)) {}
  int Run();

 private:
  // Per-connection state of phase 1. The Client is declared first so it outlives its Fids.
  struct Conn {
    int id = 0;
    std::unique_ptr<Client> client;
    Fid root, dir, shared;
    uint64_t seq = 0;
    uint64_t cycles = 0;
    bool failed = false;  // a connection that failed a check is not used again
  };

  bool Setup();
  bool StartServer(const char* why);
  Checkpoint Measure(const std::string& when);
  int SettleFds(int target, std::chrono::milliseconds wait);
  void CheckFdsAndRss(const std::string& phase, int baseline_fds, long baseline_rss);
  bool OpenConn(Conn* c, Want want, const std::string& target, const std::string& dirname);
  bool Cycle(Conn* c);
  void Phase1Load();
  void Phase2ClientKills();
  void Phase3ServerKills();
  void WriteJson();

  std::string tcp_target() const { return "tcp:127.0.0.1:" + std::to_string(port_); }
  std::string unix_target() const { return "unix:" + socket_path_; }
  std::string target_for(int i) const { return i % 2 ? unix_target() : tcp_target(); }

  // Mounts a fresh tmpfs at `dir` (a new st_dev under the export: a new device number and new
  // legacy code word in p9xd's qid map, written to its state file). False when not permitted.
  bool MountTmpfs(const std::string& dir);

  Options opt_;
  client::testing::TempDir work_;
  // Declared after work_, so unmounted (lazily, MNT_DETACH) before work_ is removed.
  struct Mounts {
    std::vector<std::string> dirs;
    ~Mounts() {
      for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
    }
  } mounts_;
  bool mount_failed_ = false;
  std::string export_, state_file_, socket_path_;
  int port_ = 0;
  std::unique_ptr<P9xd> server_;
  Failures fail_;
  std::vector<Checkpoint> checkpoints_;
  int baseline_fds_ = -1;
  long baseline_rss_ = -1;

  // Figures.
  int connections_held_ = 0;       // all open at once (phase 1)
  int server_fds_loaded_ = 0;      // p9xd's descriptors while they were
  std::atomic<uint64_t> ops_verified_{0}, bytes_verified_{0}, cycles_{0};
  int clients_killed_ = 0, clients_killed_mid_write_ = 0, server_kills_ = 0;
  uint64_t acked_writes_ = 0, acked_bytes_verified_ = 0, qids_checked_ = 0;
  double phase_seconds_[3] = {0, 0, 0};
};

bool Soak::Setup() {
  if (work_.path().empty()) {
    std::fprintf(stderr, "p9x-soak: cannot create a temporary directory\n");
    return false;
  }
  if (opt_.export_dir.empty()) {
    export_ = work_.path() + "/export";
    fs::create_directories(export_);
  } else {
    export_ = fs::absolute(opt_.export_dir).string();
    std::error_code ec;
    if (!fs::is_directory(export_, ec) || !fs::is_empty(export_, ec)) {
      std::fprintf(stderr, "p9x-soak: --export %s must be an existing empty directory\n", export_.c_str());
      return false;
    }
  }
  for (const char* d : {"load", "shared", "kill", "qids", "writes"}) fs::create_directories(export_ + "/" + d);
  state_file_ = work_.path() + "/qid-state";
  socket_path_ = work_.path() + "/p9xd.sock";
  port_ = client::testing::FreeLoopbackPort();

  // Each phase-1 connection is a socket here and one in p9xd (which inherits this limit), plus
  // the file descriptors p9xd holds for open fids.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t want = std::min<rlim_t>(20000, rl.rlim_max);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(opt_.connections) * 2 + 256) {
    std::fprintf(stderr, "p9x-soak: RLIMIT_NOFILE is %lu, too low for %d connections\n",
                 static_cast<unsigned long>(rl.rlim_cur), opt_.connections);
    return false;
  }
  std::vector<std::string> args = {"--export",          export_,
                                   "--listen",          tcp_target(),
                                   "--listen",          unix_target(),
                                   "--qid-state",       state_file_,
                                   "--max-connections", std::to_string(opt_.connections + 256)};
  server_ = std::make_unique<P9xd>(opt_.p9xd, args, work_.path() + "/p9xd.log");
  return StartServer("start");
}

bool Soak::MountTmpfs(const std::string& dir) {
  if (mount_failed_) return false;
  fs::create_directories(dir);
  if (mount("p9x-soak", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m") != 0) {
    std::printf("phase 3: cannot mount a tmpfs (%s): the qid set stays on one filesystem\n", std::strerror(errno));
    mount_failed_ = true;
    return false;
  }
  mounts_.dirs.push_back(dir);
  return true;
}

bool Soak::StartServer(const char* why) {
  if (!server_->Start()) {
    fail_.Add(std::string("p9xd ") + why + ": cannot spawn " + opt_.p9xd);
    return false;
  }
  if (!client::testing::WaitForListener(port_, seconds(20)) ||
      !client::testing::WaitForUnixSocket(socket_path_, seconds(5)) || !server_->running()) {
    fail_.Add(std::string("p9xd ") + why + ": not serving (exit status " + std::to_string(server_->exit_status()) +
              "); log:\n" + ReadHostFile(server_->log()));
    return false;
  }
  return true;
}

Checkpoint Soak::Measure(const std::string& when) {
  Checkpoint c{when, -1, -1, -1};
  if (server_->running()) {
    c.fds = FdCount(server_->pid());
    c.rss_kib = ProcStatusKiB(server_->pid(), "VmRSS");
    c.peak_rss_kib = ProcStatusKiB(server_->pid(), "VmHWM");
  }
  std::printf("[p9xd %-34s] fds %5d  VmRSS %7ld KiB  VmHWM %7ld KiB\n", when.c_str(), c.fds, c.rss_kib,
              c.peak_rss_kib);
  std::fflush(stdout);
  checkpoints_.push_back(c);
  return c;
}

// Polls p9xd's descriptor count until it equals `target` (or, with target < 0, until it has not
// changed for 300 ms), at most `wait`. Connections close asynchronously.
int Soak::SettleFds(int target, std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  int last = FdCount(server_->pid()), same = 0;
  while (Clock::now() < deadline) {
    if (target >= 0 ? last == target : same >= 15) break;
    std::this_thread::sleep_for(milliseconds(20));
    const int now = FdCount(server_->pid());
    same = now == last ? same + 1 : 0;
    last = now;
  }
  return last;
}

void Soak::CheckFdsAndRss(const std::string& phase, int baseline_fds, long baseline_rss) {
  if (!server_->running()) {
    fail_.Add(phase + ": p9xd is not running (exit status " + std::to_string(server_->exit_status()) + ")");
    return;
  }
  const int fds = SettleFds(baseline_fds, seconds(10));
  const Checkpoint c = Measure("after " + phase);
  if (fds != baseline_fds) {
    fail_.Add(phase + ": p9xd holds " + std::to_string(fds) + " descriptors, baseline " +
              std::to_string(baseline_fds) + " (a leak)");
  }
  // Generous: freed memory need not go back to the kernel (allocator arenas, cached stacks).
  const long bound = std::max(4 * baseline_rss, baseline_rss + 512 * 1024);
  if (c.rss_kib > bound) {
    fail_.Add(phase + ": p9xd VmRSS " + std::to_string(c.rss_kib) + " KiB above the bound " + std::to_string(bound) +
              " KiB (baseline " + std::to_string(baseline_rss) + " KiB)");
  }
}

bool Soak::OpenConn(Conn* c, Want want, const std::string& target, const std::string& dirname) {
  auto cl = Connect(target, want);
  if (!cl) {
    fail_.Add("connection " + std::to_string(c->id) + " (" + target + "): " + Describe(cl.error()));
    return false;
  }
  c->client = std::move(*cl);
  auto root = c->client->AttachRoot("root", "", 0);
  if (!root) {
    fail_.Add("connection " + std::to_string(c->id) + ": Tattach: " + Describe(root.error()));
    return false;
  }
  c->root = std::move(*root);
  auto load = c->root.Walk("load");
  if (!load) {
    fail_.Add("connection " + std::to_string(c->id) + ": walk load: " + Describe(load.error()));
    return false;
  }
  if (auto made = load->Mkdir(dirname, 0755, 0); !made && made.error().code != Errno::kEEXIST) {
    fail_.Add("connection " + std::to_string(c->id) + ": Tmkdir " + dirname + ": " + Describe(made.error()));
    return false;
  }
  auto dir = load->Walk(dirname);
  auto shared = c->root.Walk("shared");
  if (!dir || !shared) {
    fail_.Add("connection " + std::to_string(c->id) + ": walk to its directories: " +
              Describe(!dir ? dir.error() : shared.error()));
    return false;
  }
  c->dir = std::move(*dir);
  c->shared = std::move(*shared);
  return true;
}

// One verified cycle on `c`. False (with the failure recorded) when anything was wrong.
bool Soak::Cycle(Conn* c) {
  const uint64_t seq = c->seq++;
  const std::string who = "connection " + std::to_string(c->id) + " cycle " + std::to_string(seq) + ": ";
  const std::string name = "f" + std::to_string(seq);
  const std::string renamed = name + ".r";
  const std::string shared_name = "c" + std::to_string(c->id) + "-" + std::to_string(seq);
  const uint64_t seed = Seed(static_cast<uint64_t>(c->id), seq);
  const size_t len = 1 + Mix(seed) % 65536;
  const std::vector<uint8_t> data = Pattern(seed, 0, len);
  auto bad = [&](const std::string& what) {
    fail_.Add(who + what);
    return false;
  };

  auto f = c->dir.Walk("");
  if (!f) return bad("clone walk: " + Describe(f.error()));
  if (auto r = f->Create(name, kOpenRdwr, 0644, 0); !r) return bad("Tlcreate " + name + ": " + Describe(r.error()));
  ++ops_verified_;
  if (auto r = f->WriteAt(0, data); !r) return bad("Twrite: " + Describe(r.error()));
  ++ops_verified_;
  auto back = f->ReadAll(0);
  if (!back) return bad("Tread: " + Describe(back.error()));
  if (!Same(*back, data)) {
    return bad("read back " + std::to_string(back->size()) + " bytes, wrote " + std::to_string(len) +
               "; first difference at byte " + std::to_string(FirstDiff(*back, data)));
  }
  ++ops_verified_;
  bytes_verified_ += len;
  if (auto r = c->dir.Rename(name, c->dir, renamed); !r) return bad("rename in its directory: " + Describe(r.error()));
  ++ops_verified_;
  if (auto r = c->dir.Rename(renamed, c->shared, shared_name); !r) {
    return bad("rename to the shared directory: " + Describe(r.error()));
  }
  ++ops_verified_;
  if (auto r = c->shared.Rename(shared_name, c->dir, name); !r) return bad("rename back: " + Describe(r.error()));
  ++ops_verified_;
  auto g = c->dir.Walk(name);
  if (!g) return bad("walk after the renames: " + Describe(g.error()));
  auto attr = g->GetAttr(kGetattrBasic);
  if (!attr) return bad("Tgetattr: " + Describe(attr.error()));
  if (attr->size != len) return bad("Tgetattr size " + std::to_string(attr->size) + ", wrote " + std::to_string(len));
  if (attr->qid.path != f->qid().path || attr->qid.path_hi != f->qid().path_hi) {
    return bad("qid after the renames " + QidText(attr->qid) + " differs from the created file's " +
               QidText(f->qid()));
  }
  ++ops_verified_;
  if (auto r = g->Open(kOpenRdonly); !r) return bad("Tlopen after the renames: " + Describe(r.error()));
  auto again = g->ReadAll(0);
  if (!again) return bad("Tread after the renames: " + Describe(again.error()));
  if (!Same(*again, data)) {
    return bad("after the renames read " + std::to_string(again->size()) + " bytes, first difference at byte " +
               std::to_string(FirstDiff(*again, data)));
  }
  ++ops_verified_;
  bytes_verified_ += len;
  auto d = c->dir.Walk("");
  if (!d) return bad("clone walk of its directory: " + Describe(d.error()));
  if (auto r = d->Open(kOpenRdonly); !r) return bad("Tlopen of its directory: " + Describe(r.error()));
  auto entries = d->ReadDir();
  if (!entries) return bad("Treaddir: " + Describe(entries.error()));
  std::vector<std::string> names;
  for (const auto& e : *entries) {
    if (e.name != "." && e.name != "..") names.push_back(e.name);
  }
  if (names != std::vector<std::string>{name}) {
    std::string got;
    for (const auto& n : names) got += " " + n;
    return bad("Treaddir of its directory lists [" + got + " ], expected [ " + name + " ]");
  }
  ++ops_verified_;
  if (auto r = g->Remove(); !r) return bad("Tremove: " + Describe(r.error()));
  ++ops_verified_;
  if (auto r = f->Clunk(); !r) return bad("Tclunk: " + Describe(r.error()));
  ++c->cycles;
  ++cycles_;
  return true;
}

// ---- phase 1 ----

void Soak::Phase1Load() {
  const auto t0 = Clock::now();
  std::printf("\n== phase 1: load: %d connections, %d s, %d threads\n", opt_.connections, opt_.seconds, opt_.threads);
  std::fflush(stdout);
  std::vector<std::unique_ptr<Conn>> conns(static_cast<size_t>(opt_.connections));
  for (int i = 0; i < opt_.connections; ++i) {
    conns[static_cast<size_t>(i)] = std::make_unique<Conn>();
    conns[static_cast<size_t>(i)]->id = i;
  }
  const int threads = std::max(1, std::min(opt_.threads, opt_.connections));
  std::atomic<int> connected{0}, ready{0};
  std::atomic<bool> go{false};
  Clock::time_point deadline;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<Conn*> mine;
      for (int i = t; i < opt_.connections; i += threads) {
        Conn* c = conns[static_cast<size_t>(i)].get();
        // Dialects mixed: every fourth connection legacy only, the rest the default ladder.
        if (OpenConn(c, i % 4 == 3 ? Want::kLegacy : Want::kAuto, target_for(i), "c" + std::to_string(i))) {
          mine.push_back(c);
          ++connected;
        }
      }
      ++ready;
      while (!go.load()) std::this_thread::sleep_for(milliseconds(5));
      // Round-robin until the deadline; past it, only connections that have not yet done a
      // cycle get one (so every connection is exercised at least once).
      bool any = true;
      while (any) {
        any = false;
        const bool late = Clock::now() >= deadline;
        for (Conn* c : mine) {
          if (c->failed || (late && c->cycles > 0)) continue;
          if (!Cycle(c)) {
            c->failed = true;
            continue;
          }
          any = true;
        }
        if (late) break;
      }
    });
  }
  while (ready.load() < threads) std::this_thread::sleep_for(milliseconds(20));
  connections_held_ = connected.load();
  // Every connection is open now: p9xd holds a socket for each.
  server_fds_loaded_ = FdCount(server_->pid());
  std::printf("connections held at once: %d of %d (p9xd descriptors: %d, baseline %d); connecting took %.1f s\n",
              connections_held_, opt_.connections, server_fds_loaded_, baseline_fds_,
              std::chrono::duration<double>(Clock::now() - t0).count());
  if (connections_held_ != opt_.connections) {
    fail_.Add("phase 1: only " + std::to_string(connections_held_) + " of " + std::to_string(opt_.connections) +
              " connections were established");
  }
  if (server_fds_loaded_ < baseline_fds_ + connections_held_) {
    fail_.Add("phase 1: p9xd holds " + std::to_string(server_fds_loaded_) + " descriptors with " +
              std::to_string(connections_held_) + " connections open (baseline " + std::to_string(baseline_fds_) +
              "): the connections were not all open at once");
  }
  Measure("phase 1: all connected");
  deadline = Clock::now() + seconds(opt_.seconds);
  go = true;
  for (auto& t : pool) t.join();
  Measure("phase 1: load done, still connected");
  uint64_t idle = 0;
  for (const auto& c : conns) {
    if (c->client && !c->failed && c->cycles == 0) ++idle;
  }
  if (idle) fail_.Add("phase 1: " + std::to_string(idle) + " connections completed no cycle");
  conns.clear();  // clunks every fid, closes every connection
  phase_seconds_[0] = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("phase 1: %" PRIu64 " cycles, %" PRIu64 " operations verified, %" PRIu64 " bytes verified\n",
              cycles_.load(), ops_verified_.load(), bytes_verified_.load());
}

// ---- phase 2 ----

// The --child-writer mode: connect and write large files in `dir` forever (until killed).
int ChildWriter(const std::string& target, const std::string& dir) {
  auto cl = Connect(target, Want::kAuto);
  if (!cl) return 3;
  auto root = (*cl)->AttachRoot("root", "", 0);
  if (!root) return 3;
  auto d = root->Walk(dir);
  if (!d) return 3;
  const std::vector<uint8_t> chunk = Pattern(Seed(getpid(), 7), 0, 256 * 1024);
  for (uint64_t n = 0;; ++n) {
    auto f = d->Walk("");
    if (!f || !f->Create("big" + std::to_string(n), kOpenWronly, 0644, 0)) return 4;
    for (uint64_t off = 0; off < (8u << 20); off += chunk.size()) {
      if (!f->WriteAt(off, chunk)) return 5;
    }
    // Keep the tree small: only the file being written (and the one killed) stays.
    if (!f->Clunk() || !d->Unlink("big" + std::to_string(n), 0)) return 6;
  }
}

void Soak::Phase2ClientKills() {
  const auto t0 = Clock::now();
  std::printf("\n== phase 2: clients killed mid-write: %d at once, %d s\n", opt_.child_writers, opt_.seconds);
  std::fflush(stdout);
  const int base_fds = SettleFds(-1, seconds(5));
  const Checkpoint base = Measure("phase 2: baseline");
  std::mt19937_64 rng(Seed(getpid(), 2));
  struct Child {
    pid_t pid = -1;
    std::string dir;
    Clock::time_point kill_at;
  };
  std::vector<Child> alive;
  int spawned = 0, early_exits = 0;
  // Not the path this binary was started from: a rebuild may have replaced that file since.
  const std::string self = "/proc/self/exe";
  auto spawn_one = [&] {
    Child c;
    c.dir = "kill/k" + std::to_string(spawned++);
    fs::create_directories(export_ + "/" + c.dir);
    std::string target = spawned % 2 ? unix_target() : tcp_target();
    std::vector<std::string> argv = {self, "--child-writer", target, c.dir};
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&c.pid, self.c_str(), &actions, nullptr, cargs.data(), environ) != 0) c.pid = -1;
    posix_spawn_file_actions_destroy(&actions);
    // Killed at a random moment: most land inside a Twrite (the child does little else).
    c.kill_at = Clock::now() + milliseconds(100 + rng() % 900);
    if (c.pid > 0) alive.push_back(c);
  };
  auto host_bytes = [&](const std::string& dir) {
    uintmax_t total = 0;
    std::error_code ec;
    for (fs::directory_iterator it(export_ + "/" + dir, ec), end; !ec && it != end; it.increment(ec)) {
      total += it->file_size(ec);
    }
    return total;
  };
  const auto deadline = Clock::now() + seconds(opt_.seconds);
  while (Clock::now() < deadline || !alive.empty()) {
    while (Clock::now() < deadline && static_cast<int>(alive.size()) < opt_.child_writers) spawn_one();
    for (auto it = alive.begin(); it != alive.end();) {
      int status = 0;
      if (waitpid(it->pid, &status, WNOHANG) == it->pid) {
        ++early_exits;  // it stopped by itself: something failed on its connection
        fail_.Add("phase 2: writer child exited by itself (status " + std::to_string(status) + ")");
        it = alive.erase(it);
        continue;
      }
      if (Clock::now() >= it->kill_at) {
        const bool wrote = host_bytes(it->dir) > 0;
        kill(it->pid, SIGKILL);
        waitpid(it->pid, &status, 0);
        ++clients_killed_;
        if (wrote) ++clients_killed_mid_write_;
        it = alive.erase(it);
        continue;
      }
      ++it;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  std::printf("phase 2: %d clients killed (%d after they had written data), %d exited early\n", clients_killed_,
              clients_killed_mid_write_, early_exits);
  if (clients_killed_mid_write_ == 0) fail_.Add("phase 2: no child was killed after it had written anything");
  // p9xd still serves: a verified cycle on a fresh connection, per transport.
  for (int i = 0; i < 2; ++i) {
    Conn c;
    c.id = 1000000 + i;
    if (OpenConn(&c, Want::kAuto, target_for(i), "after-kills-" + std::to_string(i))) {
      if (!Cycle(&c)) fail_.Add("phase 2: p9xd does not serve correctly after the kills");
    }
  }
  phase_seconds_[1] = std::chrono::duration<double>(Clock::now() - t0).count();
  CheckFdsAndRss("phase 2", base_fds, base.rss_kib);
}

// ---- phase 3 ----

struct QidRecord {
  std::string path;
  Qid legacy_walk, legacy_attr, xqid_walk, xqid_attr;
};

// Walk + Tgetattr of `path` on `root`: the walk's qid and the Rgetattr's.
bool LookQid(const Fid& root, const std::string& path, Qid* walk, Qid* attr, std::string* err) {
  auto f = root.Walk(path);
  if (!f) {
    *err = "walk " + path + ": " + f.error().Describe();
    return false;
  }
  *walk = f->qid();
  auto a = f->GetAttr(kGetattrBasic);
  if (!a) {
    *err = "Tgetattr " + path + ": " + a.error().Describe();
    return false;
  }
  *attr = a->qid;
  return true;
}

void Soak::Phase3ServerKills() {
  const auto t0 = Clock::now();
  std::printf("\n== phase 3: p9xd SIGKILLed and restarted with --qid-state: %d rounds, %d s in all\n", opt_.kills,
              opt_.seconds);
  std::fflush(stdout);
  std::mt19937_64 rng(Seed(getpid(), 3));
  std::vector<QidRecord> qids;
  struct Acked {
    std::string path;  // under the export
    uint64_t seed = 0;
    uint64_t length = 0;  // bytes [0, length) were acknowledged by Rwrite + Rfsync
  };
  std::map<std::string, Acked> acked;  // by path
  std::mutex acked_mu;
  const double round_seconds = std::max(0.5, static_cast<double>(opt_.seconds) / std::max(1, opt_.kills));

  // Opens a legacy and an xqid session and checks the dialects are what they claim.
  auto sessions = [&](std::unique_ptr<Client>* legacy, Fid* lroot, std::unique_ptr<Client>* xqid, Fid* xroot,
                      const std::string& when) {
    auto l = Connect(tcp_target(), Want::kLegacy);
    auto x = Connect(unix_target(), Want::kXqid);
    if (!l || !x) {
      fail_.Add("phase 3 " + when + ": connect: " + (!l ? l.error() : x.error()).Describe());
      return false;
    }
    if ((*l)->negotiated().dialect != Dialect::kLegacy || (*x)->negotiated().dialect != Dialect::kXqid) {
      fail_.Add("phase 3 " + when + ": dialects not as asked (legacy session: " + (*l)->negotiated().version +
                ", xqid session: " + (*x)->negotiated().version + ")");
      return false;
    }
    *legacy = std::move(*l);
    *xqid = std::move(*x);
    auto lr = (*legacy)->AttachRoot("root", "", 0);
    auto xr = (*xqid)->AttachRoot("root", "", 0);
    if (!lr || !xr) {
      fail_.Add("phase 3 " + when + ": Tattach: " + (!lr ? lr.error() : xr.error()).Describe());
      return false;
    }
    *lroot = std::move(*lr);
    *xroot = std::move(*xr);
    return true;
  };

  for (int round = 0; round < opt_.kills; ++round) {
    const std::string r = "round " + std::to_string(round + 1);
    // 1. New files for the qid set, then the qids of the whole set, both dialects.
    {
      std::unique_ptr<Client> lc, xc;
      Fid lroot, xroot;
      if (!sessions(&lc, &lroot, &xc, &xroot, r + " before the kill")) return;
      auto qdir = lroot.Walk("qids");
      if (!qdir) {
        fail_.Add("phase 3: walk qids: " + qdir.error().Describe());
        return;
      }
      const std::string sub = "r" + std::to_string(round);
      if (auto m = qdir->Mkdir(sub, 0755, 0); !m) {
        fail_.Add("phase 3: Tmkdir: " + m.error().Describe());
        return;
      }
      std::vector<std::string> paths = {"", "qids", "qids/" + sub};
      std::vector<std::string> dirs = {"qids/" + sub};
      // A new filesystem each round, when this process may mount one: files there get legacy
      // paths from a new code word, so the state file must carry that word across the kill.
      if (MountTmpfs(export_ + "/qids/" + sub + "/m")) {
        dirs.push_back("qids/" + sub + "/m");
        paths.push_back(dirs.back());
      }
      for (const auto& dir : dirs) {
        for (int i = 0; i < 4; ++i) {
          auto f = lroot.Walk(dir);
          const std::string n = "q" + std::to_string(i);
          if (!f || !f->Create(n, kOpenRdwr, 0644, 0)) {
            fail_.Add("phase 3: cannot create " + dir + "/" + n);
            return;
          }
          paths.push_back(dir + "/" + n);
        }
      }
      for (const auto& p : paths) {
        if (std::any_of(qids.begin(), qids.end(), [&](const QidRecord& q) { return q.path == p; })) continue;
        QidRecord q{p, {}, {}, {}, {}};
        std::string err;
        if (!LookQid(lroot, p, &q.legacy_walk, &q.legacy_attr, &err) ||
            !LookQid(xroot, p, &q.xqid_walk, &q.xqid_attr, &err)) {
          fail_.Add("phase 3 " + r + ": " + err);
          return;
        }
        // The two dialects and the two messages describe one file: the same legacy bits.
        if (q.legacy_walk != q.legacy_attr || q.xqid_walk != q.xqid_attr || q.legacy_attr.path_hi != 0 ||
            q.xqid_attr.type != q.legacy_attr.type) {
          fail_.Add("phase 3 " + r + ": inconsistent qids for '" + p + "': legacy walk " + QidText(q.legacy_walk) +
                    " getattr " + QidText(q.legacy_attr) + ", xqid walk " + QidText(q.xqid_walk) + " getattr " +
                    QidText(q.xqid_attr));
        }
        if (p.size() > 2 && p.compare(p.size() - 2, 2, "/m") == 0) {
          std::printf("phase 3 %s: new filesystem %s: legacy qid %s, xqid %s\n", r.c_str(), p.c_str(),
                      QidText(q.legacy_attr).c_str(), QidText(q.xqid_attr).c_str());
        }
        qids.push_back(q);
      }
    }

    // 2. Writers: Twrite + Tfsync, each acknowledged write recorded.
    std::atomic<bool> killed{false};
    std::atomic<uint64_t> round_acks{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < opt_.writer_threads; ++t) {
      writers.emplace_back([&, t] {
        auto cl = Connect(target_for(t), t % 3 == 2 ? Want::kLegacy : Want::kAuto);
        if (!cl) {
          if (!killed) fail_.Add("phase 3 writer: connect: " + cl.error().Describe());
          return;
        }
        auto root = (*cl)->AttachRoot("root", "", 0);
        auto wdir = root ? root->Walk("writes") : client::Result<Fid>(p9x::Unexpected(root.error()));
        if (!wdir) {
          if (!killed) fail_.Add("phase 3 writer: attach/walk: " + wdir.error().Describe());
          return;
        }
        for (int n = 0;; ++n) {
          const std::string name = "r" + std::to_string(round) + "-t" + std::to_string(t) + "-" + std::to_string(n);
          const uint64_t seed = Seed(static_cast<uint64_t>(round), static_cast<uint64_t>(t), static_cast<uint64_t>(n));
          auto f = wdir->Walk("");
          if (!f) {
            if (!killed) fail_.Add("phase 3 writer: walk: " + f.error().Describe());
            return;
          }
          if (auto c = f->Create(name, kOpenRdwr, 0644, 0); !c) {
            if (!killed) fail_.Add("phase 3 writer: Tlcreate: " + c.error().Describe());
            return;
          }
          uint64_t off = 0;
          for (int j = 0; j < 8; ++j) {
            const size_t len = 1 + Mix(seed + static_cast<uint64_t>(j)) % (64 * 1024);
            const auto data = Pattern(seed, off, len);
            auto w = f->WriteAt(off, data);
            using FsyncResult = client::Result<client::Reply<Rfsync>>;
            auto s = w ? (*cl)->Fsync(f->number(), 0) : FsyncResult(p9x::Unexpected(w.error()));
            if (!s) {
              if (!killed) fail_.Add("phase 3 writer: Twrite/Tfsync: " + s.error().Describe());
              return;
            }
            off += len;
            // Rwrite (every part) and Rfsync are in: this prefix must survive the kill.
            std::lock_guard lock(acked_mu);
            acked["writes/" + name] = Acked{"writes/" + name, seed, off};
            ++acked_writes_;
            ++round_acks;
          }
        }
      });
    }

    // 3. Kill p9xd at a random moment while the writers are busy (after at least a few acks).
    const double kill_fraction = 0.4 + 0.6 * static_cast<double>(rng() % 1000) / 1000;
    const auto kill_at = Clock::now() + milliseconds(static_cast<int64_t>(round_seconds * 1000 * kill_fraction));
    const auto give_up = Clock::now() + seconds(30);
    while ((Clock::now() < kill_at || round_acks.load() < 4) && Clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    killed = true;
    Measure("phase 3 " + r + ": before SIGKILL");
    server_->Kill();
    ++server_kills_;
    for (auto& w : writers) w.join();
    std::printf("phase 3 %s: SIGKILL after %" PRIu64 " acknowledged writes this round\n", r.c_str(),
                round_acks.load());

    // 4. Restart with the same state file.
    if (!StartServer((r + " restart after SIGKILL").c_str())) return;
    SettleFds(-1, seconds(5));
    Measure("phase 3 " + r + ": restarted");

    // 5. Qids unchanged; acknowledged data intact on the host and through p9xd.
    std::unique_ptr<Client> lc, xc;
    Fid lroot, xroot;
    if (!sessions(&lc, &lroot, &xc, &xroot, r + " after the restart")) return;
    // Newest first: without the state file, a restarted p9xd would hand the newest filesystem
    // the first free device number and code word, and its qids would change.
    for (auto qi = qids.rbegin(); qi != qids.rend(); ++qi) {
      const QidRecord& q = *qi;
      Qid lw, la, xw, xa;
      std::string err;
      if (!LookQid(lroot, q.path, &lw, &la, &err) || !LookQid(xroot, q.path, &xw, &xa, &err)) {
        fail_.Add("phase 3 " + r + " after the restart: " + err);
        continue;
      }
      ++qids_checked_;
      // A directory's version changes when entries are added (later rounds add to "qids" and the
      // root); its identity (type, path, path_hi) may not. The files are never modified: their
      // whole qid, version included, must be unchanged.
      auto same = [&](const Qid& a, const Qid& b) {
        return a.type == b.type && a.path == b.path && a.path_hi == b.path_hi &&
               ((a.type & kQtDir) != 0 || a.version == b.version);
      };
      if (!same(lw, q.legacy_walk) || !same(la, q.legacy_attr) || !same(xw, q.xqid_walk) ||
          !same(xa, q.xqid_attr)) {
        fail_.Add("phase 3 " + r + ": qid of '" + q.path + "' changed across the restart: legacy " +
                  QidText(q.legacy_attr) + " -> " + QidText(la) + ", xqid " + QidText(q.xqid_attr) + " -> " +
                  QidText(xa));
      }
    }
    std::lock_guard lock(acked_mu);
    for (const auto& [path, a] : acked) {
      const auto want = Pattern(a.seed, 0, a.length);
      const std::string host = ReadHostFile(export_ + "/" + path);
      // Bytes past the acknowledged prefix belong to a write in flight at the kill: any content.
      if (host.size() < a.length ||
          !Same(std::span(reinterpret_cast<const uint8_t*>(host.data()), a.length), want)) {
        fail_.Add("phase 3 " + r + ": LOST: host file " + path + " has " + std::to_string(host.size()) +
                  " bytes; the first " + std::to_string(a.length) +
                  " were acknowledged (Rfsync), first difference at " +
                  std::to_string(FirstDiff(std::span(reinterpret_cast<const uint8_t*>(host.data()),
                                                     std::min<size_t>(host.size(), a.length)),
                                           want)));
        continue;
      }
      auto f = lroot.Walk(path);
      if (!f || !f->Open(kOpenRdonly)) {
        fail_.Add("phase 3 " + r + ": cannot open " + path + " through p9xd");
        continue;
      }
      std::vector<uint8_t> got(a.length);
      auto n = f->ReadAt(0, got);
      if (!n || *n != a.length || !Same(got, want)) {
        fail_.Add("phase 3 " + r + ": LOST: " + path + " through p9xd: " +
                  (n ? std::to_string(*n) + " bytes, first difference at " + std::to_string(FirstDiff(got, want))
                     : n.error().Describe()));
        continue;
      }
      acked_bytes_verified_ += 2 * a.length;
    }
  }
  phase_seconds_[2] = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("phase 3: %d server kills, %" PRIu64 " acknowledged writes, %" PRIu64
              " acknowledged bytes verified (host + p9xd), %" PRIu64 " qid checks (%zu extra filesystems)\n",
              server_kills_, acked_writes_, acked_bytes_verified_, qids_checked_, mounts_.dirs.size());
  // The restarted p9xd, its verification clients gone, holds what a fresh one held.
  CheckFdsAndRss("phase 3", baseline_fds_, baseline_rss_);
}

void Soak::WriteJson() {
  nlohmann::json j;
  j["connections_requested"] = opt_.connections;
  j["connections_held"] = connections_held_;
  j["server_fds_with_all_connected"] = server_fds_loaded_;
  j["seconds_per_phase"] = opt_.seconds;
  j["phase_seconds"] = {phase_seconds_[0], phase_seconds_[1], phase_seconds_[2]};
  j["cycles"] = cycles_.load();
  j["operations_verified"] = ops_verified_.load();
  j["bytes_verified"] = bytes_verified_.load() + acked_bytes_verified_;
  j["faults"] = {{"clients_killed", clients_killed_},
                 {"clients_killed_after_writing", clients_killed_mid_write_},
                 {"server_kills", server_kills_}};
  j["acked_writes"] = acked_writes_;
  j["acked_bytes_verified"] = acked_bytes_verified_;
  j["qid_checks"] = qids_checked_;
  j["qid_extra_filesystems"] = mounts_.dirs.size();
  j["failures"] = fail_.count();
  j["first_failures"] = fail_.first(10);
  auto& cp = j["p9xd"];
  cp = nlohmann::json::array();
  for (const auto& c : checkpoints_) {
    cp.push_back({{"when", c.when}, {"fds", c.fds}, {"rss_kib", c.rss_kib}, {"peak_rss_kib", c.peak_rss_kib}});
  }
  std::ofstream out(opt_.json);
  out << j.dump(2) << "\n";
  if (!out) std::fprintf(stderr, "p9x-soak: cannot write %s\n", opt_.json.c_str());
}

int Soak::Run() {
  const auto t0 = Clock::now();
  if (!Setup()) {
    std::fprintf(stderr, "p9x-soak: setup failed\n");
    return 1;
  }
  baseline_fds_ = SettleFds(-1, seconds(5));
  baseline_rss_ = Measure("baseline").rss_kib;
  Phase1Load();
  if (server_->running()) CheckFdsAndRss("phase 1", baseline_fds_, baseline_rss_);
  else fail_.Add("phase 1: p9xd died; log:\n" + ReadHostFile(server_->log()));
  if (server_->running()) Phase2ClientKills();
  if (server_->running()) Phase3ServerKills();
  server_->Stop();

  std::printf("\n== summary (%.1f s)\n", std::chrono::duration<double>(Clock::now() - t0).count());
  std::printf("connections held at once:   %d (p9xd descriptors %d)\n", connections_held_, server_fds_loaded_);
  std::printf("load cycles / ops verified: %" PRIu64 " / %" PRIu64 "\n", cycles_.load(), ops_verified_.load());
  std::printf("bytes verified:             %" PRIu64 " (load) + %" PRIu64 " (acknowledged writes, host + p9xd)\n",
              bytes_verified_.load(), acked_bytes_verified_);
  std::printf("faults injected:            %d clients killed (%d after writing), %d p9xd SIGKILLs\n",
              clients_killed_, clients_killed_mid_write_, server_kills_);
  std::printf("acknowledged writes:        %" PRIu64 " (all checked after each restart), qid checks %" PRIu64 "\n",
              acked_writes_, qids_checked_);
  for (const auto& c : checkpoints_) {
    std::printf("  p9xd %-40s fds %5d  VmRSS %7ld KiB\n", c.when.c_str(), c.fds, c.rss_kib);
  }
  std::printf("failures:                   %d\n", fail_.count());
  std::printf("%s\n", fail_.count() == 0 ? "PASS: nothing lost" : "FAIL");
  if (!opt_.json.empty()) WriteJson();
  return fail_.count() == 0 ? 0 : 1;
}

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: p9x-soak [options]\n"
               "  --p9xd PATH         the p9xd binary (default %s)\n"
               "  --export DIR        an existing empty directory to export (default: a fresh temp dir)\n"
               "  --connections N     phase 1 concurrent connections (default 1000)\n"
               "  --seconds S         duration of each phase (default 10)\n"
               "  --kills K           phase 3 p9xd SIGKILL + restart rounds (default 3)\n"
               "  --threads T         phase 1 threads multiplexing the connections (default 16)\n"
               "  --json FILE         write the figures as JSON\n",
               P9X_DEFAULT_P9XD_PATH);
}

}  // namespace
}  // namespace p9x::soak

int main(int argc, char** argv) {
  using namespace p9x::soak;
  signal(SIGPIPE, SIG_IGN);
  if (argc == 4 && std::strcmp(argv[1], "--child-writer") == 0) return ChildWriter(argv[2], argv[3]);
  Options o;
  enum { kP9xd = 1000, kExport, kConnections, kSeconds, kKills, kThreads, kJson };
  static const option longopts[] = {
      {"p9xd", required_argument, nullptr, kP9xd},       {"export", required_argument, nullptr, kExport},
      {"connections", required_argument, nullptr, kConnections},
      {"seconds", required_argument, nullptr, kSeconds}, {"kills", required_argument, nullptr, kKills},
      {"threads", required_argument, nullptr, kThreads}, {"json", required_argument, nullptr, kJson},
      {"help", no_argument, nullptr, 'h'},               {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    switch (c) {
      case kP9xd: o.p9xd = optarg; break;
      case kExport: o.export_dir = optarg; break;
      case kConnections: o.connections = std::atoi(optarg); break;
      case kSeconds: o.seconds = std::atoi(optarg); break;
      case kKills: o.kills = std::atoi(optarg); break;
      case kThreads: o.threads = std::atoi(optarg); break;
      case kJson: o.json = optarg; break;
      case 'h': Usage(stdout); return 0;
      default: Usage(stderr); return 2;
    }
  }
  if (optind != argc || o.connections < 1 || o.seconds < 1 || o.kills < 0 || o.threads < 1) {
    Usage(stderr);
    return 2;
  }
  if (!p9x::client::testing::ExecutableExists(o.p9xd)) {
    std::fprintf(stderr, "p9x-soak: %s is not an executable p9xd\n", o.p9xd.c_str());
    return 2;
  }
  return Soak(o).Run();
}
