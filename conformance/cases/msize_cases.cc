// SPDX-License-Identifier: MIT
// Msize: every frame the server sends fits the agreed msize, and it refuses a larger request.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kMsizeSpec[] =
    "version(5): msize is \"the maximum length, in bytes, it will ever generate or expect to receive in a "
    "single 9P message\"; spec/9p2000.L.md §4: every frame either side sends MUST fit in msize";

}  // namespace

void RegisterMsizeCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Msize.RepliesFitMsize",
      .spec = kMsizeSpec + std::string("; spec/9p2000.L.md §4: an oversized Tread count is clamped"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.SessionWithMsize(8192);
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", Pattern(40000));
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        // The probe fails the case if the Rread frame exceeds the negotiated msize.
        auto r = p.Call(Tread{f, 0, 1u << 20});
        if (r.is_error()) {
          c.Note("the server refused the oversized count (" + r.Describe() + "); its reply fits msize");
          return;
        }
        if (!p.Must(r, "Tread count=1048576 at msize 8192")) return;
        c.Expect(r.msg.data.bytes.size() + kRreadHeaderSize <= p.msize(),
                 "Rread carries " + std::to_string(r.msg.data.bytes.size()) + " bytes at msize " + std::to_string(p.msize()));
      },
  });
  catalogue.Add({
      .name = "Required.Msize.ReaddirFitsMsize",
      .spec = kMsizeSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.SessionWithMsize(4096);
        const uint32_t dir = c.Scratch(p);
        for (int i = 0; i < 200 && !c.stopped(); ++i) p.MakeFile(dir, "a-rather-long-file-name-" + std::to_string(i));
        const uint32_t open = c.Scratch(p);
        p.Open(open, kOpenRdonly);
        auto r = p.Call(Treaddir{open, 0, 1u << 20});
        if (r.is_error()) {
          c.Note("the server refused the oversized count (" + r.Describe() + "); its reply fits msize");
          return;
        }
        if (!p.Must(r, "Treaddir count=1048576 at msize 4096")) return;
        const uint32_t bytes = static_cast<uint32_t>(r.msg.data.bytes.size());
        c.Expect(bytes + kRreadHeaderSize <= p.msize(), "Rreaddir carries " + std::to_string(bytes) + " bytes at msize " +
                                                            std::to_string(p.msize()));
      },
  });
  catalogue.Add({
      .name = "Required.Msize.OversizedRequestRefused",
      .spec = kMsizeSpec + std::string("; a p9x decoder refuses a larger frame (FrameTooLarge)"),
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.SessionWithMsize(8192);
        if (c.stopped()) return;
        // A well-formed Twrite one byte over msize (its fid does not exist either).
        const std::string data(p.msize() - 23 + 1, 'x');
        FrameBuilder b;
        b.U32(0x7ead0006u).U64(0).U32(static_cast<uint32_t>(data.size()));
        std::vector<uint8_t> frame = b.Frame(static_cast<uint8_t>(MsgType::kTwrite), 1);
        frame.insert(frame.end(), data.begin(), data.end());
        const uint32_t size = static_cast<uint32_t>(frame.size());
        for (int i = 0; i < 4; ++i) frame[i] = static_cast<uint8_t>(size >> (8 * i));
        p.SendBytes(frame);
        RawFrame f = p.Receive();
        if (f.status == ReplyStatus::kClosed) return;
        if (f.status == ReplyStatus::kTimeout) {
          c.Fail("a Twrite frame larger than msize: " + f.detail);
          return;
        }
        c.Expect(f.status == ReplyStatus::kOk && (f.type == static_cast<uint8_t>(MsgType::kRlerror) || f.type == kRerrorType),
                 "a Twrite frame larger than msize was not refused");
      },
  });
}

}  // namespace p9x::conformance
