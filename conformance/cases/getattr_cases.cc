// SPDX-License-Identifier: MIT
// Getattr: the qid, size, mode and basic fields, against local stat where given.
#include "conformance/cases/attr_common.h"
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterGetattrCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Getattr.QidMatchesWalk",
      .spec = kGetattrSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            Qid walked{};
            const uint32_t f = p.Walk(dir, {"f"}, &walked);
            const Rgetattr a = p.Getattr(f);
            c.Expect(SamePath(a.qid, walked) && a.qid.type == walked.type,
                     "Rgetattr qid " + QidText(a.qid) + " differs from the walk qid " + QidText(walked));
          },
  });
  catalogue.Add({
      .name = "Required.Getattr.SizeMatchesWritten",
      .spec = kGetattrSpec,
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", Pattern(12345));
            const Rgetattr a = p.Getattr(p.Walk(dir, {"f"}));
            c.Expect(a.size == 12345, "Rgetattr size " + std::to_string(a.size) + " after writing 12345 bytes");
          },
  });
  catalogue.Add({
      .name = "Required.Getattr.ModeHasFileType",
      .spec = kGetattrSpec + std::string(" (mode carries the S_IFMT type bits as stat(2) st_mode)"),
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const Rgetattr d = p.Getattr(dir);
            const Rgetattr f = p.Getattr(p.Walk(dir, {"f"}));
            c.Expect((d.mode & kSIfmt) == kSIfdir && (f.mode & kSIfmt) == kSIfreg,
                     "Rgetattr modes: directory 0" + std::to_string(d.mode >> 12) + "xxxx, file 0" +
                         std::to_string(f.mode >> 12) + "xxxx (expected S_IFDIR and S_IFREG)");
          },
  });
  catalogue.Add({
      .name = "Required.Getattr.BasicFieldsValid",
      .spec = kGetattrSpec + std::string("; the Linux client asks for P9_STATS_BASIC and relies on it"),
      .needs = {},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const Rgetattr a = p.Getattr(p.root(), kGetattrBasic);
            // mode, nlink, uid, gid, size, blocks, times: the fields every server can give.
            const uint64_t must = kGetattrMode | kGetattrNlink | kGetattrUid | kGetattrGid | kGetattrSize |
                                  kGetattrAtime | kGetattrMtime | kGetattrCtime;
            char buf[64];
            std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(a.valid));
            c.Expect((a.valid & must) == must, std::string("Rgetattr valid=") + buf + " lacks basic fields");
          },
  });
  AddRefusedCase(catalogue, {
                                .name = "Required.Getattr.UnknownFidRefused",
                                .spec = kGetattrSpec,
                                .needs = {},
                                .refused = "Tgetattr on an unknown fid",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  return p.Call(Tgetattr{0x7ead0004u, kGetattrBasic});
                                },
                            });
  catalogue.Add({
      .name = "Required.Getattr.MatchesLocalStat",
      .spec = kGetattrSpec + std::string(" (compared with lstat(2) of the same file through --local-root)"),
      .needs = {Capability::kWritable, Capability::kLocalRoot},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "local stat");
            const Rgetattr a = p.Getattr(p.Walk(dir, {"f"}));
            if (c.stopped()) return;
            struct stat st {};
            if (lstat(c.LocalPath(c.ScratchPath() + "/f").c_str(), &st) != 0) {
              c.Fail("lstat " + c.LocalPath(c.ScratchPath() + "/f") + " failed");
              return;
            }
            c.Expect(a.mode == st.st_mode && a.size == static_cast<uint64_t>(st.st_size) &&
                         a.nlink == static_cast<uint64_t>(st.st_nlink) && a.uid == st.st_uid && a.gid == st.st_gid,
                     "Rgetattr mode/size/nlink/uid/gid differ from lstat(2)");
          },
  });
  catalogue.Add({
      .name = "Required.Getattr.NlinkCountsHardLinks",
      .spec = kGetattrSpec + std::string(" (nlink as stat(2) st_nlink)"),
      .needs = {Capability::kWritable, Capability::kHardLinks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.Walk(dir, {"f"});
            p.Must(p.Call(Tlink{dir, f, "g"}), "Tlink");
            const Rgetattr a = p.Getattr(f);
            c.Expect(a.nlink == 2, "nlink is " + std::to_string(a.nlink) + " after one Tlink");
          },
  });
}

}  // namespace p9x::conformance
