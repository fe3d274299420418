// SPDX-License-Identifier: MIT
// fuzz_decode_frame: libFuzzer target for the frame decoder (GUIDE R10, after rust-p9's
// tframe_decode and crosvm's p9_tframe_fuzzer).
//
// Every input is decoded in both dialects, and whatever the decoder accepts must satisfy:
//   - DecodeAs<M> (the typed fast path) accepts or refuses it exactly as DecodeFrame does;
//   - EncodedSize of the message is the input's size, and Encode gives back the input's exact
//     bytes (the decoder refuses trailing bytes, so one message has one encoding);
//   - decoding those bytes again gives the same message;
//   - when every data field prints its bytes (64 or fewer), the text form parses back to a
//     message that encodes to the same bytes.
// A refused input must name an offset inside the input. Any violation aborts, which libFuzzer
// reports as a crash with the input saved.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <variant>

#include "codec/frame.h"
#include "codec/text.h"

namespace p9x {
namespace {

[[noreturn]] void Violation(const char* what, std::span<const uint8_t> in, Dialect d) {
  std::fprintf(stderr, "fuzz_decode_frame: %s (%s)\n  input %s\n", what,
               d == Dialect::kXqid ? "xqid" : "legacy", ToHex(in).c_str());
  std::abort();
}

#define P9X_FUZZ_REQUIRE(cond, what) \
  do {                               \
    if (!(cond)) Violation(what, in, d); \
  } while (0)

using TypedDecode = bool (*)(std::span<const uint8_t>, const WireContext&, const Result<Frame, CodecError>&);

// DecodeAs<M> must agree with DecodeFrame on the same bytes.
template <class M>
bool TypedAgrees(std::span<const uint8_t> in, const WireContext& ctx, const Result<Frame, CodecError>& frame) {
  auto typed = DecodeAs<M>(in, ctx);
  if (typed.has_value() != frame.has_value()) return false;
  if (!typed) return typed.error() == frame.error();
  const M* same = std::get_if<M>(&frame->msg);
  return same != nullptr && *same == *typed;
}

constexpr auto kTyped = [] {
  std::array<TypedDecode, 256> table{};
#define P9X_FUZZ_TYPED(Name, number) table[number] = &TypedAgrees<Name>;
  P9X_MESSAGE_LIST(P9X_FUZZ_TYPED)
#undef P9X_FUZZ_TYPED
  return table;
}();

// Whether some data field is too long for the text form to carry its bytes.
bool HasUnprintedData(const Message& msg) {
  bool unprinted = false;
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (!std::is_same_v<M, std::monostate>) {
          M::ForEachField(m, [&](std::string_view, const auto& field) {
            if constexpr (std::is_same_v<std::decay_t<decltype(field)>, Bytes>) {
              unprinted = unprinted || field.bytes.size() > 64;
            }
          });
        }
      },
      msg);
  return unprinted;
}

void CheckDialect(std::span<const uint8_t> in, Dialect d) {
  const WireContext ctx{d, kMaxMsize};
  const auto frame = DecodeFrame(in, ctx);
  const std::string text = BytesToText(in, ctx);  // the printer must cope with anything
  if (in.size() >= kHeaderSize && kTyped[in[4]] != nullptr) {
    P9X_FUZZ_REQUIRE(kTyped[in[4]](in, ctx, frame), "DecodeAs<M> disagrees with DecodeFrame");
  }
  if (!frame) {
    P9X_FUZZ_REQUIRE(frame.error().offset <= in.size(), "error offset past the input");
    P9X_FUZZ_REQUIRE(text.starts_with("<undecodable: "), "BytesToText of a refused frame");
    return;
  }
  P9X_FUZZ_REQUIRE(EncodedSize(frame->msg, d) == in.size(), "EncodedSize differs from the input size");
  const auto encoded = EncodeToVector(*frame, ctx);
  P9X_FUZZ_REQUIRE(encoded.has_value(), "an accepted frame does not encode");
  P9X_FUZZ_REQUIRE(std::equal(encoded->begin(), encoded->end(), in.begin(), in.end()),
                   "encode(decode(x)) != x");
  const auto again = DecodeFrame(*encoded, ctx);
  P9X_FUZZ_REQUIRE(again.has_value() && again->tag == frame->tag && again->msg == frame->msg,
                   "decode(encode(decode(x))) != decode(x)");
  P9X_FUZZ_REQUIRE(text == ToText(*frame, d), "BytesToText differs from ToText");
  if (!HasUnprintedData(frame->msg)) {
    const auto parsed = ParseText(text, d);
    P9X_FUZZ_REQUIRE(parsed.has_value(), "the text form of an accepted frame does not parse");
    const auto from_text = EncodeToVector((*parsed)->frame, ctx);
    P9X_FUZZ_REQUIRE(from_text.has_value() && *from_text == *encoded, "encode(parse(print(x))) != x");
  }
}

#undef P9X_FUZZ_REQUIRE

}  // namespace
}  // namespace p9x

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  p9x::CheckDialect(in, p9x::Dialect::kLegacy);
  p9x::CheckDialect(in, p9x::Dialect::kXqid);
  return 0;
}
