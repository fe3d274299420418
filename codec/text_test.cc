// SPDX-License-Identifier: MIT
#include "codec/text.h"

#include <gtest/gtest.h>

#include "codec/dirent.h"

namespace p9x {
namespace {

TEST(TextForm, PrintsTwalkInCanonicalForm) {
  Twalk walk{0, 1, {}};
  walk.wnames.count = 2;
  walk.wnames.names[0] = "a";
  walk.wnames.names[1] = "b";
  EXPECT_EQ(ToText(Frame{1, walk}, Dialect::kLegacy), R"(Twalk{tag=1 fid=0 newfid=1 wnames=["a","b"]})");
}

TEST(TextForm, PrintsQidsTheSameWayInBothDialects) {
  Frame f{2, Rattach{Qid{kQtDir, 0, 2, 0}}};
  EXPECT_EQ(ToText(f, Dialect::kLegacy), "Rattach{tag=2 qid={type=0x80 version=0 path=0x2}}");
  EXPECT_EQ(ToText(f, Dialect::kXqid), "Rattach{tag=2 qid={type=0x80 version=0 path=0x2}}");
  Frame x{2, Rattach{Qid{kQtDir, 0, 2, 7}}};
  EXPECT_EQ(ToText(x, Dialect::kXqid), "Rattach{tag=2 qid={type=0x80 version=0 path=0x7:0x2}}");
}

TEST(TextForm, PrintsShortDataAsHexAndLongDataAsLength) {
  std::vector<uint8_t> hello = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(ToText(Frame{3, Rread{Bytes{hello}}}, Dialect::kLegacy), "Rread{tag=3 data=<5 bytes 68656c6c6f>}");
  std::vector<uint8_t> big(4096);
  EXPECT_EQ(ToText(Frame{3, Rread{Bytes{big}}}, Dialect::kLegacy), "Rread{tag=3 data=<4096 bytes>}");
}

TEST(TextForm, EscapesNonPrintableBytesInStrings) {
  Frame f{1, Tversion{8192, std::string_view("9P2000.L\0x\"", 11)}};
  EXPECT_EQ(ToText(f, Dialect::kLegacy), R"(Tversion{tag=1 msize=8192 version="9P2000.L\x00x\""})");
}

TEST(TextForm, ParsesWhatItPrints) {
  for (Dialect d : {Dialect::kLegacy, Dialect::kXqid}) {
    std::vector<uint8_t> entries(200);
    DirentWriter writer(entries, d);
    ASSERT_TRUE(writer.Add(Dirent{Qid{kQtDir, 1, 2, d == Dialect::kXqid ? 5u : 0u}, 1, kDtDir, "."}));
    ASSERT_TRUE(writer.Add(Dirent{Qid{0, 1, 9, 0}, 2, kDtReg, "f\"ile"}));
    Frame frames[] = {
        {1, Rreaddir{DirentBytes{writer.bytes()}}},
        {kNoTag, Tversion{65536, "9P2000.L.xqid"}},
        {4, Tsetattr{1, 0x1ff, 0644, 1, 2, 3, 4, 5, 6, 7}},
        {5, Rlerror{2}},
    };
    for (const Frame& f : frames) {
      std::string text = ToText(f, d);
      auto parsed = ParseText(text, d);
      ASSERT_TRUE(parsed) << parsed.error() << " in " << text;
      EXPECT_EQ(ToText((*parsed)->frame, d), text);
      EXPECT_EQ(*EncodeToVector((*parsed)->frame, {d, kMaxMsize}), *EncodeToVector(f, {d, kMaxMsize}));
    }
  }
}

TEST(TextForm, ParseReportsWhereItStopped) {
  auto parsed = ParseText("Tclunk{tag=1 fud=3}", Dialect::kLegacy);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("expected field 'fid'"), std::string::npos) << parsed.error();
  EXPECT_FALSE(ParseText("Tnothing{tag=1}", Dialect::kLegacy));
}

TEST(TextForm, UndecodableBytesPrintTheReason) {
  std::vector<uint8_t> junk = {5, 0, 0, 0, 100};
  EXPECT_EQ(BytesToText(junk, WireContext{}).rfind("<undecodable: FrameTooShort", 0), 0u);
}

}  // namespace
}  // namespace p9x
