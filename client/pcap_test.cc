// SPDX-License-Identifier: MIT
// client/pcap: captures synthesized here, byte by byte (pcap, pcapng, Ethernet, SLL, SLL2, IPv4,
// IPv6, TCP), carrying frames the codec encodes.

#include "client/pcap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/frame.h"
#include "codec/messages.h"

namespace p9x::client::pcap {
namespace {

using Bytes8 = std::vector<uint8_t>;

// ---- builders -------------------------------------------------------------------------------

void PutBe16(Bytes8& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void PutBe32(Bytes8& b, uint32_t v) {
  PutBe16(b, v >> 16);
  PutBe16(b, v & 0xffff);
}
void PutLe16(Bytes8& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void PutLe32(Bytes8& b, uint32_t v) {
  PutLe16(b, v & 0xffff);
  PutLe16(b, v >> 16);
}
void Put16(Bytes8& b, uint32_t v, bool big) { big ? PutBe16(b, v) : PutLe16(b, v); }
void Put32(Bytes8& b, uint32_t v, bool big) { big ? PutBe32(b, v) : PutLe32(b, v); }
void Append(Bytes8& b, const Bytes8& more) { b.insert(b.end(), more.begin(), more.end()); }

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10;

Bytes8 Tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, const Bytes8& payload) {
  Bytes8 b;
  PutBe16(b, sport);
  PutBe16(b, dport);
  PutBe32(b, seq);
  PutBe32(b, 0);              // ack
  b.push_back(0x50);          // data offset 5 words
  b.push_back(flags);
  PutBe16(b, 65535);          // window
  PutBe16(b, 0);              // checksum (not checked)
  PutBe16(b, 0);              // urgent
  Append(b, payload);
  return b;
}

Bytes8 Ipv4(std::array<uint8_t, 4> src, std::array<uint8_t, 4> dst, const Bytes8& l4, uint16_t frag = 0,
            bool options = false) {
  Bytes8 b;
  const uint32_t ihl = options ? 24 : 20;
  b.push_back(static_cast<uint8_t>(0x40 | ihl / 4));
  b.push_back(0);
  PutBe16(b, static_cast<uint32_t>(ihl + l4.size()));
  PutBe16(b, 1);     // id
  PutBe16(b, frag);  // flags, fragment offset
  b.push_back(64);
  b.push_back(6);  // TCP
  PutBe16(b, 0);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  if (options) Append(b, {1, 1, 1, 0});  // NOP NOP NOP EOL
  Append(b, l4);
  return b;
}

std::array<uint8_t, 16> V6(uint8_t last) {
  std::array<uint8_t, 16> a{};
  a[0] = 0xfd;
  a[15] = last;
  return a;
}

// IPv6 with, when `ext`, a hop-by-hop and a destination-options header before TCP.
Bytes8 Ipv6(std::array<uint8_t, 16> src, std::array<uint8_t, 16> dst, const Bytes8& l4, bool ext = false) {
  Bytes8 extension;
  if (ext) {
    Append(extension, {60, 0, 1, 4, 0, 0, 0, 0});                          // hop-by-hop -> dest opts, 8 bytes
    Append(extension, {6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // dest opts -> TCP, 16 bytes
  }
  Bytes8 b = {0x60, 0, 0, 0};
  PutBe16(b, static_cast<uint32_t>(extension.size() + l4.size()));
  b.push_back(ext ? 0 : 6);
  b.push_back(64);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  Append(b, extension);
  Append(b, l4);
  return b;
}

enum class Link { kEthernet, kVlan, kQinQ, kSll, kSll2, kRaw, kNull };

uint32_t LinkType(Link link) {
  switch (link) {
    case Link::kEthernet:
    case Link::kVlan:
    case Link::kQinQ:
      return 1;
    case Link::kSll:
      return 113;
    case Link::kSll2:
      return 276;
    case Link::kRaw:
      return 101;
    case Link::kNull:
      return 0;
  }
  return 1;
}

Bytes8 Frame2(Link link, const Bytes8& ip) {
  const uint16_t ethertype = (ip[0] >> 4) == 6 ? 0x86dd : 0x0800;
  Bytes8 b;
  switch (link) {
    case Link::kEthernet:
    case Link::kVlan:
    case Link::kQinQ:
      Append(b, {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2});
      if (link == Link::kQinQ) Append(b, {0x88, 0xa8, 0x00, 0x07});
      if (link != Link::kEthernet) Append(b, {0x81, 0x00, 0x00, 0x2a});
      PutBe16(b, ethertype);
      Append(b, ip);
      if (b.size() < 60) b.resize(60, 0);  // Ethernet padding: the IP length must bound the packet
      return b;
    case Link::kSll:
      Append(b, {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0});
      PutBe16(b, ethertype);
      Append(b, ip);
      return b;
    case Link::kSll2:
      PutBe16(b, ethertype);
      Append(b, {0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0});
      Append(b, ip);
      return b;
    case Link::kRaw:
      return ip;
    case Link::kNull:
      PutLe32(b, (ip[0] >> 4) == 6 ? 10 : 2);
      Append(b, ip);
      return b;
  }
  return b;
}

// One TCP connection between a client and a server, as IP packets.
struct Flow {
  bool v6 = false;
  uint16_t cport = 40000, sport = 5640;
  uint32_t cseq = 1000, sseq = 90000;
  bool ext = false;

  Bytes8 Ip(bool from_client, const Bytes8& tcp) const {
    if (v6) return from_client ? Ipv6(V6(1), V6(2), tcp, ext) : Ipv6(V6(2), V6(1), tcp, ext);
    return from_client ? Ipv4({10, 0, 0, 1}, {10, 0, 0, 2}, tcp) : Ipv4({10, 0, 0, 2}, {10, 0, 0, 1}, tcp);
  }
  Bytes8 Syn() { return Ip(true, Tcp(cport, sport, cseq++, kSyn, {})); }
  Bytes8 SynAck() { return Ip(false, Tcp(sport, cport, sseq++, kSyn | kAck, {})); }
  // Data at the next sequence number, which then advances.
  Bytes8 Client(const Bytes8& data) {
    Bytes8 p = Ip(true, Tcp(cport, sport, cseq, kAck | kPsh, data));
    cseq += static_cast<uint32_t>(data.size());
    return p;
  }
  Bytes8 Server(const Bytes8& data) {
    Bytes8 p = Ip(false, Tcp(sport, cport, sseq, kAck | kPsh, data));
    sseq += static_cast<uint32_t>(data.size());
    return p;
  }
  // Data at an explicit sequence number (retransmissions, reordering); nothing advances.
  Bytes8 ClientAt(uint32_t seq, const Bytes8& data) const { return Ip(true, Tcp(cport, sport, seq, kAck, data)); }
  Bytes8 ServerAt(uint32_t seq, const Bytes8& data) const { return Ip(false, Tcp(sport, cport, seq, kAck, data)); }
  Bytes8 ClientFin() { return Ip(true, Tcp(cport, sport, cseq++, kFin | kAck, {})); }
};

struct Pkt {
  uint64_t ts_ns;
  Bytes8 data;  // link layer included
  uint32_t iface = 0;
};

Bytes8 PcapFile(const std::vector<Pkt>& packets, uint32_t link_type, bool big, bool nanos) {
  Bytes8 b;
  Put32(b, nanos ? 0xa1b23c4d : 0xa1b2c3d4, big);
  Put16(b, 2, big);
  Put16(b, 4, big);
  Put32(b, 0, big);
  Put32(b, 0, big);
  Put32(b, 262144, big);
  Put32(b, link_type, big);
  for (const Pkt& p : packets) {
    Put32(b, static_cast<uint32_t>(p.ts_ns / 1000000000), big);
    Put32(b, static_cast<uint32_t>(nanos ? p.ts_ns % 1000000000 : p.ts_ns % 1000000000 / 1000), big);
    Put32(b, static_cast<uint32_t>(p.data.size()), big);
    Put32(b, static_cast<uint32_t>(p.data.size()), big);
    Append(b, p.data);
  }
  return b;
}

struct Iface {
  uint32_t link_type;
  int tsresol = -1;  // -1: no option (microseconds)
};

void PcapngBlock(Bytes8& out, uint32_t type, const Bytes8& body, bool big) {
  Bytes8 padded = body;
  padded.resize((padded.size() + 3) & ~size_t{3}, 0);
  const uint32_t total = static_cast<uint32_t>(12 + padded.size());
  Put32(out, type, big);
  Put32(out, total, big);
  Append(out, padded);
  Put32(out, total, big);
}

// A section with these interfaces and packets (EPBs; SPBs when `simple`), plus a custom block
// the parser must skip.
Bytes8 PcapngFile(const std::vector<Iface>& ifaces, const std::vector<Pkt>& packets, bool big, bool simple = false) {
  Bytes8 out, shb;
  Put32(shb, 0x1a2b3c4d, big);
  Put16(shb, 1, big);
  Put16(shb, 0, big);
  Put32(shb, 0xffffffff, big);
  Put32(shb, 0xffffffff, big);  // section length unknown
  PcapngBlock(out, 0x0a0d0d0a, shb, big);
  for (const Iface& i : ifaces) {
    Bytes8 idb;
    Put16(idb, i.link_type, big);
    Put16(idb, 0, big);
    Put32(idb, 262144, big);
    if (i.tsresol >= 0) {
      Put16(idb, 9, big);
      Put16(idb, 1, big);
      Append(idb, {static_cast<uint8_t>(i.tsresol), 0, 0, 0});
      Put16(idb, 0, big);
      Put16(idb, 0, big);
    }
    PcapngBlock(out, 1, idb, big);
  }
  Bytes8 custom;
  Put32(custom, 32473, big);
  Append(custom, {1, 2, 3, 4, 5});
  PcapngBlock(out, 0x00000bad, custom, big);
  for (const Pkt& p : packets) {
    Bytes8 blk;
    if (simple) {
      Put32(blk, static_cast<uint32_t>(p.data.size()), big);
      Append(blk, p.data);
      PcapngBlock(out, 3, blk, big);
      continue;
    }
    const int res = ifaces[p.iface].tsresol;
    const uint64_t units = res == 9 ? p.ts_ns : res == (0x80 | 30) ? static_cast<uint64_t>((static_cast<unsigned __int128>(p.ts_ns) << 30) / 1000000000u) : p.ts_ns / 1000;
    Put32(blk, p.iface, big);
    Put32(blk, static_cast<uint32_t>(units >> 32), big);
    Put32(blk, static_cast<uint32_t>(units), big);
    Put32(blk, static_cast<uint32_t>(p.data.size()), big);
    Put32(blk, static_cast<uint32_t>(p.data.size()), big);
    Append(blk, p.data);
    PcapngBlock(out, 6, blk, big);
  }
  return out;
}

// ---- 9P frames ----------------------------------------------------------------------------

Bytes8 Encode9p(uint16_t tag, Message msg, Dialect d = Dialect::kLegacy) {
  auto bytes = EncodeToVector(Frame{tag, std::move(msg)}, WireContext{d, kMaxMsize});
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(Bytes8{});
}

Bytes8 TversionFrame(const char* v = "9P2000.L.xqid") { return Encode9p(kNoTag, Tversion{131072, v}); }
Bytes8 RversionFrame(const char* v = "9P2000.L.xqid", uint32_t msize = 65536) {
  return Encode9p(kNoTag, Rversion{msize, v});
}
Bytes8 TwalkFrame(uint16_t tag) {
  Twalk w{};
  w.fid = 0;
  w.newfid = 1;
  w.wnames.count = 1;
  w.wnames.names[0] = "a";
  return Encode9p(tag, w);
}
Bytes8 RwalkFrame(uint16_t tag, Dialect d) {
  Rwalk r{};
  r.wqids.count = 1;
  r.wqids.qids[0] = Qid{0x80, 1, 42, d == Dialect::kXqid ? 7u : 0u};
  return Encode9p(tag, r, d);
}
Bytes8 TwriteFrame(uint16_t tag, size_t n) {
  static Bytes8 data;
  data.assign(n, 0);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  return Encode9p(tag, Twrite{1, 0, p9x::Bytes{data}});
}
Bytes8 RwriteFrame(uint16_t tag, uint32_t n) { return Encode9p(tag, Rwrite{n}); }

constexpr uint64_t kT0 = 1700000000ull * 1000000000ull;  // a round second

// The usual exchange: handshake, Tversion/Rversion (xqid), Twalk/Rwalk, as IP packets.
std::vector<Bytes8> Exchange(Flow& f) {
  return {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame()), f.Client(TwalkFrame(1)),
          f.Server(RwalkFrame(1, Dialect::kXqid))};
}

std::vector<Pkt> Timed(Link link, const std::vector<Bytes8>& ips, uint64_t step_ns = 1500) {
  std::vector<Pkt> out;
  for (size_t i = 0; i < ips.size(); ++i) out.push_back(Pkt{kT0 + i * step_ns, Frame2(link, ips[i])});
  return out;
}

Capture MustParse(const Bytes8& file, const CaptureOptions& options = {}) {
  auto parsed = ParseCapture(file, options);
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().Describe());
  if (!parsed) return {};
  return std::move(parsed).value();
}

std::string Notes(const Capture& c) {
  std::string s;
  for (const auto& n : c.notes) s += n + "\n";
  return s;
}

// Checks the four frames of Exchange(): conversation, directions, bytes, and xqid decoding.
void ExpectExchange(const Capture& c, bool v6 = false) {
  ASSERT_EQ(c.conversations.size(), 1u) << Notes(c);
  EXPECT_EQ(c.conversations[0].server.port, 5640);
  EXPECT_EQ(c.conversations[0].client.port, 40000);
  EXPECT_EQ(c.conversations[0].client.ipv6, v6);
  ASSERT_EQ(c.frames.size(), 4u) << Notes(c);
  EXPECT_EQ(c.frames[0].bytes, TversionFrame());
  EXPECT_EQ(c.frames[1].bytes, RversionFrame());
  EXPECT_EQ(c.frames[2].bytes, TwalkFrame(1));
  EXPECT_EQ(c.frames[3].bytes, RwalkFrame(1, Dialect::kXqid));
  EXPECT_EQ(c.frames[0].direction, Direction::kClientToServer);
  EXPECT_EQ(c.frames[1].direction, Direction::kServerToClient);
  auto decoded = DecodeCaptureFrames(c, std::nullopt);
  ASSERT_EQ(decoded.size(), 4u);
  for (const auto& d : decoded) EXPECT_TRUE(d.decoded.has_value()) << d.decoded.error().Describe();
  EXPECT_EQ(decoded[3].wire.dialect, Dialect::kXqid);
  EXPECT_EQ(decoded[3].wire.msize, 65536u);
  EXPECT_FALSE(decoded[3].dialect_inferred);
}

// ---- containers ---------------------------------------------------------------------------

TEST(Pcap, ClassicLittleEndianMicroseconds) {
  Flow f;
  const Bytes8 file = PcapFile(Timed(Link::kEthernet, Exchange(f), 1500000), 1, false, false);
  const Capture c = MustParse(file);
  ExpectExchange(c);
  EXPECT_EQ(c.frames[0].timestamp_ns, kT0 + 2 * 1500000);
  EXPECT_EQ(c.frames[0].packet, 3u);
  EXPECT_EQ(c.frames[3].packet, 6u);
  EXPECT_EQ(EndpointText(c.conversations[0].client), "10.0.0.1:40000");
  EXPECT_EQ(EndpointText(c.conversations[0].server), "10.0.0.2:5640");
}

TEST(Pcap, ClassicBigEndianNanoseconds) {
  Flow f;
  const Bytes8 file = PcapFile(Timed(Link::kEthernet, Exchange(f), 1234), 1, true, true);
  const Capture c = MustParse(file);
  ExpectExchange(c);
  EXPECT_EQ(c.frames[0].timestamp_ns, kT0 + 2 * 1234);  // nanoseconds kept exactly
  EXPECT_EQ(c.frames[1].timestamp_ns, kT0 + 3 * 1234);
}

TEST(Pcap, ClassicBigEndianMicrosecondsAndLittleEndianNanoseconds) {
  for (const bool big : {false, true}) {
    for (const bool nanos : {false, true}) {
      Flow f;
      const Capture c = MustParse(PcapFile(Timed(Link::kRaw, Exchange(f), 7000), 101, big, nanos));
      ExpectExchange(c);
      EXPECT_EQ(c.frames[2].timestamp_ns, kT0 + 4 * 7000) << big << nanos;
    }
  }
}

TEST(Pcapng, BothByteOrdersTwoInterfacesOfDifferentLinkTypes) {
  for (const bool big : {false, true}) {
    // Interface 0: Ethernet, microseconds; interface 1: raw IP, nanoseconds (if_tsresol 9).
    Flow f;
    auto ips = Exchange(f);
    std::vector<Pkt> packets;
    for (size_t i = 0; i < ips.size(); ++i) {
      const uint32_t iface = i % 2;
      packets.push_back(Pkt{kT0 + i * 1001, Frame2(iface == 0 ? Link::kEthernet : Link::kRaw, ips[i]), iface});
    }
    const Capture c = MustParse(PcapngFile({{1, -1}, {101, 9}}, packets, big));
    ExpectExchange(c);
    EXPECT_EQ(c.frames[0].timestamp_ns, kT0 + 2 * 1001 / 1000 * 1000) << "interface 0: microseconds";
    EXPECT_EQ(c.frames[1].timestamp_ns, kT0 + 3 * 1001) << "interface 1: nanoseconds";
  }
}

TEST(Pcapng, BinaryTimestampResolution) {
  Flow f;
  const uint64_t ns = 500000000;  // half a second: exact in 2^-30 units
  std::vector<Pkt> packets;
  for (const auto& ip : Exchange(f)) packets.push_back(Pkt{kT0 + ns, Frame2(Link::kEthernet, ip), 0});
  const Capture c = MustParse(PcapngFile({{1, 0x80 | 30}}, packets, false));
  ExpectExchange(c);
  EXPECT_EQ(c.frames[0].timestamp_ns, kT0 + ns);
}

TEST(Pcapng, SimplePacketBlocks) {
  Flow f;
  const Capture c = MustParse(PcapngFile({{1, -1}}, Timed(Link::kEthernet, Exchange(f)), false, /*simple=*/true));
  ExpectExchange(c);
}

// ---- link and network layers ----------------------------------------------------------------

TEST(PcapLink, EthernetVlanAndQinQ) {
  for (const Link link : {Link::kVlan, Link::kQinQ}) {
    Flow f;
    ExpectExchange(MustParse(PcapFile(Timed(link, Exchange(f)), 1, false, false)));
  }
}

TEST(PcapLink, LinuxCookedSllAndSll2) {
  for (const Link link : {Link::kSll, Link::kSll2}) {
    Flow f;
    ExpectExchange(MustParse(PcapFile(Timed(link, Exchange(f)), LinkType(link), false, false)));
    Flow g;
    g.v6 = true;
    ExpectExchange(MustParse(PcapFile(Timed(link, Exchange(g)), LinkType(link), false, false)), true);
  }
}

TEST(PcapLink, NullLoopbackAndRawIpv4Ipv6LinkTypes) {
  Flow f;
  ExpectExchange(MustParse(PcapFile(Timed(Link::kNull, Exchange(f)), 0, false, false)));
  Flow g;
  ExpectExchange(MustParse(PcapFile(Timed(Link::kRaw, Exchange(g)), 228, false, false)));
  Flow h;
  h.v6 = true;
  ExpectExchange(MustParse(PcapFile(Timed(Link::kRaw, Exchange(h)), 229, false, false)), true);
}

TEST(PcapLink, Ipv6ExtensionHeadersAreSkipped) {
  Flow f;
  f.v6 = true;
  f.ext = true;
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, Exchange(f)), 1, false, false));
  ExpectExchange(c, true);
  EXPECT_EQ(EndpointText(c.conversations[0].server), "[fd00::2]:5640");
}

TEST(PcapLink, Ipv4OptionsAreSkippedAndFragmentsNoted) {
  Flow f;
  std::vector<Bytes8> ips = Exchange(f);
  // The Tversion again, in a packet with IP options.
  ips[2] = Ipv4({10, 0, 0, 1}, {10, 0, 0, 2}, Tcp(40000, 5640, 1001, kAck, TversionFrame()), 0, true);
  // A fragment (more-fragments set) of something: ignored with a note.
  ips.push_back(Ipv4({10, 0, 0, 1}, {10, 0, 0, 2}, Tcp(40000, 5640, 1, kAck, Bytes8(8, 1)), 0x2000));
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ExpectExchange(c);
  EXPECT_NE(Notes(c).find("1 IP fragments ignored (first: packet 7)"), std::string::npos) << Notes(c);
}

TEST(PcapLink, UnknownLinkTypeIsNotedNotFatal) {
  Flow f;
  const Capture c = MustParse(PcapFile(Timed(Link::kRaw, Exchange(f)), 147, false, false));
  EXPECT_TRUE(c.frames.empty());
  EXPECT_NE(Notes(c).find("link type 147"), std::string::npos) << Notes(c);
}

// ---- TCP reassembly -------------------------------------------------------------------------

TEST(PcapTcp, RetransmittedAndDuplicatedSegmentsAreDroppedOnce) {
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck()};
  const uint32_t tv_seq = f.cseq;
  const Bytes8 tv = TversionFrame();
  ips.push_back(f.Client(tv));
  ips.push_back(f.ClientAt(tv_seq, tv));  // whole retransmission
  ips.push_back(f.Server(RversionFrame()));
  // Twalk sent as two segments, then re-sent whole (overlapping both).
  const Bytes8 walk = TwalkFrame(1);
  const uint32_t w_seq = f.cseq;
  ips.push_back(f.Client(Bytes8(walk.begin(), walk.begin() + 5)));
  ips.push_back(f.ClientAt(w_seq, walk));  // overlaps the first part, adds the rest
  f.cseq = w_seq + static_cast<uint32_t>(walk.size());
  ips.push_back(f.ClientAt(w_seq + 3, Bytes8(walk.begin() + 3, walk.end())));  // all old
  ips.push_back(f.Server(RwalkFrame(1, Dialect::kXqid)));
  ips.push_back(ips.back());  // exact duplicate packet
  ExpectExchange(MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false)));
}

TEST(PcapTcp, OutOfOrderSegmentsWaitForTheHole) {
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame())};
  const Bytes8 walk = TwalkFrame(1);
  const uint32_t seq = f.cseq;
  const Bytes8 first(walk.begin(), walk.begin() + 6), second(walk.begin() + 6, walk.end());
  ips.push_back(f.ClientAt(seq + 6, second));  // arrives first
  ips.push_back(f.ClientAt(seq, first));
  f.cseq = seq + static_cast<uint32_t>(walk.size());
  ips.push_back(f.Server(RwalkFrame(1, Dialect::kXqid)));
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ExpectExchange(c);
  EXPECT_EQ(c.frames[2].packet, 6u) << "the Twalk is complete when the hole is filled";
}

TEST(PcapTcp, FrameSplitAcrossManySegments) {
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame())};
  const Bytes8 write = TwriteFrame(7, 3000);
  for (size_t at = 0; at < write.size(); at += 97) {
    ips.push_back(f.Client(Bytes8(write.begin() + static_cast<ptrdiff_t>(at),
                                  write.begin() + static_cast<ptrdiff_t>(std::min(at + 97, write.size())))));
  }
  const size_t last = ips.size();
  ips.push_back(f.Server(RwriteFrame(7, 3000)));
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, /*nanos=*/true));
  ASSERT_EQ(c.frames.size(), 4u) << Notes(c);
  EXPECT_EQ(c.frames[2].bytes, write);
  EXPECT_EQ(c.frames[2].packet, last) << "timestamped by the packet that completes it";
  EXPECT_EQ(c.frames[2].timestamp_ns, kT0 + (last - 1) * 1500);
  EXPECT_TRUE(c.notes.empty()) << Notes(c);
}

TEST(PcapTcp, SeveralFramesInOneSegment) {
  Flow f;
  Bytes8 both = TversionFrame();
  Append(both, TwalkFrame(1));
  Bytes8 replies = RversionFrame();
  Append(replies, RwalkFrame(1, Dialect::kXqid));
  // Three frames plus the first half of a fourth, then the rest.
  Bytes8 three = both;
  const Bytes8 walk2 = TwalkFrame(2);
  Append(three, Bytes8(walk2.begin(), walk2.begin() + 4));
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(three),
                             f.Client(Bytes8(walk2.begin() + 4, walk2.end())), f.Server(replies)};
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ASSERT_EQ(c.frames.size(), 5u) << Notes(c);
  EXPECT_EQ(c.frames[0].bytes, TversionFrame());
  EXPECT_EQ(c.frames[1].bytes, TwalkFrame(1));
  EXPECT_EQ(c.frames[0].packet, 3u);
  EXPECT_EQ(c.frames[1].packet, 3u);
  EXPECT_EQ(c.frames[2].bytes, walk2);
  EXPECT_EQ(c.frames[2].packet, 4u);
  EXPECT_EQ(c.frames[3].bytes, RversionFrame());
  EXPECT_EQ(c.frames[4].bytes, RwalkFrame(1, Dialect::kXqid));
}

TEST(PcapTcp, MidStreamStartResynchronisesOnAFrameBoundary) {
  // No handshake, no version exchange: the capture starts in the middle of a Twrite (client)
  // and of an Rwalk (server).
  Flow f;
  const Bytes8 write = TwriteFrame(3, 200);
  const Bytes8 rwalk = RwalkFrame(1, Dialect::kXqid);
  Bytes8 client_tail(write.begin() + 50, write.end());
  Append(client_tail, TwalkFrame(4));
  Bytes8 server_tail(rwalk.begin() + 9, rwalk.end());
  Append(server_tail, RwriteFrame(3, 200));
  Append(server_tail, RwalkFrame(4, Dialect::kXqid));
  std::vector<Bytes8> ips = {f.Client(client_tail), f.Server(server_tail), f.Client(TwalkFrame(5))};
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ASSERT_EQ(c.conversations.size(), 1u);
  ASSERT_EQ(c.frames.size(), 4u) << Notes(c);
  EXPECT_EQ(c.frames[0].bytes, TwalkFrame(4));
  EXPECT_EQ(c.frames[1].bytes, RwriteFrame(3, 200));
  EXPECT_EQ(c.frames[2].bytes, RwalkFrame(4, Dialect::kXqid));
  EXPECT_EQ(c.frames[3].bytes, TwalkFrame(5));
  EXPECT_NE(Notes(c).find("mid-stream"), std::string::npos) << Notes(c);
  EXPECT_NE(Notes(c).find("client->server: skipped 173 bytes"), std::string::npos) << Notes(c);
  // No Tversion seen: the dialect is inferred from the Rwalk's 21-byte qid.
  auto decoded = DecodeCaptureFrames(c, std::nullopt);
  ASSERT_TRUE(decoded[2].decoded.has_value()) << decoded[2].decoded.error().Describe();
  EXPECT_EQ(decoded[2].wire.dialect, Dialect::kXqid);
  EXPECT_TRUE(decoded[2].dialect_inferred);
}

TEST(PcapTcp, ResyncIsNotHeldBackByAFalseHeaderInData) {
  // Mid-stream, the first bytes look like the header of a 1 MB Rread (inside some data) but are
  // not one: the real frames after them come out with their own packets, not at the end.
  Flow f;
  Bytes8 tail;
  PutLe32(tail, 1000000);
  Append(tail, {117, 9, 0});  // Rread, tag 9
  tail.resize(tail.size() + 20, 0);
  Append(tail, RwriteFrame(3, 200));
  std::vector<Bytes8> ips = {f.Server(tail), f.Server(Encode9p(4, Rclunk{})), f.Server(Encode9p(5, Rclunk{}))};
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ASSERT_EQ(c.frames.size(), 3u) << Notes(c);
  EXPECT_EQ(c.frames[0].bytes, RwriteFrame(3, 200));
  EXPECT_EQ(c.frames[0].packet, 1u);
  EXPECT_EQ(c.frames[1].packet, 2u);
  EXPECT_EQ(c.frames[2].packet, 3u);
  EXPECT_NE(Notes(c).find("server->client: skipped 27 bytes"), std::string::npos) << Notes(c);
}

TEST(PcapTcp, HoleNeverFilledIsDeclaredLostAndFramingResumes) {
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame())};
  f.Client(TwalkFrame(1));  // sent but not captured
  ips.push_back(f.Client(TwalkFrame(2)));
  ips.push_back(f.Client(TwalkFrame(3)));
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ASSERT_EQ(c.frames.size(), 4u) << Notes(c);
  EXPECT_EQ(c.frames[2].bytes, TwalkFrame(2));
  EXPECT_EQ(c.frames[3].bytes, TwalkFrame(3));
  // Given up at the end of the capture, yet each keeps the time of the packet that carried it.
  EXPECT_EQ(c.frames[2].packet, 5u);
  EXPECT_EQ(c.frames[3].packet, 6u);
  EXPECT_EQ(c.frames[3].timestamp_ns, kT0 + 5 * 1500 / 1000 * 1000);
  EXPECT_NE(Notes(c).find(std::to_string(TwalkFrame(1).size()) + " bytes never captured"), std::string::npos)
      << Notes(c);
}

TEST(PcapTcp, OutOfOrderBufferIsBounded) {
  // A hole followed by more than kMaxOutOfOrderBytes: the hole is given up on before the end.
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame())};
  f.Client(TwalkFrame(1));  // lost
  const Bytes8 write = TwriteFrame(9, 60000);
  size_t sent = 0;
  while (sent <= kMaxOutOfOrderBytes) {
    for (size_t at = 0; at < write.size(); at += 1448) {
      ips.push_back(f.Client(Bytes8(write.begin() + static_cast<ptrdiff_t>(at),
                                    write.begin() + static_cast<ptrdiff_t>(std::min(at + 1448, write.size())))));
    }
    sent += write.size();
  }
  const Capture c = MustParse(PcapFile(Timed(Link::kRaw, ips), 101, false, false));
  EXPECT_NE(Notes(c).find("gave up waiting for " + std::to_string(TwalkFrame(1).size()) + " bytes"), std::string::npos)
      << Notes(c);
  const size_t writes = static_cast<size_t>(std::count_if(c.frames.begin(), c.frames.end(),
                                                          [&](const CaptureFrame& fr) { return fr.bytes == write; }));
  EXPECT_EQ(writes, sent / write.size());
  // The first Twrite came out when the bound was hit, not at the end of the capture.
  const auto first = std::find_if(c.frames.begin(), c.frames.end(), [&](const CaptureFrame& fr) { return fr.bytes == write; });
  ASSERT_NE(first, c.frames.end());
  EXPECT_LT(first->packet, ips.size());
}

TEST(PcapTcp, ConnectionsOnOtherPortsAreIgnoredUnlessTheyStartWithTversion) {
  Flow web;
  web.sport = 80;
  Flow odd;
  odd.sport = 7777;
  std::vector<Bytes8> ips = {web.Syn(), web.SynAck(), web.Client({'G', 'E', 'T', ' ', '/', 'x', 'y', 'z'})};
  for (auto& ip : Exchange(odd)) ips.push_back(ip);
  const Bytes8 file = PcapFile(Timed(Link::kEthernet, ips), 1, false, false);
  const Capture c = MustParse(file);
  ASSERT_EQ(c.conversations.size(), 1u);
  EXPECT_EQ(c.conversations[0].server.port, 7777);
  EXPECT_EQ(c.frames.size(), 4u);
  // --port 80: only that port, no Tversion detection; nothing 9P there.
  CaptureOptions only80;
  only80.ports = {80};
  only80.detect_tversion = false;
  const Capture none = MustParse(file, only80);
  ASSERT_EQ(none.conversations.size(), 1u);
  EXPECT_TRUE(none.frames.empty()) << "GET is not a frame";
  CaptureOptions only7777;
  only7777.ports = {7777};
  only7777.detect_tversion = false;
  EXPECT_EQ(MustParse(file, only7777).frames.size(), 4u);
}

// ---- dialect per conversation -----------------------------------------------------------------

TEST(PcapDialect, XqidAfterRversionAndLegacyWhenDeclined) {
  Flow x;                 // offers xqid, server agrees
  Flow l;                 // offers xqid, server answers 9P2000.L
  l.cport = 40001;
  std::vector<Bytes8> ips = {x.Syn(), x.SynAck(), l.Syn(), l.SynAck()};
  ips.push_back(x.Client(TversionFrame("9P2000.L.xqid")));
  ips.push_back(l.Client(TversionFrame("9P2000.L.xqid")));
  ips.push_back(x.Server(RversionFrame("9P2000.L.xqid", 8192)));
  ips.push_back(l.Server(RversionFrame("9P2000.L", 16384)));
  ips.push_back(x.Client(TwalkFrame(1)));
  ips.push_back(l.Client(TwalkFrame(1)));
  ips.push_back(x.Server(RwalkFrame(1, Dialect::kXqid)));
  ips.push_back(l.Server(RwalkFrame(1, Dialect::kLegacy)));
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ASSERT_EQ(c.conversations.size(), 2u);
  ASSERT_EQ(c.frames.size(), 8u);
  auto decoded = DecodeCaptureFrames(c, std::nullopt);
  for (size_t i = 0; i < decoded.size(); ++i) {
    EXPECT_TRUE(decoded[i].decoded.has_value()) << i << ": " << decoded[i].decoded.error().Describe();
  }
  // Before the Rversion: legacy, msize bound kMaxMsize.
  EXPECT_EQ(decoded[0].wire.dialect, Dialect::kLegacy);
  EXPECT_EQ(decoded[2].wire.dialect, Dialect::kLegacy);  // the Rversion itself
  const auto& xr = decoded[6];
  const auto& lr = decoded[7];
  EXPECT_EQ(c.frames[6].conversation, 0u);
  EXPECT_EQ(xr.wire.dialect, Dialect::kXqid);
  EXPECT_EQ(xr.wire.msize, 8192u);
  EXPECT_EQ(std::get<Rwalk>(xr.decoded->msg).wqids.qids[0].path_hi, 7u);
  EXPECT_EQ(lr.wire.dialect, Dialect::kLegacy);
  EXPECT_EQ(lr.wire.msize, 16384u);
  EXPECT_EQ(c.frames[7].bytes.size(), 7u + 2 + 13);
  EXPECT_EQ(c.frames[6].bytes.size(), 7u + 2 + 21);

  // --dialect legacy forces every frame: the xqid Rwalk then fails, and says why.
  auto forced = DecodeCaptureFrames(c, Dialect::kLegacy);
  ASSERT_FALSE(forced[6].decoded.has_value());
  EXPECT_EQ(forced[6].decoded.error().kind, CodecErrorKind::kDialectMismatch);
  EXPECT_TRUE(forced[7].decoded.has_value());
}

TEST(PcapDialect, MsizeFromRversionBoundsLaterFrames) {
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame("9P2000.L.xqid", 4096)),
                             f.Client(TwriteFrame(2, 5000))};
  const Capture c = MustParse(PcapFile(Timed(Link::kEthernet, ips), 1, false, false));
  ASSERT_EQ(c.frames.size(), 3u);
  auto decoded = DecodeCaptureFrames(c, std::nullopt);
  ASSERT_FALSE(decoded[2].decoded.has_value());
  EXPECT_EQ(decoded[2].decoded.error().kind, CodecErrorKind::kFrameTooLarge);
}

// ---- damaged files ------------------------------------------------------------------------

TEST(PcapErrors, NotACapture) {
  const Bytes8 text = {'h', 'e', 'l', 'l', 'o', '\n'};
  EXPECT_FALSE(LooksLikeCapture(text));
  auto parsed = ParseCapture(text);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().kind, CaptureError::Kind::kNotACapture);
  EXPECT_FALSE(ParseCapture(Bytes8{}).has_value());
}

// A capture cut anywhere after its header (dumpcap killed, a file still being written) keeps the
// frames of every whole packet before the cut, and a note says where it ends; a cut inside the
// header is a clear error.
TEST(PcapErrors, EveryTruncationKeepsTheWholePacketsOrIsAClearError) {
  Flow f;
  const auto packets = Timed(Link::kEthernet, Exchange(f));
  const Bytes8 pcap = PcapFile(packets, 1, false, false);
  const Bytes8 pcapng = PcapngFile({{1, -1}}, packets, true);
  for (const Bytes8* file : {&pcap, &pcapng}) {
    EXPECT_TRUE(LooksLikeCapture(*file));
    auto whole = ParseCapture(*file);
    ASSERT_TRUE(whole);
    size_t previous_frames = 0, errors = 0, noted = 0;
    for (size_t cut = 4; cut < file->size(); ++cut) {
      const Bytes8 prefix(file->begin(), file->begin() + static_cast<ptrdiff_t>(cut));
      auto parsed = ParseCapture(prefix);
      if (!parsed) {
        ++errors;
        EXPECT_EQ(parsed.error().kind, CaptureError::Kind::kTruncated) << cut << ": " << parsed.error().Describe();
        EXPECT_EQ(previous_frames, 0u) << cut << ": an error after whole packets were read";
        continue;
      }
      // Frames only ever grow with the cut, and each is one of the whole capture's frames.
      EXPECT_GE(parsed->frames.size(), previous_frames) << cut;
      ASSERT_LE(parsed->frames.size(), whole->frames.size()) << cut;
      for (size_t i = 0; i < parsed->frames.size(); ++i) {
        EXPECT_EQ(parsed->frames[i].bytes, whole->frames[i].bytes) << cut << " frame " << i;
      }
      previous_frames = parsed->frames.size();
      for (const std::string& n : parsed->notes) noted += n.find("capture file truncated at byte") != std::string::npos;
    }
    EXPECT_GT(errors, 0u);                    // inside the file header
    EXPECT_GT(noted, file->size() / 2);       // most cuts fall inside a record
    EXPECT_EQ(previous_frames, whole->frames.size() - 1);  // the last cut loses the last packet's frame
  }
  // The note names the packet.
  const Bytes8 cut(pcap.begin(), pcap.end() - 3);
  auto parsed = ParseCapture(cut);
  ASSERT_TRUE(parsed.has_value());
  bool named = false;
  for (const std::string& n : parsed->notes) named = named || n.find("packet 6") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(PcapErrors, MalformedBlockLength) {
  Flow f;
  Bytes8 file = PcapngFile({{1, -1}}, Timed(Link::kEthernet, Exchange(f)), false);
  file[4] = 13;  // SHB length not a multiple of 4
  auto parsed = ParseCapture(file);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().kind, CaptureError::Kind::kMalformed);
}

TEST(PcapErrors, SnaplenCutSegmentIsALossNotACrash) {
  Flow f;
  std::vector<Bytes8> ips = {f.Syn(), f.SynAck(), f.Client(TversionFrame()), f.Server(RversionFrame())};
  Bytes8 big = f.Client(TwriteFrame(2, 1000));
  ips.push_back(Bytes8(big.begin(), big.begin() + 100));  // captured with a 100-byte snaplen
  ips.push_back(f.Client(TwalkFrame(3)));
  const Capture c = MustParse(PcapFile(Timed(Link::kRaw, ips), 101, false, false));
  ASSERT_EQ(c.frames.size(), 3u) << Notes(c);
  EXPECT_EQ(c.frames[2].bytes, TwalkFrame(3));
  EXPECT_NE(Notes(c).find("snaplen"), std::string::npos) << Notes(c);
}

TEST(PcapErrors, DamagedCapturesNeverCrash) {
  // Deterministic byte flips over captures of every container and several link types: each
  // parse ends in a capture or an error, and every frame it returns is a whole frame.
  std::vector<Bytes8> files;
  for (const Link link : {Link::kEthernet, Link::kVlan, Link::kSll2, Link::kRaw}) {
    Flow f;
    f.v6 = link == Link::kSll2;
    f.ext = f.v6;
    const auto packets = Timed(link, Exchange(f));
    files.push_back(PcapFile(packets, LinkType(link), link == Link::kVlan, true));
    files.push_back(PcapngFile({{LinkType(link), 9}}, packets, link == Link::kRaw));
  }
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  size_t parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    Bytes8 file = files[next() % files.size()];
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int i = 0; i < flips; ++i) file[next() % file.size()] = static_cast<uint8_t>(next());
    if (next() % 4 == 0) file.resize(next() % file.size());
    auto result = ParseCapture(file);
    if (!result) continue;
    ++parsed;
    for (const auto& fr : result->frames) {
      ASSERT_GE(fr.bytes.size(), 7u);
      ASSERT_EQ(fr.bytes.size(), uint32_t{fr.bytes[0]} | uint32_t{fr.bytes[1]} << 8 | uint32_t{fr.bytes[2]} << 16 |
                                     uint32_t{fr.bytes[3]} << 24);
      ASSERT_LT(fr.conversation, result->conversations.size());
    }
    (void)DecodeCaptureFrames(*result, std::nullopt);
  }
  EXPECT_GT(parsed, 100u);
}

}  // namespace
}  // namespace p9x::client::pcap
