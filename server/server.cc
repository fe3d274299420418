// SPDX-License-Identifier: MIT
// The Server (server.h): its creation (the export, the qid map, the identity policy, the worker
// pool), its connections' lifecycle and Shutdown, and the qid of a file (Server::Impl::MakeQid).
#include "server/server.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

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
