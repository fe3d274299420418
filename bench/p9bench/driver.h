// SPDX-License-Identifier: MIT
// The timed loop. A workload is a script of ops; an op is a sequence of request groups; the
// requests of a group are sent together (one writev) and the next group waits for all their
// replies. `depth` lanes run ops independently on one connection (depth requests in flight), or
// one lane runs on each of many connections. The loop allocates nothing and makes one send
// per batch and one recv per burst of replies; everything it measures is the server's (or the
// floor server's) turnaround plus the kernel.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bench/p9bench/conn.h"
#include "bench/p9bench/net.h"

namespace p9bench {

// Each lane owns tags [lane * kTagsPerLane, lane * kTagsPerLane + kTagsPerLane).
inline constexpr uint16_t kTagsPerLane = 4;
inline uint16_t TagOf(uint32_t lane, uint32_t slot) {
  return static_cast<uint16_t>(lane * kTagsPerLane + slot);
}

// Message sizes of one op, group by group: what the floor replays.
struct Step {
  uint32_t request = 0;
  uint32_t reply = 0;
};
using Schedule = std::vector<std::vector<Step>>;
// "26/22,19/160,11/7": ',' joins requests sent together, ';' separates groups that wait.
std::string ScheduleToString(const Schedule& schedule);

// Where a workload writes its requests. Records each request's size for the schedule.
class Emitter {
 public:
  explicit Emitter(SendQueue& out, const p9x::WireContext& ctx) : out_(out), ctx_(ctx) {}
  // Encodes a small message with codec Encode. False (an error) if it does not fit.
  template <class M>
  bool Send(uint16_t tag, const M& msg) {
    auto written = p9x::Encode(tag, msg, ctx_, out_.Space());
    if (!written) return false;
    out_.CommitSmall(*written);
    Note(tag, *written);
    return true;
  }
  // Queues a frame the workload keeps (pre-encoded, e.g. a Twrite with its payload).
  void SendExternal(uint16_t tag, std::span<const uint8_t> frame) {
    out_.AddExternal(frame.data(), frame.size());
    Note(tag, static_cast<uint32_t>(frame.size()));
  }
  // A raw floor request: size[4] type[1] tag[2] reply_size[4] then `size - 11` filler bytes
  // taken from `filler` (which the workload keeps, like a Twrite payload).
  void SendFloor(uint16_t tag, uint32_t size, uint32_t reply_size, std::span<const uint8_t> filler);
  const p9x::WireContext& ctx() const { return ctx_; }
  uint32_t last_size(uint16_t slot) const { return sizes_[slot % kTagsPerLane]; }

 private:
  void Note(uint16_t tag, uint32_t size) { sizes_[tag % kTagsPerLane] = size; }
  SendQueue& out_;
  const p9x::WireContext& ctx_;
  uint32_t sizes_[kTagsPerLane] = {};
};

class Workload {
 public:
  virtual ~Workload() = default;
  // Untimed preparation on `conn` for lanes [first_lane, first_lane + lanes): fids, opens.
  virtual Status SetUp(Conn& conn, uint32_t first_lane, uint32_t lanes) = 0;
  // Emits group `group` of op number `op` of `lane`: returns how many requests it sent
  // (tags TagOf(lane, 0..n-1)); 0 means the op is complete. Must not return 0 for group 0.
  virtual uint32_t EmitGroup(uint32_t lane, uint64_t op, uint32_t group, Emitter& out) = 0;
  // Checks one reply of the current group. An error stops the run.
  virtual Status OnReply(uint32_t lane, uint32_t group, uint32_t slot, std::span<const uint8_t> frame,
                         const p9x::WireContext& ctx) = 0;
  // Ops come in kinds (the connection mix has getattr and read); the schedule is recorded per
  // kind. Default: one kind.
  virtual uint32_t KindOf(uint64_t op) const {
    (void)op;
    return 0;
  }
  virtual uint32_t kinds() const { return 1; }

  // Payload bytes moved (read or written data), counted by OnReply.
  uint64_t payload_bytes = 0;
};

// Log-linear latency histogram in nanoseconds (32 sub-buckets per power of two, <= 3% error).
class Histogram {
 public:
  void Add(uint64_t ns);
  uint64_t count() const { return count_; }
  // Upper edge of the bucket holding the q-quantile, in ns.
  uint64_t Quantile(double q) const;
  void Clear();

 private:
  static constexpr int kSubBits = 5;
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;
  static int Index(uint64_t ns);
  static uint64_t UpperEdge(int index);
  uint64_t counts_[kBuckets] = {};
  uint64_t count_ = 0;
};

struct RunOptions {
  double warmup_seconds = 0.2;
  double seconds = 1.0;
  uint64_t warmup_ops = 0;  // count-bounded runs: ops before measuring starts
  uint64_t max_ops = 0;     // count-bounded runs: measured ops (0 = time-bounded)
  double max_seconds = 0;   // count-bounded runs: also stop after this long (0 = no limit)
  pid_t server_pid = -1;    // for the server's CPU time
  bool record_schedule = true;
};

struct Measurement {
  std::string error;  // empty = ok
  uint64_t ops = 0;
  double seconds = 0;
  uint64_t payload_bytes = 0;
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  double server_cpu_seconds = -1;
  double client_cpu_seconds = 0;
  std::vector<Schedule> schedules;  // one per op kind (first op of each kind on lane 0)

  double ops_per_second() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double mb_per_second() const {
    return seconds > 0 ? static_cast<double>(payload_bytes) / seconds / 1e6 : 0;
  }
};

// Runs `workload` with `lanes_per_conn` lanes on each connection (after SetUp on each).
// One connection: blocking recv. Several: epoll, one lane each is the intended use.
Measurement RunWorkload(std::span<Conn* const> conns, uint32_t lanes_per_conn, Workload& workload,
                const RunOptions& options);

}  // namespace p9bench
