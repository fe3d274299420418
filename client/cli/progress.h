// SPDX-License-Identifier: MIT
// Progress of a long transfer (p9x get, put) for a person at a terminal: bytes so far, the rate
// and the time left, redrawn in place on standard error at most five times a second and ended
// with a newline. Quiet when standard error is not a terminal, and with --json (a program reads
// that output), so scripts and logs see nothing of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace p9x::client::cli {

class Progress {
 public:
  // `total`: the size when known (the rate and time left need it for the percentage and ETA).
  Progress(std::string label, std::optional<uint64_t> total, bool json_output);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` bytes so far; redraws when the last drawing is old enough.
  void Update(uint64_t done);
  // The final line (the whole count, the average rate), then a newline. Idempotent.
  void Finish(uint64_t done);

  bool shown() const { return enabled_; }

 private:
  void Draw(uint64_t done, bool final);

  std::string label_;
  std::optional<uint64_t> total_;
  bool enabled_ = false;
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.5 MiB", "512 B".
std::string ByteCount(double bytes);

}  // namespace p9x::client::cli
