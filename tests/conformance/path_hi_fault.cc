// SPDX-License-Identifier: MIT
// The faults of the test build p9xd-path-hi-fault: path_hi breaks a rule of spec/xqid.md §7, so
// that tests/conformance/fault_test.sh can show the xqid identity cases failing against it.
// server/qid_map.cc calls it only when compiled with P9X_FAULT_PATH_HI_BUILD.
//
// P9X_FAULT_PATH_HI (environment) names the fault. The host's device number, which "path_hi MUST
// NOT be the raw st_dev" forbids, in one encoding:
//   st_dev          glibc's dev_t as stat(2) gives it
//   new_encode_dev  the kernel's 32-bit encoding (linux/kdev_t.h)
//   old_encode_dev  the 16-bit one
//   mkdev           the kernel's internal MKDEV(major, minor)
// Or:
//   constant        1 for every filesystem: files on two filesystems with one inode number share
//                   (path_hi, path)
//   per-lookup      a new value at every lookup: no file keeps its qid
// P9X_FAULT_PATH_HI_SCOPE=other-filesystems leaks it only for files off the export root's
// filesystem (the case must look beyond the root filesystem to see it). Unset: no fault.
#include <sys/sysmacros.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace p9x::server::fault {

std::optional<uint64_t> BrokenPathHi(uint64_t st_dev, uint64_t root_dev) {
  const char* encoding = std::getenv("P9X_FAULT_PATH_HI");
  const char* scope = std::getenv("P9X_FAULT_PATH_HI_SCOPE");
  if (!encoding) return std::nullopt;
  if (scope && std::string_view(scope) == "other-filesystems" && st_dev == root_dev) return std::nullopt;
  const uint64_t ma = major(st_dev), mi = minor(st_dev);
  const std::string_view e(encoding);
  if (e == "st_dev") return st_dev;
  if (e == "new_encode_dev") return (mi & 0xff) | (ma << 8) | ((mi & ~uint64_t{0xff}) << 12);
  if (e == "old_encode_dev") return ((ma & 0xff) << 8) | (mi & 0xff);
  if (e == "mkdev") return (ma << 20) | mi;
  if (e == "constant") return 1;
  static std::atomic<uint64_t> lookups{0};
  if (e == "per-lookup") return ++lookups;
  std::abort();  // a misspelt fault must not pass for "no fault"
}

}  // namespace p9x::server::fault
