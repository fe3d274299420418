// SPDX-License-Identifier: MIT
#include "server/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "codec/dirent.h"
#include "codec/frame.h"
#include "codec/text.h"
#include "server/credentials.h"
#include "server/fs_identity.h"
#include "server/host_fs.h"

namespace p9x::server {
namespace {

// ---- small utilities ----

void Log(int level, int wanted, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void Log(int level, int wanted, const char* fmt, ...) {
  if (level > wanted) return;
  va_list args;
  va_start(args, fmt);
  std::fputs("p9xd: ", stderr);
  std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
}

// The table's fid rules (spec/messages.json "fids"), checked before any handler runs.
// existing: must name a live fid; new: must not be in use; new_or_same: new, or equal to fid.
#define P9X_FIDCHECK_existing(field) \
  if (!has(msg.field)) return Errno::kEBADF;
#define P9X_FIDCHECK_new(field) \
  if (msg.field == kNoFid || has(msg.field)) return Errno::kEBADF;
#define P9X_FIDCHECK_new_or_same(field) \
  if (msg.field == kNoFid || (msg.field != msg.fid && has(msg.field))) return Errno::kEBADF;
#define P9X_FID_ROLE(field, role) P9X_FIDCHECK_##role(field)
#define P9X_FID_CHECK_FN(Name, number)                    \
  template <class Has>                                    \
  Errno CheckFidRoles(const Name& msg, Has&& has) {       \
    (void)msg;                                            \
    (void)has;                                            \
    P9X_FID_ROLES_##Name(P9X_FID_ROLE) return Errno::kOk; \
  }
P9X_MESSAGE_LIST(P9X_FID_CHECK_FN)
#undef P9X_FID_CHECK_FN
#undef P9X_FID_ROLE


class WorkerPool {
 public:
  explicit WorkerPool(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() { Stop(); }
  void Post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// ---- fids ----

struct Fid {
  // Guards node, open and kind (Tlopen, Tlcreate and Txattrcreate change them while other
  // requests on the same fid may run on other threads), the xattr state and the readdir
  // position. Handlers that do not hold it read node/open/kind through the snapshots below; the
  // OpenFile is shared so that a snapshot keeps it alive for the whole request.
  std::mutex mu;
  NodeRef node;
  std::shared_ptr<OpenFile> open;
  enum class Kind : uint8_t { kNode, kXattrRead, kXattrWrite } kind = Kind::kNode;

  NodeRef Node() {
    std::lock_guard lock(mu);
    return node;
  }
  // The open file of a plain node fid, or null (not open, or an xattr fid).
  std::shared_ptr<OpenFile> OpenNode() {
    std::lock_guard lock(mu);
    return kind == Kind::kNode ? open : nullptr;
  }
  Kind GetKind() {
    std::lock_guard lock(mu);
    return kind;
  }
  std::vector<uint8_t> xattr;  // kXattrRead: the value; kXattrWrite: bytes written so far
  std::string xattr_name;
  uint64_t xattr_size = 0;
  uint32_t xattr_flags = 0;
  // Whose requests these are: set by Tattach, inherited by every fid walked or made from it.
  CredentialsRef user;
};
using FidRef = std::shared_ptr<Fid>;

uint32_t QidVersion(const struct stat& st) {
  // Changes whenever the contents or size change; never 0 for regular files, because Linux
  // treats qid.version 0 as "synthetic file, no page cache" (fs/9p/fid.h).
  const uint64_t ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                      static_cast<uint64_t>(st.st_mtim.tv_nsec);
  uint32_t v = static_cast<uint32_t>(ns ^ (ns >> 32) ^ static_cast<uint64_t>(st.st_size) * 0x9E3779B1u);
  if (v == 0 && !S_ISDIR(st.st_mode)) v = 1;
  return v;
}

uint8_t QidType(mode_t mode) {
  if (S_ISDIR(mode)) return kQtDir;
  if (S_ISLNK(mode)) return kQtSymlink;
  return kQtFile;
}

uint8_t DirentType(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return kDtDir;
    case S_IFREG: return kDtReg;
    case S_IFLNK: return kDtLnk;
    case S_IFCHR: return kDtChr;
    case S_IFBLK: return kDtBlk;
    case S_IFIFO: return kDtFifo;
    case S_IFSOCK: return kDtSock;
    default: return kDtUnknown;
  }
}

struct Request {
  uint16_t tag;
  WireContext wire;
  uint64_t generation;
};

using Reply = Result<std::vector<uint8_t>>;

}  // namespace

// The connection's read buffer: its size at first, and the most it keeps between large frames.
constexpr size_t kInitialReadBuffer = 8 * 1024;
constexpr size_t kKeptReadBuffer = 64 * 1024;
// A reply buffer sized for a whole count (Rread, Rreaddir) that came back shorter gives back the
// rest when more than this is unused: back-pressure counts a queued reply's size, so a short
// reply must not hold the memory of a full one (a client that never reads its Rreads at end of
// file would otherwise pin count bytes per 11-byte reply).
constexpr size_t kMaxUnusedReplyBytes = 4096;

// ---- the server's shared state ----

struct Server::Impl {
  ServerOptions options;
  std::shared_ptr<Backend> fs;
  std::unique_ptr<QidMapper> qids;
  std::unique_ptr<WorkerPool> pool;
  bool running_as_root = false;
  UserDatabase users;           // attach-time resolution of kPerUser names and numbers
  CredentialsRef self_user;     // kSelf: the server's own credentials (never switched to)
  CredentialsRef squash_user;   // kSquash, and root under root_squash
  std::atomic<bool> stopping{false};
  std::mutex connections_mu;
  std::list<std::function<void()>> stoppers;  // wakes each live connection on Shutdown
  std::vector<std::thread> connection_threads;

  Result<Qid> MakeQid(const struct stat& st, Dialect dialect) {
    return MakeQid(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), st.st_mode,
                   QidVersion(st), dialect);
  }
  // The qid of (dev, ino): the one place a file's identity becomes a qid path (spec/qid-map.md).
  Result<Qid> MakeQid(uint64_t dev, uint64_t ino, mode_t mode, uint32_t version, Dialect dialect) {
    Qid q;
    q.type = QidType(mode);
    q.version = version;
    if (dialect == Dialect::kXqid) {
      auto p = qids->ExtendedPath(dev, ino);
      if (!p) return Unexpected(p.error());
      q.path = p->path;
      q.path_hi = p->path_hi;
    } else {
      auto p = qids->LegacyPath(dev, ino);
      if (!p) return Unexpected(p.error());
      q.path = *p;
    }
    return q;
  }
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& server, int rfd, int wfd, std::string peer)
      : s_(server), rfd_(rfd), wfd_(wfd), peer_(std::move(peer)) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Connection() {
    if (wake_fd_ >= 0) close(wake_fd_);
    if (rfd_ >= 0) close(rfd_);
    if (wfd_ >= 0 && wfd_ != rfd_) close(wfd_);
  }

  void Run();
  void Stop() {
    stop_.store(true);
    Wake();
  }

 private:
  // ---- I/O ----
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }
  bool ReadSome();
  bool WriteSome();
  void ProcessFrames();
  void Dispatch(std::span<const uint8_t> frame, std::vector<uint8_t>* owned);
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
  void OnRequest(std::span<const uint8_t> frame, std::vector<uint8_t>* owned);

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

  // ---- fids ----
  // The table belongs to one session: fid_generation_ moves with generation_ (once per
  // Tversion), and handlers pass their Request::generation. A worker still running a request of
  // a session that a Tversion ended finds no fid and can add or take none (version(5): "all
  // active fids are freed"; without this, an old Txattrwalk could add its newfid to the new
  // session, or an old Tremove take a new fid of the same number).
  FidRef GetFid(uint32_t fid, uint64_t generation) {
    std::lock_guard lock(fids_mu_);
    if (generation != fid_generation_) return nullptr;
    auto it = fids_.find(fid);
    return it == fids_.end() ? nullptr : it->second;
  }
  bool HasFid(uint32_t fid) {  // on the connection thread: the current session
    std::lock_guard lock(fids_mu_);
    return fids_.count(fid) != 0;
  }
  Result<void> PutFid(uint32_t fid, FidRef f, uint64_t generation) {
    std::lock_guard lock(fids_mu_);
    if (generation != fid_generation_) return Unexpected(Errno::kEBADF);
    if (fids_.size() >= s_.options.max_fids_per_connection && !fids_.count(fid)) {
      return Unexpected(Errno::kEMFILE);
    }
    fids_[fid] = std::move(f);
    return {};
  }
  FidRef TakeFid(uint32_t fid, uint64_t generation) {
    std::lock_guard lock(fids_mu_);
    if (generation != fid_generation_) return nullptr;
    auto it = fids_.find(fid);
    if (it == fids_.end()) return nullptr;
    FidRef f = std::move(it->second);
    fids_.erase(it);
    return f;
  }
  bool IdentityActive() const {
    return s_.running_as_root && s_.options.identity != IdentityMode::kSelf;
  }
  // Puts the calling thread in the credentials of `f`'s user (credentials.h) before a handler
  // acts on the host: every handler that touches the host calls it, through P9X_ACT_AS.
  Result<void> ActAs(const Fid& f) {
    if (!IdentityActive()) return {};
    return SwitchThreadCredentials(*f.user);
  }
  // A request naming two fids acts for one user: both must belong to the same one (a fid of
  // another user is a handle the requester could not have walked to on the host).
  static bool SameUser(const Fid& a, const Fid& b) { return a.user == b.user || *a.user == *b.user; }
  Result<CredentialsRef> AttachingUser(const Tattach& m);
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
  int wake_fd_ = -1;
  std::string peer_;
  std::atomic<bool> stop_{false};

  // Connection-thread state.
  negotiation::Session session_;
  std::vector<uint8_t> in_;  // bytes read, not yet dispatched
  size_t in_len_ = 0;
  bool read_eof_ = false;
  bool fatal_ = false;  // framing lost: close after flushing what is queued
  bool frames_left_ = false;  // ProcessFrames stopped at the budget with whole frames unread
  bool more_input_ = false;  // ProcessFrames: bytes follow the frame being dispatched

  // Shared with workers, under out_mu_.
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
  uint64_t generation_ = 0;
  WireContext trace_wire_;

  std::mutex fids_mu_;
  std::unordered_map<uint32_t, FidRef> fids_;
  uint64_t fid_generation_ = 0;  // see GetFid
};

// ---- I/O loop ----

void Connection::Run() {
  fcntl(rfd_, F_SETFL, fcntl(rfd_, F_GETFL) | O_NONBLOCK);
  if (wfd_ != rfd_) fcntl(wfd_, F_SETFL, fcntl(wfd_, F_GETFL) | O_NONBLOCK);
  // Small until a client sends large frames: an idle connection must stay cheap (at most
  // 64 KiB per idle connection), and the buffer grows to a frame's size when one needs it.
  in_.resize(kInitialReadBuffer);
  while (!stop_.load()) {
    bool want_write, want_read, over_budget;
    {
      std::lock_guard lock(out_mu_);
      want_write = !out_.empty();
      // Back-pressure: stop reading while this client has too many reply bytes queued or coming.
      over_budget = OverBudgetLocked();
      want_read = !read_eof_ && !fatal_ && !over_budget;
      if (!want_write && (fatal_ || (read_eof_ && in_flight_.empty() && !frames_left_))) break;
    }
    if (frames_left_ && !over_budget && !fatal_) {
      // Room again for the whole frames that were waiting in the read buffer.
      ProcessFrames();
      continue;
    }
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    int read_index = -1, write_index = -1;
    if (rfd_ == wfd_) {
      short ev = static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
      read_index = write_index = static_cast<int>(n);
      fds[n++] = {rfd_, ev, 0};
    } else {
      read_index = static_cast<int>(n);
      fds[n++] = {rfd_, static_cast<short>(want_read ? POLLIN : 0), 0};
      write_index = static_cast<int>(n);
      fds[n++] = {wfd_, static_cast<short>(want_write ? POLLOUT : 0), 0};
    }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
    }
    if (fds[write_index].revents & (POLLOUT | POLLERR | POLLHUP)) {
      if (!WriteSome()) break;
    }
    if (want_read && (fds[read_index].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!ReadSome()) read_eof_ = true;
      ProcessFrames();
      // Replies answered inline go out now: a socket with room in its buffer is writable, and
      // waiting for poll to say so costs a poll per request (bench/PROFILE.md P6). On EAGAIN
      // the loop polls for POLLOUT as before.
      bool queued;
      {
        std::lock_guard lock(out_mu_);
        queued = !out_.empty();
      }
      if (queued && !WriteSome()) break;
    }
  }
  // Abandon what is left: workers still holding this connection finish and drop their replies.
  {
    std::lock_guard lock(out_mu_);
    ++generation_;
    in_flight_.clear();
    out_.clear();
    out_bytes_ = 0;
  }
  std::lock_guard lock(fids_mu_);
  fids_.clear();
  ++fid_generation_;
}

bool Connection::ReadSome() {
  for (;;) {
    if (in_len_ == in_.size()) return true;  // full: ProcessFrames makes room or grows it
    const size_t room = in_.size() - in_len_;
    ssize_t r = read(rfd_, in_.data() + in_len_, room);
    if (r > 0) {
      in_len_ += static_cast<size_t>(r);
      // Less than asked: the socket or pipe had no more. Going on would cost a read that
      // returns EAGAIN on every request (bench/PROFILE.md P6); poll says when more arrives.
      if (static_cast<size_t>(r) < room) return true;
      continue;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

bool Connection::WriteSome() {
  std::unique_lock lock(out_mu_);
  while (!out_.empty()) {
    iovec iov[64];
    int count = 0;
    size_t offset = out_offset_;
    for (auto it = out_.begin(); it != out_.end() && count < 64; ++it) {
      iov[count].iov_base = it->data() + offset;
      iov[count].iov_len = it->size() - offset;
      offset = 0;
      ++count;
    }
    ssize_t w = writev(wfd_, iov, count);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    size_t left = static_cast<size_t>(w);
    out_bytes_ -= left;
    while (left > 0) {
      size_t rest = out_.front().size() - out_offset_;
      if (left >= rest) {
        left -= rest;
        out_.pop_front();
        out_offset_ = 0;
      } else {
        out_offset_ += left;
        left = 0;
      }
    }
  }
  return true;
}

void Connection::Trace(const char* dir, std::span<const uint8_t> bytes, const WireContext& wire) {
  if (!s_.options.trace) return;
  std::string line = BytesToText(bytes, wire);
  std::fprintf(stderr, "p9xd: %s %s %s\n", peer_.c_str(), dir, line.c_str());
}

void Connection::QueueLocked(std::vector<uint8_t> bytes) {
  if (s_.options.trace) Trace("->", bytes, trace_wire_);
  out_bytes_ += bytes.size();
  out_.push_back(std::move(bytes));
}

void Connection::CompleteLocked(uint16_t tag, uint64_t generation, std::vector<uint8_t>* bytes) {
  if (generation != generation_) return;  // a Tversion aborted this request
  QueueLocked(std::move(*bytes));
  auto it = in_flight_.find(tag);
  if (it == in_flight_.end()) return;
  std::vector<uint16_t> flushers = std::move(it->second);
  in_flight_.erase(it);
  for (uint16_t flush_tag : flushers) {
    std::vector<uint8_t> rflush(kHeaderSize);
    (void)Encode(flush_tag, Rflush{}, WireContext{}, rflush);
    CompleteLocked(flush_tag, generation, &rflush);
  }
}

void Connection::Complete(uint16_t tag, uint64_t generation, std::vector<uint8_t> bytes, bool wake, size_t release) {
  {
    std::lock_guard lock(out_mu_);
    reserved_bytes_ -= release;
    CompleteLocked(tag, generation, &bytes);
  }
  if (wake) Wake();
}

void Connection::ProcessFrames() {
  size_t pos = 0;
  frames_left_ = false;
  while (!fatal_ && in_len_ - pos >= 4) {
    {
      std::lock_guard lock(out_mu_);
      if (OverBudgetLocked()) {
        frames_left_ = true;
        break;
      }
    }
    const WireContext wire = session_.wire();
    const uint8_t* p = in_.data() + pos;
    auto next = NextFrame(std::span<const uint8_t>(p, in_len_ - pos), wire);
    if (!next) {
      // Framing is lost: answer once if the tag is readable, then close this connection only.
      Log(1, s_.options.log_level, "%s: closing: %s", peer_.c_str(), next.error().Describe().c_str());
      if (in_len_ - pos >= kHeaderSize) {
        uint16_t tag = static_cast<uint16_t>(p[5] | p[6] << 8);
        std::lock_guard lock(out_mu_);
        QueueLocked(ErrorFrame(tag, Errno::kEMSGSIZE));
      }
      fatal_ = true;
      break;
    }
    if (next->frame.empty()) {
      if (next->needed > in_.size()) {
        // A frame larger than the buffer: grow to exactly the frame (bounded by msize).
        std::memmove(in_.data(), p, in_len_ - pos);
        in_len_ -= pos;
        pos = 0;
        in_.resize(next->needed);
      }
      break;
    }
    const std::span<const uint8_t> frame = next->frame;
    more_input_ = in_len_ - pos > frame.size();
    Dispatch(frame, nullptr);
    pos += frame.size();
  }
  if (pos > 0) {
    std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
    in_len_ -= pos;
  }
  if (in_len_ == 0 && in_.size() > kKeptReadBuffer) {
    in_.resize(kKeptReadBuffer);
    in_.shrink_to_fit();
  }
}

// The dispatch table: one entry per type byte, built from the message table.
using FrameHandler = void (Connection::*)(std::span<const uint8_t>, std::vector<uint8_t>*);

void Connection::Dispatch(std::span<const uint8_t> frame, std::vector<uint8_t>* owned) {
  static const auto kTable = [] {
    std::array<FrameHandler, 256> t{};
#define P9X_SERVER_DISPATCH(Name, number) t[number] = &Connection::OnRequest<Name>;
    P9X_MESSAGE_LIST(P9X_SERVER_DISPATCH)
#undef P9X_SERVER_DISPATCH
    return t;
  }();
  const WireContext wire = session_.wire();
  if (s_.options.trace) Trace("<-", frame, wire);
  const uint8_t type = frame[4];
  const uint16_t tag = static_cast<uint16_t>(frame[5] | frame[6] << 8);
  FrameHandler h = kTable[type];
  if (h == nullptr) {
    // Not a 9P2000.L message (e.g. 9P2000's Topen): spec/9p2000.L.md §5.
    std::lock_guard lock(out_mu_);
    QueueLocked(ErrorFrame(tag, Errno::kEOPNOTSUPP));
    return;
  }
  (this->*h)(frame, owned);
}

template <class M>
void Connection::OnRequest(std::span<const uint8_t> frame, std::vector<uint8_t>* owned) {
  const uint16_t tag = static_cast<uint16_t>(frame[5] | frame[6] << 8);
  auto reply_now = [&](std::vector<uint8_t> bytes) {
    std::lock_guard lock(out_mu_);
    QueueLocked(std::move(bytes));
  };
  if constexpr (M::kName[0] == 'R') {
    // A reply sent to the server.
    reply_now(ErrorFrame(tag, Errno::kEOPNOTSUPP));
    return;
  } else {
    M msg{};
    if (auto decoded = DecodeInto(frame, session_.wire(), &msg); !decoded) {
      Log(2, s_.options.log_level, "%s: bad %s: %s", peer_.c_str(), std::string(M::kName).c_str(),
          decoded.error().Describe().c_str());
      reply_now(ErrorFrame(tag, Errno::kEINVAL));
      return;
    }
    if constexpr (std::is_same_v<M, Tversion>) {
      HandleVersion(msg, tag);
      return;
    } else {
      if (!session_.negotiated()) {
        reply_now(ErrorFrame(tag, Errno::kEPROTO));
        return;
      }
      uint64_t generation;
      bool alone = false;
      {
        std::lock_guard lock(out_mu_);
        if (in_flight_.count(tag)) {
          // flush(5) and intro(5): a tag names one outstanding request. Reusing one in flight
          // makes every later reply ambiguous, so the connection is closed.
          Log(1, s_.options.log_level, "%s: closing: tag %u reused while in flight", peer_.c_str(), tag);
          fatal_ = true;
          return;
        }
        in_flight_.emplace(tag, std::vector<uint16_t>{});
        generation = generation_;
        alone = in_flight_.size() == 1 && !more_input_;
      }
      if constexpr (std::is_same_v<M, Tflush>) {
        HandleFlush(msg, tag);
        return;
      } else {
        const Request req{tag, session_.wire(), generation};
        if (Errno e = CheckFidRoles(msg, [&](uint32_t f) { return HasFid(f); }); e != Errno::kOk) {
          Complete(tag, generation, ErrorFrame(tag, e), false);
          return;
        }
        if (M::kMutates && s_.options.read_only) {
          Complete(tag, generation, ErrorFrame(tag, Errno::kEROFS), false);
          return;
        }
        if constexpr (M::kRunsOnWorker) {
          if (CanAnswerInline(msg, generation, alone)) {
            Reply r = Handle(msg, req);
            Complete(tag, generation, r ? std::move(*r) : ErrorFrame(tag, r.error()), false);
            return;
          }
          // Move the frame's bytes to the job; the decoded message's views stay valid because
          // a moved vector keeps its heap buffer.
          // The job owns a copy of the frame (or the frame's own buffer) and decodes it again
          // there, so no view outlives the bytes it points into.
          auto bytes = std::make_shared<std::vector<uint8_t>>(
              owned ? std::move(*owned) : std::vector<uint8_t>(frame.begin(), frame.end()));
          size_t reserve = bytes->size() + kHeaderSize + 4;
          if constexpr (M::kReservesCount) {
            reserve += std::min(msg.count, req.wire.msize - kRreadHeaderSize);
          }
          {
            std::lock_guard lock(out_mu_);
            reserved_bytes_ += reserve;
          }
          s_.pool->Post([self = shared_from_this(), req, bytes, reserve] {
            M job_msg{};
            (void)DecodeInto(std::span<const uint8_t>(*bytes), req.wire, &job_msg);
            Reply r = self->Handle(job_msg, req);
            self->Complete(req.tag, req.generation, r ? std::move(*r) : ErrorFrame(req.tag, r.error()), true,
                           reserve);
          });
        } else {
          Reply r = Handle(msg, req);
          Complete(tag, generation, r ? std::move(*r) : ErrorFrame(tag, r.error()), false);
        }
      }
    }
  }
}

template <class M>
bool Connection::CanAnswerInline(const M& msg, uint64_t generation, bool alone) {
  if (!alone) return false;
  if constexpr (std::is_same_v<M, Tread> || std::is_same_v<M, Twrite>) {
    FidRef f = GetFid(msg.fid, generation);
    if (!f) return true;  // answered EBADF at once
    std::lock_guard lock(f->mu);
    return f->kind != Fid::Kind::kNode || (f->node && f->node->type() == S_IFREG);
  }
  return true;
}

void Connection::HandleVersion(const Tversion& m, uint16_t tag) {
  // version(5): "A successful version request initializes the connection. All outstanding I/O
  // on the connection is aborted; all active fids are freed." p9x applies it to every Tversion.
  negotiation::TversionAnswer answer = negotiation::AnswerTversion(s_.options.policy, m.msize, m.version);
  session_.OnTversion(answer);
  {
    std::lock_guard lock(fids_mu_);
    fids_.clear();
    ++fid_generation_;  // with generation_ below
  }
  std::lock_guard lock(out_mu_);
  ++generation_;
  in_flight_.clear();
  trace_wire_ = session_.wire();
  if (answer.kind == negotiation::TversionAnswer::Kind::kReject) {
    Log(2, s_.options.log_level, "%s: Tversion refused: %s", peer_.c_str(), answer.reason.c_str());
    QueueLocked(ErrorFrame(tag, answer.error));
    return;
  }
  Rversion r{answer.msize, answer.version};
  std::vector<uint8_t> out(EncodedSize(r, Dialect::kLegacy));
  (void)Encode(tag, r, WireContext{}, out);
  QueueLocked(std::move(out));
  Log(2, s_.options.log_level, "%s: session %s msize %u", peer_.c_str(), answer.version.c_str(), answer.msize);
}

void Connection::HandleFlush(const Tflush& m, uint16_t tag) {
  // flush(5): answered once oldtag is answered or abandoned; its reply (if any) goes first.
  std::lock_guard lock(out_mu_);
  auto it = in_flight_.find(m.oldtag);
  if (it != in_flight_.end() && m.oldtag != tag) {
    it->second.push_back(tag);
    return;
  }
  std::vector<uint8_t> rflush(kHeaderSize);
  (void)Encode(tag, Rflush{}, WireContext{}, rflush);
  CompleteLocked(tag, generation_, &rflush);
}

// ---- handlers ----

// The fid rules were checked when the request arrived, but a concurrent Tclunk on a worker
// thread may have released the fid since: look it up again and answer EBADF if it is gone.
#define P9X_FID(var, id)                 \
  FidRef var = GetFid(id, req.generation); \
  if (!var) return Unexpected(Errno::kEBADF)

// The rest of the handler acts on the host with the credentials of fid `f`'s user.
#define P9X_ACT_AS(f) \
  if (auto switched = ActAs(*(f)); !switched) return Unexpected(switched.error())

// Both fids of a two-fid request belong to one user, whose credentials the handler then takes.
#define P9X_ACT_AS_BOTH(a, b)                                   \
  if (!SameUser(*(a), *(b))) return Unexpected(Errno::kEPERM); \
  P9X_ACT_AS(a)

Result<Qid> Connection::QidOf(const NodeRef& node, Dialect d, struct stat* st_out) {
  auto st = s_.fs->Stat(node);
  if (!st) return Unexpected(st.error());
  if (st_out) *st_out = *st;
  return s_.MakeQid(*st, d);
}

Result<CredentialsRef> Connection::AttachingUser(const Tattach& m) {
  switch (s_.options.identity) {
    case IdentityMode::kSelf:
      return s_.self_user;
    case IdentityMode::kSquash:
      return s_.squash_user;
    case IdentityMode::kPerUser:
      break;
  }
  auto user = s_.users.Lookup(m.uname, m.n_uname);
  if (!user) return Unexpected(user.error());
  // Root is root only when the export allows it (ServerOptions::root_squash).
  if ((*user)->uid == 0 && s_.options.root_squash) return s_.squash_user;
  return user;
}

Reply Connection::Handle(const Tattach& m, const Request& req) {
  if (m.afid != kNoFid) return Unexpected(Errno::kEINVAL);  // no authentication is configured
  auto f = std::make_shared<Fid>();
  auto user = AttachingUser(m);
  if (!user) return Unexpected(user.error());
  f->user = std::move(*user);
  // The walk to the attach point is the user's own: a directory the user cannot search on the
  // host is not a root the user can attach to.
  P9X_ACT_AS(f);
  f->node = s_.fs->root();
  // aname selects the export root: "", "/", or the exported path itself (diod's convention);
  // otherwise a path below the export, walked one name at a time.
  std::string_view aname = m.aname;
  const std::string& exported = s_.options.export_path;
  if (aname == exported) aname = "";
  while (!aname.empty()) {
    size_t slash = aname.find('/');
    std::string_view name = aname.substr(0, slash);
    aname = slash == std::string_view::npos ? std::string_view() : aname.substr(slash + 1);
    if (name.empty()) continue;
    if (name == "..") return Unexpected(Errno::kEACCES);
    auto next = s_.fs->Walk(f->node, name);
    if (!next) return Unexpected(next.error());
    f->node = *next;
  }
  if (!f->node->is_dir()) return Unexpected(Errno::kENOTDIR);
  auto q = QidOf(f->node, req.wire.dialect);
  if (!q) return Unexpected(q.error());
  if (auto put = PutFid(m.fid, f, req.generation); !put) return Unexpected(put.error());
  return Make(req, Rattach{*q});
}

Reply Connection::Handle(const Twalk& m, const Request& req) {
  P9X_FID(from, m.fid);
  NodeRef node;
  {
    std::lock_guard lock(from->mu);
    if (from->open || from->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
    node = from->node;
  }
  P9X_ACT_AS(from);
  Rwalk r;
  for (uint16_t i = 0; i < m.wnames.count; ++i) {
    std::string_view name = m.wnames.names[i];
    if (name.empty() || name == "." || name.find('/') != std::string_view::npos) {
      if (i == 0) return Unexpected(Errno::kEINVAL);
      break;
    }
    if (!node->is_dir()) {
      if (i == 0) return Unexpected(Errno::kENOTDIR);
      break;
    }
    auto next = s_.fs->Walk(node, name);
    if (!next) {
      // walk(5): "If the first element cannot be walked for any reason, Rerror is returned."
      if (i == 0) return Unexpected(next.error());
      break;
    }
    auto q = QidOf(*next, req.wire.dialect);
    if (!q) {
      if (i == 0) return Unexpected(q.error());
      break;
    }
    r.wqids.qids[r.wqids.count++] = *q;
    node = *next;
  }
  // walk(5): newfid is affected only if the whole walk succeeds.
  if (r.wqids.count == m.wnames.count) {
    auto f = std::make_shared<Fid>();
    f->node = node;
    f->user = from->user;
    if (auto put = PutFid(m.newfid, f, req.generation); !put) return Unexpected(put.error());
  }
  return Make(req, r);
}

Reply Connection::Handle(const Tlopen& m, const Request& req) {
  P9X_FID(f, m.fid);
  std::lock_guard lock(f->mu);
  if (f->open || f->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  auto open = s_.fs->OpenNode(f->node, m.flags);
  if (!open) return Unexpected(open.error());
  auto q = QidOf(f->node, req.wire.dialect);
  if (!q) return Unexpected(q.error());
  f->open = std::move(*open);
  return Make(req, Rlopen{*q, Iounit(req)});
}

Reply Connection::Handle(const Tlcreate& m, const Request& req) {
  P9X_FID(f, m.fid);
  std::lock_guard lock(f->mu);
  if (f->open || f->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
  if (!f->node->is_dir()) return Unexpected(Errno::kENOTDIR);
  P9X_ACT_AS(f);
  auto created = s_.fs->Create(f->node, m.name, m.flags, m.mode, m.gid);
  if (!created) return Unexpected(created.error());
  auto q = QidOf(created->first, req.wire.dialect);
  // spec/qid-map.md §5.1: a file the client is told was not created is not left behind. Only
  // with O_EXCL is it certain that this request made it (without, an existing file is opened).
  if (!q) return UndoCreate(created->first, q.error(), (m.flags & kOpenExcl) != 0);
  f->node = std::move(created->first);
  f->open = std::move(created->second);
  return Make(req, Rlcreate{*q, Iounit(req)});
}

Reply Connection::Handle(const Tread& m, const Request& req) {
  P9X_FID(f, m.fid);
  // The count is clamped so that the reply fits msize (spec/9p2000.L.md §4).
  const uint32_t count = std::min(m.count, req.wire.msize - kRreadHeaderSize);
  if (f->GetKind() == Fid::Kind::kXattrRead) {
    std::lock_guard lock(f->mu);
    const uint64_t size = f->xattr.size();
    const uint64_t start = std::min<uint64_t>(m.offset, size);
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(count, size - start));
    return Make(req, Rread{Bytes{std::span<const uint8_t>(f->xattr).subspan(start, n)}});
  }
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  // Read straight into the reply buffer, after its 11-byte header.
  std::vector<uint8_t> out(kRreadHeaderSize + count);
  auto got = open->Read(std::span<uint8_t>(out).subspan(kRreadHeaderSize), m.offset);
  if (!got) return Unexpected(got.error());
  const size_t n = *got;
  out.resize(kRreadHeaderSize + static_cast<size_t>(n));
  if (out.capacity() - out.size() > kMaxUnusedReplyBytes) out.shrink_to_fit();
  EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize>(out.data(), kRreadHeaderSize), MsgType::kRread,
                           req.tag, static_cast<uint32_t>(n));
  return out;
}

Reply Connection::Handle(const Twrite& m, const Request& req) {
  P9X_FID(f, m.fid);
  if (f->GetKind() == Fid::Kind::kXattrWrite) {
    std::lock_guard lock(f->mu);
    // The value arrives in order; Tclunk sets it (spec/9p2000.L.md Txattrcreate).
    if (m.offset != f->xattr.size() || f->xattr.size() + m.data.bytes.size() > f->xattr_size) {
      return Unexpected(Errno::kEINVAL);
    }
    f->xattr.insert(f->xattr.end(), m.data.bytes.begin(), m.data.bytes.end());
    return Make(req, Rwrite{static_cast<uint32_t>(m.data.bytes.size())});
  }
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  auto n = open->Write(m.data.bytes, m.offset);
  if (!n) return Unexpected(n.error());
  return Make(req, Rwrite{static_cast<uint32_t>(*n)});
}

Reply Connection::Handle(const Tclunk& m, const Request& req) {
  // clunk(5): the fid is released whatever the reply.
  FidRef f = TakeFid(m.fid, req.generation);
  if (!f) return Unexpected(Errno::kEBADF);
  std::lock_guard lock(f->mu);
  if (f->kind == Fid::Kind::kXattrWrite) {
    P9X_ACT_AS(f);
    if (f->xattr.size() != f->xattr_size) return Unexpected(Errno::kEINVAL);
    // attr_size 0 removes the attribute, whatever the flags: Linux's removexattr sends
    // Txattrcreate{size 0, XATTR_REPLACE}, and QEMU removes on any empty value the same way.
    const bool remove = f->xattr_size == 0;
    if (auto set = s_.fs->SetXattr(f->node, f->xattr_name, f->xattr, f->xattr_flags, remove); !set) {
      return Unexpected(set.error());
    }
  }
  return Make(req, Rclunk{});
}

Reply Connection::Handle(const Tremove& m, const Request& req) {
  // remove(5): "the fid is clunked even if the remove fails".
  FidRef f = TakeFid(m.fid, req.generation);
  if (!f) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (auto removed = s_.fs->Remove(f->Node()); !removed) return Unexpected(removed.error());
  return Make(req, Rremove{});
}

Reply Connection::Handle(const Tstatfs& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  auto st = s_.fs->Statfs(f->Node());
  if (!st) return Unexpected(st.error());
  // spec/qid-map.md §6: the fsid is derived per export from the filesystem's identity, as path_hi
  // is; the host's f_fsid (from the UUID or the block device) never goes on the wire.
  auto node_st = s_.fs->Stat(f->Node());
  if (!node_st) return Unexpected(node_st.error());
  auto fsid = s_.qids->FilesystemId(static_cast<uint64_t>(node_st->st_dev));
  if (!fsid) return Unexpected(fsid.error());
  return Make(req, Rstatfs{st->type, st->bsize, st->blocks, st->bfree, st->bavail, st->files, st->ffree,
                           *fsid, st->namelen});
}

Reply Connection::Handle(const Tsymlink& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  auto node = s_.fs->Symlink(f->Node(), m.name, m.symtgt, m.gid);
  if (!node) return Unexpected(node.error());
  auto q = QidOf(*node, req.wire.dialect);
  if (!q) return UndoCreate(*node, q.error(), true);  // spec/qid-map.md §5.1
  return Make(req, Rsymlink{*q});
}

Reply Connection::Handle(const Tmknod& m, const Request& req) {
  P9X_FID(f, m.dfid);
  P9X_ACT_AS(f);
  auto node = s_.fs->Mknod(f->Node(), m.name, m.mode, m.major, m.minor, m.gid);
  if (!node) return Unexpected(node.error());
  auto q = QidOf(*node, req.wire.dialect);
  if (!q) return UndoCreate(*node, q.error(), true);  // spec/qid-map.md §5.1
  return Make(req, Rmknod{*q});
}

Reply Connection::Handle(const Trename& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_FID(d, m.dfid);
  P9X_ACT_AS_BOTH(f, d);
  if (auto r = s_.fs->Rename(f->Node(), d->Node(), m.name); !r) return Unexpected(r.error());
  return Make(req, Rrename{});
}

Reply Connection::Handle(const Treadlink& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  auto target = s_.fs->Readlink(f->Node());
  if (!target) return Unexpected(target.error());
  return Make(req, Rreadlink{*target});
}

Reply Connection::Handle(const Tgetattr& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  struct stat st;
  auto q = QidOf(f->Node(), req.wire.dialect, &st);
  if (!q) return Unexpected(q.error());
  Rgetattr r;
  r.valid = kGetattrBasic;
  r.qid = *q;
  r.mode = st.st_mode;
  r.uid = st.st_uid;
  r.gid = st.st_gid;
  r.nlink = st.st_nlink;
  r.rdev = st.st_rdev;
  r.size = static_cast<uint64_t>(st.st_size);
  r.blksize = static_cast<uint64_t>(st.st_blksize);
  r.blocks = static_cast<uint64_t>(st.st_blocks);
  r.atime_sec = static_cast<uint64_t>(st.st_atim.tv_sec);
  r.atime_nsec = static_cast<uint64_t>(st.st_atim.tv_nsec);
  r.mtime_sec = static_cast<uint64_t>(st.st_mtim.tv_sec);
  r.mtime_nsec = static_cast<uint64_t>(st.st_mtim.tv_nsec);
  r.ctime_sec = static_cast<uint64_t>(st.st_ctim.tv_sec);
  r.ctime_nsec = static_cast<uint64_t>(st.st_ctim.tv_nsec);
  return Make(req, r);
}

Reply Connection::Handle(const Tsetattr& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  Backend::SetattrArgs args{m.valid, m.mode, m.uid, m.gid, m.size, m.atime_sec, m.atime_nsec, m.mtime_sec, m.mtime_nsec};
  if (auto r = s_.fs->Setattr(f->Node(), args); !r) return Unexpected(r.error());
  return Make(req, Rsetattr{});
}

Reply Connection::Handle(const Txattrwalk& m, const Request& req) {
  P9X_FID(f, m.fid);
  P9X_ACT_AS(f);
  const NodeRef node = f->Node();
  auto value = s_.fs->GetXattr(node, m.name);
  if (!value) return Unexpected(value.error());
  auto x = std::make_shared<Fid>();
  x->node = node;
  x->user = f->user;
  x->kind = Fid::Kind::kXattrRead;
  x->xattr = std::move(*value);
  const uint64_t size = x->xattr.size();
  if (auto put = PutFid(m.newfid, std::move(x), req.generation); !put) return Unexpected(put.error());
  return Make(req, Rxattrwalk{size});
}

Reply Connection::Handle(const Txattrcreate& m, const Request& req) {
  P9X_FID(f, m.fid);
  std::lock_guard lock(f->mu);
  // QEMU and Linux turn any fid (open or not) into the attribute-writing fid.
  if (f->kind != Fid::Kind::kNode) return Unexpected(Errno::kEBADF);
  if (m.name.empty() || (m.flags & ~(kXattrCreate | kXattrReplace)) != 0) return Unexpected(Errno::kEINVAL);
  if (m.attr_size > 65536) return Unexpected(Errno::kE2BIG);  // Linux XATTR_SIZE_MAX
  f->kind = Fid::Kind::kXattrWrite;
  f->xattr_name = std::string(m.name);
  f->xattr_size = m.attr_size;
  f->xattr_flags = m.flags;
  f->xattr.clear();
  return Make(req, Rxattrcreate{});
}

Reply Connection::Handle(const Treaddir& m, const Request& req) {
  P9X_FID(f, m.fid);
  std::lock_guard lock(f->mu);
  if (!f->open || !f->node->is_dir()) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  const uint32_t count = std::min(m.count, req.wire.msize - kRreadHeaderSize);
  std::vector<uint8_t> out(kRreadHeaderSize + count);
  DirentWriter writer(std::span<uint8_t>(out).subspan(kRreadHeaderSize), req.wire.dialect);
  Errno failure = Errno::kOk;
  bool any = false, full = false;
  auto done = s_.fs->ReadDirPlus(f->node, *f->open, m.offset, [&](const DirEntryPlus& e) -> bool {
    // qid.version is 0 in a directory entry, as in QEMU's and diod's: the entry's identity is
    // its path (the Linux client takes only the path, as d_ino), and the version would need a
    // stat of every entry (spec/9p2000.L.md §8.16).
    auto q = s_.MakeQid(e.dev, e.ino, e.type, 0, req.wire.dialect);
    if (!q) {
      // spec/qid-map.md §5.2: under forbid (ENODEV) the entry is not offered. Any other failure
      // ends the reply before the entry, and fails the request if it is the first entry, so the
      // client never skips an entry silently: its next Treaddir starts at this one again.
      if (q.error() == Errno::kENODEV) return true;
      failure = q.error();
      return false;
    }
    if (!writer.Add(Dirent{*q, e.next_offset, DirentType(e.type), e.name})) {
      full = true;
      return false;
    }
    any = true;
    return true;
  });
  if (!done) return Unexpected(done.error());
  if (!any && failure != Errno::kOk) return Unexpected(failure);
  if (!any && full) return Unexpected(Errno::kEINVAL);  // count too small for one entry
  const uint32_t n = static_cast<uint32_t>(writer.size());
  out.resize(kRreadHeaderSize + n);
  if (out.capacity() - out.size() > kMaxUnusedReplyBytes) out.shrink_to_fit();
  EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize>(out.data(), kRreadHeaderSize),
                           MsgType::kRreaddir, req.tag, n);
  return out;
}

Reply Connection::Handle(const Tfsync& m, const Request& req) {
  P9X_FID(f, m.fid);
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (auto r = open->Sync(m.datasync != 0); !r) return Unexpected(r.error());
  return Make(req, Rfsync{});
}

Reply Connection::Handle(const Tlock& m, const Request& req) {
  P9X_FID(f, m.fid);
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (m.type > kLockTypeUnlck || (m.flags & ~(kLockFlagsBlock | kLockFlagsReclaim)) != 0) {
    return Unexpected(Errno::kEINVAL);
  }
  // Each fid's open file is one lock owner, as each open file is for the Linux client. A lock
  // that would block is answered BLOCKED at once (the Linux client retries), so no request ever
  // waits on a lock inside the server.
  auto set = open->SetLock(ByteRangeLock{m.type, m.start, m.length, m.proc_id});
  if (!set) return Unexpected(set.error());
  if (!*set) return Make(req, Rlock{kLockBlocked});
  return Make(req, Rlock{kLockSuccess});
}

Reply Connection::Handle(const Tgetlock& m, const Request& req) {
  P9X_FID(f, m.fid);
  const std::shared_ptr<OpenFile> open = f->OpenNode();
  if (!open) return Unexpected(Errno::kEBADF);
  P9X_ACT_AS(f);
  if (m.type > kLockTypeWrlck) return Unexpected(Errno::kEINVAL);
  auto held = open->TestLock(ByteRangeLock{m.type, m.start, m.length, m.proc_id});
  if (!held) return Unexpected(held.error());
  if (held->type == kLockTypeUnlck) {
    return Make(req, Rgetlock{kLockTypeUnlck, m.start, m.length, m.proc_id, m.client_id});
  }
  return Make(req, Rgetlock{held->type, held->start, held->length, held->proc_id, m.client_id});
}

Reply Connection::Handle(const Tlink& m, const Request& req) {
  P9X_FID(d, m.dfid);
  P9X_FID(f, m.fid);
  P9X_ACT_AS_BOTH(d, f);
  if (auto r = s_.fs->Link(d->Node(), f->Node(), m.name); !r) return Unexpected(r.error());
  return Make(req, Rlink{});
}

Reply Connection::Handle(const Tmkdir& m, const Request& req) {
  P9X_FID(d, m.dfid);
  P9X_ACT_AS(d);
  auto node = s_.fs->Mkdir(d->Node(), m.name, m.mode, m.gid);
  if (!node) return Unexpected(node.error());
  auto q = QidOf(*node, req.wire.dialect);
  if (!q) return UndoCreate(*node, q.error(), true);  // spec/qid-map.md §5.1
  return Make(req, Rmkdir{*q});
}

Reply Connection::Handle(const Trenameat& m, const Request& req) {
  P9X_FID(od, m.olddirfid);
  P9X_FID(nd, m.newdirfid);
  P9X_ACT_AS_BOTH(od, nd);
  if (auto r = s_.fs->Renameat(od->Node(), m.oldname, nd->Node(), m.newname); !r) return Unexpected(r.error());
  return Make(req, Rrenameat{});
}

Reply Connection::Handle(const Tunlinkat& m, const Request& req) {
  P9X_FID(d, m.dirfd);
  P9X_ACT_AS(d);
  if (auto r = s_.fs->Unlinkat(d->Node(), m.name, m.flags); !r) return Unexpected(r.error());
  return Make(req, Runlinkat{});
}

}  // namespace

// ---- Server ----

Server::Server(ServerOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

Server::~Server() { Shutdown(); }

Result<std::unique_ptr<Server>, std::string> Server::Create(ServerOptions options) {
  std::shared_ptr<Backend> fs = options.backend;
  if (!fs) {
    auto host = HostFs::Open(options.export_path);
    if (!host) {
      return Unexpected("cannot export " + options.export_path + ": " + std::string(ErrnoName(host.error())) +
                        " (" + std::string(ErrnoText(host.error())) + ")");
    }
    fs = std::move(*host);
  }
  const struct stat& root = fs->root()->initial_stat();
  QidMapperOptions qopts;
  qopts.root_dev = static_cast<uint64_t>(root.st_dev);
  qopts.root_ino = static_cast<uint64_t>(root.st_ino);
  qopts.policy = options.multidevs;
  qopts.state_path = options.qid_state_path;
  qopts.export_id = options.export_path;
  qopts.fallback_cap = options.qid_fallback_cap;
  if (!options.backend) {  // a host directory: number its filesystems by their identity
    if (char* real = realpath(options.export_path.c_str(), nullptr)) {
      qopts.export_id = real;
      free(real);
    }
    qopts.identify = [path = qopts.export_id](uint64_t st_dev) { return FilesystemIdentity(path, st_dev); };
    qopts.watch_mounts = true;  // a mount replaced under a reused st_dev is identified afresh
  }
  auto qids = QidMapper::Create(qopts);
  if (!qids) return Unexpected("qid map: " + qids.error().message);
  std::unique_ptr<Server> server(new Server(options));
  server->impl_->options = server->options_;
  server->impl_->fs = std::move(fs);
  server->impl_->qids = std::move(*qids);
  server->impl_->running_as_root = geteuid() == 0;
  server->impl_->self_user = std::make_shared<const Credentials>(ProcessCredentials());
  server->impl_->squash_user =
      std::make_shared<const Credentials>(Credentials{options.squash_uid, options.squash_gid, {}});
  unsigned workers = options.worker_threads ? options.worker_threads
                                            : std::max(2u, 2 * std::thread::hardware_concurrency());
  server->impl_->pool = std::make_unique<WorkerPool>(workers);
  return server;
}

void Server::ServeConnection(int read_fd, int write_fd, std::string peer_name) {
  ++active_connections_;
  ServeCounted(read_fd, write_fd, std::move(peer_name));
}

void Server::ServeCounted(int read_fd, int write_fd, std::string peer_name) {
  auto conn = std::make_shared<Connection>(*impl_, read_fd, write_fd, std::move(peer_name));
  std::list<std::function<void()>>::iterator me;
  {
    std::lock_guard lock(impl_->connections_mu);
    if (impl_->stopping.load()) {
      --active_connections_;
      return;
    }
    me = impl_->stoppers.insert(impl_->stoppers.end(), [conn] { conn->Stop(); });
  }
  conn->Run();
  // The connection thread acted for its users; a thread that is the caller's gets its own
  // credentials back.
  RestoreThreadCredentials();
  --active_connections_;
  std::lock_guard lock(impl_->connections_mu);
  impl_->stoppers.erase(me);
}

void Server::ServeConnectionAsync(int fd, std::string peer_name) {
  // Counted here, before its thread starts: otherwise a burst of connections all pass this check
  // before any of their threads has counted itself.
  size_t active = active_connections_.load();
  do {
    if (active >= options_.max_connections) {
      Log(1, options_.log_level, "%s: refused: %u connections already", peer_name.c_str(), options_.max_connections);
      close(fd);
      return;
    }
  } while (!active_connections_.compare_exchange_weak(active, active + 1));
  std::lock_guard lock(impl_->connections_mu);
  if (impl_->stopping.load()) {
    --active_connections_;
    close(fd);
    return;
  }
  // Small stacks: a connection thread needs little, and idle connections must stay cheap.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  struct Args {
    Server* server;
    int fd;
    std::string peer;
  };
  auto* args = new Args{this, fd, std::move(peer_name)};
  pthread_t thread;
  int rc = pthread_create(
      &thread, &attr,
      [](void* p) -> void* {
        std::unique_ptr<Args> a(static_cast<Args*>(p));
        a->server->ServeCounted(a->fd, a->fd, std::move(a->peer));
        return nullptr;
      },
      args);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete args;
    --active_connections_;
    close(fd);
    return;
  }
  pthread_detach(thread);
}

void Server::Shutdown() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->connections_mu);
    if (impl_->stopping.exchange(true)) return;
    for (auto& stop : impl_->stoppers) stop();
  }
  // Wait for connection threads to leave (they unregister themselves).
  for (int i = 0; i < 500 && active_connections_.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::lock_guard lock(impl_->connections_mu);
    for (auto& stop : impl_->stoppers) stop();
  }
  if (impl_->pool) impl_->pool->Stop();
}

}  // namespace p9x::server
