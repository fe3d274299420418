// SPDX-License-Identifier: MIT
// Handlers of open files: Tlopen, Tlcreate, Tread, Twrite (including the xattr fids' value),
// Tfsync and Tclunk (which sets an attribute written through Txattrcreate).
#include "server/handlers.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace p9x::server {

Reply Connection::Handle(const Tlopen& m, const Request& req) {
  P9X_FID(f, m.fid);
  // Held for the whole call: of two Tlopens of one fid, only the first may open it.
  std::lock_guard lock(f->mu);
  if (f->open || f->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  auto open = s_.fs->OpenNode(f->node, m.flags);
  if (!open) return Unexpected(open.error());
  auto q = QidOf(f->node, req.wire.dialect);
  if (!q) return Unexpected(q.error());
  f->open = std::move(*open);
  return Make(req, Rlopen{*q, Iounit(req)});
}

Reply Connection::Handle(const Tlcreate& m, const Request& req) {
  P9X_FID(f, m.fid);
  // Held for the whole call: the fid turns into the new open file; no request sees it half way.
  std::lock_guard lock(f->mu);
  if (f->open || f->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
  if (!f->node->is_dir()) return Unexpected(Errno::kENOTDIR);
  P9X_ACT_AS(f);
  // spec/qid-map.md §5.1: a file the client is told was not created is not left behind. Asking
  // with O_EXCL first tells whether this request makes the file; without O_EXCL from the client,
  // an existing file is then opened as Linux's open(O_CREAT) would.
  auto created = s_.fs->Create(f->node, m.name, m.flags | kOpenExcl, m.mode, m.gid);
  const bool made_here = created.has_value();
  if (!created && created.error() == Errno::kEEXIST && (m.flags & kOpenExcl) == 0) {
    created = s_.fs->Create(f->node, m.name, m.flags, m.mode, m.gid);
  }
  if (!created) return Unexpected(created.error());
  auto q = QidOf(created->first, req.wire.dialect);
  if (!q) return UndoCreate(created->first, q.error(), made_here);
  f->node = std::move(created->first);
  f->open = std::move(created->second);
  return Make(req, Rlcreate{*q, Iounit(req)});
}

Reply Connection::Handle(const Tread& m, const Request& req) {
  P9X_FID(f, m.fid);
  // The count is clamped so that the reply fits msize (spec/9p2000.L.md §4).
  const uint32_t count = std::min(m.count, req.wire.msize - kRreadHeaderSize);
  if (f->GetKind() == Fid::Kind::kXattrRead) {
    std::lock_guard lock(f->mu);
    const uint64_t size = f->xattr.size();
    const uint64_t start = std::min<uint64_t>(m.offset, size);
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(count, size - start));
    return Make(req, Rread{Bytes{std::span<const uint8_t>(f->xattr).subspan(start, n)}});
  }
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (req.no_wait && !open->Cached(m.offset, count)) return Unexpected(Errno::kEAGAIN);
  // A regular file's pages go from the page cache to the socket by splice(2), never copied
  // through user space; a short count is cheaper to copy than to splice (three system calls
  // instead of two).
  if (const int source = open->SpliceSource(); source >= 0 && splice_to_peer_ && count >= kMinSplicedRead) {
    OutFrame out;
    auto spliced = SpliceRead(source, m.offset, count, *open, &out);
    if (!spliced) return Unexpected(spliced.error());
    if (*spliced) {
      EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize>(out.bytes.data(), kRreadHeaderSize),
                               MsgType::kRread, req.tag, static_cast<uint32_t>(out.spliced + out.tail.size()));
      return out;
    }
  }
  // Read straight into the reply buffer, after its 11-byte header.
  std::vector<uint8_t> out = ReplyBuffer(kRreadHeaderSize + count);
  auto got = open->Read(std::span<uint8_t>(out).subspan(kRreadHeaderSize), m.offset);
  if (!got) return Unexpected(got.error());
  const size_t n = *got;
  out.resize(kRreadHeaderSize + static_cast<size_t>(n));
  if (out.capacity() - out.size() > kMaxUnusedReplyBytes) out.shrink_to_fit();
  EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize>(out.data(), kRreadHeaderSize), MsgType::kRread, req.tag,
                           static_cast<uint32_t>(n));
  return out;
}

// The count is pinned before the header is encoded: the data is in the pipe (and the tail) when
// the count is known, and the header says exactly that many bytes, so a file that shrinks or grows
// afterwards cannot make the count and the data disagree. A file that shrinks during the splice
// gives a short read, as pread would.
Result<bool> Connection::SpliceRead(int source, uint64_t offset, uint32_t count, OpenFile& open, OutFrame* out) {
  SplicePipe pipe = TakePipe(count);
  if (!pipe.valid()) return false;
  loff_t at = static_cast<loff_t>(offset);
  // What the pipe cannot hold (a read across one page more than the pipe has buffers for) is
  // copied into the tail below, without a splice that would only find the pipe full.
  const size_t fits = std::min<size_t>(count, pipe.FileBytesThatFit(offset));
  size_t got = 0;
  bool end_of_file = false;
  while (got < fits) {
    const ssize_t n = splice(source, &at, pipe.write_fd(), nullptr, fits - got, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      end_of_file = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN && got > 0) break;  // the pipe is full: the rest goes in the tail
    const int error = errno;
    ReturnPipe(std::move(pipe), got == 0);
    // A filesystem without splice_read: the caller reads by copy.
    if (got == 0 && (error == EINVAL || error == EAGAIN)) return false;
    return Unexpected(WireErrnoFromHost(error));
  }
  if (!end_of_file && got < count) {
    // A pipe holds whole pages: a read that does not start on a page boundary may not fit, and a
    // pipe the kernel would not grow holds less. The rest (usually under two pages) is copied.
    out->tail = ReplyBuffer(count - got);
    auto rest = open.Read(out->tail, static_cast<uint64_t>(at));
    if (!rest) {
      ReturnPipe(std::move(pipe), false);
      return Unexpected(rest.error());
    }
    out->tail.resize(*rest);
  }
  out->bytes = ReplyBuffer(kRreadHeaderSize);
  out->spliced = got;
  if (got == 0) {
    ReturnPipe(std::move(pipe), true);
  } else {
    out->pipe = std::move(pipe);
  }
  return true;
}

Reply Connection::Handle(const Twrite& m, const Request& req) {
  P9X_FID(f, m.fid);
  // Written into the file while it arrived (Connection::StreamSplicedPayload): the count, or the
  // error when nothing went in, as pwrite(2) would answer.
  if (req.payload != nullptr && req.payload->streamed) {
    if (req.payload->written == 0 && req.payload->error != Errno::kOk) return Unexpected(req.payload->error);
    return Make(req, Rwrite{req.payload->written});
  }
  // The data: the message's, or a spliced payload's (Request::payload), which goes pipe -> file
  // when the file takes it and is read out of the pipe otherwise.
  std::span<const uint8_t> data = m.data.bytes;
  FrameBytes drained;
  SplicedPayload* const payload = req.payload;
  auto drain = [&]() -> Result<void> {
    if (auto r = DrainPayload(*payload, &drained); !r) return r;
    data = std::span<const uint8_t>(drained.data(), drained.size());
    return {};
  };
  if (f->GetKind() == Fid::Kind::kXattrWrite) {
    if (payload != nullptr) {
      if (auto r = drain(); !r) return Unexpected(r.error());
    }
    std::lock_guard lock(f->mu);
    // The value arrives in order; Tclunk sets it (spec/9p2000.L.md Txattrcreate).
    if (m.offset != f->xattr.size() || f->xattr.size() + data.size() > f->xattr_size) {
      return Unexpected(Errno::kEINVAL);
    }
    f->xattr.insert(f->xattr.end(), data.begin(), data.end());
    return Make(req, Rwrite{static_cast<uint32_t>(data.size())});
  }
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (payload != nullptr) {
    if (const int target = open->SpliceTarget(); target >= 0) {
      bool refused = false;
      auto n = SpliceWrite(target, m.offset, *payload, &refused);
      if (!n) return Unexpected(n.error());
      if (!refused) return Make(req, Rwrite{static_cast<uint32_t>(*n)});
    }
    if (auto r = drain(); !r) return Unexpected(r.error());
  }
  auto n = req.no_wait ? open->WriteNoWait(data, m.offset) : open->Write(data, m.offset);
  if (!n) return Unexpected(n.error());
  return Make(req, Rwrite{static_cast<uint32_t>(*n)});
}

// The file's pages are filled from the pipe's (the data's only copy, the one pwrite(2) makes
// too); runs with the fid's user's credentials (the caller's P9X_ACT_AS), so that quotas, the
// file size limit and the clearing of set-user-ID bits apply to that user.
Result<size_t> Connection::SpliceWrite(int target, uint64_t offset, SplicedPayload& payload, bool* refused) {
  loff_t at = static_cast<loff_t>(offset);
  size_t written = 0;
  while (payload.in_pipe > 0) {
    const ssize_t n = splice(payload.pipe.read_fd(), nullptr, target, &at, payload.in_pipe, SPLICE_F_MOVE);
    if (n > 0) {
      written += static_cast<size_t>(n);
      payload.in_pipe -= static_cast<uint32_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // A short write, as pwrite(2) reports one (ENOSPC, EFBIG after some bytes): the count says it.
    if (written > 0) break;
    if (n == 0) break;
    // splice(2): EINVAL "The target filesystem doesn't support splicing" (or an offset it
    // refuses, which the pwrite(2) of the fallback answers for itself).
    if (errno == EINVAL) {
      *refused = true;
      return 0;
    }
    return Unexpected(WireErrnoFromHost(errno));
  }
  return written;
}

Result<void> Connection::DrainPayload(SplicedPayload& payload, FrameBytes* into) {
  into->resize(payload.in_pipe);
  size_t got = 0;
  while (got < into->size()) {
    const ssize_t r = read(payload.pipe.read_fd(), into->data() + got, into->size() - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return Unexpected(Errno::kEIO);  // the pipe holds the whole payload: it cannot run dry
    }
  }
  payload.in_pipe = 0;
  return {};
}

Reply Connection::Handle(const Tclunk& m, const Request& req) {
  // clunk(5): the fid is released whatever the reply.
  FidRef f = TakeFid(m.fid, req.generation);
  if (!f) return Unexpected(Errno::kEBADF);
  // Held for the whole call: a Twrite that found the fid before the Take may still append to the value.
  std::lock_guard lock(f->mu);
  if (f->kind == Fid::Kind::kXattrWrite) {
    P9X_ACT_AS(f);
    if (f->xattr.size() != f->xattr_size) return Unexpected(Errno::kEINVAL);
    // attr_size 0 removes the attribute, whatever the flags: Linux's removexattr sends
    // Txattrcreate{size 0, XATTR_REPLACE}, and QEMU removes on any empty value the same way.
    const bool remove = f->xattr_size == 0;
    if (auto set = s_.fs->SetXattr(f->node, f->xattr_name, f->xattr, f->xattr_flags, remove); !set) {
      return Unexpected(set.error());
    }
  }
  return Make(req, Rclunk{});
}

Reply Connection::Handle(const Tfsync& m, const Request& req) {
  P9X_FID(f, m.fid);
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (auto r = open->Sync(m.datasync != 0); !r) return Unexpected(r.error());
  return Make(req, Rfsync{});
}

}  // namespace p9x::server
