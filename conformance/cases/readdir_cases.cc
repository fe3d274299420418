// SPDX-License-Identifier: MIT
// Readdir: small counts, resumable offsets, completeness, entries' qids equal walk qids.
#include <map>
#include <set>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/qid_common.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {
namespace {

constexpr char kReaddirSpec[] =
    "spec/9p2000.L.md §8.16; 9P2000.L readdir (diod protocol.md): \"readdir requests that the server return directory entries "
    "from the directory represented by fid, previously opened with lopen. offset is zero on the first "
    "call. Directory entries are represented as variable-length records: qid[13] offset[8] type[1] "
    "name[s]. At most count bytes will be returned in data. If count is not zero in the result, more "
    "data is available. On subsequent calls, offset is the offset returned in the last directory entry "
    "of the previous call.\"";

// A fresh fid on the case's scratch directory, opened for reading.
uint32_t OpenScratch(CaseContext& c, Probe& p) {
  const uint32_t fid = c.Scratch(p);
  p.Open(fid, kOpenRdonly);
  return fid;
}

// A scratch directory with `n` files named f0..f(n-1); returns an open fid on it.
uint32_t DirWithFiles(CaseContext& c, Probe& p, int n, std::map<std::string, Qid>* qids = nullptr) {
  const uint32_t dir = c.Scratch(p);
  for (int i = 0; i < n && !c.stopped(); ++i) {
    const std::string name = "f" + std::to_string(i);
    const Qid q = p.MakeFile(dir, name);
    if (qids != nullptr) (*qids)[name] = q;
  }
  p.Clunk(dir);
  return OpenScratch(c, p);
}

}  // namespace

void RegisterReaddirCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Readdir.ListsCreatedEntries",
      .spec = kReaddirSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 5);
        std::multiset<std::string> names;
        for (const Entry& e : p.ReaddirAll(dir)) names.insert(e.name);
        for (int i = 0; i < 5; ++i) {
          const std::string n = "f" + std::to_string(i);
          if (!c.Expect(names.count(n) == 1, "entry " + n + " appears " + std::to_string(names.count(n)) + " times")) return;
        }
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.ManyEntriesEachOnce",
      .spec = kReaddirSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 300);
        std::map<std::string, int> seen;
        for (const Entry& e : p.ReaddirAll(dir, 1000)) ++seen[e.name];
        for (int i = 0; i < 300 && !c.stopped(); ++i) {
          const std::string n = "f" + std::to_string(i);
          c.Expect(seen[n] == 1, "entry " + n + " listed " + std::to_string(seen[n]) + " times in 300");
        }
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.ResumeAtOffset",
      .spec = kReaddirSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 12);
        std::vector<Entry> all = p.ReaddirAll(dir);
        // Resume from each entry's offset on a fresh open fid: the rest must follow in order.
        for (size_t i = 0; i + 1 < all.size() && !c.stopped(); i += 3) {
          const uint32_t reopened = OpenScratch(c, p);
          std::vector<Entry> rest = p.Readdir(reopened, all[i].offset, p.io_size());
          if (!c.Expect(!rest.empty() && rest[0].name == all[i + 1].name,
                        "Treaddir at the offset of \"" + all[i].name + "\" did not continue with \"" +
                            all[i + 1].name + "\"" + (rest.empty() ? " (empty)" : ", got \"" + rest[0].name + "\""))) {
            return;
          }
        }
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.SmallCountReturnsWholeEntries",
      .spec = std::string(kReaddirSpec) + " (entries are never split across replies)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 6);
        const std::vector<Entry> whole = p.ReaddirAll(dir);
        std::set<std::string> expected, got;
        for (const Entry& e : whole) expected.insert(e.name);
        // Room for exactly one entry with a name of up to 3 bytes.
        const uint32_t count = QidWireSize(p.dialect()) + 8 + 1 + 2 + 3;
        const uint32_t fresh = OpenScratch(c, p);
        uint64_t offset = 0;
        for (int round = 0; round < 100 && !c.stopped(); ++round) {
          uint32_t bytes = 0;
          std::vector<Entry> batch = p.Readdir(fresh, offset, count, &bytes);
          if (!c.Expect(bytes <= count, "Rreaddir returned " + std::to_string(bytes) + " bytes for count=" +
                                            std::to_string(count))) {
            return;
          }
          if (batch.empty()) break;
          for (const Entry& e : batch) got.insert(e.name);
          offset = batch.back().offset;
        }
        c.Expect(got == expected, "paging with count=" + std::to_string(count) + " listed " +
                                      std::to_string(got.size()) + " names, a full listing " +
                                      std::to_string(expected.size()));
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.CountRespected",
      .spec = kReaddirSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 40);
        uint32_t bytes = 0;
        p.Readdir(dir, 0, 200, &bytes);
        c.Expect(bytes <= 200 && bytes > 0, "Treaddir count=200 returned " + std::to_string(bytes) + " bytes");
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.EndReturnsEmpty",
      .spec = kReaddirSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 3);
        const std::vector<Entry> all = p.ReaddirAll(dir);
        if (all.empty()) return;
        uint32_t bytes = 1;
        p.Readdir(dir, all.back().offset, p.io_size(), &bytes);
        c.Expect(bytes == 0, "Treaddir at the last entry's offset returned " + std::to_string(bytes) + " bytes");
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.EntryQidsEqualWalkQids",
      .spec = "qid(5): \"two files on the same server hierarchy are the same if and only if their qids are "
              "the same\": an entry's qid is the qid a walk to it returns",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t scratch = c.Scratch(p);
        for (int i = 0; i < 4; ++i) p.MakeFile(scratch, "f" + std::to_string(i));
        p.MakeDir(scratch, "sub");
        const uint32_t dir = OpenScratch(c, p);
        for (const Entry& e : p.ReaddirAll(dir)) {
          if (e.name == "." || e.name == "..") continue;
          Qid walked{};
          p.Walk(scratch, {e.name}, &walked);
          if (!c.Expect(SamePath(walked, e.qid) && walked.type == e.qid.type,
                        "entry \"" + e.name + "\" has qid " + QidText(e.qid) + ", a walk gives " + QidText(walked))) {
            return;
          }
        }
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.DotEntryEqualsDirQid",
      .spec = "qid(5): the same file has the same qid; the \".\" entry is the directory itself",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = DirWithFiles(c, p, 2);
        const Qid self = p.Getattr(dir).qid;
        for (const Entry& e : p.ReaddirAll(dir)) {
          if (e.name == ".") {
            c.Expect(SamePath(e.qid, self), "\".\" has qid " + QidText(e.qid) + ", the directory is " + QidText(self));
            return;
          }
        }
        c.Skip("the server lists no \".\" entry");
      },
  });
  catalogue.Add({
      .name = "Recommended.Readdir.ListsDotAndDotDot",
      .spec = "getdents(2) as carried by 9P2000.L readdir: a directory lists \".\" and \"..\" (the Linux "
              "client passes entries through to readdir(3))",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = p.Walk(p.root(), {});
        p.Open(dir, kOpenRdonly);
        std::set<std::string> names;
        for (const Entry& e : p.ReaddirAll(dir)) names.insert(e.name);
        c.Expect(names.contains(".") && names.contains(".."), "the root listing lacks \".\" or \"..\"");
      },
  });
  catalogue.Add({
      .name = "Required.Readdir.EntryTypesMatchQids",
      .spec = "spec/9p2000.L.md §8.16; 9P2000.L readdir: type is the d_type of the entry; qid(5): QTDIR marks directories. An "
              "entry's d_type and its qid.type agree (QEMU sends qid type 0 for every entry)",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        p.MakeFile(dir, "f");
        const uint32_t open = OpenScratch(c, p);
        for (const Entry& e : p.ReaddirAll(open)) {
          if (e.name == "d") {
            if (!c.Expect(e.type == kDtDir && (e.qid.type & kQtDir) != 0,
                          "entry d: d_type " + std::to_string(e.type) + " qid " + QidText(e.qid))) {
              return;
            }
          }
          if (e.name == "f") {
            if (!c.Expect(e.type == kDtReg && (e.qid.type & kQtDir) == 0,
                          "entry f: d_type " + std::to_string(e.type) + " qid " + QidText(e.qid))) {
              return;
            }
          }
        }
      },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Readdir.UnopenedFidRefused",
                                .spec = std::string(kReaddirSpec) + " (fid must have been opened with lopen)",
                                .needs = {},
                                .refused = "Treaddir on a fid that was never opened",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  const uint32_t dir = p.Walk(p.root(), {});
                                  return p.Call(Treaddir{dir, 0, 1024});
                                },
                            });
  AddRefusedCase(catalogue, {
                                .name = "Required.Readdir.OnFileRefused",
                                .spec = kReaddirSpec,
                                .needs = {Capability::kWritable},
                                .refused = "Treaddir on an open regular file",
                                .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                                  const uint32_t dir = c.Scratch(p);
                                  p.MakeFile(dir, "f", "abc");
                                  const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
                                  return p.Call(Treaddir{f, 0, 1024});
                                },
                            });
  catalogue.Add({
      .name = "Xqid.Readdir.EntryQidMatchesWalk",
      .spec = "spec/xqid.md §7: the readdir entry's 128-bit qid equals the walk qid",
      .needs = {},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t open = p.Walk(p.root(), {});
            p.Open(open, kOpenRdonly);
            int checked = 0;
            for (const Entry& e : p.ReaddirAll(open)) {
              if (e.name == "." || e.name == ".." || checked >= 50) continue;
              Qid walked{};
              p.Clunk(p.Walk(p.root(), {e.name}, &walked));
              ++checked;
              if (!c.Expect(SamePath(walked, e.qid), "entry \"" + e.name + "\" has qid " + QidText(e.qid) +
                                                         ", a walk gives " + QidText(walked))) {
                return;
              }
            }
          },
  });
}

}  // namespace p9x::conformance
