// SPDX-License-Identifier: MIT
// The fid table's session-checked lookups (fid_table.h).
#include "server/fid_table.h"

namespace p9x::server {

FidTable::Fids FidTable::NewSession() {
  Fids ended;
  std::lock_guard lock(mu_);
  ended.swap(fids_);
  generation_.store(generation_.load() + 1);
  return ended;
}

FidRef FidTable::Get(uint32_t fid, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_.load()) return nullptr;
  auto it = fids_.find(fid);
  return it == fids_.end() ? nullptr : it->second;
}

bool FidTable::Has(uint32_t fid) {
  std::lock_guard lock(mu_);
  return fids_.count(fid) != 0;
}

Result<void> FidTable::Put(uint32_t fid, FidRef f, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_.load()) return Unexpected(Errno::kEBADF);
  if (fids_.size() >= max_fids_ && !fids_.count(fid)) {
    return Unexpected(Errno::kEMFILE);
  }
  fids_[fid] = std::move(f);
  return {};
}

FidRef FidTable::Take(uint32_t fid, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_.load()) return nullptr;
  auto it = fids_.find(fid);
  if (it == fids_.end()) return nullptr;
  FidRef f = std::move(it->second);
  fids_.erase(it);
  return f;
}

}  // namespace p9x::server
