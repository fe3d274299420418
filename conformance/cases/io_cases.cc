// SPDX-License-Identifier: MIT
// Lopen, lcreate, mkdir, read, write (data integrity, offsets, iounit) and fsync.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kLopenSpec[] =
    "spec/9p2000.L.md §8.11; 9P2000.L lopen (diod protocol.md): \"lopen prepares fid for file I/O. flags contains Linux open(2) "
    "flags bits\" and returns qid and iounit; open(5): \"It is illegal to write a directory, truncate "
    "it, or attempt to remove it on close.\"";
constexpr char kLcreateSpec[] =
    "spec/9p2000.L.md §8.12; 9P2000.L lcreate (diod protocol.md): \"lcreate creates a regular file name in directory fid and "
    "prepares it for I/O\"; \"fid ... is changed to represent the new file\"";
constexpr char kReadSpec[] =
    "read(5): \"The read request asks for count bytes of data from the file identified by fid, which "
    "must be opened for reading, starting offset bytes after the beginning of the file.\"";
constexpr char kWriteSpec[] =
    "write(5): \"The write request asks that count bytes of data be recorded in the file identified by "
    "fid, which must be opened for writing, starting offset bytes after the beginning of the file.\"";

}  // namespace

void RegisterIoCases(Catalogue& catalogue) {
  // ---- lopen ----
  catalogue.Add({
      .name = "Required.Lopen.QidMatchesWalk",
      .spec = kLopenSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "abc");
        Qid walked{};
        const uint32_t f = p.Walk(dir, {"f"}, &walked);
        const Rlopen o = p.Open(f, kOpenRdonly);
        c.Expect(SamePath(o.qid, walked), "Rlopen qid " + QidText(o.qid) + " differs from the walk qid " + QidText(walked));
      },
  });
  catalogue.Add({
      .name = "Required.Lopen.SecondOpenRefused",
      .spec = "open(5): the fid must not already be open (\"It is illegal to ... open a fid that is already open\" "
              "follows from fids being opened once)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "abc");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        c.ExpectError(p.Call(Tlopen{f, kOpenRdonly}), "second Tlopen of an open fid");
      },
  });
  catalogue.Add({
      .name = "Required.Lopen.DirectoryReadOnly",
      .spec = kLopenSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = p.Walk(p.root(), {});
        const Rlopen o = p.Open(dir, kOpenRdonly);
        c.Expect((o.qid.type & kQtDir) != 0, "Rlopen of the root: qid " + QidText(o.qid) + " lacks QTDIR");
      },
  });
  catalogue.Add({
      .name = "Required.Lopen.DirectoryForWriteRefused",
      .spec = kLopenSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        c.ExpectError(p.Call(Tlopen{dir, kOpenWronly}), "Tlopen O_WRONLY of a directory");
      },
  });
  catalogue.Add({
      .name = "Recommended.Lopen.DirectoryForWriteIsEisdir",
      .spec = "open(2): EISDIR \"pathname refers to a directory and the access requested involved writing\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        c.ExpectErrno(p.Call(Tlopen{dir, kOpenWronly}), Errno::kEISDIR, "Tlopen O_WRONLY of a directory");
      },
  });
  catalogue.Add({
      .name = "Required.Lopen.TruncEmptiesFile",
      .spec = "open(2) O_TRUNC, carried by Tlopen flags: \"If the file already exists and is a regular file "
              "and the access mode allows writing it will be truncated to length 0.\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "some data");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenWronly | kOpenTrunc);
        const Rgetattr a = p.Getattr(f);
        c.Expect(a.size == 0, "after Tlopen O_TRUNC the size is " + std::to_string(a.size));
      },
  });
  catalogue.Add({
      .name = "Required.Lopen.IounitFitsMsize",
      .spec = "open(5): \"The iounit field returned by open and create may be zero. If it is not, it is the "
              "maximum number of bytes that are guaranteed to be read from or written to the file without "
              "breaking the I/O transfer into multiple 9P messages\" (so at most msize - 24)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "abc");
        Rlopen o;
        p.OpenPath(dir, {"f"}, kOpenRdonly, &o);
        c.Expect(o.iounit <= p.io_size(), "iounit " + std::to_string(o.iounit) + " exceeds msize-24 = " +
                                              std::to_string(p.io_size()));
      },
  });
  catalogue.Add({
      .name = "Required.Lopen.UnknownFidRefused",
      .spec = kLopenSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        c.ExpectError(p.Call(Tlopen{0x7ead0003u, kOpenRdonly}), "Tlopen of an unknown fid");
      },
  });

  // ---- lcreate ----
  catalogue.Add({
      .name = "Required.Lcreate.FidBecomesNewFile",
      .spec = kLcreateSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        Rlcreate created;
        const uint32_t f = p.CreateOpen(dir, "new", kOpenRdwr | kOpenCreate, 0644, &created);
        p.WriteAll(f, 0, "hello");
        const Rgetattr a = p.Getattr(f);
        c.Expect(SamePath(a.qid, created.qid) && a.size == 5,
                 "after Tlcreate and a 5-byte write the fid has qid " + QidText(a.qid) + " size " +
                     std::to_string(a.size) + "; Rlcreate said " + QidText(created.qid));
      },
  });
  catalogue.Add({
      .name = "Required.Lcreate.QidIsFile",
      .spec = "qid(5): a regular file's qid has no QTDIR bit",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid q = p.MakeFile(dir, "f");
        c.Expect((q.type & (kQtDir | kQtSymlink)) == 0, "Rlcreate qid " + QidText(q) + " is not a plain file");
      },
  });
  catalogue.Add({
      .name = "Required.Lcreate.ExistingNameRefused",
      .spec = "spec/9p2000.L.md §8.12; 9P2000.L lcreate is open(2) with O_CREAT: with O_EXCL an existing name fails (EEXIST)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t again = p.Walk(dir, {});
        c.ExpectError(p.Call(Tlcreate{again, "f", kOpenRdwr | kOpenCreate | kOpenExcl, 0644, 0}),
                      "Tlcreate O_EXCL of an existing name");
      },
  });
  catalogue.Add({
      .name = "Required.Lcreate.VisibleToWalk",
      .spec = kLcreateSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid q = p.MakeFile(dir, "f");
        Qid walked{};
        p.Walk(dir, {"f"}, &walked);
        c.Expect(SamePath(q, walked), "Rlcreate qid " + QidText(q) + " differs from the walk qid " + QidText(walked));
      },
  });
  catalogue.Add({
      .name = "Required.Lcreate.OnFileRefused",
      .spec = kLcreateSpec + std::string(" (fid must be a directory)"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        c.ExpectError(p.Call(Tlcreate{f, "g", kOpenRdwr | kOpenCreate, 0644, 0}), "Tlcreate inside a regular file");
      },
  });
  catalogue.Add({
      .name = "Recommended.Lcreate.ModeApplied",
      .spec = "spec/9p2000.L.md §8.12; 9P2000.L lcreate: \"mode\" is the new file's permission bits (open(2) mode)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "", 0640);
        const Rgetattr a = p.Getattr(p.Walk(dir, {"f"}));
        c.Expect((a.mode & 0777) == 0640, "created with mode 0640, Rgetattr mode is 0" +
                                              std::to_string((a.mode >> 6) & 7) + std::to_string((a.mode >> 3) & 7) +
                                              std::to_string(a.mode & 7));
      },
  });

  // ---- mkdir ----
  catalogue.Add({
      .name = "Required.Mkdir.QidIsDirectory",
      .spec = "spec/9p2000.L.md §8.25; 9P2000.L mkdir (diod protocol.md): \"mkdir creates a new directory name in parent directory "
              "dfid\" and returns its qid",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid q = p.MakeDir(dir, "d");
        c.Expect((q.type & kQtDir) != 0, "Rmkdir qid " + QidText(q) + " lacks QTDIR");
      },
  });
  catalogue.Add({
      .name = "Required.Mkdir.ExistingNameRefused",
      .spec = "mkdir(2): EEXIST \"pathname already exists\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        c.ExpectError(p.Call(Tmkdir{dir, "d", 0755, 0}), "second Tmkdir of the same name");
      },
  });
  catalogue.Add({
      .name = "Recommended.Mkdir.ExistingNameIsEexist",
      .spec = "mkdir(2): EEXIST \"pathname already exists\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        c.ExpectErrno(p.Call(Tmkdir{dir, "d", 0755, 0}), Errno::kEEXIST, "second Tmkdir of the same name");
      },
  });

  // ---- read ----
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
  catalogue.Add({
      .name = "Required.Io.ReadUnopenedFidRefused",
      .spec = kReadSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "abc");
        const uint32_t f = p.Walk(dir, {"f"});
        c.ExpectError(p.Call(Tread{f, 0, 3}), "Tread on a fid that was never opened");
      },
  });
  catalogue.Add({
      .name = "Required.Io.ReadWriteOnlyFidRefused",
      .spec = kReadSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "abc");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenWronly);
        c.ExpectError(p.Call(Tread{f, 0, 3}), "Tread on a fid opened O_WRONLY");
      },
  });

  // ---- write ----
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
  catalogue.Add({
      .name = "Required.Io.WriteReadOnlyFidRefused",
      .spec = kWriteSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "abc");
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        c.ExpectError(p.Call(Twrite{f, 0, AsBytes("x")}), "Twrite on a fid opened O_RDONLY");
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
      .run = [](CaseContext& c) {
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

  // ---- fsync ----
  catalogue.Add({
      .name = "Required.Fsync.OpenFileSucceeds",
      .spec = "spec/9p2000.L.md §8.22; 9P2000.L fsync (diod protocol.md): \"fsync tells the server to flush any cached data "
              "associated with fid, previously opened with lopen\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
        p.WriteAll(f, 0, "data");
        p.Must(p.Call(Tfsync{f, 0}), "Tfsync");
      },
  });
  catalogue.Add({
      .name = "Required.Fsync.DatasyncSucceeds",
      .spec = "spec/9p2000.L.md §8.22; 9P2000.L fsync: datasync != 0 asks for fdatasync(2)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const uint32_t f = p.CreateOpen(dir, "f", kOpenRdwr | kOpenCreate);
        p.WriteAll(f, 0, "data");
        p.Must(p.Call(Tfsync{f, 1}), "Tfsync datasync=1");
      },
  });
  catalogue.Add({
      .name = "Required.Io.ReadNeverExceedsCount",
      .spec = "spec/9p2000.L.md §4: \"A server MAY return fewer bytes than asked; it MUST NOT return more than asked\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
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
