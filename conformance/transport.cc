#include "conformance/transport.h"

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
#include <utility>

namespace p9x::conformance {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

int ConnectTcp(std::string_view hostport, std::string* error) {
  const size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) {
    *error = "tcp target needs HOST:PORT";
    return -1;
  }
  std::string host(hostport.substr(0, colon));
  const std::string port(hostport.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    *error = "resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    *error = Errno("connect tcp:" + std::string(hostport));
    close(fd);
    fd = -1;
  }
  freeaddrinfo(result);
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

int ConnectUnix(std::string_view path, std::string* error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    *error = "unix socket path empty or too long";
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = Errno("socket");
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = Errno("connect unix:" + std::string(path));
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool IsValidTarget(std::string_view target, std::string* why) {
  if (target.starts_with("tcp:") && target.size() > 4 && target.rfind(':') > 3) return true;
  if (target.starts_with("unix:") && target.size() > 5) return true;
  if (target.starts_with("exec:") && target.size() > 5) return true;
  *why = "target must be tcp:HOST:PORT, unix:PATH or exec:COMMAND, got \"" + std::string(target) + "\"";
  return false;
}

Transport Transport::Connect(std::string_view target, std::string* error) {
  Transport t;
  if (target.starts_with("tcp:")) {
    t.fd_ = ConnectTcp(target.substr(4), error);
  } else if (target.starts_with("unix:")) {
    t.fd_ = ConnectUnix(target.substr(5), error);
  } else if (target.starts_with("exec:")) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      *error = Errno("socketpair");
      return t;
    }
    const std::string command(target.substr(5));
    const pid_t pid = fork();
    if (pid < 0) {
      *error = Errno("fork");
      close(sv[0]);
      close(sv[1]);
      return t;
    }
    if (pid == 0) {
      // Child: the socket is stdin and stdout; stderr stays the runner's (server logs).
      dup2(sv[1], 0);
      dup2(sv[1], 1);
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(sv[1]);
    t.fd_ = sv[0];
    t.child_ = pid;
  } else {
    IsValidTarget(target, error);
  }
  return t;
}

Transport::Transport(Transport&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), child_(std::exchange(other.child_, -1)) {}

Transport& Transport::operator=(Transport&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    child_ = std::exchange(other.child_, -1);
  }
  return *this;
}

void Transport::Close() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (child_ > 0) {
    // The server sees EOF first; give it a moment to exit on its own, then insist.
    int status = 0;
    for (int i = 0; i < 20; ++i) {
      if (waitpid(child_, &status, WNOHANG) == child_) {
        child_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(-child_, SIGTERM);
    kill(child_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(child_, &status, WNOHANG) == child_) {
        child_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(-child_, SIGKILL);
    kill(child_, SIGKILL);
    waitpid(child_, &status, 0);
    child_ = -1;
  }
}

}  // namespace p9x::conformance
