// SPDX-License-Identifier: MIT
#include "bench/p9bench/conn.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

#include "codec/frame.h"
#include "codec/linux_errno.h"
#include "codec/wire.h"

namespace p9bench {

FrameReader::FrameReader(size_t capacity) : buffer_(new uint8_t[capacity]), capacity_(capacity) {}

std::span<const uint8_t> FrameReader::Next() {
  // The capacity is the largest frame this reader can hold, so it plays msize's part.
  const p9x::WireContext limit{p9x::Dialect::kLegacy, static_cast<uint32_t>(std::min<size_t>(capacity_, UINT32_MAX))};
  auto next = p9x::NextFrame(std::span<const uint8_t>(buffer_.get() + start_, end_ - start_), limit);
  if (!next) {
    error_ = true;
    return {};
  }
  start_ += next->frame.size();
  return next->frame;
}

ssize_t FrameReader::Fill(int fd, bool dont_wait) {
  if (start_ == end_) {
    start_ = end_ = 0;
  }
  // How much of the current (partial) frame is still missing, when its size is known.
  size_t frame_size = 0;
  if (end_ - start_ >= 4) frame_size = p9x::internal::LoadLe<uint32_t>(buffer_.get() + start_);
  const size_t carry = end_ - start_;
  if (start_ > 0 && (carry < kSmallCarry || start_ + std::max<size_t>(frame_size, 4) > capacity_)) {
    std::memmove(buffer_.get(), buffer_.get() + start_, carry);
    start_ = 0;
    end_ = carry;
  }
  size_t want = capacity_ - end_;
  if (frame_size > kSmallCarry && start_ + frame_size > end_) want = start_ + frame_size - end_;
  if (want == 0) {
    error_ = true;
    errno = EMSGSIZE;
    return -1;
  }
  const ssize_t n = recv(fd, buffer_.get() + end_, want, dont_wait ? MSG_DONTWAIT : 0);
  if (n > 0) end_ += static_cast<size_t>(n);
  return n;
}

SendQueue::SendQueue(size_t small_capacity)
    : small_(new uint8_t[small_capacity]), small_capacity_(small_capacity) {}

void SendQueue::CommitSmall(size_t n) {
  small_used_ += n;
  // Extend the last iovec when it already ends at the queued part of small_.
  if (iov_count_ > 0 && iov_[iov_count_ - 1].iov_base != nullptr &&
      static_cast<uint8_t*>(iov_[iov_count_ - 1].iov_base) + iov_[iov_count_ - 1].iov_len ==
          small_.get() + small_queued_) {
    iov_[iov_count_ - 1].iov_len += n;
  } else {
    iov_[iov_count_++] = {small_.get() + small_queued_, n};
  }
  small_queued_ = small_used_;
}

void SendQueue::AddExternal(const void* data, size_t n) {
  iov_[iov_count_++] = {const_cast<void*>(data), n};
}

Status SendQueue::Flush(int fd) {
  iovec* iov = iov_.data();
  size_t count = iov_count_;
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = std::min<size_t>(count, IOV_MAX);
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      iov_count_ = small_used_ = small_queued_ = 0;
      return Unexpected(std::string("send: ") + std::strerror(errno));
    }
    // Skip what was written; adjust the first partly written iovec.
    while (count > 0 && static_cast<size_t>(n) >= iov->iov_len) {
      n -= static_cast<ssize_t>(iov->iov_len);
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + n;
      iov->iov_len -= static_cast<size_t>(n);
    }
  }
  iov_count_ = small_used_ = small_queued_ = 0;
  return {};
}

Conn::Conn(int fd, Transport transport, uint32_t max_frame)
    : fd_(fd),
      transport_(transport),
      // Room for one whole largest frame plus the small frames that arrive with it.
      reader_(static_cast<size_t>(std::max<uint32_t>(max_frame, 8192)) + 128 * 1024),
      out_(64 * 1024) {
  ctx_.msize = max_frame;
}

Conn::~Conn() {
  if (fd_ >= 0) close(fd_);
}

Result<std::span<const uint8_t>> Conn::ReadFrame() {
  while (true) {
    if (auto frame = reader_.Next(); !frame.empty()) return frame;
    if (reader_.error()) return Unexpected(std::string("corrupt frame size from peer"));
    const ssize_t n = reader_.Fill(fd_);
    if (n == 0) return Unexpected(std::string("connection closed by peer"));
    if (n < 0 && errno != EINTR) {
      return Unexpected(std::string("recv: ") +
                        (errno == EAGAIN ? "timed out (no reply in 20 s)" : std::strerror(errno)));
    }
  }
}

std::string DescribeUnexpected(std::span<const uint8_t> frame, const p9x::WireContext& ctx) {
  if (p9x::Rlerror error; p9x::DecodeInto(frame, ctx, &error)) {
    const auto e = static_cast<p9x::Errno>(error.ecode);
    return "Rlerror " + std::string(p9x::ErrnoName(e)) + " (" + std::string(p9x::ErrnoText(e)) + ")";
  }
  if (frame.size() < p9x::kHeaderSize) return "short frame";
  const p9x::MsgInfo* info = p9x::FindMsgInfo(frame[4]);
  return "unexpected " + (info ? std::string(info->name) : "type " + std::to_string(frame[4]));
}

Result<uint32_t> OpenSession(Conn& conn, uint32_t msize, std::string_view aname, uint32_t uid) {
  conn.ctx().msize = std::max(msize, p9x::kMinMsize);
  auto version = Call<p9x::Rversion>(conn, p9x::kNoTag,
                                     p9x::Tversion{.msize = msize, .version = p9x::kVersion9P2000L});
  if (!version) return Unexpected(version.error());
  if (version->version != p9x::kVersion9P2000L) {
    return Unexpected("server answered version " + std::string(version->version));
  }
  if (version->msize > msize || version->msize < p9x::kMinMsize) {
    return Unexpected("server chose msize " + std::to_string(version->msize));
  }
  conn.ctx().msize = version->msize;
  auto attach = Call<p9x::Rattach>(conn, 0,
                                   p9x::Tattach{.fid = 0, .afid = p9x::kNoFid, .uname = uid == 0 ? "root" : "",
                                                .aname = aname, .n_uname = uid});
  if (!attach) return Unexpected(attach.error());
  return version->msize;
}

Result<std::unique_ptr<Conn>> Open9P(int fd, Transport transport, uint32_t msize, std::string_view aname,
                                     uint32_t uid) {
  auto conn = std::make_unique<Conn>(fd, transport, msize);
  auto session = OpenSession(*conn, msize, aname, uid);
  if (!session) return Unexpected(session.error());
  return conn;
}

}  // namespace p9bench
