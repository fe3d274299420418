// Extended attributes of a remote file, over Txattrwalk and Txattrcreate (diod protocol.md
// xattrwalk, xattrcreate; the calls Linux's v9fs makes for getxattr, listxattr, setxattr and
// removexattr). Each call uses a fresh fid of its own and leaves `file` as it was.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"

namespace p9x::client {

// The names of the file's attributes (Txattrwalk with an empty name reads the NUL-separated list).
Result<std::vector<std::string>> XattrList(const Fid& file);
// The value of attribute `name`; ENODATA when the file has none of that name.
Result<std::vector<uint8_t>> XattrGet(const Fid& file, std::string_view name);
// Sets `name` to `value`. flags: 0, kXattrCreate (fail with EEXIST if present) or kXattrReplace
// (fail with ENODATA if absent). The server applies the value when the xattr fid is clunked, so
// a refusal may come from Tclunk. An empty value removes the attribute (as on Linux, an
// attr_size of 0 means removal), so use XattrRemove for that.
Result<void> XattrSet(const Fid& file, std::string_view name, std::span<const uint8_t> value, uint32_t flags = 0);
// Removes `name` (Txattrcreate with attr_size 0 and XATTR_REPLACE, as Linux's removexattr sends).
Result<void> XattrRemove(const Fid& file, std::string_view name);

}  // namespace p9x::client
