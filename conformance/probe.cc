// SPDX-License-Identifier: MIT
// The probe (probe.h): one connection to the server under test, frame by frame, with the
// invariants every reply must keep (tags, flush order, sizes) checked as frames arrive.
#include "conformance/probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "codec/text.h"

namespace p9x::conformance {
namespace {

// A frame larger than this is not read at all: the connection is dropped (a size field this
// large is a broken server, and reading it would only exhaust memory).
constexpr uint32_t kHardFrameCap = 64u << 20;

// Frames kept while awaiting another tag. A server that sends more replies than a case has
// requests in flight is flooding the connection; past this many, the probe stops reading.
constexpr size_t kMaxStashedFrames = 4096;

std::string TypeName(uint8_t type) {
  if (type == kRerrorType) return "Rerror(107)";
  const MsgInfo* info = FindMsgInfo(type);
  return info ? std::string(info->name) : "type " + std::to_string(type);
}

std::string Seconds(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + "s";
  return std::to_string(ms.count()) + "ms";
}

uint32_t Le32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

const std::string& XqidVersion() {
  static const std::string* const version =
      new std::string(negotiation::FormatVersion(negotiation::FeatureSet().With(negotiation::Feature::kXqid)));
  return *version;
}

std::string ReplyBase::Describe() const {
  switch (status) {
    case ReplyStatus::kOk:
      return TypeName(type);
    case ReplyStatus::kLerror: {
      std::string name(ErrnoName(error));
      if (name.empty()) name = "errno";
      return (type == kRerrorType ? "Rerror(107) " : "Rlerror ") + name + " (" +
             std::to_string(static_cast<uint32_t>(error)) + ")";
    }
    case ReplyStatus::kClosed:
    case ReplyStatus::kTimeout:
    case ReplyStatus::kBadReply:
    case ReplyStatus::kNotSent:
      return detail;
  }
  return detail;
}

Probe::Probe(CaseLog& log, int id, Transport transport, std::chrono::milliseconds timeout)
    : log_(log), id_(id), transport_(std::move(transport)), timeout_(timeout) {
  closed_ = !Connected(transport_);
}

uint16_t Probe::NextTag() {
  // Skip NOTAG and tags still in flight (a case may hold many).
  for (int i = 0; i < 0x10000; ++i) {
    const uint16_t tag = next_tag_++;
    if (next_tag_ == kNoTag) next_tag_ = 0;
    if (tag != kNoTag && !pending_.contains(tag)) return tag;
  }
  return 0;
}

bool Probe::SendEncoded(std::span<const uint8_t> bytes, uint16_t tag, const Pending& pending) {
  if (log_.stopped() || closed_) return false;
  if (pending_.contains(tag)) log_.Note(id_, "tag " + std::to_string(tag) + " reused while in flight");
  {
    WireContext print_ctx = ctx_;
    print_ctx.msize = std::max<uint32_t>(print_ctx.msize, static_cast<uint32_t>(bytes.size()));
    log_.Frame(id_, true, bytes, print_ctx);
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = send(transport_.fd(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOTSOCK) {
      const ssize_t w = write(transport_.fd(), bytes.data() + done, bytes.size() - done);
      if (w > 0) {
        done += static_cast<size_t>(w);
        continue;
      }
    }
    if (n <= 0) {
      log_.Note(id_, std::string("send failed: ") + std::strerror(errno) + " (connection closed)");
      closed_ = true;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  pending_[tag] = pending;
  flushed_.erase(tag);
  return true;
}

bool Probe::SendBytes(std::span<const uint8_t> bytes) {
  Pending pending;
  pending.malformed = true;
  uint16_t tag = kNoTag;
  if (bytes.size() >= kHeaderSize) {
    pending.type = bytes[4];
    tag = static_cast<uint16_t>(bytes[5] | (bytes[6] << 8));
    if (pending.type == static_cast<uint8_t>(MsgType::kTversion)) pending.msize_bound = kMaxMsize;
  }
  malformed_sent_ = true;
  if (log_.stopped() || closed_) return false;
  log_.FrameText(id_, true, bytes, "(raw) " + BytesToText(bytes, ctx_));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = send(transport_.fd(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log_.Note(id_, std::string("send failed: ") + std::strerror(errno));
      closed_ = true;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (bytes.size() >= kHeaderSize) pending_[tag] = pending;
  return true;
}

// The probe reads replies itself rather than through client::Connection or the codec's
// NextFrame: the judge must see exactly what the server sent, byte for byte and in order, with no
// client logic in between that could mend, reorder or drop a reply (the client's reader routes
// by tag and closes on a frame over msize). So it reads the 4-byte size, records a refused size
// as the server's failure (a frame over msize is still read, up to kHardFrameCap, so that the
// case can say what came), and then reads exactly that frame, nothing ahead of it.
bool Probe::ReadExact(uint8_t* out, size_t n, std::chrono::steady_clock::time_point deadline,
                      RawFrame* failure) {
  size_t done = 0;
  while (done < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure->status = ReplyStatus::kTimeout;
      failure->detail = "no reply within " + Seconds(timeout_);
      return false;
    }
    pollfd pfd{transport_.fd(), POLLIN, 0};
    const int rc = poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) continue;  // deadline check above reports the timeout
    const ssize_t got = read(transport_.fd(), out + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      failure->status = ReplyStatus::kClosed;
      failure->detail = got == 0 ? "connection closed by the server"
                                 : std::string("connection reset: ") + std::strerror(errno);
      if (done > 0) failure->detail += " (mid-frame, after " + std::to_string(done) + " bytes)";
      closed_ = true;
      return false;
    }
    done += static_cast<size_t>(got);
  }
  return true;
}

WireContext Probe::DecodeContext(size_t frame_size) const {
  WireContext ctx = ctx_;
  ctx.msize = std::max<uint32_t>(ctx.msize, static_cast<uint32_t>(frame_size));
  return ctx;
}

std::optional<RawFrame> Probe::StashOverflow() {
  if (stash_.size() <= kMaxStashedFrames) return std::nullopt;
  log_.Fail("invariant: the server sent more than " + std::to_string(kMaxStashedFrames) +
            " frames that answer no awaited request; intro(5): each reply answers one request");
  stash_.clear();
  transport_.Close();
  closed_ = true;
  RawFrame frame;
  frame.status = ReplyStatus::kClosed;
  frame.detail = "connection dropped: flooded with frames that answer no awaited request";
  return frame;
}

RawFrame Probe::ReadFrame(std::optional<std::chrono::steady_clock::time_point> until) {
  RawFrame frame;
  if (closed_) {
    frame.status = ReplyStatus::kClosed;
    frame.detail = "connection closed by the server";
    return frame;
  }
  if (log_.stopped() && log_.failed() && pending_.empty()) {
    frame.detail = "not received: the case had already ended";
    return frame;
  }
  const auto deadline = until.value_or(std::chrono::steady_clock::now() + timeout_);
  uint8_t header[kHeaderSize];
  if (!ReadExact(header, 4, deadline, &frame)) {
    log_.Note(id_, frame.detail);
    return frame;
  }
  const uint32_t size = Le32(header);
  if (size < kHeaderSize || size > kHardFrameCap) {
    log_.FrameText(id_, false, std::span<const uint8_t>(header, 4),
                   "<frame header with size " + std::to_string(size) + ">");
    log_.Fail("invariant: the server sent a frame with size field " + std::to_string(size) +
              (size < kHeaderSize ? " (below the 7-byte header)" : " (over 64 MiB)"));
    transport_.Close();
    closed_ = true;
    frame.status = ReplyStatus::kBadReply;
    frame.detail = "unreadable frame size " + std::to_string(size);
    return frame;
  }
  frame.bytes.resize(size);
  std::memcpy(frame.bytes.data(), header, 4);
  if (!ReadExact(frame.bytes.data() + 4, size - 4, deadline, &frame)) {
    log_.Note(id_, frame.detail);
    frame.bytes.clear();
    return frame;
  }
  frame.status = ReplyStatus::kOk;
  frame.type = frame.bytes[4];
  frame.tag = static_cast<uint16_t>(frame.bytes[5] | (frame.bytes[6] << 8));
  if (frame.type == kRerrorType && size == kHeaderSize + 4) {
    const uint32_t ecode = Le32(&frame.bytes[7]);
    log_.FrameText(id_, false, frame.bytes,
                   "Rerror(107){tag=" + std::to_string(frame.tag) + " ecode=" + std::to_string(ecode) +
                       "} (9P2000 error type with an errno body)");
  } else {
    log_.Frame(id_, false, frame.bytes, DecodeContext(size));
  }
  CheckInvariants(frame);
  return frame;
}

void Probe::CheckInvariants(const RawFrame& frame) {
  const std::string what = TypeName(frame.type) + " (tag " + std::to_string(frame.tag) + ")";
  auto it = pending_.find(frame.tag);
  if (it == pending_.end()) {
    if (flushed_.contains(frame.tag)) {
      log_.Fail("invariant: " + what + " arrived after the Rflush for its tag; flush(5): the reply "
                "to the flushed request, if any, must be received before the Rflush");
    } else if (malformed_sent_ &&
               (frame.type == static_cast<uint8_t>(MsgType::kRlerror) || frame.type == kRerrorType)) {
      // The server may not have been able to read the malformed frame's tag.
      log_.Note(id_, TypeName(frame.type) + " answering a malformed frame (tag " + std::to_string(frame.tag) + ")");
    } else {
      log_.Fail("invariant: " + what + " answers no request in flight; intro(5): a reply carries "
                "the tag of its request");
    }
  } else {
    const Pending& pending = it->second;
    // A reply to Tversion is bounded by the offered msize, unless the offer was too small for
    // any reply (an Rlerror refusing msize 0 is 11 bytes).
    const bool to_version = pending.type == static_cast<uint8_t>(MsgType::kTversion);
    const uint32_t bound = to_version ? pending.msize_bound : ctx_.msize;
    const bool check = !to_version || pending.msize_bound >= kMinMsize;
    if (check && frame.bytes.size() > bound) {
      log_.Fail("invariant: " + what + " is " + std::to_string(frame.bytes.size()) +
                " bytes, over the msize of " + std::to_string(bound) +
                "; version(5): msize is the maximum length of any message");
    }
    const bool right_type = frame.type == pending.type + 1 ||
                            frame.type == static_cast<uint8_t>(MsgType::kRlerror) ||
                            frame.type == kRerrorType;
    if (!right_type && !pending.malformed) {
      log_.Fail("invariant: " + TypeName(pending.type) + " answered by " + what +
                "; the reply to T-message n is n+1 or Rlerror");
    }
    if (pending.is_flush && frame.type == static_cast<uint8_t>(MsgType::kRflush)) {
      if (pending_.erase(pending.oldtag) > 0) flushed_.insert(pending.oldtag);
    }
    pending_.erase(frame.tag);
  }
  if (frame.type == kRerrorType) {
    log_.Nonconformance("errors are sent as type 107 (Rerror) with an errno body; 9P2000.L errors are Rlerror (7)");
  }
}

RawFrame Probe::Receive() {
  if (!stash_.empty()) {
    RawFrame f = std::move(stash_.front());
    stash_.pop_front();
    return f;
  }
  return ReadFrame();
}

Reply<Rversion> Probe::Version(uint32_t msize, std::string_view version) {
  auto r = Call(Tversion{msize, version});
  if (r.ok()) {
    if (r.msg.msize > msize) {
      log_.Fail("Rversion msize " + std::to_string(r.msg.msize) + " is larger than the offered " +
                std::to_string(msize) + "; version(5): the server's msize must be <= the client's");
    }
    ctx_.msize = std::min(r.msg.msize, msize);
    if (auto parsed = negotiation::ParseVersion(r.msg.version)) ctx_.dialect = negotiation::DialectFor(parsed->features);
    // version(5): a Tversion aborts all outstanding I/O and clunks all fids.
    flushed_.clear();
  }
  return r;
}

Reply<Rattach> Probe::Attach(uint32_t fid, const SessionParams& params) {
  return Call(Tattach{fid, kNoFid, params.uname, params.aname, params.n_uname});
}

bool Probe::Start(const SessionParams& params) {
  auto v = Version(params.msize, params.version);
  if (!Must(v, "Tversion \"" + params.version + "\"")) return false;
  if (v.msg.version != params.version) {
    log_.Fail("Tversion \"" + params.version + "\" answered with \"" + std::string(v.msg.version) +
              "\", not the version the run negotiated");
    return false;
  }
  root_fid_ = NextFid();
  auto a = Attach(root_fid_, params);
  if (!Must(a, "Tattach")) return false;
  root_qid_ = a.msg.qid;
  return true;
}

bool Probe::Must(const ReplyBase& r, std::string_view what) {
  if (r.ok()) return true;
  if (!log_.stopped()) log_.Fail(std::string(what) + ": " + r.Describe());
  return false;
}

uint32_t Probe::Walk(uint32_t fid, const std::vector<std::string>& names, Qid* last) {
  const uint32_t newfid = NextFid();
  Twalk w{fid, newfid, {}};
  std::string path;
  for (const std::string& n : names) {
    if (w.wnames.count < kMaxWalkElements) w.wnames.names[w.wnames.count++] = n;
    path += (path.empty() ? "" : "/") + n;
  }
  auto r = Call(w);
  if (!Must(r, "Twalk " + (path.empty() ? std::string("(no names)") : path))) return newfid;
  if (r.msg.wqids.count != names.size()) {
    log_.Fail("Twalk " + path + ": walked " + std::to_string(r.msg.wqids.count) + " of " +
              std::to_string(names.size()) + " names");
    return newfid;
  }
  if (last != nullptr && !names.empty()) *last = r.msg.wqids.qids[r.msg.wqids.count - 1];
  return newfid;
}

Rgetattr Probe::Getattr(uint32_t fid, uint64_t mask) {
  auto r = Call(Tgetattr{fid, mask});
  Must(r, "Tgetattr");
  return r.msg;
}

Rlopen Probe::Open(uint32_t fid, uint32_t flags) {
  auto r = Call(Tlopen{fid, flags});
  Must(r, "Tlopen");
  return r.msg;
}

uint32_t Probe::OpenPath(uint32_t dirfid, const std::vector<std::string>& names, uint32_t flags,
                         Rlopen* opened) {
  const uint32_t fid = Walk(dirfid, names);
  const Rlopen o = Open(fid, flags);
  if (opened != nullptr) *opened = o;
  return fid;
}

uint32_t Probe::CreateOpen(uint32_t dirfid, std::string_view name, uint32_t flags, uint32_t mode,
                           Rlcreate* created) {
  const uint32_t fid = Walk(dirfid, {});
  auto r = Call(Tlcreate{fid, name, flags, mode, 0});
  Must(r, "Tlcreate " + std::string(name));
  if (created != nullptr) *created = r.msg;
  return fid;
}

Qid Probe::MakeFile(uint32_t dirfid, std::string_view name, std::string_view data, uint32_t mode) {
  Rlcreate created;
  const uint32_t fid = CreateOpen(dirfid, name, kOpenRdwr | kOpenCreate, mode, &created);
  if (!data.empty()) WriteAll(fid, 0, data);
  Clunk(fid);
  return created.qid;
}

Qid Probe::MakeDir(uint32_t dirfid, std::string_view name, uint32_t mode) {
  auto r = Call(Tmkdir{dirfid, name, mode, 0});
  Must(r, "Tmkdir " + std::string(name));
  return r.msg.qid;
}

std::string Probe::ReadAll(uint32_t open_fid, uint64_t offset) {
  std::string out;
  while (!log_.stopped()) {
    auto r = Call(Tread{open_fid, offset + out.size(), io_size()});
    if (!Must(r, "Tread")) break;
    if (r.msg.data.bytes.empty()) break;
    out.append(reinterpret_cast<const char*>(r.msg.data.bytes.data()), r.msg.data.bytes.size());
    if (out.size() > (64u << 20)) {
      log_.Fail("Tread: more than 64 MiB without end of file");
      break;
    }
  }
  return out;
}

bool Probe::WriteAll(uint32_t open_fid, uint64_t offset, std::string_view data) {
  size_t done = 0;
  while (done < data.size() && !log_.stopped()) {
    const size_t chunk = std::min<size_t>(data.size() - done, io_size());
    Twrite w{open_fid, offset + done,
             Bytes{std::span(reinterpret_cast<const uint8_t*>(data.data()) + done, chunk)}};
    auto r = Call(w);
    if (!Must(r, "Twrite")) return false;
    if (r.msg.count == 0 || r.msg.count > chunk) {
      log_.Fail("Twrite of " + std::to_string(chunk) + " bytes answered count=" + std::to_string(r.msg.count));
      return false;
    }
    done += r.msg.count;
  }
  return !log_.stopped();
}

std::vector<Entry> Probe::Readdir(uint32_t open_fid, uint64_t offset, uint32_t count, uint32_t* bytes) {
  std::vector<Entry> entries;
  auto r = Call(Treaddir{open_fid, offset, count});
  if (!Must(r, "Treaddir offset=" + std::to_string(offset))) return entries;
  if (bytes != nullptr) *bytes = static_cast<uint32_t>(r.msg.data.bytes.size());
  DirentReader reader(r.msg.data.bytes, ctx_.dialect);
  Dirent d;
  while (reader.Next(&d)) entries.push_back({d.qid, d.offset, d.type, std::string(d.name)});
  if (!reader.ok()) {
    log_.Fail("Rreaddir: malformed directory entry at byte " + std::to_string(reader.error_offset()));
  }
  return entries;
}

std::vector<Entry> Probe::ReaddirAll(uint32_t open_fid, uint32_t count) {
  if (count == 0) count = io_size();
  std::vector<Entry> all;
  uint64_t offset = 0;
  for (int round = 0; round < 100000 && !log_.stopped(); ++round) {
    std::vector<Entry> batch = Readdir(open_fid, offset, count);
    if (batch.empty()) break;
    offset = batch.back().offset;
    for (Entry& e : batch) all.push_back(std::move(e));
    if (all.size() > 200000) {
      log_.Fail("Treaddir: more than 200000 entries; offsets do not advance?");
      break;
    }
  }
  return all;
}

std::vector<std::string> Probe::ListNamesQuietly(uint32_t open_fid, int max_rounds) {
  std::vector<std::string> names;
  uint64_t offset = 0;
  for (int round = 0; round < max_rounds; ++round) {
    auto r = Call(Treaddir{open_fid, offset, io_size()});
    if (!r.ok() || r.msg.data.bytes.empty()) break;
    DirentReader reader(r.msg.data.bytes, dialect());
    Dirent d;
    bool any = false;
    while (reader.Next(&d)) {
      any = true;
      offset = d.offset;
      if (d.name != "." && d.name != "..") names.emplace_back(d.name);
    }
    if (!any) break;
  }
  return names;
}

void Probe::Clunk(uint32_t fid) {
  auto r = Call(Tclunk{fid});
  Must(r, "Tclunk");
}

void Probe::ShutdownWrite() {
  if (Connected(transport_)) {
    shutdown(transport_.fd(), SHUT_WR);
    log_.Note(id_, "end of stream sent (shutdown SHUT_WR)");
  }
}

void Probe::Close() {
  transport_.Close();
  closed_ = true;
}

}  // namespace p9x::conformance
