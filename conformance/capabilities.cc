// SPDX-License-Identifier: MIT
// The capability probes (capabilities.h): what the server under test and the runner's environment
// can do, each shown by doing it once before the cases run.
#include "conformance/capabilities.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

namespace p9x::conformance {
namespace {

// Whether `path` is a local directory (not a symlink to one); its st_dev in *dev.
bool IsDirLocal(const std::string& path, dev_t* dev = nullptr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (dev != nullptr) *dev = st.st_dev;
  return true;
}

}  // namespace

void DetectCapabilities(const RunOptions& options, RunEnvironment& env, Probe& p, FILE* out) {
  auto missing = [&](Capability c, std::string why) { env.missing[c] = std::move(why); };
  auto have = [&](Capability c) { env.capabilities.insert(c); };

  if (geteuid() == 0) {
    have(Capability::kRunnerRoot);
  } else {
    missing(Capability::kRunnerRoot, "the runner is not root");
  }

  // Multiple filesystems: the export is the fixture. With --local-root that is a local fact (p1,
  // p2 and p3 are three filesystems), whatever the server makes of them: a server that hides or
  // refuses the mounts must fail the identity cases, not skip them. Without it, the server must
  // show p1, p2 and p3 at the export root (listed, or walkable one by one).
  std::string multifs_why;
  {
    std::set<std::string> names;
    const uint32_t dir = p.NextFid();
    if (p.Call(Twalk{p.root(), dir, {}}).ok() && p.Call(Tlopen{dir, kOpenRdonly}).ok()) {
      for (std::string& name : p.ListNamesQuietly(dir, 1000)) names.insert(std::move(name));
    }
    (void)p.Call(Tclunk{dir});
    for (const char* name : {"p1", "p2", "p3"}) {
      if (names.contains(name)) continue;
      const uint32_t fid = p.NextFid();
      Twalk w{p.root(), fid, {}};
      w.wnames.count = 1;
      w.wnames.names[0] = name;
      auto walked = p.Call(w);
      if (walked.ok()) {
        (void)p.Call(Tclunk{fid});
        if (walked.msg.wqids.count == 1) continue;
      }
      if (multifs_why.empty()) multifs_why = std::string("Twalk ") + name + ": " + walked.Describe();
    }
  }
  if (options.local_root.empty()) {
    if (multifs_why.empty()) {
      have(Capability::kMultiFs);
    } else {
      missing(Capability::kMultiFs, "the export is not the multi-filesystem fixture (" + multifs_why +
                                        "; build one with: p9x-conform fixture DIR, and pass --local-root DIR)");
    }
  }

  if (!options.local_root.empty()) {
    const std::string probe_path =
        env.scratch_name.empty() ? options.local_root : options.local_root + "/" + env.scratch_name;
    if (IsDirLocal(probe_path)) {
      have(Capability::kLocalRoot);
      env.local_root = options.local_root;
      dev_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      const bool ok = IsDirLocal(options.local_root, &d0) && IsDirLocal(options.local_root + "/p1", &d1) &&
                      IsDirLocal(options.local_root + "/p2", &d2) && IsDirLocal(options.local_root + "/p3", &d3);
      if (ok && d1 != d2 && d2 != d3 && d1 != d3 && d0 != d1 && d0 != d2 && d0 != d3) {
        have(Capability::kMultiFs);
        if (!multifs_why.empty()) {
          std::fprintf(out,
                       "the export is the multi-filesystem fixture (--local-root), but the server does not show "
                       "it whole: %s\n",
                       multifs_why.c_str());
        }
      } else {
        missing(Capability::kMultiFs,
                "p1, p2 and p3 under --local-root are not three filesystems other than the "
                "export's (build the fixture with: p9x-conform fixture DIR)");
      }
    } else {
      missing(Capability::kLocalRoot,
              "--local-root " + options.local_root + " does not show the export (the scratch directory is not there)");
      missing(Capability::kMultiFs, "--local-root does not show the export");
    }
  } else {
    missing(Capability::kLocalRoot, "no --local-root given");
  }

  if (env.scratch_name.empty()) {
    const std::string why = "the export is not writable";
    for (Capability c : {Capability::kWritable, Capability::kXattrs, Capability::kHardLinks, Capability::kSymlinks,
                         Capability::kFifos, Capability::kDevices, Capability::kLocks}) {
      missing(c, why);
    }
    return;
  }
  have(Capability::kWritable);

  const uint32_t caps = p.NextFid();
  Twalk to_scratch{p.root(), caps, {}};
  to_scratch.wnames.count = 1;
  to_scratch.wnames.names[0] = env.scratch_name;
  (void)p.Call(to_scratch);
  (void)p.Call(Tmkdir{caps, "caps", 0755, 0});
  Twalk to_caps{caps, caps, {}};
  to_caps.wnames.count = 1;
  to_caps.wnames.names[0] = "caps";
  (void)p.Call(to_caps);
  const uint32_t file = p.NextFid();
  (void)p.Call(Twalk{caps, file, {}});
  (void)p.Call(Tlcreate{file, "file", kOpenRdwr | kOpenCreate, 0644, 0});

  auto record = [&](Capability c, const ReplyBase& r, std::string_view request) {
    if (r.ok()) {
      have(c);
    } else {
      missing(c, "the server refused " + std::string(request) + " (" + r.Describe() + ")");
    }
  };
  {
    // A fresh fid for "file": `file` is open, and an open fid may not be walked from
    // (spec/9p2000.L.md §3, open fids: EBADF).
    const uint32_t x = p.NextFid();
    Twalk to_file{caps, x, {}};
    to_file.wnames.count = 1;
    to_file.wnames.names[0] = "file";
    (void)p.Call(to_file);
    auto created = p.Call(Txattrcreate{x, "user.p9x.probe", 1, 0});
    bool ok = created.ok();
    if (ok) {
      const uint8_t one = '1';
      ok = p.Call(Twrite{x, 0, Bytes{std::span(&one, 1)}}).ok();
    }
    auto clunked = p.Call(Tclunk{x});
    ok = ok && clunked.ok();
    if (ok) {
      have(Capability::kXattrs);
    } else {
      missing(Capability::kXattrs, "the server refused Txattrcreate user.p9x.probe (" +
                                       (created.ok() ? clunked.Describe() : created.Describe()) + ")");
    }
  }
  record(Capability::kHardLinks, p.Call(Tlink{caps, file, "file.link"}), "Tlink");
  record(Capability::kSymlinks, p.Call(Tsymlink{caps, "symlink", "file", 0}), "Tsymlink");
  record(Capability::kFifos, p.Call(Tmknod{caps, "fifo", 0010644, 0, 0, 0}), "Tmknod S_IFIFO");
  record(Capability::kDevices, p.Call(Tmknod{caps, "null", 0020644, 1, 3, 0}), "Tmknod S_IFCHR 1:3");
  {
    auto locked = p.Call(Tlock{file, kLockTypeWrlck, 0, 0, 0, 1, "p9x-conform"});
    if (locked.ok() && locked.msg.status == kLockSuccess) {
      have(Capability::kLocks);
      (void)p.Call(Tlock{file, kLockTypeUnlck, 0, 0, 0, 1, "p9x-conform"});
    } else {
      missing(Capability::kLocks,
              "the server refused Tlock (" +
                  (locked.ok() ? "status " + std::to_string(locked.msg.status) : locked.Describe()) + ")");
    }
  }
  (void)p.Call(Tclunk{file});
  (void)p.Call(Tclunk{caps});
}

}  // namespace p9x::conformance
