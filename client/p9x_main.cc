// p9x: the command-line 9P2000.L client. A thin layer over the client library (GUIDE R8): every
// command is a few library calls plus printing. Run `p9x --help` or `p9x COMMAND --help`.
//
// Exit status: 0 success; 1 the server (or the local file system) refused an operation, and
// the message names the errno and the path; 2 usage error; 3 could not connect or negotiate,
// or the connection failed (transport, protocol violation, timeout).

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/pcap.h"
#include "codec/dirent.h"
#include "codec/text.h"

namespace p9x::client {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnection = 3;

struct Globals {
  std::string target;
  negotiation::DialectChoice dialect = negotiation::DialectChoice::kAuto;
  bool dialect_given = false;
  uint32_t msize = kDefaultMsize;
  std::string aname;
  std::string uname;
  uint32_t n_uname = kNoUname;
  int timeout_s = 30;
  bool json = false;
};

// A failure on the way to printing: the message and the exit status.
struct Failure {
  int status;
  std::string message;
};

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
  return Fail(what, Error{Error::Kind::kRemote, ErrnoFromHost(err), "", {}});
}

using Outcome = std::optional<Failure>;  // nullopt: success

// ---- command table ----

struct Context;
struct Command {
  const char* name;
  const char* usage;    // after "p9x [OPTIONS] "
  const char* summary;  // one line
  const char* help;     // paragraph(s)
  bool connects;
  Outcome (*run)(Context&, const std::vector<std::string>&);
};

struct Context {
  Globals g;
  std::unique_ptr<Client> client;
  Fid root;
  json out = json::array();  // --json: commands append or replace
  bool out_is_object = false;
};

// ---- formatting ----

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The codec's qid form: {type=0x80 version=0 path=0x2}, path_hi:path when path_hi != 0.
std::string QidText(const Qid& q) {
  std::string s = "{type=" + Hex(q.type) + " version=" + std::to_string(q.version) + " path=";
  if (q.path_hi != 0) s += Hex(q.path_hi) + ":";
  return s + Hex(q.path) + "}";
}

json QidJson(const Qid& q) {
  return json{{"type", q.type}, {"version", q.version}, {"path", q.path}, {"path_hi", q.path_hi}};
}

std::string ModeString(uint32_t mode) {
  std::string s(10, '-');
  switch (mode & S_IFMT) {
    case S_IFDIR: s[0] = 'd'; break;
    case S_IFLNK: s[0] = 'l'; break;
    case S_IFCHR: s[0] = 'c'; break;
    case S_IFBLK: s[0] = 'b'; break;
    case S_IFIFO: s[0] = 'p'; break;
    case S_IFSOCK: s[0] = 's'; break;
    default: break;
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

const char* DialectName(Dialect d) { return d == Dialect::kXqid ? "xqid" : "legacy"; }

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

Outcome Connect(Context& ctx) {
  Options options;
  options.target = ctx.g.target;
  options.dialect = ctx.g.dialect;
  options.msize = ctx.g.msize;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(ctx.g.timeout_s) * 1000);
  auto client = Client::Connect(options);
  if (!client) return Failure{ExitFor(client.error()) == kExitUsage ? kExitUsage : kExitConnection,
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

// ---- commands ----

Outcome RunVersion(Context& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageFailure("version takes no arguments");
  Options options;
  options.target = ctx.g.target;
  options.dialect = ctx.g.dialect;
  options.msize = ctx.g.msize;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(ctx.g.timeout_s) * 1000);
  auto client = Client::Connect(options);
  if (!client) return Failure{kExitConnection, "version " + ctx.g.target + ": " + client.error().Describe()};
  const Negotiated& n = (*client)->negotiated();
  if (ctx.g.json) {
    ctx.out = json{{"target", ctx.g.target},
                   {"version", n.version},
                   {"dialect", DialectName(n.dialect)},
                   {"qid_bytes", QidWireSize(n.dialect)},
                   {"msize", n.msize},
                   {"offered_msize", ctx.g.msize},
                   {"connections", n.connections},
                   {"ladder", n.history}};
    ctx.out_is_object = true;
    return std::nullopt;
  }
  std::printf("target:      %s\n", ctx.g.target.c_str());
  std::printf("version:     %s\n", n.version.c_str());
  std::printf("dialect:     %s (%u-byte qids)\n", DialectName(n.dialect), QidWireSize(n.dialect));
  std::printf("msize:       %u (offered %u)\n", n.msize, ctx.g.msize);
  std::printf("connections: %d\n", n.connections);
  std::printf("ladder:\n");
  for (const auto& line : n.history) std::printf("  %s\n", line.c_str());
  return std::nullopt;
}

struct ListedEntry {
  std::string name;
  Qid qid;
  uint8_t dtype = 0;
  std::optional<Rgetattr> attr;
  std::string link_target;
};

void PrintLong(const ListedEntry& e) {
  if (!e.attr) {
    std::printf("?????????? %s\n", e.name.c_str());
    return;
  }
  const Rgetattr& a = *e.attr;
  const time_t t = static_cast<time_t>(a.mtime_sec);
  tm tm_utc{};
  gmtime_r(&t, &tm_utc);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm_utc);
  std::printf("%s %3llu %5u %5u %10llu %s %s", ModeString(a.mode).c_str(), static_cast<unsigned long long>(a.nlink),
              a.uid, a.gid, static_cast<unsigned long long>(a.size), when, e.name.c_str());
  if (!e.link_target.empty()) std::printf(" -> %s", e.link_target.c_str());
  std::printf("\n");
}

json EntryJson(const ListedEntry& e) {
  json j{{"name", e.name}, {"qid", QidJson(e.qid)}, {"dtype", e.dtype}};
  if (e.attr) j["attr"] = AttrJson(*e.attr);
  if (!e.link_target.empty()) j["link_target"] = e.link_target;
  return j;
}

Outcome RunLs(Context& ctx, const std::vector<std::string>& args) {
  bool long_format = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "-l") {
      long_format = true;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) paths.push_back("");
  Outcome failure;
  json all = json::array();
  for (const auto& path : paths) {
    auto fid = WalkTo(ctx, path);
    if (!fid) return Fail("ls " + Shown(path), fid.error());
    std::vector<ListedEntry> entries;
    if (!fid->is_dir()) {
      ListedEntry e{path, fid->qid(), 0, std::nullopt, ""};
      if (long_format) {
        auto attr = fid->GetAttr();
        if (!attr) return Fail("ls " + Shown(path), attr.error());
        e.attr = *attr;
        if ((e.qid.type & kQtSymlink) != 0) {
          auto link = fid->ReadLink();
          if (link) e.link_target = *link;
        }
      }
      entries.push_back(std::move(e));
    } else {
      auto opened = fid->Open(kOpenRdonly);
      if (!opened) return Fail("ls " + Shown(path), opened.error());
      auto dir = fid->ReadDir();
      if (!dir) return Fail("ls " + Shown(path), dir.error());
      for (const auto& d : *dir) {
        if (d.name == "." || d.name == "..") continue;
        entries.push_back(ListedEntry{d.name, d.qid, d.type, std::nullopt, ""});
      }
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      if (long_format) {
        for (auto& e : entries) {
          const std::string child = JoinPath(path, e.name);
          auto cf = WalkTo(ctx, child);
          if (!cf) {
            std::fprintf(stderr, "p9x: ls %s: %s\n", child.c_str(), cf.error().Describe().c_str());
            failure = Fail("ls " + child, cf.error());
            continue;
          }
          auto attr = cf->GetAttr();
          if (!attr) {
            std::fprintf(stderr, "p9x: ls %s: %s\n", child.c_str(), attr.error().Describe().c_str());
            failure = Fail("ls " + child, attr.error());
            continue;
          }
          e.attr = *attr;
          if ((attr->mode & S_IFMT) == S_IFLNK) {
            auto link = cf->ReadLink();
            if (link) e.link_target = *link;
          }
        }
      }
    }
    if (ctx.g.json) {
      json list = json::array();
      for (const auto& e : entries) list.push_back(EntryJson(e));
      all.push_back(json{{"path", Shown(path)}, {"entries", list}});
      continue;
    }
    if (paths.size() > 1) std::printf("%s:\n", Shown(path).c_str());
    for (const auto& e : entries) {
      if (long_format) {
        PrintLong(e);
      } else {
        const bool dir = (e.qid.type & kQtDir) != 0;
        std::printf("%s%s\n", e.name.c_str(), dir ? "/" : "");
      }
    }
  }
  if (ctx.g.json) {
    ctx.out = paths.size() == 1 ? all[0] : all;
    ctx.out_is_object = true;
  }
  if (failure) failure->message.clear();  // already printed per entry
  return failure;
}

Outcome RunStat(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty()) return UsageFailure("stat needs at least one PATH");
  json all = json::array();
  for (const auto& path : args) {
    auto fid = WalkTo(ctx, path);
    if (!fid) return Fail("stat " + Shown(path), fid.error());
    auto attr = fid->GetAttr(kGetattrAll);
    if (!attr) return Fail("stat " + Shown(path), attr.error());
    const Rgetattr& a = *attr;
    if (ctx.g.json) {
      json j = AttrJson(a);
      j["path"] = Shown(path);
      j["walk_qid"] = QidJson(fid->qid());
      all.push_back(j);
      continue;
    }
    std::printf("path:    %s\n", Shown(path).c_str());
    std::printf("qid:     %s\n", QidText(a.qid).c_str());
    if (fid->qid() != a.qid) std::printf("walk qid: %s (differs from Rgetattr's)\n", QidText(fid->qid()).c_str());
    std::printf("mode:    %s (0%o)\n", ModeString(a.mode).c_str(), a.mode);
    std::printf("uid:     %u  gid: %u  nlink: %llu\n", a.uid, a.gid, static_cast<unsigned long long>(a.nlink));
    std::printf("size:    %llu  blocks: %llu  blksize: %llu  rdev: %llu\n", static_cast<unsigned long long>(a.size),
                static_cast<unsigned long long>(a.blocks), static_cast<unsigned long long>(a.blksize),
                static_cast<unsigned long long>(a.rdev));
    std::printf("atime:   %s\n", TimeText(a.atime_sec, a.atime_nsec).c_str());
    std::printf("mtime:   %s\n", TimeText(a.mtime_sec, a.mtime_nsec).c_str());
    std::printf("ctime:   %s\n", TimeText(a.ctime_sec, a.ctime_nsec).c_str());
    if (a.valid & kGetattrBtime) std::printf("btime:   %s\n", TimeText(a.btime_sec, a.btime_nsec).c_str());
    std::printf("gen:     %llu  data_version: %llu  valid: %s\n", static_cast<unsigned long long>(a.gen),
                static_cast<unsigned long long>(a.data_version), Hex(a.valid).c_str());
    if (args.size() > 1) std::printf("\n");
  }
  if (ctx.g.json) {
    ctx.out = args.size() == 1 ? all[0] : all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

Result<std::vector<uint8_t>> ReadRemote(Context& ctx, const std::string& path) {
  auto fid = WalkTo(ctx, path);
  if (!fid) return Unexpected(fid.error());
  if (fid->is_dir()) return Unexpected(Error{Error::Kind::kRemote, Errno::kEISDIR, "", {}});
  auto opened = fid->Open(kOpenRdonly);
  if (!opened) return Unexpected(opened.error());
  return fid->ReadAll();
}

Outcome RunCat(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty()) return UsageFailure("cat needs at least one PATH");
  for (const auto& path : args) {
    auto data = ReadRemote(ctx, path);
    if (!data) return Fail("cat " + Shown(path), data.error());
    if (!data->empty() && std::fwrite(data->data(), 1, data->size(), stdout) != data->size()) {
      return LocalFailure("cat: writing standard output", errno);
    }
  }
  return std::nullopt;
}

Outcome RunGet(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageFailure("get needs REMOTE LOCAL");
  auto data = ReadRemote(ctx, args[0]);
  if (!data) return Fail("get " + Shown(args[0]), data.error());
  if (args[1] == "-") {
    if (std::fwrite(data->data(), 1, data->size(), stdout) != data->size()) {
      return LocalFailure("get: writing standard output", errno);
    }
  } else {
    std::ofstream f(args[1], std::ios::binary | std::ios::trunc);
    if (!f) return LocalFailure("get: open local " + args[1], errno);
    f.write(reinterpret_cast<const char*>(data->data()), static_cast<std::streamsize>(data->size()));
    if (!f) return LocalFailure("get: write local " + args[1], errno);
  }
  if (ctx.g.json) {
    ctx.out = json{{"remote", args[0]}, {"local", args[1]}, {"bytes", data->size()}};
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

Outcome RunPut(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageFailure("put needs LOCAL REMOTE");
  std::vector<uint8_t> data;
  uint32_t mode = 0644;
  if (args[0] == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(args[0], std::ios::binary);
    if (!f) return LocalFailure("put: open local " + args[0], errno);
    data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    struct stat st {};
    if (stat(args[0].c_str(), &st) == 0) mode = st.st_mode & 07777;
  }
  std::string parent, name;
  if (!SplitParent(args[1], &parent, &name)) return UsageFailure("put: REMOTE must name a file: " + args[1]);
  auto dir = WalkTo(ctx, parent);
  if (!dir) return Fail("put " + Shown(parent), dir.error());
  auto file = dir->Walk("");
  if (!file) return Fail("put " + args[1], file.error());
  auto created = file->Create(name, kOpenWronly | kOpenCreate | kOpenTrunc, mode, CurrentGid());
  if (!created) {
    // Tlcreate on an existing name: some servers refuse with EEXIST; open it instead.
    if (!(created.error().is_remote() && created.error().code == Errno::kEEXIST)) {
      return Fail("put " + args[1], created.error());
    }
    auto existing = dir->Walk(name);
    if (!existing) return Fail("put " + args[1], existing.error());
    auto opened = existing->Open(kOpenWronly | kOpenTrunc);
    if (!opened) return Fail("put " + args[1], opened.error());
    *file = std::move(*existing);
  }
  auto written = file->WriteAt(0, data);
  if (!written) return Fail("put " + args[1], written.error());
  auto clunked = file->Clunk();
  if (!clunked) return Fail("put " + args[1], clunked.error());
  if (ctx.g.json) {
    ctx.out = json{{"local", args[0]}, {"remote", args[1]}, {"bytes", data.size()}};
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

Outcome RunMkdir(Context& ctx, const std::vector<std::string>& args) {
  bool parents = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "-p") {
      parents = true;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) return UsageFailure("mkdir needs at least one PATH");
  json all = json::array();
  for (const auto& path : paths) {
    std::vector<std::string> todo;
    if (parents) {
      std::string sofar;
      std::stringstream ss(path);
      std::string part;
      while (std::getline(ss, part, '/')) {
        if (part.empty() || part == ".") continue;
        sofar = JoinPath(sofar, part);
        todo.push_back(sofar);
      }
    } else {
      todo.push_back(path);
    }
    for (const auto& p : todo) {
      std::string parent, name;
      if (!SplitParent(p, &parent, &name)) return UsageFailure("mkdir: bad path " + p);
      auto dir = WalkTo(ctx, parent);
      if (!dir) return Fail("mkdir " + Shown(parent), dir.error());
      auto qid = dir->Mkdir(name, 0755, CurrentGid());
      if (!qid) {
        if (parents && qid.error().is_remote() && qid.error().code == Errno::kEEXIST) continue;
        return Fail("mkdir " + p, qid.error());
      }
      all.push_back(json{{"path", p}, {"qid", QidJson(*qid)}});
    }
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

// Removes everything below the open directory `dir` (at `path`), depth first.
Outcome RemoveTree(Context& ctx, const Fid& dir, const std::string& path) {
  auto listing = dir.Walk("");
  if (!listing) return Fail("rm " + path, listing.error());
  auto opened = listing->Open(kOpenRdonly);
  if (!opened) return Fail("rm " + path, opened.error());
  auto entries = listing->ReadDir();
  if (!entries) return Fail("rm " + path, entries.error());
  (void)listing->Clunk();
  for (const auto& e : *entries) {
    if (e.name == "." || e.name == "..") continue;
    const std::string child = JoinPath(path, e.name);
    uint32_t flags = 0;
    if ((e.qid.type & kQtDir) != 0) {
      auto sub = dir.Walk(e.name);
      if (!sub) return Fail("rm " + child, sub.error());
      if (auto failed = RemoveTree(ctx, *sub, child)) return failed;
      flags = kAtRemovedir;
    }
    auto removed = dir.Unlink(e.name, flags);
    if (!removed) return Fail("rm " + child, removed.error());
  }
  return std::nullopt;
}

Outcome RunRm(Context& ctx, const std::vector<std::string>& args) {
  bool recursive = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "-r" || a == "-rf" || a == "-R") {
      recursive = true;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) return UsageFailure("rm needs at least one PATH");
  for (const auto& path : paths) {
    std::string parent, name;
    if (!SplitParent(path, &parent, &name)) return UsageFailure("rm: refusing to remove " + Shown(path));
    auto target = WalkTo(ctx, path);
    if (!target) return Fail("rm " + path, target.error());
    uint32_t flags = 0;
    if (target->is_dir()) {
      if (!recursive) return Fail("rm " + path, Error{Error::Kind::kRemote, Errno::kEISDIR, "use rm -r", {}});
      if (auto failed = RemoveTree(ctx, *target, path)) return failed;
      flags = kAtRemovedir;
    }
    (void)target->Clunk();
    auto dir = WalkTo(ctx, parent);
    if (!dir) return Fail("rm " + Shown(parent), dir.error());
    auto removed = dir->Unlink(name, flags);
    if (!removed) return Fail("rm " + path, removed.error());
  }
  return std::nullopt;
}

Outcome RunMv(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageFailure("mv needs SOURCE DEST");
  std::string src_parent, src_name, dst_parent, dst_name;
  if (!SplitParent(args[0], &src_parent, &src_name)) return UsageFailure("mv: bad SOURCE " + args[0]);
  std::string dest = args[1];
  // Like mv(1): an existing directory as DEST receives SOURCE under its own name.
  if (auto existing = WalkTo(ctx, dest); existing && existing->is_dir()) dest = JoinPath(dest, src_name);
  if (!SplitParent(dest, &dst_parent, &dst_name)) return UsageFailure("mv: bad DEST " + args[1]);
  auto from = WalkTo(ctx, src_parent);
  if (!from) return Fail("mv " + Shown(src_parent), from.error());
  auto to = WalkTo(ctx, dst_parent);
  if (!to) return Fail("mv " + Shown(dst_parent), to.error());
  auto renamed = from->Rename(src_name, *to, dst_name);
  if (!renamed) return Fail("mv " + args[0] + " " + dest, renamed.error());
  return std::nullopt;
}

Outcome RunLn(Context& ctx, const std::vector<std::string>& args) {
  bool symbolic = false;
  std::vector<std::string> rest;
  for (const auto& a : args) {
    if (a == "-s") {
      symbolic = true;
    } else {
      rest.push_back(a);
    }
  }
  if (rest.size() != 2) return UsageFailure("ln needs TARGET LINK");
  std::string parent, name;
  if (!SplitParent(rest[1], &parent, &name)) return UsageFailure("ln: bad LINK " + rest[1]);
  auto dir = WalkTo(ctx, parent);
  if (!dir) return Fail("ln " + Shown(parent), dir.error());
  if (symbolic) {
    auto qid = dir->Symlink(name, rest[0], CurrentGid());
    if (!qid) return Fail("ln -s " + rest[1], qid.error());
    if (ctx.g.json) {
      ctx.out = json{{"link", rest[1]}, {"target", rest[0]}, {"qid", QidJson(*qid)}};
      ctx.out_is_object = true;
    }
    return std::nullopt;
  }
  auto target = WalkTo(ctx, rest[0]);
  if (!target) return Fail("ln " + rest[0], target.error());
  auto linked = dir->Link(name, *target);
  if (!linked) return Fail("ln " + rest[1], linked.error());
  return std::nullopt;
}

Outcome TreeWalk(Context& ctx, const Fid& dir, const std::string& path, int depth, json& all) {
  auto listing = dir.Walk("");
  if (!listing) return Fail("tree " + Shown(path), listing.error());
  auto opened = listing->Open(kOpenRdonly);
  if (!opened) return Fail("tree " + Shown(path), opened.error());
  auto entries = listing->ReadDir();
  if (!entries) return Fail("tree " + Shown(path), entries.error());
  (void)listing->Clunk();
  std::sort(entries->begin(), entries->end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& e : *entries) {
    if (e.name == "." || e.name == "..") continue;
    const std::string child = JoinPath(path, e.name);
    // The walk's qid is the file's identity (walk(5)); the directory entry's is reported too
    // when it differs, since a server may disagree with itself there (peers.md §3).
    auto fid = dir.Walk(e.name);
    if (!fid) return Fail("tree " + child, fid.error());
    if (ctx.g.json) {
      json j{{"path", child}, {"qid", QidJson(fid->qid())}, {"depth", depth}};
      if (e.qid != fid->qid()) j["dirent_qid"] = QidJson(e.qid);
      all.push_back(j);
    } else {
      std::printf("%s  %s%s\n", QidText(fid->qid()).c_str(), child.c_str(), fid->is_dir() ? "/" : "");
      if (e.qid != fid->qid()) std::printf("    (directory entry says %s)\n", QidText(e.qid).c_str());
    }
    if (fid->is_dir()) {
      if (auto failed = TreeWalk(ctx, *fid, child, depth + 1, all)) return failed;
    }
  }
  return std::nullopt;
}

Outcome RunTree(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() > 1) return UsageFailure("tree takes at most one PATH");
  const std::string path = args.empty() ? "" : args[0];
  auto fid = WalkTo(ctx, path);
  if (!fid) return Fail("tree " + Shown(path), fid.error());
  json all = json::array();
  if (ctx.g.json) {
    all.push_back(json{{"path", Shown(path)}, {"qid", QidJson(fid->qid())}, {"depth", 0}});
  } else {
    std::printf("%s  %s\n", QidText(fid->qid()).c_str(), Shown(path).c_str());
  }
  if (fid->is_dir()) {
    if (auto failed = TreeWalk(ctx, *fid, path, 1, all)) return failed;
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

bool ParseUint(const std::string& s, uint64_t max, uint64_t* out);

// "2026-12-04T15:10:02.123456789Z" (JSON) or "15:10:02.123456" (text: time of day, microseconds).
std::string CaptureTime(uint64_t ns, bool full) {
  const time_t secs = static_cast<time_t>(ns / 1000000000u);
  const uint64_t frac = ns % 1000000000u;
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  if (full) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<unsigned long long>(frac));
  } else {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06llu", utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<unsigned long long>(frac / 1000));
  }
  return buf;
}

// `p9x decode CAPTURE`: every 9P frame in a pcap or pcapng file (client/pcap.h).
Outcome DecodeCapture(Context& ctx, const std::string& name, const std::vector<uint8_t>& bytes,
                      std::optional<uint16_t> port) {
  pcap::CaptureOptions options;
  if (port) {
    options.ports = {*port};
    options.detect_tversion = false;
  }
  auto capture = pcap::ParseCapture(bytes, options);
  if (!capture) return Failure{kExitRefused, "decode " + name + ": " + capture.error().Describe()};
  std::optional<Dialect> forced;
  if (ctx.g.dialect_given) {
    forced = ctx.g.dialect == negotiation::DialectChoice::kXqidOnly ? Dialect::kXqid : Dialect::kLegacy;
  }
  const auto decoded = pcap::DecodeCaptureFrames(*capture, forced);
  for (const auto& note : capture->notes) std::fprintf(stderr, "p9x: decode: note: %s\n", note.c_str());
  if (capture->frames.empty()) {
    std::fprintf(stderr, "p9x: decode: no 9P frames in %s (%s)\n", name.c_str(),
                 port ? ("only port " + std::to_string(*port) + " was read").c_str()
                      : "ports 564 and 5640, and connections that start with a Tversion; try --port N");
  }
  json all = json::array();
  std::vector<std::string> bad;
  for (size_t i = 0; i < capture->frames.size(); ++i) {
    const pcap::CaptureFrame& f = capture->frames[i];
    const pcap::DecodedFrame& d = decoded[i];
    const pcap::Conversation& conv = capture->conversations[f.conversation];
    const std::string text = d.decoded ? ToText(*d.decoded, d.wire.dialect) : BytesToText(f.bytes, d.wire);
    const std::string client = pcap::EndpointText(conv.client), server = pcap::EndpointText(conv.server);
    const bool to_server = f.direction == pcap::Direction::kClientToServer;
    if (!d.decoded) {
      bad.push_back("packet " + std::to_string(f.packet) + " (conversation " + std::to_string(f.conversation + 1) +
                    ", " + std::string(pcap::DirectionName(f.direction)) + "): " + d.decoded.error().Describe());
    }
    if (ctx.g.json) {
      json j{{"packet", f.packet},
             {"time", CaptureTime(f.timestamp_ns, true)},
             {"timestamp_ns", f.timestamp_ns},
             {"conversation", f.conversation + 1},
             {"client", client},
             {"server", server},
             {"direction", pcap::DirectionName(f.direction)},
             {"dialect", DialectName(d.wire.dialect)},
             {"msize", d.wire.msize},
             {"size", f.bytes.size()},
             {"text", text}};
      if (d.dialect_inferred) j["dialect_inferred"] = true;
      if (!d.decoded) j["error"] = d.decoded.error().Describe();
      all.push_back(j);
    } else {
      std::printf("%s [%zu] %s -> %s %s %s\n", CaptureTime(f.timestamp_ns, false).c_str(), f.conversation + 1,
                  client.c_str(), server.c_str(), to_server ? "c->s" : "s->c", text.c_str());
    }
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  if (!bad.empty()) {
    std::string message = "decode: " + std::to_string(bad.size()) + " of " + std::to_string(capture->frames.size()) +
                          " frames did not decode:";
    for (size_t i = 0; i < bad.size() && i < 20; ++i) message += "\n  " + bad[i];
    if (bad.size() > 20) message += "\n  ... and " + std::to_string(bad.size() - 20) + " more";
    return Failure{kExitRefused, message};
  }
  return std::nullopt;
}

Outcome RunDecode(Context& ctx, const std::vector<std::string>& args) {
  std::string hex;
  std::optional<std::pair<std::string, std::vector<uint8_t>>> capture;  // name, bytes
  std::optional<uint16_t> port;
  // Reads FILE ('-': standard input): a capture (by its magic number) or hex text.
  auto read_file = [&](const std::string& file) -> Outcome {
    std::string content;
    if (file == "-") {
      content.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream f(file, std::ios::binary);
      if (!f) return LocalFailure("decode: open " + file, errno);
      content.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    std::vector<uint8_t> bytes(content.begin(), content.end());
    if (pcap::LooksLikeCapture(bytes)) {
      if (capture) return UsageFailure("decode reads one capture at a time");
      capture.emplace(file, std::move(bytes));
    } else {
      hex += content;
    }
    return std::nullopt;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--file" || args[i] == "-f") {
      if (i + 1 >= args.size()) return UsageFailure("decode: --file needs a FILE");
      if (auto failed = read_file(args[++i])) return failed;
    } else if (args[i] == "--port" || args[i].rfind("--port=", 0) == 0) {
      std::string value;
      if (args[i] == "--port") {
        if (i + 1 >= args.size()) return UsageFailure("decode: --port needs a number");
        value = args[++i];
      } else {
        value = args[i].substr(7);
      }
      uint64_t n = 0;
      if (!ParseUint(value, 65535, &n) || n == 0) return UsageFailure("decode: --port must be 1 to 65535");
      port = static_cast<uint16_t>(n);
    } else if (args[i] == "--dialect" || args[i].rfind("--dialect=", 0) == 0) {
      // Also accepted after the command: `p9x decode capture.pcapng --dialect legacy`.
      std::string value;
      if (args[i] == "--dialect") {
        if (i + 1 >= args.size()) return UsageFailure("decode: --dialect needs auto, xqid or legacy");
        value = args[++i];
      } else {
        value = args[i].substr(10);
      }
      if (value != "auto" && value != "xqid" && value != "legacy") {
        return UsageFailure("--dialect must be auto, xqid or legacy, not \"" + value + "\"");
      }
      ctx.g.dialect_given = value != "auto";
      ctx.g.dialect = value == "xqid"     ? negotiation::DialectChoice::kXqidOnly
                      : value == "legacy" ? negotiation::DialectChoice::kLegacyOnly
                                          : negotiation::DialectChoice::kAuto;
    } else if (std::error_code ec; std::filesystem::is_regular_file(args[i], ec)) {
      if (auto failed = read_file(args[i])) return failed;
    } else if (args[i].find_first_of("./") != std::string::npos) {
      return LocalFailure("decode: open " + args[i], ENOENT);  // meant as a file: not hex
    } else {
      hex += args[i];
    }
  }
  if (capture) {
    if (!hex.empty()) return UsageFailure("decode: give either a capture or hex, not both");
    return DecodeCapture(ctx, capture->first, capture->second, port);
  }
  if (port) return UsageFailure("decode: --port applies to a capture file");
  if (hex.empty()) return UsageFailure("decode needs HEX, --file FILE or a capture file");
  // Tolerate "0x" prefixes and separators people paste from dumps.
  std::string clean;
  for (size_t i = 0; i < hex.size(); ++i) {
    if (hex[i] == '0' && i + 1 < hex.size() && (hex[i + 1] == 'x' || hex[i + 1] == 'X')) {
      ++i;
      continue;
    }
    if (std::isxdigit(static_cast<unsigned char>(hex[i]))) clean += hex[i];
  }
  if (clean.empty()) return UsageFailure("decode: \"" + hex + "\" is neither hex nor a file");
  std::vector<uint8_t> bytes;
  if (!FromHex(clean, &bytes)) return UsageFailure("decode: not hex (odd number of digits?)");
  json all = json::array();
  size_t pos = 0;
  bool bad = false;
  while (pos < bytes.size()) {
    std::span<const uint8_t> rest(bytes.data() + pos, bytes.size() - pos);
    size_t size = rest.size();
    if (rest.size() >= 4) {
      const uint32_t declared = static_cast<uint32_t>(rest[0]) | static_cast<uint32_t>(rest[1]) << 8 |
                                static_cast<uint32_t>(rest[2]) << 16 | static_cast<uint32_t>(rest[3]) << 24;
      if (declared >= kHeaderSize && declared <= rest.size()) size = declared;
    }
    const auto frame = rest.first(size);
    Dialect dialect = ctx.g.dialect == negotiation::DialectChoice::kXqidOnly ? Dialect::kXqid : Dialect::kLegacy;
    auto decoded = DecodeFrame(frame, WireContext{dialect, kMaxMsize});
    if (!decoded && !ctx.g.dialect_given && decoded.error().kind == CodecErrorKind::kDialectMismatch) {
      // --dialect auto: the frame's qids have the xqid size.
      dialect = Dialect::kXqid;
      decoded = DecodeFrame(frame, WireContext{dialect, kMaxMsize});
    }
    const std::string text = BytesToText(frame, WireContext{dialect, kMaxMsize});
    if (!decoded) bad = true;
    if (ctx.g.json) {
      json j{{"offset", pos}, {"size", size}, {"dialect", DialectName(dialect)}, {"text", text}};
      if (!decoded) j["error"] = decoded.error().Describe();
      all.push_back(j);
    } else {
      std::printf("%s\n", text.c_str());
    }
    pos += size;
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  if (bad) return Failure{kExitRefused, ""};
  return std::nullopt;
}

// ---- describe ----

struct WireSize {
  uint32_t fixed = 0;
  bool variable = false;
};

std::string LayoutOf(std::string_view wire_type, std::string_view name, Dialect d, WireSize* size) {
  const std::string n(name);
  const std::string qid = "qid[" + std::to_string(QidWireSize(d)) + "]";
  if (wire_type == "u8") return size->fixed += 1, n + "[1]";
  if (wire_type == "u16") return size->fixed += 2, n + "[2]";
  if (wire_type == "u32") return size->fixed += 4, n + "[4]";
  if (wire_type == "u64") return size->fixed += 8, n + "[8]";
  if (wire_type == "str") return size->fixed += 2, size->variable = true, n + "[s]";
  if (wire_type == "qid") return size->fixed += QidWireSize(d), n == "qid" ? qid : n + ":" + qid;
  if (wire_type == "data") return size->fixed += 4, size->variable = true, "count[4] data[count]";
  if (wire_type == "dirents") {
    size->fixed += 4;
    size->variable = true;
    return "count[4] data[count] (entries: " + qid + " offset[8] type[1] name[s])";
  }
  if (wire_type == "wnames") return size->fixed += 2, size->variable = true, "nwname[2] nwname*(wname[s])";
  if (wire_type == "wqids") return size->fixed += 2, size->variable = true, "nwqid[2] nwqid*(" + qid + ")";
  return n + "[" + std::string(wire_type) + "]";
}

std::vector<const MsgInfo*> MatchMessages(const std::string& query) {
  std::vector<const MsgInfo*> found;
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string q = lower(query);
  for (int t = 0; t < 256; ++t) {
    const MsgInfo* info = FindMsgInfo(static_cast<uint8_t>(t));
    if (!info) continue;
    const std::string name = lower(std::string(info->name));
    if (name == q || name.substr(1) == q || std::to_string(t) == q) found.push_back(info);
  }
  // An exact name wins over the T/R pair.
  for (const MsgInfo* info : found) {
    if (lower(std::string(info->name)) == q) return {info};
  }
  return found;
}

Outcome RunDescribe(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() > 1) return UsageFailure("describe takes at most one MESSAGE");
  if (args.empty()) {
    json all = json::array();
    for (int t = 0; t < 256; ++t) {
      const MsgInfo* info = FindMsgInfo(static_cast<uint8_t>(t));
      if (!info) continue;
      if (ctx.g.json) {
        all.push_back(json{{"name", info->name}, {"type", t}, {"reference", info->reference}});
      } else {
        std::printf("%3d  %-13s %s\n", t, std::string(info->name).c_str(), std::string(info->reference).c_str());
      }
    }
    if (ctx.g.json) {
      ctx.out = all;
      ctx.out_is_object = true;
    }
    return std::nullopt;
  }
  auto found = MatchMessages(args[0]);
  if (found.empty()) {
    return UsageFailure("describe: no message named \"" + args[0] + "\" (try `p9x describe` for the list)");
  }
  json all = json::array();
  for (const MsgInfo* info : found) {
    uint8_t type = 0;
    (void)MsgTypeFromName(info->name, &type);
    const auto fields = FieldDocs(type);
    json j{{"name", info->name},      {"type", type},
           {"reference", info->reference}, {"doc", info->doc},
           {"request", info->is_request},  {"mutates", info->mutates}};
    json jf = json::array();
    for (const auto& f : fields) jf.push_back(json{{"name", f.name}, {"wire_type", f.wire_type}, {"doc", f.doc}});
    j["fields"] = jf;
    std::string layouts[2];
    WireSize sizes[2];
    for (int d = 0; d < 2; ++d) {
      const Dialect dialect = d == 0 ? Dialect::kLegacy : Dialect::kXqid;
      sizes[d].fixed = kHeaderSize;
      std::string layout = "size[4] type[1] tag[2]";
      for (const auto& f : fields) layout += " " + LayoutOf(f.wire_type, f.name, dialect, &sizes[d]);
      layouts[d] = layout;
      j[d == 0 ? "legacy" : "xqid"] = json{{"layout", layout}, {"size", sizes[d].fixed}, {"variable", sizes[d].variable}};
    }
    if (ctx.g.json) {
      all.push_back(j);
      continue;
    }
    std::printf("%s (type %u) — %s%s\n", std::string(info->name).c_str(), type,
                std::string(info->reference).c_str(), info->mutates ? ", changes the file tree" : "");
    std::printf("  %s\n", std::string(info->doc).c_str());
    std::printf("  fields:\n");
    if (fields.empty()) std::printf("    (none)\n");
    for (const auto& f : fields) {
      std::printf("    %-14s %-8s %s\n", std::string(f.name).c_str(), std::string(f.wire_type).c_str(),
                  std::string(f.doc).c_str());
    }
    for (int d = 0; d < 2; ++d) {
      std::printf("  %s layout: %s\n", d == 0 ? "9P2000.L     " : "9P2000.L.xqid", layouts[d].c_str());
      std::printf("  %s size:   %s%u bytes\n", d == 0 ? "9P2000.L     " : "9P2000.L.xqid",
                  sizes[d].variable ? "at least " : "", sizes[d].fixed);
    }
    if (found.size() > 1) std::printf("\n");
  }
  if (ctx.g.json) {
    ctx.out = found.size() == 1 ? all[0] : all;
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

const Command kCommands[] = {
    {"version", "version", "connect and show the dialect and msize agreed, and the offers refused",
     "Runs the version ladder against --target and prints what was agreed: the version string, the\n"
     "dialect (legacy 13-byte qids or xqid 21-byte qids), the msize (the server may lower the offer),\n"
     "how many connections it took (servers that hang up on an unknown version force a reconnect)\n"
     "and one line per offer with the server's answer. --dialect auto (default) offers 9P2000.L.xqid\n"
     "and falls back to 9P2000.L; xqid fails unless the server accepts xqid; legacy offers 9P2000.L.",
     false, RunVersion},
    {"ls", "ls [-l] [PATH...]", "list a directory (or show a file)",
     "Lists the entries of each directory PATH (default: the attach root), sorted by name, without\n"
     "'.' and '..'; directories end in '/'. -l adds mode, links, uid, gid, size, mtime (UTC) and\n"
     "symlink targets (one Twalk+Tgetattr per entry). --json gives each entry's qid and d_type.",
     true, RunLs},
    {"stat", "stat PATH...", "show a file's attributes and qid (Tgetattr, all fields)",
     "Walks to each PATH and prints every Rgetattr field: the qid (path_hi:path in xqid sessions),\n"
     "mode, owner, size, times (UTC) and the valid mask. Reports when the walk's qid and Rgetattr's\n"
     "qid differ.",
     true, RunStat},
    {"cat", "cat PATH...", "print files to standard output",
     "Reads each file whole (Treads split to the iounit or msize, several in flight) and writes it\n"
     "to standard output.",
     true, RunCat},
    {"get", "get REMOTE LOCAL", "copy a remote file to a local file ('-': standard output)",
     "Reads REMOTE whole and writes it to LOCAL, replacing LOCAL.", true, RunGet},
    {"put", "put LOCAL REMOTE", "copy a local file ('-': standard input) to a remote path",
     "Creates or truncates REMOTE (Tlcreate with O_WRONLY|O_CREAT|O_TRUNC, the local file's mode\n"
     "or 0644) and writes LOCAL's bytes to it, split to the iounit or msize.",
     true, RunPut},
    {"mkdir", "mkdir [-p] PATH...", "create directories (mode 0755)",
     "Creates each directory with Tmkdir. -p creates missing parents and accepts existing ones.", true,
     RunMkdir},
    {"rm", "rm [-r] PATH...", "remove files, or directories with -r",
     "Removes each PATH with Tunlinkat (servers without it, such as diod, get Twalk+Tremove). A\n"
     "directory needs -r, which removes everything below it first.",
     true, RunRm},
    {"mv", "mv SOURCE DEST", "rename or move (Trenameat, or Trename)",
     "Renames SOURCE to DEST. If DEST is an existing directory, SOURCE moves into it.", true, RunMv},
    {"ln", "ln [-s] TARGET LINK", "make a hard link (Tlink) or a symbolic link (-s, Tsymlink)",
     "Without -s, LINK becomes another name of the remote file TARGET. With -s, LINK is a symlink\n"
     "whose content is the string TARGET.",
     true, RunLn},
    {"tree", "tree [PATH]", "every path below PATH with its qid",
     "Walks the whole tree below PATH (default: the root) and prints each path with the qid its\n"
     "Twalk returned (the server's identity for the file), noting directory entries whose qid\n"
     "differs. Two paths with the same qid are the same file as far as a client can tell.",
     true, RunTree},
    {"decode", "decode HEX... | decode --file FILE | decode CAPTURE [--port N]",
     "print frames given as hex, or every 9P frame in a packet capture (no server needed)",
     "Decodes one or more concatenated 9P frames from hex digits (whitespace, ':' and 0x ignored;\n"
     "--file FILE reads the hex from FILE, '-' for standard input) and prints each in the codec's\n"
     "text form. --dialect xqid decodes 21-byte qids; auto (default) uses 13-byte qids unless the\n"
     "frame only decodes with 21-byte ones.\n"
     "\n"
     "A CAPTURE is a pcap or pcapng file (dumpcap, tshark, tcpdump; recognised by its magic number,\n"
     "also through --file). Every TCP connection with an end on port 564 or 5640, or whose client\n"
     "starts with a Tversion, is reassembled (retransmissions, reordering, a capture that starts\n"
     "mid-stream) and split into frames; --port N reads only port N. One line per frame: capture\n"
     "time (UTC), [conversation] client -> server, direction (c->s, s->c) and the text form;\n"
     "--json gives an array of objects with packet, time, conversation, client, server, direction,\n"
     "dialect, msize, size, text (and error). Each conversation is decoded in the dialect its\n"
     "Tversion/Rversion agreed (9P2000.L until then; guessed from the qid size when the exchange\n"
     "was not captured) unless --dialect xqid or legacy is given. Notes about skipped or lost\n"
     "bytes go to standard error.\n"
     "\n"
     "Exit status 1 if a frame does not decode (each one is named) or the capture is damaged.",
     false, RunDecode},
    {"describe", "describe [MESSAGE]", "a message's spec entry and byte layout (no server needed)",
     "Prints the message table's entry for MESSAGE (Twalk, Rwalk, walk for both, or a type number):\n"
     "reference, meaning, fields, and the byte layout and size in 9P2000.L and in 9P2000.L.xqid.\n"
     "Without MESSAGE, lists every message.",
     false, RunDescribe},
};

const Command* FindCommand(const std::string& name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

void PrintMainHelp() {
  std::printf(
      "p9x: a 9P2000.L client that speaks both dialects (9P2000.L and 9P2000.L.xqid)\n"
      "\n"
      "usage: p9x [OPTIONS] COMMAND [ARGS...]\n"
      "       p9x COMMAND --help\n"
      "\n"
      "options:\n"
      "  --target T        server: tcp:HOST:PORT, tcp:[::1]:PORT, unix:PATH or exec:COMMAND\n"
      "                    (exec: runs COMMAND with the 9P stream on its stdin/stdout)\n"
      "                    default: $P9X_TARGET\n"
      "  --dialect D       auto (offer xqid, fall back to 9P2000.L; default), xqid, legacy\n"
      "  --msize N         largest message to offer (default %u; the server may lower it)\n"
      "  --aname A         the tree to attach (default \"\"; diod and nfs-ganesha want the export path)\n"
      "  --uname U         user name to attach as (default: your login name)\n"
      "  --n-uname N       numeric uid to attach as (default: your uid)\n"
      "  --timeout S       seconds to wait for each reply before flushing it (default 30)\n"
      "  --json            print results as JSON (every command that prints data)\n"
      "  -h, --help        this help\n"
      "\n"
      "commands:\n",
      kDefaultMsize);
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\n"
      "Paths are relative to the attach root; '/' separates names.\n"
      "Exit status: 0 ok; 1 the server refused (the message gives the errno name and the path);\n"
      "2 usage error; 3 could not connect or negotiate, or the connection failed.\n"
      "\n"
      "examples:\n"
      "  p9x --target tcp:127.0.0.1:5640 version\n"
      "  p9x --target unix:/run/p9xd.sock --aname /srv/export ls -l\n"
      "  p9x --target 'exec:p9xd --stdio --export /srv/export' tree\n"
      "  p9x decode 1500000064ffff0020000008003950323030302e4c\n"
      "  p9x decode capture.pcapng --port 5640\n"
      "  p9x describe walk\n");
}

void PrintCommandHelp(const Command& c) {
  std::printf("usage: p9x [OPTIONS] %s\n\n%s\n\n%s\n", c.usage, c.summary, c.help);
  if (c.connects) std::printf("\nNeeds --target (or $P9X_TARGET); see `p9x --help` for the options.\n");
}

bool ParseUint(const std::string& s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

int Main(int argc, char** argv) {
  Context ctx;
  if (const char* t = std::getenv("P9X_TARGET")) ctx.g.target = t;
  ctx.g.n_uname = static_cast<uint32_t>(getuid());
  if (const passwd* pw = getpwuid(getuid())) ctx.g.uname = pw->pw_name;
  if (ctx.g.uname.empty()) ctx.g.uname = "root";

  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  auto usage = [](const std::string& m) {
    std::fprintf(stderr, "p9x: %s\nRun `p9x --help` for usage.\n", m.c_str());
    return kExitUsage;
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.empty() || a[0] != '-') break;
    if (a == "-h" || a == "--help") {
      PrintMainHelp();
      return kExitOk;
    }
    if (a == "--json") {
      ctx.g.json = true;
      continue;
    }
    std::string name = a, value;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return usage("option " + a + " needs a value");
      value = args[++i];
    }
    uint64_t n = 0;
    if (name == "--target") {
      ctx.g.target = value;
    } else if (name == "--dialect") {
      ctx.g.dialect_given = value != "auto";
      if (value == "auto") {
        ctx.g.dialect = negotiation::DialectChoice::kAuto;
      } else if (value == "xqid") {
        ctx.g.dialect = negotiation::DialectChoice::kXqidOnly;
      } else if (value == "legacy") {
        ctx.g.dialect = negotiation::DialectChoice::kLegacyOnly;
      } else {
        return usage("--dialect must be auto, xqid or legacy, not \"" + value + "\"");
      }
    } else if (name == "--msize") {
      if (!ParseUint(value, kMaxMsize, &n) || n < kMinMsize) {
        return usage("--msize must be a number from " + std::to_string(kMinMsize) + " to " +
                     std::to_string(kMaxMsize));
      }
      ctx.g.msize = static_cast<uint32_t>(n);
    } else if (name == "--aname") {
      ctx.g.aname = value;
    } else if (name == "--uname") {
      ctx.g.uname = value;
    } else if (name == "--n-uname") {
      if (!ParseUint(value, 0xFFFFFFFFu, &n)) return usage("--n-uname must be a number");
      ctx.g.n_uname = static_cast<uint32_t>(n);
    } else if (name == "--timeout") {
      if (!ParseUint(value, 86400, &n) || n == 0) return usage("--timeout must be 1 to 86400 seconds");
      ctx.g.timeout_s = static_cast<int>(n);
    } else {
      return usage("unknown option " + a);
    }
  }
  if (i >= args.size()) {
    PrintMainHelp();
    return kExitUsage;
  }
  std::string command_name = args[i++];
  if (command_name == "help") {
    if (i < args.size()) {
      if (const Command* c = FindCommand(args[i])) {
        PrintCommandHelp(*c);
        return kExitOk;
      }
      return usage("no command named \"" + args[i] + "\"");
    }
    PrintMainHelp();
    return kExitOk;
  }
  const Command* command = FindCommand(command_name);
  if (!command) return usage("no command named \"" + command_name + "\"");
  std::vector<std::string> rest(args.begin() + static_cast<ptrdiff_t>(i), args.end());
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      PrintCommandHelp(*command);
      return kExitOk;
    }
  }
  // Options may also follow the command (p9x ls --json).
  std::vector<std::string> command_args;
  for (const auto& a : rest) {
    if (a == "--json") {
      ctx.g.json = true;
    } else {
      command_args.push_back(a);
    }
  }

  Outcome outcome;
  if (command->connects || command->run == RunVersion) {
    if (ctx.g.target.empty()) return usage(std::string(command->name) + " needs --target (or $P9X_TARGET)");
  }
  if (command->connects) {
    outcome = Connect(ctx);
    if (!outcome) outcome = Attach(ctx);
  }
  if (!outcome) outcome = command->run(ctx, command_args);
  if (ctx.g.json && ctx.out_is_object) std::printf("%s\n", ctx.out.dump(2).c_str());
  std::fflush(stdout);
  if (outcome) {
    if (!outcome->message.empty()) std::fprintf(stderr, "p9x: %s\n", outcome->message.c_str());
    return outcome->status;
  }
  return kExitOk;
}

}  // namespace
}  // namespace p9x::client

int main(int argc, char** argv) { return p9x::client::Main(argc, argv); }
