// SPDX-License-Identifier: MIT
// p9xd's protocol engine: sessions, fids, tags, flush and dispatch, over any byte stream.
//
// Threading (spec/9p2000.L.md §3): one thread at a time owns all I/O of a connection. For an
// accepted socket that is one of the server's event loops (server.cc, EventLoop: one thread per
// CPU, epoll(7), each connection staying on the loop it was given); for ServeConnection (stdio,
// --rfd/--wfd) it is the caller's thread, in Connection::Run(). The connection's owner reads
// frames, answers cheap requests itself (version, attach, walk, getattr, clunk, flush, ...) and
// hands requests that may block on the disk (read, write, readdir, fsync, lock, creation and
// removal, setattr) to a shared worker pool, moving the request's buffer rather than copying
// it. Replies from either side go to the connection's outbound queue, which the owner writes
// with writev when the socket is writable; a worker's reply wakes the owner (the loop's queue
// and one eventfd per loop, or the Run() thread's eventfd). Because a loop serves many
// connections, nothing a loop runs may block indefinitely: what can (a FIFO's read, a blocking
// lock) already goes to the workers so that a Tflush is still seen. So does every request that
// may reach a filesystem that can block indefinitely (NFS, CIFS, FUSE, 9p, ceph, AFS, cluster
// filesystems, autofs: blocking_mounts.h), whatever its runs_on: a Tgetattr, Tlopen or Tclunk
// of a fid on one, and, on an export that holds one, every Twalk of a name and every Tattach
// below the root (Connection::NeedsWorkerForBlockingMount says why). On a thread per
// connection a dead NFS server stalled only the connections that touched it; on a loop it
// would stall every connection of that loop ("bad input gets a clear error and the server
// keeps serving everyone else"). Such a request then holds one worker; its own connection goes
// on (other requests, a Tflush that waits for it as flush(5) says). The mounts are known from
// the mount table, watched, so the check costs no system call, and on an export without such
// a mount (tmpfs, ext4) it is one atomic load: everything else runs where it ran before.
// Bounded waits do run on a loop: a Tread or Twrite of a regular file on a local disk
// filesystem that is alone in flight is answered there, so a page-cache miss makes the loop's
// other connections wait for one disk I/O (pipelined ones try RWF_NOWAIT first and go to the
// workers when they would wait).
// Why event loops and not a thread per connection (bench/README.md, "Many connections", the
// numbers): p9xd had a thread per connection, with a 256 KiB stack and an eventfd each. On a
// 2-CPU machine that cost 19-24 KiB of RSS per idle connection (the stack pages each thread
// touched, and its first read buffer) and two descriptors, so 10,000 idle connections beside
// 1,000 busy ones did not fit a 20,000-descriptor limit at all; 1,000 busy connections reached
// 0.54 of the 100-connection throughput in the run that measured both models (1,000 runnable
// threads, a context switch per request); the scheduler, not arrival order, chose which of them
// ran next. The loops hold an idle connection in 3-6 KiB (5.0-5.5 KiB in the latest matrix, with
// its 8 KiB read buffer only partly touched) and one descriptor, and pay no thread switch between a request's
// arrival and its inline answer. epoll, not io_uring: the connection's contract (ReadSome,
// ProcessFrames, WriteSome on a non-blocking socket) is readiness-based, and replacing it with
// completion-based I/O would rewrite the data path for no measured gain at these sizes.
// Because every reply goes through that one queue in the order it was completed, "the reply to
// the flushed request must be sent first" (flush(5)) holds by construction: the Rflush is queued
// right after the old request's reply.
// Back-pressure: the replies queued for a connection, plus what its requests on the workers hold
// or may still add (the frame, and the largest reply it can make), are bounded by
// max_queued_reply_bytes; at the bound the connection takes no further request until the queue
// drains, so a client that never reads costs about that much memory (plus one request) and
// blocks nobody else.
//
// Where each part lives: connection.{h,cc} (one connection: I/O, framing, back-pressure, tags,
// flush, dispatch; the lock order is written at Connection::out_mu_), handlers.h and
// handlers_{session,file,tree,meta}.cc (one handler per T-message), fid_table.{h,cc} (fids and the
// session generation), worker_pool.{h,cc}, credentials.{h,cc} (identity: attach-user resolution
// and the per-request credential switch), server_state.h (what a server's connections share),
// log.{h,cc}, server.cc (creation, connections' lifecycle, Shutdown, qids), blocking_mounts.{h,cc}
// (which filesystems a loop must never wait on).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "negotiation/version.h"
#include "server/credentials.h"
#include "server/qid_map.h"

namespace p9x::server {

class Backend;

struct ServerOptions {
  // What is served: `backend` when set (e.g. a MemFs), else the host directory export_path.
  // export_path is also the attach name that selects the root (diod's convention).
  std::string export_path;
  std::shared_ptr<Backend> backend;
  bool read_only = false;
  negotiation::ServerPolicy policy;  // versions and msize bounds
  MultiDevPolicy multidevs = MultiDevPolicy::kRemap;
  std::string qid_state_path;  // empty: qid map not persisted
  uint64_t qid_fallback_cap = kDefaultFallbackCap;  // per-file qid map entries (spec/qid-map.md §4)
  IdentityMode identity = IdentityMode::kSelf;
  uid_t squash_uid = 65534;
  gid_t squash_gid = 65534;
  // kPerUser: an attach as uid 0 runs as squash_uid/squash_gid instead of root. Off by default:
  // whoever can reach the socket and names root acts as root on the export (9P has no
  // authentication here), as root on the host could.
  bool root_squash = false;
  uint32_t max_fids_per_connection = 65536;  // a client cannot exhaust server memory with fids
  uint32_t max_connections = 4096;
  size_t max_queued_reply_bytes = 16u << 20;  // per connection (see back-pressure above)
  unsigned worker_threads = 0;  // 0: 2 x cores
  bool trace = false;           // print every frame with the codec's printer to stderr
  int log_level = 1;            // 0 errors, 1 info, 2 debug
};

class Server {
 public:
  // Opens the export and the qid map; the error says what failed.
  static Result<std::unique_ptr<Server>, std::string> Create(ServerOptions options);
  ~Server();

  // Serves one connected stream until the peer closes it or Shutdown(); blocks the caller.
  // read_fd may equal write_fd (a socket). The server closes them when it is done.
  void ServeConnection(int read_fd, int write_fd, std::string peer_name);
  // Serves an accepted socket on one of the event loops and returns at once (used by listeners);
  // refuses the connection (closes it) when max_connections are being served.
  void ServeConnectionAsync(int fd, std::string peer_name);

  // Ends every connection and stops the workers and the event loops; returns when all
  // connections are done.
  void Shutdown();

  const ServerOptions& options() const { return options_; }
  size_t active_connections() const { return active_connections_.load(); }

  struct Impl;

 private:
  explicit Server(ServerOptions options);
  // ServeConnection for a connection already counted in active_connections_ (which it uncounts).
  void ServeCounted(int read_fd, int write_fd, std::string peer_name);
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
  std::atomic<size_t> active_connections_{0};
};

// Listens on "tcp:HOST:PORT" (IPv4 or [IPv6]) or "unix:PATH" and serves every connection until
// stop becomes true. Returns an error text when the address cannot be bound. `bound` receives the
// actual address (useful with port 0).
Result<void, std::string> Listen(Server& server, const std::string& address, const std::atomic<bool>& stop,
                                 std::string* bound = nullptr);

// Binds the listening socket only (so a caller can report the port before serving).
Result<int, std::string> BindListener(const std::string& address, std::string* bound);
void AcceptLoop(Server& server, int listen_fd, const std::atomic<bool>& stop);

// Socket activation (sd_listen_fds(3), without libsystemd): when LISTEN_PID is this process and
// LISTEN_FDS is N, the listening stream sockets at descriptors 3 .. 3+N-1, each with its address
// in `bound` (same order). Clears LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so that children do
// not inherit them. No sockets (not activated) is an empty vector; an error when a passed
// descriptor is not a listening stream socket.
Result<std::vector<int>, std::string> InheritedListeners(std::vector<std::string>* bound);

}  // namespace p9x::server
