// SPDX-License-Identifier: MIT
// The client's error value: every failure carries a Linux errno, so a caller (and the p9x
// command line) can always print "ENOENT (No such file or directory)", plus the kind of failure
// and a line of detail for a person.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "codec/codec_error.h"
#include "codec/linux_errno.h"
#include "codec/result.h"

namespace p9x::client {

struct Error {
  enum class Kind {
    kRemote,       // the server answered Rlerror (or nfs-ganesha's type-107 errno): `code` is its ecode
    kRemoteText,   // the server answered a 9P2000 Rerror string: `detail` holds the ename
    kTransport,    // connecting, sending or receiving failed, or the peer closed the connection
    kCodec,        // a frame could not be encoded or decoded: `codec` says why
    kProtocol,     // the server broke the protocol (wrong reply type, oversized frame, ...)
    kTimeout,      // no reply within the deadline (the request was flushed)
    kCancelled,    // flushed: flush(5) Rflush came before the reply
    kNegotiation,  // the version ladder found no dialect both ends speak
    kUsage,        // the caller asked for something impossible (bad target, fid exhausted, ...)
  };

  Kind kind = Kind::kTransport;
  Errno code = Errno::kEIO;  // always set: the server's ecode, or the closest local errno
  std::string detail;        // one line for a person; may be empty for kRemote
  std::optional<CodecError> codec;

  static Error Remote(uint32_t ecode) { return {Kind::kRemote, static_cast<Errno>(ecode), "", {}}; }
  static Error Transport(Errno code, std::string detail) { return {Kind::kTransport, code, std::move(detail), {}}; }
  static Error Codec(const CodecError& e) { return {Kind::kCodec, Errno::kEPROTO, e.Describe(), e}; }
  static Error Protocol(std::string detail) { return {Kind::kProtocol, Errno::kEPROTO, std::move(detail), {}}; }
  static Error Timeout(std::string detail) { return {Kind::kTimeout, Errno::kETIMEDOUT, std::move(detail), {}}; }
  static Error Cancelled() { return {Kind::kCancelled, Errno::kECANCELED, "request flushed", {}}; }
  static Error Usage(Errno code, std::string detail) { return {Kind::kUsage, code, std::move(detail), {}}; }

  bool is_remote() const { return kind == Kind::kRemote; }

  // "ENOENT (No such file or directory)", then ": detail" when there is one. An errno p9x has no
  // name for prints as "errno 200".
  std::string Describe() const;
};

// "ENOENT", or "errno 200" for a number without a name.
std::string ErrnoLabel(Errno code);

template <class T>
using Result = p9x::Result<T, Error>;

// The one place where an error reply is interpreted. `frame` is a whole frame that is not the
// expected reply. Rlerror (type 7) gives its ecode. Type 107, the 9P2000 Rerror, is not a
// 9P2000.L message, but nfs-ganesha sends every error as type 107 with a 4-byte errno body and
// Linux's p9_check_errors accepts that in .L mode, so we do too: a 4-byte body is an errno, a
// string body (9P2000) is kRemoteText with EIO, or its errno[4] when 9P2000.u appends one. Any
// other type is a protocol error naming what came instead of `expected`.
Error ErrorFromReply(std::span<const uint8_t> frame, std::string_view expected);

// True when `frame` is an error reply (Rlerror or type 107).
bool IsErrorReply(std::span<const uint8_t> frame);

}  // namespace p9x::client
