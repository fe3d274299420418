// SPDX-License-Identifier: MIT
#include "client/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <random>
#include <thread>

#include "client/fake_peer_test_util.h"
#include "codec/messages.h"

namespace p9x::client {
namespace {

using testing::FakePeer;

std::vector<uint8_t> EncodeT(const auto& msg) {
  std::vector<uint8_t> bytes(EncodedSize(msg, Dialect::kLegacy));
  auto n = Encode(0, msg, WireContext{Dialect::kLegacy, kMaxMsize}, bytes);
  EXPECT_TRUE(n.has_value());
  return bytes;
}

struct Fixture {
  Fixture() {
    auto [transport, p] = FakePeer::Pair();
    peer = std::move(p);
    connection = std::make_unique<Connection>(std::move(transport));
    connection->SetWire(WireContext{Dialect::kLegacy, 8192});
  }
  std::unique_ptr<FakePeer> peer;
  std::unique_ptr<Connection> connection;
};

uint32_t ReadCount(const RawFrame& frame) {
  Rread r{};
  EXPECT_TRUE(DecodeInto(frame.bytes, WireContext{}, &r).has_value());
  return static_cast<uint32_t>(r.data.bytes.size());
}

TEST(ClientConnection, RepliesOutOfOrderReachTheirCalls) {
  Fixture f;
  std::vector<RawCall> calls;
  for (uint32_t i = 0; i < 3; ++i) {
    auto call = f.connection->Start(EncodeT(Tread{i, 0, 100}));
    ASSERT_TRUE(call.has_value());
    calls.push_back(std::move(*call));
  }
  std::vector<std::pair<uint16_t, uint32_t>> seen;  // tag, fid
  for (int i = 0; i < 3; ++i) {
    RawFrame keep;
    uint16_t tag;
    auto t = f.peer->Expect<Tread>(&keep, &tag);
    seen.emplace_back(tag, t.fid);
  }
  // Answer in reverse order; the reply to fid N carries N+1 bytes.
  for (auto it = seen.rbegin(); it != seen.rend(); ++it) {
    std::vector<uint8_t> data(it->second + 1, 'x');
    f.peer->Send(it->first, Rread{Bytes{data}});
  }
  for (uint32_t i = 0; i < 3; ++i) {
    auto frame = calls[i].Wait(std::chrono::seconds(5));
    ASSERT_TRUE(frame.has_value()) << frame.error().Describe();
    EXPECT_EQ(frame->tag(), calls[i].tag());
    EXPECT_EQ(ReadCount(*frame), i + 1);
  }
  EXPECT_EQ(f.connection->tags_in_use(), 0u);
}

TEST(ClientConnection, HundredsOfCallsInFlightAnsweredShuffled) {
  Fixture f;
  constexpr uint32_t kCalls = 300;
  std::vector<std::pair<uint16_t, uint32_t>> seen;
  // The peer reads while the client sends: a socketpair buffers only so many small frames.
  std::thread reader([&] {
    for (uint32_t i = 0; i < kCalls; ++i) {
      RawFrame keep;
      uint16_t tag;
      auto t = f.peer->Expect<Tread>(&keep, &tag);
      seen.emplace_back(tag, t.fid);
    }
  });
  std::vector<RawCall> calls;
  for (uint32_t i = 0; i < kCalls; ++i) {
    auto call = f.connection->Start(EncodeT(Tread{i, 0, 100}));
    ASSERT_TRUE(call.has_value());
    calls.push_back(std::move(*call));
  }
  reader.join();
  ASSERT_EQ(seen.size(), kCalls);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
            seen.end())
      << "two calls in flight shared a tag";
  std::mt19937 rng(42);
  std::shuffle(seen.begin(), seen.end(), rng);
  for (const auto& [tag, fid] : seen) {
    std::vector<uint8_t> data(fid % 50, 'y');
    f.peer->Send(tag, Rread{Bytes{data}});
  }
  for (uint32_t i = 0; i < kCalls; ++i) {
    auto frame = calls[i].Wait(std::chrono::seconds(5));
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(ReadCount(*frame), i % 50);
  }
}

TEST(ClientConnection, FrameWithUnknownTagGoesToReceiveFrame) {
  Fixture f;
  f.peer->Send(77, Rclunk{});
  auto frame = f.connection->ReceiveFrame(std::chrono::seconds(5));
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->tag(), 77);
  EXPECT_EQ(frame->type(), static_cast<uint8_t>(MsgType::kRclunk));
  auto decoded = frame->Decode(f.connection->wire());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(std::holds_alternative<Rclunk>(decoded->msg));
}

TEST(ClientConnection, FloodOfUnsolicitedRepliesFailsTheConnectionInsteadOfGrowing) {
  Fixture f;
  // Nobody takes unclaimed frames: past 4096 of them the connection fails (a protocol error)
  // rather than queueing whatever the server sends.
  // One send of 5000 Rclunk frames (7 bytes each), so that the peer never blocks on a socket
  // buffer full of small sends once the connection has stopped reading.
  std::vector<uint8_t> flood;
  for (int i = 0; i < 5000; ++i) {
    const uint16_t tag = static_cast<uint16_t>(1000 + i);
    const uint8_t frame[7] = {7, 0, 0, 0, static_cast<uint8_t>(MsgType::kRclunk), static_cast<uint8_t>(tag & 0xFF),
                              static_cast<uint8_t>(tag >> 8)};
    flood.insert(flood.end(), frame, frame + 7);
  }
  f.peer->SendBytes(flood);
  for (int i = 0; i < 500 && !f.connection->failure(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(f.connection->failure().has_value());
  EXPECT_EQ(f.connection->failure()->code, Errno::kEPROTO);
  EXPECT_NE(f.connection->failure()->detail.find("answer no request in flight"), std::string::npos);
  EXPECT_LE(f.connection->queued_frames(), 4096u);
}

TEST(ClientConnection, RawSendWithReservedTagIsReceivedRaw) {
  Fixture f;
  ASSERT_TRUE(f.connection->ReserveTag(5));
  EXPECT_FALSE(f.connection->ReserveTag(5));
  ASSERT_TRUE(f.connection->Send(5, Tclunk{9}).has_value());
  RawFrame keep;
  uint16_t tag;
  EXPECT_EQ(f.peer->Expect<Tclunk>(&keep, &tag).fid, 9u);
  EXPECT_EQ(tag, 5);
  f.peer->Send(5, Rclunk{});
  auto frame = f.connection->ReceiveFrame(std::chrono::seconds(5));
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->tag(), 5);
  // Started calls never get a reserved tag.
  for (int i = 0; i < 10; ++i) {
    auto t = f.connection->AllocateTag();
    ASSERT_TRUE(t.has_value());
    EXPECT_NE(*t, 5);
  }
}

TEST(ClientConnection, FlushWhoseReplyCameFirstDeliversTheReply) {
  Fixture f;
  auto call = f.connection->Start(EncodeT(Tread{1, 0, 10}));
  ASSERT_TRUE(call.has_value());
  auto flushed = std::async(std::launch::async, [&] { return call->Flush(std::chrono::seconds(5)); });
  RawFrame k1, k2;
  uint16_t read_tag, flush_tag;
  f.peer->Expect<Tread>(&k1, &read_tag);
  auto tflush = f.peer->Expect<Tflush>(&k2, &flush_tag);
  EXPECT_EQ(tflush.oldtag, read_tag);
  const uint8_t data[] = {'a', 'b'};
  f.peer->Send(read_tag, Rread{Bytes{data}});
  // A frame with an unclaimed tag after the Rread: once ReceiveFrame returns it, the reader
  // has routed the Rread (frames are routed in order).
  f.peer->Send(999, Rclunk{});
  ASSERT_TRUE(f.connection->ReceiveFrame(std::chrono::seconds(5)).has_value());
  // flush(5): oldtag may not be reused before the Rflush: both tags are still taken.
  EXPECT_EQ(f.connection->tags_in_use(), 2u);
  f.peer->Send(flush_tag, Rflush{});
  auto result = flushed.get();
  ASSERT_TRUE(result.has_value()) << result.error().Describe();
  EXPECT_EQ(result->type(), static_cast<uint8_t>(MsgType::kRread));
  EXPECT_EQ(ReadCount(*result), 2u);
  EXPECT_EQ(f.connection->tags_in_use(), 0u);
}

TEST(ClientConnection, FlushAnsweredFirstCancelsTheCall) {
  Fixture f;
  auto call = f.connection->Start(EncodeT(Tread{1, 0, 10}));
  ASSERT_TRUE(call.has_value());
  auto flushed = std::async(std::launch::async, [&] { return call->Flush(std::chrono::seconds(5)); });
  RawFrame k1, k2;
  uint16_t read_tag, flush_tag;
  f.peer->Expect<Tread>(&k1, &read_tag);
  f.peer->Expect<Tflush>(&k2, &flush_tag);
  f.peer->Send(flush_tag, Rflush{});
  auto result = flushed.get();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, Error::Kind::kCancelled);
  EXPECT_EQ(result.error().code, Errno::kECANCELED);
  EXPECT_EQ(f.connection->tags_in_use(), 0u);
  // A (non-conforming) reply after the Rflush claims nothing: it shows up raw.
  const uint8_t data[] = {'z'};
  f.peer->Send(read_tag, Rread{Bytes{data}});
  auto late = f.connection->ReceiveFrame(std::chrono::seconds(5));
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->tag(), read_tag);
}

TEST(ClientConnection, FlushWithoutRflushTimesOutAndKeepsTheTag) {
  Fixture f;
  auto call = f.connection->Start(EncodeT(Tread{1, 0, 10}));
  ASSERT_TRUE(call.has_value());
  RawFrame k1;
  uint16_t read_tag;
  f.peer->Expect<Tread>(&k1, &read_tag);
  auto result = call->Flush(std::chrono::milliseconds(50));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, Error::Kind::kTimeout);
  EXPECT_EQ(f.connection->tags_in_use(), 2u);  // neither tag may be reused yet
  for (int i = 0; i < 100; ++i) {
    auto t = f.connection->AllocateTag();
    ASSERT_TRUE(t.has_value());
    EXPECT_NE(*t, read_tag);
    f.connection->ReleaseTag(*t);
  }
}

TEST(ClientConnection, WaitTimeoutLeavesTheCallInFlight) {
  Fixture f;
  auto call = f.connection->Start(EncodeT(Tclunk{3}));
  ASSERT_TRUE(call.has_value());
  auto first = call->Wait(std::chrono::milliseconds(20));
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().kind, Error::Kind::kTimeout);
  EXPECT_EQ(first.error().code, Errno::kETIMEDOUT);
  RawFrame keep;
  uint16_t tag;
  f.peer->Expect<Tclunk>(&keep, &tag);
  f.peer->Send(tag, Rclunk{});
  auto second = call->Wait(std::chrono::seconds(5));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->type(), static_cast<uint8_t>(MsgType::kRclunk));
}

TEST(ClientConnection, PeerHangupFailsCallsInFlight) {
  Fixture f;
  auto call = f.connection->Start(EncodeT(Tclunk{3}));
  ASSERT_TRUE(call.has_value());
  RawFrame keep;
  f.peer->Expect<Tclunk>(&keep);
  f.peer->Close();
  auto result = call->Wait(std::chrono::seconds(5));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, Error::Kind::kTransport);
  EXPECT_EQ(result.error().code, Errno::kECONNRESET);
  auto next = f.connection->Start(EncodeT(Tclunk{4}));
  EXPECT_FALSE(next.has_value());
}

TEST(ClientConnection, FrameLargerThanMsizeEndsTheConnection) {
  Fixture f;
  auto call = f.connection->Start(EncodeT(Tclunk{3}));
  ASSERT_TRUE(call.has_value());
  const uint32_t size = 8192 + 1;
  std::vector<uint8_t> header = {static_cast<uint8_t>(size), static_cast<uint8_t>(size >> 8), 0, 0, 117, 0, 0};
  f.peer->SendBytes(header);
  auto result = call->Wait(std::chrono::seconds(5));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, Error::Kind::kProtocol);
  EXPECT_NE(result.error().detail.find("over msize 8192"), std::string::npos) << result.error().detail;
}

TEST(ClientConnection, AbortCallsFailsEverythingInFlight) {
  Fixture f;
  auto a = f.connection->Start(EncodeT(Tclunk{1}));
  auto b = f.connection->Start(EncodeT(Tclunk{2}));
  ASSERT_TRUE(a.has_value() && b.has_value());
  f.connection->AbortCalls(Error::Transport(Errno::kECANCELED, "aborted by Tversion"));
  EXPECT_EQ(a->Wait(std::chrono::seconds(1)).error().code, Errno::kECANCELED);
  EXPECT_EQ(b->Wait(std::chrono::seconds(1)).error().code, Errno::kECANCELED);
  EXPECT_EQ(f.connection->tags_in_use(), 0u);
}

TEST(ClientTransport, ParsesEveryTargetForm) {
  auto tcp = ParseTarget("tcp:127.0.0.1:564");
  ASSERT_TRUE(tcp.has_value());
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, "564");
  auto tcp6 = ParseTarget("tcp:[::1]:5640");
  ASSERT_TRUE(tcp6.has_value());
  EXPECT_EQ(tcp6->host, "::1");
  auto tcp6bare = ParseTarget("tcp:::1:5640");
  ASSERT_TRUE(tcp6bare.has_value());
  EXPECT_EQ(tcp6bare->host, "::1");
  auto unix_target = ParseTarget("unix:/run/p9.sock");
  ASSERT_TRUE(unix_target.has_value());
  EXPECT_EQ(unix_target->path, "/run/p9.sock");
  auto exec = ParseTarget("exec:p9xd --stdio");
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exec->command, "p9xd --stdio");
  for (const char* bad : {"127.0.0.1:564", "tcp:host", "tcp:host:port", "unix:", "exec:", ""}) {
    auto r = ParseTarget(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, Errno::kEINVAL);
  }
}

TEST(ClientTransport, RefusedTcpConnectionCarriesEconnrefused) {
  // Bind a port, then close it: nothing listens there.
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);
  auto t = Transport::Dial("tcp:127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, Errno::kECONNREFUSED);
}

// Listens on `addr`, dials `target_prefix` + the bound port/path, and checks a frame crosses.
void ExpectDialReaches(int family, sockaddr* addr, socklen_t len, const std::string& target) {
  const int listener = socket(family, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  ASSERT_EQ(bind(listener, addr, len), 0) << std::strerror(errno);
  ASSERT_EQ(listen(listener, 1), 0);
  std::string full = target;
  if (family == AF_INET6) {
    sockaddr_in6 bound{};
    socklen_t n = sizeof bound;
    getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &n);
    full += std::to_string(ntohs(bound.sin6_port));
  }
  auto t = Transport::Dial(full);
  ASSERT_TRUE(t.has_value()) << full << ": " << t.error().Describe();
  const int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  FakePeer peer(accepted);
  Connection connection(std::move(*t));
  ASSERT_TRUE(connection.Send(3, Tclunk{1}).has_value());
  RawFrame keep;
  EXPECT_EQ(peer.Expect<Tclunk>(&keep).fid, 1u);
  close(listener);
}

TEST(ClientTransport, DialsIpv6Loopback) {
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  ExpectDialReaches(AF_INET6, reinterpret_cast<sockaddr*>(&addr), sizeof addr, "tcp:[::1]:");
}

TEST(ClientTransport, DialsUnixSocket) {
  char dir[] = "/tmp/p9x-unix-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ExpectDialReaches(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), sizeof addr, "unix:" + path);
  unlink(path.c_str());
  rmdir(dir);
}

TEST(ClientTransport, ExecRunsTheCommandOnASocketpair) {
  // `cat` echoes what it reads: a Tclunk sent comes back as an unclaimed frame.
  auto t = Transport::Dial("exec:cat");
  ASSERT_TRUE(t.has_value()) << t.error().Describe();
  EXPECT_GT(t->child(), 0);
  Connection connection(std::move(*t));
  ASSERT_TRUE(connection.Send(12, Tclunk{7}).has_value());
  auto echoed = connection.ReceiveFrame(std::chrono::seconds(5));
  ASSERT_TRUE(echoed.has_value());
  EXPECT_EQ(echoed->tag(), 12);
  EXPECT_EQ(echoed->type(), static_cast<uint8_t>(MsgType::kTclunk));
}

}  // namespace
}  // namespace p9x::client
