// SPDX-License-Identifier: MIT
// Packet captures -> 9P frames, for `p9x decode capture.pcapng`. Pure: the input is the bytes of
// a capture file, the output the 9P frames in it; no I/O, errors as values (codec/result.h).
//
// What is read:
//  - containers: classic pcap (both byte orders, microsecond magic 0xa1b2c3d4 and nanosecond
//    magic 0xa1b23c4d) and pcapng (SHB in both byte orders, IDB with its link type and the
//    if_tsresol/if_tsoffset options, EPB, SPB and the obsolete Packet Block; other blocks are
//    skipped). Each pcapng section has its own byte order and interfaces.
//  - link types: null/loopback (0, 108), Ethernet (1) with 802.1Q/802.1ad VLAN tags, raw IP (101,
//    228 IPv4, 229 IPv6), Linux cooked SLL (113) and SLL2 (276). Other link types are skipped with
//    a note.
//  - IPv4 (options skipped; fragments ignored with a note) and IPv6 (extension headers skipped;
//    fragments ignored with a note), then TCP.
//  - TCP: each direction of each connection is reassembled by sequence number: retransmitted and
//    duplicated bytes are dropped, out-of-order segments wait for the gap to fill (bounded, see
//    kMaxOutOfOrderBytes), and a direction whose start was not captured (no SYN) is resynchronised
//    on a plausible frame boundary (ResyncPlausible). The byte stream is split into frames by the
//    size[4] prefix.
//
// Which connections are 9P (CaptureOptions): those with an endpoint on one of `ports` (the server
// is that endpoint), and, when `detect_tversion`, any connection whose client's first bytes are a
// Tversion header. DecodeCaptureFrames then decodes each frame with the dialect its conversation
// negotiated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codec/codec_error.h"
#include "codec/frame.h"
#include "codec/result.h"

namespace p9x::client::pcap {

// A missing segment (a drop in the capture, or a segment the capture truncated) would otherwise
// hold back every later byte of its direction until the end of the capture. A TCP sender cannot
// have more than the receiver's window outstanding; 8 MiB is above Linux's default largest
// receive window (net.ipv4.tcp_rmem max, 6 MiB), so an honest reordering always fits. When a
// direction has more than this buffered beyond a hole, the hole is declared lost (a note says
// so) and the stream resynchronises after it.
inline constexpr size_t kMaxOutOfOrderBytes = 8u << 20;

// The well-known 9P ports: 564 (IANA "9pfs") and 5640 (diod's and p9xd's usual choice).
inline constexpr std::array<uint16_t, 2> kDefaultPorts = {564, 5640};

struct CaptureOptions {
  // A connection with an endpoint on one of these ports is 9P; that endpoint is the server.
  std::vector<uint16_t> ports{kDefaultPorts.begin(), kDefaultPorts.end()};
  // Also any connection whose client (the SYN's sender, else the first sender) starts with a
  // Tversion header.
  bool detect_tversion = true;
};

struct Endpoint {
  bool ipv6 = false;
  std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes
  uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
// "127.0.0.1:5640", "[::1]:5640".
std::string EndpointText(const Endpoint& e);

struct Conversation {
  Endpoint client;
  Endpoint server;
};

enum class Direction : uint8_t { kClientToServer, kServerToClient };
std::string_view DirectionName(Direction d);  // "client->server", "server->client"

struct CaptureFrame {
  size_t conversation = 0;  // index into Capture::conversations
  Direction direction = Direction::kClientToServer;
  uint64_t timestamp_ns = 0;  // capture time (ns since the epoch) of the packet completing it
  uint64_t packet = 0;        // 1-based number of that packet in the file (as Wireshark counts)
  std::vector<uint8_t> bytes;  // the whole frame, size[4] included
};

struct Capture {
  std::vector<Conversation> conversations;
  std::vector<CaptureFrame> frames;  // in capture order (of the packet completing each frame)
  // Things that were skipped or repaired, one line each: fragments, unknown link types, bytes
  // skipped to resynchronise, gaps declared lost, incomplete frames at the end.
  std::vector<std::string> notes;
};

struct CaptureError {
  enum class Kind {
    kNotACapture,  // no pcap or pcapng magic number
    kTruncated,    // the file ends inside a header or a record
    kMalformed,    // a length or field that cannot be right
  } kind = Kind::kMalformed;
  size_t offset = 0;  // byte offset in the file
  std::string detail;
  std::string Describe() const;
};

// True when `bytes` starts with a pcap or pcapng magic number.
bool LooksLikeCapture(std::span<const uint8_t> bytes);

// Parses a whole capture file. Fails only on the container (not a capture, truncated, malformed);
// anything wrong inside a packet is skipped with a note.
p9x::Result<Capture, CaptureError> ParseCapture(std::span<const uint8_t> file, const CaptureOptions& options = {});

// One frame decoded with its conversation's context.
struct DecodedFrame {
  WireContext wire;                  // the dialect and msize used
  p9x::Result<Frame, CodecError> decoded;  // views point into the CaptureFrame's bytes
  bool dialect_inferred = false;     // no version exchange seen: dialect guessed from the qid size
};

// Decodes capture.frames (same order and count). Each conversation starts in the legacy dialect
// with msize kMaxMsize. A Tversion restarts the session (legacy); the Rversion after it sets the
// msize and, when both the offer and the reply name xqid (negotiation::ParseVersion,
// SupportsXqid), the xqid dialect for the frames after it. A conversation whose version exchange
// was not captured switches to xqid at the first frame that only decodes with 21-byte qids.
// `forced_dialect` overrides the dialect (never the msize).
std::vector<DecodedFrame> DecodeCaptureFrames(const Capture& capture, std::optional<Dialect> forced_dialect);

}  // namespace p9x::client::pcap
