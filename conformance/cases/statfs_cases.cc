// SPDX-License-Identifier: MIT
// Statfs: answers, and matches local statvfs where given.
#include "conformance/cases/attr_common.h"
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {

void RegisterStatfsCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Statfs.Answers",
      .spec = "spec/9p2000.L.md §8.10; 9P2000.L statfs (diod protocol.md): \"statfs is used to request file system "
              "information of the "
              "file system containing fid. The Rstatfs response corresponds to the fields returned by the "
              "statfs(2) system call\"",
      .needs = {},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            auto r = p.Call(Tstatfs{p.root()});
            if (!p.Must(r, "Tstatfs")) return;
            c.Expect(r.msg.bsize > 0 && r.msg.namelen > 0,
                     "Rstatfs bsize=" + std::to_string(r.msg.bsize) + " namelen=" + std::to_string(r.msg.namelen));
          },
  });
  catalogue.Add({
      .name = "Required.Statfs.MatchesLocalStatvfs",
      .spec = "spec/9p2000.L.md §8.10; 9P2000.L statfs: the fields correspond to statfs(2) of the file system "
              "containing fid "
              "(compared with statvfs(3) through --local-root)",
      .needs = {Capability::kLocalRoot},
      .run =
          [](CaseContext& c) {
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
                     "Rstatfs blocks*bsize=" + std::to_string(r.msg.blocks * r.msg.bsize) +
                         " namelen=" + std::to_string(r.msg.namelen) + "; statvfs says " +
                         std::to_string(static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize) + " and " +
                         std::to_string(sv.f_namemax));
          },
  });
}

}  // namespace p9x::conformance
