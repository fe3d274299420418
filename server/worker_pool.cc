// SPDX-License-Identifier: MIT
// The worker pool's threads (worker_pool.h).
#include "server/worker_pool.h"

#include <algorithm>

namespace p9x::server {

WorkerPool::WorkerPool(unsigned n) {
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
}

void WorkerPool::Post(PoolJob job) {
  {
    std::lock_guard lock(mu_);
    if (size_ == jobs_.size()) {
      std::vector<PoolJob> bigger(std::max<size_t>(16, jobs_.size() * 2));
      for (size_t i = 0; i < size_; ++i) bigger[i] = jobs_[(head_ + i) % jobs_.size()];
      jobs_ = std::move(bigger);
      head_ = 0;
    }
    jobs_[(head_ + size_) % jobs_.size()] = job;
    ++size_;
  }
  cv_.notify_one();
}

void WorkerPool::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::Loop() {
  for (;;) {
    PoolJob job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || size_ != 0; });
      if (size_ == 0) return;
      job = jobs_[head_];
      head_ = (head_ + 1) % jobs_.size();
      --size_;
    }
    job.run(job.arg);
  }
}

}  // namespace p9x::server
