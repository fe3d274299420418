// SPDX-License-Identifier: MIT
// Identity: the credentials a request acts with on the host, who they belong to (the attaching
// user, resolved by IdentityPolicy), and the per-thread switch that puts them on.
//
// The model: what a user can do through p9xd is what the same user could do on the host, never
// more. A request of a user other than root acts with exactly that user's fsuid, fsgid and
// supplementary groups (from the host's user database) and an empty effective capability set;
// nothing of the server's own credentials (its groups, its capabilities) is left in force.
//
// Linux keeps credentials per thread: the raw setgroups/setfsuid/setfsgid/capset system calls
// change the calling thread only (glibc's setgroups wrapper changes every thread of the process,
// so it is never used here). Each thread switches itself before acting on the host for a user;
// see SwitchThreadCredentials for the order of the calls and why it is safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "codec/linux_errno.h"
#include "codec/result.h"

namespace p9x::server {

// Whose credentials a request acts with on the host (ServerOptions::identity; the model above).
enum class IdentityMode : uint8_t {
  kSelf,     // every request runs as the server's own user, with its groups (default unless root)
  kPerUser,  // root server: each request runs as the attaching user: fsuid, fsgid, the user's
             // supplementary groups from the host's user database, and (unless root) no
             // capabilities
  kSquash,   // every request runs as squash_uid/squash_gid, no supplementary groups, no capabilities
             // (unless squash_uid is 0)
};

// One user's identity on the host, as a process of that user would carry it.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;               // fsgid: the primary group
  std::vector<gid_t> groups;   // supplementary groups, sorted and without duplicates
  friend bool operator==(const Credentials&, const Credentials&) = default;
};
using CredentialsRef = std::shared_ptr<const Credentials>;

// The credentials of this process: effective uid and gid, and its supplementary groups.
Credentials ProcessCredentials();

// Switches the calling thread to `wanted`: fsuid, fsgid and supplementary groups, and the
// effective capability set (all of the permitted set for uid 0, none for anyone else). A thread
// that already has them makes no system call. The thread keeps them until its next switch; a
// thread the server borrows (ServeConnection's caller) gets its own back with
// RestoreThreadCredentials. Fails with EPERM (and the thread's credentials are then unknown, so
// the next switch redoes every step) when the kernel refuses a step: the request must not run.
Result<void> SwitchThreadCredentials(const Credentials& wanted);

// Puts back the credentials the calling thread had before its first switch.
void RestoreThreadCredentials();

// Resolves attaching users from the host's user database (getpwnam_r/getpwuid_r, getgrouplist)
// and caches the answer for `lifetime`: a change to the host's passwd or group files applies to
// attaches made after that long. A fid keeps the credentials its attach resolved, as a process
// keeps the groups it logged in with.
class UserDatabase {
 public:
  static constexpr std::chrono::seconds kDefaultLifetime{60};
  explicit UserDatabase(std::chrono::seconds lifetime = kDefaultLifetime) : lifetime_(lifetime) {}

  // n_uname (when not kNoUname) names the user by number, else uname by name. A number with no
  // entry in the database gets gid 65534 (nogroup) and no supplementary groups; an unknown name
  // with no number is EPERM.
  Result<CredentialsRef> Lookup(std::string_view uname, uint32_t n_uname);

 private:
  struct Entry {
    CredentialsRef credentials;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::seconds lifetime_;
  std::mutex mu_;  // guards cache_; a leaf lock (no other lock is taken while it is held)
  std::unordered_map<std::string, Entry> cache_;
};

// The server's identity rules: which credentials an attach gets (by IdentityMode), and the switch
// every handler makes to them before it acts on the host.
class IdentityPolicy {
 public:
  // running_as_root: whether this process is root (only root can switch credentials).
  IdentityPolicy(IdentityMode mode, uid_t squash_uid, gid_t squash_gid, bool root_squash, bool running_as_root);

  // The user a Tattach of uname/n_uname acts as: the server's own (kSelf), the squash user
  // (kSquash, and root under root_squash), or the named user from the host's user database.
  Result<CredentialsRef> AttachingUser(std::string_view uname, uint32_t n_uname);
  // Puts the calling thread in `user`'s credentials (SwitchThreadCredentials). Does nothing when
  // every request runs as the server itself (kSelf, or a server that is not root).
  Result<void> ActAs(const Credentials& user) const;

 private:
  IdentityMode mode_;
  bool root_squash_;
  bool switching_;              // running as root and not kSelf
  UserDatabase users_;          // attach-time resolution of kPerUser names and numbers
  CredentialsRef self_user_;    // kSelf: the server's own credentials (never switched to)
  CredentialsRef squash_user_;  // kSquash, and root under root_squash
};

}  // namespace p9x::server
