// SPDX-License-Identifier: MIT
// Attach: the root fid, fid rules on attach, Tauth, and attach before version.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/refused.h"

namespace p9x::conformance {

void RegisterAttachCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Attach.RootIsDirectory",
      .spec = "attach(5): \"the qid of the root of the file tree\"; qid(5): directories have QTDIR set",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        c.Expect((p.root_qid().type & kQtDir) != 0, "Rattach qid " + QidText(p.root_qid()) + " lacks QTDIR");
      },
  });
  catalogue.Add({
      .name = "Required.Attach.RootGetattrMatchesQid",
      .spec = "qid(5): \"two files on the same server hierarchy are the same if and only if their qids are the same\"",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const Rgetattr a = p.Getattr(p.root());
        c.Expect(SamePath(a.qid, p.root_qid()),
                 "Rgetattr qid " + QidText(a.qid) + " differs from Rattach qid " + QidText(p.root_qid()));
      },
  });
  AddRefusedCase(catalogue,
                 {
                     .name = "Required.Attach.FidInUseRefused",
                     .spec = "attach(5): \"fid ... must not be in use\" (the fid of Tattach becomes a new fid)",
                     .needs = {},
                     .refused = "Tattach with the fid of the root",
                     .send = [](CaseContext& c, Probe& p) -> ReplyBase { return p.Attach(p.root(), c.env().session); },
                 });
  catalogue.Add({
      .name = "Required.Attach.SecondAttachSameRoot",
      .spec = "qid(5): the same file has the same qid; attach(5): each attach returns the root's qid",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        auto a = p.Attach(p.NextFid(), c.env().session);
        if (!p.Must(a, "second Tattach")) return;
        c.Expect(SamePath(a.msg.qid, p.root_qid()),
                 "two attaches gave " + QidText(p.root_qid()) + " and " + QidText(a.msg.qid));
      },
  });
  catalogue.Add({
      .name = "Required.Attach.TauthAnswered",
      .spec = "attach(5): \"If the client does not wish to authenticate the connection, or knows that "
              "authentication is not required, the afid field ... should be set to NOFID\"; Tauth gets "
              "Rauth or an error",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        if (!p.Must(p.Version(c.env().session.msize, c.env().session.version), "Tversion")) return;
        auto r = p.Call(Tauth{p.NextFid(), c.env().session.uname, c.env().session.aname, c.env().session.n_uname});
        c.Expect(r.ok() || r.is_error(), "Tauth: expected Rauth or Rlerror, got " + r.Describe());
      },
  });
  catalogue.Add({
      .name = "Recommended.Attach.UnknownAnameRefused",
      .spec = "attach(5): \"aname ... selects which file tree to access\"; a tree that does not exist "
              "cannot be attached",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        if (!p.Must(p.Version(c.env().session.msize, c.env().session.version), "Tversion")) return;
        SessionParams params = c.env().session;
        params.aname = "/p9x-conform/no/such/tree";
        c.ExpectError(p.Attach(p.NextFid(), params), "Tattach aname=/p9x-conform/no/such/tree");
      },
  });
}

}  // namespace p9x::conformance
