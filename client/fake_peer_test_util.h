// SPDX-License-Identifier: MIT
// Test helper: a scripted 9P peer on one end of a socketpair. Tests read the client's frames
// and write whatever replies the script calls for (out of order, type-107 errors, hang-ups).
// Every read is bounded (5 s) so a broken test fails instead of hanging.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <condition_variable>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/connection.h"
#include "client/transport.h"
#include "codec/frame.h"

namespace p9x::client::testing {

class FakePeer {
 public:
  explicit FakePeer(int fd) : fd_(fd) {}
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;
  ~FakePeer() { Close(); }

  // A connected pair: the client's Transport and the peer.
  static std::pair<Transport, std::unique_ptr<FakePeer>> Pair() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
    return {Transport(sv[0], -1, "socketpair"), std::make_unique<FakePeer>(sv[1])};
  }

  void set_wire(WireContext ctx) { ctx_ = ctx; }
  const WireContext& wire() const { return ctx_; }

  // The next whole frame from the client; nullopt on EOF or after 5 s.
  std::optional<RawFrame> Read() {
    uint8_t size_bytes[4];
    if (!ReadExact(size_bytes, 4)) return std::nullopt;
    const uint32_t size = static_cast<uint32_t>(size_bytes[0]) | static_cast<uint32_t>(size_bytes[1]) << 8 |
                          static_cast<uint32_t>(size_bytes[2]) << 16 | static_cast<uint32_t>(size_bytes[3]) << 24;
    if (size < kHeaderSize || size > kMaxMsize) return std::nullopt;
    RawFrame frame;
    frame.bytes.resize(size);
    std::memcpy(frame.bytes.data(), size_bytes, 4);
    if (!ReadExact(frame.bytes.data() + 4, size - 4)) return std::nullopt;
    return frame;
  }

  // Like Read(), but nullopt when no byte arrives within `ms` milliseconds.
  std::optional<RawFrame> ReadWithin(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return std::nullopt;
    return Read();
  }

  // Reads the next frame and decodes it as M (throws if it is something else).
  template <class M>
  M Expect(RawFrame* keep, uint16_t* tag = nullptr) {
    auto frame = Read();
    if (!frame) throw std::runtime_error(std::string("peer: EOF waiting for ") + std::string(M::kName));
    *keep = std::move(*frame);
    M m{};
    if (!DecodeInto(keep->bytes, ctx_, &m)) {
      throw std::runtime_error(std::string("peer: expected ") + std::string(M::kName) + ", got type " +
                               std::to_string(keep->type()));
    }
    if (tag) *tag = keep->tag();
    return m;
  }

  template <class M>
  void Send(uint16_t tag, const M& msg) {
    std::vector<uint8_t> bytes(EncodedSize(msg, ctx_.dialect));
    auto n = Encode(tag, msg, WireContext{ctx_.dialect, kMaxMsize}, bytes);
    if (!n) throw std::runtime_error("peer: encode failed: " + n.error().Describe());
    SendBytes(bytes);
  }

  void SendBytes(std::span<const uint8_t> bytes) {
    std::lock_guard<std::mutex> lock(send_mu_);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;  // the client hung up; the test's assertions will tell
      done += static_cast<size_t>(n);
    }
  }

  // nfs-ganesha's error: type 107 (Rerror) with a 4-byte errno body.
  void SendType107Errno(uint16_t tag, uint32_t ecode) {
    std::vector<uint8_t> f = {11, 0, 0, 0, 107, static_cast<uint8_t>(tag & 0xFF), static_cast<uint8_t>(tag >> 8),
                              static_cast<uint8_t>(ecode), static_cast<uint8_t>(ecode >> 8),
                              static_cast<uint8_t>(ecode >> 16), static_cast<uint8_t>(ecode >> 24)};
    SendBytes(f);
  }

  void Close() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  bool ReadExact(uint8_t* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) return false;
      const ssize_t r = read(fd_, out + done, n - done);
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  }

  int fd_;
  WireContext ctx_{Dialect::kLegacy, kMaxMsize};
  std::mutex send_mu_;
};

// A dialer whose every call makes a new socketpair and hands the peer end to the test, in
// order, so a test can script a server that hangs up and is dialled again.
class PeerDialer {
 public:
  Dialer dialer() {
    return [this]() -> Result<Transport> {
      auto [transport, peer] = FakePeer::Pair();
      std::lock_guard<std::mutex> lock(mu_);
      peers_.push(std::move(peer));
      ++dials_;
      cv_.notify_all();
      return std::move(transport);
    };
  }
  // The peer of the next dial (waits up to 5 s; nullptr if none came).
  std::unique_ptr<FakePeer> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return !peers_.empty(); })) return nullptr;
    auto p = std::move(peers_.front());
    peers_.pop();
    return p;
  }
  int dials() {
    std::lock_guard<std::mutex> lock(mu_);
    return dials_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::queue<std::unique_ptr<FakePeer>> peers_;
  int dials_ = 0;
};

}  // namespace p9x::client::testing
