// SPDX-License-Identifier: MIT
// A mount in the export that never answers must stall only the requests that touch it: the
// project's rule "bad input gets a clear error and the server keeps serving everyone else",
// against p9xd's event loops (server.h, "Threading"), where one request that blocks inline
// stalls every connection on its loop.
//
// The export holds a FUSE mount served by a daemon written here (a thread of this test speaking
// the /dev/fuse protocol, linux/fuse.h): it answers INIT, GETATTR of its root and LOOKUP of any
// name but "hang"; from the LOOKUP of "hang" on it answers nothing at all, as a daemon that hangs
// or an NFS server that is gone, until the test releases it. The export also holds a tmpfs that
// p9xd has not seen yet (its first qid makes p9xd identify that filesystem from the mount table,
// which must not touch the dead mount). Client A walks to fuse/hang; while that walk is held,
// more clients than p9xd has event loops (one per CPU) each do Tversion, Tattach, Twalk and
// Tgetattr on the export's local part, one of them in the unseen tmpfs, and client A walks and
// getattrs a local file and flushes its held walk: everything but the held walk and its Rflush
// must be answered within a bound, and once the daemon is released the held walk is answered
// before its Rflush (flush(5)).
//
// Needs root (mount(2) of a FUSE filesystem) and /dev/fuse; otherwise skipped with the reason.
// The mount is made in a private mount namespace of this test process (p9xd, its child, shares
// it), so it never appears outside and disappears with the two processes whatever happens.
#include <linux/fuse.h>
#include <sched.h>
#include <sys/mount.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "tests/reliability/reliability_util.h"

namespace p9x::reliability {
namespace {

using Got = RawSocket::Got;

// A FUSE filesystem whose root holds nothing and that answers no request at all from the LOOKUP
// of "hang" on, until Release(). Serves /dev/fuse on a thread of its own. Attributes are never
// cached (attr_valid 0), so every stat of its root is a request to it.
class HangingFuse {
 public:
  ~HangingFuse() { Release(); }

  // Mounts the filesystem at `dir`; an empty string, or why it could not.
  std::string Mount(const std::string& dir) {
    fd_ = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd_ < 0) return std::string("open /dev/fuse: ") + std::strerror(errno);
    const std::string options = "fd=" + std::to_string(fd_) + ",rootmode=40000,user_id=0,group_id=0,allow_other";
    if (mount("p9x-hang", dir.c_str(), "fuse", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      const std::string why = std::string("mount -t fuse: ") + std::strerror(errno);
      close(fd_);
      fd_ = -1;
      return why;
    }
    dir_ = dir;
    serving_ = std::thread([this] { Serve(); });
    return "";
  }

  // Waits until the kernel has asked for "hang" (and so a caller is held), at most `wait`.
  bool WaitHeld(milliseconds wait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, wait, [&] { return held_; });
  }

  // Ends the daemon: its thread stops and the device is closed, which makes the kernel fail
  // every request still waiting (fuse(4): the connection is aborted), and the mount is detached
  // (umount -l).
  void Release() {
    stop_ = true;
    if (serving_.joinable()) serving_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (!dir_.empty()) umount2(dir_.c_str(), MNT_DETACH);
    dir_.clear();
  }

 private:
  void Reply(const fuse_in_header& in, int error, const void* body, size_t size) {
    fuse_out_header out{};
    out.len = static_cast<uint32_t>(sizeof out + (error == 0 ? size : 0));
    out.error = -error;
    out.unique = in.unique;
    std::vector<uint8_t> bytes(out.len);
    std::memcpy(bytes.data(), &out, sizeof out);
    if (error == 0 && size > 0) std::memcpy(bytes.data() + sizeof out, body, size);
    [[maybe_unused]] ssize_t n = write(fd_, bytes.data(), bytes.size());
  }

  static fuse_attr RootAttr() {
    fuse_attr a{};
    a.ino = FUSE_ROOT_ID;
    a.mode = S_IFDIR | 0755;
    a.nlink = 2;
    a.blksize = 4096;
    return a;
  }

  void Serve() {
    std::vector<uint8_t> buf(256 * 1024);
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return;
      const ssize_t n = read(fd_, buf.data(), buf.size());
      if (n < static_cast<ssize_t>(sizeof(fuse_in_header))) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT)) continue;
        return;
      }
      fuse_in_header in;
      std::memcpy(&in, buf.data(), sizeof in);
      const uint8_t* body = buf.data() + sizeof in;
      {
        std::lock_guard lock(mu_);
        if (held_) continue;  // dead: the caller waits until Release()
      }
      switch (in.opcode) {
        case FUSE_INIT: {
          fuse_init_in init{};
          std::memcpy(&init, body, sizeof init.major + sizeof init.minor + sizeof init.max_readahead);
          fuse_init_out out{};
          out.major = FUSE_KERNEL_VERSION;
          out.minor = std::min<uint32_t>(init.minor, FUSE_KERNEL_MINOR_VERSION);
          out.max_readahead = init.max_readahead;
          out.max_background = 16;
          out.congestion_threshold = 12;
          out.max_write = 65536;
          out.time_gran = 1;
          Reply(in, 0, &out, sizeof out);
          break;
        }
        case FUSE_GETATTR: {
          if (in.nodeid != FUSE_ROOT_ID) {
            Reply(in, ENOENT, nullptr, 0);
            break;
          }
          fuse_attr_out out{};
          out.attr = RootAttr();
          Reply(in, 0, &out, sizeof out);
          break;
        }
        case FUSE_LOOKUP: {
          const std::string name(reinterpret_cast<const char*>(body));
          if (name == "hang") {
            std::lock_guard lock(mu_);
            held_ = true;  // neither this nor anything after it is answered
            cv_.notify_all();
          } else {
            Reply(in, ENOENT, nullptr, 0);
          }
          break;
        }
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
        case FUSE_INTERRUPT:
          break;  // no reply is expected
        default:
          Reply(in, ENOSYS, nullptr, 0);  // the kernel then falls back or fails that call
      }
    }
  }

  int fd_ = -1;
  std::string dir_;
  std::thread serving_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
};

// One request's answer: the frame, or why there was none.
struct Answer {
  Got got = Got::kError;
  std::vector<uint8_t> frame;
  uint8_t type() const { return frame.size() > 4 ? frame[4] : 0; }
  uint16_t tag() const { return frame.size() > 6 ? static_cast<uint16_t>(frame[5] | frame[6] << 8) : 0; }
};

Answer Next(RawSocket& s, milliseconds wait) {
  Answer a;
  a.got = s.ReadFrame(&a.frame, wait);
  return a;
}

Twalk WalkOf(uint32_t fid, uint32_t newfid, std::initializer_list<const char*> names) {
  Twalk w{};
  w.fid = fid;
  w.newfid = newfid;
  for (const char* n : names) w.wnames.names[w.wnames.count++] = n;
  return w;
}

// Every reply a healthy p9xd gives at once (a few ms) must come within this: generous for a
// loaded 2-core machine, and far below "never".
constexpr milliseconds kBound{3000};

class ServerWithHungMount : public P9xdTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: mounting a FUSE filesystem";
    if (access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse here (modprobe fuse)";
    // A private mount namespace for this process and its child p9xd: the mount made below is
    // seen by no one else and ends with them.
    if (unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "cannot make a mount namespace: " << std::strerror(errno);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      GTEST_SKIP() << "cannot make mounts private: " << std::strerror(errno);
    }
    P9xdTest::SetUp();
    std::filesystem::create_directories(export_ + "/local");
    std::ofstream(export_ + "/local/f") << "local file";
    std::filesystem::create_directories(export_ + "/fuse");
    std::filesystem::create_directories(export_ + "/sub");
    if (mount("p9x-sub", (export_ + "/sub").c_str(), "tmpfs", 0, nullptr) != 0) {
      GTEST_SKIP() << "mount -t tmpfs: " << std::strerror(errno);
    }
    std::ofstream(export_ + "/sub/g") << "file on a filesystem p9xd has not seen";
    if (std::string why = fuse_.Mount(export_ + "/fuse"); !why.empty()) GTEST_SKIP() << why;
    StartServer();
  }
  void TearDown() override {
    fuse_.Release();
    P9xdTest::TearDown();
    if (!export_.empty()) umount2((export_ + "/sub").c_str(), MNT_DETACH);  // so that base_ can go
  }

  HangingFuse fuse_;
};

// A whole session on a fresh connection, on the export's local part: Tversion, Tattach, Twalk to
// dir/file, Tgetattr. Empty when all were answered within kBound, else what was not.
std::string LocalSession(int port, const char* dir, const char* file) {
  RawSocket s(port);
  if (!s.ok()) return "connect failed";
  if (!s.SendMsg(kNoTag, Tversion{8192, "9P2000.L"})) return "send failed";
  if (Next(s, kBound).type() != static_cast<uint8_t>(MsgType::kRversion)) return "no Rversion";
  s.SendMsg(1, Tattach{0, kNoFid, "root", "", 0});
  if (Next(s, kBound).type() != static_cast<uint8_t>(MsgType::kRattach)) return "no Rattach";
  s.SendMsg(2, WalkOf(0, 1, {dir, file}));
  if (Next(s, kBound).type() != static_cast<uint8_t>(MsgType::kRwalk)) return "no Rwalk";
  s.SendMsg(3, Tgetattr{1, kGetattrBasic});
  if (Next(s, kBound).type() != static_cast<uint8_t>(MsgType::kRgetattr)) return "no Rgetattr";
  return "";
}

TEST_F(ServerWithHungMount, OtherConnectionsAndRequestsAreServedWhileOneWalkHangs) {
  // Client A: a session, then a walk that the FUSE daemon holds.
  RawSocket a(port_);
  ASSERT_TRUE(a.ok());
  ASSERT_NE(a.Version(8192), 0u);
  ASSERT_EQ(a.Call(1, Tattach{0, kNoFid, "root", "", 0}).first, static_cast<int>(MsgType::kRattach));
  ASSERT_TRUE(a.SendMsg(10, WalkOf(0, 1, {"fuse", "hang"})));
  ASSERT_TRUE(fuse_.WaitHeld(kBound)) << "p9xd never looked up fuse/hang; log:\n" << ReadText(log_);

  // More connections than p9xd has event loops (one per CPU; connections are dealt round-robin),
  // so that every loop, client A's included, serves some of them; all at once.
  const unsigned loops = std::max(1u, std::thread::hardware_concurrency());
  const unsigned clients = 2 * loops + 2;
  std::vector<std::string> failures(clients);
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (unsigned i = 0; i < clients; ++i) {
    threads.emplace_back(
        [&, i] { failures[i] = i == 0 ? LocalSession(port_, "sub", "g") : LocalSession(port_, "local", "f"); });
  }
  for (auto& t : threads) t.join();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  unsigned served = 0;
  for (unsigned i = 0; i < clients; ++i) {
    EXPECT_EQ(failures[i], "") << "client " << i << " of " << clients << " (" << loops << " loops)";
    served += failures[i].empty();
  }
  std::printf("%u of %u other clients served in %.1f ms while fuse/hang is held\n", served, clients, ms);

  // Client A's other requests on the local part are answered while its walk is held.
  ASSERT_TRUE(a.SendMsg(11, WalkOf(0, 2, {"local", "f"})));
  Answer walked = Next(a, kBound);
  ASSERT_EQ(walked.got, Got::kFrame) << "client A's second walk was not answered";
  EXPECT_EQ(walked.tag(), 11);
  EXPECT_EQ(walked.type(), static_cast<uint8_t>(MsgType::kRwalk));
  // A Tflush of the held walk: flush(5), its Rflush waits for the walk's reply...
  ASSERT_TRUE(a.SendMsg(12, Tflush{10}));
  ASSERT_TRUE(a.SendMsg(13, Tgetattr{2, kGetattrBasic}));
  Answer got = Next(a, kBound);
  ASSERT_EQ(got.got, Got::kFrame) << "client A's Tgetattr was not answered";
  EXPECT_EQ(got.tag(), 13) << "only the Tgetattr may be answered while the walk is held";
  EXPECT_EQ(got.type(), static_cast<uint8_t>(MsgType::kRgetattr));
  EXPECT_EQ(Next(a, milliseconds(200)).got, Got::kTimeout) << "the Rflush came before the flushed walk's reply";

  // ...which comes once the daemon is gone (the kernel fails the lookup of "hang": walk(5), an
  // Rwalk of the one name walked), and then the Rflush.
  fuse_.Release();
  Answer held = Next(a, kBound);
  ASSERT_EQ(held.got, Got::kFrame) << "the held walk was not answered after the daemon was released";
  EXPECT_EQ(held.tag(), 10);
  EXPECT_EQ(held.type(), static_cast<uint8_t>(MsgType::kRwalk));
  Answer flushed = Next(a, kBound);
  ASSERT_EQ(flushed.got, Got::kFrame);
  EXPECT_EQ(flushed.tag(), 12);
  EXPECT_EQ(flushed.type(), static_cast<uint8_t>(MsgType::kRflush));
  ExpectServerAlive();
}

}  // namespace
}  // namespace p9x::reliability
