// SPDX-License-Identifier: MIT
// The 9P2000.L message types, expanded from the message table (codec/messages.inc, generated
// from spec/messages.json). Nothing here lists messages by hand: adding a message to the table
// adds its struct, its MsgType value, its place in the Message variant, and (in frame.cc and
// text.cc) its encoder, decoder, size function, printer and parser.
//
// Decoded messages are views: strings, data and directory entries point into the frame they
// were decoded from, so a decoded message is valid only while that buffer is.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "codec/constants.h"
#include "codec/messages.inc"
#include "codec/qid.h"

namespace p9x {

// Wire type -> C++ type. Each wire type of the table has exactly one C++ type, and the codec's
// overloads on these types are its per-type encode/decode/size/print rules.
struct Bytes {  // data: count[4] + count bytes
  std::span<const uint8_t> bytes;
  friend bool operator==(const Bytes& a, const Bytes& b) {
    return std::equal(a.bytes.begin(), a.bytes.end(), b.bytes.begin(), b.bytes.end());
  }
};
struct DirentBytes {  // dirents: count[4] + packed directory entries (see codec/dirent.h)
  std::span<const uint8_t> bytes;
  friend bool operator==(const DirentBytes& a, const DirentBytes& b) {
    return std::equal(a.bytes.begin(), a.bytes.end(), b.bytes.begin(), b.bytes.end());
  }
};
struct WalkNames {  // wnames: nwname[2] + nwname strings, nwname <= 16
  uint16_t count = 0;
  std::array<std::string_view, kMaxWalkElements> names{};
  std::span<const std::string_view> view() const { return {names.data(), count}; }
  friend bool operator==(const WalkNames& a, const WalkNames& b) {
    return std::equal(a.view().begin(), a.view().end(), b.view().begin(), b.view().end());
  }
};
struct WalkQids {  // wqids: nwqid[2] + nwqid qids, nwqid <= 16
  uint16_t count = 0;
  std::array<Qid, kMaxWalkElements> qids{};
  std::span<const Qid> view() const { return {qids.data(), count}; }
  friend bool operator==(const WalkQids& a, const WalkQids& b) {
    return std::equal(a.view().begin(), a.view().end(), b.view().begin(), b.view().end());
  }
};

namespace wire {
using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using str = std::string_view;
using qid = Qid;
using data = Bytes;
using dirents = DirentBytes;
using wnames = WalkNames;
using wqids = WalkQids;
}  // namespace wire

// Every message type number (Linux enum p9_msg_t values).
enum class MsgType : uint8_t {
#define P9X_ENUM_ENTRY(Name, number) k##Name = number,
  P9X_MESSAGE_LIST(P9X_ENUM_ENTRY)
#undef P9X_ENUM_ENTRY
};

// One struct per message, with the man-page field names. ForEachField(visitor) calls
// visitor("name", member) for each field in wire order; the codec is written once against it.
// The table's per-message attributes are constants of the struct:
//   kMutates        changes the file tree (refused with EROFS on a read-only export)
//   kRunsOnWorker   may block on storage: p9xd runs it on its worker pool; the others are answered on
//                   the connection thread, which saves a thread hand-off (QEMU measured ~30 µs each)
//   kReservesCount  the reply can be as long as the request's count: the server reserves that room
//   kCarriesQid     a field holds a qid (qid, wqids, dirents), so its size depends on the dialect
// clang-format off
#define P9X_FIELD_MEMBER(type, name) wire::type name{};
#define P9X_FIELD_VISIT(type, name) visit(#name, self.name);
#define P9X_ATTR_MEMBERS(mutates, runs_on_worker, reserves_count, carries_qid) \
  static constexpr bool kMutates = mutates;                                    \
  static constexpr bool kRunsOnWorker = runs_on_worker;                        \
  static constexpr bool kReservesCount = reserves_count;                       \
  static constexpr bool kCarriesQid = carries_qid;
#define P9X_MESSAGE_STRUCT(Name, number)                               \
  struct Name {                                                        \
    static constexpr MsgType kType = MsgType::k##Name;                 \
    static constexpr std::string_view kName = #Name;                   \
    P9X_ATTRS_##Name(P9X_ATTR_MEMBERS)                                 \
    P9X_FIELDS_##Name(P9X_FIELD_MEMBER)                                \
    template <class Self, class Visitor>                               \
    static constexpr void ForEachField(Self& self, Visitor&& visit) {  \
      (void)self;                                                      \
      (void)visit;                                                     \
      P9X_FIELDS_##Name(P9X_FIELD_VISIT)                               \
    }                                                                  \
    friend bool operator==(const Name&, const Name&) = default;        \
  };
P9X_MESSAGE_LIST(P9X_MESSAGE_STRUCT)
// clang-format on
#undef P9X_MESSAGE_STRUCT
#undef P9X_ATTR_MEMBERS
#undef P9X_FIELD_MEMBER
#undef P9X_FIELD_VISIT

// The reply message of request T (Tfoo -> Rfoo, whose type number is T's plus one).
namespace internal {
template <class T>
struct ReplyOfRequest;
#define P9X_REPLY_OF_ENTRY(Request, Reply) \
  template <>                              \
  struct ReplyOfRequest<Request> {         \
    using type = Reply;                    \
  };
P9X_REQUEST_LIST(P9X_REPLY_OF_ENTRY)
#undef P9X_REPLY_OF_ENTRY
}  // namespace internal
template <class T>
using ReplyOf = typename internal::ReplyOfRequest<T>::type;

// Any message. std::monostate is the empty state of a default-constructed Message.
using Message = std::variant<std::monostate
#define P9X_VARIANT_ALT(Name, number) , Name
                             P9X_MESSAGE_LIST(P9X_VARIANT_ALT)
#undef P9X_VARIANT_ALT
                             >;

// A decoded or to-be-encoded frame: the tag and the message.
struct Frame {
  uint16_t tag = kNoTag;
  Message msg;
};

// Facts about message types, from the table.
struct MsgInfo {
  std::string_view name;       // "Twalk"
  std::string_view reference;  // "walk(5)"
  std::string_view doc;        // one paragraph
  bool is_request = false;     // T-message
  bool mutates = false;        // changes the file tree (M::kMutates)
  bool runs_on_worker = false;  // M::kRunsOnWorker
  bool reserves_count = false;  // M::kReservesCount
  bool carries_qid = false;     // M::kCarriesQid: the body's size depends on the dialect
};

// nullptr when `type` is not a 9P2000.L message number.
const MsgInfo* FindMsgInfo(uint8_t type);
// nullptr when no message has that name (exact, e.g. "Twalk").
const MsgInfo* FindMsgInfo(std::string_view name);
// Type number for a name, if any.
bool MsgTypeFromName(std::string_view name, uint8_t* type);

// Field documentation for `describe`: calls f(field_name, meaning) in wire order.
struct FieldDoc {
  std::string_view name;
  std::string_view wire_type;
  std::string_view doc;
};
std::span<const FieldDoc> FieldDocs(uint8_t type);

}  // namespace p9x
