// SPDX-License-Identifier: MIT
// The record of one case while it runs: every frame both ways, notes, non-conformances and the
// verdict. A server's wrong answer ends up here as data, never as a C++ error.
//
// The verdict is sticky, like the codec's Reader: the first Fail() or Skip() decides it, and from
// then on every Probe operation is a no-op that sends nothing. A case can therefore be written as
// a straight line of operations and checks, testing failed() only where it branches or loops.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/frame.h"

namespace p9x::conformance {

enum class Verdict : uint8_t { kPassed, kFailed, kSkipped };

class CaseLog {
 public:
  // Records the case's failure (the first one wins; later ones are kept as notes).
  void Fail(std::string message);
  // Ends the case as skipped (only if it has not failed).
  void Skip(std::string reason);
  bool failed() const { return verdict_ == Verdict::kFailed; }
  // True once the case has failed or been skipped: Probe operations stop sending.
  bool stopped() const { return stopped_; }
  Verdict verdict() const { return verdict_; }
  const std::string& message() const { return message_; }

  // A frame on connection `conn`: printed with the codec's printer (BytesToText) in `ctx`.
  void Frame(int conn, bool sent, std::span<const uint8_t> bytes, const WireContext& ctx);
  // A frame the codec cannot print in ctx but that we understand (e.g. a type-107 Rerror).
  void FrameText(int conn, bool sent, std::span<const uint8_t> bytes, std::string text);
  void Note(int conn, std::string text);
  // A deviation from the protocol that the case tolerates (e.g. errors sent as type 107 Rerror
  // instead of Rlerror). Listed in the report; fails the dedicated case, not every case.
  void Nonconformance(std::string text);

  const std::vector<std::string>& nonconformances() const { return nonconformances_; }
  // True once a frame was sent: the case reached the server.
  bool sent_any_frame() const {
    for (const Entry& e : entries_) {
      if (e.dir == '>') return true;
    }
    return false;
  }
  // The transcript, one line per entry ("c1 -> Twalk{...}"), cut after `max_chars` characters.
  std::string Pretty(size_t max_chars, bool* truncated) const;
  // Each frame as "c1 -> <hex>", cut after `max_chars` characters.
  std::string Hex(size_t max_chars, bool* truncated) const;

 private:
  struct Entry {
    int conn = 0;
    char dir = ' ';  // '>' sent, '<' received, '#' note
    std::string text;
    std::string hex;
  };
  Verdict verdict_ = Verdict::kPassed;
  bool stopped_ = false;
  std::string message_;
  std::vector<Entry> entries_;
  std::vector<std::string> nonconformances_;
};

}  // namespace p9x::conformance
