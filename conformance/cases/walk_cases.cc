// SPDX-License-Identifier: MIT
// Walk: zero names, 16 names, more than 16, partial walks, newfid rules, "..", names with '/'.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/refused.h"
#include "conformance/cases/walk_common.h"

namespace p9x::conformance {

void RegisterWalkCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Walk.ZeroNamesClones",
      .spec = "walk(5): \"It is legal for nwname to be zero, in which case newfid will represent the same "
              "file as fid and the walk will usually succeed\"",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t clone = p.NextFid();
        auto r = p.Call(Twalk{p.root(), clone, {}});
        if (!p.Must(r, "Twalk with no names")) return;
        if (!c.Expect(r.msg.wqids.count == 0, "Rwalk to no names has " + std::to_string(r.msg.wqids.count) + " qids")) return;
        const Rgetattr a = p.Getattr(clone);
        c.Expect(SamePath(a.qid, p.root_qid()), "the clone's qid " + QidText(a.qid) + " is not the root's");
      },
  });
  catalogue.Add({
      .name = "Required.Walk.ZeroNamesSameFid",
      .spec = "walk(5): \"newfid may be the same as fid\" with nwname zero",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        auto r = p.Call(Twalk{p.root(), p.root(), {}});
        if (!p.Must(r, "Twalk fid=newfid with no names")) return;
        p.Getattr(p.root());
      },
  });
  catalogue.Add({
      .name = "Required.Walk.SixteenNames",
      .spec = "walk(5): \"a maximum of sixteen name elements or qids may be packed in a single message\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const uint32_t cursor = p.Walk(dir, {});
        std::vector<std::string> names;
        Qid last{};
        for (int i = 0; i < 16 && !c.stopped(); ++i) {
          names.push_back("d" + std::to_string(i));
          last = p.MakeDir(cursor, names.back());
          p.Must(p.Call(MakeWalk(cursor, cursor, {names.back()})), "Twalk " + names.back());
        }
        if (c.stopped()) return;
        auto r = p.Call(MakeWalk(dir, p.NextFid(), names));
        if (!p.Must(r, "Twalk of 16 names")) return;
        if (!c.Expect(r.msg.wqids.count == 16, "Rwalk of 16 names has " + std::to_string(r.msg.wqids.count) + " qids")) return;
        c.Expect(SamePath(r.msg.wqids.qids[15], last), "16th qid " + QidText(r.msg.wqids.qids[15]) +
                                                           " is not the Rmkdir qid " + QidText(last));
      },
  });
  catalogue.Add({
      .name = "Required.Walk.MoreThanSixteenNamesRefused",
      .spec = "walk(5): \"a maximum of sixteen name elements or qids may be packed in a single message\"; "
              "the server answers Rlerror or closes the connection",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        FrameBuilder b;
        b.U32(p.root()).U32(p.NextFid()).U16(17);
        for (int i = 0; i < 17; ++i) b.Str(".");
        const uint16_t tag = p.NextTag();
        p.SendBytes(b.Frame(static_cast<uint8_t>(MsgType::kTwalk), tag));
        auto r = p.Await<Rwalk>(tag);
        if (r.status == ReplyStatus::kClosed) return;
        c.ExpectError(r, "Twalk of 17 names");
      },
  });
  catalogue.Add({
      .name = "Required.Walk.PartialWalkReturnsPrefix",
      .spec = kPartialSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid a = p.MakeDir(dir, "a");
        auto r = p.Call(MakeWalk(dir, p.NextFid(), {"a", "missing", "b"}));
        if (!p.Must(r, "Twalk a/missing/b")) return;
        if (!c.Expect(r.msg.wqids.count == 1, "Twalk a/missing/b returned " + std::to_string(r.msg.wqids.count) +
                                                  " qids; expected 1")) {
          return;
        }
        c.Expect(SamePath(r.msg.wqids.qids[0], a), "the qid of a differs from its Rmkdir qid");
      },
  });
  catalogue.Add({
      .name = "Required.Walk.PartialWalkLeavesNewfidUnused",
      .spec = kNewfidSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeDir(dir, "a");
        const uint32_t newfid = p.NextFid();
        auto r = p.Call(MakeWalk(dir, newfid, {"a", "missing"}));
        if (!p.Must(r, "Twalk a/missing")) return;
        c.ExpectError(p.Call(Tgetattr{newfid, kGetattrBasic}), "Tgetattr on the newfid of a partial walk");
      },
  });
  catalogue.Add({
      .name = "Required.Walk.PartialWalkLeavesFidUnaffected",
      .spec = kNewfidSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid before = p.Getattr(dir).qid;
        p.MakeDir(dir, "a");
        auto r = p.Call(MakeWalk(dir, dir, {"a", "missing"}));
        if (!p.Must(r, "Twalk fid=newfid a/missing")) return;
        const Qid after = p.Getattr(dir).qid;
        c.Expect(SamePath(before, after), "after a partial walk with newfid=fid, fid moved from " +
                                              QidText(before) + " to " + QidText(after));
      },
  });
  catalogue.Add({
      .name = "Required.Walk.FirstNameMissingIsError",
      .spec = kPartialSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        c.ExpectError(p.Call(MakeWalk(p.root(), p.NextFid(), {"p9x-conform-no-such-name"})),
                      "Twalk of a missing first name");
      },
  });
  catalogue.Add({
      .name = "Recommended.Walk.MissingNameIsEnoent",
      .spec = "spec/9p2000.L.md §5: 9P2000.L errors are Linux errno values: a missing name is ENOENT",
      .needs = {},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            c.ExpectErrno(p.Call(MakeWalk(p.root(), p.NextFid(), {"p9x-conform-no-such-name"})), Errno::kENOENT,
                          "Twalk of a missing name");
          },
  });
  catalogue.Add({
      .name = "Required.Walk.NewfidEqualsFidMovesFid",
      .spec = "walk(5): \"If newfid is the same as fid, ... fid will represent the file that results\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid a = p.MakeDir(dir, "a");
        if (!p.Must(p.Call(MakeWalk(dir, dir, {"a"})), "Twalk fid=newfid a")) return;
        const Qid now = p.Getattr(dir).qid;
        c.Expect(SamePath(now, a), "after Twalk fid=newfid to a, fid is " + QidText(now) + ", not a " + QidText(a));
      },
  });
  catalogue.Add({
      .name = "Required.Walk.DotDotAtRootIsNoOp",
      .spec = "walk(5): \"A walk of the name .. in the root directory of a server is equivalent to a walk "
              "with no name elements.\" (gVisor refuses .. with EINVAL instead)",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        Qid q{};
        p.Walk(p.root(), {".."}, &q);
        c.Expect(SamePath(q, p.root_qid()), "walking .. at the root gave " + QidText(q) + ", not the root " +
                                                QidText(p.root_qid()));
      },
  });
  catalogue.Add({
      .name = "Required.Walk.DotDotReturnsParent",
      .spec = "walk(5): \"The name .. (dot-dot) represents the parent directory.\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        const Qid parent = p.Getattr(dir).qid;
        p.MakeDir(dir, "a");
        auto r = p.Call(MakeWalk(dir, p.NextFid(), {"a", ".."}));
        if (!p.Must(r, "Twalk a/..")) return;
        if (!c.Expect(r.msg.wqids.count == 2, "Twalk a/.. returned " + std::to_string(r.msg.wqids.count) + " qids")) return;
        c.Expect(SamePath(r.msg.wqids.qids[1], parent),
                 "a/.. is " + QidText(r.msg.wqids.qids[1]) + ", not the parent " + QidText(parent));
      },
  });
  AddRefusedCase(catalogue,
                 {
                     .name = "Required.Walk.NameWithSlashRefused",
                     .spec = "walk(5): each wname is one path name element; intro(5): \"/\" separates elements and "
                             "cannot appear in a name",
                     .needs = {Capability::kWritable},
                     .refused = "Twalk of the single name \"a/b\"",
                     .send = [](CaseContext& c, Probe& p) -> ReplyBase {
                       const uint32_t dir = c.Scratch(p);
                       p.MakeDir(dir, "a");
                       p.MakeDir(p.Walk(dir, {"a"}), "b");
                       return p.Call(MakeWalk(dir, p.NextFid(), {"a/b"}));
                     },
                 });
  AddRefusedCase(
      catalogue,
      {
          .name = "Required.Walk.FromFileRefused",
          .spec = "walk(5): \"The fid must represent a directory unless zero path name elements are specified.\"",
          .needs = {Capability::kWritable},
          .refused = "Twalk from a regular file",
          .send = [](CaseContext& c, Probe& p) -> ReplyBase {
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f", "x");
            const uint32_t f = p.Walk(dir, {"f"});
            return p.Call(MakeWalk(f, p.NextFid(), {"x"}));
          },
      });
  catalogue.Add({
      .name = "Required.Walk.QidsMatchStepwiseWalks",
      .spec = "walk(5): the qids are those \"of the files that are visited by the nwqid successful "
              "elementwise walks\"",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        Qid a{}, b{};
        a = p.MakeDir(dir, "a");
        const uint32_t fa = p.Walk(dir, {"a"});
        b = p.MakeDir(fa, "b");
        auto r = p.Call(MakeWalk(dir, p.NextFid(), {"a", "b"}));
        if (!p.Must(r, "Twalk a/b") || !c.Expect(r.msg.wqids.count == 2, "Twalk a/b: not 2 qids")) return;
        c.Expect(SamePath(r.msg.wqids.qids[0], a) && SamePath(r.msg.wqids.qids[1], b),
                 "Twalk a/b qids " + QidText(r.msg.wqids.qids[0]) + " " + QidText(r.msg.wqids.qids[1]) +
                     " differ from the Rmkdir qids " + QidText(a) + " " + QidText(b));
      },
  });
  AddRefusedCase(catalogue, {
                                .name = "Recommended.Walk.EmptyNameRefused",
                                .spec = "walk(5): each wname is a path name element; the empty string names no file",
                                .needs = {},
                                .refused = "Twalk of the empty name",
                                .send = [](CaseContext&, Probe& p) -> ReplyBase {
                                  return p.Call(MakeWalk(p.root(), p.NextFid(), {""}));
                                },
                            });
}

}  // namespace p9x::conformance
