// SPDX-License-Identifier: MIT
// The client's ladder against a model of every server in spec/evidence/peers.md, as tables of
// {peer, offered, expected session}. Each table row runs
// twice: through the ladder's On*() calls directly, and over a real socketpair with the frames
// encoded by the codec (and type-107 frames as nfs-ganesha lays them out), so that the bytes a
// peer sends are what the ladder sees.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "codec/frame.h"
#include "negotiation/version.h"

namespace p9x::negotiation {
namespace {

const FeatureSet kNone;
const FeatureSet kXqidSet = FeatureSet().With(Feature::kXqid);
using Outcome = ClientLadder::Outcome;

// What a peer does with one Tversion.
struct PeerReply {
  enum class Kind { kRversion, kRlerror, kRerrorErrno107, kRerrorString, kClose, kSilent } kind;
  uint32_t msize = 0;
  std::string version;
  uint32_t ecode = 0;
};
PeerReply Rv(uint32_t msize, std::string version) {
  return {PeerReply::Kind::kRversion, msize, std::move(version), 0};
}
PeerReply Rl(uint32_t ecode) { return {PeerReply::Kind::kRlerror, 0, "", ecode}; }

// A server model: per-connection state is reset by Reconnect().
class Peer {
 public:
  virtual ~Peer() = default;
  virtual PeerReply Answer(uint32_t msize, const std::string& version) = 0;
  virtual void Reconnect() {}
};

// A stateless model given as a function.
class FnPeer : public Peer {
 public:
  explicit FnPeer(std::function<PeerReply(uint32_t, const std::string&)> fn) : fn_(std::move(fn)) {}
  PeerReply Answer(uint32_t msize, const std::string& version) override { return fn_(msize, version); }

 private:
  std::function<PeerReply(uint32_t, const std::string&)> fn_;
};

// QEMU hw/9pfs v9fs_version (spec/evidence/peers.md): strcmp "9P2000.u"/"9P2000.L", else "unknown";
// msize < 4096 -> error (EMSGSIZE); reply echoes the client's msize.
std::unique_ptr<Peer> Qemu() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    if (v != "9P2000.L" && v != "9P2000.u") return Rv(msize, "unknown");
    if (msize < 4096) return Rl(90);
    return Rv(msize, v);
  });
}
// crosvm p9 Server::version: msize < 256 -> EINVAL; min(client, 64 KiB + 24); else "unknown".
std::unique_ptr<Peer> Crosvm() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    if (msize < 256) return Rl(22);
    const uint32_t m = std::min<uint32_t>(msize, 65536 + 24);
    return v == "9P2000.L" ? Rv(m, v) : Rv(m, "unknown");
  });
}
// kvmtool virtio_p9_version: strcmp "9P2000.L", else "unknown"; client's msize.
std::unique_ptr<Peer> Kvmtool() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    return v == "9P2000.L" ? Rv(msize, v) : Rv(msize, "unknown");
  });
}
// diod np_version (spec/evidence/peers.md, measured 1.0.24): msize < 25 -> Rlerror EIO; msize clamped to
// the connection's, which only shrinks, before the version check; anything but exact
// "9P2000.L" -> Rlerror EIO. Measured cap 65536.
class Diod : public Peer {
 public:
  PeerReply Answer(uint32_t msize, const std::string& v) override {
    if (msize < 25) return Rl(5);
    conn_msize_ = std::min(conn_msize_, msize);
    if (v != "9P2000.L") return Rl(5);
    return Rv(conn_msize_, v);
  }
  void Reconnect() override { conn_msize_ = 65536; }

 private:
  uint32_t conn_msize_ = 65536;
};
// nfs-ganesha 4.3 _9p_version (spec/evidence/peers.md): every error is type 107 with an errno body;
// strncmp(version, "9P2000.L", len) -> ENOENT; msize = min(conn, client); < 512 -> ERANGE.
std::unique_ptr<Peer> Ganesha() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    if (v.size() < 8 || v.compare(0, std::string::npos, "9P2000.L", 0, v.size()) != 0 || v.size() > 8) {
      return PeerReply{PeerReply::Kind::kRerrorErrno107, 0, "", 2};
    }
    if (msize < 512) return PeerReply{PeerReply::Kind::kRerrorErrno107, 0, "", 34};
    return Rv(std::min<uint32_t>(msize, 65536), v);
  });
}
// gVisor pkg/p9 Tversion.handle / parseVersion: "9P2000.L" or "9P2000.L.Google.N"; anything
// else Rlerror EINVAL; msize 0 -> EINVAL; echo.
std::unique_ptr<Peer> Gvisor() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    if (msize == 0) return Rl(22);
    if (v == "9P2000.L") return Rv(msize, v);
    return Rl(22);
  });
}
// gVisor's "version too new, step down" answer: Rlerror EAGAIN (spec/evidence/peers.md), modelled for
// every string but plain 9P2000.L.
std::unique_ptr<Peer> GvisorEagain() {
  return std::make_unique<FnPeer>(
      [](uint32_t msize, const std::string& v) { return v == "9P2000.L" ? Rv(msize, v) : Rl(11); });
}
// plan9port lib9p sversion: everything starting with "9P2000" gets "9P2000", others "unknown".
std::unique_ptr<Peer> Plan9port() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    return v.rfind("9P2000", 0) == 0 ? Rv(msize, "9P2000") : Rv(msize, "unknown");
  });
}
// WSL plan9 server HandleVersion: exact "9P2000.L" (or .W), else an error (ENOTSUP; encoding
// unverified, modelled as Rlerror EOPNOTSUPP).
std::unique_ptr<Peer> Wsl() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    return v == "9P2000.L" ? Rv(std::min<uint32_t>(msize, 65536), v) : Rl(95);
  });
}
// A 9P2000 server that answers with a string Rerror.
std::unique_ptr<Peer> StringRerror() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    if (v == "9P2000.L") return Rv(msize, v);
    return PeerReply{PeerReply::Kind::kRerrorString, 0, "unsupported version", 0};
  });
}
// A server that hangs up on any Tversion it does not like.
std::unique_ptr<Peer> Closer() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    return v == "9P2000.L" ? Rv(msize, v) : PeerReply{PeerReply::Kind::kClose, 0, "", 0};
  });
}
// p9xd itself: AnswerTversion with a policy.
std::unique_ptr<Peer> P9x(ServerPolicy policy) {
  return std::make_unique<FnPeer>([policy](uint32_t msize, const std::string& v) {
    const TversionAnswer a = AnswerTversion(policy, msize, v);
    if (a.kind == TversionAnswer::Kind::kReject) return Rl(static_cast<uint32_t>(a.error));
    return Rv(a.msize, a.version);
  });
}
// A server that never answers a Tversion it does not like.
std::unique_ptr<Peer> Silent() {
  return std::make_unique<FnPeer>([](uint32_t msize, const std::string& v) {
    return v == "9P2000.L" ? Rv(msize, v) : PeerReply{PeerReply::Kind::kSilent, 0, "", 0};
  });
}
// Broken servers: fixed answers.
std::unique_ptr<Peer> Always(PeerReply reply) {
  return std::make_unique<FnPeer>([reply](uint32_t, const std::string&) { return reply; });
}
std::unique_ptr<Peer> EchoWithMsize(uint32_t m) {
  return std::make_unique<FnPeer>([m](uint32_t, const std::string& v) { return Rv(m, v); });
}

struct LadderRow {
  std::string name;
  std::function<std::unique_ptr<Peer>()> peer;
  DialectChoice choice;
  uint32_t msize;
  // Expected session.
  Outcome outcome;
  FeatureSet features;
  uint32_t agreed_msize;
  std::vector<std::string> offers;  // the Tversion strings sent, in order
  int reconnects;
  Reconnect reconnect = Reconnect::kPossible;  // kImpossible: a virtio, Xen or fd channel
};

// Keeps CTest's names readable: print the row's name, not its bytes.
void PrintTo(const LadderRow& row, std::ostream* os) { *os << row.name; }

std::vector<LadderRow> Rows() {
  const auto kAuto = DialectChoice::kAuto;
  const auto kXqidOnly = DialectChoice::kXqidOnly;
  const auto kLegacyOnly = DialectChoice::kLegacyOnly;
  const std::vector<std::string> both = {"9P2000.L.xqid", "9P2000.L"};
  const std::vector<std::string> xqid = {"9P2000.L.xqid"};
  const std::vector<std::string> plain = {"9P2000.L"};
  const uint32_t m = 131072;
  return {
      // spec/evidence/peers.md, auto choice: one extra round trip at most.
      {"QemuUnknownThenLegacy", Qemu, kAuto, m, Outcome::kAgreed, kNone, m, both, 0},
      {"CrosvmUnknownThenLegacyClamped", Crosvm, kAuto, m, Outcome::kAgreed, kNone, 65536 + 24, both, 0},
      {"KvmtoolUnknownThenLegacy", Kvmtool, kAuto, m, Outcome::kAgreed, kNone, m, both, 0},
      {"DiodEioThenLegacy", [] { return std::make_unique<Diod>(); }, kAuto, m, Outcome::kAgreed, kNone, 65536,
       both, 0},
      {"GaneshaType107EnoentThenLegacy", Ganesha, kAuto, m, Outcome::kAgreed, kNone, 65536, both, 0},
      {"GvisorEinvalThenLegacy", Gvisor, kAuto, m, Outcome::kAgreed, kNone, m, both, 0},
      {"GvisorEagainThenLegacy", GvisorEagain, kAuto, m, Outcome::kAgreed, kNone, m, both, 0},
      {"WslErrorThenLegacy", Wsl, kAuto, m, Outcome::kAgreed, kNone, 65536, both, 0},
      {"StringRerrorThenLegacy", StringRerror, kAuto, m, Outcome::kAgreed, kNone, m, both, 0},
      {"ClosedThenReconnectAndLegacy", Closer, kAuto, m, Outcome::kAgreed, kNone, m, both, 1},
      {"SilentThenReconnectAndLegacy", Silent, kAuto, m, Outcome::kAgreed, kNone, m, both, 1},
      // spec/xqid.md §4.3: a transport that cannot reconnect retries every decline but a closed
      // connection (or silence) on the same channel, and fails on those.
      {"SingleChannelQemuFallsBackOnTheSameChannel", Qemu, kAuto, m, Outcome::kAgreed, kNone, m, both, 0,
       Reconnect::kImpossible},
      {"SingleChannelGaneshaFallsBackOnTheSameChannel", Ganesha, kAuto, m, Outcome::kAgreed, kNone, 65536, both,
       0, Reconnect::kImpossible},
      {"SingleChannelCloseFails", Closer, kAuto, m, Outcome::kFailed, kNone, 0, xqid, 0, Reconnect::kImpossible},
      {"SingleChannelSilenceFails", Silent, kAuto, m, Outcome::kFailed, kNone, 0, xqid, 0, Reconnect::kImpossible},
      {"Plan9portDowngradeNeverAccepted", Plan9port, kAuto, m, Outcome::kFailed, kNone, 0, both, 0},
      {"P9xAgreesXqidInOneRoundTrip", [] { return P9x(ServerPolicy{}); }, kAuto, m, Outcome::kAgreed,
       kXqidSet, m, xqid, 0},
      {"P9xClampsMsize",
       [] {
         return P9x(ServerPolicy{kXqidSet, kMinMsize, 65536});
       },
       kAuto, m, Outcome::kAgreed, kXqidSet, 65536, xqid, 0},
      {"PlainReplyToXqidIsLegacyWithoutRetry",
       [] {
         return P9x(ServerPolicy{kNone, kMinMsize, kMaxMsize});
       },
       kAuto, m, Outcome::kAgreed, kNone, m, xqid, 0},
      // xqid-only: never falls back.
      {"XqidOnlyFailsOnQemu", Qemu, kXqidOnly, m, Outcome::kFailed, kNone, 0, xqid, 0},
      {"XqidOnlyFailsOnDiod", [] { return std::make_unique<Diod>(); }, kXqidOnly, m, Outcome::kFailed, kNone,
       0, xqid, 0},
      {"XqidOnlyFailsOnPlainReply",
       [] {
         return P9x(ServerPolicy{kNone, kMinMsize, kMaxMsize});
       },
       kXqidOnly, m, Outcome::kFailed, kNone, 0, xqid, 0},
      {"XqidOnlyFailsOnClose", Closer, kXqidOnly, m, Outcome::kFailed, kNone, 0, xqid, 0},
      {"XqidOnlyAgreesWithP9x", [] { return P9x(ServerPolicy{}); }, kXqidOnly, m, Outcome::kAgreed, kXqidSet,
       m, xqid, 0},
      // legacy-only: offers plain 9P2000.L only.
      {"LegacyOnlyOnQemu", Qemu, kLegacyOnly, m, Outcome::kAgreed, kNone, m, plain, 0},
      {"LegacyOnlyOnP9x", [] { return P9x(ServerPolicy{}); }, kLegacyOnly, m, Outcome::kAgreed, kNone, m,
       plain, 0},
      {"LegacyOnlyOnGanesha", Ganesha, kLegacyOnly, m, Outcome::kAgreed, kNone, 65536, plain, 0},
      {"LegacyOnlyOnPlan9portFails", Plan9port, kLegacyOnly, m, Outcome::kFailed, kNone, 0, plain, 0},
      // Protocol violations end the ladder at once; the client never continues unconfirmed.
      {"UnofferedFeatureIsViolation", [] { return Always(Rv(8192, "9P2000.L.xqid")); }, kLegacyOnly, m,
       Outcome::kFailed, kNone, 0, plain, 0},
      {"UnknownFeatureInReplyIsViolation", [] { return Always(Rv(8192, "9P2000.L.xqid.zz")); }, kAuto, m,
       Outcome::kFailed, kNone, 0, xqid, 0},
      {"SuffixOutsideTheGrammarInReplyIsViolation", [] { return Always(Rv(8192, "9P2000.L.XQID")); }, kAuto, m,
       Outcome::kFailed, kNone, 0, xqid, 0},
      {"EmptySuffixInReplyIsViolation", [] { return Always(Rv(8192, "9P2000.L.")); }, kAuto, m, Outcome::kFailed,
       kNone, 0, xqid, 0},
      {"MsizeAboveOfferIsViolation", [] { return EchoWithMsize(m + 1); }, kAuto, m, Outcome::kFailed, kNone,
       0, xqid, 0},
      {"MsizeBelowMinimumFails", [] { return EchoWithMsize(kMinMsize - 1); }, kAuto, m, Outcome::kFailed,
       kNone, 0, xqid, 0},
      {"MsizeAtMinimumAgrees", [] { return EchoWithMsize(kMinMsize); }, kAuto, m, Outcome::kAgreed, kXqidSet,
       kMinMsize, xqid, 0},
      {"DotUReplyNeverAccepted", [] { return Always(Rv(8192, "9P2000.u")); }, kAuto, m, Outcome::kFailed,
       kNone, 0, both, 0},
      {"ErrorToPlainFails", [] { return Always(Rl(5)); }, kAuto, m, Outcome::kFailed, kNone, 0, both, 0},
      {"ClosedTwiceFails",
       [] {
         return Always(PeerReply{PeerReply::Kind::kClose, 0, "", 0});
       },
       kAuto, m, Outcome::kFailed, kNone, 0, both, 1},
      // spec/evidence/peers.md: ganesha refuses msize < 512 (ERANGE) and QEMU < 4096: the client, which never
      // offers below kMinMsize, is not affected; diod's msize-only-shrinks is seen on one
      // connection across both offers.
      {"DiodSmallOfferKeepsItsMsize", [] { return std::make_unique<Diod>(); }, kAuto, 8192, Outcome::kAgreed,
       kNone, 8192, both, 0},
  };
}

// Drives the ladder directly.
struct RunResult {
  Outcome outcome = Outcome::kFailed;
  std::vector<std::string> offers;
  int reconnects = 0;
};

RunResult RunDirect(ClientLadder& ladder, Peer& peer) {
  RunResult run;
  while (auto offer = ladder.NextOffer()) {
    if (offer->reconnect_first) {
      peer.Reconnect();
      ++run.reconnects;
    }
    run.offers.push_back(offer->version);
    const PeerReply r = peer.Answer(offer->msize, offer->version);
    switch (r.kind) {
      case PeerReply::Kind::kRversion:
        run.outcome = ladder.OnRversion(r.msize, r.version);
        break;
      case PeerReply::Kind::kRlerror:
      case PeerReply::Kind::kRerrorErrno107:
        run.outcome = ladder.OnRlerror(r.ecode);
        break;
      case PeerReply::Kind::kRerrorString:
        run.outcome = ladder.OnRerrorString(r.version);
        break;
      case PeerReply::Kind::kClose:
        run.outcome = ladder.OnConnectionClosed();
        break;
      case PeerReply::Kind::kSilent:
        run.outcome = ladder.OnTimeout();
        break;
    }
    if (run.outcome != Outcome::kTryNext) break;
  }
  return run;
}

// A connected socketpair; index 0 is the client's end.
struct Connection {
  int fds[2] = {-1, -1};
  Connection() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~Connection() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
};

void WriteAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    ASSERT_GT(n, 0);
    done += static_cast<size_t>(n);
  }
}

// Reads one frame, or returns an empty vector at end of stream.
std::vector<uint8_t> ReadFrame(int fd) {
  std::vector<uint8_t> frame(4);
  size_t have = 0;
  auto fill = [&](size_t want) {
    while (have < want) {
      const ssize_t n = read(fd, frame.data() + have, want - have);
      if (n <= 0) return false;
      have += static_cast<size_t>(n);
    }
    return true;
  };
  if (!fill(4)) return {};
  const uint32_t size = frame[0] | frame[1] << 8 | frame[2] << 16 | static_cast<uint32_t>(frame[3]) << 24;
  if (size < kHeaderSize || size > kPreNegotiationMsize) return {};
  frame.resize(size);
  if (!fill(size)) return {};
  return frame;
}

std::vector<uint8_t> Raw107(const std::vector<uint8_t>& body) {
  const uint32_t size = kHeaderSize + static_cast<uint32_t>(body.size());
  std::vector<uint8_t> out(size, 0);
  out[0] = static_cast<uint8_t>(size);
  out[1] = static_cast<uint8_t>(size >> 8);
  out[4] = kRerrorType;
  out[5] = 0xff;
  out[6] = 0xff;
  for (size_t i = 0; i < body.size(); ++i) out[kHeaderSize + i] = body[i];
  return out;
}

// Drives the ladder over a socketpair: the client encodes Tversion with the codec, the peer
// side decodes it, asks the model, and writes the model's reply as bytes (or hangs up).
RunResult RunOverSocket(ClientLadder& ladder, Peer& peer) {
  RunResult run;
  auto conn = std::make_unique<Connection>();
  while (auto offer = ladder.NextOffer()) {
    if (offer->reconnect_first) {
      conn = std::make_unique<Connection>();
      peer.Reconnect();
      ++run.reconnects;
    }
    run.offers.push_back(offer->version);
    const WireContext ctx{Dialect::kLegacy, kPreNegotiationMsize};
    std::vector<uint8_t> out(kPreNegotiationMsize);
    auto n = Encode(kNoTag, Tversion{offer->msize, offer->version}, ctx, out);
    EXPECT_TRUE(n);
    out.resize(*n);
    WriteAll(conn->fds[0], out);

    // Server side.
    const std::vector<uint8_t> in = ReadFrame(conn->fds[1]);
    auto tversion = DecodeAs<Tversion>(in, ctx);
    EXPECT_TRUE(tversion);
    const PeerReply r = peer.Answer(tversion->msize, std::string(tversion->version));
    std::vector<uint8_t> reply(kPreNegotiationMsize);
    switch (r.kind) {
      case PeerReply::Kind::kRversion:
        reply.resize(*Encode(kNoTag, Rversion{r.msize, r.version}, ctx, reply));
        break;
      case PeerReply::Kind::kRlerror:
        reply.resize(*Encode(kNoTag, Rlerror{r.ecode}, ctx, reply));
        break;
      case PeerReply::Kind::kRerrorErrno107:
        reply = Raw107({static_cast<uint8_t>(r.ecode), static_cast<uint8_t>(r.ecode >> 8),
                        static_cast<uint8_t>(r.ecode >> 16), static_cast<uint8_t>(r.ecode >> 24)});
        break;
      case PeerReply::Kind::kRerrorString: {
        std::vector<uint8_t> body = {static_cast<uint8_t>(r.version.size()), 0};
        body.insert(body.end(), r.version.begin(), r.version.end());
        reply = Raw107(body);
        break;
      }
      case PeerReply::Kind::kClose:
        close(conn->fds[1]);
        conn->fds[1] = -1;
        reply.clear();
        break;
      case PeerReply::Kind::kSilent:
        reply.clear();
        break;
    }
    if (!reply.empty()) WriteAll(conn->fds[1], reply);

    // Client side (a silent peer stands for the reply timeout, which the caller measures).
    if (r.kind == PeerReply::Kind::kSilent) {
      run.outcome = ladder.OnTimeout();
      if (run.outcome != Outcome::kTryNext) break;
      continue;
    }
    const std::vector<uint8_t> got = ReadFrame(conn->fds[0]);
    if (got.empty()) {
      run.outcome = ladder.OnConnectionClosed();
    } else {
      auto decoded = DecodeVersionReply(got);
      EXPECT_TRUE(decoded);
      run.outcome = ladder.OnReply(*decoded);
    }
    if (run.outcome != Outcome::kTryNext) break;
  }
  return run;
}

class VersionLadder : public ::testing::TestWithParam<LadderRow> {};

void CheckRun(const LadderRow& row, const ClientLadder& ladder, const RunResult& run) {
  EXPECT_EQ(run.outcome, row.outcome) << ladder.failure_reason();
  EXPECT_EQ(run.offers, row.offers);
  EXPECT_EQ(run.reconnects, row.reconnects);
  EXPECT_EQ(ladder.history().size(), run.offers.size());
  if (row.outcome == Outcome::kAgreed) {
    EXPECT_TRUE(ladder.agreed());
    EXPECT_EQ(ladder.features(), row.features);
    EXPECT_EQ(ladder.dialect(), DialectFor(row.features));
    EXPECT_EQ(ladder.msize(), row.agreed_msize);
    EXPECT_TRUE(ladder.failure_reason().empty());
  } else {
    EXPECT_TRUE(ladder.failed());
    EXPECT_FALSE(ladder.failure_reason().empty());
  }
  // Nothing more is offered once the ladder has stopped.
  ClientLadder copy = ladder;
  EXPECT_FALSE(copy.NextOffer().has_value());
}

TEST_P(VersionLadder, ReachesTheExpectedSession) {
  const LadderRow& row = GetParam();
  ClientLadder ladder(row.choice, row.msize, row.reconnect);
  auto peer = row.peer();
  CheckRun(row, ladder, RunDirect(ladder, *peer));
}

TEST_P(VersionLadder, ReachesTheExpectedSessionOverASocket) {
  const LadderRow& row = GetParam();
  ClientLadder ladder(row.choice, row.msize, row.reconnect);
  auto peer = row.peer();
  CheckRun(row, ladder, RunOverSocket(ladder, *peer));
}

INSTANTIATE_TEST_SUITE_P(Peers, VersionLadder, ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<LadderRow>& row_info) {
                           return row_info.param.name;
                         });

TEST(ClientLadderReasons, Plan9portFailureSaysTheServerDoesNotSpeak9P2000L) {
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  ASSERT_TRUE(ladder.NextOffer());
  EXPECT_EQ(ladder.OnRversion(8192, "9P2000"), Outcome::kTryNext);
  ASSERT_TRUE(ladder.NextOffer());
  EXPECT_EQ(ladder.OnRversion(8192, "9P2000"), Outcome::kFailed);
  EXPECT_NE(ladder.failure_reason().find("does not speak 9P2000.L"), std::string::npos)
      << ladder.failure_reason();
  EXPECT_NE(ladder.failure_reason().find("\"9P2000\""), std::string::npos) << ladder.failure_reason();
}

TEST(ClientLadderReasons, HistoryHasOneLinePerOfferWithTheAnswer) {
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  ASSERT_TRUE(ladder.NextOffer());
  EXPECT_EQ(ladder.OnRlerror(5), Outcome::kTryNext);
  ASSERT_TRUE(ladder.NextOffer());
  EXPECT_EQ(ladder.OnRversion(8192, "9P2000.L"), Outcome::kAgreed);
  ASSERT_EQ(ladder.history().size(), 2u);
  EXPECT_NE(ladder.history()[0].find("9P2000.L.xqid"), std::string::npos) << ladder.history()[0];
  EXPECT_NE(ladder.history()[0].find("EIO"), std::string::npos) << ladder.history()[0];
  EXPECT_NE(ladder.history()[1].find("agreed"), std::string::npos) << ladder.history()[1];
}

TEST(ClientLadderReasons, ReconnectFlagIsSetOnlyOnTheOfferAfterAClose) {
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  auto first = ladder.NextOffer();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->reconnect_first);
  EXPECT_EQ(ladder.OnConnectionClosed(), Outcome::kTryNext);
  auto second = ladder.NextOffer();
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->reconnect_first);
  EXPECT_EQ(second->version, "9P2000.L");
  EXPECT_EQ(second->msize, 8192u);
}

TEST(ClientLadderReasons, SingleChannelCloseSaysTheTransportCannotReconnect) {
  ClientLadder ladder(DialectChoice::kAuto, 8192, Reconnect::kImpossible);
  ASSERT_TRUE(ladder.NextOffer());
  EXPECT_EQ(ladder.OnConnectionClosed(), Outcome::kFailed);
  EXPECT_NE(ladder.failure_reason().find("cannot open another connection"), std::string::npos)
      << ladder.failure_reason();
  EXPECT_NE(ladder.failure_reason().find("9P2000.L.xqid"), std::string::npos) << ladder.failure_reason();
}

TEST(ClientLadderReasons, AnyType107ReplyIsADecline) {
  // A 1-byte body is neither an errno nor a string: still a decline, never a failure.
  const std::vector<uint8_t> frame = {8, 0, 0, 0, kRerrorType, 0xff, 0xff, 9};
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  ASSERT_TRUE(ladder.NextOffer());
  auto reply = DecodeVersionReply(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(ladder.OnReply(*reply), Outcome::kTryNext);
}

TEST(ClientLadderReasons, ReplyWithoutAnOfferFails) {
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  EXPECT_EQ(ladder.OnRversion(8192, "9P2000.L"), Outcome::kFailed);
  EXPECT_FALSE(ladder.NextOffer().has_value());
  EXPECT_NE(ladder.failure_reason().find("no Tversion outstanding"), std::string::npos);
}

TEST(ClientLadderReasons, MsizeBelowMinimumOffersNothing) {
  ClientLadder ladder(DialectChoice::kAuto, 1024);
  EXPECT_FALSE(ladder.NextOffer().has_value());
  EXPECT_TRUE(ladder.failed());
  EXPECT_NE(ladder.failure_reason().find("4096"), std::string::npos);
}

TEST(ClientLadderReasons, ReplyWithAnotherTagIsAViolation) {
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  ASSERT_TRUE(ladder.NextOffer());
  VersionReply reply;
  reply.kind = VersionReply::Kind::kRversion;
  reply.msize = 8192;
  reply.version = "9P2000.L.xqid";
  reply.tag = 1;
  reply.type = 101;
  EXPECT_EQ(ladder.OnReply(reply), Outcome::kFailed);
  EXPECT_NE(ladder.failure_reason().find("NOTAG"), std::string::npos);
}

TEST(ClientLadderReasons, AnyOtherMessageIsAViolation) {
  ClientLadder ladder(DialectChoice::kAuto, 8192);
  ASSERT_TRUE(ladder.NextOffer());
  VersionReply reply;
  reply.kind = VersionReply::Kind::kOther;
  reply.type = 105;
  reply.tag = kNoTag;
  EXPECT_EQ(ladder.OnReply(reply), Outcome::kFailed);
}

}  // namespace
}  // namespace p9x::negotiation
