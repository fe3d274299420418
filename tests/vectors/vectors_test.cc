// SPDX-License-Identifier: MIT
// The golden vectors of spec/vectors/, checked both ways against the codec (GUIDE R10):
//   decode(hex) prints the text; parse(text) encodes to the hex; DecodeAs<M> agrees with
//   DecodeFrame; each invalid vector fails with exactly its error kind and offset.
// The meta-tests fail when a message or an error kind has no vector.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>
#include <string>

#include "codec/frame.h"
#include "codec/text.h"
#include "tests/vectors/vector_file.h"

namespace p9x {
namespace {

using vectors::AllVectors;
using vectors::Vector;

// DecodeAs<M> for the message whose type byte is `type`, as a Message.
using DecodeAsFn = Result<Message, CodecError> (*)(std::span<const uint8_t>, const WireContext&);

template <class M>
Result<Message, CodecError> DecodeAsMessage(std::span<const uint8_t> frame, const WireContext& ctx) {
  auto msg = DecodeAs<M>(frame, ctx);
  if (!msg) return Unexpected(msg.error());
  return Message(*msg);
}

struct MessageFacts {
  std::string_view name;
  uint8_t type;
  bool carries_qid;
  DecodeAsFn decode_as;
};

constexpr MessageFacts kMessages[] = {
#define P9X_FACTS_ROW(Name, number) {#Name, number, Name::kCarriesQid, &DecodeAsMessage<Name>},
    P9X_MESSAGE_LIST(P9X_FACTS_ROW)
#undef P9X_FACTS_ROW
};

const MessageFacts* FindFacts(uint8_t type) {
  for (const MessageFacts& m : kMessages) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

std::string MessageName(const Vector& v) {
  if (v.has_hex && v.bytes.size() > 4) {
    if (const MessageFacts* m = FindFacts(v.bytes[4])) return std::string(m->name);
  }
  return v.text.substr(0, v.text.find('{'));
}

std::vector<Vector> Select(bool valid) {
  std::vector<Vector> out;
  for (const Vector& v : AllVectors().vectors) {
    if (v.valid == valid) out.push_back(v);
  }
  return out;
}

std::string ParamName(const testing::TestParamInfo<Vector>& info) {
  return vectors::CamelName(info.param.name);
}

// ---- valid vectors ----

class ValidVector : public testing::TestWithParam<Vector> {};

TEST_P(ValidVector, RoundTripsBothWays) {
  const Vector& v = GetParam();
  SCOPED_TRACE(v.name + ": " + v.note);
  for (Dialect d : v.dialects) {
    SCOPED_TRACE(DialectName(d));
    const WireContext ctx{d, v.msize};

    // bytes -> message -> text
    auto frame = DecodeFrame(v.bytes, ctx);
    ASSERT_TRUE(frame) << frame.error().Describe();
    EXPECT_EQ(ToText(*frame, d), v.text);
    EXPECT_EQ(BytesToText(v.bytes, ctx), v.text);
    EXPECT_EQ(EncodedSize(frame->msg, d), v.bytes.size());

    // The typed fast path decodes the same message.
    const MessageFacts* facts = FindFacts(v.bytes[4]);
    ASSERT_NE(facts, nullptr);
    auto typed = facts->decode_as(v.bytes, ctx);
    ASSERT_TRUE(typed) << typed.error().Describe();
    EXPECT_TRUE(*typed == frame->msg);

    // text -> message -> bytes
    auto parsed = ParseText(v.text, d);
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ((*parsed)->frame.tag, frame->tag);
    EXPECT_TRUE((*parsed)->frame.msg == frame->msg);
    auto encoded = EncodeToVector((*parsed)->frame, ctx);
    ASSERT_TRUE(encoded) << encoded.error().Describe();
    EXPECT_EQ(ToHex(*encoded), ToHex(v.bytes));

    // message -> bytes, straight from the decoded frame
    auto reencoded = EncodeToVector(*frame, ctx);
    ASSERT_TRUE(reencoded) << reencoded.error().Describe();
    EXPECT_EQ(ToHex(*reencoded), ToHex(v.bytes));
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, ValidVector, testing::ValuesIn(Select(true)), ParamName);

// ---- invalid vectors ----

class InvalidVector : public testing::TestWithParam<Vector> {};

TEST_P(InvalidVector, FailsWithTheExpectedError) {
  const Vector& v = GetParam();
  SCOPED_TRACE(v.name + ": " + v.note);
  for (Dialect d : v.dialects) {
    SCOPED_TRACE(DialectName(d));
    const WireContext ctx{d, v.msize};
    if (!v.has_hex) {
      // An encode failure: the text parses but must not encode in this dialect.
      auto parsed = ParseText(v.text, d);
      ASSERT_TRUE(parsed) << parsed.error();
      auto encoded = EncodeToVector((*parsed)->frame, ctx);
      ASSERT_FALSE(encoded) << "encoded to " << ToHex(*encoded);
      EXPECT_EQ(CodecErrorName(encoded.error().kind), CodecErrorName(*v.error));
      continue;
    }
    auto frame = DecodeFrame(v.bytes, ctx);
    ASSERT_FALSE(frame) << "decoded as " << ToText(*frame, d);
    const CodecError& e = frame.error();
    EXPECT_EQ(CodecErrorName(e.kind), CodecErrorName(*v.error)) << e.Describe();
    EXPECT_EQ(e.offset, *v.offset) << e.Describe();
    // The error names the frame's type once the 7-byte header is there (README).
    EXPECT_EQ(e.type, v.bytes.size() >= kHeaderSize ? v.bytes[4] : 0) << e.Describe();
    EXPECT_TRUE(BytesToText(v.bytes, ctx).starts_with("<undecodable: ")) << BytesToText(v.bytes, ctx);

    // DecodeAs<M> for the frame's own type fails the same way.
    if (v.bytes.size() >= kHeaderSize) {
      if (const MessageFacts* facts = FindFacts(v.bytes[4])) {
        auto typed = facts->decode_as(v.bytes, ctx);
        ASSERT_FALSE(typed);
        EXPECT_EQ(typed.error(), e) << typed.error().Describe();
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, InvalidVector, testing::ValuesIn(Select(false)), ParamName);

// ---- meta-tests ----

TEST(Spec, VectorFilesAreWellFormed) {
  const auto& set = AllVectors();
  for (const std::string& p : set.problems) ADD_FAILURE() << p;
  EXPECT_GT(set.vectors.size(), 100u) << "spec/vectors not found at " << vectors::VectorsDir();
}

// Every message of the table has a valid vector in each dialect it exists in: one frame for both
// dialects when it has no qid, a legacy and an xqid frame that carry qids when it has one.
TEST(Spec, EveryMessageHasVectors) {
  std::map<std::string, std::set<std::string>> have;  // message -> dialect names
  for (const Vector& v : AllVectors().vectors) {
    if (v.valid) have[MessageName(v)].insert(v.dialect_name);
  }
  for (const MessageFacts& m : kMessages) {
    const std::set<std::string>& dialects = have[std::string(m.name)];
    if (m.carries_qid) {
      EXPECT_TRUE(dialects.count("legacy")) << m.name << " has no legacy vector";
      EXPECT_TRUE(dialects.count("xqid")) << m.name << " has no xqid vector";
    } else {
      EXPECT_TRUE(dialects.count("both") || (dialects.count("legacy") && dialects.count("xqid")))
          << m.name << " has no vector valid in both dialects";
    }
  }
}

// Every way DecodeFrame can fail has an invalid vector.
TEST(Spec, EveryDecodeErrorHasAnInvalidVector) {
  std::set<CodecErrorKind> have;
  for (const Vector& v : AllVectors().vectors) {
    if (!v.valid && v.has_hex) have.insert(*v.error);
  }
  for (CodecErrorKind kind :
       {CodecErrorKind::kFrameTooShort, CodecErrorKind::kSizeMismatch, CodecErrorKind::kFrameTooLarge,
        CodecErrorKind::kUnknownType, CodecErrorKind::kTruncated, CodecErrorKind::kTrailingBytes,
        CodecErrorKind::kTooManyWalkElements, CodecErrorKind::kBadDirent,
        CodecErrorKind::kDialectMismatch}) {
    EXPECT_TRUE(have.count(kind)) << CodecErrorName(kind) << " has no invalid vector";
  }
}

}  // namespace
}  // namespace p9x
