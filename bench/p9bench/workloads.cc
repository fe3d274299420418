// SPDX-License-Identifier: MIT
#include "bench/p9bench/workloads.h"

#include <cstdio>
#include <initializer_list>

#include "codec/dirent.h"
#include "codec/wire.h"

namespace p9bench {
namespace {

using p9x::WireContext;

// Tread and Twrite carry at most msize - P9_IOHDRSZ data bytes (Linux p9_client_read/write).
uint32_t IoCount(const WireContext& ctx) { return ctx.msize - p9x::kIoHeaderSize; }

p9x::WalkNames Names(std::initializer_list<std::string_view> names) {
  p9x::WalkNames w;
  for (std::string_view name : names) w.names[w.count++] = name;
  return w;
}

template <class R>
Status Expect(std::span<const uint8_t> frame, const WireContext& ctx) {
  if (R reply; !p9x::DecodeInto(frame, ctx, &reply)) {
    return Unexpected(std::string(R::kName) + " expected, got " + DescribeUnexpected(frame, ctx));
  }
  return {};
}

Status Walk(Conn& conn, uint32_t fid, uint32_t newfid, std::initializer_list<std::string_view> names) {
  auto reply = Call<p9x::Rwalk>(conn, 1, p9x::Twalk{.fid = fid, .newfid = newfid, .wnames = Names(names)});
  if (!reply) return Unexpected(reply.error());
  if (reply->wqids.count != names.size()) return Unexpected(std::string("walk stopped short"));
  return {};
}

Status Lopen(Conn& conn, uint32_t fid, uint32_t flags) {
  auto reply = Call<p9x::Rlopen>(conn, 1, p9x::Tlopen{.fid = fid, .flags = flags});
  if (!reply) return Unexpected(reply.error());
  return {};
}

// ---- read ----

class ReadWorkload : public Workload {
 public:
  explicit ReadWorkload(uint64_t file_size) : file_size_(file_size) {}
  Status SetUp(Conn& conn, uint32_t, uint32_t) override {
    if (auto ok = Walk(conn, kRootFid, kSharedFid, {"data"}); !ok) return ok;
    count_ = IoCount(conn.ctx());
    return Lopen(conn, kSharedFid, p9x::kOpenRdonly);
  }
  uint32_t EmitGroup(uint32_t lane, uint64_t, uint32_t group, Emitter& out) override {
    if (group > 0) return 0;
    if (next_offset_ + count_ > file_size_) next_offset_ = 0;
    out.Send(TagOf(lane, 0), p9x::Tread{.fid = kSharedFid, .offset = next_offset_, .count = count_});
    next_offset_ += count_;
    return 1;
  }
  Status OnReply(uint32_t, uint32_t, uint32_t, std::span<const uint8_t> frame, const WireContext& ctx) override {
    p9x::Rread reply;
    if (!p9x::DecodeInto(frame, ctx, &reply)) return Unexpected("Rread expected, got " + DescribeUnexpected(frame, ctx));
    if (reply.data.bytes.size() != count_) {
      return Unexpected("short read: " + std::to_string(reply.data.bytes.size()) + " of " +
                        std::to_string(count_));
    }
    payload_bytes += reply.data.bytes.size();
    return {};
  }

 private:
  uint64_t file_size_;
  uint64_t next_offset_ = 0;
  uint32_t count_ = 0;
};

// ---- write ----

class WriteWorkload : public Workload {
 public:
  explicit WriteWorkload(uint64_t file_size) : file_size_(file_size) {}
  Status SetUp(Conn& conn, uint32_t first_lane, uint32_t lanes) override {
    if (auto ok = Walk(conn, kRootFid, kSharedFid, {"wdata"}); !ok) return ok;
    if (auto ok = Lopen(conn, kSharedFid, p9x::kOpenWronly); !ok) return ok;
    count_ = IoCount(conn.ctx());
    payload_.resize(count_);
    for (size_t i = 0; i < payload_.size(); ++i) payload_[i] = static_cast<uint8_t>(i * 31 + 7);
    frames_.resize(first_lane + lanes);
    for (uint32_t lane = first_lane; lane < first_lane + lanes; ++lane) {
      const p9x::Twrite write{.fid = kSharedFid, .offset = 0, .data = {payload_}};
      frames_[lane].resize(p9x::EncodedSize(write, conn.ctx().dialect));
      auto written = p9x::Encode(TagOf(lane, 0), write, conn.ctx(), frames_[lane]);
      if (!written) return Unexpected(std::string("cannot encode Twrite"));
    }
    return {};
  }
  uint32_t EmitGroup(uint32_t lane, uint64_t, uint32_t group, Emitter& out) override {
    if (group > 0) return 0;
    if (next_offset_ + count_ > file_size_) next_offset_ = 0;
    // Twrite is size[4] type[1] tag[2] fid[4] offset[8] count[4] data: patch offset in place.
    constexpr size_t kOffsetAt = p9x::kHeaderSize + 4;
    p9x::internal::StoreLe<uint64_t>(frames_[lane].data() + kOffsetAt, next_offset_);
    next_offset_ += count_;
    out.SendExternal(TagOf(lane, 0), frames_[lane]);
    return 1;
  }
  Status OnReply(uint32_t, uint32_t, uint32_t, std::span<const uint8_t> frame, const WireContext& ctx) override {
    p9x::Rwrite reply;
    if (!p9x::DecodeInto(frame, ctx, &reply)) return Unexpected("Rwrite expected, got " + DescribeUnexpected(frame, ctx));
    if (reply.count != count_) return Unexpected("short write: " + std::to_string(reply.count));
    payload_bytes += reply.count;
    return {};
  }

 private:
  uint64_t file_size_;
  uint64_t next_offset_ = 0;
  uint32_t count_ = 0;
  std::vector<uint8_t> payload_;
  std::vector<std::vector<uint8_t>> frames_;
};

// ---- walk + getattr + clunk ----

class WalkGetattrClunkWorkload : public Workload {
 public:
  explicit WalkGetattrClunkWorkload(bool pipelined) : pipelined_(pipelined) {}
  Status SetUp(Conn&, uint32_t, uint32_t) override { return {}; }
  uint32_t EmitGroup(uint32_t lane, uint64_t, uint32_t group, Emitter& out) override {
    const uint32_t fid = LaneFid(lane);
    const p9x::Twalk walk{.fid = kRootFid, .newfid = fid, .wnames = Names({"f"})};
    const p9x::Tgetattr getattr{.fid = fid, .request_mask = p9x::kGetattrBasic};
    const p9x::Tclunk clunk{.fid = fid};
    if (pipelined_) {
      if (group > 0) return 0;
      // Legal: the client chose newfid, so Tgetattr and Tclunk may name it before Rwalk.
      out.Send(TagOf(lane, 0), walk);
      out.Send(TagOf(lane, 1), getattr);
      out.Send(TagOf(lane, 2), clunk);
      return 3;
    }
    switch (group) {
      case 0: out.Send(TagOf(lane, 0), walk); return 1;
      case 1: out.Send(TagOf(lane, 0), getattr); return 1;
      case 2: out.Send(TagOf(lane, 0), clunk); return 1;
      default: return 0;
    }
  }
  Status OnReply(uint32_t, uint32_t group, uint32_t slot, std::span<const uint8_t> frame,
                 const WireContext& ctx) override {
    switch (pipelined_ ? slot : group) {
      case 0: return Expect<p9x::Rwalk>(frame, ctx);
      case 1: return Expect<p9x::Rgetattr>(frame, ctx);
      default: return Expect<p9x::Rclunk>(frame, ctx);
    }
  }

 private:
  bool pipelined_;
};

// ---- getattr ----

class GetattrWorkload : public Workload {
 public:
  Status SetUp(Conn& conn, uint32_t, uint32_t) override { return Walk(conn, kRootFid, kSharedFid, {"f"}); }
  uint32_t EmitGroup(uint32_t lane, uint64_t, uint32_t group, Emitter& out) override {
    if (group > 0) return 0;
    out.Send(TagOf(lane, 0), p9x::Tgetattr{.fid = kSharedFid, .request_mask = p9x::kGetattrBasic});
    return 1;
  }
  Status OnReply(uint32_t, uint32_t, uint32_t, std::span<const uint8_t> frame, const WireContext& ctx) override {
    return Expect<p9x::Rgetattr>(frame, ctx);
  }
};

// ---- create + unlink ----

class CreateWorkload : public Workload {
 public:
  explicit CreateWorkload(std::string* description) : description_(description) {}
  Status SetUp(Conn& conn, uint32_t, uint32_t) override {
    if (auto ok = Walk(conn, kRootFid, kSharedFid, {"create"}); !ok) return ok;
    // Probe Tunlinkat with a name that does not exist: ENOENT means supported.
    if (!EncodeInto(conn.out(), 1, p9x::Tunlinkat{.dirfd = kSharedFid, .name = "absent", .flags = 0}, conn.ctx())) {
      return Unexpected(std::string("cannot encode Tunlinkat"));
    }
    if (auto sent = conn.out().Flush(conn.fd()); !sent) return sent;
    auto frame = conn.ReadFrame();
    if (!frame) return Unexpected(frame.error());
    p9x::Rlerror error;
    use_remove_ = p9x::DecodeInto(*frame, conn.ctx(), &error) &&
                  error.ecode == static_cast<uint32_t>(p9x::Errno::kEOPNOTSUPP);
    if (description_) {
      *description_ = use_remove_ ? "walk(clone)+lcreate+remove (Tunlinkat: EOPNOTSUPP)"
                                  : "walk(clone)+lcreate+clunk+unlinkat";
    }
    return {};
  }
  uint32_t EmitGroup(uint32_t lane, uint64_t op, uint32_t group, Emitter& out) override {
    const uint32_t fid = LaneFid(lane);
    char name_buffer[32];
    const int len = std::snprintf(name_buffer, sizeof name_buffer, "n%u-%llu", lane,
                                  static_cast<unsigned long long>(op));
    const std::string_view name(name_buffer, static_cast<size_t>(len));
    switch (group) {
      case 0:
        out.Send(TagOf(lane, 0), p9x::Twalk{.fid = kSharedFid, .newfid = fid, .wnames = {}});
        return 1;
      case 1:
        out.Send(TagOf(lane, 0),
                 p9x::Tlcreate{.fid = fid, .name = name,
                               .flags = p9x::kOpenRdwr | p9x::kOpenCreate | p9x::kOpenExcl,
                               .mode = 0644, .gid = 0});
        return 1;
      case 2:
        if (use_remove_) {
          out.Send(TagOf(lane, 0), p9x::Tremove{.fid = fid});
        } else {
          out.Send(TagOf(lane, 0), p9x::Tclunk{.fid = fid});
        }
        return 1;
      case 3:
        if (use_remove_) return 0;
        out.Send(TagOf(lane, 0), p9x::Tunlinkat{.dirfd = kSharedFid, .name = name, .flags = 0});
        return 1;
      default:
        return 0;
    }
  }
  Status OnReply(uint32_t, uint32_t group, uint32_t, std::span<const uint8_t> frame,
                 const WireContext& ctx) override {
    switch (group) {
      case 0: return Expect<p9x::Rwalk>(frame, ctx);
      case 1: return Expect<p9x::Rlcreate>(frame, ctx);
      case 2: return use_remove_ ? Expect<p9x::Rremove>(frame, ctx) : Expect<p9x::Rclunk>(frame, ctx);
      default: return Expect<p9x::Runlinkat>(frame, ctx);
    }
  }

 private:
  std::string* description_;
  bool use_remove_ = false;
};

// ---- readdir ----

class ReaddirWorkload : public Workload {
 public:
  explicit ReaddirWorkload(uint64_t* entries) : entries_out_(entries) {}
  Status SetUp(Conn& conn, uint32_t first_lane, uint32_t lanes) override {
    count_ = conn.ctx().msize - p9x::kReaddirHeaderSize;
    lanes_.resize(first_lane + lanes);
    return {};
  }
  uint32_t EmitGroup(uint32_t lane, uint64_t, uint32_t group, Emitter& out) override {
    LaneState& s = lanes_[lane];
    const uint32_t fid = LaneFid(lane);
    if (group == 0) {
      s = LaneState{};
      out.Send(TagOf(lane, 0), p9x::Twalk{.fid = kRootFid, .newfid = fid, .wnames = Names({"big"})});
      s.sent = Sent::kWalk;
      return 1;
    }
    switch (s.sent) {
      case Sent::kWalk:
        out.Send(TagOf(lane, 0), p9x::Tlopen{.fid = fid, .flags = p9x::kOpenRdonly | p9x::kOpenDirectory});
        s.sent = Sent::kLopen;
        return 1;
      case Sent::kLopen:
      case Sent::kReaddir:
        if (!s.at_end) {
          out.Send(TagOf(lane, 0), p9x::Treaddir{.fid = fid, .offset = s.offset, .count = count_});
          s.sent = Sent::kReaddir;
          return 1;
        }
        out.Send(TagOf(lane, 0), p9x::Tclunk{.fid = fid});
        s.sent = Sent::kClunk;
        return 1;
      case Sent::kClunk:
        if (entries_out_) *entries_out_ = s.entries;
        return 0;
    }
    return 0;
  }
  Status OnReply(uint32_t lane, uint32_t, uint32_t, std::span<const uint8_t> frame,
                 const WireContext& ctx) override {
    LaneState& s = lanes_[lane];
    switch (s.sent) {
      case Sent::kWalk: return Expect<p9x::Rwalk>(frame, ctx);
      case Sent::kLopen: return Expect<p9x::Rlopen>(frame, ctx);
      case Sent::kClunk: return Expect<p9x::Rclunk>(frame, ctx);
      case Sent::kReaddir: break;
    }
    p9x::Rreaddir reply;
    if (!p9x::DecodeInto(frame, ctx, &reply)) return Unexpected("Rreaddir expected, got " + DescribeUnexpected(frame, ctx));
    if (reply.data.bytes.empty()) {
      s.at_end = true;
      return {};
    }
    payload_bytes += reply.data.bytes.size();
    p9x::DirentReader reader(reply.data.bytes, ctx.dialect);
    p9x::Dirent entry;
    while (reader.Next(&entry)) {
      ++s.entries;
      s.offset = entry.offset;
    }
    if (!reader.ok()) return Unexpected(std::string("malformed Rreaddir entry"));
    return {};
  }

 private:
  enum class Sent : uint8_t { kWalk, kLopen, kReaddir, kClunk };
  struct LaneState {
    Sent sent = Sent::kWalk;
    bool at_end = false;
    uint64_t offset = 0;
    uint64_t entries = 0;
  };
  uint64_t* entries_out_;
  uint32_t count_ = 0;
  std::vector<LaneState> lanes_;
};

// ---- ls -l ----

class ListLongWorkload : public Workload {
 public:
  explicit ListLongWorkload(std::shared_ptr<const std::vector<std::string>> names) : names_(std::move(names)) {}
  Status SetUp(Conn& conn, uint32_t, uint32_t) override {
    if (names_->empty()) return Unexpected(std::string("no names to stat"));
    return Walk(conn, kRootFid, kSharedFid, {"big"});
  }
  // In turn, as Linux v9fs looks up and stats an uncached name (walk, then getattr; the clunk
  // when the dentry goes): a server may run pipelined requests out of order.
  uint32_t EmitGroup(uint32_t lane, uint64_t op, uint32_t group, Emitter& out) override {
    const uint32_t fid = LaneFid(lane);
    switch (group) {
      case 0: {
        const std::string& name = (*names_)[op % names_->size()];
        out.Send(TagOf(lane, 0), p9x::Twalk{.fid = kSharedFid, .newfid = fid, .wnames = Names({name})});
        return 1;
      }
      case 1: out.Send(TagOf(lane, 0), p9x::Tgetattr{.fid = fid, .request_mask = p9x::kGetattrBasic}); return 1;
      case 2: out.Send(TagOf(lane, 0), p9x::Tclunk{.fid = fid}); return 1;
      default: return 0;
    }
  }
  Status OnReply(uint32_t, uint32_t group, uint32_t, std::span<const uint8_t> frame, const WireContext& ctx) override {
    switch (group) {
      case 0: return Expect<p9x::Rwalk>(frame, ctx);
      case 1: return Expect<p9x::Rgetattr>(frame, ctx);
      default: return Expect<p9x::Rclunk>(frame, ctx);
    }
  }

 private:
  std::shared_ptr<const std::vector<std::string>> names_;
};

// ---- connection mix ----

class MixWorkload : public Workload {
 public:
  explicit MixWorkload(uint64_t file_size) : chunks_(file_size / kReadSize) {}
  Status SetUp(Conn& conn, uint32_t, uint32_t) override {
    if (auto ok = Walk(conn, kRootFid, kSharedFid, {"f"}); !ok) return ok;
    if (auto ok = Walk(conn, kRootFid, kSharedFid2, {"data"}); !ok) return ok;
    return Lopen(conn, kSharedFid2, p9x::kOpenRdonly);
  }
  uint32_t KindOf(uint64_t op) const override { return MixOpIsRead(op) ? 1 : 0; }
  uint32_t kinds() const override { return 2; }
  uint32_t EmitGroup(uint32_t lane, uint64_t op, uint32_t group, Emitter& out) override {
    if (group > 0) return 0;
    if (MixOpIsRead(op)) {
      const uint64_t offset = ((op / 10 + lane * 7919) % chunks_) * kReadSize;
      out.Send(TagOf(lane, 0), p9x::Tread{.fid = kSharedFid2, .offset = offset, .count = kReadSize});
    } else {
      out.Send(TagOf(lane, 0), p9x::Tgetattr{.fid = kSharedFid, .request_mask = p9x::kGetattrBasic});
    }
    return 1;
  }
  Status OnReply(uint32_t, uint32_t, uint32_t, std::span<const uint8_t> frame, const WireContext& ctx) override {
    if (frame.size() > p9x::kHeaderSize && frame[4] == static_cast<uint8_t>(p9x::MsgType::kRread)) {
      p9x::Rread reply;
      if (!p9x::DecodeInto(frame, ctx, &reply)) return Unexpected("bad Rread: " + DescribeUnexpected(frame, ctx));
      payload_bytes += reply.data.bytes.size();
      return {};
    }
    return Expect<p9x::Rgetattr>(frame, ctx);
  }

 private:
  static constexpr uint32_t kReadSize = 4096;
  uint64_t chunks_;
};

// ---- floor ----

class FloorWorkload : public Workload {
 public:
  FloorWorkload(std::vector<Schedule> schedules, bool mix) : schedules_(std::move(schedules)), mix_(mix) {
    for (const Schedule& schedule : schedules_) {
      for (const auto& group : schedule) {
        for (const Step& step : group) max_request_ = std::max(max_request_, step.request);
      }
    }
  }
  Status SetUp(Conn&, uint32_t first_lane, uint32_t lanes) override {
    if (schedules_.empty() || schedules_[0].empty()) return Unexpected(std::string("empty floor schedule"));
    fillers_.resize(first_lane + lanes);
    lane_expected_.resize(first_lane + lanes, nullptr);
    for (uint32_t lane = first_lane; lane < first_lane + lanes; ++lane) {
      fillers_[lane].resize(max_request_);
      for (size_t i = 0; i < max_request_; ++i) fillers_[lane][i] = static_cast<uint8_t>(i * 31 + 7);
    }
    return {};
  }
  uint32_t KindOf(uint64_t op) const override { return mix_ && MixOpIsRead(op) ? 1 : 0; }
  uint32_t kinds() const override { return static_cast<uint32_t>(schedules_.size()); }
  uint32_t EmitGroup(uint32_t lane, uint64_t op, uint32_t group, Emitter& out) override {
    const Schedule& schedule = schedules_[std::min<size_t>(KindOf(op), schedules_.size() - 1)];
    if (group >= schedule.size()) return 0;
    const auto& steps = schedule[group];
    for (uint32_t slot = 0; slot < steps.size(); ++slot) {
      out.SendFloor(TagOf(lane, slot), steps[slot].request, steps[slot].reply, fillers_[lane]);
    }
    lane_expected_[lane] = &steps;
    return static_cast<uint32_t>(steps.size());
  }
  Status OnReply(uint32_t lane, uint32_t, uint32_t slot, std::span<const uint8_t> frame, const WireContext&) override {
    const auto* steps = lane_expected_[lane];
    if (steps == nullptr || slot >= steps->size() || frame.size() != (*steps)[slot].reply || frame[4] != 0xF1) {
      return Unexpected("floor reply of " + std::to_string(frame.size()) + " bytes does not match");
    }
    payload_bytes += frame.size();
    return {};
  }

 private:
  std::vector<Schedule> schedules_;
  bool mix_;
  uint32_t max_request_ = 0;
  std::vector<std::vector<uint8_t>> fillers_;
  std::vector<const std::vector<Step>*> lane_expected_;
};

}  // namespace

std::unique_ptr<Workload> MakeReadWorkload(uint64_t file_size) { return std::make_unique<ReadWorkload>(file_size); }
std::unique_ptr<Workload> MakeWriteWorkload(uint64_t file_size) { return std::make_unique<WriteWorkload>(file_size); }
std::unique_ptr<Workload> MakeWalkGetattrClunkWorkload(bool pipelined) {
  return std::make_unique<WalkGetattrClunkWorkload>(pipelined);
}
std::unique_ptr<Workload> MakeGetattrWorkload() { return std::make_unique<GetattrWorkload>(); }
std::unique_ptr<Workload> MakeCreateWorkload(std::string* description) {
  return std::make_unique<CreateWorkload>(description);
}
std::unique_ptr<Workload> MakeReaddirWorkload(uint64_t* entries) { return std::make_unique<ReaddirWorkload>(entries); }
std::unique_ptr<Workload> MakeListLongWorkload(std::shared_ptr<const std::vector<std::string>> names) {
  return std::make_unique<ListLongWorkload>(std::move(names));
}
std::unique_ptr<Workload> MakeMixWorkload(uint64_t file_size) { return std::make_unique<MixWorkload>(file_size); }
std::unique_ptr<Workload> MakeFloorWorkload(std::vector<Schedule> schedules, bool mix) {
  return std::make_unique<FloorWorkload>(std::move(schedules), mix);
}

Result<std::vector<std::string>> ListNames(Conn& conn, std::string_view dir) {
  const uint32_t fid = 90;
  if (auto ok = Walk(conn, kRootFid, fid, {dir}); !ok) return Unexpected(ok.error());
  if (auto ok = Lopen(conn, fid, p9x::kOpenRdonly | p9x::kOpenDirectory); !ok) return Unexpected(ok.error());
  std::vector<std::string> names;
  uint64_t offset = 0;
  while (true) {
    auto reply = Call<p9x::Rreaddir>(
        conn, 1, p9x::Treaddir{.fid = fid, .offset = offset, .count = conn.ctx().msize - p9x::kReaddirHeaderSize});
    if (!reply) return Unexpected(reply.error());
    if (reply->data.bytes.empty()) break;
    p9x::DirentReader reader(reply->data.bytes, conn.ctx().dialect);
    p9x::Dirent entry;
    while (reader.Next(&entry)) {
      offset = entry.offset;
      if (entry.name != "." && entry.name != "..") names.emplace_back(entry.name);
    }
    if (!reader.ok()) return Unexpected(std::string("malformed Rreaddir entry"));
  }
  if (auto clunk = Call<p9x::Rclunk>(conn, 1, p9x::Tclunk{.fid = fid}); !clunk) return Unexpected(clunk.error());
  return names;
}

}  // namespace p9bench
