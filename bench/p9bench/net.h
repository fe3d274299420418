// SPDX-License-Identifier: MIT
// Sockets, addresses and child processes for the server benchmarks. Nothing here knows 9P.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/result.h"

namespace p9bench {

// Benchmark plumbing fails with a message, not a protocol errno.
template <class T>
using Result = p9x::Result<T, std::string>;
using Status = p9x::Result<void, std::string>;
using p9x::Unexpected;

enum class Transport : uint8_t { kTcp, kUnix };
std::string_view TransportName(Transport transport);

// "tcp:HOST:PORT" or "unix:PATH" (the spelling p9xd's --listen takes).
struct Address {
  Transport transport = Transport::kTcp;
  std::string host;  // tcp only; numeric (loopback)
  uint16_t port = 0;  // tcp only
  std::string path;   // unix only

  std::string ToString() const;
  static Result<Address> Parse(std::string_view text);
};

// A bound, listening socket (SO_REUSEADDR; a stale unix socket file is removed first).
Result<int> Listen(const Address& address);
// A connected blocking socket with TCP_NODELAY (tcp) and a receive timeout so that a server
// that stops answering fails the benchmark instead of hanging it.
Result<int> Connect(const Address& address);
// Sets TCP_NODELAY and the receive timeout on an already connected socket.
void TuneSocket(int fd, Transport transport);
// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
Result<uint16_t> PickFreeTcpPort();

// Monotonic time in nanoseconds.
uint64_t NowNs();

// Child processes. argv is run directly (no shell). stdout and stderr go to `log_path`.
// `keep_fd` (or -1) stays open across exec, for servers that are handed a connected socket.
// `cpu` >= 0 pins the child to that CPU.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path,
                    int keep_fd = -1, int cpu = -1);
// SIGTERM, then SIGKILL after `grace_ms`; reaps the child.
void Terminate(pid_t pid, int grace_ms = 2000);
// True while the child has not exited (reaps it if it has).
bool Alive(pid_t pid);
// Polls Connect() until it succeeds or `timeout_ms` passes.
Status WaitConnectable(const Address& address, pid_t pid, int timeout_ms);

// VmRSS of a process in KiB (from /proc/PID/status), or -1.
int64_t RssKiB(pid_t pid);
// The soft RLIMIT_NOFILE of a process (from /proc/PID/limits), or -1.
int64_t OpenFileLimit(pid_t pid);
// What keeps `connections` more connections (and, for a server with a thread per connection,
// as many threads) from being opened to `server_pid` over `transport` on this machine: the
// descriptor limits of this process and of the server (which needs `server_descriptors` for
// them), the kernel's threads-max and pid_max, vm.max_map_count (two mappings per thread stack)
// and, over TCP, the ephemeral port range. Empty when nothing does; `seen` receives the values.
std::string ConnectionLimitProblems(uint64_t connections, pid_t server_pid, uint64_t server_descriptors,
                                    Transport transport, std::string* seen);

// utime + stime of a whole process (all threads) in seconds (from /proc/PID/stat), or -1.
double CpuSeconds(pid_t pid);

// Splits a command template on spaces and replaces {port} {path} {dir} {fd} {aname} in each
// word, e.g. "diod -f -l 127.0.0.1:{port} -e {dir}".
std::vector<std::string> ExpandTemplate(std::string_view command_template,
                                        const std::vector<std::pair<std::string, std::string>>& vars);

}  // namespace p9bench
