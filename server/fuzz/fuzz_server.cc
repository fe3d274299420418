// SPDX-License-Identifier: MIT
// fuzz_server: structure-aware libFuzzer target for p9xd's protocol engine.
//
// Each input runs one in-process Server (server/server.h) over a MemFs ("mounts=p1+p2,gen=g:40")
// and talks to it through socketpairs, as a client would. The input is not a frame but a
// SEQUENCE OF OPERATIONS, so that the fuzzer spends its time inside sessions rather than on
// framing:
//
//   byte 0      prelude: 0 none, 1 Tversion{8192,"9P2000.L"} + Tattach{fid 0},
//               2 the same in "9P2000.L.xqid", 3 Tversion{8192,"9P2000.L.xqid"} only
//   then ops    kind[1] flags[1] arguments...  (missing bytes read as 0)
//     kind % 32: 0 Tversion 1 Tattach 2 Twalk 3 Tlopen 4 Tlcreate 5 Tread 6 Twrite 7 Treaddir
//                8 Tgetattr 9 Tsetattr 10 Tmkdir 11 Tunlinkat 12 Trenameat 13 Tclunk 14 Tremove
//                15 Tflush 16 Txattrwalk 17 Txattrcreate 18 Tlock 19 Tgetlock 20 Tstatfs
//                21 Treadlink 22 Tsymlink 23 Tmknod 24 Trename 25 Tlink 26 Tfsync 27 Tauth
//                28 read every outstanding reply 29 new connection 30 raw frame 31 Twalk
//     flags: bit 0 pipelined (send the next op before reading this reply); bits 1-3 mutation
//            (0-3 none, 4 type byte replaced, 5 a body byte flipped, 6 body cut or padded with
//            the size field fixed, 7 size field replaced); bits 4-5 tag (0-1 fresh, NOTAG for
//            Tversion; 2 NOTAG; 3 the tag of an outstanding request); bit 6 sent in two writes.
//   At most 256 ops per input; the input's end sends nothing more, reads every reply owed,
//   half-closes and reads to EOF.
// Fids come from {0..7, NOFID, 0xfffffffe, 0x10000, 0x80000000}; names from a pool with "..",
// ".", "", "a/b", long names and input bytes.
//
// The fuzzer predicts what p9xd must do with every frame it sends, with the codec and the
// negotiation module (the same rules p9xd states in server.cc and negotiation/version.h):
//   - a size field PeekFrameSize refuses (under the session's msize, 4096 before negotiation):
//     at most one Rlerror(EMSGSIZE) with the frame's tag, then the server closes (legitimate);
//   - a size field that disagrees with the bytes sent: framing is lost on both sides. The rest of
//     that connection is "chaos": only the frame-level checks below apply;
//   - a type byte that is not a T-message: Rlerror(EOPNOTSUPP); a T-message that does not decode
//     in the session: Rlerror(EINVAL); Tversion: Rversion/Rlerror exactly as AnswerTversion says;
//     any other request before a Tversion was accepted: Rlerror(EPROTO);
//   - a decodable request reusing the tag of a request the server still has in flight: the
//     server may close the connection (legitimate; intro(5)). No other close is legitimate.
//     (A frame answered at once, such as an undecodable one, that reuses the tag of a request
//     that may still be on a worker makes the order of the two replies open: chaos too.)
// FUZZ_SERVER_TRACE=1 in the environment prints every frame sent and received.
// Invariants, checked on every reply; a violation prints the recent exchange and aborts:
//   - every frame the server sends has 7 <= size; a reply's size is <= the msize of the session
//     its request was sent in, and it decodes with the codec in that session's dialect;
//   - every reply answers an outstanding request with its tag (per tag, in order), with the
//     request's R-type or Rlerror (Rlerror with ecode != 0); Tflush only with Rflush;
//   - every request gets exactly one reply, except: a request sent before a Tversion gets its
//     reply before the Rversion or none (version(5), negotiation/version.h); a flushed request
//     gets its reply before the Rflush or none (flush(5)); and anything after a legitimate close;
//   - the fid table matches a model: after a successful Tattach, full Twalk or Txattrwalk the
//     new fid exists; after Tclunk or Tremove (any result) it is gone; a Tversion frees every
//     fid. When the model knows the fids a request names, and no other outstanding request names
//     them (the server runs some requests on workers, so their order is not fixed), a request
//     that names an unused fid as existing, or a used fid (or NOFID) as new, must get
//     Rlerror(EBADF): the table's fid rules, which p9xd checks before any handler. Outcomes the
//     protocol leaves open (concurrent requests on one fid, a flushed request's effect) make the
//     fid's state unknown until a request settles it again.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "codec/frame.h"
#include "codec/text.h"
#include "negotiation/version.h"
#include "server/mem_fs.h"
#include "server/server.h"

namespace p9x::server::fuzz {
namespace {

// ---- diagnostics ----

std::deque<std::string>& Log() {
  static std::deque<std::string> log;
  return log;
}

void Note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Note(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  static const bool trace = std::getenv("FUZZ_SERVER_TRACE") != nullptr;
  if (trace) std::fprintf(stderr, "fuzz_server: %s\n", buf);
  auto& log = Log();
  log.emplace_back(buf);
  if (log.size() > 60) log.pop_front();
}

[[noreturn]] void Violation(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void Violation(const char* fmt, ...) {
  std::fprintf(stderr, "fuzz_server: recent exchange (oldest first):\n");
  for (const auto& line : Log()) std::fprintf(stderr, "  %s\n", line.c_str());
  std::fprintf(stderr, "fuzz_server: VIOLATION: ");
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

std::string Describe(std::span<const uint8_t> frame, const WireContext& wire) {
  std::string text = BytesToText(frame, wire);
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

// ---- the input ----

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | U8() << 8); }
  uint32_t U32() { return U16() | static_cast<uint32_t>(U16()) << 16; }
  uint64_t U64() { return U32() | static_cast<uint64_t>(U32()) << 32; }
  std::string Take(size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  template <class T, size_t N>
  T Pick(const T (&table)[N]) {
    return table[U8() % N];
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// How long the client waits for the server before calling it hung: generous, because p9xd
// answers in microseconds and a loaded machine (CTest in parallel, sanitizers) must not flake.
constexpr int kPatienceMs = 15000;

constexpr uint32_t kFidChoices[] = {0, 1, 2, 3, 4, 5, 6, 7, kNoFid, 0xfffffffe, 0x10000, 0x80000000};

// ---- what the fuzzer expects of one frame ----

enum class Role : uint8_t { kExisting, kNew, kNewOrSame };
#define P9X_FUZZ_ROLE_existing Role::kExisting
#define P9X_FUZZ_ROLE_new Role::kNew
#define P9X_FUZZ_ROLE_new_or_same Role::kNewOrSame

struct FidUse {
  uint32_t fid;
  Role role;
  uint32_t same;  // kNewOrSame: the request's fid, which newfid may equal
};

template <class M>
uint32_t FidField(const M& m) {
  if constexpr (requires { m.fid; }) {
    return m.fid;
  } else {
    return kNoFid;
  }
}

// The fid fields of a request and their roles, from the message table (spec/messages.json).
#define P9X_FUZZ_USE(field, role) out->push_back({msg.field, P9X_FUZZ_ROLE_##role, FidField(msg)});
#define P9X_FUZZ_USES(Name, number)                                           \
  [[maybe_unused]] void AddFidUses(const Name& msg, std::vector<FidUse>* out) { \
    (void)msg;                                                                \
    (void)out;                                                                \
    P9X_FID_ROLES_##Name(P9X_FUZZ_USE)                                        \
  }
P9X_MESSAGE_LIST(P9X_FUZZ_USES)
#undef P9X_FUZZ_USES
#undef P9X_FUZZ_USE

enum class Expect : uint8_t {
  kTracked,  // a negotiated request: its R-message or Rlerror
  kError,    // exactly Rlerror(error), answered when the frame is read
  kVersion,  // exactly what AnswerTversion says
  kFatal,    // at most Rlerror(EMSGSIZE), then the server closes
};

struct Pending {
  uint64_t seq = 0;
  uint16_t tag = 0;
  Expect expect = Expect::kTracked;
  uint8_t type = 0;
  Errno error = Errno::kOk;
  negotiation::TversionAnswer answer;
  WireContext wire;
  bool optional = false;    // may end without a reply
  bool old_gen = false;     // a later Tversion aborted it: no model effect
  bool conflicted = false;  // another outstanding request names one of its fids
  std::vector<FidUse> uses;
  Message msg;              // kTracked: the request (views into `bytes`)
  std::vector<uint8_t> bytes;
};

enum class FidState : uint8_t { kAbsent, kPresent, kUnknown };

// The fids a request creates on success (Twalk: only when every name was walked).
std::vector<uint32_t> CreatedFids(const Message& msg, const Message& reply) {
  if (const auto* a = std::get_if<Tattach>(&msg)) return {a->fid};
  if (const auto* x = std::get_if<Txattrwalk>(&msg)) return {x->newfid};
  if (const auto* w = std::get_if<Twalk>(&msg)) {
    const auto* r = std::get_if<Rwalk>(&reply);
    if (r == nullptr || r->wqids.count == w->wnames.count) return {w->newfid};
  }
  return {};
}

// The fid a request releases whatever its result (clunk(5), remove(5)).
std::optional<uint32_t> ReleasedFid(const Message& msg) {
  if (const auto* c = std::get_if<Tclunk>(&msg)) return c->fid;
  if (const auto* r = std::get_if<Tremove>(&msg)) return r->fid;
  return std::nullopt;
}

// ---- one client connection and its model ----

class Client {
 public:
  explicit Client(Server* server) : server_(server) {}
  ~Client() { End(); }

  // Sends one frame (whatever its bytes) and records what p9xd must answer.
  void Send(std::vector<uint8_t> bytes, bool pipelined, bool split);
  // Reads replies until every request that must be answered has been.
  void WaitAll();
  // Ends the connection: half-closes, reads to EOF, checks nothing was left unanswered.
  void End();
  // A tag that no outstanding request uses (and not NOTAG).
  uint16_t FreshTag();
  // The tag of some outstanding request, if any.
  std::optional<uint16_t> OutstandingTag(uint8_t pick) const;

 private:
  void Connect();
  void Write(std::span<const uint8_t> bytes);
  bool ReadAvailable();  // false on EOF
  void ProcessInput();
  void OnFrame(std::span<const uint8_t> frame);
  void OnTracked(Pending& p, const Frame& reply, uint8_t rtype);
  void OnEof();
  void Abandon(Pending& p);  // p gets no reply: its fid effects are unknown
  void Register(Pending p);
  FidState State(uint32_t fid) const {
    if (fid == kNoFid) return FidState::kAbsent;
    auto it = fids_.find(fid);
    return it == fids_.end() ? FidState::kAbsent : it->second;
  }
  void Set(uint32_t fid, FidState s) {
    if (fid != kNoFid) fids_[fid] = s;
  }

  Server* server_;
  int fd_ = -1;
  std::thread thread_;
  bool connected_ = false;
  bool chaos_ = false;          // framing lost: only frame-level checks
  bool close_allowed_ = false;  // a legitimate reason to close was given
  bool doomed_ = false;         // a fatal frame was sent: the server reads nothing more
  bool ending_ = false;         // the client half-closed: EOF is expected
  negotiation::Session session_;  // what the server's session will be after the frames sent
  std::vector<uint8_t> rx_;
  uint64_t next_seq_ = 1;
  uint16_t next_tag_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::map<uint32_t, FidState> fids_;
  std::map<uint32_t, std::vector<uint64_t>> touchers_;  // fid -> outstanding requests naming it
};

void Client::Connect() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) Violation("socketpair: %s", strerror(errno));
  fd_ = sv[0];
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  const int server_fd = sv[1];
  thread_ = std::thread([s = server_, server_fd] { s->ServeConnection(server_fd, server_fd, "fuzz"); });
  connected_ = true;
  chaos_ = close_allowed_ = doomed_ = false;
  session_ = negotiation::Session();
  rx_.clear();
  pending_.clear();
  fids_.clear();
  touchers_.clear();
  Note("-- new connection");
}

uint16_t Client::FreshTag() {
  for (;;) {
    const uint16_t tag = next_tag_++;
    if (tag == kNoTag) continue;
    bool used = false;
    for (const auto& [seq, p] : pending_) used = used || p.tag == tag;
    if (!used) return tag;
  }
}

std::optional<uint16_t> Client::OutstandingTag(uint8_t pick) const {
  if (pending_.empty()) return std::nullopt;
  auto it = pending_.begin();
  std::advance(it, pick % pending_.size());
  return it->second.tag;
}

void Client::Register(Pending p) {
  p.seq = next_seq_++;
  const uint64_t seq = p.seq;
  pending_.emplace(seq, std::move(p));
}

void Client::Send(std::vector<uint8_t> bytes, bool pipelined, bool split) {
  if (!connected_) Connect();
  const WireContext wire = session_.wire();
  const std::string text = Describe(bytes, wire);
  if (chaos_) {
    Note("-> (chaos) %s", text.c_str());
    Write(bytes);
    return;
  }
  Pending p;
  p.wire = wire;
  bool fatal = false;
  if (bytes.size() < 4) {
    chaos_ = true;
  } else {
    auto size = PeekFrameSize(std::span<const uint8_t, 4>(bytes.data(), 4), wire);
    if (!size) {
      fatal = true;
    } else if (*size != bytes.size()) {
      chaos_ = true;
    }
  }
  if (chaos_) {
    Note("-> (framing lost: chaos from here) %s", text.c_str());
    pending_.clear();
    touchers_.clear();
    Write(bytes);
    return;
  }
  p.tag = bytes.size() >= kHeaderSize ? static_cast<uint16_t>(bytes[5] | bytes[6] << 8) : kNoTag;
  p.type = bytes.size() >= kHeaderSize ? bytes[4] : 0;
  if (fatal) {
    p.expect = Expect::kFatal;
    p.error = Errno::kEMSGSIZE;
    p.optional = true;
  } else if (const MsgInfo* info = FindMsgInfo(p.type); info == nullptr || !info->is_request) {
    p.expect = Expect::kError;
    p.error = Errno::kEOPNOTSUPP;
  } else if (auto frame = DecodeFrame(bytes, wire); !frame) {
    p.expect = Expect::kError;
    p.error = Errno::kEINVAL;
  } else if (const auto* v = std::get_if<Tversion>(&frame->msg)) {
    p.expect = Expect::kVersion;
    p.answer = negotiation::AnswerTversion(negotiation::ServerPolicy{}, v->msize, v->version);
  } else if (!session_.negotiated()) {
    p.expect = Expect::kError;
    p.error = negotiation::kNotNegotiatedErrno;
  } else {
    p.expect = Expect::kTracked;
    p.msg = frame->msg;
  }
  // Tags. A reply the server sends as soon as it reads the frame could overtake the reply of an
  // earlier request with the same tag that the server has in flight: ambiguous, so chaos.
  bool collides_tracked = false, collides = false;
  for (const auto& [seq, q] : pending_) {
    if (q.tag != p.tag) continue;
    collides = true;
    collides_tracked = collides_tracked || q.expect == Expect::kTracked;
  }
  if (p.expect != Expect::kTracked && collides_tracked) {
    Note("-> (tag %u of a request in flight on an untracked frame: chaos from here) %s", p.tag, text.c_str());
    chaos_ = true;
    pending_.clear();
    touchers_.clear();
    Write(bytes);
    return;
  }
  if (p.expect == Expect::kTracked && collides) {
    // intro(5): a tag names one outstanding request. p9xd closes the connection if the earlier
    // request is still in flight on its side; if it had finished, this one is served normally.
    close_allowed_ = true;
    p.optional = true;
  }
  if (fatal) {
    // The server reads nothing after this frame; what is outstanding may be dropped.
    for (auto& [seq, q] : pending_) q.optional = true;
    close_allowed_ = true;
    doomed_ = true;
  }
  if (p.expect == Expect::kVersion) {
    // version(5): every fid is freed, every outstanding request aborted, whatever the answer.
    for (auto& [seq, q] : pending_) {
      q.optional = true;
      q.old_gen = true;
    }
    touchers_.clear();
    fids_.clear();
    session_.OnTversion(p.answer);
  }
  if (p.expect == Expect::kTracked) {
    std::visit(
        [&](const auto& m) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(m)>, std::monostate>) AddFidUses(m, &p.uses);
        },
        p.msg);
    for (const FidUse& u : p.uses) {
      auto& list = touchers_[u.fid];
      for (uint64_t other : list) {
        if (other == next_seq_) continue;  // the same fid in two fields of this request
        p.conflicted = true;
        if (auto o = pending_.find(other); o != pending_.end()) o->second.conflicted = true;
      }
      list.push_back(next_seq_);
    }
  }
  p.bytes = std::move(bytes);
  // p.msg's views point into p.bytes; a moved vector keeps its buffer, so decode again after the
  // move to be certain.
  if (p.expect == Expect::kTracked) p.msg = DecodeFrame(p.bytes, wire)->msg;
  Note("-> seq %llu %s%s", static_cast<unsigned long long>(next_seq_), text.c_str(),
       p.expect == Expect::kFatal ? " (bad size: server closes)" : "");
  std::vector<uint8_t> copy = p.bytes;  // pending_ may change while writing
  Register(std::move(p));
  if (split && copy.size() > 1) {
    Write(std::span<const uint8_t>(copy).first(copy.size() / 2));
    Write(std::span<const uint8_t>(copy).subspan(copy.size() / 2));
  } else {
    Write(copy);
  }
  if (doomed_) {
    End();
    return;
  }
  if (!pipelined) WaitAll();
}

void Client::Write(std::span<const uint8_t> bytes) {
  size_t off = 0;
  while (connected_ && off < bytes.size()) {
    pollfd pfd{fd_, POLLIN | POLLOUT, 0};
    const int n = poll(&pfd, 1, kPatienceMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Violation("the server neither reads nor writes for 15 s");
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!ReadAvailable()) {
        OnEof();
        return;
      }
    }
    if (pfd.revents & POLLOUT) {
      const ssize_t w = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        off += static_cast<size_t>(w);
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        // The server closed its end: read what it sent before.
        while (ReadAvailable()) {
          pollfd in{fd_, POLLIN, 0};
          if (poll(&in, 1, kPatienceMs) <= 0) Violation("no EOF within 15 s after the server stopped reading");
        }
        OnEof();
        return;
      }
    }
  }
}

bool Client::ReadAvailable() {
  for (;;) {
    uint8_t buf[65536];
    const ssize_t r = read(fd_, buf, sizeof buf);
    if (r > 0) {
      rx_.insert(rx_.end(), buf, buf + r);
      ProcessInput();
      if (!connected_) return false;
      continue;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    return false;  // ECONNRESET
  }
}

void Client::ProcessInput() {
  size_t pos = 0;
  while (rx_.size() - pos >= 4) {
    const uint32_t size = p9x::internal::LoadLe<uint32_t>(rx_.data() + pos);
    if (size < kHeaderSize || size > kMaxMsize) Violation("the server sent a frame with size field %u", size);
    if (rx_.size() - pos < size) break;
    OnFrame(std::span<const uint8_t>(rx_).subspan(pos, size));
    pos += size;
  }
  rx_.erase(rx_.begin(), rx_.begin() + static_cast<ptrdiff_t>(pos));
}

void Client::OnFrame(std::span<const uint8_t> frame) {
  const uint16_t tag = static_cast<uint16_t>(frame[5] | frame[6] << 8);
  if (chaos_) {
    const WireContext legacy{Dialect::kLegacy, kMaxMsize}, xqid{Dialect::kXqid, kMaxMsize};
    Note("<- (chaos) %s", Describe(frame, legacy).c_str());
    if (!DecodeFrame(frame, legacy) && !DecodeFrame(frame, xqid)) {
      Violation("a reply decodes in neither dialect: %s", ToHex(frame.first(std::min<size_t>(frame.size(), 64))).c_str());
    }
    return;
  }
  auto it = pending_.begin();
  while (it != pending_.end() && it->second.tag != tag) ++it;
  if (it == pending_.end()) {
    Violation("reply with tag %u answers no outstanding request: %s", tag,
              Describe(frame, session_.wire()).c_str());
  }
  Pending& p = it->second;
  Note("<- seq %llu %s", static_cast<unsigned long long>(p.seq), Describe(frame, p.wire).c_str());
  if (frame.size() > p.wire.msize) {
    Violation("reply of %zu bytes exceeds the session's msize %u", frame.size(), p.wire.msize);
  }
  auto reply = DecodeFrame(frame, p.wire);
  if (!reply) {
    Violation("reply does not decode in the session's dialect (%s): %s",
              p.wire.dialect == Dialect::kXqid ? "xqid" : "legacy", reply.error().Describe().c_str());
  }
  const auto* lerror = std::get_if<Rlerror>(&reply->msg);
  switch (p.expect) {
    case Expect::kError:
    case Expect::kFatal:
      if (lerror == nullptr || lerror->ecode != static_cast<uint32_t>(p.error)) {
        Violation("expected Rlerror(%s)", std::string(ErrnoName(p.error)).c_str());
      }
      break;
    case Expect::kVersion: {
      if (p.answer.kind == negotiation::TversionAnswer::Kind::kReject) {
        if (lerror == nullptr || lerror->ecode != static_cast<uint32_t>(p.answer.error)) {
          Violation("expected Rlerror(%s) refusing the Tversion", std::string(ErrnoName(p.answer.error)).c_str());
        }
      } else {
        const auto* v = std::get_if<Rversion>(&reply->msg);
        if (v == nullptr || v->msize != p.answer.msize || v->version != p.answer.version) {
          Violation("expected Rversion{%u, %s}", p.answer.msize, p.answer.version.c_str());
        }
      }
      // version(5): the requests sent before it are answered before this reply or never.
      const uint64_t seq = p.seq;
      for (auto q = pending_.begin(); q != pending_.end();) {
        q = q->first < seq ? pending_.erase(q) : std::next(q);
      }
      break;
    }
    case Expect::kTracked:
      OnTracked(p, *reply, frame[4]);
      break;
  }
  const uint64_t seq = p.seq;  // not a reference into the node being erased
  pending_.erase(seq);
}

void Client::Abandon(Pending& p) {
  for (const FidUse& u : p.uses) {
    auto& list = touchers_[u.fid];
    std::erase(list, p.seq);
  }
  if (p.old_gen) return;
  if (auto released = ReleasedFid(p.msg)) Set(*released, FidState::kUnknown);
  for (uint32_t f : CreatedFids(p.msg, Message{})) Set(f, FidState::kUnknown);
}

void Client::OnTracked(Pending& p, const Frame& reply, uint8_t rtype) {
  const auto* lerror = std::get_if<Rlerror>(&reply.msg);
  if (lerror != nullptr && lerror->ecode == 0) Violation("Rlerror with ecode 0");
  const bool is_flush = std::holds_alternative<Tflush>(p.msg);
  if (is_flush ? rtype != static_cast<uint8_t>(MsgType::kRflush)
               : (lerror == nullptr && rtype != p.type + 1)) {
    Violation("reply of type %u to a request of type %u", rtype, p.type);
  }
  for (const FidUse& u : p.uses) std::erase(touchers_[u.fid], p.seq);
  if (p.old_gen) return;
  if (is_flush) {
    // flush(5): after the Rflush, the flushed request (sent before the Tflush) gets no reply.
    const uint16_t oldtag = std::get<Tflush>(p.msg).oldtag;
    for (auto q = pending_.begin(); q != pending_.end();) {
      if (q->first < p.seq && q->second.tag == oldtag) {
        Note("   seq %llu flushed without a reply", static_cast<unsigned long long>(q->first));
        Abandon(q->second);
        q = pending_.erase(q);
      } else {
        ++q;
      }
    }
    return;
  }
  const bool success = lerror == nullptr;
  if (p.conflicted) {
    // Another outstanding request named one of these fids: the order is open.
    if (auto released = ReleasedFid(p.msg)) Set(*released, FidState::kUnknown);
    for (uint32_t f : CreatedFids(p.msg, reply.msg)) Set(f, FidState::kUnknown);
    return;
  }
  // Only fids whose state the model knows can show a broken rule (NOFID is never in use).
  bool breaks_rule = false;
  for (const FidUse& u : p.uses) {
    const FidState s = State(u.fid);
    if (s == FidState::kUnknown) continue;
    switch (u.role) {
      case Role::kExisting:
        breaks_rule = breaks_rule || s == FidState::kAbsent;
        break;
      case Role::kNew:
        breaks_rule = breaks_rule || u.fid == kNoFid || s == FidState::kPresent;
        break;
      case Role::kNewOrSame:
        breaks_rule = breaks_rule || u.fid == kNoFid || (u.fid != u.same && s == FidState::kPresent);
        break;
    }
  }
  if (breaks_rule && (lerror == nullptr || lerror->ecode != static_cast<uint32_t>(Errno::kEBADF))) {
    std::string fids;
    for (const FidUse& u : p.uses) {
      fids += " " + std::to_string(u.fid) + "=" +
              (State(u.fid) == FidState::kPresent ? "in-use" : State(u.fid) == FidState::kAbsent ? "unused" : "unknown");
    }
    const MsgInfo* info = FindMsgInfo(p.type);
    Violation("%s (seq %llu) names an unused fid as existing, or a used one (or NOFID) as new, so it must"
              " get Rlerror(EBADF) (the table's fid rules); the model's fids:%s",
              info ? std::string(info->name).c_str() : "?", static_cast<unsigned long long>(p.seq), fids.c_str());
  }
  if (success) {
    for (const FidUse& u : p.uses) {
      if (u.role == Role::kExisting) Set(u.fid, FidState::kPresent);
    }
    for (uint32_t f : CreatedFids(p.msg, reply.msg)) Set(f, FidState::kPresent);
    if (const auto* w = std::get_if<Twalk>(&p.msg)) {
      const auto& r = std::get<Rwalk>(reply.msg);
      if (r.wqids.count > w->wnames.count || (w->wnames.count > 0 && r.wqids.count == 0)) {
        Violation("Rwalk with %u qids for %u names (walk(5))", r.wqids.count, w->wnames.count);
      }
    }
  }
  if (auto released = ReleasedFid(p.msg)) Set(*released, FidState::kAbsent);
}

void Client::OnEof() {
  if (!connected_) return;
  size_t unanswered = 0;
  for (const auto& [seq, p] : pending_) unanswered += p.optional ? 0 : 1;
  if (!chaos_ && !close_allowed_ && !ending_) {
    Violation("the server closed the connection (%zu requests unanswered) with no invalid frame and no"
              " tag reused",
              unanswered);
  }
  if (!chaos_ && !close_allowed_ && unanswered > 0) {
    Violation("the server closed the connection with %zu requests unanswered", unanswered);
  }
  Note("<- EOF");
  close(fd_);
  fd_ = -1;
  thread_.join();
  connected_ = false;
  pending_.clear();
}

void Client::WaitAll() {
  for (;;) {
    if (!connected_ || chaos_) return;
    bool waiting = false;
    for (const auto& [seq, p] : pending_) waiting = waiting || !p.optional;
    if (!waiting) return;
    pollfd pfd{fd_, POLLIN, 0};
    const int n = poll(&pfd, 1, kPatienceMs);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) Violation("no reply within 15 s (%zu outstanding)", pending_.size());
    if (!ReadAvailable()) OnEof();
  }
}

void Client::End() {
  if (!connected_) return;
  if (!doomed_) WaitAll();
  if (!connected_) return;
  ending_ = true;
  shutdown(fd_, SHUT_WR);
  while (connected_) {
    pollfd pfd{fd_, POLLIN, 0};
    const int n = poll(&pfd, 1, kPatienceMs);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) Violation("the server did not close within 15 s of the client's EOF");
    if (!ReadAvailable()) OnEof();
  }
  ending_ = false;
}


// ---- turning the input into frames ----

class Script {
 public:
  Script(Server* server, Input& in) : client_(server), in_(in) {}

  void Run() {
    switch (in_.U8() % 4) {
      case 1: Prelude("9P2000.L", true); break;
      case 2: Prelude("9P2000.L.xqid", true); break;
      case 3: Prelude("9P2000.L.xqid", false); break;
      default: break;
    }
    for (int ops = 0; !in_.empty() && ops < 256; ++ops) Op();
    client_.End();
  }

 private:
  void Prelude(const char* version, bool attach) {
    Emit(kNoTag, Tversion{8192, version}, false);
    if (attach) Emit(client_.FreshTag(), Tattach{0, kNoFid, "fuzz", "", kNoUname}, false);
  }

  template <class M>
  void Emit(uint16_t tag, const M& msg, bool pipelined, uint8_t mutation = 0, bool split = false) {
    auto bytes = EncodeToVector(Frame{tag, msg}, WireContext{Dialect::kLegacy, kMaxMsize});
    if (!bytes) return;  // e.g. a string over 65535 bytes: nothing to send
    Mutate(*bytes, mutation);
    client_.Send(std::move(*bytes), pipelined, split);
  }

  void Mutate(std::vector<uint8_t>& b, uint8_t mutation) {
    switch (mutation) {
      case 4:  // another type byte
        b[4] = in_.U8();
        break;
      case 5:  // one body byte changed
        if (b.size() > kHeaderSize) {
          const size_t at = kHeaderSize + in_.U8() % (b.size() - kHeaderSize);
          b[at] ^= static_cast<uint8_t>(in_.U8() | 1);
        }
        break;
      case 6: {  // body cut or padded; size field kept consistent
        const uint8_t n = in_.U8();
        if (n & 0x80) {
          b.resize(b.size() + (n & 0x7f) + 1, in_.U8());
        } else {
          b.resize(std::max<size_t>(kHeaderSize, b.size() > n ? b.size() - n : kHeaderSize));
        }
        p9x::internal::StoreLe<uint32_t>(b.data(), static_cast<uint32_t>(b.size()));
        break;
      }
      case 7: {  // size field replaced
        static constexpr uint32_t kSizes[] = {0, 3, 6, 7, 4096, 4097, kMaxMsize, kMaxMsize + 1, 0xffffffff};
        const uint8_t how = in_.U8();
        uint32_t size = how < 128 ? static_cast<uint32_t>(b.size()) + (how % 9) - 4 : kSizes[how % 9];
        p9x::internal::StoreLe<uint32_t>(b.data(), size);
        break;
      }
      default:
        break;
    }
  }

  uint32_t Fid() { return in_.Pick(kFidChoices); }

  std::string_view Name() {
    static const std::string kLong255(255, 'n'), kLong300(300, 'm');
    static const std::string kNul("x\0y", 3);
    static const std::string_view kNames[] = {"p1", "p2", "g", "f0", "f1", "f7", "a", "b", "c", "..", ".", "",
                                              "a/b", "p1/a", "missing", "g/f1", kLong255, kLong300, kNul};
    const uint8_t pick = in_.U8();
    if (pick % 20 < 19) return kNames[pick % 20];
    return Keep(in_.Take(in_.U8() % 16));
  }
  std::string_view Keep(std::string s) {
    strings_.push_back(std::move(s));
    return strings_.back();
  }
  uint32_t Mode() {
    static constexpr uint32_t kModes[] = {0644, 0755, 0, 07777, 0100644, 0140755, 0xffffffff};
    return in_.Pick(kModes);
  }
  uint64_t Offset() {
    static constexpr uint64_t kOffsets[] = {0, 1, 100, 4096, 1u << 20, 1ull << 40, ~0ull, ~0ull - 10};
    const uint8_t pick = in_.U8();
    return pick < 200 ? kOffsets[pick % 8] : in_.U64();
  }
  uint32_t Count() {
    static constexpr uint32_t kCounts[] = {0, 1, 10, 100, 4096, 8192, 8168, 65536, 0xffffffff};
    return in_.Pick(kCounts);
  }
  uint32_t OpenFlags() {
    static constexpr uint32_t kFlags[] = {kOpenRdonly, kOpenWronly, kOpenRdwr, kOpenRdwr | kOpenTrunc,
                                          kOpenDirectory, kOpenRdwr | kOpenAppend, kOpenNoaccess,
                                          kOpenRdwr | kOpenCreate | kOpenExcl, 0xffffffff};
    return in_.Pick(kFlags);
  }

  void Op() {
    const uint8_t kind = in_.U8() % 32;
    const uint8_t flags = in_.U8();
    const bool pipelined = flags & 1;
    const uint8_t mutation = (flags >> 1) & 7;
    const bool split = (flags >> 6) & 1;
    const uint8_t tag_mode = (flags >> 4) & 3;
    uint16_t tag;
    if (tag_mode == 3) {
      tag = client_.OutstandingTag(in_.U8()).value_or(1);
    } else if (tag_mode == 2) {
      tag = kNoTag;
    } else {
      tag = kind == 0 ? kNoTag : client_.FreshTag();
    }
    auto emit = [&](const auto& msg) { Emit(tag, msg, pipelined, mutation, split); };
    switch (kind) {
      case 0: {
        static constexpr uint32_t kMsizes[] = {8192, 4096, 4095, 65536, 1u << 20, kMaxMsize, kMaxMsize + 1, 0, 7};
        static constexpr std::string_view kVersions[] = {
            "9P2000.L", "9P2000.L.xqid", "9P2000.L.aaa.xqid", "9P2000", "9P2000.u", "", "9P2000.L.",
            "9P2000.L.xqid.xqid", "unknown", "9P2000.L.zzz"};
        const uint32_t msize = in_.U8() < 240 ? in_.Pick(kMsizes) : in_.U32();
        const uint8_t v = in_.U8();
        const std::string_view version = v % 11 < 10 ? kVersions[v % 11] : Keep(in_.Take(in_.U8() % 24));
        emit(Tversion{msize, version});
        break;
      }
      case 1: {
        static constexpr std::string_view kAnames[] = {"", "/", "p1", "p1/", "g/f1", "..", "missing", "/p2//", "g"};
        const uint32_t fid = Fid();
        const uint32_t afid = in_.U8() < 230 ? kNoFid : Fid();
        emit(Tattach{fid, afid, "fuzz", in_.Pick(kAnames), in_.U8() < 200 ? kNoUname : in_.U32()});
        break;
      }
      case 2:
      case 31: {
        Twalk w;
        w.fid = Fid();
        w.newfid = Fid();
        w.wnames.count = in_.U8() % 17;
        for (uint16_t i = 0; i < w.wnames.count; ++i) w.wnames.names[i] = Name();
        emit(w);
        break;
      }
      case 3: emit(Tlopen{Fid(), OpenFlags()}); break;
      case 4: {
        const uint32_t fid = Fid();
        const std::string_view name = Name();
        emit(Tlcreate{fid, name, OpenFlags(), Mode(), 0});
        break;
      }
      case 5: {
        const uint32_t fid = Fid();
        const uint64_t offset = Offset();
        emit(Tread{fid, offset, Count()});
        break;
      }
      case 6: {
        static constexpr size_t kLengths[] = {0, 1, 13, 100, 4000, 4073, 8169, 9000};
        const uint32_t fid = Fid();
        const uint64_t offset = Offset();
        const size_t n = in_.Pick(kLengths);
        const std::string_view data = Keep(std::string(n, static_cast<char>(in_.U8())));
        emit(Twrite{fid, offset, Bytes{std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size())}});
        break;
      }
      case 7: {
        const uint32_t fid = Fid();
        const uint64_t offset = in_.U8() < 128 ? 0 : Offset();
        emit(Treaddir{fid, offset, Count()});
        break;
      }
      case 8: emit(Tgetattr{Fid(), in_.U8() < 128 ? kGetattrAll : in_.U64()}); break;
      case 9: {
        Tsetattr a;
        a.fid = Fid();
        a.valid = in_.U8() < 200 ? in_.U8() | (in_.U8() & 1) << 8 : in_.U32();
        a.mode = Mode();
        a.uid = in_.U8() < 200 ? static_cast<uint32_t>(geteuid()) : in_.U32();
        a.gid = in_.U8() < 200 ? static_cast<uint32_t>(getegid()) : in_.U32();
        a.size = Offset();
        a.atime_sec = in_.U32();
        a.atime_nsec = in_.U8() < 200 ? in_.U8() : in_.U64();
        a.mtime_sec = in_.U32();
        a.mtime_nsec = in_.U8() < 200 ? in_.U8() : in_.U64();
        emit(a);
        break;
      }
      case 10: {
        const uint32_t fid = Fid();
        const std::string_view name = Name();
        emit(Tmkdir{fid, name, Mode(), 0});
        break;
      }
      case 11: {
        const uint32_t fid = Fid();
        const std::string_view name = Name();
        const uint8_t f = in_.U8();
        emit(Tunlinkat{fid, name, f < 100 ? 0 : f < 200 ? kAtRemovedir : in_.U32()});
        break;
      }
      case 12: {
        const uint32_t olddir = Fid();
        const std::string_view oldname = Name();
        const uint32_t newdir = Fid();
        emit(Trenameat{olddir, oldname, newdir, Name()});
        break;
      }
      case 13: emit(Tclunk{Fid()}); break;
      case 14: emit(Tremove{Fid()}); break;
      case 15: {
        const uint8_t pick = in_.U8();
        const uint16_t oldtag = pick < 200 ? client_.OutstandingTag(in_.U8()).value_or(in_.U16()) : in_.U16();
        emit(Tflush{oldtag});
        break;
      }
      case 16: {
        static constexpr std::string_view kXattrs[] = {"", "user.a", "user.b", "security.x", "trusted.t"};
        const uint32_t fid = Fid();
        const uint32_t newfid = Fid();
        const uint8_t pick = in_.U8();
        emit(Txattrwalk{fid, newfid, pick < 250 ? kXattrs[pick % 5] : Name()});
        break;
      }
      case 17: {
        static constexpr std::string_view kXattrs[] = {"user.a", "user.b", "", "security.x", "user.c"};
        static constexpr uint64_t kSizes[] = {0, 1, 5, 100, 65536, 65537, ~0ull};
        const uint32_t fid = Fid();
        const std::string_view name = in_.Pick(kXattrs);
        const uint64_t size = in_.Pick(kSizes);
        emit(Txattrcreate{fid, name, size, static_cast<uint32_t>(in_.U8() % 5)});
        break;
      }
      case 18:
      case 19: {
        const uint32_t fid = Fid();
        const uint8_t type = in_.U8() % 4;
        const uint32_t lflags = in_.U8() % 5;
        const uint64_t start = Offset();
        const uint64_t length = in_.U8() < 128 ? 0 : Offset();
        const uint32_t proc = in_.U8();
        if (kind == 18) {
          emit(Tlock{fid, type, lflags, start, length, proc, "fuzz"});
        } else {
          emit(Tgetlock{fid, type, start, length, proc, "fuzz"});
        }
        break;
      }
      case 20: emit(Tstatfs{Fid()}); break;
      case 21: emit(Treadlink{Fid()}); break;
      case 22: {
        const uint32_t fid = Fid();
        const std::string_view name = Name();
        emit(Tsymlink{fid, name, Name(), 0});
        break;
      }
      case 23: {
        const uint32_t fid = Fid();
        const std::string_view name = Name();
        emit(Tmknod{fid, name, Mode(), in_.U8(), in_.U8(), 0});
        break;
      }
      case 24: {
        const uint32_t fid = Fid();
        const uint32_t dfid = Fid();
        emit(Trename{fid, dfid, Name()});
        break;
      }
      case 25: {
        const uint32_t dfid = Fid();
        const uint32_t fid = Fid();
        emit(Tlink{dfid, fid, Name()});
        break;
      }
      case 26: emit(Tfsync{Fid(), static_cast<uint32_t>(in_.U8() & 1)}); break;
      case 27: emit(Tauth{Fid(), "fuzz", "", kNoUname}); break;
      case 28: client_.WaitAll(); break;
      case 29: client_.End(); break;
      case 30: {
        // Any type byte with a body of input bytes and a consistent size field.
        std::vector<uint8_t> b(kHeaderSize);
        b[4] = in_.U8();
        p9x::internal::StoreLe<uint16_t>(b.data() + 5, tag);
        const std::string body = in_.Take(in_.U8());
        b.insert(b.end(), body.begin(), body.end());
        p9x::internal::StoreLe<uint32_t>(b.data(), static_cast<uint32_t>(b.size()));
        Mutate(b, mutation);
        client_.Send(std::move(b), pipelined, split);
        break;
      }
      default: break;
    }
    // The names were copied into the frame when it was encoded; the storage can go.
    strings_.clear();
  }

  Client client_;
  Input& in_;
  std::deque<std::string> strings_;  // storage for names the messages view
};

std::unique_ptr<Server> NewServer() {
  auto spec = ParseMemFsSpec("mem:mounts=p1+p2,gen=g:40");
  if (!spec) Violation("mem spec: %s", spec.error().c_str());
  MemFsOptions fs = *spec;
  fs.max_data_bytes = 64u << 20;
  fs.max_file_bytes = 8u << 20;
  fs.max_inodes = 10000;
  ServerOptions options;
  options.backend = std::make_shared<MemFs>(fs);
  options.worker_threads = 2;
  options.log_level = 0;
  auto server = Server::Create(std::move(options));
  if (!server) Violation("Server::Create: %s", server.error().c_str());
  return std::move(*server);
}

}  // namespace
}  // namespace p9x::server::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  p9x::server::fuzz::Log().clear();
  auto server = p9x::server::fuzz::NewServer();
  p9x::server::fuzz::Input in(data, size);
  {
    p9x::server::fuzz::Script script(server.get(), in);
    script.Run();
  }
  server->Shutdown();
  return 0;
}
