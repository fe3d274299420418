// SPDX-License-Identifier: MIT
// version_fault_proxy FAULT[@N] unix:PATH
//
// Speaks 9P on standard input/output (a p9x-conform exec: target) and relays every frame to the
// server listening on PATH, breaking one negotiation rule of spec/xqid.md §4 on the way, so that
// tests/conformance/fault_test.sh can show each negotiation case failing against a server that
// breaks what the case checks. With @N the fault starts at the proxy's Nth connection to PATH
// (counted in PATH.connections), so that a fault that would break every session leaves the
// runner's own connections before the case's alone. FAULT is one of:
//   none                  relay unchanged (the cases must pass)
//   echo-huge-msize       Rversion carries the offered msize, not the server's (§4.2 rule 3)
//   any-version-is-l      a string not based on 9P2000.L is offered on as "9P2000.L" (rule 1)
//   add-xqid-to-suffixed  an offer with features is offered on as "9P2000.L.xqid" (rule 4)
//   keep-session-on-refusal  a Tversion the server would refuse is answered here and never reaches
//                         it, so its fids live on (rule 5)
//   reply-notag           Rversion always carries NOTAG, whatever the Tversion's tag (§4.2)
//   strict-suffix         an offer whose suffix is outside the grammar is answered "unknown" (rule 3)
//   strict-sorted         an unsorted or repeated offer is answered "unknown" (rule 3)
//   short-version-limit   an offer longer than 32 bytes is answered "unknown" (§4.1)
//   legacy-stat-einval    Topen, Tcreate, Tstat and Twstat are answered Rlerror(EINVAL) (§4.4)
//   msize-floor-64k       Rversion carries at least 65536, whatever the offered msize (rule 3)
//   accept-small-msize    an msize below 4096 is offered on as 8192, so it is accepted (rule 2)
//   refused-msize-wedges  after an msize below 4096, every Tversion is refused here (rule 2)
//   echo-offer            an Rversion to an offer based on 9P2000.L names the whole offer (rule 3)
//   xqid-rlerror          an xqid offer is answered Rlerror(EINVAL) (§4.2)
//   close-on-xqid         an xqid offer closes the connection (§4.2)
//   version-keeps-fids    a Tversion after an accepted one never reaches the server, whose fids
//                         therefore live on; it is answered here as the first was (rule 5)
//   drop-xqid             an xqid offer is offered on as "9P2000.L" (§4.2)
//   xqid-with-legacy-qids an xqid offer reaches the server as "9P2000.L" but is answered
//                         "9P2000.L.xqid": the session's qids are 13 bytes (§4.2, §5)
//   plain-with-xqid-qids  a "9P2000.L" offer reaches the server as "9P2000.L.xqid" but is
//                         answered "9P2000.L": the session's qids are 21 bytes (§4.2, §4.5)
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "codec/frame.h"
#include "negotiation/version.h"

namespace {

using namespace p9x;

std::mutex g_out_mu;  // stdout carries relayed replies and the proxy's own answers

bool ReadExact(int fd, uint8_t* out, size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd, out, n);
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool WriteAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::vector<uint8_t>> ReadFrame(int fd) {
  std::vector<uint8_t> frame(4);
  if (!ReadExact(fd, frame.data(), 4)) return std::nullopt;
  const uint32_t size = frame[0] | frame[1] << 8 | frame[2] << 16 | static_cast<uint32_t>(frame[3]) << 24;
  if (size < kHeaderSize || size > kMaxMsize) return std::nullopt;
  frame.resize(size);
  if (!ReadExact(fd, frame.data() + 4, size - 4)) return std::nullopt;
  return frame;
}

uint16_t TagOf(const std::vector<uint8_t>& f) { return static_cast<uint16_t>(f[5] | f[6] << 8); }

template <class M>
std::vector<uint8_t> EncodeFrame(uint16_t tag, const M& msg) {
  std::vector<uint8_t> out(kMinMsize);
  auto n = Encode(tag, msg, WireContext{Dialect::kLegacy, kMinMsize}, out);
  out.resize(n ? *n : 0);
  return out;
}

void Answer(const std::vector<uint8_t>& frame) {
  std::lock_guard lock(g_out_mu);
  WriteAll(1, frame);
}

bool BasedOn9P2000L(std::string_view v) { return negotiation::ReadOffer(v).has_value(); }

// Whether the offer's suffix is a sorted, repeat-free feature list (the client's grammar).
bool Canonical(std::string_view v) { return negotiation::ParseVersion(v).has_value(); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string_view(argv[2]).substr(0, 5) != "unix:") {
    std::fprintf(stderr, "usage: version_fault_proxy FAULT unix:PATH\n");
    return 64;
  }
  const std::string path = std::string(argv[2]).substr(5);
  std::string fault = argv[1];
  if (const size_t at = fault.find('@'); at != std::string::npos) {
    const long from = std::atol(fault.c_str() + at + 1);
    fault.resize(at);
    const int counter = open((path + ".connections").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    struct stat st {};
    if (counter < 0 || write(counter, "c", 1) != 1 || fstat(counter, &st) != 0) {
      std::perror("version_fault_proxy: connection counter");
      return 1;
    }
    close(counter);
    if (st.st_size < from) fault = "none";
  }
  const int server = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("version_fault_proxy: connect");
    return 1;
  }
  std::atomic<uint32_t> offered_msize{0};
  std::mutex version_mu;                               // guards the two strings below
  std::string offered_version;                         // the last Tversion's string, as the client sent it
  std::string rversion_to_send;                        // non-empty: the next Rversion names this instead
  std::optional<std::vector<uint8_t>> first_rversion;  // the first accepted Rversion's body

  std::thread replies([&] {
    while (auto frame = ReadFrame(server)) {
      if ((*frame)[4] == static_cast<uint8_t>(MsgType::kRversion)) {
        auto r = DecodeAs<Rversion>(*frame, WireContext{Dialect::kLegacy, kMaxMsize});
        std::lock_guard lock(version_mu);
        if (r && fault == "echo-huge-msize") *frame = EncodeFrame(TagOf(*frame), Rversion{offered_msize, r->version});
        if (r && fault == "msize-floor-64k") {
          *frame = EncodeFrame(TagOf(*frame), Rversion{std::max<uint32_t>(offered_msize, 65536), r->version});
        }
        if (r && fault == "echo-offer" && BasedOn9P2000L(offered_version)) {
          *frame = EncodeFrame(TagOf(*frame), Rversion{r->msize, offered_version});
        }
        if (r && !rversion_to_send.empty()) {
          *frame = EncodeFrame(TagOf(*frame), Rversion{r->msize, rversion_to_send});
          rversion_to_send.clear();
        }
        if (r && !first_rversion && std::string_view(r->version) != kVersionUnknown) first_rversion = *frame;
        if (fault == "reply-notag") (*frame)[5] = (*frame)[6] = 0xff;
      }
      Answer(*frame);
    }
    shutdown(1, SHUT_WR);
    _exit(0);
  });

  bool wedged = false;  // refused-msize-wedges: an msize below 4096 was offered
  while (auto frame = ReadFrame(0)) {
    const uint8_t type = (*frame)[4];
    const uint16_t tag = TagOf(*frame);
    if (type == static_cast<uint8_t>(MsgType::kTversion)) {
      auto t = DecodeAs<Tversion>(*frame, WireContext{Dialect::kLegacy, kMaxMsize});
      if (t) {
        const std::string version(t->version);
        offered_msize = t->msize;
        std::optional<std::string> forward;
        std::optional<std::vector<uint8_t>> local;
        const auto would = negotiation::AnswerTversion(negotiation::ServerPolicy{}, t->msize, version);
        if (fault == "any-version-is-l" && !BasedOn9P2000L(version)) forward = kVersion9P2000L;
        if (fault == "add-xqid-to-suffixed" && version != kVersion9P2000L && BasedOn9P2000L(version)) {
          forward = negotiation::FormatVersion(negotiation::FeatureSet().With(negotiation::Feature::kXqid));
        }
        if (fault == "keep-session-on-refusal" && would.kind != negotiation::TversionAnswer::Kind::kAccept) {
          local = would.kind == negotiation::TversionAnswer::Kind::kReject
                      ? EncodeFrame(tag, Rlerror{static_cast<uint32_t>(would.error)})
                      : EncodeFrame(tag, Rversion{would.msize, kVersionUnknown});
        }
        const bool xqid_offer =
            version == negotiation::FormatVersion(negotiation::FeatureSet().With(negotiation::Feature::kXqid));
        {
          std::lock_guard lock(version_mu);
          offered_version = version;
          if (fault == "xqid-with-legacy-qids" && xqid_offer) {
            forward = kVersion9P2000L;
            rversion_to_send = version;
          }
          if (fault == "plain-with-xqid-qids" && version == kVersion9P2000L) {
            forward = negotiation::FormatVersion(negotiation::FeatureSet().With(negotiation::Feature::kXqid));
            rversion_to_send = version;
          }
          if (fault == "version-keeps-fids" && first_rversion) {
            local = *first_rversion;
            (*local)[5] = static_cast<uint8_t>(tag);
            (*local)[6] = static_cast<uint8_t>(tag >> 8);
          }
        }
        if (fault == "drop-xqid" && xqid_offer) forward = kVersion9P2000L;
        if (fault == "accept-small-msize" && t->msize < kMinMsize) {
          *frame = EncodeFrame(tag, Tversion{8192, forward.value_or(version)});
          forward.reset();
        }
        if (fault == "refused-msize-wedges" && (wedged || t->msize < kMinMsize)) {
          wedged = true;
          local = EncodeFrame(tag, Rlerror{static_cast<uint32_t>(Errno::kEINVAL)});
        }
        if (fault == "xqid-rlerror" && xqid_offer)
          local = EncodeFrame(tag, Rlerror{static_cast<uint32_t>(Errno::kEINVAL)});
        if (fault == "close-on-xqid" && xqid_offer) _exit(0);
        const auto reading = negotiation::ReadOffer(version);
        const bool unknown_here = (fault == "strict-suffix" && reading && reading->suffix_stripped) ||
                                  (fault == "strict-sorted" && reading && !reading->suffix_stripped && !Canonical(version)) ||
                                  (fault == "short-version-limit" && version.size() > 32);
        if (unknown_here) local = EncodeFrame(tag, Rversion{t->msize, kVersionUnknown});
        if (local) {
          Answer(*local);
          continue;
        }
        if (forward) *frame = EncodeFrame(tag, Tversion{t->msize, *forward});
      }
    }
    if (fault == "legacy-stat-einval" && (type == 112 || type == 114 || type == 124 || type == 126)) {
      Answer(EncodeFrame(tag, Rlerror{static_cast<uint32_t>(Errno::kEINVAL)}));
      continue;
    }
    if (!WriteAll(server, *frame)) break;
  }
  shutdown(server, SHUT_WR);
  replies.join();
  return 0;
}
