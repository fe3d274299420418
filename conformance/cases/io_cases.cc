// SPDX-License-Identifier: MIT
// Read and write: data integrity, offsets, counts, iounit, open modes, O_APPEND.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/io_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterIoCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Io.WriteThenReadBack",
      .spec = kReadSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "hello, 9p");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        const std::string got = p.ReadAll(f);
        c.Expect(got == "hello, 9p", "read back \"" + got + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Io.ReadAtOffset",
      .spec = kReadSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "0123456789");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        auto r = p.Call(Tread{f, 3, 4});
        if (!p.Must(r, "Tread offset=3 count=4")) return;
        c.Expect(AsString(r.msg.data) == "3456", "Tread offset=3 count=4 returned \"" + AsString(r.msg.data) + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Io.ReadPastEndReturnsZero",
      .spec = "read(5): \"If the offset field is greater than or equal to the number of bytes in the file, a "
              "count of zero will be returned.\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "0123456789");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        auto r = p.Call(Tread{f, 100, 10});
        if (!p.Must(r, "Tread past the end")) return;
        c.Expect(r.msg.data.bytes.empty(), "Tread past the end returned " + std::to_string(r.msg.data.bytes.size()) + " bytes");
      },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Io.ReadUnopenedFidRefused",
                                .spec = kReadSpec,
                                .needs = {Capability::kWritable},
                                .refused = "Tread on a fid that was never opened",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f", "abc");
                                  const uint32_t f = p.Walk(dir, {"f"});
                                  return p.Call(Tread{f, 0, 3});
                                },
                            });
  AddRefusedCase(catalogue, {
                                .name = "Required.Io.ReadWriteOnlyFidRefused",
                                .spec = kReadSpec,
                                .needs = {Capability::kWritable},
                                .refused = "Tread on a fid opened O_WRONLY",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f", "abc");
                                  const uint32_t f = p.OpenPath(dir, {"f"}, kOpenWronly);
                                  return p.Call(Tread{f, 0, 3});
                                },
                            });
  catalogue.Add({
      .name = "Required.Io.WriteReturnsCount",
      .spec = kWriteSpec + std::string(" Rwrite's count is the number of bytes written."),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
        auto r = p.Call(Twrite{f, 0, AsBytes("12345")});
        if (!p.Must(r, "Twrite of 5 bytes")) return;
        c.Expect(r.msg.count == 5, "Twrite of 5 bytes answered count=" + std::to_string(r.msg.count));
      },
  });
  catalogue.Add({
      .name = "Required.Io.LargeWriteIntegrity",
      .spec = kWriteSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const std::string data = Pattern(1 << 20, 7);
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
        p.WriteAll(f, 0, data);
        p.Clunk(f);
        const uint32_t r = p.OpenPath(dir, {"f"}, kOpenRdonly);
        const std::string got = p.ReadAll(r);
        if (c.stopped()) return;
        size_t first = 0;
        while (first < std::min(got.size(), data.size()) && got[first] == data[first]) ++first;
        c.Expect(got == data, "1 MiB written in msize chunks read back as " + std::to_string(got.size()) +
                                  " bytes, first difference at byte " + std::to_string(first));
      },
  });
  catalogue.Add({
      .name = "Required.Io.WritePastEndLeavesZeros",
      .spec = kWriteSpec + std::string(" (a write past the end leaves a hole that reads as zeros, as pwrite(2))"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
        p.Must(p.Call(Twrite{f, 10, AsBytes("xyz")}), "Twrite at offset 10");
        const std::string got = p.ReadAll(f);
        c.Expect(got == std::string(10, '\0') + "xyz", "after a write at offset 10 the file is " +
                                                           std::to_string(got.size()) + " bytes, not 10 zeros + xyz");
      },
  });
  catalogue.Add({
      .name = "Required.Io.OverwriteMiddle",
      .spec = kWriteSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "0123456789");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
        p.Must(p.Call(Twrite{f, 4, AsBytes("ab")}), "Twrite at offset 4");
        const std::string got = p.ReadAll(f);
        c.Expect(got == "0123ab6789", "after overwriting bytes 4-5 the file reads \"" + got + "\"");
      },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Io.WriteReadOnlyFidRefused",
                                .spec = kWriteSpec,
                                .needs = {Capability::kWritable},
                                .refused = "Twrite on a fid opened O_RDONLY",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f", "abc");
                                  const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
                                  return p.Call(Twrite{f, 0, AsBytes("x")});
                                },
                            });
  catalogue.Add({
      .name = "Required.Io.IounitSizedWriteAccepted",
      .spec = "open(5): iounit \"is the maximum number of bytes that are guaranteed to be read from or "
              "written to the file without breaking the I/O transfer into multiple 9P messages\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        Rlcreate created;
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate, 0644, &created);
        const uint32_t n = created.iounit != 0 ? created.iounit : p.io_size();
        const std::string data = Pattern(n, 3);
        auto r = p.Call(Twrite{f, 0, AsBytes(data)});
        if (!p.Must(r, "Twrite of iounit=" + std::to_string(n) + " bytes")) return;
        c.Expect(r.msg.count == n, "Twrite of " + std::to_string(n) + " bytes wrote " + std::to_string(r.msg.count));
      },
  });
  catalogue.Add({
      .name = "Recommended.Io.AppendFlagAppends",
      .spec = "open(2) O_APPEND, carried by Tlopen flags: \"the file offset is positioned at the end of the "
              "file\" before each write",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "abc");
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenWronly | kOpenAppend);
            p.Must(p.Call(Twrite{f, 0, AsBytes("de")}), "Twrite with O_APPEND");
            const uint32_t r = p.OpenPath(dir, {"f"}, kOpenRdonly);
            const std::string got = p.ReadAll(r);
            c.Expect(got == "abcde", "O_APPEND write at offset 0 left \"" + got + "\"");
          },
  });
  catalogue.Add({
      .name = "Required.Io.ReadNeverExceedsCount",
      .spec = "spec/9p2000.L.md §4: \"A server MAY return fewer bytes than asked; it MUST NOT return more than asked\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", Pattern(1000));
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
            for (uint32_t count : {1u, 5u, 511u}) {
              auto r = p.Call(Tread{f, 0, count});
              if (!p.Must(r, "Tread count=" + std::to_string(count))) return;
              if (!c.Expect(r.msg.data.bytes.size() <= count, "Tread count=" + std::to_string(count) + " returned " +
                                                                  std::to_string(r.msg.data.bytes.size()) + " bytes")) {
                return;
              }
            }
          },
  });
}

}  // namespace p9x::conformance
