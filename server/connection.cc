// SPDX-License-Identifier: MIT
// The connection (connection.h): the I/O loop with back-pressure, framing, the tags in flight and
// Tflush, Tversion, and the dispatch of each request inline or to the worker pool.
#include "server/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "codec/text.h"
#include "server/log.h"

namespace p9x::server {
namespace {

// The table's fid rules (spec/messages.json "fids"), checked before any handler runs.
// existing: must name a live fid; new: must not be in use; new_or_same: new, or equal to fid.
#define P9X_FIDCHECK_existing(field) \
  if (!has(msg.field)) return Errno::kEBADF;
#define P9X_FIDCHECK_new(field) \
  if (msg.field == kNoFid || has(msg.field)) return Errno::kEBADF;
#define P9X_FIDCHECK_new_or_same(field) \
  if (msg.field == kNoFid || (msg.field != msg.fid && has(msg.field))) return Errno::kEBADF;
#define P9X_FID_ROLE(field, role) P9X_FIDCHECK_##role(field)
#define P9X_FID_CHECK_FN(Name, number)                    \
  template <class Has>                                    \
  Errno CheckFidRoles(const Name& msg, Has&& has) {       \
    (void)msg;                                            \
    (void)has;                                            \
    P9X_FID_ROLES_##Name(P9X_FID_ROLE) return Errno::kOk; \
  }
P9X_MESSAGE_LIST(P9X_FID_CHECK_FN)
#undef P9X_FID_CHECK_FN
#undef P9X_FID_ROLE

}  // namespace

// The connection's read buffer: its size at first, and the most it keeps between large frames.
// Small at first: an idle connection must stay cheap (the buffer is zero-filled, so all of it
// is resident), and the buffer grows to a frame's size when one needs it. 2 KiB holds a
// Tversion, a Tattach, a Twalk of 16 names of ordinary length and several small pipelined
// requests.
constexpr size_t kInitialReadBuffer = 2 * 1024;
constexpr size_t kKeptReadBuffer = 64 * 1024;

// ---- I/O loop ----

void Connection::Begin() {
  fcntl(rfd_, F_SETFL, fcntl(rfd_, F_GETFL) | O_NONBLOCK);
  if (wfd_ != rfd_) fcntl(wfd_, F_SETFL, fcntl(wfd_, F_GETFL) | O_NONBLOCK);
  in_.resize(kInitialReadBuffer);
}

Connection::Interest Connection::Wants() {
  Interest wants;
  std::lock_guard lock(out_mu_);
  wants.write = !out_.empty();
  // Back-pressure: stop reading while this client has too many reply bytes queued or coming.
  const bool over_budget = OverBudgetLocked();
  wants.read = !read_eof_ && !fatal_ && !over_budget;
  wants.done = !wants.write && (fatal_ || (read_eof_ && in_flight_.empty() && !frames_left_));
  // Room again for the whole frames that were waiting in the read buffer.
  wants.again = !wants.done && frames_left_ && !over_budget && !fatal_;
  return wants;
}

bool Connection::OnReady(bool readable, bool writable, bool wanted_read) {
  if (writable && !WriteSome()) return false;
  if (wanted_read && readable) {
    if (!ReadSome()) read_eof_ = true;
    ProcessFrames();
    // Replies answered inline go out now: a socket with room in its buffer is writable, and
    // waiting for poll to say so costs a poll per request (bench/PROFILE.md P6). On EAGAIN
    // the connection waits for POLLOUT.
    bool queued;
    {
      std::lock_guard lock(out_mu_);
      queued = !out_.empty();
    }
    if (queued && !WriteSome()) return false;
  }
  return true;
}

void Connection::Finish() {
  // Abandon what is left: workers still holding this connection finish and drop their replies
  // (the session has ended for them).
  fids_.NewSession();
  std::lock_guard lock(out_mu_);
  in_flight_.clear();
  out_.clear();
  out_bytes_ = 0;
}

void Connection::Run() {
  Begin();
  while (!stop_.load()) {
    const Interest wants = Wants();
    if (wants.done) break;
    if (wants.again) {
      ProcessFrames();
      continue;
    }
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    int read_index = -1, write_index = -1;
    if (rfd_ == wfd_) {
      short ev = static_cast<short>((wants.read ? POLLIN : 0) | (wants.write ? POLLOUT : 0));
      read_index = write_index = static_cast<int>(n);
      fds[n++] = {rfd_, ev, 0};
    } else {
      read_index = static_cast<int>(n);
      fds[n++] = {rfd_, static_cast<short>(wants.read ? POLLIN : 0), 0};
      write_index = static_cast<int>(n);
      fds[n++] = {wfd_, static_cast<short>(wants.write ? POLLOUT : 0), 0};
    }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
    }
    const bool writable = fds[write_index].revents & (POLLOUT | POLLERR | POLLHUP);
    const bool readable = fds[read_index].revents & (POLLIN | POLLHUP | POLLERR);
    if (!OnReady(readable, writable, wants.read)) break;
  }
  Finish();
}

bool Connection::ReadSome() {
  for (;;) {
    if (in_len_ == in_.size()) return true;  // full: ProcessFrames makes room or grows it
    const size_t room = in_.size() - in_len_;
    ssize_t r = read(rfd_, in_.data() + in_len_, room);
    if (r > 0) {
      in_len_ += static_cast<size_t>(r);
      // Less than asked: the socket or pipe had no more. Going on would cost a read that
      // returns EAGAIN on every request (bench/PROFILE.md P6); poll says when more arrives.
      if (static_cast<size_t>(r) < room) return true;
      continue;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

bool Connection::WriteSome() {
  std::unique_lock lock(out_mu_);
  while (!out_.empty()) {
    iovec iov[64];
    int count = 0;
    size_t offset = out_offset_;
    for (auto it = out_.begin(); it != out_.end() && count < 64; ++it) {
      iov[count].iov_base = it->data() + offset;
      iov[count].iov_len = it->size() - offset;
      offset = 0;
      ++count;
    }
    ssize_t w = writev(wfd_, iov, count);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    size_t left = static_cast<size_t>(w);
    out_bytes_ -= left;
    while (left > 0) {
      size_t rest = out_.front().size() - out_offset_;
      if (left >= rest) {
        left -= rest;
        out_.pop_front();
        out_offset_ = 0;
      } else {
        out_offset_ += left;
        left = 0;
      }
    }
  }
  return true;
}

void Connection::Trace(const char* dir, std::span<const uint8_t> bytes, const WireContext& wire) {
  if (!s_.options.trace) return;
  std::string line = BytesToText(bytes, wire);
  std::fprintf(stderr, "p9xd: %s %s %s\n", peer_.c_str(), dir, line.c_str());
}

void Connection::QueueLocked(std::vector<uint8_t> bytes) {
  if (s_.options.trace) Trace("->", bytes, trace_wire_);
  out_bytes_ += bytes.size();
  out_.push_back(std::move(bytes));
}

void Connection::CompleteLocked(uint16_t tag, uint64_t generation, std::vector<uint8_t>* bytes) {
  // A Tversion aborted this request. The generation can move on (on the connection thread) just
  // after this check; the reply then still goes out before the Rversion, which is queued under
  // out_mu_ after the move, as for a request that completed before the Tversion arrived.
  if (generation != fids_.generation()) return;
  QueueLocked(std::move(*bytes));
  auto it = in_flight_.find(tag);
  if (it == in_flight_.end()) return;
  std::vector<uint16_t> flushers = std::move(it->second);
  in_flight_.erase(it);
  for (uint16_t flush_tag : flushers) {
    std::vector<uint8_t> rflush(kHeaderSize);
    (void)Encode(flush_tag, Rflush{}, WireContext{}, rflush);
    CompleteLocked(flush_tag, generation, &rflush);
  }
}

void Connection::Complete(uint16_t tag, uint64_t generation, std::vector<uint8_t> bytes, bool wake, size_t release) {
  {
    std::lock_guard lock(out_mu_);
    reserved_bytes_ -= release;
    CompleteLocked(tag, generation, &bytes);
  }
  if (wake) Wake();
}

void Connection::ProcessFrames() {
  size_t pos = 0;
  frames_left_ = false;
  while (!fatal_ && in_len_ - pos >= 4) {
    {
      std::lock_guard lock(out_mu_);
      if (OverBudgetLocked()) {
        frames_left_ = true;
        break;
      }
    }
    const WireContext wire = session_.wire();
    const uint8_t* p = in_.data() + pos;
    auto next = NextFrame(std::span<const uint8_t>(p, in_len_ - pos), wire);
    if (!next) {
      // Framing is lost: answer once if the tag is readable, then close this connection only.
      Log(1, s_.options.log_level, "%s: closing: %s", peer_.c_str(), next.error().Describe().c_str());
      if (in_len_ - pos >= kHeaderSize) {
        uint16_t tag = static_cast<uint16_t>(p[5] | p[6] << 8);
        std::lock_guard lock(out_mu_);
        QueueLocked(ErrorFrame(tag, Errno::kEMSGSIZE));
      }
      fatal_ = true;
      break;
    }
    if (next->frame.empty()) {
      if (next->needed > in_.size()) {
        // A frame larger than the buffer: grow to exactly the frame (bounded by msize).
        std::memmove(in_.data(), p, in_len_ - pos);
        in_len_ -= pos;
        pos = 0;
        in_.resize(next->needed);
      }
      break;
    }
    const std::span<const uint8_t> frame = next->frame;
    more_input_ = in_len_ - pos > frame.size();
    Dispatch(frame);
    pos += frame.size();
  }
  if (pos > 0) {
    std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
    in_len_ -= pos;
  }
  if (in_len_ == 0 && in_.size() > kKeptReadBuffer) {
    in_.resize(kKeptReadBuffer);
    in_.shrink_to_fit();
  }
}

// The dispatch table: one entry per type byte, built from the message table.
using FrameHandler = void (Connection::*)(std::span<const uint8_t>);

void Connection::Dispatch(std::span<const uint8_t> frame) {
  static const auto kTable = [] {
    std::array<FrameHandler, 256> t{};
#define P9X_SERVER_DISPATCH(Name, number) t[number] = &Connection::OnRequest<Name>;
    P9X_MESSAGE_LIST(P9X_SERVER_DISPATCH)
#undef P9X_SERVER_DISPATCH
    return t;
  }();
  const WireContext wire = session_.wire();
  if (s_.options.trace) Trace("<-", frame, wire);
  const uint8_t type = frame[4];
  const uint16_t tag = static_cast<uint16_t>(frame[5] | frame[6] << 8);
  FrameHandler h = kTable[type];
  if (h == nullptr) {
    // Not a 9P2000.L message (e.g. 9P2000's Topen): spec/9p2000.L.md §5.
    std::lock_guard lock(out_mu_);
    QueueLocked(ErrorFrame(tag, Errno::kEOPNOTSUPP));
    return;
  }
  (this->*h)(frame);
}

template <class M>
void Connection::OnRequest(std::span<const uint8_t> frame) {
  const uint16_t tag = static_cast<uint16_t>(frame[5] | frame[6] << 8);
  auto reply_now = [&](std::vector<uint8_t> bytes) {
    std::lock_guard lock(out_mu_);
    QueueLocked(std::move(bytes));
  };
  if constexpr (M::kName[0] == 'R') {
    // A reply sent to the server.
    reply_now(ErrorFrame(tag, Errno::kEOPNOTSUPP));
    return;
  } else {
    M msg{};
    if (auto decoded = DecodeInto(frame, session_.wire(), &msg); !decoded) {
      Log(2, s_.options.log_level, "%s: bad %s: %s", peer_.c_str(), std::string(M::kName).c_str(),
          decoded.error().Describe().c_str());
      reply_now(ErrorFrame(tag, Errno::kEINVAL));
      return;
    }
    if constexpr (std::is_same_v<M, Tversion>) {
      HandleVersion(msg, tag);
      return;
    } else {
      if (!session_.negotiated()) {
        reply_now(ErrorFrame(tag, Errno::kEPROTO));
        return;
      }
      uint64_t generation;
      bool alone = false;
      {
        std::lock_guard lock(out_mu_);
        if (in_flight_.count(tag)) {
          // flush(5) and intro(5): a tag names one outstanding request. Reusing one in flight
          // makes every later reply ambiguous, so the connection is closed.
          Log(1, s_.options.log_level, "%s: closing: tag %u reused while in flight", peer_.c_str(), tag);
          fatal_ = true;
          return;
        }
        in_flight_.emplace(tag, std::vector<uint16_t>{});
        generation = fids_.generation();
        alone = in_flight_.size() == 1 && !more_input_;
      }
      if constexpr (std::is_same_v<M, Tflush>) {
        HandleFlush(msg, tag);
        return;
      } else {
        const Request req{tag, session_.wire(), generation};
        if (Errno e = CheckFidRoles(msg, [&](uint32_t f) { return HasFid(f); }); e != Errno::kOk) {
          Complete(tag, generation, ErrorFrame(tag, e), false);
          return;
        }
        if (M::kMutates && s_.options.read_only) {
          Complete(tag, generation, ErrorFrame(tag, Errno::kEROFS), false);
          return;
        }
        if constexpr (M::kRunsOnWorker) {
          if (CanAnswerInline(msg, generation, alone)) {
            Reply r = Handle(msg, req);
            Complete(tag, generation, r ? std::move(*r) : ErrorFrame(tag, r.error()), false);
            return;
          }
          // The job owns a copy of the frame and decodes it again there, so no view outlives the
          // bytes it points into (the read buffer is reused for the next frames).
          auto bytes = std::make_shared<std::vector<uint8_t>>(frame.begin(), frame.end());
          size_t reserve = bytes->size() + kHeaderSize + 4;
          if constexpr (M::kReservesCount) {
            reserve += std::min(msg.count, req.wire.msize - kRreadHeaderSize);
          }
          {
            std::lock_guard lock(out_mu_);
            reserved_bytes_ += reserve;
          }
          s_.pool->Post([self = shared_from_this(), req, bytes, reserve] {
            M job_msg{};
            (void)DecodeInto(std::span<const uint8_t>(*bytes), req.wire, &job_msg);
            Reply r = self->Handle(job_msg, req);
            self->Complete(req.tag, req.generation, r ? std::move(*r) : ErrorFrame(req.tag, r.error()), true, reserve);
          });
        } else {
          Reply r = Handle(msg, req);
          Complete(tag, generation, r ? std::move(*r) : ErrorFrame(tag, r.error()), false);
        }
      }
    }
  }
}

template <class M>
bool Connection::CanAnswerInline(const M& msg, uint64_t generation, bool alone) {
  if (!alone) return false;
  if constexpr (std::is_same_v<M, Tread> || std::is_same_v<M, Twrite>) {
    FidRef f = GetFid(msg.fid, generation);
    if (!f) return true;  // answered EBADF at once
    std::lock_guard lock(f->mu);
    return f->kind != Fid::Kind::kNode || (f->node && f->node->type() == S_IFREG);
  }
  return true;
}

void Connection::HandleVersion(const Tversion& m, uint16_t tag) {
  // version(5): "A successful version request initializes the connection. All outstanding I/O
  // on the connection is aborted; all active fids are freed." p9x applies it to every Tversion.
  negotiation::TversionAnswer answer = negotiation::AnswerTversion(s_.options.policy, m.msize, m.version);
  session_.OnTversion(answer);
  fids_.NewSession();  // from here on, the old session's requests find no fid and queue no reply
  std::lock_guard lock(out_mu_);
  in_flight_.clear();
  trace_wire_ = session_.wire();
  if (answer.kind == negotiation::TversionAnswer::Kind::kReject) {
    Log(2, s_.options.log_level, "%s: Tversion refused: %s", peer_.c_str(), answer.reason.c_str());
    QueueLocked(ErrorFrame(tag, answer.error));
    return;
  }
  Rversion r{answer.msize, answer.version};
  std::vector<uint8_t> out(EncodedSize(r, Dialect::kLegacy));
  (void)Encode(tag, r, WireContext{}, out);
  QueueLocked(std::move(out));
  Log(2, s_.options.log_level, "%s: session %s msize %u", peer_.c_str(), answer.version.c_str(), answer.msize);
}

void Connection::HandleFlush(const Tflush& m, uint16_t tag) {
  // flush(5): answered once oldtag is answered or abandoned; its reply (if any) goes first.
  std::lock_guard lock(out_mu_);
  auto it = in_flight_.find(m.oldtag);
  if (it != in_flight_.end() && m.oldtag != tag) {
    it->second.push_back(tag);
    return;
  }
  std::vector<uint8_t> rflush(kHeaderSize);
  (void)Encode(tag, Rflush{}, WireContext{}, rflush);
  CompleteLocked(tag, fids_.generation(), &rflush);
}

}  // namespace p9x::server
