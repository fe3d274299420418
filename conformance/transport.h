// Connecting to the server under test: tcp:HOST:PORT, unix:PATH, exec:COMMAND.
//
// TODO(cleanup): this is the runner's local connector, written before client/ had a low-level
// Connection API. When client/ provides one with the same three target forms, use it here and
// delete this file (the Probe needs only a connected, blocking, bidirectional fd).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace p9x::conformance {

// A connected byte stream to a 9P server. Owns the fd and, for exec:, the child process, which
// is killed (SIGTERM, then SIGKILL) and reaped on Close().
class Transport {
 public:
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  Transport(Transport&& other) noexcept;
  Transport& operator=(Transport&& other) noexcept;
  ~Transport() { Close(); }

  // Connects to `target`. On failure returns a Transport with fd() < 0 and `*error` set.
  static Transport Connect(std::string_view target, std::string* error);

  // The fd for both directions (a socket; for exec: one end of a socketpair that is the
  // child's stdin and stdout).
  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }
  void Close();

 private:
  int fd_ = -1;
  pid_t child_ = -1;
};

// True when `target` has one of the three accepted forms (used to validate options early).
bool IsValidTarget(std::string_view target, std::string* why);

}  // namespace p9x::conformance
