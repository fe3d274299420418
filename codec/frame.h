// SPDX-License-Identifier: MIT
// The frame codec: bytes <-> messages, pure (no I/O), bounded, allocation-free.
//
// A 9P frame is size[4] type[1] tag[2] body, size counting itself (intro(5)). Decoding checks,
// once per frame, everything the table implies: header sanity, the msize limit, each field
// inside the frame, at most 16 walk elements, directory entries whole, and no trailing bytes.
// The dialect (WireContext) is an explicit input and changes only the qid size.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "codec/codec_error.h"
#include "codec/messages.h"
#include "codec/result.h"
#include "codec/wire.h"

namespace p9x {

// What the session has agreed, and so what a frame may be. These are all the decoder's limits:
//  - msize: version(5): the server's msize is "the maximum length, in bytes, it will ever
//    generate or expect to receive in a single 9P message". Bounds every frame, hence every
//    string, data count and entry list, so no length field can make the decoder read or
//    allocate past the bytes actually received.
//  - 16 walk elements (kMaxWalkElements, walk(5)): fixed by the protocol, so fixed here.
//  - trailing bytes after the last field are an error (kTrailingBytes): a frame has exactly one
//    meaning, and a peer that pads frames is either buggy or speaking another dialect.
struct WireContext {
  Dialect dialect = Dialect::kLegacy;
  uint32_t msize = kMaxMsize;
};

struct FrameHeader {
  uint32_t size = 0;
  uint8_t type = 0;
  uint16_t tag = 0;
};

namespace internal {
// The header checks, without a Result (on every decode's path): size >= 7, size <= msize,
// size == frame.size().
inline bool ReadHeader(std::span<const uint8_t> frame, const WireContext& ctx, FrameHeader* h,
                       CodecError* error) {
  if (frame.size() < kHeaderSize) {
    *error = {CodecErrorKind::kFrameTooShort, 0, 0};
    return false;
  }
  h->size = LoadLe<uint32_t>(frame.data());
  h->type = frame[4];
  h->tag = LoadLe<uint16_t>(frame.data() + 5);
  CodecErrorKind kind;
  if (h->size < kHeaderSize) {
    kind = CodecErrorKind::kFrameTooShort;
  } else if (h->size > ctx.msize) {
    kind = CodecErrorKind::kFrameTooLarge;
  } else if (h->size != frame.size()) {
    kind = CodecErrorKind::kSizeMismatch;
  } else {
    return true;
  }
  *error = {kind, 0, h->type};
  return false;
}
}  // namespace internal

// Reads a complete frame's header: size >= 7, size == frame.size(), size <= msize. The type is
// not checked here (see DecodeFrame).
inline Result<FrameHeader, CodecError> DecodeHeader(std::span<const uint8_t> frame,
                                                    const WireContext& ctx) {
  FrameHeader h;
  CodecError error;
  if (!internal::ReadHeader(frame, ctx, &h, &error)) return Unexpected(error);
  return h;
}

// For stream framing: the size field of a frame whose first 4 bytes are `prefix`, checked
// against msize (kFrameTooShort, kFrameTooLarge). Tells a reader how many bytes to wait for.
Result<uint32_t, CodecError> PeekFrameSize(std::span<const uint8_t, 4> prefix, const WireContext& ctx);

// Stream framing: the first frame of `buffered`, the unconsumed bytes of a byte stream.
//  - an error (PeekFrameSize's): the size field is refused, so framing is lost;
//  - `frame` empty: the frame is incomplete, and `needed` bytes must be buffered (from the start
//    of `buffered`) before it is whole: 4 while the size field is not yet there, then the size;
//  - otherwise `frame` is the whole first frame (`needed` == frame.size()); consume that many.
// Pure: every stream reader (p9xd's connections, the client's reader, the benchmark) reads bytes
// its own way and asks this where frames end.
struct NextFrameResult {
  std::span<const uint8_t> frame;
  uint32_t needed = 0;
};
Result<NextFrameResult, CodecError> NextFrame(std::span<const uint8_t> buffered, const WireContext& ctx);

// Decodes any message. The result's views point into `frame`.
Result<Frame, CodecError> DecodeFrame(std::span<const uint8_t> frame, const WireContext& ctx);

// Decodes a frame that must hold message M (kWrongType otherwise) into *out, without the
// variant and without copying the message: the fast path for a server dispatching on the type
// byte (it can reuse one M per thread). On failure *out is unspecified.
template <class M>
Result<void, CodecError> DecodeInto(std::span<const uint8_t> frame, const WireContext& ctx, M* out);

// The same, returning the message by value (convenient; costs a copy of M).
template <class M>
Result<M, CodecError> DecodeAs(std::span<const uint8_t> frame, const WireContext& ctx);

// Bytes the whole frame takes.
template <class M>
uint32_t EncodedSize(const M& msg, Dialect dialect);
uint32_t EncodedSize(const Message& msg, Dialect dialect);

// Encodes a frame into `out`; returns the bytes written. Fails with kBufferTooSmall,
// kFrameTooLarge (over msize), kQidNeedsXqid, kTooManyWalkElements or kStringTooLong.
template <class M>
Result<uint32_t, CodecError> Encode(uint16_t tag, const M& msg, const WireContext& ctx,
                                    std::span<uint8_t> out);
Result<uint32_t, CodecError> Encode(const Frame& frame, const WireContext& ctx, std::span<uint8_t> out);

// Convenience for tests and tools (allocates).
Result<std::vector<uint8_t>, CodecError> EncodeToVector(const Frame& frame, const WireContext& ctx);

// Zero-copy replies: writes size[4] type[1] tag[2] count[4] for an Rread or Rreaddir whose
// `count` data bytes the caller has placed (or will place) right after these 11 bytes.
void EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize> out, MsgType type,
                              uint16_t tag, uint32_t count);

// ---- implementation of the templates ----

namespace internal {

template <class M>
bool DecodeBody(std::span<const uint8_t> body, Dialect dialect, M& msg, CodecError* error) {
  Reader reader(body, dialect, kHeaderSize);
  M::ForEachField(msg, [&](std::string_view, auto& field) { reader.Read(field); });
  if (reader.ok() && reader.remaining() != 0) reader.Fail(CodecErrorKind::kTrailingBytes, reader.offset());
  if (!reader.ok()) {
    *error = {reader.error_kind(), reader.error_offset(), static_cast<uint8_t>(M::kType)};
    return false;
  }
  return true;
}

// Called on a failed decode of a qid-bearing message: kDialectMismatch if the other dialect
// decodes it, else the original error.
CodecError ClassifyDialectError(std::span<const uint8_t> frame, const WireContext& ctx,
                                const CodecError& error);

}  // namespace internal

template <class M>
Result<void, CodecError> DecodeInto(std::span<const uint8_t> frame, const WireContext& ctx, M* out) {
  FrameHeader header;
  CodecError error;
  if (!internal::ReadHeader(frame, ctx, &header, &error)) return Unexpected(error);
  if (header.type != static_cast<uint8_t>(M::kType)) {
    return Unexpected(CodecError{CodecErrorKind::kWrongType, 4, header.type});
  }
  if (!internal::DecodeBody(frame.subspan(kHeaderSize), ctx.dialect, *out, &error)) {
    return Unexpected(internal::ClassifyDialectError(frame, ctx, error));
  }
  return {};
}

template <class M>
Result<M, CodecError> DecodeAs(std::span<const uint8_t> frame, const WireContext& ctx) {
  M msg{};
  if (auto done = DecodeInto(frame, ctx, &msg); !done) return Unexpected(done.error());
  return msg;
}

template <class M>
uint32_t EncodedSize(const M& msg, Dialect dialect) {
  uint32_t size = kHeaderSize;
  M::ForEachField(msg, [&](std::string_view, const auto& field) {
    size += internal::WireSize(field, dialect);
  });
  return size;
}

template <class M>
Result<uint32_t, CodecError> Encode(uint16_t tag, const M& msg, const WireContext& ctx,
                                    std::span<uint8_t> out) {
  const uint64_t size = EncodedSize(msg, ctx.dialect);
  const uint8_t type = static_cast<uint8_t>(M::kType);
  if (size > ctx.msize) return Unexpected(CodecError{CodecErrorKind::kFrameTooLarge, 0, type});
  if (size > out.size()) return Unexpected(CodecError{CodecErrorKind::kBufferTooSmall, 0, type});
  internal::Writer writer(out.first(size), ctx.dialect);
  writer.Write(static_cast<uint32_t>(size));
  writer.Write(type);
  writer.Write(tag);
  M::ForEachField(msg, [&](std::string_view, const auto& field) { writer.Write(field); });
  if (!writer.ok()) return Unexpected(CodecError{writer.error_kind(), writer.error_offset(), type});
  return static_cast<uint32_t>(size);
}

}  // namespace p9x
