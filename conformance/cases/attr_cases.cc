// SPDX-License-Identifier: MIT
// Getattr, setattr and statfs.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kGetattrSpec[] =
    "spec/9p2000.L.md §8.17; 9P2000.L getattr (diod protocol.md): \"getattr gets attributes of a file system object referenced "
    "by fid. The response is intended to follow pretty closely the fields returned by the stat(2) system "
    "call\"; \"valid\" says which fields are filled in";
constexpr char kSetattrSpec[] =
    "spec/9p2000.L.md §8.18; 9P2000.L setattr (diod protocol.md): \"setattr sets attributes of a file system object referenced by "
    "fid. As with getattr, valid is a bitmask selecting which fields to set\"";

}  // namespace

void RegisterAttrCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Getattr.QidMatchesWalk",
      .spec = kGetattrSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
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
      .run = [](CaseContext& c) {
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
      .run = [](CaseContext& c) {
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
      .run = [](CaseContext& c) {
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
  catalogue.Add({
      .name = "Required.Getattr.UnknownFidRefused",
      .spec = kGetattrSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        c.ExpectError(p.Call(Tgetattr{0x7ead0004u, kGetattrBasic}), "Tgetattr on an unknown fid");
      },
  });
  catalogue.Add({
      .name = "Required.Getattr.MatchesLocalStat",
      .spec = kGetattrSpec + std::string(" (compared with lstat(2) of the same file through --local-root)"),
      .needs = {Capability::kWritable, Capability::kLocalRoot},
      .run = [](CaseContext& c) {
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
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        p.Must(p.Call(Tlink{dir, f, "g"}), "Tlink");
        const Rgetattr a = p.Getattr(f);
        c.Expect(a.nlink == 2, "nlink is " + std::to_string(a.nlink) + " after one Tlink");
      },
  });

  catalogue.Add({
      .name = "Required.Setattr.TruncatesSize",
      .spec = kSetattrSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "0123456789");
        const uint32_t f = p.Walk(dir, {"f"});
        p.Must(p.Call(Tsetattr{f, kSetattrSize, 0, 0, 0, 4, 0, 0, 0, 0}), "Tsetattr size=4");
        const uint32_t r = p.OpenPath(dir, {"f"}, kOpenRdonly);
        const std::string got = p.ReadAll(r);
        c.Expect(got == "0123", "after Tsetattr size=4 the file reads \"" + got + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Setattr.ExtendsSizeWithZeros",
      .spec = kSetattrSpec + std::string(" (truncate(2) extends with zero bytes)"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", "ab");
        const uint32_t f = p.Walk(dir, {"f"});
        p.Must(p.Call(Tsetattr{f, kSetattrSize, 0, 0, 0, 6, 0, 0, 0, 0}), "Tsetattr size=6");
        const std::string got = p.ReadAll(p.OpenPath(dir, {"f"}, kOpenRdonly));
        c.Expect(got == std::string("ab\0\0\0\0", 6), "after Tsetattr size=6 the file is " + std::to_string(got.size()) +
                                                          " bytes, not ab + 4 zeros");
      },
  });
  catalogue.Add({
      .name = "Required.Setattr.ChangesMode",
      .spec = kSetattrSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        p.Must(p.Call(Tsetattr{f, kSetattrMode, 0600, 0, 0, 0, 0, 0, 0, 0}), "Tsetattr mode=0600");
        const Rgetattr a = p.Getattr(f);
        c.Expect((a.mode & 07777) == 0600, "after Tsetattr mode=0600, Rgetattr mode is " + std::to_string(a.mode & 07777) +
                                               " (decimal)");
      },
  });
  catalogue.Add({
      .name = "Required.Setattr.SetsMtime",
      .spec = kSetattrSpec + std::string(" (MTIME|MTIME_SET sets mtime_sec/mtime_nsec)"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        p.Must(p.Call(Tsetattr{f, kSetattrMtime | kSetattrMtimeSet, 0, 0, 0, 0, 0, 0, 1500000000, 0}),
               "Tsetattr mtime=1500000000");
        const Rgetattr a = p.Getattr(f);
        c.Expect(a.mtime_sec == 1500000000, "after Tsetattr mtime=1500000000, mtime_sec is " + std::to_string(a.mtime_sec));
      },
  });
  catalogue.Add({
      .name = "Required.Setattr.SizeOfDirectoryRefused",
      .spec = kSetattrSpec + std::string(" (truncate(2) of a directory fails with EISDIR)"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        c.ExpectError(p.Call(Tsetattr{dir, kSetattrSize, 0, 0, 0, 0, 0, 0, 0, 0}), "Tsetattr size=0 of a directory");
      },
  });

  catalogue.Add({
      .name = "Required.Statfs.Answers",
      .spec = "spec/9p2000.L.md §8.10; 9P2000.L statfs (diod protocol.md): \"statfs is used to request file system information of the "
              "file system containing fid. The Rstatfs response corresponds to the fields returned by the "
              "statfs(2) system call\"",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        auto r = p.Call(Tstatfs{p.root()});
        if (!p.Must(r, "Tstatfs")) return;
        c.Expect(r.msg.bsize > 0 && r.msg.namelen > 0,
                 "Rstatfs bsize=" + std::to_string(r.msg.bsize) + " namelen=" + std::to_string(r.msg.namelen));
      },
  });
  catalogue.Add({
      .name = "Required.Statfs.MatchesLocalStatvfs",
      .spec = "spec/9p2000.L.md §8.10; 9P2000.L statfs: the fields correspond to statfs(2) of the file system containing fid "
              "(compared with statvfs(3) through --local-root)",
      .needs = {Capability::kLocalRoot},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        auto r = p.Call(Tstatfs{p.root()});
        if (!p.Must(r, "Tstatfs")) return;
        struct statvfs sv {};
        if (statvfs(c.env().local_root.c_str(), &sv) != 0) {
          c.Fail("statvfs of --local-root failed");
          return;
        }
        c.Expect(r.msg.blocks * r.msg.bsize == static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize &&
                     r.msg.namelen == sv.f_namemax,
                 "Rstatfs blocks*bsize=" + std::to_string(r.msg.blocks * r.msg.bsize) + " namelen=" +
                     std::to_string(r.msg.namelen) + "; statvfs says " +
                     std::to_string(static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize) + " and " +
                     std::to_string(sv.f_namemax));
      },
  });
}

}  // namespace p9x::conformance
