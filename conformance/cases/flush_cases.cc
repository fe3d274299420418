// SPDX-License-Identifier: MIT
// Flush: unknown and answered tags, in-flight ordering, flush of a flush, blocked requests, storms.
// The probe itself fails a case when a reply for a flushed tag arrives after its Rflush.
#include <set>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kFlushSpec[] =
    "flush(5): \"If it recognizes oldtag as the tag of a pending transaction, it should abort any pending "
    "response and discard that tag. In either case, it should respond with an Rflush echoing the tag (not "
    "oldtag) of the Tflush message.\"";
constexpr char kOrderSpec[] =
    "flush(5): \"The server must answer the flush message immediately\" and the client may not reuse "
    "oldtag until the Rflush arrives; a reply to the flushed request, if any, is received before the Rflush";

// Receives frames until every tag of `want` has been answered; false on timeout or close.
bool ReceiveTags(CaseContext& c, Probe& p, std::set<uint16_t> want, std::vector<RawFrame>* got = nullptr) {
  while (!want.empty() && !c.stopped()) {
    RawFrame f = p.Receive();
    if (f.status != ReplyStatus::kOk) {
      c.Fail("waiting for replies to " + std::to_string(want.size()) + " tags: " + f.detail);
      return false;
    }
    want.erase(f.tag);
    if (got != nullptr) got->push_back(std::move(f));
  }
  return !c.stopped();
}

// A request after the flushes: any late reply to a flushed tag arrives before its answer and
// fails the case in the probe's invariant check.
void Sync(Probe& p) { p.Must(p.Call(Tgetattr{p.root(), kGetattrBasic}), "Tgetattr after the flushes"); }

// A FIFO opened O_RDWR in the scratch directory: Tread on it blocks until someone writes.
uint32_t BlockingFifo(CaseContext& c, Probe& p) {
  const uint32_t dir = c.Scratch(p);
  p.Must(p.Call(Tmknod{dir, "fifo", kSIfifo | 0666, 0, 0, 0}), "Tmknod fifo");
  return p.OpenPath(dir, {"fifo"}, kOpenRdwr);
}

// Writes to the FIFO from another connection so that no server thread stays blocked in read.
void UnblockFifo(CaseContext& c) {
  CaseLog side;
  std::string error;
  Probe q(side, 99, Connect(c.env().target, &error), c.env().timeout);
  if (!q.Start(c.env().session)) return;
  const uint32_t fifo = q.Walk(c.Scratch(q), {"fifo"});
  if (!q.Call(Tlopen{fifo, kOpenRdwr | kOpenNonblock}).ok()) return;
  (void)q.Call(Twrite{fifo, 0, AsBytes("0123456789abcdef0123456789abcdef")});
}

}  // namespace

void RegisterFlushCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Flush.UnknownTagAnswered",
      .spec = kFlushSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        p.Must(p.Call(Tflush{0x4242}), "Tflush of a tag never used");
      },
  });
  catalogue.Add({
      .name = "Required.Flush.AnsweredTagAnswered",
      .spec = kFlushSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint16_t tag = p.NextTag();
        p.Send(tag, Tgetattr{p.root(), kGetattrBasic});
        if (!p.Must(p.Await<Rgetattr>(tag), "Tgetattr")) return;
        p.Must(p.Call(Tflush{tag}), "Tflush of an answered tag");
      },
  });
  catalogue.Add({
      .name = "Required.Flush.ReplyPrecedesRflush",
      .spec = kOrderSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        for (int round = 0; round < 20 && !c.stopped(); ++round) {
          const uint16_t a = p.NextTag();
          p.Send(a, Tgetattr{p.root(), kGetattrBasic});
          const uint16_t b = p.NextTag();
          p.Send(b, Tflush{a});
          // The Rflush must come; a reply to `a`, if any, before it (checked by the probe).
          p.Must(p.Await<Rflush>(b), "Tflush of an in-flight Tgetattr");
        }
        Sync(p);
      },
  });
  catalogue.Add({
      .name = "Recommended.Flush.FlushOfFlushAnswered",
      .spec = std::string(kFlushSpec) + " A Tflush is itself a transaction that may be flushed.",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint16_t a = p.NextTag();
        p.Send(a, Tgetattr{p.root(), kGetattrBasic});
        const uint16_t b = p.NextTag();
        p.Send(b, Tflush{a});
        const uint16_t d = p.NextTag();
        p.Send(d, Tflush{b});
        p.Must(p.Await<Rflush>(d), "Tflush of a Tflush");
        Sync(p);
      },
  });
  catalogue.Add({
      .name = "Required.Flush.TwoFlushesSameOldtag",
      .spec = kFlushSpec + std::string(" (two Tflush of one request still in flight: a Tread blocked on an "
                                       "empty FIFO, so that the request cannot finish between them)"),
      .needs = {Capability::kWritable, Capability::kFifos},
      .run = [](CaseContext& c) {
        // The flushed request blocks until UnblockFifo: with a quick request (a Tgetattr) whether
        // it finished before, between or after the two flushes depends on the server's timing,
        // and so did diod's answer.
        Probe& p = c.Session();
        const uint32_t fifo = BlockingFifo(c, p);
        if (c.stopped()) return;
        const uint16_t a = p.NextTag();
        p.Send(a, Tread{fifo, 0, 16});
        Sync(p);  // the server has read the Tread
        const uint16_t b = p.NextTag();
        p.Send(b, Tflush{a});
        const uint16_t d = p.NextTag();
        p.Send(d, Tflush{a});
        p.Must(p.Await<Rflush>(b), "first Tflush of a blocked Tread");
        p.Must(p.Await<Rflush>(d), "second Tflush of the same oldtag");
        UnblockFifo(c);
        Sync(p);
      },
  });
  catalogue.Add({
      .name = "Required.Flush.TagReusableAfterRflush",
      .spec = "flush(5): after the Rflush, oldtag \"may be reused\"",
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint16_t a = p.NextTag();
        p.Send(a, Tgetattr{p.root(), kGetattrBasic});
        const uint16_t b = p.NextTag();
        p.Send(b, Tflush{a});
        p.Must(p.Await<Rflush>(b), "Tflush");
        // A reply to `a` may already have arrived (and been stashed); reuse the tag now.
        while ((p.in_flight() > 0 || p.stashed() > 0) && !c.stopped()) p.Receive();
        p.Send(a, Tgetattr{p.root(), kGetattrBasic});
        p.Must(p.Await<Rgetattr>(a), "Tgetattr reusing the flushed tag");
      },
  });
  catalogue.Add({
      .name = "Required.Flush.StormWhileManyInFlight",
      .spec = kOrderSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        std::set<uint16_t> flushes;
        for (int i = 0; i < 100 && !c.stopped(); ++i) {
          const uint16_t a = p.NextTag();
          p.Send(a, Tgetattr{p.root(), kGetattrBasic});
          if (i % 2 == 0) {
            const uint16_t b = p.NextTag();
            p.Send(b, Tflush{a});
            flushes.insert(b);
          }
        }
        ReceiveTags(c, p, flushes);
        Sync(p);
      },
  });
  catalogue.Add({
      .name = "Required.Flush.BlockedReadFlushed",
      .spec = kFlushSpec + std::string(" (a Tread blocked on an empty FIFO is pending until flushed)"),
      .needs = {Capability::kWritable, Capability::kFifos},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t fifo = BlockingFifo(c, p);
        if (c.stopped()) return;
        const uint16_t a = p.NextTag();
        p.Send(a, Tread{fifo, 0, 16});
        const uint16_t b = p.NextTag();
        p.Send(b, Tflush{a});
        p.Must(p.Await<Rflush>(b), "Tflush of a Tread blocked on a FIFO");
        UnblockFifo(c);
        Sync(p);
      },
  });
  catalogue.Add({
      .name = "Required.Flush.OtherRequestsProceedWhileBlocked",
      .spec = "intro(5): \"The tag ... allows multiple outstanding requests\"; a blocked request does not "
              "stop the connection",
      .needs = {Capability::kWritable, Capability::kFifos},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t fifo = BlockingFifo(c, p);
        if (c.stopped()) return;
        const uint16_t a = p.NextTag();
        p.Send(a, Tread{fifo, 0, 16});
        Sync(p);
        const uint16_t b = p.NextTag();
        p.Send(b, Tflush{a});
        p.Must(p.Await<Rflush>(b), "Tflush of the blocked Tread");
        UnblockFifo(c);
      },
  });
}

}  // namespace p9x::conformance
