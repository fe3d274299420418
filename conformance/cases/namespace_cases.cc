// SPDX-License-Identifier: MIT
// The namespace: rename, renameat, unlinkat, remove, link, symlink, readlink, mknod.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kRenameSpec[] =
    "spec/9p2000.L.md §8.19; 9P2000.L rename (diod protocol.md): \"rename renames a file system object referenced by fid, to "
    "name in the directory referenced by dfid\"";
constexpr char kRenameatSpec[] =
    "spec/9p2000.L.md §8.20; 9P2000.L renameat (diod protocol.md): \"renameat is preferred over rename\"; it renames oldname in "
    "olddirfid to newname in newdirfid, as renameat(2)";
constexpr char kUnlinkatSpec[] =
    "spec/9p2000.L.md §8.26; 9P2000.L unlinkat (diod protocol.md): \"unlinkat is preferred over remove\"; it removes name from "
    "dirfd, as unlinkat(2) with flags (AT_REMOVEDIR)";
constexpr char kRemoveSpec[] =
    "remove(5): \"The remove request asks the file server both to remove the file represented by fid and "
    "to clunk the fid, even if the remove fails.\"";

bool Exists(Probe& p, uint32_t dir, const std::string& name) {
  const uint32_t fid = p.NextFid();
  auto r = p.Call(MakeWalk(dir, fid, {name}));
  if (r.ok()) (void)p.Call(Tclunk{fid});
  return r.ok();
}

}  // namespace

void RegisterNamespaceCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Rename.MovesFile",
      .spec = kRenameSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "old");
        const uint32_t f = p.Walk(dir, {"old"});
        if (!p.Must(p.Call(Trename{f, dir, "new"}), "Trename old -> new")) return;
        c.Expect(!Exists(p, dir, "old") && Exists(p, dir, "new"), "after Trename, old still exists or new does not");
      },
  });
  catalogue.Add({
      .name = "Required.Rename.FidFollowsFile",
      .spec = kRenameSpec + std::string(" (the fid keeps referring to the renamed object)"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "old", "content");
        const uint32_t f = p.Walk(dir, {"old"});
        if (!p.Must(p.Call(Trename{f, dir, "new"}), "Trename old -> new")) return;
        p.Open(f, kOpenRdonly);
        const std::string got = p.ReadAll(f);
        c.Expect(got == "content", "the renamed fid reads \"" + got + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Rename.IntoOtherDirectory",
      .spec = kRenameSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "sub");
        p.MakeFile(dir, "f");
        const uint32_t sub = p.Walk(dir, {"sub"});
        const uint32_t f = p.Walk(dir, {"f"});
        if (!p.Must(p.Call(Trename{f, sub, "g"}), "Trename f -> sub/g")) return;
        c.Expect(Exists(p, sub, "g") && !Exists(p, dir, "f"), "after Trename f -> sub/g the tree is wrong");
      },
  });
  catalogue.Add({
      .name = "Required.Renameat.MovesFile",
      .spec = kRenameatSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "a");
        if (!p.Must(p.Call(Trenameat{dir, "a", dir, "b"}), "Trenameat a -> b")) return;
        c.Expect(!Exists(p, dir, "a") && Exists(p, dir, "b"), "after Trenameat a -> b, a exists or b does not");
      },
  });
  catalogue.Add({
      .name = "Required.Renameat.ReplacesTarget",
      .spec = kRenameatSpec + std::string("; rename(2): \"If newpath already exists, it will be atomically replaced\""),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "a", "from a");
        p.MakeFile(dir, "b", "from b");
        if (!p.Must(p.Call(Trenameat{dir, "a", dir, "b"}), "Trenameat a -> b (b exists)")) return;
        const std::string got = p.ReadAll(p.OpenPath(dir, {"b"}, kOpenRdonly));
        c.Expect(got == "from a", "after Trenameat a onto b, b reads \"" + got + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Renameat.MissingSourceRefused",
      .spec = kRenameatSpec + std::string("; rename(2): ENOENT \"The link named by oldpath does not exist\""),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        c.ExpectError(p.Call(Trenameat{dir, "missing", dir, "b"}), "Trenameat of a missing name");
      },
  });
  catalogue.Add({
      .name = "Required.Unlinkat.RemovesFile",
      .spec = kUnlinkatSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        if (!p.Must(p.Call(Tunlinkat{dir, "f", 0}), "Tunlinkat f")) return;
        c.Expect(!Exists(p, dir, "f"), "f still exists after Tunlinkat");
      },
  });
  catalogue.Add({
      .name = "Required.Unlinkat.RemovesDirectoryWithFlag",
      .spec = kUnlinkatSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        if (!p.Must(p.Call(Tunlinkat{dir, "d", kAtRemovedir}), "Tunlinkat d AT_REMOVEDIR")) return;
        c.Expect(!Exists(p, dir, "d"), "d still exists after Tunlinkat AT_REMOVEDIR");
      },
  });
  catalogue.Add({
      .name = "Required.Unlinkat.NonEmptyDirectoryRefused",
      .spec = kUnlinkatSpec + std::string("; rmdir(2): ENOTEMPTY"),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        p.MakeFile(p.Walk(dir, {"d"}), "f");
        c.ExpectError(p.Call(Tunlinkat{dir, "d", kAtRemovedir}), "Tunlinkat of a non-empty directory");
      },
  });
  catalogue.Add({
      .name = "Required.Unlinkat.MissingNameRefused",
      .spec = kUnlinkatSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        c.ExpectError(p.Call(Tunlinkat{dir, "missing", 0}), "Tunlinkat of a missing name");
      },
  });
  catalogue.Add({
      .name = "Recommended.Unlinkat.DirectoryWithoutFlagIsEisdir",
      .spec = kUnlinkatSpec + std::string("; unlink(2): EISDIR \"pathname refers to a directory\""),
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        c.ExpectErrno(p.Call(Tunlinkat{dir, "d", 0}), Errno::kEISDIR, "Tunlinkat of a directory without AT_REMOVEDIR");
      },
  });
  catalogue.Add({
      .name = "Required.Remove.RemovesFile",
      .spec = kRemoveSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        if (!p.Must(p.Call(Tremove{f}), "Tremove")) return;
        c.Expect(!Exists(p, dir, "f"), "f still exists after Tremove");
      },
  });
  catalogue.Add({
      .name = "Required.Remove.ClunksFid",
      .spec = kRemoveSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        const uint32_t f = p.Walk(dir, {"f"});
        if (!p.Must(p.Call(Tremove{f}), "Tremove")) return;
        c.ExpectError(p.Call(Tclunk{f}), "Tclunk of a fid after Tremove");
      },
  });
  catalogue.Add({
      .name = "Required.Remove.FailureStillClunksFid",
      .spec = kRemoveSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        p.MakeFile(p.Walk(dir, {"d"}), "f");
        const uint32_t d = p.Walk(dir, {"d"});
        if (!c.ExpectError(p.Call(Tremove{d}), "Tremove of a non-empty directory")) return;
        c.ExpectError(p.Call(Tclunk{d}), "Tclunk of the fid after a failed Tremove");
      },
  });
  catalogue.Add({
      .name = "Required.Link.SameQidBothNames",
      .spec = "spec/9p2000.L.md §8.24; 9P2000.L link (diod protocol.md): \"link creates a hard link name in directory dfid. The link "
              "target is referenced by fid.\"; qid(5): one file, one qid",
      .needs = {Capability::kWritable, Capability::kHardLinks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid q = p.MakeFile(dir, "a");
        const uint32_t a = p.Walk(dir, {"a"});
        if (!p.Must(p.Call(Tlink{dir, a, "b"}), "Tlink b -> a")) return;
        Qid b{};
        p.Walk(dir, {"b"}, &b);
        c.Expect(SamePath(q, b), "the hard link b has qid " + QidText(b) + ", a has " + QidText(q));
      },
  });
  catalogue.Add({
      .name = "Required.Link.DirectoryRefused",
      .spec = "link(2): EPERM \"oldpath is a directory\"",
      .needs = {Capability::kWritable, Capability::kHardLinks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "d");
        const uint32_t d = p.Walk(dir, {"d"});
        c.ExpectError(p.Call(Tlink{dir, d, "e"}), "Tlink of a directory");
      },
  });
  catalogue.Add({
      .name = "Required.Symlink.QidIsSymlink",
      .spec = "spec/9p2000.L.md §8.13; 9P2000.L symlink (diod protocol.md): \"symlink creates a symbolic link name in directory dfid\"; "
              "qid(5)/Linux: QTSYMLINK (0x02) marks symbolic links",
      .needs = {Capability::kWritable, Capability::kSymlinks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        auto r = p.Call(Tsymlink{dir, "s", "target", 0});
        if (!p.Must(r, "Tsymlink")) return;
        c.Expect((r.msg.qid.type & kQtSymlink) != 0, "Rsymlink qid " + QidText(r.msg.qid) + " lacks QTSYMLINK");
      },
  });
  catalogue.Add({
      .name = "Required.Symlink.WalkDoesNotFollow",
      .spec = "spec/9p2000.L.md §8.5: the server does not follow symbolic links on walk (the client resolves them)",
      .needs = {Capability::kWritable, Capability::kSymlinks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid target = p.MakeFile(dir, "t");
        auto r = p.Call(Tsymlink{dir, "s", "t", 0});
        if (!p.Must(r, "Tsymlink")) return;
        Qid walked{};
        p.Walk(dir, {"s"}, &walked);
        c.Expect(!SamePath(walked, target) && (walked.type & kQtSymlink) != 0,
                 "walking the symlink gave " + QidText(walked) + " (the target is " + QidText(target) + ")");
      },
  });
  catalogue.Add({
      .name = "Required.Readlink.ReturnsTarget",
      .spec = "spec/9p2000.L.md §8.21; 9P2000.L readlink (diod protocol.md): \"readlink returns the contents of the symbolic link "
              "referenced by fid\"",
      .needs = {Capability::kWritable, Capability::kSymlinks},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.Must(p.Call(Tsymlink{dir, "s", "../some/target", 0}), "Tsymlink");
        auto r = p.Call(Treadlink{p.Walk(dir, {"s"})});
        if (!p.Must(r, "Treadlink")) return;
        c.Expect(r.msg.target == "../some/target", "Treadlink returned \"" + std::string(r.msg.target) + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Readlink.OnFileRefused",
      .spec = "readlink(2): EINVAL \"The named file is not a symbolic link\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        c.ExpectError(p.Call(Treadlink{p.Walk(dir, {"f"})}), "Treadlink of a regular file");
      },
  });
  catalogue.Add({
      .name = "Required.Mknod.CreatesFifo",
      .spec = "spec/9p2000.L.md §8.14; 9P2000.L mknod (diod protocol.md): \"mknod creates a device node name in directory dfid with "
              "major and minor numbers\"; mode carries the S_IFMT type (mknod(2))",
      .needs = {Capability::kWritable, Capability::kFifos},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        if (!p.Must(p.Call(Tmknod{dir, "fifo", kSIfifo | 0644, 0, 0, 0}), "Tmknod S_IFIFO")) return;
        const Rgetattr a = p.Getattr(p.Walk(dir, {"fifo"}));
        c.Expect((a.mode & kSIfmt) == kSIfifo, "Rgetattr of the FIFO has mode type 0" + std::to_string(a.mode >> 12));
      },
  });
  catalogue.Add({
      .name = "Required.Mknod.CreatesCharDevice",
      .spec = "spec/9p2000.L.md §8.14; 9P2000.L mknod: major and minor give the device number (stat(2) st_rdev)",
      .needs = {Capability::kWritable, Capability::kDevices},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        if (!p.Must(p.Call(Tmknod{dir, "null", kSIfchr | 0644, 1, 3, 0}), "Tmknod S_IFCHR 1:3")) return;
        const Rgetattr a = p.Getattr(p.Walk(dir, {"null"}));
        c.Expect((a.mode & kSIfmt) == kSIfchr && a.rdev == ((1u << 8) | 3u),
                 "Rgetattr of char device 1:3: mode type 0" + std::to_string(a.mode >> 12) + " rdev " + std::to_string(a.rdev));
      },
  });
  catalogue.Add({
      .name = "Required.Mknod.ExistingNameRefused",
      .spec = "mknod(2): EEXIST \"pathname already exists\"",
      .needs = {Capability::kWritable, Capability::kFifos},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f");
        c.ExpectError(p.Call(Tmknod{dir, "f", kSIfifo | 0644, 0, 0, 0}), "Tmknod over an existing name");
      },
  });
}

}  // namespace p9x::conformance
