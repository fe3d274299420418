// SPDX-License-Identifier: MIT
// Link, network and transport layers for the capture parser: from a captured packet (Ethernet,
// Linux cooked SLL/SLL2, loopback, raw IP) through IPv4/IPv6 to a TCP segment of a connection.
#include <algorithm>

#include "client/pcap_internal.h"

namespace p9x::client::pcap::internal {

void Parser::OnPacket(const Packet& packet) {
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

void Parser::OnIp(const Packet& packet, std::span<const uint8_t> d) {
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

void Parser::NoteFragment(const Packet& packet) {
  if (fragments_++ == 0) first_fragment_ = packet.number;
}

void Parser::NoteTruncatedHeader(const Packet& packet) {
  if (truncated_headers_++ == 0) first_truncated_header_ = packet.number;
}

void Parser::OnSegment(const Endpoint& src, const Endpoint& dst, Segment s) {
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

}  // namespace p9x::client::pcap::internal
