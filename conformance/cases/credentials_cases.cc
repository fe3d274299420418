// SPDX-License-Identifier: MIT
// Credentials: a request of a user acts with that user's rights on the host, never the server's.
// Each case attaches as nobody (n_uname 65534) and checks, against the export as this machine
// sees it (--local-root, the runner as root), that nothing of the server's own credentials
// reaches that user: not its supplementary groups, not its capabilities. A server that serves
// every user with one identity (nobody can open a root-only 0600 file) is out of scope, and the
// cases say so in their skip reason.
#include <grp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr uint32_t kNobody = 65534;
constexpr uint32_t kKeepGid = 0xFFFFFFFF;  // Tlcreate/Tmkdir gid: none asked for

constexpr char kCredentialsSpec[] =
    "spec/9p2000.L.md §8.3 (Tattach): \"Credentials: uname and n_uname name the user whose credentials every request on fids "
    "derived from this attach acts with: what a user can do through the server is what the same user could do on "
    "the host, never more\"";

// Whether `gid` is one of nobody's groups in this machine's user database.
bool NobodyIsInGroup(gid_t gid) {
  int n = 256;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (getgrouplist("nobody", kNobody, groups.data(), &n) < 0) return true;  // unknown: assume the worst
  groups.resize(static_cast<size_t>(n));
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

// A local file of the export, made by the runner (root) with the owner and mode given.
bool MakeLocal(CaseContext& c, const std::string& relative, uid_t uid, gid_t gid, mode_t mode) {
  const std::string path = c.LocalPath(relative);
  std::ofstream(path) << "made by the runner";
  if (chown(path.c_str(), uid, gid) != 0 || chmod(path.c_str(), mode) != 0) {
    c.Fail("cannot prepare " + path);
    return false;
  }
  return true;
}

// Makes this case's scratch directory one where anyone may create (01777, reachable by others)
// and attaches as nobody on `p`; the scratch directory as a fid of nobody's, or 0 after a skip
// or a failure (already recorded).
uint32_t ScratchAsNobody(CaseContext& c, Probe& p) {
  if (NobodyIsInGroup(0)) {
    c.Skip("nobody is in group 0 in this machine's user database: the ground truth differs");
    return 0;
  }
  const uint32_t own = c.Scratch(p);
  if (c.stopped()) return 0;
  p.Clunk(own);
  for (const std::string& dir : {c.env().scratch_name, c.ScratchPath()}) {
    struct stat st {};
    const std::string path = c.LocalPath(dir);
    const mode_t mode = dir == c.ScratchPath() ? 01777 : ((lstat(path.c_str(), &st) == 0 ? st.st_mode : 0755) | 0111);
    if (chmod(path.c_str(), mode & 07777) != 0) {
      c.Fail("chmod " + path + " failed");
      return 0;
    }
  }
  if (!MakeLocal(c, c.ScratchPath() + "/root-only", 0, 0, 0600)) return 0;
  SessionParams as_nobody = c.env().session;
  as_nobody.uname = "nobody";
  as_nobody.n_uname = kNobody;
  const uint32_t root = p.NextFid();
  auto attached = p.Attach(root, as_nobody);
  if (!attached.ok()) {
    c.Skip("the server refuses an attach as nobody (" + attached.Describe() + ")");
    return 0;
  }
  const std::vector<std::string> path = {c.env().scratch_name, c.ScratchPath().substr(c.env().scratch_name.size() + 1)};
  const uint32_t dir = p.Walk(root, path);
  if (c.stopped()) return 0;
  const uint32_t probe = p.NextFid();
  Twalk to_file{dir, probe, {}};
  to_file.wnames.count = 1;
  to_file.wnames.names[0] = "root-only";
  auto walked = p.Call(to_file);
  if (walked.ok() && p.Call(Tlopen{probe, kOpenRdonly}).ok()) {
    c.Skip("the server does not act as the attaching user (nobody opened a root-only 0600 file): every user has "
           "the server's own rights there, a configuration rather than a leak of its credentials");
    return 0;
  }
  if (walked.ok()) p.Clunk(probe);
  return dir;
}

}  // namespace

void RegisterCredentialsCases(Catalogue& catalogue) {
  const std::vector<Capability> needs = {Capability::kWritable, Capability::kLocalRoot, Capability::kRunnerRoot};
  catalogue.Add({
      .name = "Required.Credentials.ServerGroupsDoNotReachUsers",
      .level = Level::kRequired,
      .spec = kCredentialsSpec + std::string(" (a root:root file with mode 0060: nobody, not in group 0, may neither "
                                             "read nor write it, whatever groups the server runs with)"),
      .needs = needs,
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = ScratchAsNobody(c, p);
        if (dir == 0 || c.stopped()) return;
        if (!MakeLocal(c, c.ScratchPath() + "/group-root", 0, 0, 0060)) return;
        for (uint32_t flags : {kOpenRdonly, kOpenWronly}) {
          const uint32_t f = p.Walk(dir, {"group-root"});
          if (c.stopped()) return;
          c.ExpectError(p.Call(Tlopen{f, flags}), flags == kOpenRdonly ? "Tlopen O_RDONLY of a group-root 0060 file as nobody"
                                                                       : "Tlopen O_WRONLY of a group-root 0060 file as nobody");
          p.Clunk(f);
        }
      },
  });
  catalogue.Add({
      .name = "Required.Credentials.ForeignGroupNotGiven",
      .level = Level::kRequired,
      .spec = kCredentialsSpec + std::string("; chown(2): \"the owner of the file may change the group of the file to "
                                             "any group of which that owner is a member\""),
      .needs = needs,
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = ScratchAsNobody(c, p);
        if (dir == 0 || c.stopped()) return;
        // Tlcreate asking for group 0: refused, or made without it.
        const uint32_t clone = p.NextFid();
        if (!p.Must(p.Call(Twalk{dir, clone, {}}), "Twalk clone")) return;
        if (p.Call(Tlcreate{clone, "asked-group-0", kOpenWronly, 0644, 0}).ok()) {
          struct stat st {};
          const std::string made = c.LocalPath(c.ScratchPath() + "/asked-group-0");
          c.Expect(lstat(made.c_str(), &st) == 0 && st.st_gid != 0, "Tlcreate as nobody with gid 0 made a file of group 0");
        }
        p.Clunk(clone);
        // chgrp of nobody's own file to group 0.
        if (!MakeLocal(c, c.ScratchPath() + "/nobodys", kNobody, kNobody, 0644)) return;
        const uint32_t f = p.Walk(dir, {"nobodys"});
        if (c.stopped()) return;
        Tsetattr chgrp{};
        chgrp.fid = f;
        chgrp.valid = kSetattrGid;
        chgrp.gid = 0;
        c.ExpectError(p.Call(chgrp), "Tsetattr chgrp of nobody's file to group 0 as nobody");
        struct stat st {};
        const std::string made = c.LocalPath(c.ScratchPath() + "/nobodys");
        c.Expect(lstat(made.c_str(), &st) == 0 && st.st_gid != 0, "nobody's file became group 0");
      },
  });
  catalogue.Add({
      .name = "Required.Credentials.PrivilegedXattrRefused",
      .level = Level::kRequired,
      .spec = kCredentialsSpec + std::string("; xattr(7): trusted.* \"requires CAP_SYS_ADMIN\", which nobody lacks"),
      .needs = needs,
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = ScratchAsNobody(c, p);
        if (dir == 0 || c.stopped()) return;
        if (!MakeLocal(c, c.ScratchPath() + "/mine", kNobody, kNobody, 0644)) return;
        const uint32_t f = p.Walk(dir, {"mine"});
        if (c.stopped()) return;
        auto created = p.Call(Txattrcreate{f, "trusted.p9x", 1, 0});
        bool refused = !created.ok();
        if (!refused) {
          const uint8_t one[1] = {'y'};
          auto written = p.Call(Twrite{f, 0, Bytes{std::span<const uint8_t>(one)}});
          refused = !written.ok() || !p.Call(Tclunk{f}).ok();
        }
        c.Expect(refused, "nobody set trusted.p9x (Txattrcreate, Twrite, Tclunk all succeeded)");
        const std::string local = c.LocalPath(c.ScratchPath() + "/mine");
        c.Expect(getxattr(local.c_str(), "trusted.p9x", nullptr, 0) < 0, local + " carries trusted.p9x");
      },
  });
  catalogue.Add({
      .name = "Required.Credentials.DeviceNodeRefused",
      .level = Level::kRequired,
      .spec = kCredentialsSpec + std::string("; mknod(2): EPERM \"the caller is not privileged (does not have the "
                                             "CAP_MKNOD capability)\" for a device node"),
      .needs = needs,
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = ScratchAsNobody(c, p);
        if (dir == 0 || c.stopped()) return;
        c.ExpectError(p.Call(Tmknod{dir, "null", S_IFCHR | 0666, 1, 3, kKeepGid}), "Tmknod of a character device as nobody");
        struct stat st {};
        c.Expect(lstat(c.LocalPath(c.ScratchPath() + "/null").c_str(), &st) != 0, "the device node exists on the host");
      },
  });
}

}  // namespace p9x::conformance
