// SPDX-License-Identifier: MIT
// p9bench: the server benchmark client, its raw floor server, and the side-by-side matrix.
//
//   p9bench matrix --out DIR --work DIR [--quick] [--pin] [--server SPEC]... [--gbench FILE]...
//                  [--only PREFIX,...] [--busy-conns N] [--idle-conns N]
//   p9bench echo-server --listen tcp:127.0.0.1:PORT|unix:PATH
//   p9bench run --connect ADDR [--aname NAME] [--bench read|write|getattr|wgc|wgc-pipe|create|readdir|mix]
//               [--msize N] [--depth D] [--conns N] [--seconds S] [--server-pid PID] [--floor]
//
// `run` is one measurement against an already running server (for profiling); with --floor it
// replays the same sizes against an echo server at ADDR instead. `mix` is the many-connection
// mix of the matrix's conns rows (the export needs its `f` and a 64 MiB `data`); --conns opens
// that many connections, each with --depth requests in flight. --server-pid adds the server's
// CPU time per operation (utime + stime of the process, /proc/PID/stat).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/p9bench/conn.h"
#include "bench/p9bench/driver.h"
#include "bench/p9bench/floor_server.h"
#include "bench/p9bench/matrix.h"
#include "bench/p9bench/net.h"
#include "bench/p9bench/workloads.h"

namespace p9bench {
namespace {

int Usage() {
  std::cerr << "usage:\n"
               "  p9bench matrix --out DIR --work DIR [--quick] [--pin] [--server 'NAME|tcp=CMD|unix=CMD|aname=A']...\n"
               "                 [--gbench FILE.json]... [--only PREFIX,...] [--busy-conns N] [--idle-conns N]\n"
               "  p9bench echo-server --listen tcp:127.0.0.1:PORT|unix:PATH\n"
               "  p9bench run --connect ADDR [--aname A] [--bench read|write|getattr|wgc|wgc-pipe|create|readdir|mix]\n"
               "              [--msize N] [--depth D] [--conns N] [--seconds S] [--server-pid PID] [--floor]\n";
  return 64;
}

std::string SelfExe() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return "p9bench";
  path[n] = '\0';
  return path;
}

// Many connections need many descriptors; children inherit the raised limit.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int EchoServer(const std::vector<std::string>& args) {
  std::string listen;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--listen") listen = args[i + 1];
  }
  auto address = Address::Parse(listen);
  if (!address) {
    std::cerr << "echo-server: " << address.error() << "\n";
    return Usage();
  }
  auto fd = Listen(*address);
  if (!fd) {
    std::cerr << "echo-server: " << fd.error() << "\n";
    return 1;
  }
  ServeFloor(*fd);
  return 1;
}

int RunOne(const std::vector<std::string>& args) {
  std::string connect, aname, bench = "getattr";
  uint32_t msize = 128 * 1024, depth = 1, conn_count = 1;
  double seconds = 2;
  pid_t server_pid = -1;
  bool floor = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const std::string v = i + 1 < args.size() ? args[i + 1] : "";
    if (a == "--connect") connect = v, ++i;
    else if (a == "--aname") aname = v, ++i;
    else if (a == "--bench") bench = v, ++i;
    else if (a == "--msize") msize = static_cast<uint32_t>(std::stoul(v)), ++i;
    else if (a == "--depth") depth = static_cast<uint32_t>(std::stoul(v)), ++i;
    else if (a == "--conns")
      conn_count = static_cast<uint32_t>(std::stoul(v)), ++i;
    else if (a == "--seconds") seconds = std::stod(v), ++i;
    else if (a == "--server-pid")
      server_pid = static_cast<pid_t>(std::stol(v)), ++i;
    else if (a == "--floor") floor = true;
    else return Usage();
  }
  auto address = Address::Parse(connect);
  if (!address) {
    std::cerr << address.error() << "\n";
    return Usage();
  }
  if (conn_count == 0) return Usage();
  // Sizes the 9P workloads would use, for --floor (Tread 23 -> Rread 11+count etc.).
  const uint32_t count = msize - p9x::kIoHeaderSize;
  std::vector<std::unique_ptr<Conn>> conns;
  std::unique_ptr<Workload> workload;
  const uint64_t file_size = 64ull << 20;
  uint64_t entries = 0;
  if (floor) {
    std::vector<Schedule> schedules;
    if (bench == "read")
      schedules = {{{Step{23, 11 + count}}}};
    else if (bench == "write")
      schedules = {{{Step{23 + count, 11}}}};
    else if (bench == "getattr")
      schedules = {{{Step{19, 160}}}};
    else if (bench == "wgc-pipe")
      schedules = {{{Step{22, 22}, Step{19, 160}, Step{11, 7}}}};
    else if (bench == "wgc")
      schedules = {{{Step{22, 22}}, {Step{19, 160}}, {Step{11, 7}}}};
    // The matrix's floor of the mix: Tgetattr 19/Rgetattr 160, Tread 23/Rread 11+4096.
    else if (bench == "mix")
      schedules = {{{Step{19, 160}}}, {{Step{23, 11 + 4096}}}};
    else return Usage();
    workload = MakeFloorWorkload(std::move(schedules), bench == "mix");
  } else {
    if (bench == "read") workload = MakeReadWorkload(file_size);
    else if (bench == "write") workload = MakeWriteWorkload(file_size);
    else if (bench == "getattr") workload = MakeGetattrWorkload();
    else if (bench == "wgc") workload = MakeWalkGetattrClunkWorkload(false);
    else if (bench == "wgc-pipe") workload = MakeWalkGetattrClunkWorkload(true);
    else if (bench == "create") workload = MakeCreateWorkload(nullptr);
    else if (bench == "readdir") workload = MakeReaddirWorkload(&entries);
    else if (bench == "mix")
      workload = MakeMixWorkload(file_size);
    else return Usage();
  }
  for (uint32_t c = 0; c < conn_count; ++c) {
    auto fd = Connect(*address);
    if (!fd) {
      std::cerr << "connection " << c << ": " << fd.error() << "\n";
      return 1;
    }
    if (floor) {
      conns.push_back(std::make_unique<Conn>(*fd, address->transport, msize + 4096));
      continue;
    }
    auto session = Open9P(*fd, address->transport, msize, aname);
    if (!session) {
      std::cerr << "connection " << c << ": " << session.error() << "\n";
      return 1;
    }
    conns.push_back(std::move(*session));
  }
  RunOptions options;
  options.warmup_seconds = std::min(0.2, seconds / 5);
  options.seconds = seconds;
  options.server_pid = server_pid;
  std::vector<Conn*> raw;
  for (auto& conn : conns) raw.push_back(conn.get());
  const Measurement m = RunWorkload(raw, depth, *workload, options);
  if (!m.error.empty()) {
    std::cerr << "error: " << m.error << "\n";
    return 1;
  }
  const double ops = static_cast<double>(m.ops);
  // bench=<name> transport=<t> msize=<n> depth=<d> ...: the one-line result that scripts and tests parse
  std::printf(
      "bench=%s%s transport=%s msize=%u depth=%u conns=%u ops=%llu ops_per_s=%.0f mb_per_s=%.1f p50_us=%.1f "
      "p99_us=%.1f little_us=%.1f client_cpu_us_per_op=%.2f server_cpu_us_per_op=%.2f schedule=%s\n",
      floor ? "floor_" : "", bench.c_str(), std::string(TransportName(address->transport)).c_str(),
      conns[0]->ctx().msize, depth, conn_count, static_cast<unsigned long long>(m.ops), m.ops_per_second(),
      m.mb_per_second(), static_cast<double>(m.p50_ns) / 1e3, static_cast<double>(m.p99_ns) / 1e3,
      static_cast<double>(conn_count) * depth / m.ops_per_second() * 1e6, m.client_cpu_seconds * 1e6 / ops,
      m.server_cpu_seconds >= 0 ? m.server_cpu_seconds * 1e6 / ops : -1.0,
      m.schedules.empty() ? "" : ScheduleToString(m.schedules[0]).c_str());
  return 0;
}

int Matrix(const std::vector<std::string>& args, const std::string& command_line) {
  MatrixOptions options;
  options.self_exe = SelfExe();
  options.command_line = command_line;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const std::string v = i + 1 < args.size() ? args[i + 1] : "";
    if (a == "--quick") {
      options.quick = true;
    } else if (a == "--command-line") {
      options.command_line = v, ++i;
    } else if (a == "--pin") {
      options.pin = true;
    } else if (a == "--busy-conns") {
      options.busy_conns = static_cast<uint32_t>(std::stoul(v)), ++i;
    } else if (a == "--idle-conns") {
      options.idle_conns = static_cast<uint32_t>(std::stoul(v)), ++i;
    } else if (a == "--out") {
      options.out_dir = v, ++i;
    } else if (a == "--work") {
      options.work_dir = v, ++i;
    } else if (a == "--gbench") {
      options.gbench_json.push_back(v), ++i;
    } else if (a == "--only") {
      std::istringstream in(v);
      std::string prefix;
      while (std::getline(in, prefix, ',')) options.only.push_back(prefix);
      ++i;
    } else if (a == "--server") {
      ServerSpec spec;
      std::string error;
      if (!ParseServerSpec(v, &spec, &error)) {
        std::cerr << error << "\n";
        return Usage();
      }
      options.servers.push_back(spec);
      ++i;
    } else {
      std::cerr << "unknown argument " << a << "\n";
      return Usage();
    }
  }
  if (options.out_dir.empty() || options.work_dir.empty() || options.servers.empty()) return Usage();
  return RunMatrix(options);
}

}  // namespace
}  // namespace p9bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  p9bench::RaiseFileLimit();
  if (argc < 2) return p9bench::Usage();
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "echo-server") return p9bench::EchoServer(args);
  if (command == "run") return p9bench::RunOne(args);
  if (command == "matrix") {
    std::string line;
    for (int i = 0; i < argc; ++i) line += (i ? " " : "") + std::string(argv[i]);
    return p9bench::Matrix(args, line);
  }
  return p9bench::Usage();
}
