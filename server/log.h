// SPDX-License-Identifier: MIT
// p9xd's log: one line per event on stderr, filtered by ServerOptions::log_level.
#pragma once

namespace p9x::server {

// Prints "p9xd: <text>" to stderr when `level` (0 errors, 1 info, 2 debug) is at most `wanted`.
void Log(int level, int wanted, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace p9x::server
