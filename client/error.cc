// SPDX-License-Identifier: MIT
// The client's error value (error.h): how it prints, and the Error an Rlerror or an unexpected
// reply becomes.
#include "client/error.h"

#include "codec/frame.h"
#include "codec/messages.h"
#include "negotiation/version.h"

namespace p9x::client {

std::string ErrnoLabel(Errno code) {
  const std::string_view name = ErrnoName(code);
  if (!name.empty()) return std::string(name);
  return "errno " + std::to_string(static_cast<uint32_t>(code));
}

std::string Error::Describe() const {
  std::string out = ErrnoLabel(code);
  const std::string_view text = ErrnoText(code);
  if (!text.empty()) {
    out += " (";
    out += text;
    out += ')';
  }
  if (!detail.empty()) {
    out += ": ";
    out += detail;
  }
  return out;
}

bool IsErrorReply(std::span<const uint8_t> frame) {
  return frame.size() >= kHeaderSize &&
         (frame[4] == static_cast<uint8_t>(MsgType::kRlerror) || frame[4] == negotiation::kRerrorType);
}

Error ErrorFromReply(std::span<const uint8_t> frame, std::string_view expected) {
  if (frame.size() < kHeaderSize) {
    return Error::Protocol("frame of " + std::to_string(frame.size()) + " bytes where " +
                           std::string(expected) + " was expected");
  }
  const uint8_t type = frame[4];
  if (IsErrorReply(frame)) {
    // negotiation's DecodeVersionReply already reads Rlerror and both type-107 bodies the way
    // Linux p9_check_errors does; it is not specific to Tversion, so it is reused here.
    auto reply = negotiation::DecodeVersionReply(frame);
    if (!reply) return Error::Codec(reply.error());
    if (reply->kind == negotiation::VersionReply::Kind::kRlerror) return Error::Remote(reply->ecode);
    Error e{Error::Kind::kRemoteText, Errno::kEIO, reply->ename, {}};
    if (reply->ecode != 0) e.code = static_cast<Errno>(reply->ecode);
    return e;
  }
  const MsgInfo* info = FindMsgInfo(type);
  const std::string got = info ? std::string(info->name) : "type " + std::to_string(type);
  return Error::Protocol("server sent " + got + " where " + std::string(expected) + " was expected");
}

}  // namespace p9x::client
