// SPDX-License-Identifier: MIT
// The capture parser's internals, shared by its three files: pcap.cc reads the container
// formats (pcap, pcapng) and holds the public functions, pcap_link.cc peels the link, network and
// transport layers off each packet, pcap_tcp.cc reassembles each TCP direction and cuts it into
// 9P frames. Nothing outside client/pcap*.cc includes this.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "client/pcap.h"

namespace p9x::client::pcap::internal {

// ---- byte access --------------------------------------------------------------------------

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}
inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[1] << 8 | p[0]); }
inline uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[3]) << 24 | static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[1]) << 8 |
         p[0];
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
inline uint64_t UnitsToNs(uint64_t units, uint8_t tsresol) {
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
  bool from_a = false;               // sent by the connection's endpoint a
  std::span<const uint8_t> payload;  // the captured payload (points into the file)
  uint32_t missing = 0;              // payload bytes the capture did not keep (snaplen)
};

inline bool EndpointLess(const Endpoint& x, const Endpoint& y) {
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

// A 9P frame cut from one direction of a connection, before it becomes a CaptureFrame.
struct FrameOut {
  size_t conversation;
  Direction direction;
  uint64_t ts_ns;
  uint64_t packet;
  std::vector<uint8_t> bytes;
};

// One direction of one TCP connection: puts segments in sequence order (retransmissions,
// reordering, holes the capture lost) and cuts the byte stream into frames, looking for a frame
// boundary again when it cannot trust one (a capture that starts mid-stream, a lost segment).
class DirectionStream {
 public:
  DirectionStream(size_t conversation, Direction dir, std::string label, std::vector<FrameOut>* frames,
                  std::vector<std::string>* notes)
      : conversation_(conversation), dir_(dir), label_(std::move(label)), frames_(frames), notes_(notes) {}

  void OnSegment(const Segment& s);

  // The end of the capture: what is still waiting behind a hole is used as is (the hole is lost),
  // then the rest is framed as far as whole frames go.
  void Finish();

 private:
  void Note(const std::string& text) { notes_->push_back(label_ + ": " + text); }

  // Declares the bytes up to `abs` lost: a partial frame before them is dropped and framing
  // restarts after them.
  void SkipTo(uint64_t abs);

  // Frame boundaries are lost: look for one from the current position on.
  void StartResync();

  // Appends every pending segment that now touches the stream's end. A frame's time is when its
  // last byte was there to read: the later of that byte's packet and `filler`, the packet that
  // filled the hole before it (nullptr when the hole was given up as lost).
  void Drain(const Segment* filler);

  // Cuts whole frames off the buffer; when out of sync, first looks for a frame boundary.
  void Extract(bool final);

  // Drops bytes that cannot start a frame (counted, and reported once per direction).
  void DropFront(size_t n);

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
  uint32_t next_seq_ = 0;                // the sequence number of the next byte the stream needs
  uint64_t next_abs_ = 0;                // the same as an offset from the first byte (no wrap-around)
  std::map<uint64_t, Segment> pending_;  // out-of-order segments by stream offset
  size_t pending_bytes_ = 0;
  std::vector<uint8_t> buf_;
  size_t start_ = 0;             // buf_[start_..] is not yet framed
  size_t scan_ = 0;              // resynchronising: buf_ offset where scanning resumes
  std::vector<size_t> waiting_;  // resynchronising: incomplete candidates (buf_ offsets)
  uint64_t packet_ = 0;
  uint64_t ts_ns_ = 0;
  uint64_t dropped_while_resyncing_ = 0;
};

// One pass over a capture file: packets -> TCP segments per connection -> frames.
class Parser {
 public:
  Parser(std::span<const uint8_t> file, const CaptureOptions& options) : file_(file), options_(options) {}

  p9x::Result<Capture, CaptureError> Run();

 private:
  static UnexpectedValue<CaptureError> Error(CaptureError::Kind kind, size_t offset, std::string detail);

  // A file that ends inside a record after its header (a capture still being written, or a
  // capture tool killed) keeps every packet before the cut: the frames they complete are
  // returned, and a note says where the file ends. Only a file without a whole header fails.
  p9x::Result<void, CaptureError> TruncatedAt(size_t offset, const std::string& detail);

  // ---- classic pcap ----

  p9x::Result<void, CaptureError> ReadPcap(Order order, bool nanos);

  // ---- pcapng ----

  struct Interface {
    uint32_t link_type = 0;
    uint8_t tsresol = 6;
    int64_t tsoffset_s = 0;
  };

  p9x::Result<void, CaptureError> ReadPcapng();

  static void ReadIdbOptions(Order order, std::span<const uint8_t> opts, Interface* itf);

  // ---- link, network and transport layers ----

  void OnPacket(const Packet& packet);

  void OnIp(const Packet& packet, std::span<const uint8_t> d);

  void NoteFragment(const Packet& packet);
  void NoteTruncatedHeader(const Packet& packet);

  void OnSegment(const Endpoint& src, const Endpoint& dst, Segment s);

  // ---- per connection: which side is the server, then the two streams ----

  bool IsPort(uint16_t port) const;

  // Whether a connection is 9P, and whether endpoint a is its client.
  bool Classify(const Connection& c, bool* a_is_client) const;

  void Reassemble();

  std::span<const uint8_t> file_;
  const CaptureOptions& options_;
  Capture capture_;
  std::vector<Connection> connections_;
  std::map<std::pair<Endpoint, Endpoint>, size_t, KeyLess> by_key_;
  std::set<uint32_t> unknown_link_types_;
  uint64_t fragments_ = 0, first_fragment_ = 0;
  uint64_t truncated_headers_ = 0, first_truncated_header_ = 0;
};

}  // namespace p9x::client::pcap::internal
