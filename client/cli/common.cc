// SPDX-License-Identifier: MIT
// The helpers every p9x command shares (declared in cli.h): failures and exit statuses,
// formatting of qids, modes, times and attributes, paths, connecting and attaching.
#include "client/cli/cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace p9x::client::cli {

int ExitFor(const Error& e) {
  switch (e.kind) {
    case Error::Kind::kRemote:
    case Error::Kind::kRemoteText:
      return kExitRefused;
    case Error::Kind::kUsage:
      return kExitUsage;
    default:
      return kExitConnection;
  }
}

Failure Fail(const std::string& what, const Error& e) { return {ExitFor(e), what + ": " + e.Describe()}; }
Failure UsageFailure(const std::string& message) { return {kExitUsage, message}; }
Failure LocalFailure(const std::string& what, int err) {
  return Fail(what, Error{Error::Kind::kRemote, WireErrnoFromHost(err), "", {}});
}

// ---- formatting ----

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

json QidJson(const Qid& q) {
  return json{{"type", q.type}, {"version", q.version}, {"path", q.path}, {"path_hi", q.path_hi}};
}

std::string ModeString(uint32_t mode) {
  std::string s(10, '-');
  switch (mode & S_IFMT) {
    case S_IFDIR:
      s[0] = 'd';
      break;
    case S_IFLNK:
      s[0] = 'l';
      break;
    case S_IFCHR:
      s[0] = 'c';
      break;
    case S_IFBLK:
      s[0] = 'b';
      break;
    case S_IFIFO:
      s[0] = 'p';
      break;
    case S_IFSOCK:
      s[0] = 's';
      break;
    default:
      break;
  }
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (mode & (1u << (8 - i))) s[static_cast<size_t>(i + 1)] = rwx[i];
  }
  if (mode & S_ISUID) s[3] = (mode & S_IXUSR) ? 's' : 'S';
  if (mode & S_ISGID) s[6] = (mode & S_IXGRP) ? 's' : 'S';
  if (mode & S_ISVTX) s[9] = (mode & S_IXOTH) ? 't' : 'T';
  return s;
}

std::string TimeText(uint64_t sec, uint64_t nsec) {
  const time_t t = static_cast<time_t>(sec);
  tm tm_utc{};
  gmtime_r(&t, &tm_utc);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm_utc);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09llu", static_cast<unsigned long long>(nsec));
  return std::string(buf) + frac + " UTC";
}

json AttrJson(const Rgetattr& a) {
  return json{{"valid", a.valid},
              {"qid", QidJson(a.qid)},
              {"mode", a.mode},
              {"uid", a.uid},
              {"gid", a.gid},
              {"nlink", a.nlink},
              {"rdev", a.rdev},
              {"size", a.size},
              {"blksize", a.blksize},
              {"blocks", a.blocks},
              {"atime", {{"sec", a.atime_sec}, {"nsec", a.atime_nsec}}},
              {"mtime", {{"sec", a.mtime_sec}, {"nsec", a.mtime_nsec}}},
              {"ctime", {{"sec", a.ctime_sec}, {"nsec", a.ctime_nsec}}},
              {"btime", {{"sec", a.btime_sec}, {"nsec", a.btime_nsec}}},
              {"gen", a.gen},
              {"data_version", a.data_version}};
}

// ---- path helpers ----

// Splits "a/b/c" into parent "a/b" and name "c". An empty name (path "" or "/") is an error.
bool SplitParent(const std::string& path, std::string* parent, std::string* name) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  if (slash == std::string::npos) {
    *parent = "";
    *name = p;
  } else {
    *parent = p.substr(0, slash);
    *name = p.substr(slash + 1);
  }
  return !name->empty() && *name != "/" && *name != "." && *name != "..";
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string Shown(const std::string& path) { return path.empty() ? "." : path; }

uint32_t CurrentGid() { return static_cast<uint32_t>(getegid()); }

// ---- connecting ----

Options ConnectOptions(const Globals& g) {
  Options options;
  options.target = g.target;
  options.dialect = g.dialect;
  options.msize = g.msize;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(g.timeout_s) * 1000);
  return options;
}

Outcome Connect(Context& ctx) {
  auto client = Client::Connect(ConnectOptions(ctx.g));
  if (!client)
    return Failure{ExitFor(client.error()) == kExitUsage ? kExitUsage : kExitConnection,
                   "connect " + ctx.g.target + ": " + client.error().Describe()};
  ctx.client = std::move(*client);
  return std::nullopt;
}

Outcome Attach(Context& ctx) {
  auto root = ctx.client->AttachRoot(ctx.g.uname, ctx.g.aname, ctx.g.n_uname);
  if (!root) {
    return Fail("attach uname \"" + ctx.g.uname + "\" aname \"" + ctx.g.aname + "\"", root.error());
  }
  ctx.root = std::move(*root);
  return std::nullopt;
}

Result<Fid> WalkTo(Context& ctx, const std::string& path) { return ctx.root.Walk(path); }

bool ParseUint(const std::string& s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

}  // namespace p9x::client::cli
