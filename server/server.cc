// SPDX-License-Identifier: MIT
// The Server (server.h): its creation (the export, the qid map, the identity policy, the worker
// pool), its connections' lifecycle and Shutdown, and the qid of a file (Server::Impl::MakeQid).
#include "server/server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <unordered_map>

#include "codec/text.h"
#include "server/connection.h"
#include "server/fs_identity.h"
#include "server/host_fs.h"
#include "server/log.h"
#include "server/server_state.h"

namespace p9x::server {
namespace {

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

}  // namespace

Result<Qid> Server::Impl::MakeQid(const struct stat& st, Dialect dialect) {
  return MakeQid(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), st.st_mode, QidVersion(st),
                 dialect);
}

Result<Qid> Server::Impl::MakeQid(uint64_t dev, uint64_t ino, mode_t mode, uint32_t version, Dialect dialect) {
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

// ---- event loops ----

// One thread that drives many connections with epoll(7), level-triggered: for each connection
// it waits for what Connection::Wants() says (readable, writable, or neither while workers hold
// its requests), calls OnReady, and ends the connection when it is done. A worker's completion
// reaches the loop through WakeOnLoop (a queue and one eventfd per loop, not per connection).
// A connection is only ever touched by its loop's thread, as a Run() connection is by its own.
class EventLoop {
 public:
  // `closed` runs on the loop thread after a connection ended (the server uncounts it).
  EventLoop(std::function<void(std::list<std::function<void()>>::iterator)> closed) : closed_(std::move(closed)) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the loop's own eventfd
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
    thread_ = std::thread([this] { Loop(); });
  }
  ~EventLoop() {
    stop_.store(true);
    Signal();
    thread_.join();
    close(epoll_fd_);
    close(event_fd_);
  }

  // Takes a connection (from the accepting thread). `stopper`: its entry in Impl::stoppers.
  void Add(std::shared_ptr<Connection> conn, std::list<std::function<void()>>::iterator stopper) {
    {
      std::lock_guard lock(mu_);
      added_.push_back({std::move(conn), stopper});
    }
    Signal();
  }

  void Wake(Connection& conn) {
    if (conn.wake_queued.exchange(true)) return;  // already queued, not yet driven
    bool first;
    {
      std::lock_guard lock(mu_);
      first = woken_.empty() && added_.empty();
      woken_.push_back(conn.shared_from_this());
    }
    if (first) Signal();  // the loop drains the whole queue per signal
  }

 private:
  struct Entry {
    std::shared_ptr<Connection> conn;
    std::list<std::function<void()>>::iterator stopper;
    uint32_t events = 0;       // registered with epoll (0: not registered)
    bool wanted_read = false;  // Wants().read when the wait began
    bool closed = false;
  };

  void Signal() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof one);
  }

  void Loop() {
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    std::vector<std::pair<std::shared_ptr<Connection>, std::list<std::function<void()>>::iterator>> added;
    std::vector<std::shared_ptr<Connection>> woken;
    while (!stop_.load()) {
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
      if (n < 0 && errno != EINTR) break;
      bool signalled = false;
      for (int i = 0; i < n; ++i) {
        auto* entry = static_cast<Entry*>(events[i].data.ptr);
        if (entry == nullptr) {
          signalled = true;
          continue;
        }
        if (entry->closed) continue;
        const uint32_t got = events[i].events;
        Drive(*entry, (got & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0, (got & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0);
      }
      if (signalled) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(event_fd_, &v, sizeof v);
        {
          std::lock_guard lock(mu_);
          added.swap(added_);
          woken.swap(woken_);
        }
        for (auto& [conn, stopper] : added) {
          Connection* key = conn.get();
          Entry& entry = entries_[key];
          entry.conn = std::move(conn);
          entry.stopper = stopper;
          entry.conn->Begin();
          Drive(entry, false, false);
        }
        added.clear();
        for (auto& conn : woken) {
          conn->wake_queued.store(false);
          auto it = entries_.find(conn.get());
          // A reply was queued, or Stop() was called: try to write at once (the socket is
          // usually writable; WriteSome stops at EAGAIN and the connection waits for EPOLLOUT).
          if (it != entries_.end() && !it->second.closed) Drive(it->second, false, true);
        }
        woken.clear();
      }
      // Ended connections leave after the batch: later events of the batch may name them.
      for (Connection* gone : closing_) entries_.erase(gone);
      closing_.clear();
    }
  }

  void Drive(Entry& entry, bool readable, bool writable) {
    Connection& conn = *entry.conn;
    if (conn.stopping() || ((readable || writable) && !conn.OnReady(readable, writable, entry.wanted_read))) {
      return Close(entry);
    }
    for (;;) {
      const Connection::Interest wants = conn.Wants();
      if (wants.done || conn.stopping()) return Close(entry);
      if (wants.again) {
        conn.ProcessQueuedFrames();
        if (!conn.OnReady(false, true, false)) return Close(entry);
        continue;
      }
      entry.wanted_read = wants.read;
      // Neither: the connection waits for its workers (a wake-up), not for the socket; it is
      // taken out of the epoll set, which would otherwise report a hang-up over and over.
      const uint32_t want = (wants.read ? EPOLLIN : 0u) | (wants.write ? EPOLLOUT : 0u);
      if (want != entry.events) {
        epoll_event ev{};
        ev.events = want;
        ev.data.ptr = &entry;
        const int op = entry.events == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
        if (epoll_ctl(epoll_fd_, op, conn.read_fd(), &ev) != 0) return Close(entry);
        entry.events = want;
      }
      return;
    }
  }

  void Close(Entry& entry) {
    if (entry.closed) return;
    entry.closed = true;
    if (entry.events != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, entry.conn->read_fd(), nullptr);
    entry.events = 0;
    entry.conn->Finish();
    closed_(entry.stopper);
    closing_.push_back(entry.conn.get());
  }

  std::function<void(std::list<std::function<void()>>::iterator)> closed_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // a leaf lock: guards added_ and woken_
  std::vector<std::pair<std::shared_ptr<Connection>, std::list<std::function<void()>>::iterator>> added_;
  std::vector<std::shared_ptr<Connection>> woken_;
  // The loop thread's own: every connection it drives, and those that ended in this batch.
  std::unordered_map<Connection*, Entry> entries_;
  std::vector<Connection*> closing_;
  std::thread thread_;
};

void WakeOnLoop(EventLoop& loop, Connection& conn) { loop.Wake(conn); }

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
  std::unique_ptr<BlockingMounts> blocking;
  if (!options.backend) blocking = std::make_unique<BlockingMounts>(qopts.export_id);
  auto qids = QidMapper::Create(qopts);
  if (!qids) return Unexpected("qid map: " + qids.error().message);
  std::unique_ptr<Server> server(new Server(options));
  server->impl_->options = server->options_;
  server->impl_->fs = std::move(fs);
  server->impl_->qids = std::move(*qids);
  server->impl_->blocking_mounts = std::move(blocking);
  server->impl_->identity = std::make_unique<IdentityPolicy>(options.identity, options.squash_uid, options.squash_gid,
                                                             options.root_squash, geteuid() == 0);
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
  // Counted here, before its loop takes it: otherwise a burst of connections all pass this check
  // before any of them has been counted.
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
  if (impl_->loops.empty()) {
    // One loop per CPU: the loops only move bytes and answer cheap requests; whatever may block
    // goes to the worker pool.
    const unsigned count = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < count; ++i) {
      impl_->loops.push_back(std::make_unique<EventLoop>([this](std::list<std::function<void()>>::iterator stopper) {
        --active_connections_;
        std::lock_guard stoppers_lock(impl_->connections_mu);
        impl_->stoppers.erase(stopper);
      }));
    }
  }
  EventLoop& loop = *impl_->loops[impl_->next_loop++ % impl_->loops.size()];
  auto conn = std::make_shared<Connection>(*impl_, fd, fd, std::move(peer_name), &loop);
  auto stopper = impl_->stoppers.insert(impl_->stoppers.end(), [conn] { conn->Stop(); });
  loop.Add(std::move(conn), stopper);
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
  impl_->loops.clear();  // joins the loop threads, which no longer drive any connection
}

}  // namespace p9x::server
