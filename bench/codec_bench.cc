// SPDX-License-Identifier: MIT
// Codec throughput: decode and encode of the hot messages, in both dialects, with every check the
// codec makes on untrusted input (results and command in bench/README.md).
//
//   codec_bench --benchmark_filter=... [--benchmark_min_time=...]
//
// Each benchmark's argument is the dialect: /0 is 9P2000.L (legacy), /1 is 9P2000.L.xqid.
// items_per_second counts messages (Rreaddir: directory entries). Decoding goes two ways:
// DecodeAs<M> (the server's typed fast path) and DecodeFrame (the std::variant of every message).
// BM_NaiveTwalkDecode is the baseline: a hand-written C-style decoder of a Twalk that makes the
// same checks (header, size, msize, type, nwname <= 16, every name inside the frame, no
// trailing bytes) without the table-driven machinery.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "codec/dirent.h"
#include "codec/frame.h"

namespace p9x {
namespace {

constexpr std::string_view kNames[kMaxWalkElements] = {"usr", "share", "doc", "p9x", "a", "b", "c",
                                                        "d",   "e",     "f",   "g",   "h", "i", "j",
                                                        "k",   "file.txt"};

Dialect DialectArg(const benchmark::State& state) {
  return state.range(0) ? Dialect::kXqid : Dialect::kLegacy;
}

Qid SomeQid(Dialect d, uint64_t path) {
  return Qid{kQtFile, 7, path, d == Dialect::kXqid ? uint64_t{3} : uint64_t{0}};
}

Twalk MakeTwalk(size_t names) {
  Twalk walk{1, 2, {}};
  walk.wnames.count = static_cast<uint16_t>(names);
  for (size_t i = 0; i < names; ++i) walk.wnames.names[i] = kNames[i];
  return walk;
}

Rgetattr MakeRgetattr(Dialect d) {
  Rgetattr r{};
  r.valid = kGetattrBasic;
  r.qid = SomeQid(d, 17);
  r.mode = 0100644;
  r.uid = 1000;
  r.gid = 100;
  r.nlink = 1;
  r.size = 12345;
  r.blksize = 4096;
  r.blocks = 24;
  r.atime_sec = r.mtime_sec = r.ctime_sec = 1700000000;
  return r;
}

Rwalk MakeRwalk16(Dialect d) {
  Rwalk r;
  r.wqids.count = kMaxWalkElements;
  for (uint16_t i = 0; i < kMaxWalkElements; ++i) r.wqids.qids[i] = SomeQid(d, 100 + i);
  return r;
}

const std::vector<uint8_t>& Payload() {
  static const std::vector<uint8_t> data(8192, 0x5a);
  return data;
}

template <class M>
std::vector<uint8_t> EncodeOrDie(const M& msg, Dialect d) {
  std::vector<uint8_t> out(EncodedSize(msg, d));
  auto n = Encode(uint16_t{1}, msg, WireContext{d, kMaxMsize}, out);
  if (!n) {
    std::fprintf(stderr, "codec_bench: encode failed: %s\n", n.error().Describe().c_str());
    std::abort();
  }
  return out;
}

// ---- decoding ----

template <class M>
void DecodeAsLoop(benchmark::State& state, const std::vector<uint8_t>& bytes, Dialect d) {
  const WireContext ctx{d, kMaxMsize};
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);  // the frame is "new" each time: no hoisting out of the loop
    auto msg = DecodeAs<M>(std::span<const uint8_t>(p, n), ctx);
    if (!msg) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(msg);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void DecodeFrameLoop(benchmark::State& state, const std::vector<uint8_t>& bytes, Dialect d) {
  const WireContext ctx{d, kMaxMsize};
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    auto frame = DecodeFrame(std::span<const uint8_t>(p, n), ctx);
    if (!frame) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_DecodeAsTwalk1(benchmark::State& s) { DecodeAsLoop<Twalk>(s, EncodeOrDie(MakeTwalk(1), DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameTwalk1(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(MakeTwalk(1), DialectArg(s)), DialectArg(s)); }
void BM_DecodeAsTwalk16(benchmark::State& s) { DecodeAsLoop<Twalk>(s, EncodeOrDie(MakeTwalk(16), DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameTwalk16(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(MakeTwalk(16), DialectArg(s)), DialectArg(s)); }
void BM_DecodeAsTread(benchmark::State& s) { DecodeAsLoop<Tread>(s, EncodeOrDie(Tread{1, 4096, 8192}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameTread(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(Tread{1, 4096, 8192}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeAsRread8k(benchmark::State& s) { DecodeAsLoop<Rread>(s, EncodeOrDie(Rread{Bytes{Payload()}}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameRread8k(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(Rread{Bytes{Payload()}}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeAsTwrite8k(benchmark::State& s) { DecodeAsLoop<Twrite>(s, EncodeOrDie(Twrite{1, 0, Bytes{Payload()}}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameTwrite8k(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(Twrite{1, 0, Bytes{Payload()}}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeAsRgetattr(benchmark::State& s) { DecodeAsLoop<Rgetattr>(s, EncodeOrDie(MakeRgetattr(DialectArg(s)), DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameRgetattr(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(MakeRgetattr(DialectArg(s)), DialectArg(s)), DialectArg(s)); }
void BM_DecodeAsRwalk16(benchmark::State& s) { DecodeAsLoop<Rwalk>(s, EncodeOrDie(MakeRwalk16(DialectArg(s)), DialectArg(s)), DialectArg(s)); }
void BM_DecodeFrameRwalk16(benchmark::State& s) { DecodeFrameLoop(s, EncodeOrDie(MakeRwalk16(DialectArg(s)), DialectArg(s)), DialectArg(s)); }

// ---- the baseline: a hand-written decoder of a Twalk with full bounds checks ----

struct NaiveTwalk {
  uint16_t tag;
  uint32_t fid;
  uint32_t newfid;
  uint16_t nwname;
  const uint8_t* name[kMaxWalkElements];
  uint16_t len[kMaxWalkElements];
};

inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// 0 on success, -1 on any malformation (the same conditions DecodeAs<Twalk> refuses).
int NaiveDecodeTwalk(const uint8_t* p, size_t n, uint32_t msize, NaiveTwalk* out) {
  if (n < 7) return -1;
  const uint32_t size = Le32(p);
  if (size < 7 || size > msize || size != n) return -1;
  if (p[4] != 110) return -1;
  out->tag = Le16(p + 5);
  if (n < 17) return -1;
  out->fid = Le32(p + 7);
  out->newfid = Le32(p + 11);
  out->nwname = Le16(p + 15);
  if (out->nwname > kMaxWalkElements) return -1;
  size_t off = 17;
  for (uint16_t i = 0; i < out->nwname; ++i) {
    if (n - off < 2) return -1;
    const uint16_t len = Le16(p + off);
    off += 2;
    if (n - off < len) return -1;
    out->name[i] = p + off;
    out->len[i] = len;
    off += len;
  }
  return off == n ? 0 : -1;
}

void BM_NaiveTwalkDecode(benchmark::State& state) {
  const std::vector<uint8_t> bytes = EncodeOrDie(MakeTwalk(static_cast<size_t>(state.range(1))), DialectArg(state));
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    NaiveTwalk walk;
    if (NaiveDecodeTwalk(p, n, kMaxMsize, &walk) != 0) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(walk);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ---- encoding ----

template <class M>
void EncodeLoop(benchmark::State& state, const M& msg, Dialect d) {
  const WireContext ctx{d, kMaxMsize};
  std::vector<uint8_t> out(EncodedSize(msg, d));
  for (auto _ : state) {
    auto n = Encode(uint16_t{1}, msg, ctx, std::span<uint8_t>(out));
    if (!n) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_EncodeTwalk1(benchmark::State& s) { EncodeLoop(s, MakeTwalk(1), DialectArg(s)); }
void BM_EncodeTwalk16(benchmark::State& s) { EncodeLoop(s, MakeTwalk(16), DialectArg(s)); }
void BM_EncodeTread(benchmark::State& s) { EncodeLoop(s, Tread{1, 4096, 8192}, DialectArg(s)); }
void BM_EncodeRgetattr(benchmark::State& s) { EncodeLoop(s, MakeRgetattr(DialectArg(s)), DialectArg(s)); }
void BM_EncodeRwalk16(benchmark::State& s) { EncodeLoop(s, MakeRwalk16(DialectArg(s)), DialectArg(s)); }

// Rgetattr through the variant (Encode(const Frame&)), as a generic reply path would.
void BM_EncodeFrameRgetattr(benchmark::State& state) {
  const Dialect d = DialectArg(state);
  const WireContext ctx{d, kMaxMsize};
  const Frame frame{1, MakeRgetattr(d)};
  std::vector<uint8_t> out(EncodedSize(frame.msg, d));
  for (auto _ : state) {
    auto n = Encode(frame, ctx, std::span<uint8_t>(out));
    if (!n) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Rread and Twrite headers: the zero-copy reply header (EncodeCountedReplyHeader) and a full
// Encode<Twrite> whose 8 KiB of data is copied (what a client does).
void BM_EncodeRreadHeader(benchmark::State& state) {
  uint8_t header[kRreadHeaderSize];
  uint32_t count = 8192;
  for (auto _ : state) {
    benchmark::DoNotOptimize(count);
    EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize>(header), MsgType::kRread, 1, count);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
void BM_EncodeTwrite8k(benchmark::State& s) { EncodeLoop(s, Twrite{1, 0, Bytes{Payload()}}, DialectArg(s)); }

// ---- Rreaddir with 1,000 entries ----

constexpr int kEntries = 1000;

const std::vector<std::string>& EntryNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (int i = 0; i < kEntries; ++i) v.push_back("file" + std::to_string(100000 + i));
    return v;
  }();
  return names;
}

// Packs 1,000 entries with DirentWriter behind an 11-byte header, as a server's Treaddir does.
size_t PackReaddir(Dialect d, std::span<uint8_t> buffer) {
  DirentWriter writer(buffer.subspan(kRreadHeaderSize), d);
  const auto& names = EntryNames();
  for (int i = 0; i < kEntries; ++i) {
    const Dirent e{SomeQid(d, static_cast<uint64_t>(1000 + i)), static_cast<uint64_t>(i + 1), kDtReg,
                   names[static_cast<size_t>(i)]};
    if (!writer.Add(e)) return 0;
  }
  EncodeCountedReplyHeader(buffer.first<kRreadHeaderSize>(), MsgType::kRreaddir, 1,
                           static_cast<uint32_t>(writer.size()));
  return kRreadHeaderSize + writer.size();
}

void BM_EncodeRreaddir1000(benchmark::State& state) {
  const Dialect d = DialectArg(state);
  std::vector<uint8_t> buffer(kRreadHeaderSize + kEntries * DirentWireSize(d, 10));
  for (auto _ : state) {
    const size_t n = PackReaddir(d, buffer);
    if (n == 0) state.SkipWithError("entries did not fit");
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kEntries);
  state.SetLabel("items = directory entries");
}

// Decodes (which validates every entry) and then walks the entries, as a client's readdir does.
template <bool kViaFrame>
void DecodeReaddirLoop(benchmark::State& state) {
  const Dialect d = DialectArg(state);
  const WireContext ctx{d, kMaxMsize};
  std::vector<uint8_t> buffer(kRreadHeaderSize + kEntries * DirentWireSize(d, 10));
  buffer.resize(PackReaddir(d, buffer));
  const uint8_t* p = buffer.data();
  const size_t n = buffer.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    std::span<const uint8_t> data;
    if constexpr (kViaFrame) {
      auto frame = DecodeFrame(std::span<const uint8_t>(p, n), ctx);
      if (!frame) state.SkipWithError("decode failed");
      data = std::get<Rreaddir>(frame->msg).data.bytes;
    } else {
      auto msg = DecodeAs<Rreaddir>(std::span<const uint8_t>(p, n), ctx);
      if (!msg) state.SkipWithError("decode failed");
      data = msg->data.bytes;
    }
    DirentReader reader(data, d);
    Dirent e;
    uint64_t sum = 0;
    int count = 0;
    while (reader.Next(&e)) {
      sum += e.offset + e.name.size();
      ++count;
    }
    if (count != kEntries) state.SkipWithError("wrong entry count");
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kEntries);
  state.SetLabel("items = directory entries");
}
void BM_DecodeAsRreaddir1000(benchmark::State& s) { DecodeReaddirLoop<false>(s); }
void BM_DecodeFrameRreaddir1000(benchmark::State& s) { DecodeReaddirLoop<true>(s); }

// ---- experiments for the codec changes proposed in bench/README.md ----
// Not the public API: they call internal::DecodeBody to measure what a DecodeInto(frame, ctx,
// M*) entry point would cost, decoding into a message the caller keeps (no zero-initialisation
// and no copy of M into the Result), with DecodeHeader out of line (as now) or inlined.

// DecodeInto: the server's path (one message object reused, no copy out of a Result).
template <class M>
void DecodeIntoLoop(benchmark::State& state, const std::vector<uint8_t>& bytes, Dialect d) {
  const WireContext ctx{d, kMaxMsize};
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  M msg{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    if (!DecodeInto(std::span<const uint8_t>(p, n), ctx, &msg)) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(msg);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
void BM_DecodeIntoTwalk1(benchmark::State& s) { DecodeIntoLoop<Twalk>(s, EncodeOrDie(MakeTwalk(1), DialectArg(s)), DialectArg(s)); }
void BM_DecodeIntoTwalk16(benchmark::State& s) { DecodeIntoLoop<Twalk>(s, EncodeOrDie(MakeTwalk(16), DialectArg(s)), DialectArg(s)); }
void BM_DecodeIntoTread(benchmark::State& s) { DecodeIntoLoop<Tread>(s, EncodeOrDie(Tread{1, 4096, 8192}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeIntoTwrite8k(benchmark::State& s) { DecodeIntoLoop<Twrite>(s, EncodeOrDie(Twrite{1, 0, Bytes{Payload()}}, DialectArg(s)), DialectArg(s)); }
void BM_DecodeIntoRgetattr(benchmark::State& s) { DecodeIntoLoop<Rgetattr>(s, EncodeOrDie(MakeRgetattr(DialectArg(s)), DialectArg(s)), DialectArg(s)); }
void BM_DecodeIntoRwalk16(benchmark::State& s) { DecodeIntoLoop<Rwalk>(s, EncodeOrDie(MakeRwalk16(DialectArg(s)), DialectArg(s)), DialectArg(s)); }

#define P9X_BOTH_DIALECTS(bm) BENCHMARK(bm)->ArgName("xqid")->Arg(0)->Arg(1)

BENCHMARK(BM_NaiveTwalkDecode)->ArgNames({"xqid", "names"})->Args({0, 1})->Args({0, 16})->Args({1, 1})->Args({1, 16});
P9X_BOTH_DIALECTS(BM_DecodeAsTwalk1);
P9X_BOTH_DIALECTS(BM_DecodeFrameTwalk1);
P9X_BOTH_DIALECTS(BM_DecodeAsTwalk16);
P9X_BOTH_DIALECTS(BM_DecodeFrameTwalk16);
P9X_BOTH_DIALECTS(BM_DecodeAsTread);
P9X_BOTH_DIALECTS(BM_DecodeFrameTread);
P9X_BOTH_DIALECTS(BM_DecodeAsRread8k);
P9X_BOTH_DIALECTS(BM_DecodeFrameRread8k);
P9X_BOTH_DIALECTS(BM_DecodeAsTwrite8k);
P9X_BOTH_DIALECTS(BM_DecodeFrameTwrite8k);
P9X_BOTH_DIALECTS(BM_DecodeAsRgetattr);
P9X_BOTH_DIALECTS(BM_DecodeFrameRgetattr);
P9X_BOTH_DIALECTS(BM_DecodeAsRwalk16);
P9X_BOTH_DIALECTS(BM_DecodeFrameRwalk16);
P9X_BOTH_DIALECTS(BM_DecodeAsRreaddir1000);
P9X_BOTH_DIALECTS(BM_DecodeIntoTwalk1);
P9X_BOTH_DIALECTS(BM_DecodeIntoTwalk16);
P9X_BOTH_DIALECTS(BM_DecodeIntoTread);
P9X_BOTH_DIALECTS(BM_DecodeIntoTwrite8k);
P9X_BOTH_DIALECTS(BM_DecodeIntoRgetattr);
P9X_BOTH_DIALECTS(BM_DecodeIntoRwalk16);
P9X_BOTH_DIALECTS(BM_DecodeFrameRreaddir1000);
P9X_BOTH_DIALECTS(BM_EncodeTwalk1);
P9X_BOTH_DIALECTS(BM_EncodeTwalk16);
P9X_BOTH_DIALECTS(BM_EncodeTread);
BENCHMARK(BM_EncodeRreadHeader);
P9X_BOTH_DIALECTS(BM_EncodeTwrite8k);
P9X_BOTH_DIALECTS(BM_EncodeRgetattr);
P9X_BOTH_DIALECTS(BM_EncodeFrameRgetattr);
P9X_BOTH_DIALECTS(BM_EncodeRwalk16);
P9X_BOTH_DIALECTS(BM_EncodeRreaddir1000);

}  // namespace
}  // namespace p9x

BENCHMARK_MAIN();
