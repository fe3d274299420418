// SPDX-License-Identifier: MIT
// MemFs's open file: data reads and writes within the backend's limits, and fcntl(2)-style
// byte-range locks (see mem_fs_internal.h).
#include <algorithm>
#include <cstring>

#include "codec/constants.h"
#include "server/mem_fs_internal.h"

namespace p9x::server::mem_fs_internal {

namespace {

bool Overlaps(const Inode::Lock& l, uint64_t start, uint64_t end) { return l.start <= end && start <= l.end; }
uint64_t LockEnd(uint64_t start, uint64_t length) {
  // fcntl(2): "Specifying 0 for l_len has the special meaning: lock all bytes starting at ...
  // through to the end of file, no matter how large the file grows."
  if (length == 0 || start + length - 1 < start) return UINT64_MAX;
  return start + length - 1;
}

// Removes owner's locks in [start, end], splitting those that stick out.
void Unlock(Inode& inode, const void* owner, uint64_t start, uint64_t end) {
  std::vector<Inode::Lock> kept;
  for (const auto& l : inode.locks) {
    if (l.owner != owner || !Overlaps(l, start, end)) {
      kept.push_back(l);
      continue;
    }
    if (l.start < start) kept.push_back({owner, l.type, l.start, start - 1, l.proc_id});
    if (l.end > end) kept.push_back({owner, l.type, end + 1, l.end, l.proc_id});
  }
  inode.locks = std::move(kept);
}

}  // namespace

MemOpenFile::~MemOpenFile() {
  std::lock_guard lock(state_->mu);
  Unlock(*inode_, this, 0, UINT64_MAX);  // closing releases the owner's locks
}

Result<size_t> MemOpenFile::Read(std::span<uint8_t> into, uint64_t offset) {
  std::lock_guard lock(state_->mu);
  if (inode_->is_dir()) return Unexpected(Errno::kEISDIR);
  if ((flags() & kOpenAccmode) == kOpenWronly) return Unexpected(Errno::kEBADF);
  const auto& d = inode_->data;
  if (offset >= d.size()) return size_t{0};
  const size_t n = std::min<uint64_t>(into.size(), d.size() - offset);
  std::memcpy(into.data(), d.data() + offset, n);
  return n;
}

Result<size_t> MemOpenFile::Write(std::span<const uint8_t> data, uint64_t offset) {
  std::lock_guard lock(state_->mu);
  if ((flags() & kOpenAccmode) == kOpenRdonly) return Unexpected(Errno::kEBADF);
  auto& d = inode_->data;
  if (flags() & kOpenAppend) offset = d.size();
  if (data.empty()) return size_t{0};
  const auto& o = state_->options;
  if (offset > o.max_file_bytes || data.size() > o.max_file_bytes - offset) return Unexpected(Errno::kEFBIG);
  const uint64_t end = offset + data.size();
  if (end > d.size()) {
    const uint64_t grow = end - d.size();
    if (state_->data_bytes + grow > o.max_data_bytes) return Unexpected(Errno::kENOSPC);
    state_->data_bytes += grow;
    d.resize(end);
  }
  std::memcpy(d.data() + offset, data.data(), data.size());
  state_->Changed(*inode_);
  return data.size();
}

Result<bool> MemOpenFile::SetLock(const ByteRangeLock& l) {
  std::lock_guard lock(state_->mu);
  const uint64_t end = LockEnd(l.start, l.length);
  if (l.type == kLockTypeUnlck) {
    Unlock(*inode_, this, l.start, end);
    return true;
  }
  if (Conflict(l.type, l.start, end)) return false;
  Unlock(*inode_, this, l.start, end);
  inode_->locks.push_back({this, l.type, l.start, end, l.proc_id});
  return true;
}

Result<ByteRangeLock> MemOpenFile::TestLock(const ByteRangeLock& l) {
  std::lock_guard lock(state_->mu);
  const Inode::Lock* c = Conflict(l.type, l.start, LockEnd(l.start, l.length));
  if (!c) return ByteRangeLock{kLockTypeUnlck, l.start, l.length, l.proc_id};
  return ByteRangeLock{c->type, c->start, c->end == UINT64_MAX ? 0 : c->end - c->start + 1, c->proc_id};
}

const Inode::Lock* MemOpenFile::Conflict(uint8_t type, uint64_t start, uint64_t end) const {
  for (const auto& h : inode_->locks) {
    if (h.owner != this && Overlaps(h, start, end) && (type == kLockTypeWrlck || h.type == kLockTypeWrlck)) {
      return &h;
    }
  }
  return nullptr;
}

}  // namespace p9x::server::mem_fs_internal
