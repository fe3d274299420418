// SPDX-License-Identifier: MIT
// A connected byte stream to a 9P server, named by a target string:
//   tcp:HOST:PORT     IPv4 or IPv6 (tcp:127.0.0.1:564, tcp:[::1]:564, tcp:localhost:564)
//   unix:PATH         a Unix stream socket
//   exec:COMMAND      runs COMMAND with /bin/sh -c, its stdin and stdout both one end of a
//                     socketpair (so p9xd --stdio, or any server speaking on stdio, works)
// Every form yields a stream socket, so the connection code has one kind of fd to handle
// (send with MSG_NOSIGNAL, shutdown() to wake a blocked reader).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "client/error.h"

namespace p9x::client {

struct Target {
  enum class Kind { kTcp, kUnix, kExec } kind = Kind::kTcp;
  std::string host;     // kTcp (brackets removed from an IPv6 literal)
  std::string port;     // kTcp
  std::string path;     // kUnix
  std::string command;  // kExec
};

// Parses a target string; kUsage/EINVAL with a message naming the accepted forms otherwise.
Result<Target> ParseTarget(std::string_view target);

// Owns the socket and, for exec:, the child process.
class Transport {
 public:
  Transport() = default;
  // Adopts a connected stream socket (tests pass one end of a socketpair).
  explicit Transport(int fd, pid_t child = -1, std::string description = "fd")
      : fd_(fd), child_(child), description_(std::move(description)) {}
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  Transport(Transport&& other) noexcept;
  Transport& operator=(Transport&& other) noexcept;
  // Closes the socket; an exec: child gets SIGTERM, then SIGKILL after 2 s, and is reaped.
  ~Transport() { Close(); }

  // Connects. Errors are kTransport with the system errno (ECONNREFUSED, ENOENT, ...).
  static Result<Transport> Dial(std::string_view target);
  static Result<Transport> Dial(const Target& target);

  int fd() const { return fd_; }
  pid_t child() const { return child_; }
  const std::string& description() const { return description_; }
  void Close();

 private:
  int fd_ = -1;
  pid_t child_ = -1;
  std::string description_;
};

}  // namespace p9x::client
