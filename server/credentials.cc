// SPDX-License-Identifier: MIT
// The per-thread credential switch and the cached user database (see credentials.h for the model).
#include "server/credentials.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "codec/constants.h"

namespace p9x::server {
namespace {

// One thread's capability sets, as capget/capset(2) carry them (two 32-bit words per set).
struct CapSets {
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

bool GetThreadCaps(CapSets* out) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &header, out->data) == 0;
}

// capset(2) with pid 0 acts on the calling thread only.
bool SetThreadCaps(const CapSets& sets) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &header, sets.data) == 0;
}

// The same sets with the effective set replaced: all of the permitted set, or nothing.
CapSets WithEffective(const CapSets& sets, bool all_permitted) {
  CapSets out = sets;
  for (auto& word : out.data) word.effective = all_permitted ? word.permitted : 0;
  return out;
}

std::vector<gid_t> SortedUnique(std::vector<gid_t> groups) {
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  return groups;
}

// What the calling thread carries now, as far as this file has changed it.
struct ThreadState {
  bool initialized = false;
  bool known = true;          // false after a refused step: the next switch redoes every step
  Credentials now;            // fsuid, fsgid, groups
  bool all_effective = true;  // effective set == permitted set (else: empty)
  Credentials origin;         // what the thread had before its first switch
  CapSets origin_caps;
  bool origin_all_effective = true;
};

ThreadState& State() {
  thread_local ThreadState state;
  if (!state.initialized) {
    state.initialized = true;
    state.now = ProcessCredentials();
    state.origin = state.now;
    state.known = GetThreadCaps(&state.origin_caps);
    // The first switch sets the effective set explicitly whatever the thread started with.
    for (const auto& word : state.origin_caps.data) {
      if (word.effective != word.permitted) state.all_effective = false;
    }
    state.origin_all_effective = state.all_effective;
  }
  return state;
}

// setfsuid/setfsgid return the previous id whether or not the change was allowed; calling them
// again with -1 (never a valid id, so nothing changes) reads the current one back.
bool SetFsuid(uid_t uid) {
  syscall(SYS_setfsuid, uid);
  return static_cast<uid_t>(syscall(SYS_setfsuid, static_cast<uid_t>(-1))) == uid;
}
bool SetFsgid(gid_t gid) {
  syscall(SYS_setfsgid, gid);
  return static_cast<gid_t>(syscall(SYS_setfsgid, static_cast<gid_t>(-1))) == gid;
}

}  // namespace

Credentials ProcessCredentials() {
  Credentials c;
  c.uid = geteuid();
  c.gid = getegid();
  const int n = getgroups(0, nullptr);
  if (n > 0) {
    c.groups.resize(static_cast<size_t>(n));
    const int got = getgroups(n, c.groups.data());
    c.groups.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  c.groups = SortedUnique(std::move(c.groups));
  return c;
}

// The order, and why:
//  1. Raise: effective = permitted. setgroups needs CAP_SETGID, setfsgid CAP_SETGID and setfsuid
//     CAP_SETUID in the *effective* set; a thread that runs as a non-root user has an empty one,
//     but its permitted set is untouched, and capset may always raise effective within
//     permitted. This is what lets a thread come back from any user.
//  2. setgroups, 3. setfsgid, 4. setfsuid: while still privileged. setfsuid to a non-zero id
//     clears the filesystem capabilities from the effective set (capabilities(7), "Effect of
//     user ID changes on capabilities"), so it goes last of the three; setfsuid to 0 raises them
//     again from the permitted set.
//  5. Lower: for any uid but 0, effective = empty (permitted kept, for step 1 of the next switch).
//     From here on nothing the user asks can use a capability: not CAP_SYS_ADMIN (trusted.* and
//     security.* xattrs), not CAP_SYS_RESOURCE (blocks reserved for root), not CAP_MKNOD.
// Each step is checked; a refused step leaves the thread "unknown" and the request is refused.
Result<void> SwitchThreadCredentials(const Credentials& wanted) {
  ThreadState& s = State();
  const bool want_all_effective = wanted.uid == 0;
  if (s.known && s.now == wanted && s.all_effective == want_all_effective) return {};
  const bool force = !s.known;
  s.known = false;  // until every step below has succeeded
  if (!s.all_effective || force) {
    if (!SetThreadCaps(WithEffective(s.origin_caps, true))) return Unexpected(Errno::kEPERM);
    s.all_effective = true;
  }
  if (force || s.now.groups != wanted.groups) {
    if (syscall(SYS_setgroups, wanted.groups.size(), wanted.groups.data()) != 0) return Unexpected(Errno::kEPERM);
    s.now.groups = wanted.groups;
  }
  if (force || s.now.gid != wanted.gid) {
    if (!SetFsgid(wanted.gid)) return Unexpected(Errno::kEPERM);
    s.now.gid = wanted.gid;
  }
  if (force || s.now.uid != wanted.uid) {
    if (!SetFsuid(wanted.uid)) return Unexpected(Errno::kEPERM);
    s.now.uid = wanted.uid;
  }
  if (!want_all_effective) {
    if (!SetThreadCaps(WithEffective(s.origin_caps, false))) return Unexpected(Errno::kEPERM);
    s.all_effective = false;
  }
  s.known = true;
  return {};
}

void RestoreThreadCredentials() {
  ThreadState& s = State();
  if (s.known && s.now == s.origin && s.all_effective == s.origin_all_effective) return;
  // Ids and groups first (raising the effective set as any switch does), then the exact
  // capability sets the thread started with.
  if (auto back = SwitchThreadCredentials(s.origin); back && SetThreadCaps(s.origin_caps)) {
    s.all_effective = s.origin_all_effective;
    return;
  }
  s.known = false;
}

Result<CredentialsRef> UserDatabase::Lookup(std::string_view uname, uint32_t n_uname) {
  std::string key = n_uname != kNoUname ? "#" + std::to_string(n_uname) : "@" + std::string(uname);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && it->second.expires > now) return it->second.credentials;
  }
  struct passwd pw, *found = nullptr;
  std::vector<char> buf(16384);
  auto c = std::make_shared<Credentials>();
  if (n_uname != kNoUname) {
    c->uid = static_cast<uid_t>(n_uname);
    c->gid = 65534;
    if (getpwuid_r(c->uid, &pw, buf.data(), buf.size(), &found) != 0) found = nullptr;
  } else {
    const std::string name(uname);
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) {
      return Unexpected(Errno::kEPERM);
    }
    c->uid = pw.pw_uid;
  }
  if (found) {
    c->gid = pw.pw_gid;
    // getgrouplist(3): the groups whose member list names the user, plus the primary group.
    int n = 64;
    std::vector<gid_t> groups;
    for (int attempt = 0; attempt < 4; ++attempt) {
      groups.resize(static_cast<size_t>(n));
      int got = n;
      if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &got) >= 0) {
        groups.resize(static_cast<size_t>(got));
        break;
      }
      n = std::max(got, n * 2);
      groups.clear();
    }
    c->groups = SortedUnique(std::move(groups));
  }
  std::lock_guard lock(mu_);
  if (cache_.size() > 4096) cache_.clear();  // bounded: a client may name any number of users
  cache_[key] = Entry{c, now + lifetime_};
  return CredentialsRef(std::move(c));
}

IdentityPolicy::IdentityPolicy(IdentityMode mode, uid_t squash_uid, gid_t squash_gid, bool root_squash,
                               bool running_as_root)
    : mode_(mode),
      root_squash_(root_squash),
      switching_(running_as_root && mode != IdentityMode::kSelf),
      self_user_(std::make_shared<const Credentials>(ProcessCredentials())),
      squash_user_(std::make_shared<const Credentials>(Credentials{squash_uid, squash_gid, {}})) {}

Result<CredentialsRef> IdentityPolicy::AttachingUser(std::string_view uname, uint32_t n_uname) {
  switch (mode_) {
    case IdentityMode::kSelf:
      return self_user_;
    case IdentityMode::kSquash:
      return squash_user_;
    case IdentityMode::kPerUser:
      break;
  }
  auto user = users_.Lookup(uname, n_uname);
  if (!user) return Unexpected(user.error());
  // Root is root only when the export allows it (ServerOptions::root_squash).
  if ((*user)->uid == 0 && root_squash_) return squash_user_;
  return user;
}

Result<void> IdentityPolicy::ActAs(const Credentials& user) const {
  if (!switching_) return {};
  return SwitchThreadCredentials(user);
}

}  // namespace p9x::server
