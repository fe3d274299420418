// SPDX-License-Identifier: MIT
#include "bench/p9bench/floor_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "bench/p9bench/conn.h"
#include "codec/wire.h"

namespace p9bench {
namespace {

void ServeConnection(int fd) {
  FrameReader reader(kFloorMaxFrame + 128 * 1024);
  SendQueue out(64 * 1024);
  std::vector<uint8_t> filler;  // grows to the largest reply asked for, then stays
  while (true) {
    const ssize_t n = reader.Fill(fd);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
    bool bad = false;
    for (auto frame = reader.Next(); !frame.empty(); frame = reader.Next()) {
      if (frame.size() < kFloorRequestHeader || frame[4] != kFloorRequestType) {
        bad = true;
        break;
      }
      const uint32_t reply_size = p9x::internal::LoadLe<uint32_t>(frame.data() + 7);
      if (reply_size < p9x::kHeaderSize || reply_size > kFloorMaxFrame) {
        bad = true;
        break;
      }
      if (filler.size() < reply_size) filler.assign(reply_size, 0x5A);
      if (out.NearlyFull(p9x::kHeaderSize)) {
        if (!out.Flush(fd)) return (void)close(fd);
      }
      uint8_t* header = out.Space().data();
      p9x::internal::StoreLe<uint32_t>(header, reply_size);
      header[4] = kFloorReplyType;
      std::memcpy(header + 5, frame.data() + 5, 2);  // tag
      out.CommitSmall(p9x::kHeaderSize);
      if (reply_size > p9x::kHeaderSize) out.AddExternal(filler.data(), reply_size - p9x::kHeaderSize);
    }
    if (bad || reader.error()) break;
    if (!out.empty() && !out.Flush(fd)) break;
  }
  close(fd);
}

}  // namespace

void ServeFloor(int listen_fd) {
  while (true) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      return;
    }
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    TuneSocket(fd, local.ss_family == AF_UNIX ? Transport::kUnix : Transport::kTcp);
    // No receive timeout for the server side: an idle connection is legitimate.
    const timeval no_timeout{};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &no_timeout, sizeof no_timeout);
    std::thread(ServeConnection, fd).detach();
  }
}

void StartFloorThread(int listen_fd) { std::thread(ServeFloor, listen_fd).detach(); }

Result<DirScan> ScanDirectory(const std::string& dir, bool stat_each) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unexpected("open " + dir + ": " + std::strerror(errno));
  constexpr size_t kBufferSize = 1 << 20;
  std::vector<char> buffer(kBufferSize);
  DirScan scan;
  const uint64_t start = NowNs();
  while (true) {
    const long n = syscall(SYS_getdents64, fd, buffer.data(), kBufferSize);
    if (n < 0) {
      close(fd);
      return Unexpected(std::string("getdents64: ") + std::strerror(errno));
    }
    if (n == 0) break;
    for (long at = 0; at < n;) {
      // struct linux_dirent64 { ino64 d_ino; off64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
      const char* entry = buffer.data() + at;
      uint16_t reclen;
      std::memcpy(&reclen, entry + 16, sizeof reclen);
      ++scan.entries;
      if (stat_each) {
        struct stat st;
        fstatat(fd, entry + 19, &st, AT_SYMLINK_NOFOLLOW);
      }
      at += reclen;
    }
  }
  scan.seconds = static_cast<double>(NowNs() - start) / 1e9;
  close(fd);
  return scan;
}

}  // namespace p9bench
