// SPDX-License-Identifier: MIT
// The worker pool: a fixed set of threads, shared by every connection, that runs the requests
// that may block on storage (spec/messages.json runs_on "worker") so that no connection thread
// waits on the disk.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace p9x::server {

// One job: run(arg) on a pool thread. Plain data, so that posting one allocates nothing once
// the queue has grown to the pool's backlog.
struct PoolJob {
  void (*run)(void*);
  void* arg;
};

class WorkerPool {
 public:
  explicit WorkerPool(unsigned n);
  ~WorkerPool() { Stop(); }
  // Runs `job` on one of the threads, in the order posted when a thread is free.
  void Post(PoolJob job);
  // Runs the jobs already posted, then ends the threads; returns when they are done.
  void Stop();

 private:
  void Loop();
  std::mutex mu_;  // guards the queue and stopping_; a leaf lock (the job runs after it is released)
  std::condition_variable cv_;
  // The queue: a ring over jobs_ that keeps its slots (head_, size_).
  std::vector<PoolJob> jobs_;
  size_t head_ = 0;
  size_t size_ = 0;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace p9x::server
