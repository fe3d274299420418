// SPDX-License-Identifier: MIT
// p9xd's log line (log.h).
#include "server/log.h"

#include <cstdarg>
#include <cstdio>

namespace p9x::server {

void Log(int level, int wanted, const char* fmt, ...) {
  if (level > wanted) return;
  va_list args;
  va_start(args, fmt);
  std::fputs("p9xd: ", stderr);
  std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
}

}  // namespace p9x::server
