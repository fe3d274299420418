// SPDX-License-Identifier: MIT
// fuzz_client_replies: libFuzzer target for the client's handling of whatever a server sends.
//
// The input is everything the server sends, one piece per request (ScriptedServer below). The
// client (client::Client over a socketpair) negotiates, attaches, walks, stats, opens, reads a file and lists a directory, as `p9x cat`
// and `p9x ls` do. Whatever the bytes, every call must end with a value or an Error (sanitizers
// catch memory errors), and what the client accepts must hold:
//   - a negotiated msize is within what the client offered;
//   - Fid::ReadAt never returns more bytes than it was asked for;
//   - every directory entry ReadDir returns has a name: not empty, without '/' or NUL.
// A violated property aborts, which libFuzzer reports as a crash with the input saved.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "client/client.h"

namespace p9x {
namespace {

constexpr uint32_t kOfferedMsize = 8192;

[[noreturn]] void Violation(const std::string& what) {
  std::fprintf(stderr, "fuzz_client_replies: %s\n", what.c_str());
  std::abort();
}

// The "server": each dial is a socketpair whose far end answers every request the client sends
// with the next piece of the input: as many bytes as the piece's own size field says (a reply
// frame, when the fuzzer wrote one), or the whole rest when that field is not a size the rest can
// hold. Once the input is used up it shuts its side down, which fails every call still waiting.
// Dials share one cursor, so a client that dials again reads on where the last one stopped.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::span<const uint8_t> input) : input_(input.begin(), input.end()) {}
  ~ScriptedServer() {
    for (std::thread& t : threads_) t.join();
  }

  client::Dialer dialer() {
    return [this]() -> client::Result<client::Transport> {
      int fds[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        return Unexpected(client::Error::Transport(Errno::kEIO, "socketpair"));
      }
      threads_.emplace_back([this, server = fds[1]] { Serve(server); });
      return client::Transport(fds[0], -1, "fuzz");
    };
  }

 private:
  static bool ReadExact(int fd, uint8_t* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = read(fd, out + done, n - done);
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  }

  void Serve(int fd) {
    std::vector<uint8_t> request(kOfferedMsize);
    bool open = true;
    while (true) {
      uint8_t header[4];
      if (!ReadExact(fd, header, 4)) break;  // the client closed
      const uint32_t size = header[0] | header[1] << 8 | header[2] << 16 | static_cast<uint32_t>(header[3]) << 24;
      if (size < 4 || size - 4 > request.size() || !ReadExact(fd, request.data(), size - 4)) break;
      if (!open) continue;
      std::span<const uint8_t> piece;
      {
        std::lock_guard<std::mutex> lock(mu_);
        const size_t left = input_.size() - cursor_;
        size_t n = left;
        if (left >= 4) {
          const uint32_t want = input_[cursor_] | input_[cursor_ + 1] << 8 | input_[cursor_ + 2] << 16 |
                                static_cast<uint32_t>(input_[cursor_ + 3]) << 24;
          if (want >= 4 && want <= left) n = want;
        }
        piece = std::span<const uint8_t>(input_).subspan(cursor_, n);
        cursor_ += n;
        open = cursor_ < input_.size();
      }
      size_t done = 0;
      while (done < piece.size()) {
        const ssize_t w = send(fd, piece.data() + done, piece.size() - done, MSG_NOSIGNAL);
        if (w <= 0) break;
        done += static_cast<size_t>(w);
      }
      if (!open) shutdown(fd, SHUT_WR);
    }
    close(fd);
  }

  std::vector<uint8_t> input_;
  std::mutex mu_;
  size_t cursor_ = 0;  // under mu_
  std::vector<std::thread> threads_;
};

void Exercise(client::Client& c) {
  if (c.negotiated().msize > kOfferedMsize) {
    Violation("negotiated msize " + std::to_string(c.negotiated().msize) + " over the offered " +
              std::to_string(kOfferedMsize));
  }
  auto root = c.AttachRoot("fuzz", "");
  if (!root) return;
  if (auto dir = root->Walk("dir"); dir) {
    if (dir->Open(kOpenRdonly)) {
      if (auto entries = dir->ReadDir()) {
        for (const client::DirEntry& e : *entries) {
          if (e.name.empty() || e.name.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
            Violation("ReadDir returned an entry whose name is empty or holds '/' or NUL");
          }
        }
      }
    }
  }
  auto file = root->Walk("file");
  if (!file) return;
  (void)file->GetAttr();
  if (!file->Open(kOpenRdonly)) return;
  std::vector<uint8_t> buffer(3000);
  if (auto n = file->ReadAt(0, buffer); n && *n > buffer.size()) {
    Violation("ReadAt returned " + std::to_string(*n) + " bytes into a buffer of " + std::to_string(buffer.size()));
  }
  (void)file->ReadAll();
}

}  // namespace
}  // namespace p9x

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace p9x;
  ScriptedServer server(std::span<const uint8_t>(data, size));
  client::Options options;
  options.target = "fuzz";
  options.msize = kOfferedMsize;
  // The stream ends (EOF) once the input is used up, which fails every call still waiting; the
  // timeout bounds a call whose piece of input did not answer it (another tag, half a frame).
  options.timeout = std::chrono::milliseconds(20);
  {
    auto c = client::Client::Connect(options, server.dialer());
    if (c) Exercise(**c);
  }  // the client closes its connections here, which ends the server threads
  return 0;
}
