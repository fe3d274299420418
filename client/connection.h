// SPDX-License-Identifier: MIT
// The low-level 9P connection: frames in, frames out, tags, and nothing about files.
//
// One reader thread reads whole frames off the socket and routes each by its tag: a frame
// whose tag belongs to a RawCall in flight completes that RawCall (so replies may arrive in any
// order); any other frame goes, in arrival order, to a queue that ReceiveFrame() pops. That
// queue is the raw escape hatch for tools that send frames themselves (malformed frames,
// explicit tags, flush ordering): SendFrame() writes any bytes, ReceiveFrame() returns the
// next frame nobody claimed. The queue holds at most 4096 frames and 64 MiB; a server that
// sends more than that unasked fails the connection (a protocol error).
//
// Tags. intro(5): "Each T-message has a tag field, chosen and used by the client to identify
// the message. The reply to the message will have the same tag. Clients must arrange that no
// two outstanding messages on the same connection have the same tag." Start() allocates a free
// tag (never NOTAG) and frees it when the reply is in. A raw user who picks tags itself calls
// ReserveTag()/ReleaseTag() so that Start() never hands out the same tag.
//
// Flush. flush(5): "When the client sends a Tflush, it must wait to receive the corresponding
// Rflush before reusing oldtag for subsequent messages. If a response to the flushed request is
// received before the Rflush, the client must honor the response as if it had not been
// flushed". RawCall::Flush() does exactly that; which came first is decided by the reader thread
// in arrival order, never by which waiting thread wakes first.
//
// Thread safety: every method may be called from any thread. A RawCall must not outlive its
// Connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/error.h"
#include "client/transport.h"
#include "codec/frame.h"

namespace p9x::client {

using Timeout = std::optional<std::chrono::milliseconds>;  // nullopt: wait forever

// A whole frame as received (size[4] type[1] tag[2] body). Owns its bytes.
struct RawFrame {
  std::vector<uint8_t> bytes;

  uint8_t type() const { return bytes.size() > 4 ? bytes[4] : 0; }
  uint16_t tag() const {
    return bytes.size() > 6 ? static_cast<uint16_t>(bytes[5] | bytes[6] << 8) : uint16_t{0};
  }
  // Decodes with `ctx`; the Frame's strings and data point into `bytes`.
  p9x::Result<Frame, CodecError> Decode(const WireContext& ctx) const { return DecodeFrame(bytes, ctx); }
};

class Connection;

namespace internal {
struct Slot;
}

// One request in flight. Move-only. Dropping a RawCall that has not completed abandons it: its
// tag stays taken until the server answers (a late reply must not be mistaken for another's).
class RawCall {
 public:
  RawCall() = default;
  RawCall(RawCall&&) noexcept = default;
  RawCall& operator=(RawCall&&) noexcept = default;
  ~RawCall() = default;

  uint16_t tag() const;
  // True when a reply (or a failure) is in, so Wait() will not block.
  bool ready() const;

  // The reply frame, whatever its type (the caller interprets Rlerror). kTimeout when nothing
  // came in time: the call is still in flight, and the caller may Wait() again or Flush().
  // Connection failure: kTransport. A successful Wait() completes the call.
  Result<RawFrame> Wait(Timeout timeout = std::nullopt);

  // Cancels with Tflush(oldtag = tag()) and waits for the Rflush (flush(5)). Returns the
  // original reply if it arrived before the Rflush, kCancelled if the Rflush came first, and
  // kTimeout if no Rflush came within `timeout` (the tag then stays taken until the server
  // answers either message).
  Result<RawFrame> Flush(Timeout timeout);

 private:
  friend class Connection;
  RawCall(Connection* connection, std::shared_ptr<internal::Slot> slot)
      : connection_(connection), slot_(std::move(slot)) {}
  Connection* connection_ = nullptr;
  std::shared_ptr<internal::Slot> slot_;
};

class Connection {
 public:
  // Starts the reader thread on `transport`. Incoming frames are bounded by wire().msize,
  // initially negotiation::kPreNegotiationMsize.
  explicit Connection(Transport transport);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  static Result<std::unique_ptr<Connection>> Dial(std::string_view target);

  // The codec context (dialect, msize) for this connection. Set it after Tversion; msize also
  // bounds incoming frames (a larger one is a protocol error that ends the connection, since
  // the stream cannot be trusted after it).
  WireContext wire() const;
  void SetWire(const WireContext& ctx);
  const std::string& description() const { return description_; }

  // ---- Tags ----
  // A free tag (never NOTAG); EAGAIN when all 65535 are taken.
  Result<uint16_t> AllocateTag();
  // Marks `tag` taken (false if it already is). For raw users who choose their own tags.
  bool ReserveTag(uint16_t tag);
  void ReleaseTag(uint16_t tag);
  size_t tags_in_use() const;

  // ---- Calls ----
  // Sends `frame` (a whole encoded frame) with a freshly allocated tag written into its tag
  // field, and returns the RawCall its reply will complete.
  Result<RawCall> Start(std::vector<uint8_t> frame);
  // Same with a tag the caller chose (NOTAG for Tversion). EBUSY if a RawCall already waits on it.
  // The RawCall takes the tag over and frees it when the reply is in.
  Result<RawCall> StartWithTag(uint16_t tag, std::vector<uint8_t> frame);
  // Fails every call in flight with `why` and frees their tags. version(5): a Tversion "aborts"
  // all outstanding I/O, so the client calls this before sending one.
  void AbortCalls(const Error& why);

  // ---- Raw ----
  // Writes `frame` as is (it need not be a valid frame).
  Result<void> SendFrame(std::span<const uint8_t> frame);
  // Encodes `msg` with `tag` in the current dialect and sends it (no RawCall is registered).
  template <class M>
  Result<void> Send(uint16_t tag, const M& msg);
  // The next frame that no RawCall claimed, in arrival order. kTimeout when none came in time;
  // kTransport once the connection has failed and the queue is empty.
  Result<RawFrame> ReceiveFrame(Timeout timeout = std::nullopt);
  size_t queued_frames() const;

  // Shuts the socket down, fails everything in flight, joins the reader. Idempotent.
  void Close();
  // Set once the connection has failed (peer closed, I/O error, protocol violation, Close()).
  std::optional<Error> failure() const;

 private:
  friend class RawCall;
  void ReaderLoop();
  // Hands `frame` to the RawCall waiting on its tag, or queues it for ReceiveFrame(). False when
  // the queue is full: the server sends replies to nothing faster than anyone takes them.
  bool Route(RawFrame frame);
  void Fail(const Error& why);
  // Under mu_: completes `slot` with a frame or an error and frees its tag when allowed.
  void CompleteLocked(internal::Slot& slot, std::optional<RawFrame> frame, std::optional<Error> error);
  void MaybeFreeTagLocked(internal::Slot& slot);
  Result<RawFrame> WaitSlot(internal::Slot& slot, Timeout timeout);
  Result<RawFrame> FlushSlot(const std::shared_ptr<internal::Slot>& slot, Timeout timeout);
  Result<RawCall> Register(uint16_t tag, bool allocated, std::vector<uint8_t>& frame);

  Transport transport_;
  const std::string description_;

  mutable std::mutex mu_;
  WireContext wire_;
  std::vector<bool> tag_taken_;
  uint16_t next_tag_ = 0;
  size_t tags_in_use_ = 0;
  std::unordered_map<uint16_t, std::shared_ptr<internal::Slot>> routes_;
  // Frames no RawCall claimed, bounded so that a server flooding the connection with replies
  // to nothing cannot grow the client without limit: past either bound the connection fails.
  static constexpr size_t kMaxUnclaimedFrames = 4096;
  static constexpr size_t kMaxUnclaimedBytes = size_t{64} << 20;
  std::deque<RawFrame> unclaimed_;
  size_t unclaimed_bytes_ = 0;
  std::condition_variable unclaimed_cv_;
  std::optional<Error> failure_;

  std::mutex send_mu_;
  std::thread reader_;
  bool closed_ = false;  // guarded by mu_
};

template <class M>
Result<void> Connection::Send(uint16_t tag, const M& msg) {
  const WireContext ctx = wire();
  std::vector<uint8_t> bytes(EncodedSize(msg, ctx.dialect));
  auto n = Encode(tag, msg, WireContext{ctx.dialect, kMaxMsize}, bytes);
  if (!n) return Unexpected(Error::Codec(n.error()));
  return SendFrame(bytes);
}

}  // namespace p9x::client
