// SPDX-License-Identifier: MIT
// Concurrency: many tags in flight on one connection, many connections at once.
#include <set>

#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"

namespace p9x::conformance {
namespace {

constexpr char kTagSpec[] =
    "intro(5): \"Each T-message has a tag field, chosen and used by the client to identify the message. "
    "The reply to the message will have the same tag.\"; spec/9p2000.L.md §3: a server MUST NOT send a "
    "reply with a tag that is not outstanding";

}  // namespace

void RegisterConcurrencyCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Concurrency.RepliesMatchTags",
      .spec = kTagSpec,
      .needs = {},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        std::set<uint16_t> tags;
        for (int i = 0; i < 64 && !c.stopped(); ++i) {
          const uint16_t tag = p.NextTag();
          p.Send(tag, Tgetattr{p.root(), kGetattrBasic});
          tags.insert(tag);
        }
        // The probe fails the case on a reply to a tag not in flight (including a second reply).
        while (!tags.empty() && !c.stopped()) {
          RawFrame f = p.Receive();
          if (f.status != ReplyStatus::kOk) {
            c.Fail(std::to_string(tags.size()) + " of 64 pipelined Tgetattr unanswered: " + f.detail);
            return;
          }
          tags.erase(f.tag);
        }
      },
  });
  catalogue.Add({
      .name = "Required.Concurrency.MixedRequestsInFlight",
      .spec = kTagSpec,
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        Probe& p = c.Session();
        const uint32_t dir = c.Scratch(p);
        p.MakeFile(dir, "f", Pattern(5000));
        const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdonly);
        const uint32_t d = c.Scratch(p);
        p.Open(d, kOpenRdonly);
        std::vector<std::pair<uint16_t, uint32_t>> reads;  // tag, offset
        std::set<uint16_t> others;
        for (int i = 0; i < 40 && !c.stopped(); ++i) {
          const uint16_t tag = p.NextTag();
          switch (i % 4) {
            case 0:
              p.Send(tag, Tread{f, static_cast<uint64_t>(i) * 100, 100});
              reads.emplace_back(tag, i * 100);
              break;
            case 1:
              p.Send(tag, Tgetattr{f, kGetattrBasic});
              others.insert(tag);
              break;
            case 2:
              p.Send(tag, Treaddir{d, 0, 512});
              others.insert(tag);
              break;
            default:
              p.Send(tag, Tstatfs{p.root()});
              others.insert(tag);
              break;
          }
        }
        const std::string data = Pattern(5000);
        for (const auto& [tag, offset] : reads) {
          auto r = p.Await<Rread>(tag);
          if (!p.Must(r, "pipelined Tread")) return;
          if (!c.Expect(AsString(r.msg.data) == data.substr(offset, 100),
                        "pipelined Tread at offset " + std::to_string(offset) + " returned other bytes")) {
            return;
          }
        }
        while (!others.empty() && !c.stopped()) {
          RawFrame fr = p.Receive();
          if (fr.status != ReplyStatus::kOk) {
            c.Fail("pipelined requests unanswered: " + fr.detail);
            return;
          }
          others.erase(fr.tag);
        }
      },
  });
  catalogue.Add({
      .name = "Required.Concurrency.ManyConnections",
      .spec = "intro(5): a server serves many connections, each with its own fids and tags",
      .needs = {},
      .run = [](CaseContext& c) {
        std::vector<Probe*> probes;
        for (int i = 0; i < 32 && !c.stopped(); ++i) probes.push_back(&c.Session());
        // Interleave: a request on every connection before any reply is read.
        std::vector<uint16_t> tags;
        for (Probe* p : probes) {
          const uint16_t tag = p->NextTag();
          p->Send(tag, Tgetattr{p->root(), kGetattrBasic});
          tags.push_back(tag);
        }
        for (size_t i = 0; i < probes.size() && !c.stopped(); ++i) {
          auto r = probes[i]->Await<Rgetattr>(tags[i]);
          if (!probes[i]->Must(r, "Tgetattr on connection " + std::to_string(i + 1))) return;
          c.Expect(SamePath(r.msg.qid, probes[i]->root_qid()), "connection " + std::to_string(i + 1) +
                                                                  " sees another root qid");
        }
      },
  });
  catalogue.Add({
      .name = "Required.Concurrency.ConnectionsWriteIndependently",
      .spec = "intro(5): connections are independent; pipelined writes on several connections all land",
      .needs = {Capability::kWritable},
      .run = [](CaseContext& c) {
        std::vector<Probe*> probes;
        std::vector<uint32_t> fids;
        for (int i = 0; i < 8 && !c.stopped(); ++i) {
          Probe& p = c.Session();
          probes.push_back(&p);
          fids.push_back(p.CreateOpen(c.Scratch(p), "f" + std::to_string(i), kOpenRdwr | kOpenCreate));
        }
        std::vector<std::string> data;
        std::vector<std::vector<uint16_t>> tags(probes.size());
        for (size_t i = 0; i < probes.size(); ++i) data.push_back(Pattern(4000 * 8, static_cast<uint32_t>(i + 11)));
        for (size_t chunk = 0; chunk < 8; ++chunk) {
          for (size_t i = 0; i < probes.size(); ++i) {
            const uint16_t tag = probes[i]->NextTag();
            probes[i]->Send(tag, Twrite{fids[i], chunk * 4000, AsBytes(std::string_view(data[i]).substr(chunk * 4000, 4000))});
            tags[i].push_back(tag);
          }
        }
        for (size_t i = 0; i < probes.size() && !c.stopped(); ++i) {
          for (uint16_t tag : tags[i]) {
            auto r = probes[i]->Await<Rwrite>(tag);
            if (!probes[i]->Must(r, "pipelined Twrite") || !c.Expect(r.msg.count == 4000, "short pipelined Twrite")) return;
          }
        }
        for (size_t i = 0; i < probes.size() && !c.stopped(); ++i) {
          const std::string got = probes[i]->ReadAll(fids[i]);
          c.Expect(got == data[i], "file f" + std::to_string(i) + " reads back differently");
        }
      },
  });
  catalogue.Add({
      .name = "Required.Concurrency.AttachStorm",
      .spec = "version(5), attach(5): every new connection negotiates and attaches independently",
      .needs = {},
      .run = [](CaseContext& c) {
        Qid first{};
        for (int i = 0; i < 64 && !c.stopped(); ++i) {
          Probe& p = c.Session();
          if (i == 0) first = p.root_qid();
          c.Expect(SamePath(first, p.root_qid()), "attach " + std::to_string(i + 1) + " returned another root qid");
          p.Close();
        }
      },
  });
}

}  // namespace p9x::conformance
