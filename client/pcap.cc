#include "client/pcap.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <variant>

#include "codec/messages.h"
#include "negotiation/version.h"

namespace p9x::client::pcap {
namespace {

// ---- byte access --------------------------------------------------------------------------

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[1] << 8 | p[0]); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[3]) << 24 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[1]) << 8 | p[0];
}

// A container's byte order (pcap header, pcapng section).
struct Order {
  bool big = false;
  uint16_t U16(const uint8_t* p) const { return big ? Be16(p) : Le16(p); }
  uint32_t U32(const uint8_t* p) const { return big ? Be32(p) : Le32(p); }
  uint64_t U64(const uint8_t* p) const {
    // pcapng 64-bit values (if_tsoffset, section length) are in the section's order.
    const uint64_t a = U32(p), b = U32(p + 4);
    return big ? (a << 32 | b) : (b << 32 | a);
  }
};

constexpr uint32_t kPcapMicros = 0xa1b2c3d4;
constexpr uint32_t kPcapNanos = 0xa1b23c4d;
constexpr uint32_t kPcapngShb = 0x0a0d0d0a;
constexpr uint32_t kPcapngByteOrderMagic = 0x1a2b3c4d;

// Link types (https://www.tcpdump.org/linktypes.html).
constexpr uint32_t kLinkNull = 0;
constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkRaw = 101;
constexpr uint32_t kLinkLoop = 108;
constexpr uint32_t kLinkSll = 113;
constexpr uint32_t kLinkIpv4 = 228;
constexpr uint32_t kLinkIpv6 = 229;
constexpr uint32_t kLinkSll2 = 276;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpAck = 0x10;

// ---- timestamps ---------------------------------------------------------------------------

// pcapng if_tsresol: high bit 0 -> units of 10^-n s, 1 -> 2^-n s (default 6: microseconds).
uint64_t UnitsToNs(uint64_t units, uint8_t tsresol) {
  const unsigned n = tsresol & 0x7f;
  if (tsresol & 0x80) {
    const unsigned __int128 scaled = static_cast<unsigned __int128>(units) * 1000000000u;
    if (n >= 64) return static_cast<uint64_t>(scaled >> 64) >> (n - 64);
    return static_cast<uint64_t>(scaled >> n);
  }
  uint64_t scale = 1;
  if (n <= 9) {
    for (unsigned i = n; i < 9; ++i) scale *= 10;
    return units * scale;
  }
  if (n - 9 > 19) return 0;
  for (unsigned i = 9; i < n; ++i) scale *= 10;
  return units / scale;
}

// ---- packets and segments -----------------------------------------------------------------

struct Packet {
  uint64_t number = 0;
  uint64_t ts_ns = 0;
  uint32_t link_type = 0;
  std::span<const uint8_t> data;
};

struct Segment {
  uint64_t packet = 0;
  uint64_t ts_ns = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;
  bool from_a = false;                // sent by the connection's endpoint a
  std::span<const uint8_t> payload;   // the captured payload (points into the file)
  uint32_t missing = 0;               // payload bytes the capture did not keep (snaplen)
};

bool EndpointLess(const Endpoint& x, const Endpoint& y) {
  return std::tie(x.ipv6, x.addr, x.port) < std::tie(y.ipv6, y.addr, y.port);
}

struct Connection {
  Endpoint a, b;  // a: the sender of the first packet seen
  std::vector<Segment> segments;
  bool has_payload = false;
};

struct KeyLess {
  bool operator()(const std::pair<Endpoint, Endpoint>& x, const std::pair<Endpoint, Endpoint>& y) const {
    if (!(x.first == y.first)) return EndpointLess(x.first, y.first);
    return EndpointLess(x.second, y.second);
  }
};

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

struct FrameOut {
  size_t conversation;
  Direction direction;
  uint64_t ts_ns;
  uint64_t packet;
  std::vector<uint8_t> bytes;
};

class DirectionStream {
 public:
  DirectionStream(size_t conversation, Direction dir, std::string label, std::vector<FrameOut>* frames,
                  std::vector<std::string>* notes)
      : conversation_(conversation), dir_(dir), label_(std::move(label)), frames_(frames), notes_(notes) {}

  void OnSegment(const Segment& s) {
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

  // The end of the capture: what is still waiting behind a hole is used as is (the hole is lost),
  // then the rest is framed as far as whole frames go.
  void Finish() {
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

 private:
  void Note(const std::string& text) { notes_->push_back(label_ + ": " + text); }

  // Declares the bytes up to `abs` lost: a partial frame before them is dropped and framing
  // restarts after them.
  void SkipTo(uint64_t abs) {
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

  // Frame boundaries are lost: look for one from the current position on.
  void StartResync() {
    in_sync_ = false;
    waiting_.clear();
    scan_ = start_;
  }

  // Appends every pending segment that now touches the stream's end. A frame's time is when its
  // last byte was there to read: the later of that byte's packet and `filler`, the packet that
  // filled the hole before it (nullptr when the hole was given up as lost).
  void Drain(const Segment* filler) {
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
        Note("a segment was truncated by the capture (snaplen); " + std::to_string(end - next_abs_) +
             " bytes lost");
        SkipTo(end);
      }
    }
  }

  // Cuts whole frames off the buffer; when out of sync, first looks for a frame boundary.
  void Extract(bool final) {
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

  // Drops bytes that cannot start a frame (counted, and reported once per direction).
  void DropFront(size_t n) {
    dropped_while_resyncing_ += n;
    start_ += n;
  }

 public:
  // Bytes thrown away looking for frame boundaries.
  uint64_t dropped() const { return dropped_while_resyncing_; }

 private:
  size_t conversation_;
  Direction dir_;
  std::string label_;
  std::vector<FrameOut>* frames_;
  std::vector<std::string>* notes_;

  bool started_ = false;
  bool in_sync_ = false;
  uint32_t next_seq_ = 0;  // the sequence number of the next byte the stream needs
  uint64_t next_abs_ = 0;  // the same as an offset from the first byte (no wrap-around)
  std::map<uint64_t, Segment> pending_;  // out-of-order segments by stream offset
  size_t pending_bytes_ = 0;
  std::vector<uint8_t> buf_;
  size_t start_ = 0;                // buf_[start_..] is not yet framed
  size_t scan_ = 0;                 // resynchronising: buf_ offset where scanning resumes
  std::vector<size_t> waiting_;     // resynchronising: incomplete candidates (buf_ offsets)
  uint64_t packet_ = 0;
  uint64_t ts_ns_ = 0;
  uint64_t dropped_while_resyncing_ = 0;
};

// ---- the packet pass ----------------------------------------------------------------------

class Parser {
 public:
  Parser(std::span<const uint8_t> file, const CaptureOptions& options) : file_(file), options_(options) {}

  p9x::Result<Capture, CaptureError> Run() {
    if (file_.size() < 4) return Error(CaptureError::Kind::kNotACapture, 0, "shorter than a magic number");
    const uint32_t le = Le32(file_.data());
    const uint32_t be = Be32(file_.data());
    p9x::Result<void, CaptureError> read;
    if (le == kPcapngShb) {
      read = ReadPcapng();
    } else if (le == kPcapMicros || le == kPcapNanos) {
      read = ReadPcap(Order{false}, le == kPcapNanos);
    } else if (be == kPcapMicros || be == kPcapNanos) {
      read = ReadPcap(Order{true}, be == kPcapNanos);
    } else {
      return Error(CaptureError::Kind::kNotACapture, 0, "no pcap or pcapng magic number");
    }
    if (!read) return Unexpected(read.error());
    Reassemble();
    return std::move(capture_);
  }

 private:
  static UnexpectedValue<CaptureError> Error(CaptureError::Kind kind, size_t offset, std::string detail) {
    return Unexpected(CaptureError{kind, offset, std::move(detail)});
  }

  // A file that ends inside a record after its header (a capture still being written, or a
  // capture tool killed) keeps every packet before the cut: the frames they complete are
  // returned, and a note says where the file ends. Only a file without a whole header fails.
  p9x::Result<void, CaptureError> TruncatedAt(size_t offset, const std::string& detail) {
    if (offset == 0) return Error(CaptureError::Kind::kTruncated, offset, detail);
    capture_.notes.push_back("capture file truncated at byte " + std::to_string(offset) + " (" + detail +
                             "): what follows is lost");
    return {};
  }

  // ---- classic pcap ----

  p9x::Result<void, CaptureError> ReadPcap(Order order, bool nanos) {
    constexpr size_t kFileHeader = 24, kRecordHeader = 16;
    if (file_.size() < kFileHeader) {
      return Error(CaptureError::Kind::kTruncated, file_.size(), "pcap file header needs 24 bytes");
    }
    const uint32_t link_type = order.U32(file_.data() + 20) & 0xffff;  // upper bits: FCS info
    size_t off = kFileHeader;
    uint64_t number = 0;
    while (off < file_.size()) {
      ++number;
      if (file_.size() - off < kRecordHeader) {
        return TruncatedAt(off, "packet " + std::to_string(number) + ": record header cut short");
      }
      const uint8_t* h = file_.data() + off;
      const uint32_t incl = order.U32(h + 8);
      if (incl > file_.size() - off - kRecordHeader) {
        return TruncatedAt(off, "packet " + std::to_string(number) + ": record holds " + std::to_string(incl) +
                                    " bytes, the file has " + std::to_string(file_.size() - off - kRecordHeader));
      }
      const uint64_t frac = order.U32(h + 4);
      const uint64_t ts = uint64_t{order.U32(h)} * 1000000000u + (nanos ? frac : frac * 1000u);
      OnPacket(Packet{number, ts, link_type, file_.subspan(off + kRecordHeader, incl)});
      off += kRecordHeader + incl;
    }
    return {};
  }

  // ---- pcapng ----

  struct Interface {
    uint32_t link_type = 0;
    uint8_t tsresol = 6;
    int64_t tsoffset_s = 0;
  };

  p9x::Result<void, CaptureError> ReadPcapng() {
    Order order;
    std::vector<Interface> interfaces;
    size_t off = 0;
    uint64_t number = 0;
    uint64_t last_ts = 0;
    while (off < file_.size()) {
      const size_t left = file_.size() - off;
      if (left < 12) return TruncatedAt(off, "pcapng block header cut short");
      const uint8_t* b = file_.data() + off;
      const uint32_t raw_type = Le32(b);
      if (raw_type == kPcapngShb) {
        // A new section: its byte-order magic decides how everything in it is read.
        const uint32_t bom = Le32(b + 8);
        if (bom == kPcapngByteOrderMagic) {
          order.big = false;
        } else if (Be32(b + 8) == kPcapngByteOrderMagic) {
          order.big = true;
        } else {
          return Error(CaptureError::Kind::kMalformed, off + 8, "section header without a byte-order magic");
        }
        interfaces.clear();
      } else if (off == 0) {
        return Error(CaptureError::Kind::kMalformed, 0, "pcapng file does not start with a section header");
      }
      const uint32_t type = order.U32(b);
      const uint32_t total = order.U32(b + 4);
      if (total < 12 || total % 4 != 0) {
        return Error(CaptureError::Kind::kMalformed, off + 4, "block length " + std::to_string(total));
      }
      if (total > left) {
        return TruncatedAt(off, "block of " + std::to_string(total) + " bytes, the file has " + std::to_string(left));
      }
      if (order.U32(b + total - 4) != total) {
        return Error(CaptureError::Kind::kMalformed, off + total - 4, "block's trailing length differs");
      }
      const std::span<const uint8_t> body = file_.subspan(off + 8, total - 12);
      switch (type) {
        case kPcapngShb:
          if (body.size() < 16) return Error(CaptureError::Kind::kMalformed, off, "section header too short");
          break;
        case 1: {  // Interface Description Block
          if (body.size() < 8) return Error(CaptureError::Kind::kMalformed, off, "interface block too short");
          Interface itf;
          itf.link_type = order.U16(body.data());
          ReadIdbOptions(order, body.subspan(8), &itf);
          interfaces.push_back(itf);
          break;
        }
        case 6:    // Enhanced Packet Block
        case 2: {  // Packet Block (obsolete): interface[2] drops[2], otherwise the same
          ++number;
          if (body.size() < 20) return Error(CaptureError::Kind::kMalformed, off, "packet block too short");
          const uint32_t iface = type == 6 ? order.U32(body.data()) : order.U16(body.data());
          const uint64_t units = uint64_t{order.U32(body.data() + 4)} << 32 | order.U32(body.data() + 8);
          const uint32_t caplen = order.U32(body.data() + 12);
          if (caplen > body.size() - 20) {
            return Error(CaptureError::Kind::kMalformed, off,
                         "packet " + std::to_string(number) + ": captured length past its block");
          }
          if (iface >= interfaces.size()) {
            capture_.notes.push_back("packet " + std::to_string(number) + ": unknown interface " +
                                     std::to_string(iface) + "; skipped");
            break;
          }
          const Interface& itf = interfaces[iface];
          last_ts = UnitsToNs(units, itf.tsresol) + static_cast<uint64_t>(itf.tsoffset_s * 1000000000);
          OnPacket(Packet{number, last_ts, itf.link_type, body.subspan(20, caplen)});
          break;
        }
        case 3: {  // Simple Packet Block: interface 0, no timestamp
          ++number;
          if (body.size() < 4) return Error(CaptureError::Kind::kMalformed, off, "simple packet block too short");
          if (interfaces.empty()) {
            capture_.notes.push_back("packet " + std::to_string(number) + ": no interface; skipped");
            break;
          }
          const uint32_t orig = order.U32(body.data());
          const size_t caplen = std::min<size_t>(orig, body.size() - 4);
          OnPacket(Packet{number, last_ts, interfaces[0].link_type, body.subspan(4, caplen)});
          break;
        }
        default:
          break;  // name resolution, statistics, custom blocks, ...: not needed
      }
      off += total;
    }
    return {};
  }

  static void ReadIdbOptions(Order order, std::span<const uint8_t> opts, Interface* itf) {
    size_t off = 0;
    while (opts.size() - off >= 4) {
      const uint16_t code = order.U16(opts.data() + off);
      const uint16_t len = order.U16(opts.data() + off + 2);
      if (code == 0) break;  // opt_endofopt
      if (len > opts.size() - off - 4) break;
      const uint8_t* v = opts.data() + off + 4;
      if (code == 9 && len == 1) itf->tsresol = v[0];                                      // if_tsresol
      if (code == 14 && len == 8) itf->tsoffset_s = static_cast<int64_t>(order.U64(v));  // if_tsoffset
      off += 4 + ((len + 3u) & ~3u);
    }
  }

  // ---- link, network and transport layers ----

  void OnPacket(const Packet& packet) {
    std::span<const uint8_t> d = packet.data;
    uint16_t ethertype = 0;
    switch (packet.link_type) {
      case kLinkNull:
      case kLinkLoop:  // a 4-byte address family in either byte order; the IP version says the rest
        if (d.size() < 4) return;
        OnIp(packet, d.subspan(4));
        return;
      case kLinkEthernet:
        if (d.size() < 14) return;
        ethertype = Be16(d.data() + 12);
        d = d.subspan(14);
        while ((ethertype == kEtherVlan || ethertype == kEtherQinQ) && d.size() >= 4) {
          ethertype = Be16(d.data() + 2);  // TCI[2], then the next ethertype
          d = d.subspan(4);
        }
        break;
      case kLinkRaw:
      case kLinkIpv4:
      case kLinkIpv6:
        OnIp(packet, d);
        return;
      case kLinkSll:  // packet type[2] ARPHRD[2] address length[2] address[8] protocol[2]
        if (d.size() < 16) return;
        ethertype = Be16(d.data() + 14);
        d = d.subspan(16);
        break;
      case kLinkSll2:  // protocol[2] reserved[2] ifindex[4] ARPHRD[2] packet type[1] addr len[1] addr[8]
        if (d.size() < 20) return;
        ethertype = Be16(d.data());
        d = d.subspan(20);
        break;
      default:
        if (unknown_link_types_.insert(packet.link_type).second) {
          capture_.notes.push_back("link type " + std::to_string(packet.link_type) +
                                   " is not supported; its packets were skipped (first: packet " +
                                   std::to_string(packet.number) + ")");
        }
        return;
    }
    if (ethertype == kEtherIpv4 || ethertype == kEtherIpv6) OnIp(packet, d);
  }

  void OnIp(const Packet& packet, std::span<const uint8_t> d) {
    if (d.empty()) return;
    Endpoint src, dst;
    size_t declared = 0;  // the IP packet's length by its header
    uint8_t proto = 0;
    size_t l4 = 0;
    if ((d[0] >> 4) == 4) {
      if (d.size() < 20) return;
      const size_t ihl = size_t{d[0] & 0x0fu} * 4;
      declared = Be16(d.data() + 2);
      if (ihl < 20 || ihl > d.size() || declared < ihl) return;
      const uint16_t frag = Be16(d.data() + 6);
      if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) {
        NoteFragment(packet);
        return;
      }
      proto = d[9];
      std::memcpy(src.addr.data(), d.data() + 12, 4);
      std::memcpy(dst.addr.data(), d.data() + 16, 4);
      l4 = ihl;
    } else if ((d[0] >> 4) == 6) {
      if (d.size() < 40) return;
      const uint16_t payload = Be16(d.data() + 4);
      declared = payload == 0 ? d.size() : 40 + size_t{payload};  // 0: jumbogram
      src.ipv6 = dst.ipv6 = true;
      std::memcpy(src.addr.data(), d.data() + 8, 16);
      std::memcpy(dst.addr.data(), d.data() + 24, 16);
      proto = d[6];
      l4 = 40;
      // Extension headers (RFC 8200 §4): skip each to reach TCP.
      for (;;) {
        if (proto == 0 || proto == 43 || proto == 60 || proto == 135 || proto == 139 || proto == 140) {
          if (d.size() < l4 + 2) return;
          const uint8_t next = d[l4];
          l4 += (size_t{d[l4 + 1]} + 1) * 8;
          proto = next;
        } else if (proto == 51) {  // AH: length in 4-byte units, minus 2
          if (d.size() < l4 + 2) return;
          const uint8_t next = d[l4];
          l4 += (size_t{d[l4 + 1]} + 2) * 4;
          proto = next;
        } else if (proto == 44) {  // Fragment
          if (d.size() < l4 + 8) return;
          const uint16_t off_flags = Be16(d.data() + l4 + 2);
          if ((off_flags & 0xfff8) != 0 || (off_flags & 1) != 0) {
            NoteFragment(packet);
            return;
          }
          proto = d[l4];
          l4 += 8;  // an atomic fragment: the whole packet
        } else {
          break;
        }
        if (l4 > d.size()) return;
      }
    } else {
      return;
    }
    if (proto != 6) return;
    // Ethernet pads short frames: the IP length, not the link's, ends the packet. A snaplen
    // shorter than the packet leaves `missing` bytes uncaptured.
    const size_t have = std::min(d.size(), declared);
    if (have < l4 + 20) {
      if (declared >= l4 + 20) NoteTruncatedHeader(packet);
      return;
    }
    const uint8_t* t = d.data() + l4;
    src.port = Be16(t);
    dst.port = Be16(t + 2);
    const size_t data_off = static_cast<size_t>(t[12] >> 4) * 4;
    if (data_off < 20 || l4 + data_off > have) {
      if (data_off >= 20 && l4 + data_off <= declared) NoteTruncatedHeader(packet);
      return;
    }
    Segment s;
    s.packet = packet.number;
    s.ts_ns = packet.ts_ns;
    s.seq = Be32(t + 4);
    s.flags = t[13];
    s.payload = d.subspan(l4 + data_off, have - l4 - data_off);
    s.missing = static_cast<uint32_t>(declared - have);
    OnSegment(src, dst, s);
  }

  void NoteFragment(const Packet& packet) {
    if (fragments_++ == 0) first_fragment_ = packet.number;
  }
  void NoteTruncatedHeader(const Packet& packet) {
    if (truncated_headers_++ == 0) first_truncated_header_ = packet.number;
  }

  void OnSegment(const Endpoint& src, const Endpoint& dst, Segment s) {
    std::pair<Endpoint, Endpoint> key = EndpointLess(src, dst) ? std::pair{src, dst} : std::pair{dst, src};
    auto it = by_key_.find(key);
    const bool opening = (s.flags & kTcpSyn) && !(s.flags & kTcpAck);
    if (it == by_key_.end() || (opening && connections_[it->second].has_payload)) {
      // A new connection, or the same addresses and ports reused by a new one.
      connections_.push_back(Connection{src, dst, {}, false});
      it = by_key_.insert_or_assign(key, connections_.size() - 1).first;
    }
    Connection& c = connections_[it->second];
    s.from_a = src == c.a;
    if (!s.payload.empty() || s.missing > 0) c.has_payload = true;
    c.segments.push_back(s);
  }

  // ---- per connection: which side is the server, then the two streams ----

  bool IsPort(uint16_t port) const {
    return std::find(options_.ports.begin(), options_.ports.end(), port) != options_.ports.end();
  }

  // Whether a connection is 9P, and whether endpoint a is its client.
  bool Classify(const Connection& c, bool* a_is_client) const {
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

  void Reassemble() {
    std::vector<FrameOut> frames;
    for (const Connection& c : connections_) {
      bool a_is_client = false;
      if (!c.has_payload || !Classify(c, &a_is_client)) continue;
      const size_t id = capture_.conversations.size();
      Conversation conv{a_is_client ? c.a : c.b, a_is_client ? c.b : c.a};
      capture_.conversations.push_back(conv);
      const std::string name = "conversation " + std::to_string(id + 1) + " (" + EndpointText(conv.client) +
                               " -> " + EndpointText(conv.server) + ")";
      DirectionStream to_server(id, Direction::kClientToServer, name + " client->server", &frames,
                                &capture_.notes);
      DirectionStream to_client(id, Direction::kServerToClient, name + " server->client", &frames,
                                &capture_.notes);
      for (const Segment& s : c.segments) {
        (s.from_a == a_is_client ? to_server : to_client).OnSegment(s);
      }
      to_server.Finish();
      to_client.Finish();
      for (const DirectionStream* d : {&to_server, &to_client}) {
        if (d->dropped() > 0) {
          capture_.notes.push_back(name + (d == &to_server ? " client->server" : " server->client") +
                                   ": skipped " + std::to_string(d->dropped()) + " bytes that are not whole frames");
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

  std::span<const uint8_t> file_;
  const CaptureOptions& options_;
  Capture capture_;
  std::vector<Connection> connections_;
  std::map<std::pair<Endpoint, Endpoint>, size_t, KeyLess> by_key_;
  std::set<uint32_t> unknown_link_types_;
  uint64_t fragments_ = 0, first_fragment_ = 0;
  uint64_t truncated_headers_ = 0, first_truncated_header_ = 0;
};

}  // namespace

std::string EndpointText(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(e.ipv6 ? AF_INET6 : AF_INET, e.addr.data(), buf, sizeof buf);
  const std::string addr = e.ipv6 ? "[" + std::string(buf) + "]" : std::string(buf);
  return addr + ":" + std::to_string(e.port);
}

std::string_view DirectionName(Direction d) {
  return d == Direction::kClientToServer ? "client->server" : "server->client";
}

std::string CaptureError::Describe() const {
  const char* what = kind == Kind::kNotACapture ? "not a packet capture"
                     : kind == Kind::kTruncated ? "capture file truncated"
                                                : "malformed capture file";
  return std::string(what) + " at byte " + std::to_string(offset) + ": " + detail;
}

bool LooksLikeCapture(std::span<const uint8_t> bytes) {
  if (bytes.size() < 4) return false;
  const uint32_t le = Le32(bytes.data()), be = Be32(bytes.data());
  return le == kPcapngShb || le == kPcapMicros || le == kPcapNanos || be == kPcapMicros || be == kPcapNanos;
}

p9x::Result<Capture, CaptureError> ParseCapture(std::span<const uint8_t> file, const CaptureOptions& options) {
  return Parser(file, options).Run();
}

std::vector<DecodedFrame> DecodeCaptureFrames(const Capture& capture, std::optional<Dialect> forced_dialect) {
  struct State {
    WireContext wire{Dialect::kLegacy, kMaxMsize};
    std::optional<negotiation::FeatureSet> offer;  // the outstanding Tversion's features
    bool version_seen = false;
    bool inferred = false;
  };
  std::vector<State> states(capture.conversations.size());
  std::vector<DecodedFrame> out;
  out.reserve(capture.frames.size());
  for (const CaptureFrame& f : capture.frames) {
    State& st = states[f.conversation];
    WireContext ctx = st.wire;
    if (forced_dialect) ctx.dialect = *forced_dialect;
    auto decoded = DecodeFrame(f.bytes, ctx);
    if (!decoded && !forced_dialect && !st.version_seen && ctx.dialect == Dialect::kLegacy &&
        decoded.error().kind == CodecErrorKind::kDialectMismatch) {
      // No version exchange captured: the qid size tells the dialect.
      const WireContext xqid{Dialect::kXqid, ctx.msize};
      auto again = DecodeFrame(f.bytes, xqid);
      if (again) {
        st.wire.dialect = Dialect::kXqid;
        st.inferred = true;
        ctx = xqid;
        decoded = std::move(again);
      }
    }
    const bool inferred = st.inferred && !st.version_seen;
    // A version exchange changes the context of the frames after it (version(5)).
    if (decoded) {
      if (const auto* tv = std::get_if<Tversion>(&decoded->msg); tv && f.direction == Direction::kClientToServer) {
        st.version_seen = true;
        st.inferred = false;
        st.wire = WireContext{Dialect::kLegacy, kMaxMsize};
        auto parsed = negotiation::ParseVersion(tv->version);
        st.offer = parsed ? std::optional(parsed->features) : std::nullopt;
      } else if (const auto* rv = std::get_if<Rversion>(&decoded->msg);
                 rv && f.direction == Direction::kServerToClient) {
        st.version_seen = true;
        auto parsed = negotiation::ParseVersion(rv->version);
        if (parsed) {
          const bool xqid = negotiation::SupportsXqid(parsed->features) &&
                            (!st.offer || negotiation::SupportsXqid(*st.offer));
          st.wire.dialect = xqid ? Dialect::kXqid : Dialect::kLegacy;
          st.wire.msize = rv->msize >= kHeaderSize && rv->msize <= kMaxMsize ? rv->msize : kMaxMsize;
        } else {
          st.wire = WireContext{Dialect::kLegacy, kMaxMsize};  // "unknown": nothing agreed
        }
        st.offer.reset();
      }
    }
    out.push_back(DecodedFrame{ctx, std::move(decoded), inferred});
  }
  return out;
}

}  // namespace p9x::client::pcap
