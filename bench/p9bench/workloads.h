// SPDX-License-Identifier: MIT
// The benchmark workloads: 9P ones built on the codec, and the raw floor that replays the same
// message sizes against the echo server (floor_server.h).
//
// The export tree every 9P workload expects (made by PrepareExport in matrix.cc):
//   data      a file read sequentially (wrapping at its end)
//   wdata     a file written sequentially (wrapping; the same size as data)
//   f         a small file for walk/getattr
//   create/   an empty directory for create/unlink
//   big/      a directory with many empty files (readdir and ls -l)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/p9bench/driver.h"

namespace p9bench {

// Fids: 0 is the attach root (OpenSession). Per connection, 10 and 11 are shared fids of a
// workload; each lane uses 100 + lane for the fid it walks and clunks per op.
inline constexpr uint32_t kRootFid = 0;
inline constexpr uint32_t kSharedFid = 10;
inline constexpr uint32_t kSharedFid2 = 11;
inline uint32_t LaneFid(uint32_t lane) { return 100 + lane; }

// Sequential Tread of `msize - 24` bytes (Linux P9_IOHDRSZ), a shared cursor over `data`.
std::unique_ptr<Workload> MakeReadWorkload(uint64_t file_size);
// Sequential Twrite of `msize - 24` bytes to `wdata`; each lane's Twrite is encoded once
// with its payload, and only tag and offset change per op (no per-op copy).
std::unique_ptr<Workload> MakeWriteWorkload(uint64_t file_size);
// Twalk(root, ["f"]) + Tgetattr + Tclunk: sent one after another, or all three at once. The
// pipelined form names newfid before Rwalk arrives, which needs a server that runs one
// connection's requests in order (diod 1.0.24's worker pool does not: Rlerror EIO).
std::unique_ptr<Workload> MakeWalkGetattrClunkWorkload(bool pipelined);
// Tgetattr of `f` (P9_GETATTR_BASIC), fid walked once at setup.
std::unique_ptr<Workload> MakeGetattrWorkload();
// Twalk(create/, clone) + Tlcreate + Tclunk + Tunlinkat, in turn. A server without
// Tunlinkat (EOPNOTSUPP, e.g. diod 1.0.24) gets Tlcreate + Tremove instead, which is what
// Linux falls back to; `description` says which ran.
std::unique_ptr<Workload> MakeCreateWorkload(std::string* description);
// Twalk(root, ["big"]) + Tlopen + Treaddir(count = msize - 24) until empty + Tclunk: one op
// is a whole listing. `entries` receives the entries of the last listing.
std::unique_ptr<Workload> MakeReaddirWorkload(uint64_t* entries);
// `ls -l`: for each name in big/, Twalk(big, [name]), Tgetattr, Tclunk, in turn.
std::unique_ptr<Workload> MakeListLongWorkload(std::shared_ptr<const std::vector<std::string>> names);
// The many-connection mix: 9 Tgetattr of `f` then 1 Tread of 4 KiB from `data`, repeating.
std::unique_ptr<Workload> MakeMixWorkload(uint64_t file_size);
inline bool MixOpIsRead(uint64_t op) { return op % 10 == 9; }

// Replays recorded schedules (one per op kind) as floor frames; `mix` selects the kind with
// MixOpIsRead, otherwise kind 0 always.
std::unique_ptr<Workload> MakeFloorWorkload(std::vector<Schedule> schedules, bool mix);

// Untimed: the names in big/ (without . and ..), by Treaddir on `conn`.
Result<std::vector<std::string>> ListNames(Conn& conn, std::string_view dir);

}  // namespace p9bench
