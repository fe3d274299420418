// SPDX-License-Identifier: MIT
#include "negotiation/version.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/frame.h"

namespace p9x::negotiation {
namespace {

using namespace std::string_literals;

const FeatureSet kNone;
const FeatureSet kXqidSet = FeatureSet().With(Feature::kXqid);

struct ParseRow {
  std::string input;
  bool ok;
  FeatureSet features;
  std::vector<std::string> unknown;
};

TEST(VersionString, ParsesEveryRowOfTheTable) {
  const std::vector<ParseRow> rows = {
      {"9P2000.L", true, kNone, {}},
      {"9P2000.L.xqid", true, kXqidSet, {}},
      {"9P2000.L.future", true, kNone, {"future"}},
      {"9P2000.L.a-1.xqid", true, kXqidSet, {"a-1"}},
      {"9P2000.L.xqid.zz", true, kXqidSet, {"zz"}},
      // Not the grammar (ReadOffer below says how a server reads each).
      {"", false, kNone, {}},
      {"9P2000", false, kNone, {}},
      {"9P2000.u", false, kNone, {}},
      {"9P2000.l", false, kNone, {}},
      {"9P2000.Lxqid", false, kNone, {}},
      {"9P2000.L+xqid", false, kNone, {}},
      {"9P2000.L.", false, kNone, {}},
      {"9P2000.L..xqid", false, kNone, {}},
      {"9P2000.L.xqid.", false, kNone, {}},
      {"9P2000.L.XQID", false, kNone, {}},
      {"9P2000.L.Google.1", false, kNone, {}},
      {"9P2000.L.xqid.xqid", false, kNone, {}},  // duplicate
      {"9P2000.L.zz.xqid", false, kNone, {}},    // unsorted
      {"9P2000.L\0xqid"s, false, kNone, {}},     // ganesha accepts this by strncmp
      {"9P2000.L.xq id", false, kNone, {}},
      {"unknown", false, kNone, {}},
      {"garbage", false, kNone, {}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.input);
    const auto parsed = ParseVersion(row.input);
    ASSERT_EQ(parsed.has_value(), row.ok);
    if (!row.ok) continue;
    EXPECT_EQ(parsed->features, row.features);
    EXPECT_EQ(parsed->unknown_features, row.unknown);
  }
}

struct OfferRow {
  std::string input;
  bool based_on_9p2000l;
  FeatureSet features;
  std::vector<std::string> unknown;
  bool stripped;
};

TEST(VersionString, ServerReadsAnOfferAsASetAndStripsASuffixOutsideTheGrammar) {
  const std::vector<OfferRow> rows = {
      {"9P2000.L", true, kNone, {}, false},
      {"9P2000.L.xqid", true, kXqidSet, {}, false},
      {"9P2000.L.zz.xqid", true, kXqidSet, {"zz"}, false},          // unsorted: a set
      {"9P2000.L.xqid.xqid", true, kXqidSet, {}, false},            // repeated: a set
      {"9P2000.L.zz.a.zz", true, kNone, {"a", "zz"}, false},        // unknown ones sorted, once
      {"9P2000.L.Google.10", true, kNone, {}, true},                // gVisor: upper case
      {"9P2000.L.xqid.Google.1", true, kNone, {}, true},            // the whole suffix goes
      {"9P2000.L.", true, kNone, {}, true},
      {"9P2000.L..xqid", true, kNone, {}, true},
      {"9P2000.L.XQID", true, kNone, {}, true},
      {"9P2000.L.xq id", true, kNone, {}, true},
      {"9P2000", false, kNone, {}, false},
      {"9P2000.u", false, kNone, {}, false},
      {"9P2000.l", false, kNone, {}, false},
      {"9P2000.Lxqid", false, kNone, {}, false},
      {"9P2000.L+xqid", false, kNone, {}, false},
      {"9P2000.L\0xqid"s, false, kNone, {}, false},
      {"", false, kNone, {}, false},
      {"unknown", false, kNone, {}, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.input);
    const auto reading = ReadOffer(row.input);
    ASSERT_EQ(reading.has_value(), row.based_on_9p2000l);
    if (!reading) continue;
    EXPECT_EQ(reading->features, row.features);
    EXPECT_EQ(reading->unknown_features, row.unknown);
    EXPECT_EQ(reading->suffix_stripped, row.stripped);
  }
}

TEST(VersionString, FormatsTheCanonicalStrings) {
  EXPECT_EQ(FormatVersion(kNone), "9P2000.L");
  EXPECT_EQ(FormatVersion(kXqidSet), "9P2000.L.xqid");
  for (FeatureSet f : {kNone, kXqidSet}) {
    const auto parsed = ParseVersion(FormatVersion(f));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->features, f);
    EXPECT_TRUE(parsed->unknown_features.empty());
  }
}

TEST(VersionString, FeatureNamesRoundTrip) {
  EXPECT_EQ(FeatureName(Feature::kXqid), "xqid");
  EXPECT_EQ(FeatureFromName("xqid"), Feature::kXqid);
  EXPECT_FALSE(FeatureFromName("XQID").has_value());
}

TEST(FeaturePredicates, SupportsXqidFollowsTheSession) {
  EXPECT_TRUE(SupportsXqid(kXqidSet));
  EXPECT_FALSE(SupportsXqid(kNone));
  Session session;
  EXPECT_FALSE(SupportsXqid(session));
  session.BeginVersion();
  session.Agree(kXqidSet, 8192);
  EXPECT_TRUE(SupportsXqid(session));
  EXPECT_EQ(session.dialect(), Dialect::kXqid);
  session.BeginVersion();
  EXPECT_FALSE(SupportsXqid(session));
}

struct AnswerRow {
  std::string name;
  ServerPolicy policy;
  uint32_t msize;
  std::string version;
  TversionAnswer::Kind kind;
  uint32_t reply_msize;
  std::string reply_version;
  FeatureSet features;
  Errno error;
};

TEST(ServerAnswer, AnswersEveryRowOfTheTable) {
  const ServerPolicy p9xd;  // defaults: xqid supported, 4096..16 MiB
  const ServerPolicy legacy_only{kNone, kMinMsize, kMaxMsize};
  const ServerPolicy small_max{kXqidSet, kMinMsize, 65536};
  using K = TversionAnswer::Kind;
  const std::vector<AnswerRow> rows = {
      {"PlainAccepted", p9xd, 131072, "9P2000.L", K::kAccept, 131072, "9P2000.L", kNone, Errno::kOk},
      {"XqidAccepted", p9xd, 131072, "9P2000.L.xqid", K::kAccept, 131072, "9P2000.L.xqid", kXqidSet,
       Errno::kOk},
      {"XqidDeclinedByPolicy", legacy_only, 131072, "9P2000.L.xqid", K::kAccept, 131072, "9P2000.L", kNone,
       Errno::kOk},
      {"UnknownFeatureDropped", p9xd, 8192, "9P2000.L.future", K::kAccept, 8192, "9P2000.L", kNone,
       Errno::kOk},
      {"UnknownFeatureDroppedKnownKept", p9xd, 8192, "9P2000.L.a.xqid", K::kAccept, 8192, "9P2000.L.xqid",
       kXqidSet, Errno::kOk},
      {"MsizeClampedToMax", small_max, 1u << 20, "9P2000.L.xqid", K::kAccept, 65536, "9P2000.L.xqid",
       kXqidSet, Errno::kOk},
      {"MsizeAtMinimum", p9xd, kMinMsize, "9P2000.L", K::kAccept, kMinMsize, "9P2000.L", kNone, Errno::kOk},
      {"MsizeHugeClamped", p9xd, 0xFFFFFFFFu, "9P2000.L", K::kAccept, kMaxMsize, "9P2000.L", kNone,
       Errno::kOk},
      {"MsizeBelowMinimumRejected", p9xd, kMinMsize - 1, "9P2000.L", K::kReject, 0, "", kNone,
       Errno::kEINVAL},
      {"MsizeZeroRejected", p9xd, 0, "9P2000.L.xqid", K::kReject, 0, "", kNone, Errno::kEINVAL},
      {"Plan9Unknown", p9xd, 8192, "9P2000", K::kUnknown, 8192, "unknown", kNone, Errno::kOk},
      {"DotUUnknown", p9xd, 8192, "9P2000.u", K::kUnknown, 8192, "unknown", kNone, Errno::kOk},
      // version(5)'s period rule: gVisor's client then connects as plain 9P2000.L.
      {"GoogleSuffixStripped", p9xd, 8192, "9P2000.L.Google.13", K::kAccept, 8192, "9P2000.L", kNone,
       Errno::kOk},
      {"UpperCaseFeatureStripped", p9xd, 8192, "9P2000.L.XQID", K::kAccept, 8192, "9P2000.L", kNone, Errno::kOk},
      {"EmptySuffixStripped", p9xd, 8192, "9P2000.L.", K::kAccept, 8192, "9P2000.L", kNone, Errno::kOk},
      {"SuffixWithABadPartStrippedWhole", p9xd, 8192, "9P2000.L.xqid.Google.1", K::kAccept, 8192, "9P2000.L",
       kNone, Errno::kOk},
      {"UnsortedOfferReadAsASet", p9xd, 8192, "9P2000.L.zz.xqid", K::kAccept, 8192, "9P2000.L.xqid", kXqidSet,
       Errno::kOk},
      {"RepeatedFeatureReadOnce", p9xd, 8192, "9P2000.L.xqid.xqid", K::kAccept, 8192, "9P2000.L.xqid",
       kXqidSet, Errno::kOk},
      // spec/xqid.md §4.1: a server MUST understand 64 bytes (here 9 + 50 + 5).
      {"SixtyFourByteOfferUnderstood", p9xd, 8192, "9P2000.L." + std::string(50, 'a') + ".xqid", K::kAccept,
       8192, "9P2000.L.xqid", kXqidSet, Errno::kOk},
      {"NoPeriodAfterBaseUnknown", p9xd, 8192, "9P2000.Lxqid", K::kUnknown, 8192, "unknown", kNone, Errno::kOk},
      {"PlusSpellingUnknown", p9xd, 8192, "9P2000.L+xqid", K::kUnknown, 8192, "unknown", kNone, Errno::kOk},
      {"EmbeddedNulUnknown", p9xd, 8192, "9P2000.L\0xqid"s, K::kUnknown, 8192, "unknown", kNone, Errno::kOk},
      {"UnknownWithTinyMsizeStillUnknown", p9xd, 0, "garbage", K::kUnknown, 0, "unknown", kNone, Errno::kOk},
      {"UnknownMsizeClamped", small_max, 1u << 20, "9P2000", K::kUnknown, 65536, "unknown", kNone,
       Errno::kOk},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    const TversionAnswer answer = AnswerTversion(row.policy, row.msize, row.version);
    EXPECT_EQ(answer.kind, row.kind) << answer.reason;
    EXPECT_FALSE(answer.reason.empty());
    if (row.kind == K::kReject) {
      EXPECT_EQ(answer.error, row.error);
      continue;
    }
    EXPECT_EQ(answer.msize, row.reply_msize);
    EXPECT_LE(answer.msize, row.msize);  // version(5): never above the client's value
    EXPECT_EQ(answer.version, row.reply_version);
    EXPECT_EQ(answer.features, row.features);
    if (row.kind == K::kAccept) {
      // Never a feature that was not offered.
      EXPECT_TRUE(answer.features.IsSubsetOf(ReadOffer(row.version)->features));
      // What the server sends is canonical: sorted, in the grammar.
      EXPECT_TRUE(ParseVersion(answer.version).has_value()) << answer.version;
    }
  }
}

TEST(ServerAnswer, RejectReasonNamesTheMinimum) {
  const TversionAnswer answer = AnswerTversion(ServerPolicy{}, 512, "9P2000.L");
  EXPECT_NE(answer.reason.find("512"), std::string::npos) << answer.reason;
  EXPECT_NE(answer.reason.find("4096"), std::string::npos) << answer.reason;
}

TEST(NegotiatedSession, AnyTversionEndsTheSessionAndOnlyAcceptStartsOne) {
  Session session;
  EXPECT_FALSE(session.negotiated());
  EXPECT_EQ(session.wire().msize, kPreNegotiationMsize);
  EXPECT_EQ(session.wire().dialect, Dialect::kLegacy);

  session.OnTversion(AnswerTversion(ServerPolicy{}, 65536, "9P2000.L.xqid"));
  EXPECT_TRUE(session.negotiated());
  EXPECT_EQ(session.dialect(), Dialect::kXqid);
  EXPECT_EQ(session.wire().msize, 65536u);
  EXPECT_EQ(session.wire().dialect, Dialect::kXqid);
  const uint64_t first = session.generation();

  // A rejected Tversion still ends the session: fids of generation `first` are gone.
  session.OnTversion(AnswerTversion(ServerPolicy{}, 100, "9P2000.L"));
  EXPECT_FALSE(session.negotiated());
  EXPECT_GT(session.generation(), first);

  session.OnTversion(AnswerTversion(ServerPolicy{}, 8192, "9P2000.u"));
  EXPECT_FALSE(session.negotiated());

  session.OnTversion(AnswerTversion(ServerPolicy{}, 8192, "9P2000.L"));
  EXPECT_TRUE(session.negotiated());
  EXPECT_EQ(session.dialect(), Dialect::kLegacy);
  EXPECT_EQ(session.msize(), 8192u);
}

std::vector<uint8_t> Bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

TEST(VersionReplyDecoding, ReadsRversion) {
  std::vector<uint8_t> buf(64);
  auto n = Encode(kNoTag, Rversion{65536, "unknown"}, WireContext{}, buf);
  ASSERT_TRUE(n);
  buf.resize(*n);
  auto reply = DecodeVersionReply(buf);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, VersionReply::Kind::kRversion);
  EXPECT_EQ(reply->msize, 65536u);
  EXPECT_EQ(reply->version, "unknown");
  EXPECT_EQ(reply->tag, kNoTag);
}

TEST(VersionReplyDecoding, ReadsRlerror) {
  const auto frame = Bytes({11, 0, 0, 0, 7, 0xff, 0xff, 5, 0, 0, 0});
  auto reply = DecodeVersionReply(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, VersionReply::Kind::kRlerror);
  EXPECT_EQ(reply->ecode, 5u);
}

TEST(VersionReplyDecoding, ReadsGaneshaType107ErrnoBodyAsErrno) {
  // nfs-ganesha 4.3 answers Tversion "9P2000.L.xqid" so (spec/evidence/peers.md): type 107, errno ENOENT.
  const auto frame = Bytes({11, 0, 0, 0, 107, 0xff, 0xff, 2, 0, 0, 0});
  auto reply = DecodeVersionReply(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, VersionReply::Kind::kRlerror);
  EXPECT_EQ(reply->ecode, 2u);
}

TEST(VersionReplyDecoding, ReadsA9P2000RerrorString) {
  const auto frame = Bytes({7 + 2 + 3, 0, 0, 0, 107, 0xff, 0xff, 3, 0, 'b', 'a', 'd'});
  auto reply = DecodeVersionReply(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, VersionReply::Kind::kRerrorString);
  EXPECT_EQ(reply->ename, "bad");
}

TEST(VersionReplyDecoding, ReadsA9P2000uRerrorWithErrno) {
  const auto frame = Bytes({7 + 2 + 3 + 4, 0, 0, 0, 107, 0xff, 0xff, 3, 0, 'b', 'a', 'd', 22, 0, 0, 0});
  auto reply = DecodeVersionReply(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, VersionReply::Kind::kRerrorString);
  EXPECT_EQ(reply->ename, "bad");
  EXPECT_EQ(reply->ecode, 22u);
}

// spec/xqid.md §4.3: any type-107 reply is a decline, whatever its body.
TEST(VersionReplyDecoding, ReadsAnyType107BodyAsAnError) {
  for (const auto& frame : {Bytes({7 + 2 + 1, 0, 0, 0, 107, 0xff, 0xff, 9, 0, 'x'}),
                            Bytes({7 + 1, 0, 0, 0, 107, 0xff, 0xff, 9}), Bytes({7, 0, 0, 0, 107, 0xff, 0xff})}) {
    auto reply = DecodeVersionReply(frame);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->kind, VersionReply::Kind::kRerrorString);
    EXPECT_EQ(reply->ename, "");
  }
}

TEST(VersionReplyDecoding, ClassifiesOtherMessagesAsOther) {
  const auto frame = Bytes({7, 0, 0, 0, 109, 0xff, 0xff});  // Rflush
  auto reply = DecodeVersionReply(frame);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, VersionReply::Kind::kOther);
  EXPECT_EQ(reply->type, 109);
}

TEST(VersionReplyDecoding, RejectsAFrameOverThePreNegotiationLimit) {
  std::vector<uint8_t> frame(kPreNegotiationMsize + 1, 0);
  frame[0] = static_cast<uint8_t>(frame.size() & 0xff);
  frame[1] = static_cast<uint8_t>(frame.size() >> 8);
  frame[4] = 101;
  EXPECT_FALSE(DecodeVersionReply(frame));
}

}  // namespace
}  // namespace p9x::negotiation
