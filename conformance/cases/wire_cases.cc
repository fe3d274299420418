// SPDX-License-Identifier: MIT
// The xqid dialect's wire layout: 21-byte qids in Rwalk, Rgetattr and Rreaddir.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/qid_common.h"

namespace p9x::conformance {

void RegisterWireCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Xqid.Wire.RwalkQidsAreExtended",
      .spec = "spec/xqid.md §6: Rwalk's nwqid*qid are 21-byte qids in an xqid session",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeDir(dir, "a");
            p.MakeDir(p.Walk(dir, {"a"}), "b");
            auto r = p.Call(MakeWalk(dir, p.NextFid(), {"a", "b"}));
            if (!p.Must(r, "Twalk a/b")) return;
            c.Expect(r.frame.size() == kHeaderSize + 2 + 2 * 21,
                     "Rwalk of 2 qids is " + std::to_string(r.frame.size()) + " bytes, expected 51");
          },
  });
  catalogue.Add({
      .name = "Xqid.Wire.RgetattrFieldsFollowExtendedQid",
      .spec = "spec/xqid.md §6: \"Rgetattr: every field after the qid (mode ... data_version) moves 8 bytes later\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", Pattern(777));
            auto r = p.Call(Tgetattr{p.Walk(dir, {"f"}), kGetattrBasic});
            if (!p.Must(r, "Tgetattr")) return;
            c.Expect(r.frame.size() == 160 + 8 && (r.msg.mode & kSIfmt) == kSIfreg && r.msg.size == 777,
                     "Rgetattr is " + std::to_string(r.frame.size()) + " bytes (expected 168) with mode 0" +
                         std::to_string(r.msg.mode >> 12) + "xxxx size " + std::to_string(r.msg.size) +
                         " (expected a 777-byte file)");
          },
  });
  catalogue.Add({
      .name = "Xqid.Wire.RreaddirEntriesAreExtended",
      .spec = "spec/xqid.md §6: \"Rreaddir: each entry is qid offset[8] type[1] name[s], 8 bytes longer: 32 + "
              "len(name)\"",
      .needs = {Capability::kWritable},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "abc");
            const uint32_t open = c.Scratch(p);
            p.Open(open, kOpenRdonly);
            uint32_t bytes = 0;
            const std::vector<Entry> entries = p.Readdir(open, 0, p.io_size(), &bytes);
            uint32_t expected = 0;
            bool found = false;
            for (const Entry& e : entries) {
              expected += 32 + static_cast<uint32_t>(e.name.size());
              found = found || e.name == "abc";
            }
            c.Expect(found && bytes == expected,
                     "Rreaddir entries do not have the xqid size (or \"abc\" is missing): " + std::to_string(bytes) +
                         " bytes for " + std::to_string(entries.size()) + " entries");
          },
  });
}

}  // namespace p9x::conformance
