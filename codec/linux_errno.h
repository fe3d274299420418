// SPDX-License-Identifier: MIT
// Linux errno numbers as carried on the wire by Rlerror (9P2000.L: "ecode[4]: Linux errno").
//
// These are the *Linux* numbers whatever the host is: host errors cross onto the wire in one place
// (WireErrnoFromHost below) and a missing translation becomes EIO. The list is the generic Linux
// asm-generic/errno-base.h and errno.h values that 9P servers are seen to return.
#pragma once

#include <cstdint>
#include <string_view>

namespace p9x {

// clang-format off
#define P9X_ERRNO_LIST(X)                                      \
  X(EPERM, 1, "Operation not permitted")                       \
  X(ENOENT, 2, "No such file or directory")                    \
  X(ESRCH, 3, "No such process")                               \
  X(EINTR, 4, "Interrupted system call")                       \
  X(EIO, 5, "Input/output error")                              \
  X(ENXIO, 6, "No such device or address")                     \
  X(E2BIG, 7, "Argument list too long")                        \
  X(EBADF, 9, "Bad file descriptor")                           \
  X(EAGAIN, 11, "Resource temporarily unavailable")            \
  X(ENOMEM, 12, "Cannot allocate memory")                      \
  X(EACCES, 13, "Permission denied")                           \
  X(EFAULT, 14, "Bad address")                                 \
  X(EBUSY, 16, "Device or resource busy")                      \
  X(EEXIST, 17, "File exists")                                 \
  X(EXDEV, 18, "Invalid cross-device link")                    \
  X(ENODEV, 19, "No such device")                              \
  X(ENOTDIR, 20, "Not a directory")                            \
  X(EISDIR, 21, "Is a directory")                              \
  X(EINVAL, 22, "Invalid argument")                            \
  X(ENFILE, 23, "Too many open files in system")               \
  X(EMFILE, 24, "Too many open files")                         \
  X(ENOTTY, 25, "Inappropriate ioctl for device")              \
  X(ETXTBSY, 26, "Text file busy")                             \
  X(EFBIG, 27, "File too large")                               \
  X(ENOSPC, 28, "No space left on device")                     \
  X(ESPIPE, 29, "Illegal seek")                                \
  X(EROFS, 30, "Read-only file system")                        \
  X(EMLINK, 31, "Too many links")                              \
  X(EPIPE, 32, "Broken pipe")                                  \
  X(ERANGE, 34, "Numerical result out of range")               \
  X(EDEADLK, 35, "Resource deadlock avoided")                  \
  X(ENAMETOOLONG, 36, "File name too long")                    \
  X(ENOLCK, 37, "No locks available")                          \
  X(ENOSYS, 38, "Function not implemented")                    \
  X(ENOTEMPTY, 39, "Directory not empty")                      \
  X(ELOOP, 40, "Too many levels of symbolic links")            \
  X(ENODATA, 61, "No data available")                          \
  X(EPROTO, 71, "Protocol error")                              \
  X(EBADMSG, 74, "Bad message")                                \
  X(EOVERFLOW, 75, "Value too large for defined data type")    \
  X(EILSEQ, 84, "Invalid or incomplete multibyte character")   \
  X(EUSERS, 87, "Too many users")                              \
  X(EMSGSIZE, 90, "Message too long")                          \
  X(EPROTONOSUPPORT, 93, "Protocol not supported")             \
  X(EOPNOTSUPP, 95, "Operation not supported")                 \
  X(EADDRINUSE, 98, "Address already in use")                  \
  X(EADDRNOTAVAIL, 99, "Cannot assign requested address")     \
  X(ENETUNREACH, 101, "Network is unreachable")                \
  X(ECONNRESET, 104, "Connection reset by peer")               \
  X(ENOBUFS, 105, "No buffer space available")                 \
  X(ETIMEDOUT, 110, "Connection timed out")                    \
  X(ECONNREFUSED, 111, "Connection refused")                   \
  X(EHOSTUNREACH, 113, "No route to host")                     \
  X(ESTALE, 116, "Stale file handle")                          \
  X(EDQUOT, 122, "Disk quota exceeded")                        \
  X(ECANCELED, 125, "Operation canceled")                      \
  X(EREMOTEIO, 121, "Remote I/O error")
// clang-format on

// A Linux errno value. Any uint32_t is representable (a peer may send numbers not listed here);
// the named enumerators are the ones p9x produces or interprets.
enum class Errno : uint32_t {
  kOk = 0,
#define P9X_ERRNO_ENUM(name, value, text) k##name = value,
  P9X_ERRNO_LIST(P9X_ERRNO_ENUM)
#undef P9X_ERRNO_ENUM
};

// "ENOENT" for Errno::kENOENT; "E<number>" text is not produced: unknown values give "".
constexpr std::string_view ErrnoName(Errno e) {
  switch (static_cast<uint32_t>(e)) {
#define P9X_ERRNO_NAME(name, value, text) \
  case value:                             \
    return #name;
    P9X_ERRNO_LIST(P9X_ERRNO_NAME)
#undef P9X_ERRNO_NAME
    default:
      return "";
  }
}

// strerror-style text of the Linux meaning ("No such file or directory"); "" when unknown.
constexpr std::string_view ErrnoText(Errno e) {
  switch (static_cast<uint32_t>(e)) {
#define P9X_ERRNO_TEXT(name, value, text) \
  case value:                             \
    return text;
    P9X_ERRNO_LIST(P9X_ERRNO_TEXT)
#undef P9X_ERRNO_TEXT
    default:
      return "";
  }
}

// The one host -> wire errno translation, for an errno read after a system call. Linux hosts use
// the wire numbers, so a number this list names passes through; anything else (0, or a number
// p9x does not know) becomes EIO, which every client understands. p9xd logs the EIO fallbacks
// (server/host_fs.h ToWireErrno); a server on another OS would translate here.
constexpr Errno WireErrnoFromHost(int host_errno) {
  const auto wire = static_cast<Errno>(static_cast<uint32_t>(host_errno));
  return host_errno > 0 && !ErrnoName(wire).empty() ? wire : Errno::kEIO;
}

// Reverse of ErrnoName: Errno::kOk when the name is unknown.
constexpr Errno ErrnoFromName(std::string_view name) {
#define P9X_ERRNO_FROM(n, value, text) \
  if (name == #n) return static_cast<Errno>(value);
  P9X_ERRNO_LIST(P9X_ERRNO_FROM)
#undef P9X_ERRNO_FROM
  return Errno::kOk;
}

}  // namespace p9x
