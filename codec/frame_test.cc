// SPDX-License-Identifier: MIT
#include "codec/frame.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "codec/dirent.h"
#include "codec/text.h"

namespace p9x {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(FromHex(hex, &out));
  return out;
}

const WireContext kLegacy{Dialect::kLegacy, 8192};
const WireContext kXqid{Dialect::kXqid, 8192};

TEST(FrameCodec, DecodesTversion) {
  // size=21 type=100 tag=0xffff msize=8192 version="9P2000.L"
  auto bytes = Hex("15000000 64 ffff 00200000 0800 3950323030302e4c");
  auto frame = DecodeFrame(bytes, kLegacy);
  ASSERT_TRUE(frame) << frame.error().Describe();
  EXPECT_EQ(frame->tag, kNoTag);
  const auto& v = std::get<Tversion>(frame->msg);
  EXPECT_EQ(v.msize, 8192u);
  EXPECT_EQ(v.version, "9P2000.L");
}

TEST(FrameCodec, RejectsSizeBelowHeader) {
  auto bytes = Hex("06000000 64 ffff");
  auto frame = DecodeFrame(bytes, kLegacy);
  ASSERT_FALSE(frame);
  EXPECT_EQ(frame.error().kind, CodecErrorKind::kFrameTooShort);
}

TEST(FrameCodec, RejectsSizeThatDisagreesWithBytes) {
  auto bytes = Hex("16000000 64 ffff 00200000 0800 3950323030302e4c");
  EXPECT_EQ(DecodeFrame(bytes, kLegacy).error().kind, CodecErrorKind::kSizeMismatch);
}

TEST(FrameCodec, RejectsFrameLargerThanMsize) {
  auto bytes = Hex("15000000 64 ffff 00200000 0800 3950323030302e4c");
  EXPECT_EQ(DecodeFrame(bytes, WireContext{Dialect::kLegacy, 20}).error().kind,
            CodecErrorKind::kFrameTooLarge);
}

TEST(FrameCodec, RejectsUnknownType) {
  auto bytes = Hex("07000000 06 0100");
  auto frame = DecodeFrame(bytes, kLegacy);
  EXPECT_EQ(frame.error().kind, CodecErrorKind::kUnknownType);
  EXPECT_EQ(frame.error().offset, 4u);
}

TEST(FrameCodec, RejectsStringRunningPastTheEnd) {
  // Tversion whose version length says 9 but 8 bytes follow (size consistent with bytes).
  auto bytes = Hex("15000000 64 ffff 00200000 0900 3950323030302e4c");
  auto frame = DecodeFrame(bytes, kLegacy);
  ASSERT_FALSE(frame);
  EXPECT_EQ(frame.error().kind, CodecErrorKind::kTruncated);
  EXPECT_EQ(frame.error().offset, 13u);
  EXPECT_EQ(frame.error().type, 100);
}

TEST(FrameCodec, RejectsTrailingBytes) {
  auto bytes = Hex("0c000000 78 0100 01000000 00");  // Tclunk fid=1 plus one byte
  auto frame = DecodeFrame(bytes, kLegacy);
  EXPECT_EQ(frame.error().kind, CodecErrorKind::kTrailingBytes);
  EXPECT_EQ(frame.error().offset, 11u);
}

TEST(FrameCodec, RejectsMoreThanSixteenWalkNames) {
  std::vector<uint8_t> bytes = Hex("00000000 6e 0100 00000000 01000000 1100");
  for (int i = 0; i < 17; ++i) {
    bytes.push_back(1);
    bytes.push_back(0);
    bytes.push_back('a');
  }
  internal::StoreLe<uint32_t>(bytes.data(), static_cast<uint32_t>(bytes.size()));
  auto frame = DecodeFrame(bytes, kLegacy);
  ASSERT_FALSE(frame);
  EXPECT_EQ(frame.error().kind, CodecErrorKind::kTooManyWalkElements);
  EXPECT_EQ(frame.error().offset, 15u);
}

TEST(FrameCodec, TwalkRoundTripsWithSixteenNames) {
  Twalk walk;
  walk.fid = 1;
  walk.newfid = 2;
  walk.wnames.count = 16;
  for (auto& n : walk.wnames.names) n = "dir";
  Frame frame{7, walk};
  auto bytes = EncodeToVector(frame, kLegacy);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), 7u + 10 + 16 * 5);
  auto back = DecodeAs<Twalk>(*bytes, kLegacy);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, walk);
}

TEST(FrameCodec, DecodeIntoFillsTheCallersMessageAndChecksTheType) {
  auto bytes = Hex("0b000000 78 0300 2a000000");  // Tclunk fid=42
  Tclunk clunk;
  ASSERT_TRUE(DecodeInto(bytes, kLegacy, &clunk));
  EXPECT_EQ(clunk.fid, 42u);
  Tremove remove;
  auto wrong = DecodeInto(bytes, kLegacy, &remove);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, CodecErrorKind::kWrongType);
}

TEST(FrameCodec, QidSizeDependsOnDialect) {
  Rattach attach{Qid{kQtDir, 3, 0x1234, 0}};
  EXPECT_EQ(EncodedSize(attach, Dialect::kLegacy), 7u + 13);
  EXPECT_EQ(EncodedSize(attach, Dialect::kXqid), 7u + 21);
  Rgetattr getattr;
  EXPECT_EQ(EncodedSize(getattr, Dialect::kLegacy), 7u + 153);
  EXPECT_EQ(EncodedSize(getattr, Dialect::kXqid), 7u + 161);
}

TEST(FrameCodec, XqidQidKeepsTheLegacyPrefix) {
  Rattach attach{Qid{kQtDir, 3, 0x1122334455667788, 0x99}};
  auto bytes = EncodeToVector(Frame{1, attach}, kXqid);
  ASSERT_TRUE(bytes);
  // type, version, path (low 64 bits) exactly as in 9P2000.L, then path_hi.
  EXPECT_EQ(ToHex(*bytes), "1c00000069010080030000008877665544332211" "9900000000000000");
}

TEST(FrameCodec, LegacyEncoderRefusesA128BitPath) {
  Rattach attach{Qid{kQtDir, 0, 2, 1}};
  auto bytes = EncodeToVector(Frame{1, attach}, kLegacy);
  ASSERT_FALSE(bytes);
  EXPECT_EQ(bytes.error().kind, CodecErrorKind::kQidNeedsXqid);
}

TEST(FrameCodec, WrongDialectIsReportedAsDialectMismatch) {
  Rattach attach{Qid{kQtDir, 0, 2, 0}};
  auto xqid_bytes = EncodeToVector(Frame{1, attach}, kXqid);
  ASSERT_TRUE(xqid_bytes);
  auto as_legacy = DecodeFrame(*xqid_bytes, kLegacy);
  ASSERT_FALSE(as_legacy);
  EXPECT_EQ(as_legacy.error().kind, CodecErrorKind::kDialectMismatch);
  auto legacy_bytes = EncodeToVector(Frame{1, attach}, kLegacy);
  ASSERT_TRUE(legacy_bytes);
  EXPECT_EQ(DecodeFrame(*legacy_bytes, kXqid).error().kind, CodecErrorKind::kDialectMismatch);
}

TEST(FrameCodec, RreaddirEntriesMustBeWhole) {
  std::vector<uint8_t> data(64);
  DirentWriter writer(data, Dialect::kLegacy);
  ASSERT_TRUE(writer.Add(Dirent{Qid{kQtDir, 0, 2, 0}, 1, kDtDir, "."}));
  Rreaddir reply;
  reply.data.bytes = std::span<const uint8_t>(data).first(writer.size() - 1);  // cut the name
  auto bytes = EncodeToVector(Frame{3, reply}, kLegacy);
  ASSERT_TRUE(bytes);
  auto frame = DecodeFrame(*bytes, kLegacy);
  ASSERT_FALSE(frame);
  EXPECT_EQ(frame.error().kind, CodecErrorKind::kBadDirent);
}

TEST(FrameCodec, DirentWriterStopsAtTheBudget) {
  std::vector<uint8_t> data(2 * DirentWireSize(Dialect::kXqid, 5) + 3);
  DirentWriter writer(data, Dialect::kXqid);
  Dirent e{Qid{0, 0, 10, 1}, 1, kDtReg, "file1"};
  EXPECT_TRUE(writer.Add(e));
  EXPECT_TRUE(writer.Add(e));
  EXPECT_FALSE(writer.Add(e));
  EXPECT_EQ(writer.size(), 2 * DirentWireSize(Dialect::kXqid, 5));
}

TEST(FrameCodec, EncodeRefusesFramesOverMsize) {
  std::vector<uint8_t> payload(9000);
  Twrite write{1, 0, Bytes{payload}};
  auto bytes = EncodeToVector(Frame{1, write}, kLegacy);
  ASSERT_FALSE(bytes);
  EXPECT_EQ(bytes.error().kind, CodecErrorKind::kFrameTooLarge);
}

TEST(FrameCodec, CountedReplyHeaderMatchesEncoder) {
  std::vector<uint8_t> payload = {1, 2, 3};
  auto full = EncodeToVector(Frame{9, Rread{Bytes{payload}}}, kLegacy);
  ASSERT_TRUE(full);
  std::array<uint8_t, kRreadHeaderSize> header;
  EncodeCountedReplyHeader(header, MsgType::kRread, 9, 3);
  EXPECT_TRUE(std::equal(header.begin(), header.end(), full->begin()));
}

TEST(FrameCodec, NextFrameSplitsAStream) {
  auto one = EncodeToVector(Frame{1, Tclunk{7}}, kLegacy);
  auto two = EncodeToVector(Frame{2, Tclunk{8}}, kLegacy);
  ASSERT_TRUE(one && two);
  std::vector<uint8_t> stream = *one;
  stream.insert(stream.end(), two->begin(), two->end());
  // Fewer than 4 bytes: wait for the size field.
  auto none = NextFrame(std::span<const uint8_t>(stream).first(3), kLegacy);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->frame.empty());
  EXPECT_EQ(none->needed, 4u);
  // The size is known but the frame is not whole: wait for all of it.
  auto part = NextFrame(std::span<const uint8_t>(stream).first(one->size() - 1), kLegacy);
  ASSERT_TRUE(part);
  EXPECT_TRUE(part->frame.empty());
  EXPECT_EQ(part->needed, one->size());
  // Whole frames come out one at a time, each exactly its own bytes.
  auto first = NextFrame(stream, kLegacy);
  ASSERT_TRUE(first);
  EXPECT_TRUE(std::ranges::equal(first->frame, *one));
  auto second = NextFrame(std::span<const uint8_t>(stream).subspan(first->frame.size()), kLegacy);
  ASSERT_TRUE(second);
  EXPECT_TRUE(std::ranges::equal(second->frame, *two));
  // A refused size field loses the framing.
  const uint8_t huge[] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0};
  auto bad = NextFrame(huge, kLegacy);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, CodecErrorKind::kFrameTooLarge);
}

TEST(FrameCodec, PeekFrameSizeBoundsTheAllocation) {
  std::array<uint8_t, 4> prefix = {0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(PeekFrameSize(prefix, kLegacy).error().kind, CodecErrorKind::kFrameTooLarge);
  prefix = {3, 0, 0, 0};
  EXPECT_EQ(PeekFrameSize(prefix, kLegacy).error().kind, CodecErrorKind::kFrameTooShort);
}

// The table's per-message attributes reach the structs and MsgInfo alike.
TEST(MessageTable, AttributesComeFromTheTable) {
  static_assert(std::is_same_v<ReplyOf<Twalk>, Rwalk> && std::is_same_v<ReplyOf<Tversion>, Rversion>);
  EXPECT_TRUE(Tread::kRunsOnWorker && Tread::kReservesCount && !Tread::kMutates);
  EXPECT_TRUE(Twrite::kRunsOnWorker && !Twrite::kReservesCount && Twrite::kMutates);
  EXPECT_TRUE(Treaddir::kReservesCount);
  EXPECT_FALSE(Twalk::kRunsOnWorker || Tclunk::kRunsOnWorker || Tversion::kRunsOnWorker);
  EXPECT_TRUE(Rwalk::kCarriesQid && Rreaddir::kCarriesQid && Rattach::kCarriesQid && Rgetattr::kCarriesQid);
  EXPECT_FALSE(Rread::kCarriesQid || Twalk::kCarriesQid || Rlerror::kCarriesQid);
  const MsgInfo* read = FindMsgInfo("Tread");
  ASSERT_NE(read, nullptr);
  EXPECT_TRUE(read->runs_on_worker && read->reserves_count && !read->carries_qid);
  EXPECT_TRUE(FindMsgInfo("Rlopen")->carries_qid);
}

TEST(MessageTable, TypeNumbersAndNamesAgree) {
  uint8_t type = 0;
  ASSERT_TRUE(MsgTypeFromName("Twalk", &type));
  EXPECT_EQ(type, 110);
  ASSERT_NE(FindMsgInfo(type), nullptr);
  EXPECT_EQ(FindMsgInfo(type)->reference, "walk(5)");
  EXPECT_TRUE(FindMsgInfo(type)->is_request);
  EXPECT_FALSE(FindMsgInfo(type)->mutates);
  EXPECT_TRUE(FindMsgInfo("Tmkdir")->mutates);
  auto fields = FieldDocs(110);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[2].name, "wnames");
  EXPECT_EQ(fields[2].wire_type, "wnames");
  EXPECT_EQ(FindMsgInfo(uint8_t{6}), nullptr);
}

}  // namespace
}  // namespace p9x
