// SPDX-License-Identifier: MIT
// The canonical text form of frames (text.h): the printer, the parser and the hex helpers.
#include "codec/text.h"

#include <array>
#include <cctype>
#include <limits>
#include <charconv>
#include <cstdio>

#include "codec/dirent.h"

namespace p9x {
namespace {

constexpr size_t kMaxHexDataBytes = 64;

bool IsHexField(std::string_view name) {
  return name.ends_with("mask") || name == "valid" || name == "flags";
}

void AppendHex(std::string& out, uint64_t v) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

void AppendString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += '"';
}

void AppendQid(std::string& out, const Qid& q) {
  out += "{type=";
  AppendHex(out, q.type);
  out += " version=" + std::to_string(q.version) + " path=";
  if (q.path_hi != 0) {
    AppendHex(out, q.path_hi);
    out += ':';
  }
  AppendHex(out, q.path);
  out += '}';
}

struct FieldPrinter {
  std::string& out;
  Dialect dialect;

  void operator()(std::string_view name, const auto& value) {
    out += ' ';
    out += name;
    out += '=';
    Value(name, value);
  }
  void Value(std::string_view name, uint8_t v) { Int(name, v); }
  void Value(std::string_view name, uint16_t v) { Int(name, v); }
  void Value(std::string_view name, uint32_t v) { Int(name, v); }
  void Value(std::string_view name, uint64_t v) { Int(name, v); }
  void Int(std::string_view name, uint64_t v) {
    if (IsHexField(name)) {
      AppendHex(out, v);
    } else {
      out += std::to_string(v);
    }
  }
  void Value(std::string_view, std::string_view s) { AppendString(out, s); }
  void Value(std::string_view, const Qid& q) { AppendQid(out, q); }
  void Value(std::string_view, const Bytes& d) {
    out += '<' + std::to_string(d.bytes.size()) + " bytes";
    if (!d.bytes.empty() && d.bytes.size() <= kMaxHexDataBytes) out += ' ' + ToHex(d.bytes);
    out += '>';
  }
  void Value(std::string_view, const DirentBytes& d) {
    out += '[';
    DirentReader reader(d.bytes, dialect);
    Dirent e;
    bool first = true;
    while (reader.Next(&e)) {
      if (!first) out += ", ";
      first = false;
      out += "{qid=";
      AppendQid(out, e.qid);
      out += " offset=" + std::to_string(e.offset) + " type=" + std::to_string(e.type) + " name=";
      AppendString(out, e.name);
      out += '}';
    }
    if (!reader.ok()) out += "<malformed>";
    out += ']';
  }
  void Value(std::string_view, const WalkNames& w) {
    out += '[';
    for (uint16_t i = 0; i < w.count; ++i) {
      if (i) out += ',';
      AppendString(out, w.names[i]);
    }
    out += ']';
  }
  void Value(std::string_view, const WalkQids& w) {
    out += '[';
    for (uint16_t i = 0; i < w.count; ++i) {
      if (i) out += ',';
      AppendQid(out, w.qids[i]);
    }
    out += ']';
  }
};

// ---- parser ----

class Parser {
 public:
  Parser(std::string_view text, Dialect dialect, ParsedFrame* result)
      : s_(text), dialect_(dialect), result_(result) {}

  bool Fail(std::string what) {
    if (error_.empty()) error_ = what + " at column " + std::to_string(pos_);
    return false;
  }
  const std::string& error() const { return error_; }

  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool Expect(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return Fail(std::string("expected '") + c + "'");
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  std::string_view Ident() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  bool Key(std::string_view want) {
    std::string_view got = Ident();
    if (got != want) return Fail("expected field '" + std::string(want) + "', got '" + std::string(got) + "'");
    return Expect('=');
  }
  bool Uint(uint64_t* v) {
    SkipSpace();
    const char* b = s_.data() + pos_;
    const char* e = s_.data() + s_.size();
    int base = 10;
    if (e - b > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X')) {
      b += 2;
      base = 16;
    }
    auto [ptr, ec] = std::from_chars(b, e, *v, base);
    if (ec != std::errc() || ptr == b) return Fail("expected a number");
    pos_ = static_cast<size_t>(ptr - s_.data());
    return true;
  }
  template <class T>
  bool Fixed(T* v) {
    uint64_t wide;
    if (!Uint(&wide)) return false;
    if (wide > std::numeric_limits<T>::max()) return Fail("number out of range");
    *v = static_cast<T>(wide);
    return true;
  }
  std::vector<uint8_t>& NewStorage() {
    result_->storage.push_back(std::make_unique<std::vector<uint8_t>>());
    return *result_->storage.back();
  }
  bool String(std::string_view* out) {
    if (!Expect('"')) return false;
    std::vector<uint8_t>& buf = NewStorage();
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        buf.push_back(static_cast<uint8_t>(c));
        continue;
      }
      if (pos_ >= s_.size()) return Fail("dangling escape");
      char k = s_[pos_++];
      if (k == 'x') {
        std::vector<uint8_t> byte;
        if (pos_ + 2 > s_.size() || !FromHex(s_.substr(pos_, 2), &byte)) return Fail("bad \\x escape");
        buf.push_back(byte[0]);
        pos_ += 2;
      } else {
        buf.push_back(static_cast<uint8_t>(k));
      }
    }
    if (!Expect('"')) return false;
    *out = std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size());
    return true;
  }
  bool ParseQid(Qid* q) {
    if (!Expect('{') || !Key("type") || !Fixed(&q->type) || !Key("version") || !Fixed(&q->version) ||
        !Key("path") || !Uint(&q->path)) {
      return false;
    }
    if (Peek(':')) {
      ++pos_;
      q->path_hi = q->path;
      if (!Uint(&q->path)) return false;
    }
    return Expect('}');
  }

  bool Value(uint8_t* v) { return Fixed(v); }
  bool Value(uint16_t* v) { return Fixed(v); }
  bool Value(uint32_t* v) { return Fixed(v); }
  bool Value(uint64_t* v) { return Uint(v); }
  bool Value(std::string_view* v) { return String(v); }
  bool Value(Qid* q) { return ParseQid(q); }
  bool Value(Bytes* d) {
    uint64_t n;
    if (!Expect('<') || !Uint(&n)) return false;
    if (Ident() != "bytes") return Fail("expected 'bytes'");
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != '>') ++pos_;
    std::vector<uint8_t>& buf = NewStorage();
    if (!FromHex(s_.substr(start, pos_ - start), &buf)) return Fail("bad hex data");
    if (buf.size() != n) return Fail("data needs its hex to be parsed (" + std::to_string(n) + " bytes)");
    d->bytes = buf;
    return Expect('>');
  }
  bool Value(DirentBytes* d) {
    std::vector<uint8_t>& buf = NewStorage();
    if (!Expect('[')) return false;
    for (bool first = true; !Peek(']'); first = false) {
      if (!first && !Expect(',')) return false;
      Dirent e;
      if (!Expect('{') || !Key("qid") || !ParseQid(&e.qid) || !Key("offset") || !Uint(&e.offset) ||
          !Key("type") || !Fixed(&e.type) || !Key("name") || !String(&e.name) || !Expect('}')) {
        return false;
      }
      const size_t at = buf.size();
      buf.resize(at + DirentWireSize(dialect_, e.name.size()));
      DirentWriter writer(std::span<uint8_t>(buf).subspan(at), dialect_);
      if (!writer.Add(e)) return Fail("entry not representable in this dialect");
    }
    d->bytes = buf;
    return Expect(']');
  }
  bool Value(WalkNames* w) {
    if (!Expect('[')) return false;
    while (!Peek(']')) {
      if (w->count > 0 && !Expect(',')) return false;
      if (w->count == kMaxWalkElements) return Fail("more than 16 names");
      if (!String(&w->names[w->count])) return false;
      ++w->count;
    }
    return Expect(']');
  }
  bool Value(WalkQids* w) {
    if (!Expect('[')) return false;
    while (!Peek(']')) {
      if (w->count > 0 && !Expect(',')) return false;
      if (w->count == kMaxWalkElements) return Fail("more than 16 qids");
      if (!ParseQid(&w->qids[w->count])) return false;
      ++w->count;
    }
    return Expect(']');
  }

  bool AtEnd() {
    SkipSpace();
    return pos_ == s_.size() || Fail("trailing text");
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  Dialect dialect_;
  ParsedFrame* result_;
  std::string error_;
};

using TextParser = bool (*)(Parser&, Message*);

template <class M>
bool ParseFields(Parser& p, Message* out) {
  M& msg = out->emplace<M>();
  bool ok = true;
  M::ForEachField(msg, [&](std::string_view name, auto& field) {
    ok = ok && p.Key(name) && p.Value(&field);
  });
  return ok;
}

}  // namespace

void AppendText(std::string& out, const Frame& frame, Dialect dialect) {
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, std::monostate>) {
          out += "<empty>";
        } else {
          out += M::kName;
          out += "{tag=" + std::to_string(frame.tag);
          M::ForEachField(m, FieldPrinter{out, dialect});
          out += '}';
        }
      },
      frame.msg);
}

std::string QidText(const Qid& q) {
  std::string out;
  AppendQid(out, q);
  return out;
}

std::string ToText(const Frame& frame, Dialect dialect) {
  std::string out;
  AppendText(out, frame, dialect);
  return out;
}

std::string BytesToText(std::span<const uint8_t> bytes, const WireContext& ctx) {
  auto frame = DecodeFrame(bytes, ctx);
  if (frame) return ToText(*frame, ctx.dialect);
  std::string out = "<undecodable: " + frame.error().Describe() + "> ";
  out += ToHex(bytes.first(std::min<size_t>(bytes.size(), 256)));
  if (bytes.size() > 256) out += "...";
  return out;
}

Result<std::unique_ptr<ParsedFrame>, std::string> ParseText(std::string_view text, Dialect dialect) {
  static constexpr auto kParsers = [] {
    std::array<std::pair<std::string_view, TextParser>, 256> table{};
    size_t i = 0;
#define P9X_PARSER_ENTRY(Name, number) table[i++] = {#Name, &ParseFields<Name>};
    P9X_MESSAGE_LIST(P9X_PARSER_ENTRY)
#undef P9X_PARSER_ENTRY
    return table;
  }();
  auto result = std::make_unique<ParsedFrame>();
  Parser p(text, dialect, result.get());
  std::string_view name = p.Ident();
  TextParser parse = nullptr;
  for (const auto& [n, fn] : kParsers) {
    if (fn != nullptr && n == name) parse = fn;
  }
  if (parse == nullptr) return Unexpected("unknown message '" + std::string(name) + "'");
  uint64_t tag;
  if (!p.Expect('{') || !p.Key("tag") || !p.Uint(&tag)) return Unexpected(p.error());
  if (tag > 0xFFFF) return Unexpected(std::string("tag out of range"));
  result->frame.tag = static_cast<uint16_t>(tag);
  if (!parse(p, &result->frame.msg) || !p.Expect('}') || !p.AtEnd()) return Unexpected(p.error());
  return result;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool FromHex(std::string_view hex, std::vector<uint8_t>* out) {
  int pending = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
    else return false;
    if (pending < 0) {
      pending = v;
    } else {
      out->push_back(static_cast<uint8_t>(pending << 4 | v));
      pending = -1;
    }
  }
  return pending < 0;
}

}  // namespace p9x
