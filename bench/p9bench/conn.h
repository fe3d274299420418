// SPDX-License-Identifier: MIT
// One benchmark connection: a socket, a frame reader and a send queue, all preallocated so the
// timed loop allocates nothing. Used for both 9P servers and the raw floor server.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "bench/p9bench/net.h"
#include "codec/frame.h"

namespace p9bench {

// Splits a byte stream into frames (size[4] first, counting itself; intro(5)). One buffer of
// fixed capacity; a frame stays contiguous. Large frames are read up to their own end, so a
// completed large frame is usually the last bytes in the buffer and the buffer then restarts
// at 0 without copying; only small leftovers (< kSmallCarry) are ever moved.
class FrameReader {
 public:
  explicit FrameReader(size_t capacity);

  // The next complete frame in the buffer, or an empty span. Valid until the next Fill().
  // A size field below 7 or above the capacity marks the stream corrupt (error()).
  std::span<const uint8_t> Next();
  // Reads whatever the socket has (blocking unless `dont_wait`). Returns bytes read; 0 at end
  // of stream; -1 with errno on error (EAGAIN when dont_wait and nothing is there).
  ssize_t Fill(int fd, bool dont_wait = false);
  bool error() const { return error_; }
  size_t buffered() const { return end_ - start_; }

 private:
  static constexpr size_t kSmallCarry = 64 * 1024;
  std::unique_ptr<uint8_t[]> buffer_;
  size_t capacity_;
  size_t start_ = 0;
  size_t end_ = 0;
  bool error_ = false;
};

// Requests waiting to be sent with one writev: small frames are encoded into an owned buffer,
// large payloads (a pre-encoded Twrite) are referenced in place, never copied.
class SendQueue {
 public:
  explicit SendQueue(size_t small_capacity = 256 * 1024);

  // Free space for encoding small frames; CommitSmall(n) queues the first n bytes of it.
  std::span<uint8_t> Space() { return {small_.get() + small_used_, small_capacity_ - small_used_}; }
  void CommitSmall(size_t n);
  // Queues `n` bytes that stay owned (and unchanged until Flush) by the caller.
  void AddExternal(const void* data, size_t n);
  bool empty() const { return iov_count_ == 0; }
  // True when another small frame of `n` bytes or another iovec might not fit.
  bool NearlyFull(size_t n) const {
    return small_capacity_ - small_used_ < n || iov_count_ + 2 >= kMaxIov;
  }
  // Sends everything queued (blocking; loops over partial writes), then empties the queue.
  Status Flush(int fd);

 private:
  static constexpr size_t kMaxIov = 512;
  std::unique_ptr<uint8_t[]> small_;
  size_t small_capacity_;
  size_t small_used_ = 0;
  size_t small_queued_ = 0;  // small_ bytes already covered by an iovec
  std::array<iovec, kMaxIov> iov_{};
  size_t iov_count_ = 0;
};

class Conn {
 public:
  // Takes ownership of `fd`. `max_frame` bounds the largest frame the peer may send.
  Conn(int fd, Transport transport, uint32_t max_frame);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  int fd() const { return fd_; }
  // Gives up the socket (the caller closes it): an idle connection keeps only its descriptor.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  Transport transport() const { return transport_; }
  FrameReader& reader() { return reader_; }
  SendQueue& out() { return out_; }
  p9x::WireContext& ctx() { return ctx_; }

  // Blocks until a whole frame is buffered and returns it (valid until the next read).
  Result<std::span<const uint8_t>> ReadFrame();

 private:
  int fd_;
  Transport transport_;
  FrameReader reader_;
  SendQueue out_;
  p9x::WireContext ctx_;
};

// Encodes `msg` with `tag` into the queue. False when it does not fit (caller flushes).
template <class M>
bool EncodeInto(SendQueue& out, uint16_t tag, const M& msg, const p9x::WireContext& ctx) {
  auto written = p9x::Encode(tag, msg, ctx, out.Space());
  if (!written) return false;
  out.CommitSmall(*written);
  return true;
}

// "Rlerror ENOENT (No such file or directory)" for an Rlerror frame, else "unexpected <type>".
std::string DescribeUnexpected(std::span<const uint8_t> frame, const p9x::WireContext& ctx);

// Setup-time RPC (never in a timed loop): sends `request`, waits for the reply with the same
// tag and decodes it as R. An Rlerror becomes an error naming the errno.
template <class R, class T>
Result<R> Call(Conn& conn, uint16_t tag, const T& request) {
  if (!EncodeInto(conn.out(), tag, request, conn.ctx())) {
    return Unexpected(std::string("cannot encode ") + std::string(T::kName));
  }
  if (auto sent = conn.out().Flush(conn.fd()); !sent) return Unexpected(sent.error());
  auto frame = conn.ReadFrame();
  if (!frame) return Unexpected(std::string(T::kName) + ": " + frame.error());
  R reply{};
  if (!p9x::DecodeInto(*frame, conn.ctx(), &reply)) {
    return Unexpected(std::string(T::kName) + ": " + DescribeUnexpected(*frame, conn.ctx()));
  }
  return reply;
}

// A 9P session on `conn`: Tversion(msize, "9P2000.L") then Tattach(fid 0) as root. Sets
// conn.ctx().msize to the negotiated msize and returns it.
Result<uint32_t> OpenSession(Conn& conn, uint32_t msize, std::string_view aname, uint32_t uid = 0);

// Wraps a connected socket in a Conn sized for `msize` and opens a session on it.
Result<std::unique_ptr<Conn>> Open9P(int fd, Transport transport, uint32_t msize, std::string_view aname,
                                     uint32_t uid = 0);

}  // namespace p9bench
