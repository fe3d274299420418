// SPDX-License-Identifier: MIT
#include "bench/p9bench/matrix.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/p9bench/conn.h"
#include "bench/p9bench/driver.h"
#include "bench/p9bench/floor_server.h"
#include "bench/p9bench/net.h"
#include "bench/p9bench/workloads.h"

namespace p9bench {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr uint32_t kKiB = 1024;

void Log(const std::string& line) { std::cerr << "p9bench: " << line << std::endl; }

// ---- endpoints ----

// One server reachable over one transport: a listening process, or (for {fd} templates) a
// process per connection handed one end of an AF_UNIX socketpair.
class Endpoint {
 public:
  Endpoint(std::string name, Transport transport, std::string command_template, std::string dir,
           std::string work_dir, int cpu)
      : name_(std::move(name)), transport_(transport), template_(std::move(command_template)),
        dir_(std::move(dir)), work_dir_(std::move(work_dir)), cpu_(cpu) {}
  ~Endpoint() { Stop(); }

  bool available() const { return !template_.empty(); }
  bool per_connection() const { return template_.find("{fd}") != std::string::npos; }
  pid_t pid() const { return pid_; }
  Transport transport() const { return transport_; }
  const std::string& name() const { return name_; }
  std::string log_path() const {
    return work_dir_ + "/" + name_ + "-" + std::string(TransportName(transport_)) + ".log";
  }

  Status Start() {
    if (!available()) return Unexpected("no " + std::string(TransportName(transport_)) + " transport");
    if (per_connection()) return {};
    if (transport_ == Transport::kTcp) {
      auto port = PickFreeTcpPort();
      if (!port) return Unexpected(port.error());
      address_ = {.transport = Transport::kTcp, .host = "127.0.0.1", .port = *port, .path = {}};
    } else {
      address_ = {.transport = Transport::kUnix, .host = {}, .port = 0, .path = work_dir_ + "/" + name_ + ".sock"};
      unlink(address_.path.c_str());
    }
    auto argv = ExpandTemplate(template_, {{"port", std::to_string(address_.port)},
                                           {"path", address_.path},
                                           {"dir", dir_}});
    auto pid = Spawn(argv, log_path(), -1, cpu_);
    if (!pid) return Unexpected(pid.error());
    pid_ = *pid;
    children_.push_back(pid_);
    if (auto up = WaitConnectable(address_, pid_, 10'000); !up) {
      Stop();
      return Unexpected(up.error() + " (log: " + log_path() + ")");
    }
    return {};
  }

  Result<int> Open() {
    if (!per_connection()) return Connect(address_);
    // Reap per-connection servers whose connection is gone.
    std::erase_if(children_, [](pid_t child) { return !Alive(child); });
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      return Unexpected(std::string("socketpair: ") + std::strerror(errno));
    }
    auto argv = ExpandTemplate(template_, {{"fd", std::to_string(pair[1])}, {"dir", dir_}});
    auto pid = Spawn(argv, log_path(), pair[1], cpu_);
    close(pair[1]);
    if (!pid) {
      close(pair[0]);
      return Unexpected(pid.error());
    }
    pid_ = *pid;
    children_.push_back(pid_);
    TuneSocket(pair[0], Transport::kUnix);
    return pair[0];
  }

  void Stop() {
    for (pid_t child : children_) Terminate(child);
    children_.clear();
    pid_ = -1;
  }

 private:
  std::string name_;
  Transport transport_;
  std::string template_;
  std::string dir_;
  std::string work_dir_;
  int cpu_;
  Address address_;
  pid_t pid_ = -1;
  std::vector<pid_t> children_;
};

// ---- the export tree ----

struct ExportTree {
  std::string dir;
  uint64_t file_size = 0;
  uint32_t big_entries = 0;
};

Status WriteFile(const std::string& path, uint64_t size) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unexpected("create " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> chunk(1 << 20);
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<uint8_t>(i * 131 + 17);
  for (uint64_t done = 0; done < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - done));
    if (write(fd, chunk.data(), n) != static_cast<ssize_t>(n)) {
      close(fd);
      return Unexpected("write " + path + ": " + std::strerror(errno));
    }
    done += n;
  }
  close(fd);
  return {};
}

Result<ExportTree> PrepareExport(const std::string& work_dir, bool quick) {
  ExportTree tree;
  tree.dir = work_dir + "/export";
  tree.file_size = quick ? 16ull << 20 : 64ull << 20;
  tree.big_entries = quick ? 2'000 : 100'000;
  std::error_code ec;
  fs::remove_all(tree.dir, ec);
  fs::create_directories(tree.dir + "/big", ec);
  fs::create_directories(tree.dir + "/create", ec);
  if (ec) return Unexpected("mkdir " + tree.dir + ": " + ec.message());
  for (const char* name : {"data", "wdata"}) {
    if (auto ok = WriteFile(tree.dir + "/" + name, tree.file_size); !ok) return Unexpected(ok.error());
  }
  if (auto ok = WriteFile(tree.dir + "/f", 4096); !ok) return Unexpected(ok.error());
  const int big = open((tree.dir + "/big").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (uint32_t i = 0; i < tree.big_entries; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "file-%06u", i);
    const int fd = openat(big, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      close(big);
      return Unexpected(std::string("create big/") + name + ": " + std::strerror(errno));
    }
    close(fd);
  }
  close(big);
  return tree;
}

// ---- measuring ----

struct Cell {
  Measurement m;
  uint32_t msize = 0;               // negotiated
  std::vector<double> rep_rates;    // ops/s of every repetition
};

// The repetition with the most ops/s. The machine is shared (other builds run on the same two
// cores) and interference only ever slows a run down, so the best repetition is the most
// reproducible estimate of what the server itself costs; every repetition is kept in the JSON.
Cell Best(std::vector<Cell>& cells) {
  std::vector<double> rates;
  for (const Cell& cell : cells) rates.push_back(cell.m.ops_per_second());
  auto best = std::max_element(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) {
    return a.m.ops_per_second() < b.m.ops_per_second();
  });
  Cell result = std::move(*best);
  result.rep_rates = std::move(rates);
  return result;
}

using WorkloadFactory = std::function<std::unique_ptr<Workload>()>;

// What a 9P session attaches to, and as whom (ServerSpec aname and uid).
struct AttachTarget {
  std::string aname;
  uint32_t uid = 0;
};

// Runs `reps` repetitions, each on fresh connections, and returns the best (Best()). A 9P
// cell opens sessions (Tversion msize + Tattach aname); a floor cell raw connections.
Cell Measure(Endpoint& endpoint, bool nine_p, uint32_t msize, const AttachTarget& attach,
             const WorkloadFactory& make, uint32_t lanes, uint32_t conns, const RunOptions& options, int reps) {
  std::vector<Cell> cells;
  for (int rep = 0; rep < reps; ++rep) {
    Cell cell;
    std::vector<std::unique_ptr<Conn>> owned;
    for (uint32_t c = 0; c < conns; ++c) {
      auto fd = endpoint.Open();
      if (!fd) {
        cell.m.error = fd.error();
        return cell;
      }
      if (nine_p) {
        auto conn = Open9P(*fd, endpoint.transport(), msize, attach.aname, attach.uid);
        if (!conn) {
          cell.m.error = conn.error();
          return cell;
        }
        cell.msize = (*conn)->ctx().msize;
        owned.push_back(std::move(*conn));
      } else {
        owned.push_back(std::make_unique<Conn>(*fd, endpoint.transport(), msize));
      }
    }
    std::vector<Conn*> raw;
    for (auto& conn : owned) raw.push_back(conn.get());
    RunOptions run_options = options;
    run_options.server_pid = endpoint.pid();
    auto workload = make();
    cell.m = RunWorkload(raw, lanes, *workload, run_options);
    if (!cell.m.error.empty()) return cell;
    cells.push_back(std::move(cell));
  }
  return Best(cells);
}

uint32_t MaxReply(const std::vector<Schedule>& schedules) {
  uint32_t max = 0;
  for (const Schedule& schedule : schedules) {
    for (const auto& group : schedule) {
      for (const Step& step : group) max = std::max(max, step.reply);
    }
  }
  return max;
}

// ---- results ----

struct Record {
  std::string bench;  // stable id, e.g. "read"
  std::string label;  // human text for the table
  std::string transport;
  uint32_t msize_req = 0;
  uint32_t depth = 1;
  uint32_t conns = 1;
  std::string unit;
  bool higher_is_better = true;
  std::string server;
  double value = NAN;
  uint32_t msize = 0;
  double floor = NAN;
  double ratio = NAN;  // value / floor for throughputs; value / floor for times (lower is better)
  double p50_us = NAN;
  double p99_us = NAN;
  // Many connections, one request in flight each: Little's law's mean round trip, N ÷ ops/s.
  double little_mean_us = NAN;
  double server_cpu_us_per_op = NAN;
  double client_cpu_us_per_op = NAN;
  uint64_t ops = 0;
  std::string schedule;
  std::string note;
  std::string error;
  std::vector<double> rep_rates;        // ops/s of each repetition
  std::vector<double> floor_rep_rates;  // the floor's
};

Json ToJson(const Record& r) {
  auto number = [](double v) { return std::isnan(v) ? Json(nullptr) : Json(v); };
  Json j;
  j["name"] = r.bench + "_" + r.transport + (r.msize_req ? "_m" + std::to_string(r.msize_req) : "") + "_d" +
              std::to_string(r.depth) + "_c" + std::to_string(r.conns);
  j["bench"] = r.bench;
  j["label"] = r.label;
  j["transport"] = r.transport;
  j["msize_requested"] = r.msize_req;
  j["depth"] = r.depth;
  j["conns"] = r.conns;
  j["server"] = r.server;
  j["value"] = number(r.value);
  j["unit"] = r.unit;
  j["higher_is_better"] = r.higher_is_better;
  j["msize"] = r.msize;
  j["floor"] = number(r.floor);
  j["ratio"] = number(r.ratio);
  j["p50_us"] = number(r.p50_us);
  j["p99_us"] = number(r.p99_us);
  j["little_mean_us"] = number(r.little_mean_us);
  j["server_cpu_us_per_op"] = number(r.server_cpu_us_per_op);
  j["client_cpu_us_per_op"] = number(r.client_cpu_us_per_op);
  j["ops"] = r.ops;
  j["schedule"] = r.schedule;
  j["note"] = r.note;
  j["error"] = r.error;
  j["rep_ops_per_s"] = r.rep_rates;
  j["floor_rep_ops_per_s"] = r.floor_rep_rates;
  return j;
}

std::string Format(double v, const std::string& unit) {
  if (std::isnan(v)) return "—";
  char buffer[64];
  if (unit == "ops/s" || unit == "MB/s") {
    // Thousands separators for readability.
    std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
      out += digits[i];
    }
    return out;
  }
  std::snprintf(buffer, sizeof buffer, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
  return buffer;
}

std::string FormatRatio(double r) {
  if (std::isnan(r)) return "—";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", r);
  return buffer;
}

std::string SizeLabel(uint32_t bytes) {
  if (bytes == 0) return "—";
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + "M";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + "K";
  return std::to_string(bytes);
}

class Matrix {
 public:
  explicit Matrix(const MatrixOptions& options) : options_(options) {
    if (options.quick) {
      run_.warmup_seconds = 0.03;
      run_.seconds = 0.12;
      reps_ = 1;
    } else {
      run_.warmup_seconds = 0.08;
      run_.seconds = 0.3;
      reps_ = 5;
    }
  }

  int Go() {
    // Other work on the machine (builds) competes for the same cores; as root, run the client
    // and (by inheritance) the servers at a higher priority. The load average is recorded.
    if (geteuid() == 0) setpriority(PRIO_PROCESS, 0, -10);
    load_before_ = LoadAverage();
    if (options_.pin) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(0, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    Log("preparing the export tree in " + options_.work_dir);
    auto tree = PrepareExport(options_.work_dir, options_.quick);
    if (!tree) {
      Log(tree.error());
      return 2;
    }
    tree_ = *tree;
    for (Transport transport : {Transport::kTcp, Transport::kUnix}) RunTransport(transport);
    RunConnections();
    RunBusyBesideIdle();
    load_after_ = LoadAverage();
    return Write();
  }

 private:
  static std::string LoadAverage() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
  }

  bool Wanted(const std::string& bench) const {
    if (options_.only.empty()) return true;
    return std::any_of(options_.only.begin(), options_.only.end(),
                       [&](const std::string& prefix) { return bench.starts_with(prefix); });
  }

  int ServerCpu() const { return options_.pin ? 1 : -1; }

  std::string FloorTemplate(Transport transport) const {
    return options_.self_exe + " echo-server --listen " +
           (transport == Transport::kTcp ? "tcp:127.0.0.1:{port}" : "unix:{path}");
  }

  AttachTarget Attach(const ServerSpec& spec) const {
    auto words = ExpandTemplate(spec.aname, {{"dir", tree_.dir}});
    return {words.empty() ? std::string() : words[0], spec.uid};
  }

  // The floor for a 9P measurement: the same schedules, lanes and connections, against the
  // echo server.
  Cell Floor(Endpoint& floor, const Measurement& nine_p, uint32_t lanes, uint32_t conns, bool mix,
             const RunOptions& options, int reps) {
    const auto schedules = nine_p.schedules;
    return Measure(floor, false, MaxReply(schedules) + 4096, AttachTarget{}, [&] { return MakeFloorWorkload(schedules, mix); },
                   lanes, conns, options, reps);
  }

  Record Base(const std::string& bench, const std::string& label, Transport transport, uint32_t msize,
              uint32_t depth, uint32_t conns, const std::string& unit, bool higher, const std::string& server) {
    Record r;
    r.bench = bench;
    r.label = label;
    r.transport = std::string(TransportName(transport));
    r.msize_req = msize;
    r.depth = depth;
    r.conns = conns;
    r.unit = unit;
    r.higher_is_better = higher;
    r.server = server;
    return r;
  }

  static void FillFromMeasurement(Record& r, const Cell& cell) {
    const Measurement& m = cell.m;
    r.msize = cell.msize;
    r.rep_rates = cell.rep_rates;
    r.ops = m.ops;
    r.error = m.error;
    if (!m.error.empty() || m.ops == 0) return;
    r.p50_us = static_cast<double>(m.p50_ns) / 1e3;
    r.p99_us = static_cast<double>(m.p99_ns) / 1e3;
    if (m.server_cpu_seconds >= 0) r.server_cpu_us_per_op = m.server_cpu_seconds * 1e6 / static_cast<double>(m.ops);
    r.client_cpu_us_per_op = m.client_cpu_seconds * 1e6 / static_cast<double>(m.ops);
    if (!m.schedules.empty()) r.schedule = ScheduleToString(m.schedules[0]);
    for (size_t k = 1; k < m.schedules.size(); ++k) r.schedule += " | " + ScheduleToString(m.schedules[k]);
  }

  // A throughput cell (MB/s or ops/s), with its floor.
  void Throughput(Endpoint& server, Endpoint& floor, const AttachTarget& attach, const std::string& bench,
                  const std::string& label, uint32_t msize, uint32_t depth, const std::string& unit,
                  const WorkloadFactory& make, const std::string& note = "") {
    Record r = Base(bench, label, server.transport(), msize, depth, 1, unit, true, server.name());
    r.note = note;
    Log(server.name() + " " + r.transport + " " + label + " msize " + SizeLabel(msize) + " depth " +
        std::to_string(depth));
    // 9P and floor repetitions alternate, so load that comes and goes on the machine falls on
    // both alike; each side reports its best repetition.
    std::vector<Cell> nine_p, floors;
    std::string floor_error;
    for (int rep = 0; rep < reps_; ++rep) {
      Cell cell = Measure(server, true, msize, attach, make, depth, 1, run_, 1);
      if (!cell.m.error.empty()) {
        nine_p.assign(1, std::move(cell));
        break;
      }
      Cell floor_cell = Floor(floor, cell.m, depth, 1, false, run_, 1);
      if (floor_cell.m.error.empty()) {
        floors.push_back(std::move(floor_cell));
      } else {
        floor_error = floor_cell.m.error;
      }
      nine_p.push_back(std::move(cell));
    }
    const Cell cell = Best(nine_p);
    FillFromMeasurement(r, cell);
    if (r.error.empty()) {
      const Measurement& m = cell.m;
      r.value = unit == "MB/s" ? m.mb_per_second() : m.ops_per_second();
      if (!floors.empty()) {
        const Cell floor_cell = Best(floors);
        const Measurement& f = floor_cell.m;
        r.floor_rep_rates = floor_cell.rep_rates;
        const double payload_per_op = static_cast<double>(m.payload_bytes) / static_cast<double>(m.ops);
        r.floor = unit == "MB/s" ? f.ops_per_second() * payload_per_op / 1e6 : f.ops_per_second();
        r.ratio = m.ops_per_second() / f.ops_per_second();
      } else {
        r.note += (r.note.empty() ? "" : "; ") + std::string("floor failed: ") + floor_error;
      }
    }
    records_.push_back(std::move(r));
  }

  // Time for a count-bounded op (a whole listing), and time for N per-entry ops (ls -l).
  void Readdir(Endpoint& server, Endpoint& floor, const AttachTarget& attach, uint32_t msize) {
    const std::string bench = "readdir";
    Record r = Base(bench, "readdir " + std::to_string(tree_.big_entries) + " entries", server.transport(), msize,
                    1, 1, "ms", false, server.name());
    Log(server.name() + " " + r.transport + " readdir msize " + SizeLabel(msize));
    uint64_t entries = 0;
    RunOptions options = run_;
    options.warmup_ops = 1;
    options.max_ops = 1;
    const Cell cell = Measure(server, true, msize, attach, [&] { return MakeReaddirWorkload(&entries); }, 1, 1,
                              options, reps_);
    FillFromMeasurement(r, cell);
    if (r.error.empty()) {
      r.value = cell.m.seconds * 1e3 / static_cast<double>(cell.m.ops);
      r.note = std::to_string(entries) + " entries seen; floor = getdents64 " + Format(getdents_ms_, "ms") +
               " ms + the same round trips raw";
      const Measurement f = Floor(floor, cell.m, 1, 1, false, options, reps_).m;
      if (f.error.empty() && f.ops > 0) {
        r.floor = getdents_ms_ + f.seconds * 1e3 / static_cast<double>(f.ops);
        r.ratio = r.value / r.floor;
      }
    }
    records_.push_back(std::move(r));
  }

  void ListLong(Endpoint& server, Endpoint& floor, const AttachTarget& attach, uint32_t msize) {
    Record r = Base("ls_l", "ls -l (walk+getattr+clunk each of " + std::to_string(tree_.big_entries) + ")",
                    server.transport(), msize, 1, 1, "ms", false, server.name());
    Log(server.name() + " " + r.transport + " ls -l");
    // The names, untimed.
    auto fd = server.Open();
    if (!fd) {
      r.error = fd.error();
      records_.push_back(std::move(r));
      return;
    }
    auto conn = Open9P(*fd, server.transport(), msize, attach.aname, attach.uid);
    if (!conn) {
      r.error = conn.error();
      records_.push_back(std::move(r));
      return;
    }
    auto names = ListNames(**conn, "big");
    conn->reset();
    if (!names) {
      r.error = names.error();
      records_.push_back(std::move(r));
      return;
    }
    auto shared = std::make_shared<const std::vector<std::string>>(std::move(*names));
    RunOptions options = run_;
    options.warmup_ops = std::min<uint64_t>(1000, shared->size() / 10 + 1);
    options.max_ops = shared->size();
    // In turn, a slow server needs 3 round trips per entry: cap the pass and extrapolate.
    options.max_seconds = options_.quick ? 2 : 5;
    const Cell cell = Measure(server, true, msize, attach, [&] { return MakeListLongWorkload(shared); }, 1, 1,
                              options, 1);
    FillFromMeasurement(r, cell);
    if (r.error.empty()) {
      const double per_entry_ms = cell.m.seconds * 1e3 / static_cast<double>(cell.m.ops);
      r.value = per_entry_ms * static_cast<double>(shared->size());
      if (cell.m.ops < shared->size()) {
        r.note = "extrapolated from " + std::to_string(cell.m.ops) + " of " + std::to_string(shared->size()) +
                 " entries (5 s cap); ";
      }
      r.note += "floor = getdents64+fstatat " + Format(getdents_stat_ms_, "ms") + " ms + the same round trips raw";
      const Measurement f = Floor(floor, cell.m, 1, 1, false, run_, reps_).m;
      if (f.error.empty() && f.ops > 0) {
        r.floor = getdents_stat_ms_ + f.seconds * 1e3 / static_cast<double>(f.ops) * static_cast<double>(shared->size());
        r.ratio = r.value / r.floor;
      }
    }
    records_.push_back(std::move(r));
  }

  // The raw socket alone, for comparison with earlier measurements of this machine: a small round trip
  // (23 B request, 11 B reply) and a 1 MiB reply, with 1 and 4 requests in flight.
  void FloorReference(Endpoint& floor) {
    struct Shape {
      const char* label;
      uint32_t request, reply, depth;
      bool bandwidth;
    };
    const Shape shapes[] = {{"raw round trip 23 B -> 11 B", 23, 11, 1, false},
                            {"raw 23 B -> 1 MiB reply", 23, 11 + (1u << 20), 1, true},
                            {"raw 23 B -> 1 MiB reply", 23, 11 + (1u << 20), 4, true}};
    for (const Shape& shape : shapes) {
      Log("floor " + std::string(TransportName(floor.transport())) + " " + shape.label + " depth " +
          std::to_string(shape.depth));
      const Schedule schedule = {{Step{shape.request, shape.reply}}};
      const Cell cell = Measure(floor, false, shape.reply + 4096, AttachTarget{},
                                [&] { return MakeFloorWorkload({schedule}, false); }, shape.depth, 1, run_, reps_);
      Record r = Base("floor", shape.label, floor.transport(), 0, shape.depth, 1, shape.bandwidth ? "MB/s" : "µs",
                      shape.bandwidth, "floor");
      FillFromMeasurement(r, cell);
      if (r.error.empty()) {
        r.value = shape.bandwidth ? cell.m.ops_per_second() * (1u << 20) / 1e6 : 1e6 / cell.m.ops_per_second();
      }
      floor_reference_.push_back(std::move(r));
    }
  }

  void MeasureLocalScans() {
    if (getdents_ms_ > 0) return;
    // Best of several, like every other cell.
    auto best = [&](bool stat_each, int reps) {
      double min = NAN;
      for (int i = 0; i < reps; ++i) {
        auto scan = ScanDirectory(tree_.dir + "/big", stat_each);
        if (scan && !(scan->seconds * 1e3 >= min)) min = scan->seconds * 1e3;
      }
      return min;
    };
    getdents_ms_ = best(false, 7);
    getdents_stat_ms_ = best(true, 5);
  }

  void RunTransport(Transport transport) {
    Endpoint floor("floor", transport, FloorTemplate(transport), tree_.dir, options_.work_dir, ServerCpu());
    if (auto up = floor.Start(); !up) {
      Log("floor server: " + up.error());
      return;
    }
    MeasureLocalScans();
    if (Wanted("floor")) FloorReference(floor);
    for (const ServerSpec& spec : options_.servers) {
      const std::string& command = transport == Transport::kTcp ? spec.tcp_command : spec.unix_command;
      Endpoint server(spec.name, transport, command, tree_.dir, options_.work_dir, ServerCpu());
      const AttachTarget attach = Attach(spec);
      std::string unavailable;
      if (auto up = server.Start(); !up) unavailable = up.error();
      if (server.per_connection()) {
        notes_.push_back(spec.name + " over " + std::string(TransportName(transport)) +
                         ": one server process per connection on an AF_UNIX socketpair (`" + command + "`)");
      }
      auto cell = [&](const std::string& bench, const std::string& label, uint32_t msize, uint32_t depth,
                      const std::string& unit, const WorkloadFactory& make, const std::string& note = "") {
        if (!Wanted(bench)) return;
        if (!unavailable.empty()) {
          Record r = Base(bench, label, transport, msize, depth, 1, unit, true, spec.name);
          r.error = unavailable;
          records_.push_back(std::move(r));
          return;
        }
        Throughput(server, floor, attach, bench, label, msize, depth, unit, make, note);
      };
      for (const char* kind : {"read", "write"}) {
        for (uint32_t msize : {128 * kKiB, 512 * kKiB, 1024 * kKiB}) {
          for (uint32_t depth : {1u, 4u}) {
            const bool read = kind[0] == 'r';
            cell(kind, std::string("sequential ") + kind, msize, depth, "MB/s", [&, read] {
              return read ? MakeReadWorkload(tree_.file_size) : MakeWriteWorkload(tree_.file_size);
            });
          }
        }
      }
      const uint32_t meta_msize = 128 * kKiB;
      cell("walk_getattr_clunk_seq", "walk+getattr+clunk in turn", meta_msize, 1, "ops/s",
           [] { return MakeWalkGetattrClunkWorkload(false); });
      cell("walk_getattr_clunk_pipe", "walk+getattr+clunk pipelined", meta_msize, 1, "ops/s",
           [] { return MakeWalkGetattrClunkWorkload(true); });
      cell("getattr", "getattr", meta_msize, 1, "ops/s", [] { return MakeGetattrWorkload(); });
      auto description = std::make_shared<std::string>();
      cell("create_unlink", "lcreate+clunk+unlinkat", meta_msize, 1, "ops/s",
           [description] { return MakeCreateWorkload(description.get()); });
      if (!records_.empty() && records_.back().bench == "create_unlink" && !description->empty()) {
        records_.back().note = *description;
      }
      if (unavailable.empty()) {
        if (Wanted("readdir")) {
          for (uint32_t msize : {128 * kKiB, 1024 * kKiB}) Readdir(server, floor, attach, msize);
        }
        if (Wanted("ls_l")) ListLong(server, floor, attach, 128 * kKiB);
      } else {
        for (const char* bench : {"readdir", "ls_l"}) {
          if (!Wanted(bench)) continue;
          Record r = Base(bench, bench, transport, 128 * kKiB, 1, 1, "ms", false, spec.name);
          r.error = unavailable;
          records_.push_back(std::move(r));
        }
      }
      server.Stop();
    }
    floor.Stop();
  }

  // The timing of a many-connection cell (the floor's and every server's alike). A 0.3 s cell
  // gives each of 1,000 connections about 25 requests, and its 0.08 s warm-up fewer than 10:
  // one scheduler stall of a few milliseconds (two CPUs shared by the client, the server and
  // the rest of the machine) then decides the best of three, and the same binaries measured
  // 0.71 to 1.16 of the 100-connection figure from run to run. With 1 s after a 0.2 s warm-up
  // each connection makes about 100 requests and the ratio repeats within a few percent (bench/
  // PROFILE.md, "1,000 connections"). Quick runs keep the short cells.
  RunOptions ManyConnectionRun(uint32_t conns) const {
    RunOptions options = run_;
    if (!options_.quick && conns > 1) {
      options.warmup_seconds = std::max(options.warmup_seconds, 0.2);
      options.seconds = std::max(options.seconds, 1.0);
    }
    return options;
  }

  // 1, 100, 1000 connections over TCP: idle memory per connection, then the mix on all of them.
  void RunConnections() {
    if (!Wanted("conns")) return;
    const Transport transport = Transport::kTcp;
    const std::vector<uint32_t> counts = options_.quick ? std::vector<uint32_t>{1, 10, 100}
                                                        : std::vector<uint32_t>{1, 100, 1000};
    const uint32_t msize = 128 * kKiB;
    std::vector<std::pair<std::string, std::string>> targets;  // name, command
    targets.emplace_back("floor", FloorTemplate(transport));
    for (const ServerSpec& spec : options_.servers) targets.emplace_back(spec.name, spec.tcp_command);
    for (uint32_t n : counts) {
      const Measurement* floor_mix = nullptr;
      double floor_kib = NAN;
      for (const auto& [name, command] : targets) {
        const bool is_floor = name == "floor";
        Log(name + " " + std::to_string(n) + " connections");
        Record mix = Base("conns_mix", "mix 90% getattr + 10% 4K read", transport, msize, 1, n, "ops/s",
                          true, name);
        Record p99 = Base("conns_p99", "mix p99 latency", transport, msize, 1, n, "µs", false, name);
        Record mem = Base("conns_idle_kib", "server RSS per idle connection", transport, msize, 1, n, "KiB",
                          false, name);
        Endpoint endpoint(name, transport, command, tree_.dir, options_.work_dir, ServerCpu());
        std::string error;
        if (auto up = endpoint.Start(); !up) error = up.error();
        const ServerSpec* spec = nullptr;
        for (const ServerSpec& s : options_.servers) {
          if (s.name == name) spec = &s;
        }
        const AttachTarget attach = spec ? Attach(*spec) : AttachTarget{};
        std::vector<std::unique_ptr<Conn>> conns;
        auto open = [&]() -> Status {
          auto fd = endpoint.Open();
          if (!fd) return Unexpected(fd.error());
          if (is_floor) {
            conns.push_back(std::make_unique<Conn>(*fd, transport, 64 * kKiB));
            return {};
          }
          auto conn = Open9P(*fd, transport, msize, attach.aname, attach.uid);
          if (!conn) return Unexpected(conn.error());
          conns.push_back(std::move(*conn));
          return {};
        };
        if (error.empty()) {
          // One connection first, so lazily started server state (worker pools) is not
          // charged to the idle connections.
          if (auto ok = open(); !ok) error = ok.error();
          std::vector<std::unique_ptr<Conn>> warm;
          warm.swap(conns);
          usleep(100'000);
          const int64_t before = RssKiB(endpoint.pid());
          for (uint32_t i = 0; i < n && error.empty(); ++i) {
            if (auto ok = open(); !ok) error = "connection " + std::to_string(i) + ": " + ok.error();
          }
          usleep(200'000);
          const int64_t after = RssKiB(endpoint.pid());
          if (error.empty() && before > 0 && after > 0) {
            mem.value = static_cast<double>(after - before) / static_cast<double>(n);
            mem.note = "VmRSS " + std::to_string(before) + " -> " + std::to_string(after) + " KiB";
          }
          // Repetitions (one at a single connection or in quick runs), each on fresh
          // connections: the mix's SetUp walks its fids once per connection.
          const int reps = options_.quick || n == 1 ? 1 : 3;
          std::vector<Cell> cells;
          for (int rep = 0; rep < reps && error.empty(); ++rep) {
            if (rep > 0) {
              conns.clear();
              for (uint32_t i = 0; i < n && error.empty(); ++i) {
                if (auto ok = open(); !ok) error = "connection " + std::to_string(i) + ": " + ok.error();
              }
              if (!error.empty()) break;
            }
            std::vector<Conn*> raw;
            for (auto& conn : conns) raw.push_back(conn.get());
            RunOptions options = ManyConnectionRun(n);
            options.server_pid = endpoint.pid();
            std::unique_ptr<Workload> workload;
            if (is_floor) {
              // The floor replays the 9P mix sizes: Tgetattr 19/Rgetattr 160, Tread 23/Rread 11+4096.
              const Schedule getattr{{Step{19, 160}}};
              const Schedule read{{Step{23, 11 + 4096}}};
              workload = MakeFloorWorkload({getattr, read}, true);
            } else {
              workload = MakeMixWorkload(tree_.file_size);
            }
            Cell cell;
            cell.msize = is_floor ? 0 : conns[0]->ctx().msize;
            cell.m = RunWorkload(raw, 1, *workload, options);
            const bool failed = !cell.m.error.empty();
            cells.push_back(std::move(cell));
            if (failed) break;
          }
          if (error.empty() && !cells.empty()) {
            const Cell cell = cells.back().m.error.empty() ? Best(cells) : std::move(cells.back());
            FillFromMeasurement(mix, cell);
            FillFromMeasurement(p99, cell);
            if (cell.m.error.empty()) {
              mix.value = cell.m.ops_per_second();
              p99.value = static_cast<double>(cell.m.p99_ns) / 1e3;
              p99.little_mean_us = static_cast<double>(n) / mix.value * 1e6;
              p99.note = "p99 " + FormatRatio(p99.value / p99.little_mean_us) + "x the Little's-law mean " +
                         Format(p99.little_mean_us, "µs") + " µs (N ÷ ops/s)";
              if (is_floor) {
                floor_mix_store_ = cell.m;
                floor_mix = &floor_mix_store_;
                floor_kib = mem.value;
              }
            }
          }
        }
        conns.clear();
        endpoint.Stop();
        for (Record* r : {&mix, &p99, &mem}) {
          if (!error.empty()) r->error = error;
          if (is_floor) continue;
          if (r == &mem) {
            r->floor = floor_kib;
            r->note += (r->note.empty() ? "" : "; ") + std::string("floor column: the echo server (a thread per connection)");
          } else if (floor_mix && floor_mix->ops > 0 && r->error.empty()) {
            if (r == &mix) {
              r->floor = floor_mix->ops_per_second();
              r->ratio = r->value / r->floor;
            } else {
              r->floor = static_cast<double>(floor_mix->p99_ns) / 1e3;
              r->ratio = r->value / r->floor;
            }
          }
        }
        if (!is_floor) {
          records_.push_back(std::move(mix));
          records_.push_back(std::move(p99));
          records_.push_back(std::move(mem));
        }
      }
    }
  }

  // Busy connections beside idle ones, over TCP: `busy` connections run the mix (one request in
  // flight each), measured alone and then with `idle` more connections open (Tversion and Tattach
  // each, then nothing), alternating repetition by repetition in one run. The rows' floor is the
  // same server without the idle connections, so their ratio is what the idle ones cost the busy
  // ones; the idle memory row's floor is the memory per busy connection.
  void RunBusyBesideIdle() {
    if (!Wanted("conns_busy")) return;
    const Transport transport = Transport::kTcp;
    const uint32_t busy = options_.busy_conns ? options_.busy_conns : options_.quick ? 20 : 1000;
    const uint32_t idle = options_.idle_conns ? options_.idle_conns : options_.quick ? 200 : 10000;
    const int reps = options_.quick ? 1 : 3;
    const uint32_t msize = 128 * kKiB;
    const uint32_t idle_msize = 8 * kKiB;
    const std::string beside = " beside " + std::to_string(idle) + " idle conns";
    for (const ServerSpec& spec : options_.servers) {
      Log(spec.name + " " + std::to_string(busy) + " busy connections, alone and" + beside);
      Record mix = Base("conns_busy_mix", "mix" + beside + " (floor: without them)", transport, msize, 1, busy, "ops/s",
                        true, spec.name);
      Record p99 = Base("conns_busy_p99", "mix p99" + beside + " (floor: without them)", transport, msize, 1, busy,
                        "µs", false, spec.name);
      Record mem = Base("conns_busy_idle_kib",
                        "server RSS per idle conn, " + std::to_string(idle) + " idle (floor: per busy conn)", transport,
                        msize, 1, busy, "KiB", false, spec.name);
      Endpoint endpoint(spec.name, transport, spec.tcp_command, tree_.dir, options_.work_dir, ServerCpu());
      std::string error, limits;
      if (auto up = endpoint.Start(); !up) error = up.error();
      // The server's descriptors: a socket per connection, and the file the mix opens on each
      // busy one (the busy connections of a repetition may still be closing when the next
      // ones open: twice that).
      const uint64_t descriptors = busy + idle + 1 + 2 * 2 * uint64_t{busy};
      if (error.empty())
        error = ConnectionLimitProblems(busy + idle + 1, endpoint.pid(), descriptors, transport, &limits);
      if (!limits.empty()) notes_.push_back(spec.name + " busy beside idle: limits seen: " + limits);
      const AttachTarget attach = Attach(spec);
      std::vector<Cell> alone_cells, beside_cells;
      std::unique_ptr<Conn> warm;
      if (error.empty()) {
        // One connection first, so lazily started server state is not charged to the others.
        auto fd = endpoint.Open();
        auto conn = fd ? Open9P(*fd, transport, msize, attach.aname, attach.uid) : Unexpected(fd.error());
        if (conn) {
          warm = std::move(*conn);
        } else {
          error = conn.error();
        }
        usleep(100'000);
      }
      // Opens the busy connections into `conns`, or sets `error`.
      auto open_busy = [&](std::vector<std::unique_ptr<Conn>>& conns, const std::string& when) {
        for (uint32_t i = 0; i < busy && error.empty(); ++i) {
          auto fd = endpoint.Open();
          auto conn = fd ? Open9P(*fd, transport, msize, attach.aname, attach.uid) : Unexpected(fd.error());
          if (!conn) {
            error = "busy connection " + std::to_string(i) + when + ": " + conn.error();
            break;
          }
          conns.push_back(std::move(*conn));
        }
      };
      for (int rep = 0; rep < reps && error.empty(); ++rep) {
        std::vector<std::unique_ptr<Conn>> conns;
        open_busy(conns, "");
        if (!error.empty()) break;
        std::vector<Conn*> raw;
        for (auto& conn : conns) raw.push_back(conn.get());
        RunOptions options = ManyConnectionRun(busy);
        options.server_pid = endpoint.pid();
        auto run = [&](std::vector<Cell>& into) {
          auto workload = MakeMixWorkload(tree_.file_size);
          Cell cell;
          cell.msize = conns[0]->ctx().msize;
          cell.m = RunWorkload(raw, 1, *workload, options);
          if (!cell.m.error.empty()) error = cell.m.error;
          into.push_back(std::move(cell));
        };
        // The mix's SetUp walks its fids once per connection: each run gets fresh busy ones.
        run(alone_cells);
        conns.clear();
        raw.clear();
        if (!error.empty()) break;
        usleep(100'000);
        const int64_t before_idle = RssKiB(endpoint.pid());
        std::vector<int> idle_fds;
        for (uint32_t i = 0; i < idle && error.empty(); ++i) {
          auto fd = endpoint.Open();
          if (!fd) {
            error = "idle connection " + std::to_string(i) + ": " + fd.error();
            break;
          }
          Conn conn(*fd, transport, idle_msize);
          if (auto session = OpenSession(conn, idle_msize, attach.aname, attach.uid); !session) {
            error = "idle connection " + std::to_string(i) + ": " + session.error();
            break;
          }
          idle_fds.push_back(conn.Release());
        }
        usleep(200'000);
        const int64_t after_idle = RssKiB(endpoint.pid());
        if (error.empty() && rep == 0 && before_idle > 0 && after_idle > 0) {
          mem.value = static_cast<double>(after_idle - before_idle) / idle;
          mem.note = "VmRSS " + std::to_string(before_idle) + " -> " + std::to_string(after_idle) + " KiB for " +
                     std::to_string(idle) + " idle connections";
        }
        open_busy(conns, " beside the idle ones");
        const int64_t after_busy = RssKiB(endpoint.pid());
        if (error.empty() && rep == 0 && after_busy > 0 && after_idle > 0) {
          mem.floor = static_cast<double>(after_busy - after_idle) / busy;
        }
        for (auto& conn : conns) raw.push_back(conn.get());
        if (error.empty()) run(beside_cells);
        conns.clear();
        for (int fd : idle_fds) close(fd);
        // Let the server retire the closed connections before the next repetition.
        usleep(options_.quick ? 100'000 : 1'000'000);
      }
      endpoint.Stop();
      if (error.empty() && !alone_cells.empty() && !beside_cells.empty()) {
        const Cell alone_best = Best(alone_cells);
        const Cell beside_best = Best(beside_cells);
        FillFromMeasurement(mix, beside_best);
        FillFromMeasurement(p99, beside_best);
        mix.value = beside_best.m.ops_per_second();
        mix.floor = alone_best.m.ops_per_second();
        mix.ratio = mix.value / mix.floor;
        mix.floor_rep_rates = alone_best.rep_rates;
        p99.value = p99.p99_us;
        p99.floor = static_cast<double>(alone_best.m.p99_ns) / 1e3;
        p99.ratio = p99.value / p99.floor;
        p99.little_mean_us = static_cast<double>(busy) / mix.value * 1e6;
        const double alone_little = static_cast<double>(busy) / mix.floor * 1e6;
        p99.note = "beside the idle: p99 " + FormatRatio(p99.value / p99.little_mean_us) + "x the Little's-law mean " +
                   Format(p99.little_mean_us, "µs") + " µs; alone: " + FormatRatio(p99.floor / alone_little) + "x " +
                   Format(alone_little, "µs") + " µs";
        if (!std::isnan(mem.value) && !std::isnan(mem.floor)) mem.ratio = mem.value / mem.floor;
      }
      for (Record* r : {&mix, &p99, &mem}) {
        if (!error.empty()) r->error = error;
        records_.push_back(std::move(*r));
      }
    }
  }

  Json Machine() const {
    Json machine;
    machine["nproc"] = std::thread::hardware_concurrency();
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
      if (line.starts_with("model name")) {
        machine["cpu"] = line.substr(line.find(':') + 2);
        break;
      }
    }
    utsname u{};
    uname(&u);
    machine["kernel"] = std::string(u.sysname) + " " + u.release;
    const std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    machine["date"] = date;
    machine["command"] = options_.command_line;
    machine["pinned"] = options_.pin;
    machine["loadavg_before"] = load_before_;
    machine["loadavg_after"] = load_after_;
    machine["mode"] = options_.quick ? "quick" : "full";
    machine["reps"] = reps_;
    machine["seconds_per_rep"] = run_.seconds;
    machine["seconds_per_rep_many_connections"] = ManyConnectionRun(1000).seconds;
    return machine;
  }

  std::string Markdown(const Json& machine) const {
    std::ostringstream md;
    md << "Machine: " << machine["nproc"].get<unsigned>() << " CPUs, " << machine.value("cpu", std::string("?")) << ", "
       << machine["kernel"].get<std::string>() << ". Date: " << machine["date"].get<std::string>() << ". Command: `"
       << options_.command_line << "` (" << machine["mode"].get<std::string>() << ", "
       << "best of " << reps_ << " × " << run_.seconds << " s per cell (many-connection cells: best of 3 × "
       << ManyConnectionRun(1000).seconds << " s), 9P and floor repetitions alternating"
       << (options_.pin ? ", client on CPU 0, servers on CPU 1" : ", unpinned")
       << "). Load average before / after: " << load_before_ << " / " << load_after_ << ".\n\n";
    std::vector<std::string> servers;
    for (const ServerSpec& spec : options_.servers) servers.push_back(spec.name);
    md << "| Benchmark | Transport | msize | Depth / conns |";
    for (const std::string& s : servers) md << " " << s << " | " << s << " ÷ floor |";
    md << " Floor |";
    if (servers.size() >= 2) md << " " << servers[0] << " ÷ " << servers[1] << " |";
    md << "\n|---|---|---|---|";
    for (size_t i = 0; i < servers.size(); ++i) md << "---:|---:|";
    md << "---:|";
    if (servers.size() >= 2) md << "---:|";
    md << "\n";
    // Group records by row key, in first-seen order.
    std::vector<std::string> keys;
    std::map<std::string, std::map<std::string, const Record*>> rows;
    for (const Record& r : records_) {
      const std::string key = r.bench + "|" + r.transport + "|" + std::to_string(r.msize_req) + "|" +
                              std::to_string(r.depth) + "|" + std::to_string(r.conns);
      if (!rows.contains(key)) keys.push_back(key);
      rows[key][r.server] = &r;
    }
    std::vector<std::string> footnotes;
    for (const std::string& key : keys) {
      const auto& cells = rows.at(key);
      const Record& first = *cells.begin()->second;
      md << "| " << first.label << " (" << first.unit << ") | " << first.transport << " | "
         << SizeLabel(first.msize_req) << " | "
         << (first.bench.starts_with("conns") ? std::to_string(first.conns) + " conns" : std::to_string(first.depth))
         << " |";
      double floor = NAN;
      for (const std::string& s : servers) {
        auto it = cells.find(s);
        if (it == cells.end()) {
          md << " — | — |";
          continue;
        }
        const Record& r = *it->second;
        if (!r.error.empty()) {
          footnotes.push_back(s + ", " + r.label + ", " + r.transport + ": " + r.error);
          md << " n/a [" << footnotes.size() << "] | — |";
          continue;
        }
        md << " " << Format(r.value, r.unit);
        if (r.msize && r.msize != r.msize_req && !r.bench.starts_with("conns")) md << " (msize " << SizeLabel(r.msize) << ")";
        md << " | " << FormatRatio(r.ratio) << " |";
        if (std::isnan(floor)) floor = r.floor;
      }
      md << " " << Format(floor, first.unit) << " |";
      if (servers.size() >= 2) {
        auto a = cells.find(servers[0]);
        auto b = cells.find(servers[1]);
        double ratio = NAN;
        if (a != cells.end() && b != cells.end() && a->second->error.empty() && b->second->error.empty()) {
          ratio = a->second->value / b->second->value;
        }
        md << " " << FormatRatio(ratio) << " |";
      }
      md << "\n";
    }
    md << "\nRatios: for MB/s and ops/s, value ÷ floor (higher is better, 1.00 = as fast as the raw socket); "
          "for ms and µs, value ÷ floor (lower is better). The floor is a raw request/response of the same "
          "message sizes over the same transport against an echo server (`p9bench echo-server`), measured in "
          "the same run; where a server negotiated a smaller msize its ratio is against the floor for its own "
          "sizes and the Floor column shows the floor for the first server's sizes. MB/s = 10^6 payload bytes "
          "per second. Readdir: ms per complete listing; floor = getdents64 loop + the same round trips raw. "
          "ls -l: ms for walk+getattr+clunk of every entry; floor = getdents64+fstatat + the same round trips "
          "raw. Idle memory: (VmRSS after − before opening N attached connections) ÷ N; its Floor column is "
          "the echo server's.\n";
    if (!floor_reference_.empty()) {
      md << "\nRaw floor alone (echo server, same run): ";
      for (size_t i = 0; i < floor_reference_.size(); ++i) {
        const Record& r = floor_reference_[i];
        md << (i ? "; " : "") << r.label << " " << r.transport << " depth " << r.depth << ": "
           << (r.error.empty() ? Format(r.value, r.unit) + " " + r.unit : "failed (" + r.error + ")");
        if (r.error.empty() && r.unit == "µs") md << " (p50 " << Format(r.p50_us, "µs") << " µs)";
      }
      md << ". getdents64 of the big directory: " << Format(getdents_ms_, "ms") << " ms; with fstatat of each entry: "
         << Format(getdents_stat_ms_, "ms") << " ms.\n";
    }
    for (const std::string& note : notes_) md << "\n- " << note;
    for (const Record& r : records_) {
      if (!r.note.empty() && r.bench == "create_unlink") md << "\n- " << r.server << " " << r.transport << " create: " << r.note;
    }
    for (size_t i = 0; i < footnotes.size(); ++i) md << "\n- [" << i + 1 << "] " << footnotes[i];
    md << "\n";
    if (!gbench_.empty()) {
      md << "\n| Google Benchmark | Time | Counters |\n|---|---:|---|\n";
      for (const Json& b : gbench_) {
        std::string counters;
        for (const auto& [k, v] : b.items()) {
          static const std::vector<std::string> known = {"name", "family_index", "per_family_instance_index",
                                                         "run_name", "run_type", "repetitions", "repetition_index",
                                                         "threads", "iterations", "real_time", "cpu_time",
                                                         "time_unit", "aggregate_name", "aggregate_unit", "label"};
          if (std::find(known.begin(), known.end(), k) != known.end() || !v.is_number()) continue;
          char buffer[64];
          std::snprintf(buffer, sizeof buffer, "%s=%.4g ", k.c_str(), v.get<double>());
          counters += buffer;
        }
        char time[64];
        std::snprintf(time, sizeof time, "%.1f %s", b.value("real_time", 0.0), b.value("time_unit", std::string("ns")).c_str());
        md << "| " << b.value("name", std::string()) << " | " << time << " | " << counters << "|\n";
      }
    }
    return md.str();
  }

  int Write() {
    for (const std::string& path : options_.gbench_json) {
      std::ifstream in(path);
      try {
        Json j = Json::parse(in);
        for (const Json& b : j.value("benchmarks", Json::array())) gbench_.push_back(b);
      } catch (const std::exception& e) {
        Log("cannot read " + path + ": " + e.what());
      }
    }
    const Json machine = Machine();
    Json out;
    out["machine"] = machine;
    out["servers"] = Json::array();
    for (const ServerSpec& spec : options_.servers) {
      out["servers"].push_back({{"name", spec.name}, {"tcp", spec.tcp_command}, {"unix", spec.unix_command}, {"aname", spec.aname}});
    }
    out["getdents64_ms"] = getdents_ms_;
    out["getdents64_fstatat_ms"] = getdents_stat_ms_;
    out["results"] = Json::array();
    for (const Record& r : records_) out["results"].push_back(ToJson(r));
    out["floor_reference"] = Json::array();
    for (const Record& r : floor_reference_) out["floor_reference"].push_back(ToJson(r));
    out["google_benchmark"] = gbench_;
    std::error_code ec;
    fs::create_directories(options_.out_dir, ec);
    const std::string markdown = Markdown(machine);
    std::ofstream(options_.out_dir + "/results.json") << out.dump(2) << "\n";
    std::ofstream(options_.out_dir + "/results.md") << markdown;
    std::cout << markdown << std::flush;
    Log("wrote " + options_.out_dir + "/results.json and results.md");
    const bool all_ok = std::all_of(records_.begin(), records_.end(), [](const Record& r) { return r.error.empty(); });
    return all_ok ? 0 : 1;
  }

  const MatrixOptions& options_;
  RunOptions run_;
  int reps_ = 5;
  ExportTree tree_;
  std::vector<Record> records_;
  std::vector<Record> floor_reference_;
  std::vector<std::string> notes_;
  Measurement floor_mix_store_;
  std::vector<Json> gbench_;
  double getdents_ms_ = 0;
  double getdents_stat_ms_ = 0;
  std::string load_before_;
  std::string load_after_;
};

}  // namespace

bool ParseServerSpec(const std::string& text, ServerSpec* spec, std::string* error) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, '|')) parts.push_back(part);
  if (parts.empty() || parts[0].empty()) {
    *error = "server spec needs a name: NAME|tcp=...|unix=...|aname=...|uid=N";
    return false;
  }
  *spec = ServerSpec{};
  spec->name = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    const std::string key = parts[i].substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : parts[i].substr(eq + 1);
    if (key == "tcp") {
      spec->tcp_command = value;
    } else if (key == "unix") {
      spec->unix_command = value;
    } else if (key == "aname") {
      spec->aname = value;
    } else if (key == "uid") {
      spec->uid = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else {
      *error = "unknown server spec field '" + key + "' in " + text;
      return false;
    }
  }
  return true;
}

int RunMatrix(const MatrixOptions& options) { return Matrix(options).Go(); }

}  // namespace p9bench
