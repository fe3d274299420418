// SPDX-License-Identifier: MIT
// The client's connection (connection.h): tags, the writer, the reader thread that splits the
// stream into frames and routes each reply to its call, flush, and failure of every call at once.
#include "client/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "codec/messages.h"
#include "negotiation/version.h"

namespace p9x::client {
namespace internal {

// The state of one tag in flight, shared by the RawCall and the reader thread; guarded by the
// Connection's mu_.
struct Slot {
  uint16_t tag = 0;
  bool allocated = true;  // the tag is the connection's to free
  bool routed = true;     // replies with `tag` come here
  bool done = false;      // frame or error is set
  bool taken = false;     // Wait() has handed the result out
  int flushes = 0;        // Tflush messages naming this tag whose Rflush has not come
  std::optional<RawFrame> frame;
  std::optional<Error> error;
  std::shared_ptr<Slot> flush_target;  // set on a Tflush's own slot
  bool cancelled_target = false;       // this Tflush's Rflush came before the target's reply
  std::condition_variable cv;
};

}  // namespace internal

using internal::Slot;

namespace {

void PutTag(std::vector<uint8_t>& frame, uint16_t tag) {
  if (frame.size() >= kHeaderSize) {
    frame[5] = static_cast<uint8_t>(tag & 0xFF);
    frame[6] = static_cast<uint8_t>(tag >> 8);
  }
}

uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

// ---- RawCall ----

uint16_t RawCall::tag() const { return slot_ ? slot_->tag : kNoTag; }

bool RawCall::ready() const {
  if (!slot_) return true;
  std::lock_guard<std::mutex> lock(connection_->mu_);
  return slot_->done;
}

Result<RawFrame> RawCall::Wait(Timeout timeout) {
  if (!slot_) return Unexpected(Error::Usage(Errno::kEINVAL, "Wait on an empty RawCall"));
  return connection_->WaitSlot(*slot_, timeout);
}

Result<RawFrame> RawCall::Flush(Timeout timeout) {
  if (!slot_) return Unexpected(Error::Usage(Errno::kEINVAL, "Flush on an empty RawCall"));
  return connection_->FlushSlot(slot_, timeout);
}

// ---- Connection ----

Connection::Connection(Transport transport)
    : transport_(std::move(transport)),
      description_(transport_.description()),
      wire_{Dialect::kLegacy, negotiation::kPreNegotiationMsize},
      tag_taken_(65536, false) {
  tag_taken_[kNoTag] = true;  // never allocated; Tversion uses it explicitly
  reader_ = std::thread([this] { ReaderLoop(); });
}

Connection::~Connection() { Close(); }

Result<std::unique_ptr<Connection>> Connection::Dial(std::string_view target) {
  auto t = Transport::Dial(target);
  if (!t) return Unexpected(t.error());
  return std::make_unique<Connection>(std::move(*t));
}

WireContext Connection::wire() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wire_;
}

void Connection::SetWire(const WireContext& ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  wire_ = ctx;
}

Result<uint16_t> Connection::AllocateTag() {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t tag = static_cast<uint16_t>(next_tag_ + i);
    if (!tag_taken_[tag]) {
      tag_taken_[tag] = true;
      ++tags_in_use_;
      next_tag_ = static_cast<uint16_t>(tag + 1);
      return tag;
    }
  }
  return Unexpected(Error::Usage(Errno::kEAGAIN, "all 65535 tags are in flight"));
}

bool Connection::ReserveTag(uint16_t tag) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tag == kNoTag || tag_taken_[tag]) return false;
  tag_taken_[tag] = true;
  ++tags_in_use_;
  return true;
}

void Connection::ReleaseTag(uint16_t tag) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tag != kNoTag && tag_taken_[tag] && routes_.find(tag) == routes_.end()) {
    tag_taken_[tag] = false;
    --tags_in_use_;
  }
}

size_t Connection::tags_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tags_in_use_;
}

Result<RawCall> Connection::Start(std::vector<uint8_t> frame) {
  auto tag = AllocateTag();
  if (!tag) return Unexpected(tag.error());
  return Register(*tag, true, frame);
}

Result<RawCall> Connection::StartWithTag(uint16_t tag, std::vector<uint8_t> frame) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (routes_.count(tag) != 0) {
      return Unexpected(Error::Usage(Errno::kEBUSY, "tag " + std::to_string(tag) + " already has a call in flight"));
    }
    if (tag != kNoTag && !tag_taken_[tag]) {
      tag_taken_[tag] = true;
      ++tags_in_use_;
    }
  }
  return Register(tag, tag != kNoTag, frame);
}

Result<RawCall> Connection::Register(uint16_t tag, bool allocated, std::vector<uint8_t>& frame) {
  PutTag(frame, tag);
  auto slot = std::make_shared<Slot>();
  slot->tag = tag;
  slot->allocated = allocated;
  {
    // Registered before sending: the reply may come back before SendFrame returns.
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_) {
      slot->routed = false;
      MaybeFreeTagLocked(*slot);
      return Unexpected(*failure_);
    }
    routes_[tag] = slot;
  }
  auto sent = SendFrame(frame);
  if (!sent) {
    std::lock_guard<std::mutex> lock(mu_);
    if (slot->routed) CompleteLocked(*slot, std::nullopt, sent.error());
    return Unexpected(sent.error());
  }
  return RawCall(this, std::move(slot));
}

void Connection::AbortCalls(const Error& why) {
  std::lock_guard<std::mutex> lock(mu_);
  auto routes = std::move(routes_);
  routes_.clear();
  for (auto& [tag, slot] : routes) {
    slot->flushes = 0;
    CompleteLocked(*slot, std::nullopt, why);
  }
}

Result<void> Connection::SendFrame(std::span<const uint8_t> frame) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_) return Unexpected(*failure_);
  }
  std::lock_guard<std::mutex> lock(send_mu_);
  size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = send(transport_.fd(), frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      Error error = Error::Transport(WireErrnoFromHost(e), "send to " + description_);
      Fail(error);
      return Unexpected(error);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<RawFrame> Connection::ReceiveFrame(Timeout timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return !unclaimed_.empty() || failure_.has_value(); };
  if (timeout) {
    if (!unclaimed_cv_.wait_for(lock, *timeout, ready)) {
      return Unexpected(Error::Timeout("no frame within " + std::to_string(timeout->count()) + " ms"));
    }
  } else {
    unclaimed_cv_.wait(lock, ready);
  }
  if (unclaimed_.empty()) return Unexpected(*failure_);
  RawFrame frame = std::move(unclaimed_.front());
  unclaimed_.pop_front();
  unclaimed_bytes_ -= frame.bytes.size();
  return frame;
}

size_t Connection::queued_frames() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unclaimed_.size();
}

void Connection::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  Fail(Error::Transport(Errno::kEBADF, "connection to " + description_ + " closed by the client"));
  if (transport_.fd() >= 0) shutdown(transport_.fd(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  transport_.Close();
}

std::optional<Error> Connection::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void Connection::Fail(const Error& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_) return;
  failure_ = why;
  auto routes = std::move(routes_);
  routes_.clear();
  for (auto& [tag, slot] : routes) {
    slot->flushes = 0;
    CompleteLocked(*slot, std::nullopt, why);
  }
  unclaimed_cv_.notify_all();
}

void Connection::MaybeFreeTagLocked(Slot& slot) {
  if (!slot.routed && slot.flushes == 0 && slot.allocated) {
    slot.allocated = false;
    if (tag_taken_[slot.tag]) {
      tag_taken_[slot.tag] = false;
      --tags_in_use_;
    }
  }
}

void Connection::CompleteLocked(Slot& slot, std::optional<RawFrame> frame, std::optional<Error> error) {
  if (slot.routed) {
    auto it = routes_.find(slot.tag);
    if (it != routes_.end() && it->second.get() == &slot) routes_.erase(it);
    slot.routed = false;
  }
  if (!slot.done) {
    slot.done = true;
    slot.frame = std::move(frame);
    slot.error = std::move(error);
  }
  MaybeFreeTagLocked(slot);
  slot.cv.notify_all();
}

bool Connection::Route(RawFrame frame) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(frame.tag());
  if (it == routes_.end()) {
    if (unclaimed_.size() >= kMaxUnclaimedFrames || unclaimed_bytes_ + frame.bytes.size() > kMaxUnclaimedBytes) {
      return false;
    }
    unclaimed_bytes_ += frame.bytes.size();
    unclaimed_.push_back(std::move(frame));
    unclaimed_cv_.notify_all();
    return true;
  }
  std::shared_ptr<Slot> slot = it->second;
  std::shared_ptr<Slot> target = slot->flush_target;
  CompleteLocked(*slot, std::move(frame), std::nullopt);
  if (target) {
    // This is the answer to a Tflush. Decided here, in arrival order: if the target's reply
    // has not come, the server discarded it (flush(5)) and the target is cancelled.
    if (!target->done) {
      slot->cancelled_target = true;
      CompleteLocked(*target, std::nullopt, Error::Cancelled());
    }
    if (target->flushes > 0) --target->flushes;
    MaybeFreeTagLocked(*target);
  }
  return true;
}

Result<RawFrame> Connection::WaitSlot(Slot& slot, Timeout timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return slot.done; };
  if (timeout) {
    if (!slot.cv.wait_for(lock, *timeout, ready)) {
      return Unexpected(Error::Timeout("no reply to tag " + std::to_string(slot.tag) + " within " +
                                       std::to_string(timeout->count()) + " ms"));
    }
  } else {
    slot.cv.wait(lock, ready);
  }
  if (slot.taken) return Unexpected(Error::Usage(Errno::kEINVAL, "the reply was already taken"));
  slot.taken = true;
  if (slot.error) return Unexpected(*slot.error);
  return std::move(*slot.frame);
}

Result<RawFrame> Connection::FlushSlot(const std::shared_ptr<Slot>& slot, Timeout timeout) {
  bool already_done = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    already_done = slot->done;  // nothing to cancel: the reply is in (or the call failed)
    if (!already_done) ++slot->flushes;
  }
  if (already_done) return WaitSlot(*slot, std::nullopt);

  Tflush tflush;
  tflush.oldtag = slot->tag;
  std::vector<uint8_t> bytes(EncodedSize(tflush, Dialect::kLegacy));
  auto encoded = Encode(0, tflush, WireContext{Dialect::kLegacy, kMaxMsize}, bytes);
  (void)encoded;  // Tflush always fits.

  auto tag = AllocateTag();
  if (!tag) {
    std::lock_guard<std::mutex> lock(mu_);
    --slot->flushes;
    MaybeFreeTagLocked(*slot);
    return Unexpected(tag.error());
  }
  PutTag(bytes, *tag);
  auto flush_slot = std::make_shared<Slot>();
  flush_slot->tag = *tag;
  flush_slot->flush_target = slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_) {
      flush_slot->routed = false;
      MaybeFreeTagLocked(*flush_slot);
      return Unexpected(*failure_);
    }
    routes_[*tag] = flush_slot;
  }
  auto sent = SendFrame(bytes);
  if (!sent) return Unexpected(sent.error());  // Fail() completed both slots

  auto rflush = WaitSlot(*flush_slot, timeout);
  if (!rflush) {
    if (rflush.error().kind == Error::Kind::kTimeout) {
      return Unexpected(Error::Timeout("no Rflush for tag " + std::to_string(slot->tag) + " within " +
                                       std::to_string(timeout->count()) + " ms"));
    }
    return Unexpected(rflush.error());
  }
  if (rflush->type() != static_cast<uint8_t>(MsgType::kRflush)) {
    // flush(5): "A Tflush can never be responded to by an Rerror message."
    Error e = ErrorFromReply(rflush->bytes, "Rflush");
    if (e.kind != Error::Kind::kProtocol) {
      e = Error::Protocol("Tflush answered with an error (" + e.Describe() + "); flush(5) forbids it");
    }
    return Unexpected(e);
  }
  // The reader decided the order; the target is done either way now.
  return WaitSlot(*slot, std::nullopt);
}

void Connection::ReaderLoop() {
  std::vector<uint8_t> buffer(64 * 1024);
  size_t begin = 0;
  size_t end = 0;
  const int fd = transport_.fd();
  // Ensures `need` bytes are buffered from `begin`; false on EOF or error (after Fail()).
  auto fill = [&](size_t need) -> bool {
    if (buffer.size() < need) buffer.resize(need);
    if (begin + need > buffer.size()) {
      std::memmove(buffer.data(), buffer.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    while (end - begin < need) {
      const ssize_t n = read(fd, buffer.data() + end, buffer.size() - end);
      if (n > 0) {
        end += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        Fail(Error::Transport(Errno::kECONNRESET, "connection closed by " + description_));
      } else {
        const int e = errno;
        Fail(Error::Transport(WireErrnoFromHost(e), "receive from " + description_));
      }
      return false;
    }
    return true;
  };
  while (true) {
    const WireContext ctx = wire();
    auto next = NextFrame(std::span<const uint8_t>(buffer.data() + begin, end - begin), ctx);
    if (!next) {
      const uint32_t size = LoadU32(buffer.data() + begin);
      Fail(Error::Protocol(
          "received a frame whose size field is " + std::to_string(size) +
          (size < kHeaderSize ? " (below the 7-byte header)" : " (over msize " + std::to_string(ctx.msize) + ")") +
          " from " + description_));
      return;
    }
    if (next->frame.empty()) {
      if (!fill(next->needed)) return;
      continue;
    }
    RawFrame frame;
    frame.bytes.assign(next->frame.begin(), next->frame.end());
    begin += next->frame.size();
    if (begin == end) begin = end = 0;
    if (!Route(std::move(frame))) {
      Fail(Error::Protocol("received more than " + std::to_string(kMaxUnclaimedFrames) + " frames (or " +
                           std::to_string(kMaxUnclaimedBytes >> 20) + " MiB) that answer no request in flight from " +
                           description_ + "; intro(5): each reply answers one request"));
      return;
    }
  }
}

}  // namespace p9x::client
