// SPDX-License-Identifier: MIT
// The worker pool: a fixed set of threads, shared by every connection, that runs the requests
// that may block on storage (spec/messages.json runs_on "worker") so that no connection thread
// waits on the disk.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace p9x::server {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned n);
  ~WorkerPool() { Stop(); }
  // Runs `job` on one of the threads, in the order posted when a thread is free.
  void Post(std::function<void()> job);
  // Runs the jobs already posted, then ends the threads; returns when they are done.
  void Stop();

 private:
  void Loop();
  std::mutex mu_;  // guards jobs_ and stopping_; a leaf lock (the job runs after it is released)
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace p9x::server
