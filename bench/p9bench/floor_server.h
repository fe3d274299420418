// SPDX-License-Identifier: MIT
// The raw request/response floor: a server that does nothing but answer each request frame with
// a reply of the size the request asks for, over the same transport as the 9P server. What a
// 9P figure loses against it is the server's own cost (decode, dispatch, syscalls, copies).
//
// Floor protocol (framed like 9P so the client code path is identical):
//   request: size[4] type[1]=0xF0 tag[2] reply_size[4] filler[size - 11]
//   reply:   size[4]=reply_size type[1]=0xF1 tag[2] filler[reply_size - 7]
// One thread per connection, blocking reads, replies to everything in one read batched into one
// writev; reply filler comes from one preallocated buffer per connection (no per-op copy).
#pragma once

#include <cstdint>
#include <string>

#include "bench/p9bench/net.h"

namespace p9bench {

inline constexpr uint8_t kFloorRequestType = 0xF0;
inline constexpr uint8_t kFloorReplyType = 0xF1;
inline constexpr uint32_t kFloorRequestHeader = 11;
// Largest frame the floor server accepts or sends.
inline constexpr uint32_t kFloorMaxFrame = 4 * 1024 * 1024 + 4096;

// Accepts and serves connections on `listen_fd` forever (returns only if accept fails).
void ServeFloor(int listen_fd);
// Starts ServeFloor on a detached thread (for tests).
void StartFloorThread(int listen_fd);

// The bare getdents64 loop (1 MiB buffer) over `dir`, optionally with fstatat of each entry
// (what `ls -l` costs locally). Returns seconds and entries seen (including . and ..).
struct DirScan {
  double seconds = 0;
  uint64_t entries = 0;
};
Result<DirScan> ScanDirectory(const std::string& dir, bool stat_each);

}  // namespace p9bench
