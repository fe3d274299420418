// SPDX-License-Identifier: MIT
// The record of one running case (case_log.h): frames, notes, failures and the verdict.
#include "conformance/case_log.h"

#include <algorithm>

#include "codec/text.h"

namespace p9x::conformance {
namespace {

// Frames larger than this keep only their first bytes in the hex transcript.
constexpr size_t kMaxHexBytesPerFrame = 512;

std::string FrameHex(std::span<const uint8_t> bytes) {
  std::string hex = ToHex(bytes.first(std::min(bytes.size(), kMaxHexBytesPerFrame)));
  if (bytes.size() > kMaxHexBytesPerFrame) hex += "...(" + std::to_string(bytes.size()) + " bytes)";
  return hex;
}

}  // namespace

void CaseLog::Fail(std::string message) {
  if (verdict_ == Verdict::kFailed) {
    Note(0, "further failure: " + message);
    return;
  }
  Note(0, "FAIL: " + message);
  verdict_ = Verdict::kFailed;
  message_ = std::move(message);
  stopped_ = true;
}

void CaseLog::Skip(std::string reason) {
  if (stopped_) return;
  Note(0, "SKIP: " + reason);
  verdict_ = Verdict::kSkipped;
  message_ = std::move(reason);
  stopped_ = true;
}

void CaseLog::Frame(int conn, bool sent, std::span<const uint8_t> bytes, const WireContext& ctx) {
  entries_.push_back({conn, sent ? '>' : '<', BytesToText(bytes, ctx), FrameHex(bytes)});
}

void CaseLog::FrameText(int conn, bool sent, std::span<const uint8_t> bytes, std::string text) {
  entries_.push_back({conn, sent ? '>' : '<', std::move(text), FrameHex(bytes)});
}

void CaseLog::Note(int conn, std::string text) { entries_.push_back({conn, '#', std::move(text), ""}); }

void CaseLog::Nonconformance(std::string text) {
  Note(0, "non-conformance: " + text);
  if (std::find(nonconformances_.begin(), nonconformances_.end(), text) == nonconformances_.end()) {
    nonconformances_.push_back(std::move(text));
  }
}

std::string CaseLog::Pretty(size_t max_chars, bool* truncated) const {
  std::string out;
  *truncated = false;
  for (const Entry& e : entries_) {
    std::string line = "c" + std::to_string(e.conn) + (e.dir == '>' ? " -> " : e.dir == '<' ? " <- " : " #  ");
    line += e.text;
    line += '\n';
    if (out.size() + line.size() > max_chars) {
      *truncated = true;
      out += "... (transcript truncated)\n";
      break;
    }
    out += line;
  }
  return out;
}

std::string CaseLog::Hex(size_t max_chars, bool* truncated) const {
  std::string out;
  *truncated = false;
  for (const Entry& e : entries_) {
    if (e.dir == '#') continue;
    std::string line = "c" + std::to_string(e.conn) + (e.dir == '>' ? " -> " : " <- ") + e.hex + "\n";
    if (out.size() + line.size() > max_chars) {
      *truncated = true;
      break;
    }
    out += line;
  }
  return out;
}

}  // namespace p9x::conformance
