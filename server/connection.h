// SPDX-License-Identifier: MIT
// One client connection of p9xd (server.h describes the threading): its I/O loop, the framing of
// the byte stream into requests (the codec's NextFrame), back-pressure, the tags in flight, Tflush,
// Tversion, and the dispatch of each request to its handler, inline or on the worker pool
// (connection.cc). The handlers, one per T-message, are members too, defined by family in
// handlers_*.cc.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/frame.h"
#include "negotiation/version.h"
#include "server/credentials.h"
#include "server/fid_table.h"
#include "server/server_state.h"

namespace p9x::server {

// A request as its handler sees it.
struct Request {
  uint16_t tag;
  WireContext wire;
  uint64_t generation;  // the session it belongs to (FidTable)
};

// A handler's answer: the encoded R-message, or the error for an Rlerror.
using Reply = Result<std::vector<uint8_t>>;

// A reply buffer sized for a whole count (Rread, Rreaddir) that came back shorter gives back the
// rest when more than this is unused: back-pressure counts a queued reply's size, so a short
// reply must not hold the memory of a full one (a client that never reads its Rreads at end of
// file would otherwise pin count bytes per 11-byte reply).
constexpr size_t kMaxUnusedReplyBytes = 4096;

class Connection;
class EventLoop;  // server.cc: drives many connections on one thread (server.h, "Threading")
// Asks `loop` to call the connection's OnReady soon (from any thread; coalesced).
void WakeOnLoop(EventLoop& loop, Connection& conn);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `loop`: the event loop that drives this connection (socket connections), or null when a
  // thread of its own runs Run() (ServeConnection: stdio, --rfd/--wfd, tests).
  Connection(Server::Impl& server, int rfd, int wfd, std::string peer, EventLoop* loop = nullptr)
      : s_(server),
        rfd_(rfd),
        wfd_(wfd),
        loop_(loop),
        peer_(std::move(peer)),
        fids_(server.options.max_fids_per_connection) {
    if (loop_ == nullptr) wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Connection() {
    if (wake_fd_ >= 0) close(wake_fd_);
    if (rfd_ >= 0) close(rfd_);
    if (wfd_ >= 0 && wfd_ != rfd_) close(wfd_);
  }

  // Serves the connection on the calling thread until it ends (poll(2) on its descriptors and
  // an eventfd that Wake() signals).
  void Run();
  void Stop() {
    stop_.store(true);
    Wake();
  }

  // ---- driving the connection from an event loop (Run() is the same steps on a thread) ----
  // Only one thread at a time calls these, as only one thread runs Run().
  struct Interest {
    bool read = false;   // wants to read (not at end of input, not over the back-pressure budget)
    bool write = false;  // replies are queued
    bool done = false;   // nothing left to do: the connection is over
    bool again = false;  // whole frames wait in the read buffer and there is room to take them
  };
  // Sets the descriptors non-blocking and sizes the read buffer; before the first OnReady.
  void Begin();
  // What the connection waits for now. `again` is handled by calling ProcessQueuedFrames().
  Interest Wants();
  void ProcessQueuedFrames() { ProcessFrames(); }
  // The descriptors became readable and/or writable (`wanted_read`: Wants().read when the
  // wait began). False when the connection must end now (a write failed).
  bool OnReady(bool readable, bool writable, bool wanted_read);
  // Ends the connection: abandons requests still on workers and drops queued replies.
  void Finish();
  bool stopping() const { return stop_.load(); }
  int read_fd() const { return rfd_; }
  int write_fd() const { return wfd_; }
  // Coalesces wake-ups of a connection on an event loop (WakeOnLoop).
  std::atomic<bool> wake_queued{false};

 private:
  // ---- I/O ----
  void Wake() {
    if (loop_ != nullptr) {
      WakeOnLoop(*loop_, *this);
      return;
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }
  bool ReadSome();
  bool WriteSome();
  void ProcessFrames();
  void Dispatch(std::span<const uint8_t> frame);
  // A request that may block goes to the worker pool so that the connection keeps reading
  // (pipelined requests run side by side, a Tflush is seen). When it is the only request in
  // flight and no other bytes have arrived, there is nothing to keep reading for: answering it
  // here saves two thread wake-ups, the most expensive part of a small request (bench/
  // PROFILE.md P2). Never for Tread/Twrite of anything but a regular file or an xattr fid: a
  // FIFO can block for ever, and then a Tflush must still be answered.
  template <class M>
  // `alone`: this is the only request in flight and no other bytes have arrived.
  bool CanAnswerInline(const M& msg, uint64_t generation, bool alone);
  // Queues a reply for `tag` and retires the tag, queueing the Rflush of every Tflush that was
  // waiting for it (after the reply: flush(5)). Drops it if a Tversion came in between.
  // `release`: the bytes this request had reserved (OverBudgetLocked), given back whether or not
  // the reply is still wanted.
  void Complete(uint16_t tag, uint64_t generation, std::vector<uint8_t> bytes, bool wake, size_t release = 0);
  void QueueLocked(std::vector<uint8_t> bytes);
  void CompleteLocked(uint16_t tag, uint64_t generation, std::vector<uint8_t>* bytes);
  void Trace(const char* dir, std::span<const uint8_t> bytes, const WireContext& wire);

  template <class M>
  void OnRequest(std::span<const uint8_t> frame);

  template <class R>
  static Reply Make(const Request& req, const R& r) {
    std::vector<uint8_t> out(EncodedSize(r, req.wire.dialect));
    auto n = Encode(req.tag, r, req.wire, out);
    if (!n) return Unexpected(n.error().kind == CodecErrorKind::kQidNeedsXqid ? Errno::kENFILE : Errno::kEMSGSIZE);
    return out;
  }
  static std::vector<uint8_t> ErrorFrame(uint16_t tag, Errno e) {
    std::vector<uint8_t> out(kHeaderSize + 4);
    (void)Encode(tag, Rlerror{static_cast<uint32_t>(e)}, WireContext{}, out);
    return out;
  }

  // ---- fids (fid_table.h): handlers pass their Request::generation ----
  FidRef GetFid(uint32_t fid, uint64_t generation) { return fids_.Get(fid, generation); }
  bool HasFid(uint32_t fid) { return fids_.Has(fid); }  // on the connection thread: the current session
  Result<void> PutFid(uint32_t fid, FidRef f, uint64_t generation) { return fids_.Put(fid, std::move(f), generation); }
  FidRef TakeFid(uint32_t fid, uint64_t generation) { return fids_.Take(fid, generation); }

  // ---- identity (credentials.h) ----
  // Puts the calling thread in the credentials of `f`'s user (credentials.h) before a handler
  // acts on the host: every handler that touches the host calls it, through P9X_ACT_AS.
  Result<void> ActAs(const Fid& f) { return s_.identity->ActAs(*f.user); }
  // A request naming two fids acts for one user: both must belong to the same one (a fid of
  // another user is a handle the requester could not have walked to on the host).
  static bool SameUser(const Fid& a, const Fid& b) { return a.user == b.user || *a.user == *b.user; }
  Result<CredentialsRef> AttachingUser(const Tattach& m) { return s_.identity->AttachingUser(m.uname, m.n_uname); }

  // ---- what handlers share (handlers_session.cc) ----
  Result<Qid> QidOf(const NodeRef& node, Dialect d, struct stat* st_out = nullptr);
  // A creating request whose new object got no qid fails with `error`; the object it made is
  // removed first (when `made_here`), so that the client's retry does not find it.
  Reply UndoCreate(const NodeRef& made, Errno error, bool made_here) {
    if (made_here) (void)s_.fs->Remove(made);
    return Unexpected(error);
  }
  // spec/9p2000.L.md §4: iounit = msize - IOHDRSZ, so a Tread or Twrite of that count fits.
  static uint32_t Iounit(const Request& req) { return req.wire.msize - kIoHeaderSize; }

  // ---- handlers (one per T-message; Tversion and Tflush are handled in Dispatch) ----
  Reply Handle(const Tauth&, const Request&) { return Unexpected(Errno::kEOPNOTSUPP); }
  Reply Handle(const Tattach& m, const Request& req);
  Reply Handle(const Twalk& m, const Request& req);
  Reply Handle(const Tlopen& m, const Request& req);
  Reply Handle(const Tlcreate& m, const Request& req);
  Reply Handle(const Tread& m, const Request& req);
  Reply Handle(const Twrite& m, const Request& req);
  Reply Handle(const Tclunk& m, const Request& req);
  Reply Handle(const Tremove& m, const Request& req);
  Reply Handle(const Tstatfs& m, const Request& req);
  Reply Handle(const Tsymlink& m, const Request& req);
  Reply Handle(const Tmknod& m, const Request& req);
  Reply Handle(const Trename& m, const Request& req);
  Reply Handle(const Treadlink& m, const Request& req);
  Reply Handle(const Tgetattr& m, const Request& req);
  Reply Handle(const Tsetattr& m, const Request& req);
  Reply Handle(const Txattrwalk& m, const Request& req);
  Reply Handle(const Txattrcreate& m, const Request& req);
  Reply Handle(const Treaddir& m, const Request& req);
  Reply Handle(const Tfsync& m, const Request& req);
  Reply Handle(const Tlock& m, const Request& req);
  Reply Handle(const Tgetlock& m, const Request& req);
  Reply Handle(const Tlink& m, const Request& req);
  Reply Handle(const Tmkdir& m, const Request& req);
  Reply Handle(const Trenameat& m, const Request& req);
  Reply Handle(const Tunlinkat& m, const Request& req);

  void HandleVersion(const Tversion& m, uint16_t tag);
  void HandleFlush(const Tflush& m, uint16_t tag);

  Server::Impl& s_;
  int rfd_;
  int wfd_;
  EventLoop* loop_;
  int wake_fd_ = -1;  // Run() only: an event loop wakes the connection without a descriptor
  std::string peer_;
  std::atomic<bool> stop_{false};

  // Connection-thread state.
  negotiation::Session session_;
  std::vector<uint8_t> in_;  // bytes read, not yet dispatched
  size_t in_len_ = 0;
  bool read_eof_ = false;
  bool fatal_ = false;        // framing lost: close after flushing what is queued
  bool frames_left_ = false;  // ProcessFrames stopped at the budget with whole frames unread
  bool more_input_ = false;   // ProcessFrames: bytes follow the frame being dispatched

  // Shared with workers, under out_mu_.
  // Lock order of the engine (each lock is described where it is declared):
  //   Fid::mu  ->  the backend's and the qid map's own locks (a handler holding a fid's mutex
  //                calls the backend; no handler holds two fids' mutexes).
  //   out_mu_, FidTable::mu_, WorkerPool::mu_, Server::Impl::connections_mu and
  //   UserDatabase::mu_ are leaves: no other lock is taken while one of them is held. In
  //   particular a handler never runs, and Fid::mu is never taken, with out_mu_ held.
  std::mutex out_mu_;
  std::deque<std::vector<uint8_t>> out_;
  size_t out_offset_ = 0;  // bytes of out_.front() already written
  size_t out_bytes_ = 0;
  // Bytes that requests handed to workers hold or may still add to out_: the frame's copy plus
  // the largest reply it can make (a whole count for Tread/Treaddir).
  size_t reserved_bytes_ = 0;
  // Back-pressure: replies queued and reserved reach max_queued_reply_bytes. Until then the
  // connection takes no further request (it stops dispatching, then stops reading).
  bool OverBudgetLocked() const { return out_bytes_ + reserved_bytes_ >= s_.options.max_queued_reply_bytes; }
  std::unordered_map<uint16_t, std::vector<uint16_t>> in_flight_;  // tag -> Tflush tags waiting
  WireContext trace_wire_;

  // The session's fids, and its generation: the one session counter (fid_table.h), which the
  // fid lookups and CompleteLocked both compare.
  FidTable fids_;
};

}  // namespace p9x::server
