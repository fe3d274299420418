// SPDX-License-Identifier: MIT
// The capture parser's container formats (classic pcap, pcapng) and its public functions
// (client/pcap.h). The link layers are in pcap_link.cc, TCP reassembly in pcap_tcp.cc.
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

#include "client/pcap_internal.h"
#include "codec/messages.h"
#include "negotiation/version.h"

namespace p9x::client::pcap {
namespace internal {

p9x::Result<Capture, CaptureError> Parser::Run() {
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

UnexpectedValue<CaptureError> Parser::Error(CaptureError::Kind kind, size_t offset, std::string detail) {
  return Unexpected(CaptureError{kind, offset, std::move(detail)});
}

p9x::Result<void, CaptureError> Parser::TruncatedAt(size_t offset, const std::string& detail) {
  if (offset == 0) return Error(CaptureError::Kind::kTruncated, offset, detail);
  capture_.notes.push_back("capture file truncated at byte " + std::to_string(offset) + " (" + detail +
                           "): what follows is lost");
  return {};
}

p9x::Result<void, CaptureError> Parser::ReadPcap(Order order, bool nanos) {
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

p9x::Result<void, CaptureError> Parser::ReadPcapng() {
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
          capture_.notes.push_back("packet " + std::to_string(number) + ": unknown interface " + std::to_string(iface) +
                                   "; skipped");
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

void Parser::ReadIdbOptions(Order order, std::span<const uint8_t> opts, Interface* itf) {
  size_t off = 0;
  while (opts.size() - off >= 4) {
    const uint16_t code = order.U16(opts.data() + off);
    const uint16_t len = order.U16(opts.data() + off + 2);
    if (code == 0) break;  // opt_endofopt
    if (len > opts.size() - off - 4) break;
    const uint8_t* v = opts.data() + off + 4;
    if (code == 9 && len == 1) itf->tsresol = v[0];                                    // if_tsresol
    if (code == 14 && len == 8) itf->tsoffset_s = static_cast<int64_t>(order.U64(v));  // if_tsoffset
    off += 4 + ((len + 3u) & ~3u);
  }
}

}  // namespace internal

using internal::Be32;
using internal::kPcapMicros;
using internal::kPcapNanos;
using internal::kPcapngShb;
using internal::Le32;
using internal::Parser;

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
