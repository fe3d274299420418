// SPDX-License-Identifier: MIT
// What every connection of one Server shares (Server::Impl): the options, the backend, the qid
// map, the worker pool, the identity policy, and the list of live connections that Shutdown ends.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include "server/backend.h"
#include "server/blocking_mounts.h"
#include "server/credentials.h"
#include "server/qid_map.h"
#include "server/server.h"
#include "server/worker_pool.h"

namespace p9x::server {

class EventLoop;

struct Server::Impl {
  ServerOptions options;
  std::shared_ptr<Backend> fs;
  std::unique_ptr<QidMapper> qids;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<IdentityPolicy> identity;
  // The export's filesystems that can block indefinitely (host exports only; null for a backend
  // given in ServerOptions): what Connection::NeedsWorkerForBlockingMount asks.
  std::unique_ptr<BlockingMounts> blocking_mounts;
  std::atomic<bool> stopping{false};
  // Guards stoppers. A leaf lock: the stoppers it runs take no lock.
  std::mutex connections_mu;
  std::list<std::function<void()>> stoppers;  // wakes each live connection on Shutdown
  // The threads that drive accepted connections (server.cc, EventLoop), one per CPU; a
  // connection stays on the loop it was given.
  std::vector<std::unique_ptr<EventLoop>> loops;
  std::atomic<size_t> next_loop{0};

  Result<Qid> MakeQid(const struct stat& st, Dialect dialect);
  // The qid of (dev, ino): the one place a file's identity becomes a qid path (spec/qid-map.md).
  Result<Qid> MakeQid(uint64_t dev, uint64_t ino, mode_t mode, uint32_t version, Dialect dialect);
};

}  // namespace p9x::server
