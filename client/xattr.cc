// Extended attributes over Txattrwalk/Txattrcreate (see xattr.h).
#include "client/xattr.h"

#include <utility>

#include "codec/constants.h"

namespace p9x::client {

namespace {

Error EmptyFid(const char* what) { return Error::Usage(Errno::kEBADF, std::string(what) + " on an empty Fid"); }

// Txattrcreate on a clone of `file`, then `value` written to it, then Tclunk, which applies it.
Result<void> Create(const Fid& file, std::string_view name, std::span<const uint8_t> value, uint32_t flags) {
  auto attr = file.Walk("");
  if (!attr) return Unexpected(attr.error());
  auto created = file.client()->Xattrcreate(attr->number(), name, value.size(), flags);
  if (!created) return Unexpected(created.error());
  if (!value.empty()) {
    if (auto written = attr->WriteAt(0, value); !written) return Unexpected(written.error());
  }
  return attr->Clunk();
}

}  // namespace

Result<std::vector<uint8_t>> XattrGet(const Fid& file, std::string_view name) {
  Client* client = file.client();
  if (client == nullptr) return Unexpected(EmptyFid("XattrGet"));
  auto newfid = client->AllocateFid();
  if (!newfid) return Unexpected(newfid.error());
  auto walked = client->Xattrwalk(file.number(), *newfid, name);
  if (!walked) {
    client->FreeFid(*newfid);  // the server created no fid
    return Unexpected(walked.error());
  }
  Fid attr(client, *newfid, file.qid());  // clunked when it goes out of scope
  std::vector<uint8_t> value(walked->msg().size);
  auto n = attr.ReadAt(0, value);
  if (!n) return Unexpected(n.error());
  value.resize(*n);
  return value;
}

Result<std::vector<std::string>> XattrList(const Fid& file) {
  auto list = XattrGet(file, "");
  if (!list) return Unexpected(list.error());
  std::vector<std::string> names;
  std::string name;
  for (uint8_t byte : *list) {
    if (byte == 0) {
      if (!name.empty()) names.push_back(std::move(name));
      name.clear();
    } else {
      name.push_back(static_cast<char>(byte));
    }
  }
  if (!name.empty()) names.push_back(std::move(name));
  return names;
}

Result<void> XattrSet(const Fid& file, std::string_view name, std::span<const uint8_t> value, uint32_t flags) {
  if (file.client() == nullptr) return Unexpected(EmptyFid("XattrSet"));
  return Create(file, name, value, flags);
}

Result<void> XattrRemove(const Fid& file, std::string_view name) {
  if (file.client() == nullptr) return Unexpected(EmptyFid("XattrRemove"));
  return Create(file, name, {}, kXattrReplace);
}

}  // namespace p9x::client
