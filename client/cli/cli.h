// SPDX-License-Identifier: MIT
// What every p9x command shares: the global options, the exit statuses, how a command reports a
// failure, the command table's row, the state a command runs with, and the helpers for
// connecting, walking, paths and printing. Each command family lives in its own file of
// client/cli/; main.cc holds the command table and the option parser.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "codec/text.h"

namespace p9x::client::cli {

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

int ExitFor(const Error& e);
Failure Fail(const std::string& what, const Error& e);
Failure UsageFailure(const std::string& message);
Failure LocalFailure(const std::string& what, int err);

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

// ---- formatting (common.cc) ----

std::string Hex(uint64_t v);
json QidJson(const Qid& q);
// "drwxr-xr-x" for a mode.
std::string ModeString(uint32_t mode);
// "2026-12-07 20:15:00.000000000 UTC".
std::string TimeText(uint64_t sec, uint64_t nsec);
json AttrJson(const Rgetattr& a);

// ---- paths (common.cc) ----

// Splits "a/b/c" into parent "a/b" and name "c". An empty name (path "" or "/") is an error.
bool SplitParent(const std::string& path, std::string* parent, std::string* name);
std::string JoinPath(const std::string& dir, const std::string& name);
// The path as shown in messages: "." for the root.
std::string Shown(const std::string& path);
uint32_t CurrentGid();

// An unsigned number in C syntax (decimal, 0x hex, 0 octal), at most `max`.
bool ParseUint(const std::string& s, uint64_t max, uint64_t* out);

// ---- connecting (common.cc) ----

// The client options the global options ask for.
Options ConnectOptions(const Globals& g);
// Connects to --target and negotiates (ctx.client).
Outcome Connect(Context& ctx);
// Attaches with --uname, --aname and --n-uname (ctx.root).
Outcome Attach(Context& ctx);
// The fid of a path below the attach root.
Result<Fid> WalkTo(Context& ctx, const std::string& path);

// ---- the commands ----

using Args = std::vector<std::string>;
Outcome RunVersion(Context& ctx, const Args& args);   // protocol.cc
Outcome RunDescribe(Context& ctx, const Args& args);  // protocol.cc
Outcome RunLs(Context& ctx, const Args& args);        // browse.cc
Outcome RunStat(Context& ctx, const Args& args);      // browse.cc
Outcome RunTree(Context& ctx, const Args& args);      // browse.cc
Outcome RunCat(Context& ctx, const Args& args);       // transfer.cc
Outcome RunGet(Context& ctx, const Args& args);       // transfer.cc
Outcome RunPut(Context& ctx, const Args& args);       // transfer.cc
Outcome RunMkdir(Context& ctx, const Args& args);     // change.cc
Outcome RunRm(Context& ctx, const Args& args);        // change.cc
Outcome RunMv(Context& ctx, const Args& args);        // change.cc
Outcome RunLn(Context& ctx, const Args& args);        // change.cc
Outcome RunDecode(Context& ctx, const Args& args);    // decode.cc
Outcome RunXattr(Context& ctx, const Args& args);     // xattr.cc

}  // namespace p9x::client::cli
