// SPDX-License-Identifier: MIT
// One client connection of p9xd (server.h describes the threading): its I/O loop, the framing of
// the byte stream into requests (the codec's NextFrame), back-pressure, the tags in flight, Tflush,
// Tversion, and the dispatch of each request to its handler, inline or on the worker pool
// (connection.cc). The handlers, one per T-message, are members too, defined by family in
// handlers_*.cc.
#pragma once

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "codec/frame.h"
#include "negotiation/version.h"
#include "server/credentials.h"
#include "server/fid_table.h"
#include "server/server_state.h"

namespace p9x::server {

struct SplicedPayload;

// A request as its handler sees it.
struct Request {
  uint16_t tag;
  WireContext wire;
  uint64_t generation;  // the session it belongs to (FidTable)
  // A Twrite whose payload was spliced from the socket into a pipe: the data is there, and the
  // decoded message's data is empty (Connection's framing comment). Null for every other request.
  SplicedPayload* payload = nullptr;
  // Tread/Twrite run on the event loop must not wait for storage: a read whose data is not
  // cached, or a write that would wait, fails with EAGAIN instead (OpenFile::Cached,
  // OpenFile::WriteNoWait) and the request goes to a worker.
  bool no_wait = false;
};

// An allocator that leaves new bytes uninitialised: a buffer that read(2) or a reply's encoder
// fills is not zero-filled first (bench/PROFILE.md P4: the zero fill of a 1 MiB frame).
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) {}  // NOLINT: as std::allocator
  template <class U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
// The bytes of a frame read from the client.
using FrameBytes = std::vector<uint8_t, UninitializedAllocator<uint8_t>>;

// A pipe that carries the data of one Rread from the file to the socket (splice(2)): the kernel
// moves references to the file's page-cache pages into it and from it into the socket, so the
// data is never copied through user space. Move-only; closes its descriptors.
class SplicePipe {
 public:
  SplicePipe() = default;
  // A pipe that holds at least `capacity` bytes, or an invalid one (pipe2 or F_SETPIPE_SZ
  // refused: the descriptor limit, /proc/sys/fs/pipe-max-size, the user's pipe pages).
  static SplicePipe Open(size_t capacity);
  SplicePipe(SplicePipe&& o) noexcept : read_fd_(o.read_fd_), write_fd_(o.write_fd_), capacity_(o.capacity_) {
    o.read_fd_ = o.write_fd_ = -1;
    o.capacity_ = 0;
  }
  SplicePipe& operator=(SplicePipe&& o) noexcept {
    if (this != &o) {
      Close();
      std::swap(read_fd_, o.read_fd_);
      std::swap(write_fd_, o.write_fd_);
      std::swap(capacity_, o.capacity_);
    }
    return *this;
  }
  SplicePipe(const SplicePipe&) = delete;
  SplicePipe& operator=(const SplicePipe&) = delete;
  ~SplicePipe() { Close(); }

  bool valid() const { return read_fd_ >= 0; }
  int read_fd() const { return read_fd_; }
  int write_fd() const { return write_fd_; }
  size_t capacity() const { return capacity_; }
  // Grows an empty pipe to hold at least `capacity` bytes; false if the kernel refuses. A size
  // the kernel refused once (F_SETPIPE_SZ: EPERM above /proc/sys/fs/pipe-max-size without
  // CAP_SYS_RESOURCE, which a request acting as its user does not have) is not asked for again.
  bool Reserve(size_t capacity);
  // How many bytes of a file starting at `offset` a splice can put into this empty pipe: a pipe
  // holds whole pages (one buffer per page touched), so an offset inside a page costs a buffer.
  size_t FileBytesThatFit(uint64_t offset) const;

 private:
  void Close() {
    if (read_fd_ >= 0) close(read_fd_);
    if (write_fd_ >= 0) close(write_fd_);
    read_fd_ = write_fd_ = -1;
  }
  int read_fd_ = -1;
  int write_fd_ = -1;
  size_t capacity_ = 0;
};

// The payload of a large Twrite that went from the socket into a pipe by splice(2) instead of
// into a buffer: `arrived` of its `size` bytes came from the socket, and `in_pipe` of them are in
// `pipe` (all that arrived, unless they were streamed into the file or the handler moved some).
// `streamed`: the connection wrote the bytes into the file as they arrived
// (Connection::StreamSplicedPayload); `written` of them went in, and `error` is why the rest did
// not (kOk when all did): the handler answers from these, as it would from pwrite(2).
struct SplicedPayload {
  SplicePipe pipe;
  uint32_t size = 0;
  uint32_t arrived = 0;
  uint32_t in_pipe = 0;
  bool streamed = false;
  uint32_t written = 0;
  Errno error = Errno::kOk;
};

// size[4] type[1] tag[2] fid[4] offset[8] count[4]: the part of a Twrite before its data.
constexpr size_t kTwriteFixedSize = kHeaderSize + 4 + 8 + 4;

// One reply as it is queued and sent. On the wire it is `bytes`, then `spliced` bytes waiting in
// `pipe`, then `tail`. Only an Rread of a regular file uses the last two: `bytes` is then its
// 11-byte header, whose count is the number of data bytes that were already in the pipe and the
// tail when the header was encoded (handlers_file.cc), so the count always equals the data sent,
// whatever happens to the file afterwards.
struct OutFrame {
  OutFrame() = default;
  OutFrame(std::vector<uint8_t> b) : bytes(std::move(b)) {}  // NOLINT: a plain frame is a reply
  std::vector<uint8_t> bytes;
  SplicePipe pipe;
  size_t spliced = 0;
  std::vector<uint8_t> tail;
  size_t size() const { return bytes.size() + spliced + tail.size(); }
};

// A handler's answer: the encoded R-message, or the error for an Rlerror.
using Reply = Result<OutFrame>;

// The replies queued for the client, in order: a ring that keeps its slots, so that queueing a
// reply allocates nothing once the ring has grown to the connection's depth.
class ReplyQueue {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  OutFrame& front() { return slots_[head_]; }
  OutFrame& operator[](size_t i) { return slots_[(head_ + i) % slots_.size()]; }
  void push_back(OutFrame frame) {
    if (size_ == slots_.size()) Grow();
    slots_[(head_ + size_) % slots_.size()] = std::move(frame);
    ++size_;
  }
  void pop_front() {
    slots_[head_] = OutFrame();
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }
  void clear() {
    while (!empty()) pop_front();
  }

 private:
  void Grow() {
    std::vector<OutFrame> bigger(std::max<size_t>(4, slots_.size() * 2));
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<OutFrame> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

// The tags in flight and the Tflushes waiting for them (flush(5)), kept without an allocation
// per request: a sorted vector of tags, and the (oldtag, Tflush tag) pairs in arrival order.
class TagsInFlight {
 public:
  bool empty() const { return tags_.empty(); }
  size_t size() const { return tags_.size(); }
  bool Contains(uint16_t tag) const { return std::binary_search(tags_.begin(), tags_.end(), tag); }
  void Add(uint16_t tag) { tags_.insert(std::lower_bound(tags_.begin(), tags_.end(), tag), tag); }
  // Retires `tag`; false if it was not in flight.
  bool Remove(uint16_t tag) {
    auto it = std::lower_bound(tags_.begin(), tags_.end(), tag);
    if (it == tags_.end() || *it != tag) return false;
    tags_.erase(it);
    return true;
  }
  void AddWaiter(uint16_t oldtag, uint16_t flush_tag) { waiters_.emplace_back(oldtag, flush_tag); }
  // The first Tflush still waiting for `tag`, taken off the list; false when there is none.
  bool TakeWaiter(uint16_t tag, uint16_t* flush_tag) {
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->first == tag) {
        *flush_tag = it->second;
        waiters_.erase(it);
        return true;
      }
    }
    return false;
  }
  void clear() {
    tags_.clear();
    waiters_.clear();
  }

 private:
  std::vector<uint16_t> tags_;
  std::vector<std::pair<uint16_t, uint16_t>> waiters_;
};

// A reply buffer sized for a whole count (Rread, Rreaddir) that came back shorter gives back the
// rest when more than this is unused: back-pressure counts a queued reply's size, so a short
// reply must not hold the memory of a full one (a client that never reads its Rreads at end of
// file would otherwise pin count bytes per 11-byte reply).
constexpr size_t kMaxUnusedReplyBytes = 4096;

// An Rread of a regular file with at least this many bytes moves them by splice(2); a shorter one
// copies them (pread + writev: two system calls against three, and a small copy is cheap).
constexpr uint32_t kMinSplicedRead = 16 * 1024;
// A Twrite to a regular file (OpenFile::SpliceTarget) with at least this much data and too large
// for the read buffer moves it by splice(2), socket -> pipe -> file (Connection's framing comment).
constexpr uint32_t kMinSplicedWrite = 16 * 1024;

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
    struct stat st {};
    splice_to_peer_ = fstat(wfd_, &st) == 0 && S_ISSOCK(st.st_mode);
    splice_from_peer_ = fstat(rfd_, &st) == 0 && S_ISSOCK(st.st_mode);
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
  // Dispatches large_ once it holds its whole frame; false while it is incomplete.
  bool ProcessLargeFrame();
  // A large Twrite whose first `available` bytes (at least its fixed part) are at `frame`, of
  // `frame_size` bytes in all (NextFrame's `needed`): when its file takes spliced data, moves the
  // payload bytes already read into a pipe and returns true; the rest of the payload is then
  // spliced from the socket (ReadSplicedPayload). False: read it into large_ as any frame.
  bool BeginSplicedWrite(const uint8_t* frame, size_t available, uint32_t frame_size);
  // ReadSome while a Twrite's payload is being spliced: the socket into the pipe, never beyond
  // the frame. False at end of input.
  bool ReadSplicedPayload();
  // The pipe filled before the payload was whole (a socket's data occupies a pipe's slots in
  // pieces smaller than a page), or the socket cannot splice: what the pipe holds moves to
  // large_, which takes the rest of the frame as any large frame.
  void SplicedPayloadToLarge();
  // Moves what the pipe holds of a streamed payload into its file (as the fid's user) at the
  // payload's next offset; after a failure, discards it (the count is then final).
  void StreamSplicedPayload();
  // Forgets the payload being streamed (its fid and file), once it is dispatched or buffered.
  void EndStream();
  // Dispatches the spliced Twrite once its payload is whole; false while it is incomplete.
  bool ProcessSplicedWrite();
  void Dispatch(std::span<const uint8_t> frame);
  // A request that may block goes to the worker pool so that the connection keeps reading
  // (pipelined requests run side by side, a Tflush is seen). When it is the only request in
  // flight and no other bytes have arrived, there is nothing to keep reading for: answering it
  // here saves two thread wake-ups, the most expensive part of a small request (bench/
  // PROFILE.md P2). Never for Tread/Twrite of anything but a regular file or an xattr fid: a
  // FIFO can block for ever, and then a Tflush must still be answered. Pipelined Treads and
  // Twrites of regular files are answered here too: always on tmpfs/ramfs (OpenFile::InMemory),
  // elsewhere when they need not wait for storage (kHereWithoutWaiting: Request::no_wait; a
  // handler that would wait answers EAGAIN instead, and the request goes to a worker).
  enum class InlineAnswer : uint8_t { kWorker, kHere, kHereWithoutWaiting };
  template <class M>
  // `alone`: this is the only request in flight and no other bytes have arrived.
  InlineAnswer CanAnswerInline(const M& msg, uint64_t generation, bool alone);
  // The one rule that overrides both spec/messages.json's runs_on "inline" and CanAnswerInline:
  // true when `msg` may reach a filesystem that can block indefinitely (an NFS or CIFS server
  // that is gone, a FUSE daemon that hangs: blocking_mounts.h), which no event loop may wait
  // on, since a loop serves many connections. Such a request goes to the worker pool, where it
  // holds one thread and its own connection's tag, while the loop goes on serving every other
  // request. Costs one atomic load on an export that holds no such filesystem; otherwise the
  // request's fids are looked up (a Twalk of a name, or a Tattach below the root, always goes).
  template <class M>
  bool NeedsWorkerForBlockingMount(const M& msg, uint64_t generation);
  // Drops the fids of an ended session (Tversion, the connection's end): on a worker when the
  // export holds a filesystem that can block, since the last reference to an open file there
  // closes it and the close may wait for ever (a FUSE FLUSH, an NFS write-back); here otherwise.
  void DropFids(FidTable::Fids fids);
  // Queues a reply for `tag` and retires the tag, queueing the Rflush of every Tflush that was
  // waiting for it (after the reply: flush(5)). Drops it if a Tversion came in between.
  // `release`: the bytes this request had reserved (OverBudgetLocked), given back whether or not
  // the reply is still wanted.
  void Complete(uint16_t tag, uint64_t generation, OutFrame frame, bool wake, size_t release = 0);
  void QueueLocked(OutFrame frame);
  void CompleteLocked(uint16_t tag, uint64_t generation, OutFrame* frame);
  // Sends the spliced data of out_.front() (WriteSome); false on a write error.
  enum class SpliceOut { kProgress, kWouldBlock, kFailed };
  SpliceOut SpliceFrontLocked();
  // Advances past `n` bytes of out_ written, popping the frames that are complete.
  void ConsumeLocked(size_t n);
  // Before a reply of `size` bytes is sent: grows a unix socket's send buffer to hold
  // kRepliesInSendBuffer such replies (WriteSome).
  void FitSendBufferLocked(size_t size);

  // ---- the splice pipes of Rread data (SplicePipe) ----
  // A pipe that holds `count` bytes, from the free list or new; invalid when the connection
  // already has kMaxSplicePipes in use or the kernel refuses one (the Rread is then copied).
  SplicePipe TakePipe(size_t count);
  // Gives back a pipe taken with TakePipe: to the free list when empty, closed otherwise.
  void ReturnPipeLocked(SplicePipe pipe, bool empty);
  void ReturnPipe(SplicePipe pipe, bool empty) {
    std::lock_guard lock(out_mu_);
    ReturnPipeLocked(std::move(pipe), empty);
  }
  // Fills `out` (an Rread for `tag`) with up to `count` bytes of `source` at `offset`, moved by
  // the kernel into a pipe; false when this read cannot be spliced (no pipe, or the file's
  // filesystem cannot splice), and the caller copies it with OpenFile::Read instead.
  Result<bool> SpliceRead(int source, uint64_t offset, uint32_t count, OpenFile& open, OutFrame* out);
  // Moves the spliced payload from its pipe into `target` at `offset` (handlers_file.cc): the
  // bytes written, fewer than the payload only when the file took fewer (as pwrite(2)); or, with
  // *refused set and nothing written, the file does not take spliced data (EINVAL).
  Result<size_t> SpliceWrite(int target, uint64_t offset, SplicedPayload& payload, bool* refused);
  // Reads what is left of a spliced payload out of its pipe into `into` (for a file that refuses
  // splice, or an xattr fid's value).
  Result<void> DrainPayload(SplicedPayload& payload, FrameBytes* into);
  void Trace(const char* dir, std::span<const uint8_t> bytes, const WireContext& wire);

  template <class M>
  void OnRequest(std::span<const uint8_t> frame);

  // A request handed to the worker pool, with its own copy of the frame. Jobs are reused (a
  // free list under out_mu_, at most kKeptJobs), so that handing a request over allocates
  // nothing: no std::function, no shared frame copy.
  struct WorkerJob {
    Connection* connection = nullptr;
    std::shared_ptr<Connection> keep_alive;  // the connection outlives its jobs
    Request req{};
    FrameBytes frame;
    SplicedPayload payload;  // a spliced Twrite's data; req.payload points here
    size_t reserve = 0;      // bytes reserved against the budget (OverBudgetLocked)
    void (*handle)(WorkerJob&) = nullptr;
  };
  static constexpr size_t kKeptJobs = 16;
  WorkerJob* TakeJob();
  template <class M>
  static void RunJob(WorkerJob& job);
  static void RunWorkerJob(void* job);  // the pool's entry point; gives the job back

  template <class R>
  Reply Make(const Request& req, const R& r) {
    std::vector<uint8_t> out = ReplyBuffer(EncodedSize(r, req.wire.dialect));
    auto n = Encode(req.tag, r, req.wire, out);
    if (!n) return Unexpected(n.error().kind == CodecErrorKind::kQidNeedsXqid ? Errno::kENFILE : Errno::kEMSGSIZE);
    return out;
  }
  // A buffer of `size` bytes for a reply: a reused one from the connection's spares (given back
  // by ConsumeLocked once written), so that a request's reply allocates nothing.
  std::vector<uint8_t> ReplyBuffer(size_t size) {
    std::vector<uint8_t> out;
    {
      std::lock_guard lock(out_mu_);
      // The first spare large enough, else any (it grows once).
      auto it = std::find_if(spare_replies_.begin(), spare_replies_.end(),
                             [&](const std::vector<uint8_t>& b) { return b.capacity() >= size; });
      if (it == spare_replies_.end() && !spare_replies_.empty()) it = spare_replies_.end() - 1;
      if (it != spare_replies_.end()) {
        out = std::move(*it);
        *it = std::move(spare_replies_.back());
        spare_replies_.pop_back();
      }
    }
    out.resize(size);
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
  // Framing. NextFrame (codec/frame.h) is the one place that finds frame boundaries, in in_.
  // A frame larger than in_ (a large Twrite) is not read into in_: once NextFrame has said how
  // large it is, the bytes of it already in in_ move to large_, and ReadSome reads the rest of
  // that frame (never beyond it) straight into large_, which NextFrame then checks as a whole
  // frame. A request that goes to a worker takes large_ with it (a move, no copy of the
  // payload), so a Twrite's payload is copied once, from the socket into the buffer that
  // pwrite(2) reads, and never zero-filled.
  // A large Twrite to a file that takes spliced data does not pass through user space at all:
  // NextFrame has said how large the frame is; its fixed part (kTwriteFixedSize bytes: the fid,
  // the offset, a count that must be the frame's size less those bytes) is in in_; its payload,
  // the rest of the frame, is exactly `count` bytes after it. Those bytes go socket -> pipe by
  // splice(2) (never beyond the frame: the next request stays in the socket for in_), and once
  // they are all in the pipe the frame is dispatched as its fixed part with a count of 0, which
  // the codec decodes as any Twrite (DecodeInto), with the pipe in Request::payload. The handler
  // moves the data pipe -> file by splice(2), as the fid's user, and answers the count written.
  // When that Twrite would be answered on this thread with nothing else of the connection in
  // flight (stream_ below), the data goes on into the file as it arrives, each piece as soon as
  // it is in the pipe, and the handler answers the count that went in: the copy into the page
  // cache then overlaps the client's sending instead of following it. The Rwrite still leaves
  // only once the whole frame has arrived and every byte is in the file. A client that goes away
  // in the middle of such a payload leaves the bytes that arrived in the file, unanswered, as a
  // connection lost just before its Rwrite leaves them all; otherwise nothing reaches the file
  // before the whole frame has arrived, as with a buffered frame.
  FrameBytes in_;  // bytes read, not yet dispatched
  size_t in_len_ = 0;
  FrameBytes large_;                   // the large frame being read; large_.size() is its length
  size_t large_len_ = 0;               // bytes of it read so far
  FrameBytes* owned_frame_ = nullptr;  // Dispatch: the frame's own buffer, which a job may take
  FrameBytes spare_large_;             // a large frame buffer given back, reused for the next (out_mu_)
  bool splicing_ = false;              // a Twrite's payload is being spliced into spliced_
  std::array<uint8_t, kTwriteFixedSize> spliced_head_{};  // that Twrite's fixed part as received
  SplicedPayload spliced_;
  SplicedPayload* payload_ = nullptr;  // Dispatch: the spliced payload of the Twrite dispatched
  // A spliced payload that goes into its file while it arrives (StreamSplicedPayload), so that
  // the copy into the page cache overlaps the client's sending instead of following it. Only for
  // a Twrite that would be answered on this thread anyway with nothing else in flight: no request
  // of this connection can come before it or touch its fid until it is answered (the next frame
  // is still in the socket), so the order of effects is the order of requests, as with a buffered
  // frame. The first piece goes in once bytes have come from the socket by splice (so the socket
  // can splice, and no fallback to a buffer is needed after data reached the file).
  bool stream_ = false;          // BeginSplicedWrite chose to stream this payload
  bool stream_started_ = false;  // bytes of it may be in the file
  FidRef stream_fid_;
  std::shared_ptr<OpenFile> stream_open_;
  uint64_t stream_offset_ = 0;  // the Twrite's offset
  // Twrite payloads may be spliced from rfd_ (a socket); set in the constructor, cleared when
  // this socket cannot splice or a pipe filled before a payload was whole.
  bool splice_from_peer_ = false;
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
  ReplyQueue out_;
  // Written replies' buffers, for ReplyBuffer: at most kSpareReplies of at most
  // kSpareReplyCapacity bytes each.
  std::vector<std::vector<uint8_t>> spare_replies_;
  static constexpr size_t kSpareReplies = 16;
  static constexpr size_t kSpareReplyCapacity = 64 * 1024;
  size_t out_offset_ = 0;  // bytes of out_.front() already written
  size_t out_bytes_ = 0;
  // Bytes that requests handed to workers hold or may still add to out_: the frame's copy plus
  // the largest reply it can make (a whole count for Tread/Treaddir).
  size_t reserved_bytes_ = 0;
  // Back-pressure: replies queued and reserved reach max_queued_reply_bytes. Until then the
  // connection takes no further request (it stops dispatching, then stops reading).
  bool OverBudgetLocked() const { return out_bytes_ + reserved_bytes_ >= s_.options.max_queued_reply_bytes; }
  TagsInFlight in_flight_;
  WireContext trace_wire_;
  std::vector<std::unique_ptr<WorkerJob>> free_jobs_;  // under out_mu_
  // Rread data may be spliced to wfd_ (a socket); set once in the constructor.
  bool splice_to_peer_ = false;
  // The largest reply wfd_'s send buffer holds kRepliesInSendBuffer of (FitSendBufferLocked):
  // 0 until the first large reply, SIZE_MAX when wfd_ is not a unix socket or the kernel would
  // not grow its buffer further. Under out_mu_.
  size_t send_buffer_fits_ = 0;
  // Splice pipes not in use (empty), and how many exist (in use or free), under out_mu_.
  std::vector<SplicePipe> free_pipes_;
  size_t pipes_ = 0;

  // The session's fids, and its generation: the one session counter (fid_table.h), which the
  // fid lookups and CompleteLocked both compare.
  FidTable fids_;
};

}  // namespace p9x::server
