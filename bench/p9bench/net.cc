// SPDX-License-Identifier: MIT
#include "bench/p9bench/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace p9bench {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

// Fills a sockaddr for `address`; returns its length, 0 when the address is unusable.
socklen_t ToSockaddr(const Address& address, sockaddr_storage* storage) {
  std::memset(storage, 0, sizeof *storage);
  if (address.transport == Transport::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(storage);
    if (address.path.size() >= sizeof un->sun_path) return 0;
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, address.path.c_str(), address.path.size() + 1);
    return sizeof(sockaddr_un);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(address.port);
  if (inet_pton(AF_INET, address.host.c_str(), &in->sin_addr) != 1) return 0;
  return sizeof(sockaddr_in);
}

int Domain(const Address& address) { return address.transport == Transport::kUnix ? AF_UNIX : AF_INET; }

}  // namespace

std::string_view TransportName(Transport transport) {
  return transport == Transport::kUnix ? "unix" : "tcp";
}

std::string Address::ToString() const {
  if (transport == Transport::kUnix) return "unix:" + path;
  return "tcp:" + host + ":" + std::to_string(port);
}

Result<Address> Address::Parse(std::string_view text) {
  Address address;
  if (text.starts_with("unix:")) {
    address.transport = Transport::kUnix;
    address.path = std::string(text.substr(5));
    if (address.path.empty()) return Unexpected(std::string("empty unix socket path"));
    return address;
  }
  if (text.starts_with("tcp:")) {
    const std::string_view rest = text.substr(4);
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return Unexpected("no port in " + std::string(text));
    address.host = std::string(rest.substr(0, colon));
    const int port = std::atoi(std::string(rest.substr(colon + 1)).c_str());
    if (port <= 0 || port > 65535) return Unexpected("bad port in " + std::string(text));
    address.port = static_cast<uint16_t>(port);
    return address;
  }
  return Unexpected("address must be tcp:HOST:PORT or unix:PATH, not " + std::string(text));
}

void TuneSocket(int fd, Transport transport) {
  if (transport == Transport::kTcp) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  const timeval timeout{.tv_sec = 20, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

Result<int> Listen(const Address& address) {
  sockaddr_storage storage;
  const socklen_t len = ToSockaddr(address, &storage);
  if (len == 0) return Unexpected("unusable address " + address.ToString());
  const int fd = socket(Domain(address), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected(Errno("socket"));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.transport == Transport::kUnix) unlink(address.path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), len) != 0 || listen(fd, 4096) != 0) {
    std::string error = Errno("bind/listen " + address.ToString());
    close(fd);
    return Unexpected(std::move(error));
  }
  return fd;
}

Result<int> Connect(const Address& address) {
  sockaddr_storage storage;
  const socklen_t len = ToSockaddr(address, &storage);
  if (len == 0) return Unexpected("unusable address " + address.ToString());
  const int fd = socket(Domain(address), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected(Errno("socket"));
  if (connect(fd, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    std::string error = Errno("connect " + address.ToString());
    close(fd);
    return Unexpected(std::move(error));
  }
  TuneSocket(fd, address.transport);
  return fd;
}

Result<uint16_t> PickFreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected(Errno("socket"));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof in;
  if (bind(fd, reinterpret_cast<sockaddr*>(&in), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len) != 0) {
    std::string error = Errno("bind 127.0.0.1:0");
    close(fd);
    return Unexpected(std::move(error));
  }
  close(fd);
  return ntohs(in.sin_port);
}

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path, int keep_fd,
                    int cpu) {
  if (argv.empty()) return Unexpected(std::string("empty command"));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Unexpected(Errno("open " + log_path));
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return Unexpected(Errno("fork"));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    if (keep_fd >= 0) fcntl(keep_fd, F_SETFD, 0);  // clear FD_CLOEXEC
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    signal(SIGPIPE, SIG_DFL);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  return pid;
}

bool Alive(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

void Terminate(pid_t pid, int grace_ms) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int waited = 0; waited < grace_ms; waited += 10) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != 0) return;
    usleep(10'000);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

Status WaitConnectable(const Address& address, pid_t pid, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (pid > 0 && !Alive(pid)) return Unexpected("server exited while starting (" + address.ToString() + ")");
    auto fd = Connect(address);
    if (fd) {
      close(*fd);
      return {};
    }
    usleep(20'000);
  }
  return Unexpected("server did not accept on " + address.ToString() + " within " +
                    std::to_string(timeout_ms) + " ms");
}

int64_t RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

int64_t OpenFileLimit(pid_t pid) {
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(limits, line)) {
    // "Max open files            20000                20000                files"
    if (!line.starts_with("Max open files")) continue;
    std::istringstream fields(line.substr(std::strlen("Max open files")));
    std::string soft;
    fields >> soft;
    return soft == "unlimited" ? INT64_MAX : std::atoll(soft.c_str());
  }
  return -1;
}

namespace {

// The first numbers of a /proc/sys file ("32768\t60999" for the port range), or empty.
std::vector<int64_t> ProcNumbers(const std::string& path) {
  std::ifstream in(path);
  std::vector<int64_t> numbers;
  for (int64_t v; in >> v;) numbers.push_back(v);
  return numbers;
}

}  // namespace

std::string ConnectionLimitProblems(uint64_t connections, pid_t server_pid, uint64_t server_descriptors,
                                    Transport transport, std::string* seen) {
  constexpr uint64_t kSlack = 64;  // listeners, logs, the export, the benchmark's own files
  std::vector<std::string> problems;
  std::ostringstream values;
  auto need = [&](const std::string& what, int64_t have, uint64_t wanted, const std::string& fix) {
    values << (values.tellp() > 0 ? ", " : "") << what << " " << have;
    if (have >= 0 && static_cast<uint64_t>(have) < wanted) {
      problems.push_back(what + " is " + std::to_string(have) + ", " + std::to_string(connections) +
                         " connections need " + std::to_string(wanted) + " (" + fix + ")");
    }
  };
  rlimit own{};
  getrlimit(RLIMIT_NOFILE, &own);
  need("client RLIMIT_NOFILE", static_cast<int64_t>(std::min<rlim_t>(own.rlim_cur, INT64_MAX)), connections + kSlack,
       "ulimit -Hn as root before running");
  if (server_pid > 0) {
    need("server RLIMIT_NOFILE", OpenFileLimit(server_pid), server_descriptors + kSlack,
         "the server's descriptor limit; p9xd raises its soft limit to the hard one");
  }
  // Every thread is a task: a server with a thread per connection needs one per connection, on
  // top of what the machine already runs (/proc/loadavg's fourth field: runnable/total).
  std::ifstream loadavg("/proc/loadavg");
  std::string a, b, c, tasks;
  loadavg >> a >> b >> c >> tasks;
  const uint64_t running = std::strtoull(tasks.substr(tasks.find('/') + 1).c_str(), nullptr, 10);
  const auto threads_max = ProcNumbers("/proc/sys/kernel/threads-max");
  const auto pid_max = ProcNumbers("/proc/sys/kernel/pid_max");
  values << (values.tellp() > 0 ? ", " : "") << "tasks running " << running;
  if (!threads_max.empty()) need("kernel.threads-max", threads_max[0], running + connections + kSlack, "sysctl");
  if (!pid_max.empty()) need("kernel.pid_max", pid_max[0], running + connections + kSlack, "sysctl");
  const auto map_count = ProcNumbers("/proc/sys/vm/max_map_count");
  if (!map_count.empty()) need("vm.max_map_count", map_count[0], 2 * connections + 4096, "sysctl; 2 per thread stack");
  if (transport == Transport::kTcp) {
    const auto range = ProcNumbers("/proc/sys/net/ipv4/ip_local_port_range");
    if (range.size() == 2) {
      need("ephemeral ports (net.ipv4.ip_local_port_range)", range[1] - range[0] + 1, connections + kSlack, "sysctl");
    }
  }
  // The listen backlog only bounds connections not yet accepted; reported, not required.
  const auto somaxconn = ProcNumbers("/proc/sys/net/core/somaxconn");
  if (!somaxconn.empty()) values << ", net.core.somaxconn " << somaxconn[0];
  if (seen) *seen = values.str();
  std::string text;
  for (const std::string& problem : problems) text += (text.empty() ? "" : "; ") + problem;
  return text;
}

double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Field 2 (comm) may hold spaces; the fields after its closing ')' are space-separated, and
  // utime and stime are fields 14 and 15 (proc(5)).
  const size_t close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (index == 15) {
      stime = std::strtoull(field.c_str(), nullptr, 10);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::vector<std::string> ExpandTemplate(std::string_view command_template,
                                        const std::vector<std::pair<std::string, std::string>>& vars) {
  std::vector<std::string> argv;
  std::istringstream words{std::string(command_template)};
  std::string word;
  while (words >> word) {
    for (const auto& [name, value] : vars) {
      const std::string key = "{" + name + "}";
      for (size_t at = word.find(key); at != std::string::npos; at = word.find(key, at + value.size())) {
        word.replace(at, key.size(), value);
      }
    }
    argv.push_back(word);
  }
  return argv;
}

}  // namespace p9bench
