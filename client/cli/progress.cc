// SPDX-License-Identifier: MIT
// The terminal progress line of p9x get and put (see progress.h).
#include "client/cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

namespace p9x::client::cli {

namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(200);

std::string Duration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

std::string ByteCount(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return buf;
}

Progress::Progress(std::string label, std::optional<uint64_t> total, bool json_output)
    : label_(std::move(label)),
      total_(total),
      enabled_(!json_output && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  // A transfer that failed half-way leaves its last line; end it so the error starts a new one.
  if (drawn_ && !finished_) std::fputc('\n', stderr);
}

void Progress::Update(uint64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  Draw(done, false);
}

void Progress::Finish(uint64_t done) {
  if (!enabled_ || finished_) return;
  Draw(done, true);
  finished_ = true;
}

void Progress::Draw(uint64_t done, bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string line = label_ + ": " + ByteCount(static_cast<double>(done));
  if (total_) {
    line += " / " + ByteCount(static_cast<double>(*total_));
    if (*total_ > 0) line += " (" + std::to_string(done * 100 / *total_) + "%)";
  }
  line += "  " + ByteCount(rate) + "/s";
  if (final) {
    line += "  in " + Duration(seconds);
  } else if (total_ && rate > 0 && *total_ >= done) {
    line += "  " + Duration(static_cast<double>(*total_ - done) / rate) + " left";
  }
  // \r returns to the line's start, ESC[K erases what a longer earlier line left behind.
  std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace p9x::client::cli
