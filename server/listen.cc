// SPDX-License-Identifier: MIT
// Transports: tcp:HOST:PORT (IPv4, or [IPv6]) and unix:PATH listeners, bound here or inherited
// from a socket-activating service manager (systemd's LISTEN_FDS protocol).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "server/log.h"
#include "server/server.h"

namespace p9x::server {
namespace {

// Connections the kernel may complete before p9xd accepts them (listen(2); the kernel caps it at
// net.core.somaxconn, 4096 by default since Linux 5.4): a burst of thousands of clients, e.g.
// a cluster's mounts after a restart, waits in the queue instead of being refused.
constexpr int kListenBacklog = 4096;

std::string Sys(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string PeerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unix";
}

// The whole of `text` as a decimal number, or false.
bool ParseDecimal(const char* text, unsigned long* out) {
  if (text == nullptr || *text == '\0') return false;
  const std::string_view view(text);
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), *out);
  return ec == std::errc() && end == view.data() + view.size();
}

}  // namespace

Result<std::vector<int>, std::string> InheritedListeners(std::vector<std::string>* bound) {
  // sd_listen_fds(3): "LISTEN_PID ... must match the PID of the process"; "the file descriptors
  // passed start at SD_LISTEN_FDS_START", which is 3. A LISTEN_PID of another process means the
  // variables were inherited by accident from a parent that was activated: not for us.
  constexpr int kFirstFd = 3;
  unsigned long pid = 0, count = 0;
  const bool ours = ParseDecimal(std::getenv("LISTEN_PID"), &pid) && pid == static_cast<unsigned long>(getpid()) &&
                    ParseDecimal(std::getenv("LISTEN_FDS"), &count);
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  std::vector<int> fds;
  if (!ours) return fds;
  if (count > 1024) return Unexpected("LISTEN_FDS=" + std::to_string(count) + " is not a plausible count");
  for (int fd = kFirstFd; fd < kFirstFd + static_cast<int>(count); ++fd) {
    int listening = 0, type = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
      return Unexpected(Sys("inherited descriptor " + std::to_string(fd)));
    }
    len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    if (!listening || type != SOCK_STREAM) {
      return Unexpected("inherited descriptor " + std::to_string(fd) +
                        " is not a listening stream socket (use ListenStream= and Accept=no)");
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fds.push_back(fd);
    if (bound) {
      sockaddr_storage ss{};
      socklen_t sslen = sizeof ss;
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen);
      std::string where = "inherited fd " + std::to_string(fd) + ", ";
      if (ss.ss_family == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
        where += "unix:" + std::string(un->sun_path, strnlen(un->sun_path, sizeof un->sun_path));
      } else {
        where += "tcp:" + PeerName(ss);
      }
      bound->push_back(where);
    }
  }
  return fds;
}

Result<int, std::string> BindListener(const std::string& address, std::string* bound) {
  if (address.rfind("unix:", 0) == 0) {
    const std::string path = address.substr(5);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path) return Unexpected("bad unix socket path: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Unexpected(Sys("socket"));
    unlink(path.c_str());  // a stale socket file from an earlier run
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, kListenBacklog) != 0) {
      std::string err = Sys("bind " + path);
      close(fd);
      return Unexpected(err);
    }
    if (bound) *bound = "unix:" + path;
    return fd;
  }
  if (address.rfind("tcp:", 0) != 0) return Unexpected("unknown address '" + address + "' (tcp:HOST:PORT or unix:PATH)");
  std::string rest = address.substr(4);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return Unexpected("no port in '" + address + "'");
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  // getaddrinfo takes any number and keeps its low 16 bits (99999 would listen on 34463).
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return Unexpected("bad port '" + port + "' in '" + address + "' (0 to 65535)");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Unexpected("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, kListenBacklog) == 0) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      if (bound) *bound = "tcp:" + PeerName(ss);
      freeaddrinfo(res);
      return fd;
    }
    last = Sys("bind " + address);
    close(fd);
  }
  freeaddrinfo(res);
  return Unexpected(last);
}

void AcceptLoop(Server& server, int listen_fd, const std::atomic<bool>& stop) {
  // Non-blocking, so that one wake-up accepts every connection already queued (a burst of
  // clients costs one poll, not one each).
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  while (!stop.load()) {
    pollfd p{listen_fd, POLLIN, 0};
    int r = poll(&p, 1, 200);  // wakes to notice `stop`
    if (r <= 0) continue;
    while (!stop.load()) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors or memory: the connection stays queued (the listen backlog) until
          // a connection closes; poll would report it at once again, so wait instead of spinning.
          static std::atomic<bool> said{false};
          if (!said.exchange(true)) {
            Log(0, server.options().log_level, "accept: %s; waiting for connections to close", std::strerror(errno));
          }
          poll(nullptr, 0, 100);
        }
        break;  // EAGAIN: the queue is empty; ECONNABORTED and the like: the next poll
      }
      if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      server.ServeConnectionAsync(fd, PeerName(ss));
    }
  }
}

Result<void, std::string> Listen(Server& server, const std::string& address, const std::atomic<bool>& stop,
                                 std::string* bound) {
  auto fd = BindListener(address, bound);
  if (!fd) return Unexpected(fd.error());
  AcceptLoop(server, *fd, stop);
  close(*fd);
  if (address.rfind("unix:", 0) == 0) unlink(address.substr(5).c_str());
  return {};
}

}  // namespace p9x::server
