// Negotiation: Tversion strings, msize, re-Tversion, and the xqid offer.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kUnknownSpec[] =
    "version(5): \"If the server does not understand the client's version string, it should respond "
    "with an Rversion message (not Rerror) with the version string the 7 characters unknown.\""
    "; spec/xqid.md §4.2 rule 1: a version string outside the grammar MUST be answered Rversion "
    "\"unknown\"; spec/9p2000.L.md §7";
constexpr char kMsizeSpec[] =
    "version(5): \"The server responds with its own maximum, msize, which must be less than or equal "
    "to the client's value.\"; spec/9p2000.L.md §4; spec/xqid.md §4.2 rule 3";
constexpr char kResetSpec[] =
    "version(5): \"A successful version request initializes the connection. All outstanding I/O on the "
    "connection is aborted; all active fids are freed ('clunked') automatically.\"; spec/9p2000.L.md §3 "
    "(session reset); spec/xqid.md §4.2 rule 4";

// Offers `version` and expects Rversion "unknown".
void ExpectUnknown(CaseContext& c, std::string_view version) {
  Probe& p = c.Connect();
  auto r = p.Version(c.env().session.msize, version);
  if (!p.Must(r, "Tversion \"" + std::string(version) + "\"")) return;
  c.Expect(r.msg.version == kVersionUnknown,
           "Tversion \"" + std::string(version) + "\": expected Rversion \"unknown\", got \"" +
               std::string(r.msg.version) + "\"");
}

// spec/xqid.md §12: a server SHOULD refuse an msize below 4096 with Rlerror (and stay usable, which
// Recommended.Negotiation.UsableAfterRefusedMsize checks). A version string it understands is not
// "unknown", and closing the connection does not leave it usable.
bool RefusesMsize(CaseContext& c, Probe& p, uint32_t msize) {
  auto r = p.Version(msize, kVersion9P2000L);
  if (r.is_error()) return true;
  c.Fail("Tversion msize=" + std::to_string(msize) + ": expected Rlerror, got " + r.Describe() +
         (r.ok() ? " \"" + std::string(r.msg.version) + "\" msize=" + std::to_string(r.msg.msize) : std::string()));
  return false;
}

}  // namespace

void RegisterNegotiationCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Negotiation.Plain9P2000LAccepted",
      .level = Level::kRequired,
      .spec = "spec/9p2000.L.md §8.1; 9P2000.L (diod protocol.md): the version string is \"9P2000.L\"; version(5): the server "
              "answers with the version it will speak",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(c.env().session.msize, kVersion9P2000L);
        if (!p.Must(r, "Tversion \"9P2000.L\"")) return;
        c.Expect(r.msg.version == kVersion9P2000L,
                 "Tversion \"9P2000.L\" answered \"" + std::string(r.msg.version) + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.UnknownVersionAnsweredUnknown",
      .level = Level::kRequired,
      .spec = kUnknownSpec,
      .needs = {},
      .run = [](CaseContext& c) { ExpectUnknown(c, "p9x-no-such-protocol"); },
  });
  catalogue.Add({
      .name = "Required.Negotiation.EmptyVersionAnsweredUnknown",
      .level = Level::kRequired,
      .spec = kUnknownSpec,
      .needs = {},
      .run = [](CaseContext& c) { ExpectUnknown(c, ""); },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.UnknownFeatureDropped",
      .level = Level::kRecommended,
      .spec = "spec/xqid.md §4.2: a server answers an offer it understands with the subset of the "
              "offered features it accepts (possibly none: plain \"9P2000.L\"); version(5) allows "
              "stripping a period-separated suffix",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(c.env().session.msize, "9P2000.L.p9xnosuchfeature");
        if (!p.Must(r, "Tversion \"9P2000.L.p9xnosuchfeature\"")) return;
        c.Expect(r.msg.version == kVersion9P2000L,
                 "Tversion \"9P2000.L.p9xnosuchfeature\": expected Rversion \"9P2000.L\", got \"" +
                     std::string(r.msg.version) + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.XqidOfferAnsweredWithRversion",
      .level = Level::kRequired,
      .spec = std::string(kUnknownSpec) + "; spec/xqid.md §4.2: a server that does not speak xqid "
              "answers \"9P2000.L\"",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(c.env().session.msize, XqidVersion());
        if (!p.Must(r, "Tversion \"9P2000.L.xqid\"")) return;
        const std::string_view v = r.msg.version;
        c.Expect(v == XqidVersion() || v == kVersion9P2000L || v == kVersionUnknown,
                 "Tversion \"9P2000.L.xqid\" answered \"" + std::string(v) +
                     "\"; expected \"9P2000.L.xqid\", \"9P2000.L\" or \"unknown\"");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.XqidDeclineLeavesConnectionUsable",
      .level = Level::kRequired,
      .spec = std::string(kResetSpec) + " (a client whose xqid offer is declined re-sends \"9P2000.L\" on the "
              "same connection)",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto offer = p.Version(c.env().session.msize, XqidVersion());
        if (offer.status == ReplyStatus::kClosed || offer.status == ReplyStatus::kTimeout) {
          c.Fail("Tversion \"9P2000.L.xqid\": " + offer.Describe());
          return;
        }
        SessionParams plain = c.env().session;
        plain.version = kVersion9P2000L;
        p.Start(plain);
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.MsizeNotAboveOffer",
      .level = Level::kRequired,
      .spec = kMsizeSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(8192, kVersion9P2000L);
        if (!p.Must(r, "Tversion msize=8192")) return;
        c.Expect(r.msg.msize <= 8192 && r.msg.msize > 0,
                 "Tversion msize=8192 answered msize=" + std::to_string(r.msg.msize));
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.SmallMsizeSessionWorks",
      .level = Level::kRequired,
      .spec = std::string(kMsizeSpec) + "; every reply must then fit the agreed msize",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.SessionWithMsize(4096);
        const uint32_t dir = p.Walk(p.root(), {});
        p.Open(dir, kOpenRdonly);
        // The probe checks that every Rreaddir frame fits in 4096 bytes.
        p.ReaddirAll(dir, p.io_size());
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.ZeroMsizeRefused",
      .level = Level::kRecommended,
      .spec = std::string(kMsizeSpec) + "; spec/xqid.md §4.2 rule 2 and §12: a server SHOULD refuse an msize "
              "below 4096 with Rlerror (msize 0 cannot carry any reply)",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        RefusesMsize(c, p, 0);
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.MsizeBelowMinimumRefused",
      .level = Level::kRecommended,
      .spec = std::string(kMsizeSpec) + "; spec/xqid.md §4.2 rule 2 and §12: a server SHOULD refuse an msize "
              "below 4096 with Rlerror (Linux's P9_MIN_MSIZE and QEMU refuse them too; 4095 is the largest)",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        RefusesMsize(c, p, kMinMsize - 1);
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.UsableAfterRefusedMsize",
      .level = Level::kRecommended,
      .spec = kResetSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(0, kVersion9P2000L);
        if (r.status == ReplyStatus::kClosed) {
          c.Skip("the server closed the connection on msize 0 (allowed)");
          return;
        }
        p.Start(c.env().session);
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.HugeMsizeClamped",
      .level = Level::kRecommended,
      .spec = kMsizeSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(0xFFFFFFFFu, kVersion9P2000L);
        if (!p.Must(r, "Tversion msize=4294967295")) return;
        c.Expect(r.msg.version == kVersion9P2000L, "Tversion msize=4294967295 answered \"" +
                                                       std::string(r.msg.version) + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.ReversionClunksFids",
      .level = Level::kRequired,
      .spec = kResetSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t fid = p.Walk(p.root(), {});
        auto v = p.Version(c.env().session.msize, c.env().session.version);
        if (!p.Must(v, "second Tversion")) return;
        c.ExpectError(p.Call(Tgetattr{fid, kGetattrBasic}), "Tgetattr on a fid from before the second Tversion");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.ReversionFreesFidNumbers",
      .level = Level::kRequired,
      .spec = kResetSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t fid = p.root();
        auto v = p.Version(c.env().session.msize, c.env().session.version);
        if (!p.Must(v, "second Tversion")) return;
        p.Must(p.Attach(fid, c.env().session), "Tattach reusing the root fid number after Tversion");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.NoUnofferedFeature",
      .level = Level::kRequired,
      .spec = "spec/xqid.md §4.2: a server MUST NOT name a feature the client did not offer (the Linux client "
              "accepts any reply starting with \"9P2000.L\" and would misparse xqid qids)",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(c.env().session.msize, kVersion9P2000L);
        if (!p.Must(r, "Tversion \"9P2000.L\"")) return;
        c.Expect(r.msg.version == kVersion9P2000L || r.msg.version == kVersionUnknown,
                 "Tversion \"9P2000.L\" answered \"" + std::string(r.msg.version) + "\"");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.ReplyTagIsNotag",
      .level = Level::kRequired,
      .spec = "version(5): \"The tag should be NOTAG (value (ushort)~0) for a version message.\"; the Rversion "
              "echoes it (spec/9p2000.L.md §7)",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(c.env().session.msize, c.env().session.version);
        if (!p.Must(r, "Tversion")) return;
        const uint16_t tag = static_cast<uint16_t>(r.frame[5] | (r.frame[6] << 8));
        c.Expect(tag == kNoTag, "Rversion tag " + std::to_string(tag) + ", expected NOTAG (65535)");
      },
  });
  catalogue.Add({
      .name = "Xqid.Negotiation.AttachQidIsExtended",
      .level = Level::kXqid,
      .spec = "spec/xqid.md §5: in a 9P2000.L.xqid session every qid is 21 bytes: type[1] "
              "version[4] path[8] path_hi[8]",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        if (!p.Must(p.Version(c.env().session.msize, XqidVersion()), "Tversion \"9P2000.L.xqid\"")) return;
        auto a = p.Attach(p.NextFid(), c.env().session);
        if (!p.Must(a, "Tattach")) return;
        c.Expect(a.frame.size() == kHeaderSize + 21,
                 "Rattach is " + std::to_string(a.frame.size()) + " bytes; an xqid Rattach is 28");
      },
  });
  catalogue.Add({
      .name = "Xqid.Negotiation.PlainOfferKeepsLegacyQids",
      .level = Level::kXqid,
      .spec = "spec/xqid.md §4.2: a server never answers with a feature the client did not offer; "
              "a \"9P2000.L\" session keeps 13-byte qids",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto v = p.Version(c.env().session.msize, kVersion9P2000L);
        if (!p.Must(v, "Tversion \"9P2000.L\"")) return;
        if (!c.Expect(v.msg.version == kVersion9P2000L,
                      "Tversion \"9P2000.L\" answered \"" + std::string(v.msg.version) + "\"")) {
          return;
        }
        auto a = p.Attach(p.NextFid(), c.env().session);
        if (!p.Must(a, "Tattach")) return;
        c.Expect(a.frame.size() == kHeaderSize + 13,
                 "Rattach is " + std::to_string(a.frame.size()) + " bytes; a 9P2000.L Rattach is 20");
      },
  });
  catalogue.Add({
      .name = "Xqid.Negotiation.XqidOfferAccepted",
      .level = Level::kXqid,
      .spec = "spec/xqid.md §4.2: a server that speaks xqid answers \"9P2000.L.xqid\" to that offer",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto v = p.Version(c.env().session.msize, XqidVersion());
        if (!p.Must(v, "Tversion \"9P2000.L.xqid\"")) return;
        c.Expect(v.msg.version == XqidVersion(), "Tversion \"9P2000.L.xqid\" answered \"" +
                                                    std::string(v.msg.version) + "\"");
      },
  });
}

}  // namespace p9x::conformance
