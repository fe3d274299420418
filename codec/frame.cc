// SPDX-License-Identifier: MIT
// The frame codec (frame.h): header checks, stream framing, the table-built body decoders, the
// dialect-mismatch diagnosis, encoding, codec errors and the message facts (MsgInfo, field docs).
#include "codec/frame.h"

#include <array>
#include <cstring>

#include "codec/dirent.h"

namespace p9x {
namespace internal {

void Reader::Read(DirentBytes& d) {
  const uint32_t at = offset();
  d.bytes = Counted();
  if (!ok_) return;
  DirentReader entries(d.bytes, dialect_);
  Dirent entry;
  while (entries.Next(&entry)) {
  }
  if (!entries.ok()) Fail(CodecErrorKind::kBadDirent, at + 4 + static_cast<uint32_t>(entries.error_offset()));
}

}  // namespace internal

// ---- directory entries ----

bool DirentReader::Next(Dirent* out) {
  if (!ok_ || pos_ == data_.size()) return false;
  internal::Reader reader(data_.subspan(pos_), dialect_);
  reader.Read(out->qid);
  reader.Read(out->offset);
  reader.Read(out->type);
  reader.Read(out->name);
  if (!reader.ok()) {
    ok_ = false;
    return false;
  }
  pos_ = data_.size() - reader.remaining();
  return true;
}

bool DirentWriter::Add(const Dirent& entry) {
  const uint32_t size = DirentWireSize(dialect_, entry.name.size());
  if (entry.name.size() > 0xFFFF || size > out_.size() - used_) return false;
  internal::Writer writer(out_.subspan(used_, size), dialect_);
  writer.Write(entry.qid);
  writer.Write(entry.offset);
  writer.Write(entry.type);
  writer.Write(entry.name);
  if (!writer.ok()) return false;  // kQidNeedsXqid: a programming error upstream
  used_ += size;
  return true;
}

// ---- frames ----

Result<uint32_t, CodecError> PeekFrameSize(std::span<const uint8_t, 4> prefix, const WireContext& ctx) {
  const uint32_t size = internal::LoadLe<uint32_t>(prefix.data());
  if (size < kHeaderSize) return Unexpected(CodecError{CodecErrorKind::kFrameTooShort, 0, 0});
  if (size > ctx.msize) return Unexpected(CodecError{CodecErrorKind::kFrameTooLarge, 0, 0});
  return size;
}

Result<NextFrameResult, CodecError> NextFrame(std::span<const uint8_t> buffered, const WireContext& ctx) {
  if (buffered.size() < 4) return NextFrameResult{{}, 4};
  auto size = PeekFrameSize(buffered.first<4>(), ctx);
  if (!size) return Unexpected(size.error());
  if (buffered.size() < *size) return NextFrameResult{{}, *size};
  return NextFrameResult{buffered.first(*size), *size};
}

namespace {

using BodyDecoder = bool (*)(std::span<const uint8_t> body, Dialect, Message*, CodecError*);

template <class M>
bool DecodeInto(std::span<const uint8_t> body, Dialect dialect, Message* out, CodecError* error) {
  M& msg = out->emplace<M>();
  return internal::DecodeBody(body, dialect, msg, error);
}

// Type byte -> body decoder, built from the table; nullptr for numbers that are not messages.
constexpr std::array<BodyDecoder, 256> kBodyDecoders = [] {
  std::array<BodyDecoder, 256> table{};
#define P9X_DECODER_ENTRY(Name, number) table[number] = &DecodeInto<Name>;
  P9X_MESSAGE_LIST(P9X_DECODER_ENTRY)
#undef P9X_DECODER_ENTRY
  return table;
}();

constexpr std::array<bool, 256> kCarriesQid = [] {
  std::array<bool, 256> table{};
#define P9X_QID_ENTRY(Name, number) table[number] = Name::kCarriesQid;
  P9X_MESSAGE_LIST(P9X_QID_ENTRY)
#undef P9X_QID_ENTRY
  return table;
}();

}  // namespace

namespace internal {

CodecError ClassifyDialectError(std::span<const uint8_t> frame, const WireContext& ctx,
                                const CodecError& error) {
  const uint8_t type = frame[4];
  if (!kCarriesQid[type]) return error;
  if (error.kind != CodecErrorKind::kTruncated && error.kind != CodecErrorKind::kTrailingBytes &&
      error.kind != CodecErrorKind::kBadDirent) {
    return error;
  }
  Message scratch;
  CodecError ignored;
  const Dialect other = ctx.dialect == Dialect::kXqid ? Dialect::kLegacy : Dialect::kXqid;
  if (kBodyDecoders[type](frame.subspan(kHeaderSize), other, &scratch, &ignored)) {
    return CodecError{CodecErrorKind::kDialectMismatch, error.offset, type};
  }
  return error;
}

}  // namespace internal

Result<Frame, CodecError> DecodeFrame(std::span<const uint8_t> frame, const WireContext& ctx) {
  auto header = DecodeHeader(frame, ctx);
  if (!header) return Unexpected(header.error());
  const BodyDecoder decode = kBodyDecoders[header->type];
  if (decode == nullptr) return Unexpected(CodecError{CodecErrorKind::kUnknownType, 4, header->type});
  Frame out;
  out.tag = header->tag;
  CodecError error;
  if (!decode(frame.subspan(kHeaderSize), ctx.dialect, &out.msg, &error)) {
    return Unexpected(internal::ClassifyDialectError(frame, ctx, error));
  }
  return out;
}

uint32_t EncodedSize(const Message& msg, Dialect dialect) {
  return std::visit(
      [&](const auto& m) -> uint32_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, std::monostate>) {
          return 0;
        } else {
          return EncodedSize(m, dialect);
        }
      },
      msg);
}

Result<uint32_t, CodecError> Encode(const Frame& frame, const WireContext& ctx, std::span<uint8_t> out) {
  return std::visit(
      [&](const auto& m) -> Result<uint32_t, CodecError> {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, std::monostate>) {
          return Unexpected(CodecError{CodecErrorKind::kUnknownType, 4, 0});
        } else {
          return Encode(frame.tag, m, ctx, out);
        }
      },
      frame.msg);
}

Result<std::vector<uint8_t>, CodecError> EncodeToVector(const Frame& frame, const WireContext& ctx) {
  std::vector<uint8_t> out(EncodedSize(frame.msg, ctx.dialect));
  auto n = Encode(frame, ctx, out);
  if (!n) return Unexpected(n.error());
  out.resize(*n);
  return out;
}

void EncodeCountedReplyHeader(std::span<uint8_t, kRreadHeaderSize> out, MsgType type, uint16_t tag,
                              uint32_t count) {
  internal::StoreLe<uint32_t>(out.data(), kRreadHeaderSize + count);
  out[4] = static_cast<uint8_t>(type);
  internal::StoreLe<uint16_t>(out.data() + 5, tag);
  internal::StoreLe<uint32_t>(out.data() + 7, count);
}

// ---- errors ----

std::string_view CodecErrorName(CodecErrorKind kind) {
  static constexpr std::string_view kNames[] = {
#define P9X_CODEC_ERROR_NAME(name, text) #name,
      P9X_CODEC_ERROR_LIST(P9X_CODEC_ERROR_NAME)
#undef P9X_CODEC_ERROR_NAME
  };
  return kNames[static_cast<size_t>(kind)];
}

std::string_view CodecErrorText(CodecErrorKind kind) {
  static constexpr std::string_view kTexts[] = {
#define P9X_CODEC_ERROR_TEXT(name, text) text,
      P9X_CODEC_ERROR_LIST(P9X_CODEC_ERROR_TEXT)
#undef P9X_CODEC_ERROR_TEXT
  };
  return kTexts[static_cast<size_t>(kind)];
}

bool CodecErrorFromName(std::string_view name, CodecErrorKind* kind) {
#define P9X_CODEC_ERROR_FROM(n, text)   \
  if (name == #n) {                     \
    *kind = CodecErrorKind::k##n;       \
    return true;                        \
  }
  P9X_CODEC_ERROR_LIST(P9X_CODEC_ERROR_FROM)
#undef P9X_CODEC_ERROR_FROM
  return false;
}

std::string CodecError::Describe() const {
  std::string out(CodecErrorName(kind));
  out += " at byte " + std::to_string(offset);
  if (type != 0) {
    const MsgInfo* info = FindMsgInfo(type);
    out += " of ";
    out += info ? std::string(info->name) : "message";
    out += " (type " + std::to_string(type) + ")";
  }
  out += ": ";
  out += CodecErrorText(kind);
  return out;
}

// ---- message facts ----

namespace {

struct InfoTable {
  std::array<MsgInfo, 256> by_type{};
  std::array<bool, 256> present{};
};

constexpr InfoTable kInfo = [] {
  InfoTable t{};
#define P9X_INFO_ENTRY(Name, ref, doc)                                                                                 \
  t.by_type[static_cast<uint8_t>(MsgType::k##Name)] = {                                                                \
      #Name, ref, doc, #Name[0] == 'T', Name::kMutates, Name::kRunsOnWorker, Name::kReservesCount, Name::kCarriesQid}; \
  t.present[static_cast<uint8_t>(MsgType::k##Name)] = true;
  P9X_MESSAGE_DOCS(P9X_INFO_ENTRY)
#undef P9X_INFO_ENTRY
  return t;
}();

#define P9X_WIRE_TYPE_NAME(type, name) , #type
#define P9X_FIELD_DOC_ROW(Name, number)                                                   \
  constexpr std::string_view kWireTypes_##Name[] = {"" P9X_FIELDS_##Name(P9X_WIRE_TYPE_NAME)}; \
  constexpr FieldDoc kFieldDocs_##Name[] = {{"", "", ""} P9X_FIELD_DOCS_##Name(P9X_FIELD_DOC_ROW_ITEM)};
#define P9X_FIELD_DOC_ROW_ITEM(name, doc) , {#name, "", doc}
P9X_MESSAGE_LIST(P9X_FIELD_DOC_ROW)
#undef P9X_FIELD_DOC_ROW
#undef P9X_FIELD_DOC_ROW_ITEM
#undef P9X_WIRE_TYPE_NAME

struct FieldDocTable {
  std::array<std::array<FieldDoc, 24>, 256> rows{};
  std::array<uint8_t, 256> counts{};
};

constexpr FieldDocTable kFieldDocTable = [] {
  FieldDocTable t{};
#define P9X_FIELD_DOC_FILL(Name, number)                                                 \
  {                                                                                      \
    constexpr size_t n = std::size(kFieldDocs_##Name) - 1;                               \
    for (size_t i = 0; i < n; ++i) {                                                     \
      t.rows[number][i] = {kFieldDocs_##Name[i + 1].name, kWireTypes_##Name[i + 1],      \
                           kFieldDocs_##Name[i + 1].doc};                                \
    }                                                                                    \
    t.counts[number] = static_cast<uint8_t>(n);                                          \
  }
  P9X_MESSAGE_LIST(P9X_FIELD_DOC_FILL)
#undef P9X_FIELD_DOC_FILL
  return t;
}();

}  // namespace

const MsgInfo* FindMsgInfo(uint8_t type) { return kInfo.present[type] ? &kInfo.by_type[type] : nullptr; }

const MsgInfo* FindMsgInfo(std::string_view name) {
  uint8_t type;
  return MsgTypeFromName(name, &type) ? FindMsgInfo(type) : nullptr;
}

bool MsgTypeFromName(std::string_view name, uint8_t* type) {
  for (int t = 0; t < 256; ++t) {
    if (kInfo.present[t] && kInfo.by_type[t].name == name) {
      *type = static_cast<uint8_t>(t);
      return true;
    }
  }
  return false;
}

std::span<const FieldDoc> FieldDocs(uint8_t type) {
  return {kFieldDocTable.rows[type].data(), kFieldDocTable.counts[type]};
}

}  // namespace p9x
