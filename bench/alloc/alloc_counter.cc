// SPDX-License-Identifier: MIT
// An LD_PRELOAD allocation counter: counts every call of malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign, valloc and pvalloc in the process it is loaded into (operator new and
// the C++ library's allocations go through malloc), and on SIGUSR2 appends one line
// "allocations N" to the file named by $P9X_ALLOC_COUNTER_OUT (or stderr). count-allocations.sh
// takes a snapshot before and after a benchmark run and divides by the requests answered.
//
// The real functions come from glibc's __libc_* entry points, so that the shim never calls dlsym
// (which allocates) before it can count.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);
}

namespace {
std::atomic<unsigned long long> g_allocations;
int g_out_fd = 2;

void Count() { g_allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

extern "C" {

void* malloc(size_t n) noexcept {
  Count();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) noexcept {
  Count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) noexcept {
  Count();
  return __libc_realloc(p, n);
}
void* memalign(size_t alignment, size_t n) noexcept {
  Count();
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(size_t alignment, size_t n) noexcept {
  Count();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, size_t alignment, size_t n) noexcept {
  Count();
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(size_t n) noexcept {
  Count();
  return __libc_valloc(n);
}
void* pvalloc(size_t n) noexcept {
  Count();
  return __libc_pvalloc(n);
}

}  // extern "C"

namespace {
// Async-signal-safe: formats the count by hand and write()s it.
void Report(int) {
  char line[64] = "allocations ";
  char digits[24];
  unsigned long long v = g_allocations.load(std::memory_order_relaxed);
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t len = std::strlen(line);
  while (n > 0) line[len++] = digits[--n];
  line[len++] = '\n';
  ssize_t w = write(g_out_fd, line, len);
  (void)w;
}

__attribute__((constructor)) void Init() {
  const char* path = std::getenv("P9X_ALLOC_COUNTER_OUT");
  if (path != nullptr && path[0] != '\0') {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) g_out_fd = fd;
  }
  struct sigaction sa {};
  sa.sa_handler = Report;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, nullptr);
}
}  // namespace
