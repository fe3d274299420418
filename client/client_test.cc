// SPDX-License-Identifier: MIT
#include "client/client.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <thread>

#include "client/fake_peer_test_util.h"
#include "codec/dirent.h"

namespace p9x::client {
namespace {

using negotiation::DialectChoice;
using testing::FakePeer;
using testing::PeerDialer;

Options TestOptions(DialectChoice choice = DialectChoice::kAuto) {
  Options o;
  o.target = "fake";
  o.dialect = choice;
  o.msize = 8192;
  o.timeout = std::chrono::seconds(5);
  return o;
}

// Answers one Tversion with `version` (msize echoed).
void AnswerVersion(FakePeer& peer, std::string_view version, std::string* offered = nullptr) {
  RawFrame keep;
  uint16_t tag;
  auto t = peer.Expect<Tversion>(&keep, &tag);
  EXPECT_EQ(tag, kNoTag);
  if (offered) *offered = std::string(t.version);
  peer.Send(kNoTag, Rversion{t.msize, version});
}

// A client negotiated in `dialect` with an attached root (fid 0, qid path 1).
struct Session {
  PeerDialer dialer;
  std::unique_ptr<FakePeer> peer;
  std::unique_ptr<Client> client;
  Fid root;

  explicit Session(Dialect dialect) {
    auto connecting = std::async(std::launch::async, [&] { return Client::Connect(TestOptions(), dialer.dialer()); });
    peer = dialer.Next();
    AnswerVersion(*peer, dialect == Dialect::kXqid ? "9P2000.L.xqid" : "9P2000.L");
    auto c = connecting.get();
    EXPECT_TRUE(c.has_value());
    client = std::move(*c);
    peer->set_wire(WireContext{dialect, kMaxMsize});
    auto attaching = std::async(std::launch::async, [&] { return client->AttachRoot("u", "/x"); });
    RawFrame keep;
    uint16_t tag;
    peer->Expect<Tattach>(&keep, &tag);
    peer->Send(tag, Rattach{Qid{kQtDir, 0, 1, dialect == Dialect::kXqid ? 7u : 0u}});
    auto r = attaching.get();
    EXPECT_TRUE(r.has_value());
    root = std::move(*r);
  }
  ~Session() {
    // Dropping root sends Tclunk; answer it so teardown does not wait for the timeout.
    auto dropping = std::async(std::launch::async, [&] { root = Fid(); });
    if (auto f = peer->Read()) peer->Send(f->tag(), Rclunk{});
    dropping.get();
  }
};

// ---- The version ladder, end to end ----

TEST(ClientLadder, AgreesXqidWhenTheServerAccepts) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(TestOptions(), dialer.dialer()); });
  auto peer = dialer.Next();
  std::string offered;
  AnswerVersion(*peer, "9P2000.L.xqid", &offered);
  EXPECT_EQ(offered, "9P2000.L.xqid");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  EXPECT_EQ((*client)->negotiated().dialect, Dialect::kXqid);
  EXPECT_EQ((*client)->negotiated().version, "9P2000.L.xqid");
  EXPECT_EQ((*client)->negotiated().msize, 8192u);
  EXPECT_EQ((*client)->wire().dialect, Dialect::kXqid);
  EXPECT_EQ((*client)->negotiated().connections, 1);
}

TEST(ClientLadder, FallsBackOnRversionUnknown) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(TestOptions(), dialer.dialer()); });
  auto peer = dialer.Next();
  AnswerVersion(*peer, "unknown");
  std::string second;
  AnswerVersion(*peer, "9P2000.L", &second);
  EXPECT_EQ(second, "9P2000.L");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  EXPECT_EQ((*client)->negotiated().dialect, Dialect::kLegacy);
  EXPECT_EQ((*client)->negotiated().history.size(), 2u);
}

TEST(ClientLadder, FallsBackOnRlerrorEio) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(TestOptions(), dialer.dialer()); });
  auto peer = dialer.Next();
  RawFrame keep;
  peer->Expect<Tversion>(&keep);
  peer->Send(kNoTag, Rlerror{5});  // diod 1.0.24
  AnswerVersion(*peer, "9P2000.L");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  EXPECT_EQ((*client)->negotiated().dialect, Dialect::kLegacy);
  EXPECT_NE((*client)->negotiated().history[0].find("EIO"), std::string::npos) << (*client)->negotiated().history[0];
}

TEST(ClientLadder, FallsBackOnType107Errno) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(TestOptions(), dialer.dialer()); });
  auto peer = dialer.Next();
  RawFrame keep;
  peer->Expect<Tversion>(&keep);
  peer->SendType107Errno(kNoTag, 2);  // nfs-ganesha 4.3: ENOENT
  AnswerVersion(*peer, "9P2000.L");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  EXPECT_EQ((*client)->negotiated().dialect, Dialect::kLegacy);
}

TEST(ClientLadder, ReconnectsWhenTheServerHangsUpOnXqid) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(TestOptions(), dialer.dialer()); });
  auto first = dialer.Next();
  RawFrame keep;
  first->Expect<Tversion>(&keep);
  first->Close();
  auto second = dialer.Next();
  ASSERT_NE(second, nullptr);
  std::string offered;
  AnswerVersion(*second, "9P2000.L", &offered);
  EXPECT_EQ(offered, "9P2000.L");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  EXPECT_EQ((*client)->negotiated().connections, 2);
  EXPECT_EQ(dialer.dials(), 2);
  EXPECT_EQ((*client)->negotiated().dialect, Dialect::kLegacy);
}

TEST(ClientLadder, XqidOnlyFailsAgainstALegacyServer) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] {
    return Client::Connect(TestOptions(DialectChoice::kXqidOnly), dialer.dialer());
  });
  auto peer = dialer.Next();
  RawFrame keep;
  peer->Expect<Tversion>(&keep);
  peer->Send(kNoTag, Rlerror{5});
  auto client = connecting.get();
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().kind, Error::Kind::kNegotiation);
  EXPECT_NE(client.error().detail.find("9P2000.L.xqid"), std::string::npos) << client.error().detail;
}

TEST(ClientLadder, LegacyOnlyOffersPlain9P2000L) {
  PeerDialer dialer;
  auto connecting = std::async(std::launch::async, [&] {
    return Client::Connect(TestOptions(DialectChoice::kLegacyOnly), dialer.dialer());
  });
  auto peer = dialer.Next();
  std::string offered;
  AnswerVersion(*peer, "9P2000.L", &offered);
  EXPECT_EQ(offered, "9P2000.L");
  ASSERT_TRUE(connecting.get().has_value());
}

// spec/xqid.md §4.3: an unanswered Tversion counts as a closed connection.
TEST(ClientLadder, UnansweredXqidOfferFallsBackOnANewConnection) {
  PeerDialer dialer;
  Options o = TestOptions();
  o.timeout = std::chrono::milliseconds(50);
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(o, dialer.dialer()); });
  auto first = dialer.Next();
  RawFrame keep;
  first->Expect<Tversion>(&keep);
  auto second = dialer.Next();
  ASSERT_NE(second, nullptr);
  std::string offered;
  AnswerVersion(*second, "9P2000.L", &offered);
  EXPECT_EQ(offered, "9P2000.L");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value()) << client.error().Describe();
  EXPECT_EQ((*client)->negotiated().connections, 2);
  EXPECT_EQ((*client)->negotiated().dialect, Dialect::kLegacy);
}

TEST(ClientLadder, UnansweredTversionTimesOut) {
  PeerDialer dialer;
  Options o = TestOptions();
  o.timeout = std::chrono::milliseconds(50);
  o.dialect = negotiation::DialectChoice::kLegacyOnly;
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(o, dialer.dialer()); });
  auto peer = dialer.Next();
  RawFrame keep;
  peer->Expect<Tversion>(&keep);
  auto client = connecting.get();
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().kind, Error::Kind::kTimeout);
}

// ---- Errors ----

TEST(ClientErrors, RlerrorBecomesErrnoValue) {
  Session s(Dialect::kLegacy);
  auto walking = std::async(std::launch::async, [&] { return s.root.Walk("nope"); });
  RawFrame keep;
  uint16_t tag;
  s.peer->Expect<Twalk>(&keep, &tag);
  s.peer->Send(tag, Rlerror{2});
  auto r = walking.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::kRemote);
  EXPECT_EQ(r.error().code, Errno::kENOENT);
  EXPECT_EQ(r.error().Describe(), "ENOENT (No such file or directory)");
  EXPECT_EQ(s.client->fids_in_use(), 1u);  // only the root: the failed newfid went back
}

TEST(ClientErrors, Type107ErrnoIsAcceptedOnAnyRequest) {
  Session s(Dialect::kLegacy);
  auto getting = std::async(std::launch::async, [&] { return s.root.GetAttr(); });
  RawFrame keep;
  uint16_t tag;
  s.peer->Expect<Tgetattr>(&keep, &tag);
  s.peer->SendType107Errno(tag, 13);  // nfs-ganesha sends every error so
  auto r = getting.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::kRemote);
  EXPECT_EQ(r.error().code, Errno::kEACCES);
}

TEST(ClientErrors, WrongReplyTypeIsAProtocolError) {
  Session s(Dialect::kLegacy);
  auto getting = std::async(std::launch::async, [&] { return s.root.GetAttr(); });
  RawFrame keep;
  uint16_t tag;
  s.peer->Expect<Tgetattr>(&keep, &tag);
  s.peer->Send(tag, Rclunk{});
  auto r = getting.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::kProtocol);
  EXPECT_NE(r.error().detail.find("Rclunk"), std::string::npos);
}

TEST(ClientErrors, TimeoutFlushesTheRequest) {
  PeerDialer dialer;
  Options o = TestOptions();
  o.timeout = std::chrono::milliseconds(50);
  auto connecting = std::async(std::launch::async, [&] { return Client::Connect(o, dialer.dialer()); });
  auto peer = dialer.Next();
  AnswerVersion(*peer, "9P2000.L");
  auto client = connecting.get();
  ASSERT_TRUE(client.has_value());
  auto statting = std::async(std::launch::async, [&] { return (*client)->Statfs(0); });
  RawFrame k1, k2;
  uint16_t tag, flush_tag;
  peer->Expect<Tstatfs>(&k1, &tag);
  auto tflush = peer->Expect<Tflush>(&k2, &flush_tag);  // sent once the 50 ms pass
  EXPECT_EQ(tflush.oldtag, tag);
  peer->Send(flush_tag, Rflush{});
  auto r = statting.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::kTimeout);
  EXPECT_EQ((*client)->connection().tags_in_use(), 0u);
}

// ---- Fids and splitting ----

TEST(ClientFids, DroppedFidIsClunked) {
  Session s(Dialect::kXqid);
  EXPECT_EQ(s.root.qid().path_hi, 7u);
  uint32_t newfid = 0;
  {
    auto walking = std::async(std::launch::async, [&] { return s.root.Walk("a"); });
    RawFrame keep;
    uint16_t tag;
    auto t = s.peer->Expect<Twalk>(&keep, &tag);
    newfid = t.newfid;
    Rwalk rwalk;
    rwalk.wqids.count = 1;
    rwalk.wqids.qids[0] = Qid{0, 0, 42, 7};
    s.peer->Send(tag, rwalk);
    auto fid = walking.get();
    ASSERT_TRUE(fid.has_value());
    EXPECT_EQ(fid->qid().path, 42u);
    EXPECT_EQ(fid->qid().path_hi, 7u);
    EXPECT_EQ(s.client->fids_in_use(), 2u);
    auto dropping = std::async(std::launch::async, [f = std::move(*fid)]() mutable { f = Fid(); });
    auto clunk = s.peer->Expect<Tclunk>(&keep, &tag);
    EXPECT_EQ(clunk.fid, newfid);
    s.peer->Send(tag, Rclunk{});
    dropping.get();
  }
  EXPECT_EQ(s.client->fids_in_use(), 1u);
}

TEST(ClientFids, WalkOfMoreThanSixteenNamesGoesInSteps) {
  Session s(Dialect::kLegacy);
  std::string path;
  for (int i = 0; i < 20; ++i) path += "d" + std::to_string(i) + "/";
  auto walking = std::async(std::launch::async, [&] { return s.root.Walk(path); });
  RawFrame keep;
  uint16_t tag;
  auto first = s.peer->Expect<Twalk>(&keep, &tag);
  EXPECT_EQ(first.fid, 0u);
  EXPECT_EQ(first.wnames.count, 16);
  Rwalk r1;
  r1.wqids.count = 16;
  s.peer->Send(tag, r1);
  auto second = s.peer->Expect<Twalk>(&keep, &tag);
  EXPECT_EQ(second.fid, first.newfid);  // continues from the new fid
  EXPECT_EQ(second.newfid, first.newfid);
  EXPECT_EQ(second.wnames.count, 4);
  EXPECT_EQ(second.wnames.names[3], "d19");
  Rwalk r2;
  r2.wqids.count = 4;
  r2.wqids.qids[3] = Qid{kQtDir, 0, 99, 0};
  s.peer->Send(tag, r2);
  auto fid = walking.get();
  ASSERT_TRUE(fid.has_value());
  EXPECT_EQ(fid->qid().path, 99u);
  auto dropping = std::async(std::launch::async, [f = std::move(*fid)]() mutable { f = Fid(); });
  s.peer->Expect<Tclunk>(&keep, &tag);
  s.peer->Send(tag, Rclunk{});
  dropping.get();
}

TEST(ClientFids, PartialWalkIsEnoentAndCreatesNoFid) {
  Session s(Dialect::kLegacy);
  auto walking = std::async(std::launch::async, [&] { return s.root.Walk("a/b/c"); });
  RawFrame keep;
  uint16_t tag;
  s.peer->Expect<Twalk>(&keep, &tag);
  Rwalk r;
  r.wqids.count = 1;  // "a" walked, "b" not: walk(5) says newfid is not created
  s.peer->Send(tag, r);
  auto fid = walking.get();
  ASSERT_FALSE(fid.has_value());
  EXPECT_EQ(fid.error().code, Errno::kENOENT);
  EXPECT_NE(fid.error().detail.find("\"b\""), std::string::npos) << fid.error().detail;
  EXPECT_EQ(s.client->fids_in_use(), 1u);
}

TEST(ClientFids, VersionMakesOldFidsStaleSoNothingIsClunked) {
  Session s(Dialect::kLegacy);
  auto versioning = std::async(std::launch::async, [&] { return s.client->Version(8192, "9P2000.L"); });
  AnswerVersion(*s.peer, "9P2000.L");
  ASSERT_TRUE(versioning.get().has_value());
  s.root = Fid();  // stale: no Tclunk may be sent
  EXPECT_EQ(s.client->fids_in_use(), 0u);
  // The next frame the peer sees is this Tstatfs, not a Tclunk.
  auto statting = std::async(std::launch::async, [&] { return s.client->Statfs(5); });
  RawFrame keep;
  uint16_t tag;
  auto t = s.peer->Expect<Tstatfs>(&keep, &tag);
  EXPECT_EQ(t.fid, 5u);
  s.peer->Send(tag, Rstatfs{});
  ASSERT_TRUE(statting.get().has_value());
  // Satisfy the Session destructor's Tclunk expectation with a harmless clunk.
  s.root = Fid(s.client.get(), 0, Qid{});
}

// A tiny file server for one open file: answers Tread/Twrite on fid `fid` from `content`,
// with an iounit of `iounit`, `write_cap` bytes accepted per Twrite (short writes), until
// Tclunk. Requests are answered in pairs, the second first, so replies come out of order.
void ServeFile(FakePeer& peer, std::vector<uint8_t>& content, uint32_t iounit, uint32_t write_cap,
               std::vector<uint32_t>* counts) {
  std::vector<RawFrame> held;
  auto answer = [&](const RawFrame& frame) {
    const WireContext ctx = peer.wire();
    if (frame.type() == static_cast<uint8_t>(MsgType::kTread)) {
      Tread t_msg{};
      EXPECT_TRUE(DecodeInto(frame.bytes, ctx, &t_msg).has_value());
      const Tread* t = &t_msg;
      counts->push_back(t->count);
      EXPECT_LE(t->count, iounit);
      const size_t at = std::min<size_t>(t->offset, content.size());
      const size_t n = std::min<size_t>(t->count, content.size() - at);
      peer.Send(frame.tag(), Rread{Bytes{std::span<const uint8_t>(content.data() + at, n)}});
    } else {
      Twrite t_msg{};
      EXPECT_TRUE(DecodeInto(frame.bytes, ctx, &t_msg).has_value());
      const Twrite* t = &t_msg;
      counts->push_back(static_cast<uint32_t>(t->data.bytes.size()));
      EXPECT_LE(t->data.bytes.size(), iounit);
      const uint32_t n = std::min<uint32_t>(write_cap, static_cast<uint32_t>(t->data.bytes.size()));
      if (content.size() < t->offset + n) content.resize(t->offset + n);
      std::copy_n(t->data.bytes.begin(), n, content.begin() + static_cast<ptrdiff_t>(t->offset));
      peer.Send(frame.tag(), Rwrite{n});
    }
  };
  while (true) {
    // A request with nothing behind it within 20 ms is answered alone; otherwise the pair is
    // answered second-first. Timing only decides how much reordering happens, never the result.
    auto frame = held.empty() ? peer.Read() : peer.ReadWithin(20);
    if (!frame) {
      if (held.empty()) return;
      answer(held[0]);
      held.clear();
      continue;
    }
    if (frame->type() == static_cast<uint8_t>(MsgType::kTclunk)) {
      for (auto& h : held) answer(h);
      peer.Send(frame->tag(), Rclunk{});
      return;
    }
    held.push_back(std::move(*frame));
    if (held.size() == 2) {
      answer(held[1]);
      answer(held[0]);
      held.clear();
    }
  }
}

// Opens fid "f" below root with the given iounit; returns the open Fid.
Fid OpenFile(Session& s, uint32_t iounit) {
  auto walking = std::async(std::launch::async, [&] { return s.root.Walk("f"); });
  RawFrame keep;
  uint16_t tag;
  s.peer->Expect<Twalk>(&keep, &tag);
  Rwalk r;
  r.wqids.count = 1;
  s.peer->Send(tag, r);
  auto fid = walking.get();
  EXPECT_TRUE(fid.has_value());
  auto opening = std::async(std::launch::async, [&] { return fid->Open(kOpenRdwr); });
  s.peer->Expect<Tlopen>(&keep, &tag);
  s.peer->Send(tag, Rlopen{Qid{}, iounit});
  EXPECT_TRUE(opening.get().has_value());
  return std::move(*fid);
}

TEST(ClientIo, ReadAllSplitsToIounitAndReassemblesOutOfOrderReplies) {
  Session s(Dialect::kLegacy);
  Fid file = OpenFile(s, 100);
  std::vector<uint8_t> content(1234);
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint32_t> counts;
  std::thread server([&] { ServeFile(*s.peer, content, 100, 100, &counts); });
  auto data = file.ReadAll();
  ASSERT_TRUE(data.has_value()) << data.error().Describe();
  EXPECT_EQ(*data, content);
  file = Fid();  // Tclunk ends ServeFile
  server.join();
  for (uint32_t c : counts) EXPECT_LE(c, 100u);
}

TEST(ClientIo, WriteAtResendsAfterShortWrites) {
  Session s(Dialect::kLegacy);
  Fid file = OpenFile(s, 0);  // no iounit: msize - 24 applies
  std::vector<uint8_t> content;
  std::vector<uint8_t> data(20000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 251);
  std::vector<uint32_t> counts;
  std::thread server([&] { ServeFile(*s.peer, content, 8192 - kIoHeaderSize, 1000, &counts); });
  auto written = file.WriteAt(0, data);
  ASSERT_TRUE(written.has_value()) << written.error().Describe();
  file = Fid();
  server.join();
  EXPECT_EQ(content, data);
  for (uint32_t c : counts) EXPECT_LE(c, 8192u - kIoHeaderSize);
}

TEST(ClientIo, ReadDirContinuesFromTheLastOffset) {
  Session s(Dialect::kXqid);
  auto reading = std::async(std::launch::async, [&] { return s.root.ReadDir(); });
  auto send_entries = [&](uint16_t tag, std::vector<Dirent> entries) {
    std::vector<uint8_t> buf(4096);
    DirentWriter w(buf, Dialect::kXqid);
    for (const auto& e : entries) EXPECT_TRUE(w.Add(e));
    s.peer->Send(tag, Rreaddir{DirentBytes{w.bytes()}});
  };
  RawFrame keep;
  uint16_t tag;
  auto t1 = s.peer->Expect<Treaddir>(&keep, &tag);
  EXPECT_EQ(t1.offset, 0u);
  send_entries(tag, {{Qid{kQtDir, 0, 1, 7}, 10, kDtDir, "."}, {Qid{0, 0, 2, 7}, 20, kDtReg, "a"}});
  auto t2 = s.peer->Expect<Treaddir>(&keep, &tag);
  EXPECT_EQ(t2.offset, 20u);
  send_entries(tag, {{Qid{0, 0, 3, 8}, 30, kDtReg, "b"}});
  auto t3 = s.peer->Expect<Treaddir>(&keep, &tag);
  EXPECT_EQ(t3.offset, 30u);
  send_entries(tag, {});
  auto entries = reading.get();
  ASSERT_TRUE(entries.has_value()) << entries.error().Describe();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[2].name, "b");
  EXPECT_EQ((*entries)[2].qid.path_hi, 8u);
}

TEST(ClientIo, UnlinkFallsBackToWalkAndRemoveOnEopnotsupp) {
  Session s(Dialect::kLegacy);
  auto unlinking = std::async(std::launch::async, [&] { return s.root.Unlink("gone", 0); });
  RawFrame keep;
  uint16_t tag;
  s.peer->Expect<Tunlinkat>(&keep, &tag);
  s.peer->Send(tag, Rlerror{95});  // diod: EOPNOTSUPP
  auto walk = s.peer->Expect<Twalk>(&keep, &tag);
  EXPECT_EQ(walk.wnames.names[0], "gone");
  Rwalk r;
  r.wqids.count = 1;
  s.peer->Send(tag, r);
  auto remove = s.peer->Expect<Tremove>(&keep, &tag);
  EXPECT_EQ(remove.fid, walk.newfid);
  s.peer->Send(tag, Rremove{});
  ASSERT_TRUE(unlinking.get().has_value());
  EXPECT_EQ(s.client->fids_in_use(), 1u);
}

}  // namespace
}  // namespace p9x::client
