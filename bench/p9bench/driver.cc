// SPDX-License-Identifier: MIT
#include "bench/p9bench/driver.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <memory>

#include "codec/wire.h"

namespace p9bench {

std::string ScheduleToString(const Schedule& schedule) {
  std::string text;
  for (size_t g = 0; g < schedule.size(); ++g) {
    if (g) text += ';';
    for (size_t s = 0; s < schedule[g].size(); ++s) {
      if (s) text += ',';
      text += std::to_string(schedule[g][s].request) + "/" + std::to_string(schedule[g][s].reply);
    }
  }
  return text;
}

void Emitter::SendFloor(uint16_t tag, uint32_t size, uint32_t reply_size, std::span<const uint8_t> filler) {
  constexpr uint32_t kFloorHeader = 11;
  uint8_t* header = out_.Space().data();
  p9x::internal::StoreLe<uint32_t>(header, size);
  header[4] = 0xF0;
  p9x::internal::StoreLe<uint16_t>(header + 5, tag);
  p9x::internal::StoreLe<uint32_t>(header + 7, reply_size);
  out_.CommitSmall(kFloorHeader);
  if (size > kFloorHeader) out_.AddExternal(filler.data(), size - kFloorHeader);
  Note(tag, size);
}

int Histogram::Index(uint64_t ns) {
  if (ns < (1u << kSubBits)) return static_cast<int>(ns);
  const int msb = 63 - std::countl_zero(ns);
  const int shift = msb - kSubBits;
  return ((shift + 1) << kSubBits) + static_cast<int>((ns >> shift) & ((1u << kSubBits) - 1));
}

uint64_t Histogram::UpperEdge(int index) {
  if (index < (1 << kSubBits)) return static_cast<uint64_t>(index);
  const int shift = (index >> kSubBits) - 1;
  const uint64_t sub = static_cast<uint64_t>(index & ((1 << kSubBits) - 1));
  return (((1u << kSubBits) + sub) << shift) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Add(uint64_t ns) {
  ++counts_[Index(ns)];
  ++count_;
}

uint64_t Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return UpperEdge(i);
  }
  return UpperEdge(kBuckets - 1);
}

void Histogram::Clear() {
  std::fill(std::begin(counts_), std::end(counts_), 0);
  count_ = 0;
}

namespace {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct LaneState {
  uint64_t op = 0;
  uint64_t started_ns = 0;
  uint32_t group = 0;
  uint32_t pending = 0;
  bool stopped = false;
};

// The loop's state, shared by the one-connection and many-connection waits.
class Loop {
 public:
  Loop(std::span<Conn* const> conns, uint32_t lanes_per_conn, Workload& workload, const RunOptions& options)
      : conns_(conns), lanes_per_conn_(lanes_per_conn), workload_(workload), options_(options),
        lanes_(conns.size() * lanes_per_conn), recorded_(workload.kinds(), false) {
    result_.schedules.resize(workload.kinds());
    for (Conn* conn : conns) emitters_.push_back(std::make_unique<Emitter>(conn->out(), conn->ctx()));
    active_ = static_cast<uint32_t>(lanes_.size());
  }

  Measurement Go() {
    started_ns_ = NowNs();
    if (options_.warmup_seconds <= 0 && options_.warmup_ops == 0) StartMeasuring(started_ns_);
    for (uint32_t lane = 0; lane < lanes_.size() && Ok(); ++lane) StartOp(lane, started_ns_);
    FlushAll();
    if (conns_.size() == 1) {
      WaitOne();
    } else {
      WaitMany();
    }
    if (result_.error.empty() && !stopping_) result_.error = "run ended before measuring finished";
    return std::move(result_);
  }

 private:
  bool Ok() const { return result_.error.empty(); }
  void Fail(std::string error) {
    if (Ok()) result_.error = std::move(error);
  }

  void FlushAll() {
    for (Conn* conn : conns_) {
      if (!conn->out().empty()) {
        if (auto sent = conn->out().Flush(conn->fd()); !sent) Fail(sent.error());
      }
    }
  }

  void StartMeasuring(uint64_t now) {
    measuring_ = true;
    measure_start_ns_ = now;
    ops_ = 0;
    histogram_.Clear();
    payload_at_start_ = workload_.payload_bytes;
    if (options_.server_pid > 0) server_cpu_at_start_ = CpuSeconds(options_.server_pid);
    client_cpu_at_start_ = ThreadCpuSeconds();
  }

  void StopMeasuring(uint64_t now) {
    stopping_ = true;
    result_.ops = ops_;
    result_.seconds = static_cast<double>(now - measure_start_ns_) / 1e9;
    result_.payload_bytes = workload_.payload_bytes - payload_at_start_;
    result_.p50_ns = histogram_.Quantile(0.50);
    result_.p99_ns = histogram_.Quantile(0.99);
    if (options_.server_pid > 0) result_.server_cpu_seconds = CpuSeconds(options_.server_pid) - server_cpu_at_start_;
    result_.client_cpu_seconds = ThreadCpuSeconds() - client_cpu_at_start_;
  }

  // Emits group `group` of the lane's op; returns the number of requests.
  uint32_t Emit(uint32_t lane, uint32_t conn_index) {
    LaneState& state = lanes_[lane];
    Conn& conn = *conns_[conn_index];
    if (conn.out().NearlyFull(4096)) {
      if (auto sent = conn.out().Flush(conn.fd()); !sent) Fail(sent.error());
    }
    Emitter& emitter = *emitters_[conn_index];
    const uint32_t n = workload_.EmitGroup(lane, state.op, state.group, emitter);
    if (recording_ && lane == 0 && n > 0) {
      auto& group = recording_schedule_.emplace_back();
      for (uint32_t slot = 0; slot < n; ++slot) group.push_back({emitter.last_size(static_cast<uint16_t>(slot)), 0});
    }
    return n;
  }

  void StartOp(uint32_t lane, uint64_t now) {
    LaneState& state = lanes_[lane];
    state.group = 0;
    state.started_ns = now;
    if (lane == 0) {
      const uint32_t kind = workload_.KindOf(state.op);
      recording_ = options_.record_schedule && kind < recorded_.size() && !recorded_[kind];
      recording_schedule_.clear();
    }
    state.pending = Emit(lane, lane / lanes_per_conn_);
    if (state.pending == 0) Fail("workload emitted an empty op");
  }

  void CompleteOp(uint32_t lane) {
    LaneState& state = lanes_[lane];
    const uint64_t now = NowNs();
    if (lane == 0 && recording_) {
      const uint32_t kind = workload_.KindOf(state.op);
      result_.schedules[kind] = recording_schedule_;
      recorded_[kind] = true;
      recording_ = false;
    }
    if (measuring_ && !stopping_) {
      histogram_.Add(now - state.started_ns);
      ++ops_;
    } else if (!measuring_) {
      ++warm_ops_;
    }
    ++state.op;
    if (!measuring_) {
      const bool warm = options_.warmup_ops > 0
                            ? warm_ops_ >= options_.warmup_ops
                            : now - started_ns_ >= static_cast<uint64_t>(options_.warmup_seconds * 1e9);
      if (warm) StartMeasuring(now);
    } else if (!stopping_) {
      const uint64_t elapsed = now - measure_start_ns_;
      const bool done =
          options_.max_ops > 0
              ? ops_ >= options_.max_ops ||
                    (options_.max_seconds > 0 && elapsed >= static_cast<uint64_t>(options_.max_seconds * 1e9))
              : elapsed >= static_cast<uint64_t>(options_.seconds * 1e9);
      if (done) StopMeasuring(now);
    }
    if (stopping_) {
      state.stopped = true;
      --active_;
      return;
    }
    StartOp(lane, now);
  }

  void Handle(std::span<const uint8_t> frame, uint32_t conn_index) {
    const uint16_t tag = p9x::internal::LoadLe<uint16_t>(frame.data() + 5);
    // Tags name the global lane (TagOf), which must be one of this connection's lanes.
    const uint32_t lane = tag / kTagsPerLane;
    const uint32_t slot = tag % kTagsPerLane;
    if (lane / lanes_per_conn_ != conn_index || lane >= lanes_.size()) {
      return Fail("reply with unexpected tag " + std::to_string(tag));
    }
    LaneState& state = lanes_[lane];
    if (state.pending == 0 || state.stopped) return Fail("unsolicited reply, tag " + std::to_string(tag));
    if (auto ok = workload_.OnReply(lane, state.group, slot, frame, conns_[conn_index]->ctx()); !ok) {
      return Fail(ok.error());
    }
    if (recording_ && lane == 0 && state.group < recording_schedule_.size() &&
        slot < recording_schedule_[state.group].size()) {
      recording_schedule_[state.group][slot].reply = static_cast<uint32_t>(frame.size());
    }
    if (--state.pending > 0) return;
    ++state.group;
    state.pending = Emit(lane, conn_index);
    if (state.pending == 0) CompleteOp(lane);
  }

  // Drains the frames buffered on one connection.
  void Drain(uint32_t conn_index) {
    FrameReader& reader = conns_[conn_index]->reader();
    while (Ok()) {
      const std::span<const uint8_t> frame = reader.Next();
      if (frame.empty()) break;
      Handle(frame, conn_index);
    }
    if (reader.error()) Fail("corrupt frame size from server");
  }

  // Returns false (and fails) on end of stream or a socket error.
  bool Fill(uint32_t conn_index, bool dont_wait) {
    Conn& conn = *conns_[conn_index];
    const ssize_t n = conn.reader().Fill(conn.fd(), dont_wait);
    if (n > 0) return true;
    if (n < 0 && (errno == EINTR || (dont_wait && errno == EAGAIN))) return true;
    if (n == 0) {
      Fail("connection closed by server");
    } else if (errno == EAGAIN) {
      Fail("no reply within 20 s");
    } else {
      Fail(std::string("recv: ") + std::strerror(errno));
    }
    return false;
  }

  void WaitOne() {
    while (Ok() && active_ > 0) {
      Drain(0);
      if (!Ok() || active_ == 0) break;
      FlushAll();
      if (!Ok() || !Fill(0, false)) break;
    }
  }

  void WaitMany() {
    const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    for (uint32_t i = 0; i < conns_.size(); ++i) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u32 = i;
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, conns_[i]->fd(), &event);
    }
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    while (Ok() && active_ > 0) {
      const int n = epoll_wait(epoll_fd, events, kMaxEvents, 20'000);
      if (n == 0) Fail("no reply within 20 s");
      for (int e = 0; e < n && Ok(); ++e) {
        const uint32_t i = events[e].data.u32;
        if (!Fill(i, true)) break;
        Drain(i);
        Conn& conn = *conns_[i];
        if (!conn.out().empty()) {
          if (auto sent = conn.out().Flush(conn.fd()); !sent) Fail(sent.error());
        }
      }
    }
    close(epoll_fd);
  }

  std::span<Conn* const> conns_;
  uint32_t lanes_per_conn_;
  Workload& workload_;
  const RunOptions& options_;
  std::vector<LaneState> lanes_;
  std::vector<std::unique_ptr<Emitter>> emitters_;
  std::vector<bool> recorded_;
  Schedule recording_schedule_;
  bool recording_ = false;
  Measurement result_;
  Histogram histogram_;
  uint32_t active_ = 0;
  bool measuring_ = false;
  bool stopping_ = false;
  uint64_t started_ns_ = 0;
  uint64_t measure_start_ns_ = 0;
  uint64_t ops_ = 0;
  uint64_t warm_ops_ = 0;
  uint64_t payload_at_start_ = 0;
  double server_cpu_at_start_ = 0;
  double client_cpu_at_start_ = 0;
};

}  // namespace

Measurement RunWorkload(std::span<Conn* const> conns, uint32_t lanes_per_conn, Workload& workload,
                const RunOptions& options) {
  for (uint32_t c = 0; c < conns.size(); ++c) {
    if (auto ok = workload.SetUp(*conns[c], c * lanes_per_conn, lanes_per_conn); !ok) {
      Measurement failed;
      failed.error = "setup: " + ok.error();
      return failed;
    }
  }
  auto loop = std::make_unique<Loop>(conns, lanes_per_conn, workload, options);
  return loop->Go();
}

}  // namespace p9bench
