// SPDX-License-Identifier: MIT
// p9x version (the negotiation with a server) and p9x describe (the message table, offline).
#include "client/cli/cli.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace p9x::client::cli {

Outcome RunVersion(Context& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageFailure("version takes no arguments");
  auto client = Client::Connect(ConnectOptions(ctx.g));
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

// ---- describe ----

namespace {

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

}  // namespace

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
    json j{{"name", info->name},           {"type", type},
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
      j[d == 0 ? "legacy" : "xqid"] =
          json{{"layout", layout}, {"size", sizes[d].fixed}, {"variable", sizes[d].variable}};
    }
    if (ctx.g.json) {
      all.push_back(j);
      continue;
    }
    std::printf("%s (type %u) — %s%s\n", std::string(info->name).c_str(), type, std::string(info->reference).c_str(),
                info->mutates ? ", changes the file tree" : "");
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

}  // namespace p9x::client::cli
