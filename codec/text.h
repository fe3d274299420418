// SPDX-License-Identifier: MIT
// The canonical text form of a frame, for traces, transcripts and the golden vectors:
//   Twalk{tag=1 fid=0 newfid=1 wnames=["a","b"]}
//   Rattach{tag=1 qid={type=0x80 version=0 path=0x2}}          (path_hi=0)
//   Rattach{tag=1 qid={type=0x80 version=0 path=0x1:0x2}}      (path_hi:path, xqid)
//   Rread{tag=3 data=<5 bytes 68656c6c6f>}                     (hex up to 64 bytes)
//   Rread{tag=3 data=<4096 bytes>}                             (longer: length only)
//   Rreaddir{tag=4 data=[{qid={...} offset=1 type=4 name="."}]}
// Integers print in decimal, except qid.type and *mask/valid/flags fields in hex. Strings are
// double-quoted with \" \\ and \xNN escapes for bytes outside printable ASCII.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/frame.h"

namespace p9x {

// Appends the text form of one frame. `dialect` is needed only to print Rreaddir entries.
void AppendText(std::string& out, const Frame& frame, Dialect dialect);
std::string ToText(const Frame& frame, Dialect dialect);

// Prints a frame from raw bytes: its text form, or "<undecodable: reason> <hex>" when the bytes
// do not decode. Used by traces and the conformance transcripts.
std::string BytesToText(std::span<const uint8_t> frame, const WireContext& ctx);

// A frame parsed from text, with the storage its views point into. Not copyable (views).
struct ParsedFrame {
  Frame frame;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> storage;
};

// Parses the canonical text form (data must be printed with its hex). The error is a message
// saying where parsing stopped. Rreaddir entries are packed for `dialect`.
Result<std::unique_ptr<ParsedFrame>, std::string> ParseText(std::string_view text, Dialect dialect);

// A qid in the canonical text form: {type=0x80 version=0 path=0x2}, or path=0x1:0x2 (path_hi:path)
// when path_hi is not 0.
std::string QidText(const Qid& q);

// Hex helpers used by vectors and tools.
std::string ToHex(std::span<const uint8_t> bytes);
bool FromHex(std::string_view hex, std::vector<uint8_t>* out);  // ignores whitespace

}  // namespace p9x
