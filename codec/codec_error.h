// SPDX-License-Identifier: MIT
// Why a frame could not be decoded or encoded, and where.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace p9x {

#define P9X_CODEC_ERROR_LIST(X)                                                                \
  X(FrameTooShort, "frame shorter than the 7-byte header, or size field below 7")               \
  X(SizeMismatch, "size field does not match the bytes of the frame")                          \
  X(FrameTooLarge, "frame larger than the negotiated msize")                                   \
  X(UnknownType, "type is not a 9P2000.L message")                                             \
  X(Truncated, "a field runs past the end of the frame")                                       \
  X(TrailingBytes, "bytes left over after the last field")                                     \
  X(TooManyWalkElements, "more than 16 walk names or qids (walk(5))")                          \
  X(BadDirent, "Rreaddir data does not hold whole directory entries")                          \
  X(DialectMismatch, "the frame's qids have the other dialect's size")                         \
  X(BufferTooSmall, "output buffer too small for the frame")                                   \
  X(QidNeedsXqid, "a qid with a 128-bit path cannot be sent in a 9P2000.L session")            \
  X(StringTooLong, "string longer than 65535 bytes")                                           \
  X(WrongType, "frame holds another message type than the one asked for")

enum class CodecErrorKind : uint8_t {
#define P9X_CODEC_ERROR_ENUM(name, text) k##name,
  P9X_CODEC_ERROR_LIST(P9X_CODEC_ERROR_ENUM)
#undef P9X_CODEC_ERROR_ENUM
};

std::string_view CodecErrorName(CodecErrorKind kind);  // "Truncated"
std::string_view CodecErrorText(CodecErrorKind kind);  // one line of explanation
bool CodecErrorFromName(std::string_view name, CodecErrorKind* kind);

// A decode or encode failure: what went wrong, at which byte offset of the frame, in which
// message type (0 when the type byte was not reached). Small and allocation-free.
struct CodecError {
  CodecErrorKind kind = CodecErrorKind::kTruncated;
  uint32_t offset = 0;
  uint8_t type = 0;

  // "Truncated at byte 13 of Twalk (type 110): a field runs past the end of the frame"
  std::string Describe() const;
  friend bool operator==(const CodecError&, const CodecError&) = default;
};

}  // namespace p9x
