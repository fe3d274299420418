// SPDX-License-Identifier: MIT
// Target strings and the byte streams they name (transport.h): tcp:, unix: and exec: connects.
#include "client/transport.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace p9x::client {
namespace {

constexpr std::string_view kForms = "expected tcp:HOST:PORT, unix:PATH or exec:COMMAND";

// The errno's name and text come with Error::Describe(); the detail says what failed.
Error SystemError(int e, const std::string& what) { return Error::Transport(WireErrnoFromHost(e), what); }

Result<Transport> DialTcp(const Target& t, const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &list);
  if (rc != 0) {
    return Unexpected(Error::Transport(Errno::kENXIO, name + ": cannot resolve " + t.host + ": " + gai_strerror(rc)));
  }
  int last_errno = ECONNREFUSED;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      freeaddrinfo(list);
      // Requests are small and pipelined: send each as soon as it is written.
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return Transport(fd, -1, name);
    }
    last_errno = errno;
    close(fd);
  }
  freeaddrinfo(list);
  return Unexpected(SystemError(last_errno, name));
}

Result<Transport> DialUnix(const Target& t, const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (t.path.size() >= sizeof addr.sun_path) {
    return Unexpected(Error::Usage(Errno::kENAMETOOLONG, name + ": socket path too long"));
  }
  std::memcpy(addr.sun_path, t.path.data(), t.path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected(SystemError(errno, name));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    close(fd);
    return Unexpected(SystemError(e, name));
  }
  return Transport(fd, -1, name);
}

Result<Transport> DialExec(const Target& t, const std::string& name) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Unexpected(SystemError(errno, name));
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(sv[0]);
    close(sv[1]);
    return Unexpected(SystemError(e, name));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. dup2 clears CLOEXEC on 0 and 1.
    if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0) _exit(127);
    signal(SIGPIPE, SIG_DFL);
    execl("/bin/sh", "sh", "-c", t.command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(sv[1]);
  return Transport(sv[0], pid, name);
}

}  // namespace

Result<Target> ParseTarget(std::string_view target) {
  Target t;
  auto bad = [&](std::string_view why) {
    return Unexpected(Error::Usage(Errno::kEINVAL, "bad target \"" + std::string(target) + "\": " +
                                                       std::string(why) + " (" + std::string(kForms) + ")"));
  };
  if (target.starts_with("tcp:")) {
    std::string_view rest = target.substr(4);
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return bad("no HOST:PORT");
    std::string_view host = rest.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string_view port = rest.substr(colon + 1);
    for (char c : port) {
      if (c < '0' || c > '9') return bad("port is not a number");
    }
    t.kind = Target::Kind::kTcp;
    t.host = std::string(host);
    t.port = std::string(port);
    return t;
  }
  if (target.starts_with("unix:")) {
    if (target.size() == 5) return bad("empty path");
    t.kind = Target::Kind::kUnix;
    t.path = std::string(target.substr(5));
    return t;
  }
  if (target.starts_with("exec:")) {
    if (target.size() == 5) return bad("empty command");
    t.kind = Target::Kind::kExec;
    t.command = std::string(target.substr(5));
    return t;
  }
  return bad("unknown form");
}

Result<Transport> Transport::Dial(std::string_view target) {
  auto t = ParseTarget(target);
  if (!t) return Unexpected(t.error());
  return Dial(*t);
}

Result<Transport> Transport::Dial(const Target& t) {
  switch (t.kind) {
    case Target::Kind::kTcp:
      return DialTcp(t, "tcp:" + t.host + ":" + t.port);
    case Target::Kind::kUnix:
      return DialUnix(t, "unix:" + t.path);
    case Target::Kind::kExec:
      return DialExec(t, "exec:" + t.command);
  }
  return Unexpected(Error::Usage(Errno::kEINVAL, "bad target kind"));
}

Transport::Transport(Transport&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), child_(std::exchange(other.child_, -1)),
      description_(std::move(other.description_)) {}

Transport& Transport::operator=(Transport&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    child_ = std::exchange(other.child_, -1);
    description_ = std::move(other.description_);
  }
  return *this;
}

void Transport::Close() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (child_ > 0) {
    // The child sees EOF on stdin first; most servers exit on that. Then SIGTERM, then SIGKILL.
    for (int i = 0; i < 20; ++i) {
      if (waitpid(child_, nullptr, WNOHANG) == child_) {
        child_ = -1;
        return;
      }
      if (i == 5) kill(child_, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(i < 5 ? 10 : 100));
    }
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
    child_ = -1;
  }
}

}  // namespace p9x::client
