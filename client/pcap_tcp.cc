// SPDX-License-Identifier: MIT
// TCP reassembly and framing for the capture parser: one direction's byte stream in order, cut
// into 9P frames (DirectionStream), and which connections are 9P and which side is the client
// (Parser::Classify, Parser::Reassemble).
#include <algorithm>

#include "client/pcap_internal.h"
#include "codec/frame.h"
#include "codec/messages.h"

namespace p9x::client::pcap::internal {

namespace {

// ---- one direction's reassembly and framing -------------------------------------------------

// A frame header that could start a frame sent in this direction: size in [7, kMaxMsize] and
// a 9P2000.L type of the right kind (T from the client, R from the server).
bool PlausibleHeader(const uint8_t* p, Direction dir) {
  const uint32_t size = Le32(p);
  if (size < kHeaderSize || size > kMaxMsize) return false;
  const MsgInfo* info = FindMsgInfo(p[4]);
  if (info == nullptr) return false;
  return info->is_request == (dir == Direction::kClientToServer);
}

// Resynchronisation accepts a boundary only where a whole frame decodes (in either dialect):
// a plausible header alone is too easy to find inside data.
bool DecodesInSomeDialect(std::span<const uint8_t> frame) {
  return DecodeFrame(frame, WireContext{Dialect::kLegacy, kMaxMsize}).has_value() ||
         DecodeFrame(frame, WireContext{Dialect::kXqid, kMaxMsize}).has_value();
}

}  // namespace

void DirectionStream::OnSegment(const Segment& s) {
  packet_ = s.packet;
  ts_ns_ = s.ts_ns;
  if (s.flags & kTcpSyn) {
    if (!started_) {
      started_ = true;
      in_sync_ = true;
      next_seq_ = s.seq + 1;
    }
    return;  // data on a SYN (TCP Fast Open) is not handled
  }
  const uint64_t length = s.payload.size() + s.missing;
  if (length == 0) return;
  if (!started_) {
    // The capture starts inside this direction's stream.
    started_ = true;
    StartResync();
    next_seq_ = s.seq;
    Note("the capture starts mid-stream (no SYN): looking for a frame boundary");
  }
  const int64_t delta = static_cast<int32_t>(s.seq - next_seq_);
  const int64_t abs = static_cast<int64_t>(next_abs_) + delta;
  if (abs + static_cast<int64_t>(length) <= static_cast<int64_t>(next_abs_)) return;  // retransmission
  Segment seg = s;
  if (abs < 0) {
    // Starts before the first byte this direction knows (a mid-stream capture): keep the rest.
    const uint64_t cut = static_cast<uint64_t>(-abs);
    if (cut >= seg.payload.size()) return;
    seg.payload = seg.payload.subspan(cut);
  }
  const uint64_t key = static_cast<uint64_t>(std::max<int64_t>(abs, 0));
  const uint64_t seg_length = seg.payload.size() + seg.missing;
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    if (it->second.payload.size() + it->second.missing >= seg_length) return;  // duplicate
    pending_bytes_ -= it->second.payload.size();
    pending_.erase(it);
  }
  pending_.emplace(key, seg);
  pending_bytes_ += seg.payload.size();
  Drain(&s);
  while (pending_bytes_ > kMaxOutOfOrderBytes) {
    const uint64_t hole_end = pending_.begin()->first;
    Note("gave up waiting for " + std::to_string(hole_end - next_abs_) + " bytes never captured (" +
         std::to_string(pending_bytes_) + " bytes buffered after them); resynchronising");
    SkipTo(hole_end);
    Drain(nullptr);
  }
}

void DirectionStream::Finish() {
  while (!pending_.empty()) {
    const uint64_t hole_end = pending_.begin()->first;
    if (hole_end > next_abs_) {
      Note(std::to_string(hole_end - next_abs_) + " bytes never captured; resynchronising after them");
      SkipTo(hole_end);
    }
    Drain(nullptr);
  }
  Extract(/*final=*/true);
  const size_t left = buf_.size() - start_;
  if (left > 0) {
    Note(std::to_string(left) + " bytes at the end do not make a whole frame (capture ended)");
  }
}

void DirectionStream::SkipTo(uint64_t abs) {
  const size_t partial = buf_.size() - start_;
  if (partial > 0) {
    Note("dropped " + std::to_string(partial) +
         (in_sync_ ? " bytes of a frame cut by the gap" : " unframed bytes before the gap"));
  }
  buf_.clear();
  start_ = 0;
  next_seq_ += static_cast<uint32_t>(abs - next_abs_);
  next_abs_ = abs;
  StartResync();
}

void DirectionStream::StartResync() {
  in_sync_ = false;
  waiting_.clear();
  scan_ = start_;
}

void DirectionStream::Drain(const Segment* filler) {
  while (!pending_.empty() && pending_.begin()->first <= next_abs_) {
    auto node = pending_.extract(pending_.begin());
    const uint64_t key = node.key();
    const Segment& s = node.mapped();
    const Segment& when = filler != nullptr && filler->packet > s.packet ? *filler : s;
    packet_ = when.packet;
    ts_ns_ = when.ts_ns;
    pending_bytes_ -= s.payload.size();
    const uint64_t end = key + s.payload.size() + s.missing;
    if (end <= next_abs_) continue;  // wholly overlapped
    const uint64_t skip = next_abs_ - key;
    if (skip < s.payload.size()) {
      buf_.insert(buf_.end(), s.payload.begin() + static_cast<ptrdiff_t>(skip), s.payload.end());
      next_seq_ += static_cast<uint32_t>(s.payload.size() - skip);
      next_abs_ += s.payload.size() - skip;
      Extract(false);
    }
    if (next_abs_ < end) {
      // The capture kept only part of this segment (snaplen): the rest is a hole.
      Note("a segment was truncated by the capture (snaplen); " + std::to_string(end - next_abs_) + " bytes lost");
      SkipTo(end);
    }
  }
}

void DirectionStream::Extract(bool final) {
  for (;;) {
    const size_t avail = buf_.size() - start_;
    const uint8_t* p = buf_.data() + start_;
    if (!in_sync_) {
      // Candidates (PlausibleHeader) are tried in stream order. One whose frame is not all here
      // yet waits (waiting_) and is tried again as bytes arrive. The boundary is the first
      // complete candidate that decodes: were an earlier waiting candidate a real frame, every
      // later byte would be inside it, so a later frame that decodes shows it was not one.
      std::optional<size_t> boundary;
      for (auto it = waiting_.begin(); it != waiting_.end() && !boundary;) {
        const uint32_t size = Le32(buf_.data() + *it);
        if (size > buf_.size() - *it) {
          ++it;
        } else if (DecodesInSomeDialect({buf_.data() + *it, size})) {
          boundary = *it;
        } else {
          it = waiting_.erase(it);
        }
      }
      for (; !boundary && scan_ + kHeaderSize <= buf_.size(); ++scan_) {
        if (!PlausibleHeader(buf_.data() + scan_, dir_)) continue;
        const uint32_t size = Le32(buf_.data() + scan_);
        if (size > buf_.size() - scan_) {
          if (!final) waiting_.push_back(scan_);
        } else if (DecodesInSomeDialect({buf_.data() + scan_, size})) {
          boundary = scan_;
        }
      }
      if (!boundary) {
        if (final) return;
        // Keep the oldest waiting candidate on, or the last bytes not yet scanned.
        DropFront((waiting_.empty() ? scan_ : waiting_.front()) - start_);
        break;
      }
      DropFront(*boundary - start_);
      in_sync_ = true;
      waiting_.clear();
      continue;
    }
    if (avail < 4) break;
    const uint32_t size = Le32(p);
    if (size < kHeaderSize || size > kMaxMsize) {
      Note("size field " + std::to_string(size) + " cannot start a frame; resynchronising");
      DropFront(1);
      StartResync();
      continue;
    }
    if (avail < size) break;
    frames_->push_back(FrameOut{conversation_, dir_, ts_ns_, packet_, std::vector<uint8_t>(p, p + size)});
    start_ += size;
  }
  if (start_ > 0 && start_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(start_));
    scan_ -= std::min(scan_, start_);
    for (size_t& w : waiting_) w -= start_;  // all at or after start_
    start_ = 0;
  }
}

void DirectionStream::DropFront(size_t n) {
  dropped_while_resyncing_ += n;
  start_ += n;
}

bool Parser::IsPort(uint16_t port) const {
  return std::find(options_.ports.begin(), options_.ports.end(), port) != options_.ports.end();
}

bool Parser::Classify(const Connection& c, bool* a_is_client) const {
  const bool a_port = IsPort(c.a.port), b_port = IsPort(c.b.port);
  if (a_port != b_port) {
    *a_is_client = b_port;
    return true;
  }
  // Both or neither on a 9P port: the SYN's sender is the client, else the first to send data.
  const Segment* first_data = nullptr;
  std::optional<bool> client_is_a;
  for (const Segment& s : c.segments) {
    if ((s.flags & kTcpSyn) && !(s.flags & kTcpAck)) {
      client_is_a = s.from_a;
      break;
    }
    if ((s.flags & kTcpSyn) && (s.flags & kTcpAck)) {
      client_is_a = !s.from_a;
      break;
    }
  }
  for (const Segment& s : c.segments) {
    if (s.payload.empty()) continue;
    if (!client_is_a || s.from_a == *client_is_a) {
      first_data = &s;
      break;
    }
  }
  if (first_data == nullptr) return false;
  *a_is_client = client_is_a.value_or(first_data->from_a);
  if (a_port && b_port) return true;
  if (!options_.detect_tversion) return false;
  // "the first bytes a client sends are a Tversion": size[4] >= 13, type 100, tag NOTAG.
  const auto p = first_data->payload;
  if (p.size() < kHeaderSize) return false;
  const uint32_t size = Le32(p.data());
  return size >= kHeaderSize + 6 && size <= kMaxMsize && p[4] == static_cast<uint8_t>(MsgType::kTversion) &&
         Le16(p.data() + 5) == kNoTag;
}

void Parser::Reassemble() {
  std::vector<FrameOut> frames;
  for (const Connection& c : connections_) {
    bool a_is_client = false;
    if (!c.has_payload || !Classify(c, &a_is_client)) continue;
    const size_t id = capture_.conversations.size();
    Conversation conv{a_is_client ? c.a : c.b, a_is_client ? c.b : c.a};
    capture_.conversations.push_back(conv);
    const std::string name = "conversation " + std::to_string(id + 1) + " (" + EndpointText(conv.client) + " -> " +
                             EndpointText(conv.server) + ")";
    DirectionStream to_server(id, Direction::kClientToServer, name + " client->server", &frames, &capture_.notes);
    DirectionStream to_client(id, Direction::kServerToClient, name + " server->client", &frames, &capture_.notes);
    for (const Segment& s : c.segments) {
      (s.from_a == a_is_client ? to_server : to_client).OnSegment(s);
    }
    to_server.Finish();
    to_client.Finish();
    for (const DirectionStream* d : {&to_server, &to_client}) {
      if (d->dropped() > 0) {
        capture_.notes.push_back(name + (d == &to_server ? " client->server" : " server->client") + ": skipped " +
                                 std::to_string(d->dropped()) + " bytes that are not whole frames");
      }
    }
  }
  // Capture order of the packet completing each frame; stream order within one packet.
  std::stable_sort(frames.begin(), frames.end(),
                   [](const FrameOut& x, const FrameOut& y) { return x.packet < y.packet; });
  capture_.frames.reserve(frames.size());
  for (FrameOut& f : frames) {
    capture_.frames.push_back(CaptureFrame{f.conversation, f.direction, f.ts_ns, f.packet, std::move(f.bytes)});
  }
  if (fragments_ > 0) {
    capture_.notes.push_back(std::to_string(fragments_) + " IP fragments ignored (first: packet " +
                             std::to_string(first_fragment_) + "); reassembling IP fragments is not supported");
  }
  if (truncated_headers_ > 0) {
    capture_.notes.push_back(std::to_string(truncated_headers_) +
                             " packets cut inside their TCP/IP headers by the snaplen (first: packet " +
                             std::to_string(first_truncated_header_) + ")");
  }
}

}  // namespace p9x::client::pcap::internal
