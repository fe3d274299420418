// SPDX-License-Identifier: MIT
// p9x xattr list|get|set|remove: a remote file's extended attributes (Fid::Xattr* in client/client.h).
#include "client/client.h"

#include <cstdio>
#include <iostream>
#include <iterator>

#include "client/cli/cli.h"

namespace p9x::client::cli {

namespace {

bool Printable(const std::vector<uint8_t>& value) {
  for (uint8_t c : value) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

Outcome RunXattr(Context& ctx, const Args& args) {
  if (args.empty()) return UsageFailure("xattr needs list, get, set or remove");
  const std::string& op = args[0];
  std::vector<std::string> rest;
  uint32_t flags = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (op == "set" && args[i] == "--create") {
      flags = kXattrCreate;
    } else if (op == "set" && args[i] == "--replace") {
      flags = kXattrReplace;
    } else {
      rest.push_back(args[i]);
    }
  }
  const size_t wanted = op == "list" ? 1 : op == "get" || op == "remove" ? 2 : op == "set" ? 3 : 0;
  if (wanted == 0) return UsageFailure("xattr: no operation named \"" + op + "\" (list, get, set, remove)");
  if (rest.size() != wanted) {
    static const char* const kUsage[] = {"", "xattr list PATH", "xattr get|remove PATH NAME",
                                         "xattr set [--create|--replace] PATH NAME VALUE"};
    return UsageFailure(std::string("usage: p9x ") + kUsage[wanted]);
  }
  const std::string& path = rest[0];
  const std::string what = "xattr " + op + " " + Shown(path) + (wanted > 1 ? " " + rest[1] : "");
  auto file = WalkTo(ctx, path);
  if (!file) return Fail(what, file.error());

  if (op == "list") {
    auto names = file->XattrList();
    if (!names) return Fail(what, names.error());
    if (ctx.g.json) {
      ctx.out = json{{"path", path}, {"names", *names}};
      ctx.out_is_object = true;
    } else {
      for (const auto& n : *names) std::printf("%s\n", n.c_str());
    }
  } else if (op == "get") {
    auto value = file->XattrGet(rest[1]);
    if (!value) return Fail(what, value.error());
    if (ctx.g.json) {
      ctx.out = json{{"path", path}, {"name", rest[1]}, {"size", value->size()}, {"hex", ToHex(*value)}};
      if (Printable(*value)) ctx.out["text"] = std::string(value->begin(), value->end());
      ctx.out_is_object = true;
    } else if (!value->empty() && std::fwrite(value->data(), 1, value->size(), stdout) != value->size()) {
      return LocalFailure("xattr get: writing standard output", errno);
    }
  } else if (op == "set") {
    std::vector<uint8_t> value;
    if (rest[2] == "-") {
      value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      value.assign(rest[2].begin(), rest[2].end());
    }
    if (value.empty()) return UsageFailure("xattr set: an empty VALUE would remove the attribute; use xattr remove");
    if (auto set = file->XattrSet(rest[1], value, flags); !set) return Fail(what, set.error());
  } else {
    if (auto removed = file->XattrRemove(rest[1]); !removed) return Fail(what, removed.error());
  }
  return std::nullopt;
}

}  // namespace p9x::client::cli
