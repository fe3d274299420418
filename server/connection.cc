// SPDX-License-Identifier: MIT
// The connection (connection.h): the I/O loop with back-pressure, framing, the tags in flight and
// Tflush, Tversion, and the dispatch of each request inline or to the worker pool.
#include "server/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "codec/text.h"
#include "codec/wire.h"
#include "server/blocking_mounts.h"
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

// Whether any fid the request names that must exist is on a filesystem that can block
// (on_blocking(fid)); a new fid names nothing yet.
#define P9X_BLOCKCHECK_existing(field) \
  if (on_blocking(msg.field)) return true;
#define P9X_BLOCKCHECK_new(field)
#define P9X_BLOCKCHECK_new_or_same(field)
#define P9X_BLOCK_ROLE(field, role) P9X_BLOCKCHECK_##role(field)
#define P9X_BLOCK_CHECK_FN(Name, number)                                  \
  template <class OnBlocking>                                             \
  bool AnyFidOnBlockingMount(const Name& msg, OnBlocking&& on_blocking) { \
    (void)msg;                                                            \
    (void)on_blocking;                                                    \
    P9X_FID_ROLES_##Name(P9X_BLOCK_ROLE) return false;                    \
  }
P9X_MESSAGE_LIST(P9X_BLOCK_CHECK_FN)
#undef P9X_BLOCK_CHECK_FN
#undef P9X_BLOCK_ROLE

}  // namespace

// The connection's read buffer: a frame larger than this is read into a buffer of its own
// (connection.h, large_), so in_ never grows and an idle connection stays small.
constexpr size_t kInitialReadBuffer = 8 * 1024;

// ---- I/O loop ----

void Connection::Begin() {
  fcntl(rfd_, F_SETFL, fcntl(rfd_, F_GETFL) | O_NONBLOCK);
  if (wfd_ != rfd_) fcntl(wfd_, F_SETFL, fcntl(wfd_, F_GETFL) | O_NONBLOCK);
  // Small: an idle connection must stay cheap, and a larger frame is read into a buffer of its
  // own (large_). Not zero-filled (FrameBytes), so only the pages a read touches are resident.
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
  EndStream();
  // Abandon what is left: workers still holding this connection finish and drop their replies
  // (the session has ended for them).
  DropFids(fids_.NewSession());
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
  if (splicing_) return ReadSplicedPayload();
  for (;;) {
    // Into the large frame being read, up to its end; else into in_.
    const bool large = !large_.empty();
    uint8_t* const buffer = large ? large_.data() : in_.data();
    size_t& len = large ? large_len_ : in_len_;
    const size_t size = large ? large_.size() : in_.size();
    if (len == size) return true;  // full: ProcessFrames makes room
    const size_t room = size - len;
    ssize_t r = read(rfd_, buffer + len, room);
    if (r > 0) {
      len += static_cast<size_t>(r);
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

// ---- a Twrite's payload spliced from the socket (connection.h, the framing comment) ----

bool Connection::BeginSplicedWrite(const uint8_t* frame, size_t available, uint32_t frame_size) {
  if (!splice_from_peer_ || s_.options.read_only || available < kTwriteFixedSize ||
      frame[4] != static_cast<uint8_t>(MsgType::kTwrite)) {
    return false;
  }
  const uint32_t data_size = frame_size - static_cast<uint32_t>(kTwriteFixedSize);
  // A count that disagrees with the frame's size is refused by the codec once the frame is
  // whole, as any malformed frame: that frame is read into a buffer.
  if (p9x::internal::LoadLe<uint32_t>(frame + kTwriteFixedSize - 4) != data_size || data_size < kMinSplicedWrite) {
    return false;
  }
  const uint32_t fid = p9x::internal::LoadLe<uint32_t>(frame + kHeaderSize);
  FidRef f = GetFid(fid, fids_.generation());
  if (!f) return false;
  // Only a hint: a request still on a worker may change the fid before this one runs, and the
  // handler copes with any fid (DrainPayload).
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open || open->SpliceTarget() < 0) return false;
  SplicePipe pipe = TakePipe(data_size);
  if (!pipe.valid()) return false;
  // The payload bytes that came with the fixed part: into the pipe (a copy of at most the read
  // buffer; the pipe is empty and holds data_size bytes, so it takes them at once).
  const size_t early = available - kTwriteFixedSize;
  if (early > 0) {
    ssize_t w;
    do {
      w = write(pipe.write_fd(), frame + kTwriteFixedSize, early);
    } while (w < 0 && errno == EINTR);
    if (w != static_cast<ssize_t>(early)) {
      ReturnPipe(std::move(pipe), false);
      return false;
    }
  }
  std::memcpy(spliced_head_.data(), frame, kTwriteFixedSize);
  spliced_.pipe = std::move(pipe);
  spliced_.size = data_size;
  spliced_.arrived = static_cast<uint32_t>(early);
  spliced_.in_pipe = static_cast<uint32_t>(early);
  splicing_ = true;
  // Streamed into the file while it arrives when this Twrite would be answered here anyway and
  // nothing else of this connection is in flight (connection.h, stream_).
  bool idle;
  {
    std::lock_guard lock(out_mu_);
    idle = in_flight_.empty();
  }
  Twrite fids_only{};
  fids_only.fid = fid;
  stream_ = idle && !NeedsWorkerForBlockingMount(fids_only, fids_.generation());
  if (stream_) {
    stream_fid_ = std::move(f);
    stream_open_ = open;
    stream_offset_ = p9x::internal::LoadLe<uint64_t>(frame + kHeaderSize + 4);
  }
  return true;
}

void Connection::StreamSplicedPayload() {
  SplicedPayload& p = spliced_;
  while (p.in_pipe > 0) {
    if (p.error == Errno::kOk) {
      if (auto acted = ActAs(*stream_fid_); !acted) {
        p.error = acted.error();
        continue;
      }
      loff_t at = static_cast<loff_t>(stream_offset_ + p.written);
      const ssize_t n = splice(p.pipe.read_fd(), nullptr, stream_open_->SpliceTarget(), &at, p.in_pipe, SPLICE_F_MOVE);
      if (n > 0) {
        p.written += static_cast<uint32_t>(n);
        p.in_pipe -= static_cast<uint32_t>(n);
        stream_started_ = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL && !stream_started_) {
        // The file does not take spliced data (or refuses the offset): nothing is written, and
        // the handler does what it does for any spliced payload (SpliceWrite, then pwrite).
        stream_ = false;
        return;
      }
      // A short write, as pwrite(2) reports one: the count says what went in (an error when
      // nothing did), and the rest of the payload is read and dropped.
      p.error = n < 0 ? WireErrnoFromHost(errno) : Errno::kEIO;
      stream_started_ = true;
      continue;
    }
    // The read buffer holds nothing while a payload is spliced (ProcessFrames), so it takes
    // what is dropped.
    const ssize_t r = read(p.pipe.read_fd(), in_.data(), std::min<size_t>(in_.size(), p.in_pipe));
    if (r > 0) {
      p.in_pipe -= static_cast<uint32_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      fatal_ = true;  // the pipe holds what arrived: it cannot run dry
      return;
    }
  }
}

bool Connection::ReadSplicedPayload() {
  for (;;) {
    const size_t room = spliced_.size - spliced_.arrived;
    if (room == 0) return true;  // whole: ProcessFrames dispatches it
    const ssize_t r = splice(rfd_, nullptr, spliced_.pipe.write_fd(), nullptr, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (r > 0) {
      spliced_.arrived += static_cast<uint32_t>(r);
      spliced_.in_pipe += static_cast<uint32_t>(r);
      if (stream_) {
        // Into the file now; more has usually arrived meanwhile, so splice again until the
        // socket is empty rather than wait for the next readiness report.
        StreamSplicedPayload();
        if (fatal_) return true;
        continue;
      }
      // Less than asked: the socket had no more (as ReadSome), or the pipe is full, which the
      // next round finds out.
      if (static_cast<size_t>(r) < room) return true;
      continue;
    }
    if (r == 0) return false;
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN) {
      // A streamed payload leaves the pipe empty (StreamSplicedPayload): the socket was empty.
      if (stream_) return true;
      // The socket is empty, or the pipe is full while the socket still has data.
      int queued = 0;
      if (ioctl(rfd_, FIONREAD, &queued) != 0 || queued == 0) return true;
    }
    // Bytes of this payload are in the file: it cannot be read into a buffer instead, and the
    // socket failed, as a read(2) error ends the input in ReadSome.
    if (stream_started_) return false;
    // From here on this connection reads payloads into buffers: a pipe that filled once will
    // fill again, and every such payload would be spliced and then copied.
    splice_from_peer_ = false;
    SplicedPayloadToLarge();
    return fatal_ ? true : ReadSome();
  }
}

void Connection::SplicedPayloadToLarge() {
  {
    std::lock_guard lock(out_mu_);
    large_ = std::move(spare_large_);
    spare_large_ = FrameBytes();
  }
  large_.resize(kTwriteFixedSize + spliced_.size);
  std::memcpy(large_.data(), spliced_head_.data(), kTwriteFixedSize);
  size_t got = 0;
  while (got < spliced_.in_pipe) {
    const ssize_t r = read(spliced_.pipe.read_fd(), large_.data() + kTwriteFixedSize + got, spliced_.in_pipe - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  // Bytes of the frame that cannot be read back are lost, and the framing with them.
  if (got < spliced_.in_pipe) fatal_ = true;
  large_len_ = kTwriteFixedSize + got;
  ReturnPipe(std::move(spliced_.pipe), got == spliced_.in_pipe);
  spliced_ = SplicedPayload();
  splicing_ = false;
  EndStream();
}

void Connection::EndStream() {
  stream_ = stream_started_ = false;
  stream_fid_.reset();
  stream_open_.reset();
}

bool Connection::ProcessSplicedWrite() {
  if (spliced_.arrived < spliced_.size) return false;
  {
    std::lock_guard lock(out_mu_);
    if (OverBudgetLocked()) {
      frames_left_ = true;
      return false;
    }
  }
  // The fixed part as a frame of its own, a Twrite of no data, for the codec and the dispatch.
  std::array<uint8_t, kTwriteFixedSize> head = spliced_head_;
  p9x::internal::StoreLe<uint32_t>(head.data(), static_cast<uint32_t>(kTwriteFixedSize));
  p9x::internal::StoreLe<uint32_t>(head.data() + kTwriteFixedSize - 4, 0);
  SplicedPayload payload = std::move(spliced_);
  spliced_ = SplicedPayload();
  splicing_ = false;
  payload.streamed = stream_;
  EndStream();
  if (s_.options.trace) {
    std::fprintf(stderr, "p9xd: %s <- Twrite tag %u: %u data bytes spliced, not shown\n", peer_.c_str(),
                 static_cast<unsigned>(head[5] | head[6] << 8), payload.size);
  }
  more_input_ = in_len_ > 0;
  payload_ = &payload;
  Dispatch(head);
  payload_ = nullptr;
  // Refused before its handler ran (a bad fid, a reused tag...), or answered here: the pipe
  // goes back (closed if data is left in it).
  ReturnPipe(std::move(payload.pipe), payload.in_pipe == 0);
  return true;
}

// ---- splice pipes ----

// At most this many splice pipes per connection (two descriptors each): enough for the Rreads
// that a client keeps in flight and queued; beyond it an Rread is copied.
constexpr size_t kMaxSplicePipes = 8;

SplicePipe SplicePipe::Open(size_t capacity) {
  SplicePipe p;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return p;
  p.read_fd_ = fds[0];
  p.write_fd_ = fds[1];
  const int got = fcntl(p.write_fd_, F_GETPIPE_SZ);
  p.capacity_ = got > 0 ? static_cast<size_t>(got) : 0;
  if (!p.Reserve(capacity)) p.Close();
  return p;
}

// The smallest pipe size F_SETPIPE_SZ refused with EPERM in this process.
static std::atomic<size_t> refused_pipe_size{SIZE_MAX};

bool SplicePipe::Reserve(size_t capacity) {
  if (capacity <= capacity_) return true;
  if (capacity >= refused_pipe_size.load(std::memory_order_relaxed)) return false;
  const int got = fcntl(write_fd_, F_SETPIPE_SZ, static_cast<int>(std::min<size_t>(capacity, INT32_MAX)));
  if (got < 0) {
    if (errno == EPERM) {
      size_t refused = refused_pipe_size.load(std::memory_order_relaxed);
      while (capacity < refused && !refused_pipe_size.compare_exchange_weak(refused, capacity)) {
      }
    }
    return false;
  }
  capacity_ = static_cast<size_t>(got);
  return true;
}

size_t SplicePipe::FileBytesThatFit(uint64_t offset) const {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t buffers = capacity_ / page;
  return buffers == 0 ? 0 : buffers * page - static_cast<size_t>(offset % page);
}

SplicePipe Connection::TakePipe(size_t count) {
  SplicePipe pipe;
  {
    std::lock_guard lock(out_mu_);
    if (!free_pipes_.empty()) {
      pipe = std::move(free_pipes_.back());
      free_pipes_.pop_back();
    } else if (pipes_ >= kMaxSplicePipes) {
      return pipe;
    } else {
      ++pipes_;
    }
  }
  // A pipe holds whole pages: `count` bytes from an offset that is not on a page boundary
  // touch one page more. Without the room, the last page's part is copied (SpliceRead's tail).
  const size_t room = count + 2 * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (pipe.valid()) {
    // A smaller pipe than this read wants is grown; if the kernel refuses, the splice fills
    // what it holds and the rest is read into the tail (SpliceRead).
    if (!pipe.Reserve(room)) (void)pipe.Reserve(count);
    return pipe;
  }
  pipe = SplicePipe::Open(room);
  if (!pipe.valid()) pipe = SplicePipe::Open(count);
  if (!pipe.valid()) {
    // The pipe-max-size limit: try the default size, and read the rest into the tail.
    pipe = SplicePipe::Open(0);
  }
  if (!pipe.valid()) {
    std::lock_guard lock(out_mu_);
    --pipes_;
  }
  return pipe;
}

void Connection::ReturnPipeLocked(SplicePipe pipe, bool empty) {
  if (!pipe.valid()) return;
  if (empty) {
    free_pipes_.push_back(std::move(pipe));
  } else {
    --pipes_;  // closed by its destructor: what it still holds is not wanted
  }
}

// ---- writing replies ----

void Connection::ConsumeLocked(size_t n) {
  out_bytes_ -= n;
  while (n > 0) {
    OutFrame& f = out_.front();
    // The contiguous part that a writev sent: the header up to the spliced data, or (no data in
    // a pipe, or past it) the rest of the frame.
    const size_t end = out_offset_ < f.bytes.size() && f.spliced > 0 ? f.bytes.size() : f.size();
    const size_t take = std::min(n, end - out_offset_);
    out_offset_ += take;
    n -= take;
    if (out_offset_ == f.size()) {
      ReturnPipeLocked(std::move(f.pipe), true);
      for (std::vector<uint8_t>* b : {&f.bytes, &f.tail}) {
        if (b->capacity() != 0 && b->capacity() <= kSpareReplyCapacity && spare_replies_.size() < kSpareReplies) {
          spare_replies_.push_back(std::move(*b));
        }
      }
      out_.pop_front();
      out_offset_ = 0;
    }
  }
}

// A unix socket's send buffer has a fixed size (net.core.wmem_default, 208 KiB, unless set;
// TCP's grows by itself up to net.ipv4.tcp_wmem's maximum). A reply larger than it goes out in
// rounds: the socket fills, the loop waits until the client has emptied three quarters of it
// (Linux net/unix/af_unix.c, unix_writable: writable again at a quarter full) and sends the
// next part, a wake-up of each side per round; a spliced Rread's pages go in skbs of at most 16
// pages each (fs/splice.c, splice_to_socket), so a 1 MiB reply took five or more rounds. So
// before a large reply is sent, the buffer is grown to hold kRepliesInSendBuffer of it
// (SO_SNDBUF, socket(7): the kernel doubles the value and caps it at net.core.wmem_max). It is a
// limit, not an allocation: the kernel holds at most that much for a client that does not read,
// as TCP's autotuning lets it.
// Two: the client reads one reply while the next is queued behind it (unix_stream_sendmsg's
// "Keep two messages in the pipe so it schedules better"). Measured on unix sockets at msize
// 128K-1M, depth 1 and 4: one reply's worth was short at 128K depth 4, four no better than two.
constexpr size_t kRepliesInSendBuffer = 2;
// Smaller replies are not worth a system call: any send buffer holds several of them.
constexpr size_t kMinFittedReply = 64 * 1024;

void Connection::FitSendBufferLocked(size_t size) {
  if (size <= send_buffer_fits_ || size < kMinFittedReply) return;
  int value = 0;
  socklen_t len = sizeof value;
  if (send_buffer_fits_ == 0) {
    // The first large reply: only a unix socket's buffer is grown.
    if (!splice_to_peer_ || getsockopt(wfd_, SOL_SOCKET, SO_DOMAIN, &value, &len) != 0 || value != AF_UNIX ||
        getsockopt(wfd_, SOL_SOCKET, SO_SNDBUF, &value, &len) != 0) {
      send_buffer_fits_ = SIZE_MAX;
      return;
    }
    send_buffer_fits_ = static_cast<size_t>(value) / 2 / kRepliesInSendBuffer;
    if (size <= send_buffer_fits_) return;
  }
  const size_t want = std::min<size_t>(size * kRepliesInSendBuffer, INT_MAX / 2);
  value = static_cast<int>(want);
  len = sizeof value;
  if (setsockopt(wfd_, SOL_SOCKET, SO_SNDBUF, &value, sizeof value) != 0 ||
      getsockopt(wfd_, SOL_SOCKET, SO_SNDBUF, &value, &len) != 0 || static_cast<size_t>(value) / 2 < want) {
    // Capped (net.core.wmem_max): asking again for each reply would not get more.
    send_buffer_fits_ = SIZE_MAX;
    return;
  }
  send_buffer_fits_ = size;
}

Connection::SpliceOut Connection::SpliceFrontLocked() {
  OutFrame& f = out_.front();
  const size_t left = f.bytes.size() + f.spliced - out_offset_;
  const unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (f.tail.empty() ? 0u : SPLICE_F_MORE);
  const ssize_t w = splice(f.pipe.read_fd(), nullptr, wfd_, nullptr, left, flags);
  if (w < 0) {
    if (errno == EINTR) return SpliceOut::kProgress;
    return errno == EAGAIN || errno == EWOULDBLOCK ? SpliceOut::kWouldBlock : SpliceOut::kFailed;
  }
  if (w == 0) return SpliceOut::kFailed;
  ConsumeLocked(static_cast<size_t>(w));
  return SpliceOut::kProgress;
}

bool Connection::WriteSome() {
  std::unique_lock lock(out_mu_);
  while (!out_.empty()) {
    {
      const OutFrame& f = out_.front();
      if (out_offset_ == 0) FitSendBufferLocked(f.size());
      if (f.spliced > 0 && out_offset_ >= f.bytes.size() && out_offset_ < f.bytes.size() + f.spliced) {
        const SpliceOut r = SpliceFrontLocked();
        if (r == SpliceOut::kProgress) continue;
        return r == SpliceOut::kWouldBlock;
      }
    }
    // The contiguous bytes from the front on, up to (and including the header of) the first
    // frame whose data waits in a pipe.
    iovec iov[64];
    int count = 0;
    bool before_splice = false;
    size_t offset = out_offset_;
    for (size_t i = 0; i < out_.size() && count < 63; ++i) {
      const OutFrame& f = out_[i];
      if (offset < f.bytes.size()) {
        iov[count++] = {const_cast<uint8_t*>(f.bytes.data()) + offset, f.bytes.size() - offset};
      }
      const size_t data_end = f.bytes.size() + f.spliced;
      if (f.spliced > 0 && offset < data_end) {
        before_splice = true;
        break;
      }
      const size_t tail_from = std::max(offset, data_end) - data_end;
      if (tail_from < f.tail.size()) {
        iov[count++] = {const_cast<uint8_t*>(f.tail.data()) + tail_from, f.tail.size() - tail_from};
      }
      offset = 0;
    }
    ssize_t w;
    if (before_splice) {
      // The Rread header goes out with the data that follows it, not in a segment of its own.
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      w = sendmsg(wfd_, &msg, MSG_MORE | MSG_NOSIGNAL);
    } else {
      w = writev(wfd_, iov, count);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    ConsumeLocked(static_cast<size_t>(w));
  }
  return true;
}

void Connection::Trace(const char* dir, std::span<const uint8_t> bytes, const WireContext& wire) {
  if (!s_.options.trace) return;
  std::string line = BytesToText(bytes, wire);
  std::fprintf(stderr, "p9xd: %s %s %s\n", peer_.c_str(), dir, line.c_str());
}

void Connection::QueueLocked(OutFrame frame) {
  if (s_.options.trace) {
    if (frame.spliced > 0 || !frame.tail.empty()) {
      std::fprintf(stderr, "p9xd: %s -> Rread tag %u count %zu (spliced)\n", peer_.c_str(),
                   static_cast<unsigned>(frame.bytes[5] | frame.bytes[6] << 8), frame.spliced + frame.tail.size());
    } else {
      Trace("->", frame.bytes, trace_wire_);
    }
  }
  out_bytes_ += frame.size();
  out_.push_back(std::move(frame));
}

void Connection::CompleteLocked(uint16_t tag, uint64_t generation, OutFrame* frame) {
  // A Tversion aborted this request. The generation can move on (on the connection thread) just
  // after this check; the reply then still goes out before the Rversion, which is queued under
  // out_mu_ after the move, as for a request that completed before the Tversion arrived.
  if (generation != fids_.generation()) {
    ReturnPipeLocked(std::move(frame->pipe), frame->spliced == 0);
    return;
  }
  QueueLocked(std::move(*frame));
  if (!in_flight_.Remove(tag)) return;
  uint16_t flush_tag;
  while (in_flight_.TakeWaiter(tag, &flush_tag)) {
    OutFrame rflush{std::vector<uint8_t>(kHeaderSize)};
    (void)Encode(flush_tag, Rflush{}, WireContext{}, rflush.bytes);
    CompleteLocked(flush_tag, generation, &rflush);
  }
}

void Connection::Complete(uint16_t tag, uint64_t generation, OutFrame frame, bool wake, size_t release) {
  {
    std::lock_guard lock(out_mu_);
    reserved_bytes_ -= release;
    CompleteLocked(tag, generation, &frame);
  }
  if (wake) Wake();
}

bool Connection::ProcessLargeFrame() {
  if (large_len_ < large_.size()) return false;
  {
    std::lock_guard lock(out_mu_);
    if (OverBudgetLocked()) {
      frames_left_ = true;
      return false;
    }
  }
  auto next = NextFrame(std::span<const uint8_t>(large_.data(), large_.size()), session_.wire());
  if (!next || next->frame.size() != large_.size()) {
    // NextFrame sized this frame from its first bytes, so it cannot disagree now.
    fatal_ = true;
    return false;
  }
  FrameBytes frame = std::move(large_);
  large_ = FrameBytes();
  large_len_ = 0;
  more_input_ = in_len_ > 0;
  owned_frame_ = &frame;
  Dispatch(std::span<const uint8_t>(frame.data(), frame.size()));
  owned_frame_ = nullptr;
  // Answered here, or the buffer a job had before: keep the larger for the next large frame.
  std::lock_guard lock(out_mu_);
  if (frame.capacity() > spare_large_.capacity()) spare_large_ = std::move(frame);
  return true;
}

void Connection::ProcessFrames() {
  frames_left_ = false;
  if (splicing_ && !ProcessSplicedWrite()) return;
  if (!large_.empty() && !ProcessLargeFrame()) return;
  size_t pos = 0;
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
      if (next->needed > in_.size() && BeginSplicedWrite(p, in_len_ - pos, next->needed)) {
        in_len_ = pos;
      } else if (next->needed > in_.size()) {
        // A frame larger than in_ (bounded by msize): read into a buffer of its own (large_).
        {
          std::lock_guard lock(out_mu_);
          large_ = std::move(spare_large_);
          spare_large_ = FrameBytes();
        }
        large_.resize(next->needed);
        large_len_ = in_len_ - pos;
        std::memcpy(large_.data(), p, large_len_);
        in_len_ = pos;
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
    QueueLocked(OutFrame(std::move(bytes)));
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
        if (in_flight_.Contains(tag)) {
          // flush(5) and intro(5): a tag names one outstanding request. Reusing one in flight
          // makes every later reply ambiguous, so the connection is closed.
          Log(1, s_.options.log_level, "%s: closing: tag %u reused while in flight", peer_.c_str(), tag);
          fatal_ = true;
          return;
        }
        in_flight_.Add(tag);
        generation = fids_.generation();
        alone = in_flight_.size() == 1 && !more_input_;
      }
      if constexpr (std::is_same_v<M, Tflush>) {
        HandleFlush(msg, tag);
        return;
      } else {
        const Request req{tag, session_.wire(), generation, payload_};
        if (Errno e = CheckFidRoles(msg, [&](uint32_t f) { return HasFid(f); }); e != Errno::kOk) {
          Complete(tag, generation, ErrorFrame(tag, e), false);
          return;
        }
        if (M::kMutates && s_.options.read_only) {
          Complete(tag, generation, ErrorFrame(tag, Errno::kEROFS), false);
          return;
        }
        // spec/messages.json runs_on, except on a filesystem that can block indefinitely, which
        // no event loop may wait on (NeedsWorkerForBlockingMount).
        if (!NeedsWorkerForBlockingMount(msg, generation)) {
          InlineAnswer how = InlineAnswer::kHere;
          if constexpr (M::kRunsOnWorker) how = CanAnswerInline(msg, generation, alone);
          if (how != InlineAnswer::kWorker) {
            Request here = req;
            here.no_wait = how == InlineAnswer::kHereWithoutWaiting;
            Reply r = Handle(msg, here);
            // EAGAIN without waiting: the worker does it again, and may wait.
            if (!here.no_wait || r || r.error() != Errno::kEAGAIN) {
              Complete(tag, generation, r ? std::move(*r) : ErrorFrame(tag, r.error()), false);
              return;
            }
          }
        }
        // The job owns a copy of the frame and decodes it again there, so no view outlives the
        // bytes it points into (the read buffer is reused for the next frames). A large frame's
        // own buffer is swapped into the job, never copied; a small one is copied into the
        // buffer the job kept from its last request.
        WorkerJob* job = TakeJob();
        if (owned_frame_ != nullptr) {
          std::swap(job->frame, *owned_frame_);
        } else {
          job->frame.assign(frame.begin(), frame.end());
        }
        job->req = req;
        job->handle = &Connection::RunJob<M>;
        job->reserve = job->frame.size() + kHeaderSize + 4;
        if (payload_ != nullptr) {
          job->payload = std::move(*payload_);
          *payload_ = SplicedPayload();
          job->req.payload = &job->payload;
          job->reserve += job->payload.size;
        }
        if constexpr (M::kReservesCount) {
          job->reserve += std::min(msg.count, req.wire.msize - kRreadHeaderSize);
        }
        {
          std::lock_guard lock(out_mu_);
          reserved_bytes_ += job->reserve;
        }
        s_.pool->Post({&Connection::RunWorkerJob, job});
      }
    }
  }
}

Connection::WorkerJob* Connection::TakeJob() {
  std::unique_ptr<WorkerJob> job;
  {
    std::lock_guard lock(out_mu_);
    if (!free_jobs_.empty()) {
      job = std::move(free_jobs_.back());
      free_jobs_.pop_back();
    }
  }
  if (!job) job = std::make_unique<WorkerJob>();
  job->connection = this;
  job->keep_alive = shared_from_this();
  return job.release();
}

template <class M>
void Connection::RunJob(WorkerJob& job) {
  Connection& self = *job.connection;
  M msg{};
  (void)DecodeInto(std::span<const uint8_t>(job.frame.data(), job.frame.size()), job.req.wire, &msg);
  Reply r = self.Handle(msg, job.req);
  self.Complete(job.req.tag, job.req.generation, r ? std::move(*r) : ErrorFrame(job.req.tag, r.error()), true,
                job.reserve);
}

void Connection::RunWorkerJob(void* arg) {
  std::unique_ptr<WorkerJob> job(static_cast<WorkerJob*>(arg));
  job->handle(*job);
  // The connection may end with this reference: it is dropped after the job is back in the
  // free list (or freed), never while another thread could take the job.
  std::shared_ptr<Connection> self = std::move(job->keep_alive);
  std::lock_guard lock(self->out_mu_);
  self->ReturnPipeLocked(std::move(job->payload.pipe), job->payload.in_pipe == 0);
  job->payload = SplicedPayload();
  if (job->frame.capacity() > kInitialReadBuffer) {
    // A large frame's buffer goes back to the large-frame reading; a job keeps only a small one.
    if (job->frame.capacity() > self->spare_large_.capacity()) std::swap(self->spare_large_, job->frame);
    job->frame = FrameBytes();
  }
  if (self->free_jobs_.size() < kKeptJobs) self->free_jobs_.push_back(std::move(job));
}

template <class M>
Connection::InlineAnswer Connection::CanAnswerInline(const M& msg, uint64_t generation, bool alone) {
  if constexpr (std::is_same_v<M, Tread> || std::is_same_v<M, Twrite>) {
    FidRef f = GetFid(msg.fid, generation);
    if (!f) return InlineAnswer::kHere;  // answered EBADF at once
    std::lock_guard lock(f->mu);
    if (f->kind != Fid::Kind::kNode)
      return alone ? InlineAnswer::kHere : InlineAnswer::kWorker;  // an xattr fid's value is in memory
    if (!f->node || f->node->type() != S_IFREG) return InlineAnswer::kWorker;
    // Pipelined requests on a file whose data is in memory never wait on storage: answering
    // them here, one after the other, costs no thread hand-off (a futex and an eventfd each way
    // per request, bench/PROFILE.md P2), and a Tflush behind them still finds them answered.
    if (alone || (f->open && f->open->InMemory())) return InlineAnswer::kHere;
    // On a filesystem with storage behind it they are tried here without waiting (RWF_NOWAIT);
    // what would wait goes to a worker. Not a spliced payload: splice(2) into a file cannot be
    // asked not to wait.
    if (!f->open || (std::is_same_v<M, Twrite> && payload_ != nullptr)) return InlineAnswer::kWorker;
    return InlineAnswer::kHereWithoutWaiting;
  } else {
    return alone ? InlineAnswer::kHere : InlineAnswer::kWorker;
  }
}

template <class M>
bool Connection::NeedsWorkerForBlockingMount(const M& msg, uint64_t generation) {
  const BlockingMounts* blocking = s_.blocking_mounts.get();
  // An export with no such filesystem (tmpfs, ext4, a MemFs): one atomic load, nothing more.
  if (blocking == nullptr || !blocking->AnyInExport()) return false;
  if constexpr (std::is_same_v<M, Tattach>) {
    // The attach walks aname from the root (handlers_session.cc), as a Twalk does.
    const std::string_view aname = msg.aname;
    const bool root = aname.find_first_not_of('/') == std::string_view::npos || aname == s_.options.export_path;
    if (!root) return true;
    return blocking->Blocks(static_cast<uint64_t>(s_.fs->root()->initial_stat().st_dev));
  } else {
    if constexpr (std::is_same_v<M, Twalk>) {
      // Where a walk ends is known only once it is made: a name may be a mount point of a
      // filesystem that blocks, or ".." followed by one, and the stat of a mount point's root
      // is a request to that filesystem. Knowing beforehand would take the (st_dev, st_ino) of
      // every directory above every such mount, kept current as directories move. So on an
      // export that holds one, every walk of a name goes to the workers: a hand-off per walk
      // there, and none on every other export. "Bad input gets a clear error and the server
      // keeps serving everyone else": a walk into a dead mount then holds one worker, not a
      // loop and every connection on it.
      if (msg.wnames.count > 0) return true;
    }
    return AnyFidOnBlockingMount(msg, [&](uint32_t id) {
      FidRef f = GetFid(id, generation);
      if (!f) return false;  // answered EBADF by its handler
      NodeRef node = f->Node();
      return node != nullptr && blocking->Blocks(static_cast<uint64_t>(node->initial_stat().st_dev));
    });
  }
}

void Connection::DropFids(FidTable::Fids fids) {
  const BlockingMounts* blocking = s_.blocking_mounts.get();
  if (fids.empty() || blocking == nullptr || !blocking->AnyInExport() || s_.stopping.load()) return;
  // A fid's open file on a filesystem that can block may be closed by this drop: on a worker.
  auto* ended = new FidTable::Fids(std::move(fids));
  s_.pool->Post({[](void* p) { delete static_cast<FidTable::Fids*>(p); }, ended});
}

void Connection::HandleVersion(const Tversion& m, uint16_t tag) {
  // version(5): "A successful version request initializes the connection. All outstanding I/O
  // on the connection is aborted; all active fids are freed." p9x applies it to every Tversion.
  negotiation::TversionAnswer answer = negotiation::AnswerTversion(s_.options.policy, m.msize, m.version);
  session_.OnTversion(answer);
  // From here on, the old session's requests find no fid and queue no reply.
  DropFids(fids_.NewSession());
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
  if (m.oldtag != tag && in_flight_.Contains(m.oldtag)) {
    in_flight_.AddWaiter(m.oldtag, tag);
    return;
  }
  OutFrame rflush{std::vector<uint8_t>(kHeaderSize)};
  (void)Encode(tag, Rflush{}, WireContext{}, rflush.bytes);
  CompleteLocked(tag, fids_.generation(), &rflush);
}

}  // namespace p9x::server
