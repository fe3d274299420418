// SPDX-License-Identifier: MIT
// Negotiation: Tversion strings, msize, re-Tversion, and the xqid offer.
#include <optional>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kUnknownSpec[] =
    "version(5): \"If the server does not understand the client's version string, it should respond "
    "with an Rversion message (not Rerror) with the version string the 7 characters unknown.\""
    "; spec/xqid.md §4.2 rule 1: a server that implements only 9P2000.L MUST answer a string that is not "
    "based on 9P2000.L Rversion \"unknown\", and no server may answer it with a string based on 9P2000.L; "
    "spec/9p2000.L.md §7";
constexpr char kMsizeSpec[] =
    "version(5): \"The server responds with its own maximum, msize, which must be less than or equal "
    "to the client's value.\"; spec/9p2000.L.md §4; spec/xqid.md §4.2 rule 3: 4096 <= msize' <= msize";
constexpr char kResetSpec[] =
    "version(5): \"A successful version request initializes the connection. All outstanding I/O on the "
    "connection is aborted; all active fids are freed ('clunked') automatically.\"; spec/9p2000.L.md §3 "
    "(session reset); spec/xqid.md §4.2 rule 5: whatever the answer, even a refusal, the Tversion ends the "
    "previous session";

// "9P2000.L" or beginning with "9P2000.L." (spec/xqid.md §4.1).
bool BasedOn9P2000L(std::string_view v) { return v == kVersion9P2000L || v.starts_with(std::string(kVersion9P2000L) + "."); }

// Printable form of a version string (escapes NUL and other control bytes).
std::string Shown(std::string_view v) {
  std::string out = "\"";
  for (char ch : v) {
    if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(ch));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// Offers `version`, which is not based on 9P2000.L, on `p` and checks the answer: Rversion (not
// an error) "unknown", or a protocol the server speaks that version(5)'s period rule derives
// from the offer (the offer itself or a prefix ending before a period: "9P2000.u" may be
// answered "9P2000.u" or "9P2000" by a server that speaks them), never a string based on
// 9P2000.L, which a Linux client would take for 9P2000.L.
void ExpectNotAgreedAs9P2000L(CaseContext& c, Probe& p, std::string_view version) {
  auto r = p.Version(c.env().session.msize, version);
  if (!p.Must(r, "Tversion " + Shown(version))) return;
  const std::string_view v = r.msg.version;
  const bool period_prefix = version == v || (version.starts_with(v) && version[v.size()] == '.');
  c.Expect(v == kVersionUnknown || (period_prefix && !BasedOn9P2000L(v)),
           "Tversion " + Shown(version) + ": expected Rversion \"unknown\", got " + Shown(v));
}

// Offers `version` on a fresh connection and expects exactly Rversion `expected`.
void ExpectAnswer(CaseContext& c, std::string_view version, std::string_view expected) {
  Probe& p = c.Connect();
  auto r = p.Version(c.env().session.msize, version);
  if (!p.Must(r, "Tversion " + Shown(version))) return;
  c.Expect(r.msg.version == expected, "Tversion " + Shown(version) + ": expected Rversion " + Shown(expected) +
                                          ", got " + Shown(r.msg.version));
}

// What the server answers to the canonical xqid offer (nullopt if not an Rversion).
std::optional<std::string> AnswerToXqidOffer(CaseContext& c) {
  Probe& p = c.Connect();
  auto r = p.Version(c.env().session.msize, XqidVersion());
  if (!r.ok()) return std::nullopt;
  return std::string(r.msg.version);
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
      .spec = "spec/9p2000.L.md §8.1; 9P2000.L (diod protocol.md): the version string is \"9P2000.L\"; version(5): the server "
              "answers with the version it will speak",
      .checks = "Sends Tversion \"9P2000.L\"; expects Rversion \"9P2000.L\".",
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
      .spec = kUnknownSpec,
      .checks = "Sends, on one connection, Tversion with \"p9x-no-such-protocol\", \"9P2000\", \"9P2000.u\", \"9P2000.L+xqid\", \"9P2000.Lx\", \"9P2000.l\", \"9p2000.L\" and \"9P2000.L\\0xqid\"; expects Rversion \"unknown\" to each, or the offer itself or a period-prefix of it that is not based on 9P2000.L.",
      .needs = {},
      .run = [](CaseContext& c) {
        using namespace std::string_literals;
        // spec/xqid.md §4.2 rule 1; the embedded NUL is what nfs-ganesha 4.3 accepts by strncmp.
        Probe& p = c.Connect();
        for (const std::string& v : {"p9x-no-such-protocol"s, "9P2000"s, "9P2000.u"s, "9P2000.L+xqid"s, "9P2000.Lx"s,
                                     "9P2000.l"s, "9p2000.L"s, "9P2000.L\0xqid"s}) {
          ExpectNotAgreedAs9P2000L(c, p, v);
        }
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.EmptyVersionAnsweredUnknown",
      .spec = kUnknownSpec,
      .checks = "Sends Tversion \"\"; expects Rversion \"unknown\".",
      .needs = {},
      .run = [](CaseContext& c) { ExpectNotAgreedAs9P2000L(c, c.Connect(), ""); },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.UnknownFeatureDropped",
      .spec = "spec/xqid.md §4.2: a server answers an offer it understands with the subset of the "
              "offered features it accepts (possibly none: plain \"9P2000.L\"); version(5) allows "
              "stripping a period-separated suffix",
      .checks = "Sends Tversion \"9P2000.L.p9xnosuchfeature\"; expects Rversion \"9P2000.L\".",
      .needs = {},
      .run = [](CaseContext& c) { ExpectAnswer(c, "9P2000.L.p9xnosuchfeature", kVersion9P2000L); },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.SuffixOutsideGrammarStripped",
      .spec = "spec/xqid.md §4.2 rule 3: if the suffix after \"9P2000.L.\" is outside the grammar, the server "
              "SHOULD answer \"9P2000.L\"; version(5): \"the initial substring up to but not including any single "
              "period in the version string defines a version of the protocol\" (gVisor's client offers "
              "\"9P2000.L.Google.N\" and steps down only on EAGAIN)",
      .checks = "Sends Tversion \"9P2000.L.Google.10\", \"9P2000.L.XQID\" and \"9P2000.L.\", each on a new connection; expects Rversion \"9P2000.L\" to each.",
      .needs = {},
      .run = [](CaseContext& c) {
        for (const char* v : {"9P2000.L.Google.10", "9P2000.L.XQID", "9P2000.L."}) ExpectAnswer(c, v, kVersion9P2000L);
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.UnsortedOfferReadAsASet",
      .spec = "spec/xqid.md §4.2 rule 3: the server reads the offered features as a set: it SHOULD accept them "
              "unsorted or repeated and answer them sorted",
      .checks = "Sends Tversion \"9P2000.L.xqid\", then \"9P2000.L.zz.xqid\" and \"9P2000.L.xqid.xqid\"; expects the same Rversion to all three (skipped when the first is not answered with a 9P2000.L version).",
      .needs = {},
      .run = [](CaseContext& c) {
        const std::optional<std::string> canonical = AnswerToXqidOffer(c);
        if (!canonical || !BasedOn9P2000L(*canonical)) {
          c.Skip("the server does not answer \"9P2000.L.xqid\" with a 9P2000.L version (it reads no features)");
          return;
        }
        for (const char* v : {"9P2000.L.zz.xqid", "9P2000.L.xqid.xqid"}) ExpectAnswer(c, v, *canonical);
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.LongOfferUnderstood",
      .spec = "spec/xqid.md §4.1: a server MUST understand a version string of up to 64 bytes",
      .checks = "Sends Tversion \"9P2000.L.xqid\", then the 64-byte \"9P2000.L.aaa...a.xqid\"; expects the same answer to both (the same Rversion, or a refusal of both).",
      .needs = {},
      .run = [](CaseContext& c) {
        // 9 + 50 + 5 = 64 bytes, sorted ("aaa..." < "xqid"): answered as the short xqid offer is
        // (the unknown feature dropped), or refused as it is by a server that reads no features.
        const std::optional<std::string> canonical = AnswerToXqidOffer(c);
        const std::string long_offer = std::string(kVersion9P2000L) + "." + std::string(50, 'a') + ".xqid";
        if (canonical) {
          ExpectAnswer(c, long_offer, *canonical);
          return;
        }
        Probe& p = c.Connect();
        auto r = p.Version(c.env().session.msize, long_offer);
        c.Expect(!r.ok(), "Tversion " + Shown(long_offer) + " answered " + Shown(r.msg.version) +
                              ", but the 13-byte \"9P2000.L.xqid\" was refused");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.XqidOfferAnsweredWithRversion",
      .spec = "spec/xqid.md §4.2: an xqid server MUST answer an xqid offer whose msize it accepts with Rversion, "
              "not Rlerror: \"9P2000.L.xqid\", or \"9P2000.L\" when it declines. A server that does not implement "
              "the proposal answers by its own rules: \"unknown\" from QEMU, crosvm and kvmtool (spec/xqid.md §4.3)",
      .checks = "Sends Tversion \"9P2000.L.xqid\"; expects Rversion \"9P2000.L.xqid\", \"9P2000.L\" or \"unknown\", not an error.",
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
      .spec = std::string(kResetSpec) + " (a client whose xqid offer is declined re-sends \"9P2000.L\" on the "
              "same connection)",
      .checks = "Sends Tversion \"9P2000.L.xqid\", then, whatever the answer (unless the connection closed), Tversion \"9P2000.L\" and Tattach; expects both to succeed.",
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
      .spec = kMsizeSpec,
      .checks = "Sends Tversion msize=8192 \"9P2000.L\"; expects an Rversion msize between 4096 and 8192.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(8192, kVersion9P2000L);
        if (!p.Must(r, "Tversion msize=8192")) return;
        c.Expect(r.msg.msize <= 8192 && r.msg.msize >= kMinMsize,
                 "Tversion msize=8192 answered msize=" + std::to_string(r.msg.msize) + "; expected 4096..8192");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.SmallMsizeSessionWorks",
      .spec = std::string(kMsizeSpec) + "; every reply must then fit the agreed msize",
      .checks = "Negotiates msize 4096, attaches and reads the root directory; expects every reply to fit 4096 bytes.",
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
      .spec = std::string(kMsizeSpec) + "; spec/xqid.md §4.2 rule 2 and §12: a server SHOULD refuse an msize "
              "below 4096 with Rlerror (msize 0 cannot carry any reply)",
      .checks = "Sends Tversion msize=0 \"9P2000.L\"; expects Rlerror.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        RefusesMsize(c, p, 0);
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.MsizeBelowMinimumRefused",
      .spec = std::string(kMsizeSpec) + "; spec/xqid.md §4.2 rule 2 and §12: a server SHOULD refuse an msize "
              "below 4096 with Rlerror (Linux's P9_MIN_MSIZE and QEMU refuse them too; 4095 is the largest)",
      .checks = "Sends Tversion msize=4095 \"9P2000.L\"; expects Rlerror.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        RefusesMsize(c, p, kMinMsize - 1);
      },
  });
  catalogue.Add({
      .name = "Recommended.Negotiation.UsableAfterRefusedMsize",
      .spec = kResetSpec,
      .checks = "Sends Tversion msize=0, then Tversion and Tattach as the run negotiated; expects them to succeed (skipped when the server closed the connection).",
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
      .spec = kMsizeSpec,
      .checks = "Sends Tversion msize=4294967295 \"9P2000.L\"; expects Rversion \"9P2000.L\" with an msize of at least 4096 and below 4294967295.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Version(0xFFFFFFFFu, kVersion9P2000L);
        if (!p.Must(r, "Tversion msize=4294967295")) return;
        if (!c.Expect(r.msg.version == kVersion9P2000L,
                      "Tversion msize=4294967295 answered \"" + std::string(r.msg.version) + "\"")) {
          return;
        }
        // spec/xqid.md §4.2 rule 3: min(offer, the server's maximum); no server buffers 4 GiB frames.
        c.Expect(r.msg.msize >= kMinMsize && r.msg.msize < 0xFFFFFFFFu,
                 "Tversion msize=4294967295 answered msize=" + std::to_string(r.msg.msize) +
                     "; expected the server's own maximum");
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.ReversionClunksFids",
      .spec = kResetSpec,
      .checks = "Walks a fid, then sends a Tversion that is accepted, then Tgetattr on the fid; does the same with a Tversion of msize 0 and one of \"p9x-no-such-protocol\"; expects Rlerror for the Tgetattr each time.",
      .needs = {},
      .run = [](CaseContext& c) {
        {
          Probe& p = c.Session();
          const uint32_t fid = p.Walk(p.root(), {});
          auto v = p.Version(c.env().session.msize, c.env().session.version);
          if (!p.Must(v, "second Tversion")) return;
          c.ExpectError(p.Call(Tgetattr{fid, kGetattrBasic}), "Tgetattr on a fid from before the second Tversion");
        }
        // Refused Tversions end the session too: the old fid must not answer afterwards.
        struct Refused {
          uint32_t msize;
          std::string_view version;
          std::string_view what;
        };
        for (const Refused& r : {Refused{0, kVersion9P2000L, "Tversion msize=0"},
                                 Refused{c.env().session.msize, "p9x-no-such-protocol", "Tversion \"p9x-no-such-protocol\""}}) {
          Probe& p = c.Session();
          if (c.stopped()) return;
          const uint32_t fid = p.Walk(p.root(), {});
          auto v = p.Version(r.msize, r.version);
          if (v.status == ReplyStatus::kClosed) continue;  // closing also ends the session
          if (v.ok() && v.msg.version != kVersionUnknown) {
            c.Note(std::string(r.what) + " was accepted (" + std::string(v.msg.version) + "); not a refusal");
            continue;
          }
          c.ExpectError(p.Call(Tgetattr{fid, kGetattrBasic}),
                        "Tgetattr on a fid from before a refused " + std::string(r.what));
        }
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.ReversionFreesFidNumbers",
      .spec = kResetSpec,
      .checks = "Sends a second Tversion, then Tattach with the old root fid's number; expects Rattach.",
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
      .spec = "spec/xqid.md §4.2: a server MUST NOT name a feature the client did not offer (the Linux client "
              "accepts any reply starting with \"9P2000.L\" and would misparse xqid qids)",
      .checks = "Sends Tversion \"9P2000.L\" and \"9P2000.L.foo\", each on a new connection; expects any Rversion to be \"9P2000.L\" or \"unknown\".",
      .needs = {},
      .run = [](CaseContext& c) {
        for (const char* offer : {kVersion9P2000L, "9P2000.L.foo"}) {
          Probe& p = c.Connect();
          auto r = p.Version(c.env().session.msize, offer);
          if (!r.ok()) continue;  // the rule is about what an Rversion names; a refusal names nothing
          c.Expect(r.msg.version == kVersion9P2000L || r.msg.version == kVersionUnknown,
                   "Tversion " + Shown(offer) + " answered " + Shown(r.msg.version) +
                       "; expected \"9P2000.L\" (or \"unknown\")");
        }
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.ReplyEchoesTag",
      .spec = "version(5): \"The tag should be NOTAG (value (ushort)~0) for a version message.\"; spec/xqid.md §4.2: "
              "a server MUST echo the Tversion's tag (gVisor's client sends ordinary tags); spec/9p2000.L.md §7",
      .checks = "Sends Tversion with tag NOTAG, then with tag 1; expects each reply to carry the tag sent.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        for (const uint16_t sent : {kNoTag, uint16_t{1}}) {
          if (!p.Send(sent, Tversion{c.env().session.msize, c.env().session.version})) return;
          RawFrame f = p.Receive();
          if (!c.Expect(f.status == ReplyStatus::kOk, "Tversion tag " + std::to_string(sent) + ": " + f.detail)) return;
          c.Expect(f.tag == sent, "Tversion tag " + std::to_string(sent) + " answered with tag " + std::to_string(f.tag));
        }
      },
  });
  catalogue.Add({
      .name = "Required.Negotiation.RequestBeforeVersionRefused",
      .spec = "version(5): \"Tversion must be the first message sent on the 9P connection, and the client "
              "cannot issue any further requests until it has received the Rversion reply.\"; spec/9p2000.L.md §3 "
              "(version first)",
      .checks = "Sends Tattach on a new connection before any Tversion; expects Rlerror or a closed connection.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Connect();
        auto r = p.Attach(p.NextFid(), c.env().session);
        if (r.status == ReplyStatus::kClosed) return;  // closing is a fine answer
        c.ExpectError(r, "Tattach before Tversion");
      },
  });
  catalogue.Add({
      .name = "Xqid.Negotiation.AttachQidIsExtended",
      .spec = "spec/xqid.md §5: in a 9P2000.L.xqid session every qid is 21 bytes: type[1] "
              "version[4] path[8] path_hi[8]",
      .checks = "Sends Tversion \"9P2000.L.xqid\" and Tattach; expects a 28-byte Rattach (a 21-byte qid).",
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
      .spec = "spec/xqid.md §4.2: a server never answers with a feature the client did not offer; "
              "a \"9P2000.L\" session keeps 13-byte qids",
      .checks = "Sends Tversion \"9P2000.L\" and Tattach; expects Rversion \"9P2000.L\" and a 20-byte Rattach (a 13-byte qid).",
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
      .name = "Xqid.Negotiation.LegacyStatMessagesRefused",
      .spec = "spec/xqid.md §4.4: Topen, Tcreate, Tstat and Twstat are not part of an xqid session; a server MUST "
              "answer them Rlerror(EOPNOTSUPP)",
      .checks = "In the xqid session, sends 9P2000 Topen, Tcreate, Tstat and Twstat frames on a walked fid; expects Rlerror EOPNOTSUPP to each.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t fid = p.Walk(p.root(), {});
        struct Legacy {
          const char* name;
          std::vector<uint8_t> frame;
        };
        const uint16_t tag = 1;
        // 9P2000 bodies (intro(5)): Topen fid[4] mode[1]; Tcreate fid[4] name[s] perm[4] mode[1];
        // Tstat fid[4]; Twstat fid[4] stat[n] (here an empty stat: n = 0).
        const Legacy messages[] = {
            {"Topen", FrameBuilder().U32(fid).U8(0).Frame(112, tag)},
            {"Tcreate", FrameBuilder().U32(fid).Str("p9x-xqid-create").U32(0644).U8(0).Frame(114, tag)},
            {"Tstat", FrameBuilder().U32(fid).Frame(124, tag)},
            {"Twstat", FrameBuilder().U32(fid).U16(0).Frame(126, tag)},
        };
        for (const Legacy& m : messages) {
          if (c.stopped() || !p.SendBytes(m.frame)) return;
          c.ExpectErrno(p.Await<Rlopen>(tag), Errno::kEOPNOTSUPP, m.name);
        }
      },
  });
  catalogue.Add({
      .name = "Xqid.Negotiation.XqidOfferAccepted",
      .spec = "spec/xqid.md §4.2: a server that speaks xqid answers \"9P2000.L.xqid\" to that offer",
      .checks = "Sends Tversion \"9P2000.L.xqid\"; expects Rversion \"9P2000.L.xqid\".",
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
