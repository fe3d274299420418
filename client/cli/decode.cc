// SPDX-License-Identifier: MIT
// p9x decode: 9P frames from hex, a file of frames or a packet capture, printed as text or JSON.
#include "client/cli/cli.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "client/pcap.h"

namespace p9x::client::cli {

namespace {

// The hex digits of `text` appended to *digits; false when `text` holds anything but hex digits,
// whitespace, ':' separators and 0x prefixes (so a mistyped file name is not read as no bytes).
bool HexDigits(std::string_view text, std::string* digits) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
      ++i;
    } else if (std::isxdigit(c)) {
      *digits += static_cast<char>(c);
    } else if (!std::isspace(c) && c != ':') {
      return false;
    }
  }
  return true;
}

// "2026-12-04T15:10:02.123456789Z" (JSON) or "15:10:02.123456" (text: time of day, microseconds).
std::string CaptureTime(uint64_t ns, bool full) {
  const time_t secs = static_cast<time_t>(ns / 1000000000u);
  const uint64_t frac = ns % 1000000000u;
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  if (full) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<unsigned long long>(frac));
  } else {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06llu", utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<unsigned long long>(frac / 1000));
  }
  return buf;
}

// `p9x decode CAPTURE`: every 9P frame in a pcap or pcapng file (client/pcap.h).
Outcome DecodeCapture(Context& ctx, const std::string& name, const std::vector<uint8_t>& bytes,
                      std::optional<uint16_t> port) {
  pcap::CaptureOptions options;
  if (port) {
    options.ports = {*port};
    options.detect_tversion = false;
  }
  auto capture = pcap::ParseCapture(bytes, options);
  if (!capture) return Failure{kExitRefused, "decode " + name + ": " + capture.error().Describe()};
  std::optional<Dialect> forced;
  if (ctx.g.dialect_given) {
    forced = ctx.g.dialect == negotiation::DialectChoice::kXqidOnly ? Dialect::kXqid : Dialect::kLegacy;
  }
  const auto decoded = pcap::DecodeCaptureFrames(*capture, forced);
  for (const auto& note : capture->notes) std::fprintf(stderr, "p9x: decode: note: %s\n", note.c_str());
  if (capture->frames.empty()) {
    std::fprintf(stderr, "p9x: decode: no 9P frames in %s (%s)\n", name.c_str(),
                 port ? ("only port " + std::to_string(*port) + " was read").c_str()
                      : "ports 564 and 5640, and connections that start with a Tversion; try --port N");
  }
  json all = json::array();
  std::vector<std::string> bad;
  for (size_t i = 0; i < capture->frames.size(); ++i) {
    const pcap::CaptureFrame& f = capture->frames[i];
    const pcap::DecodedFrame& d = decoded[i];
    const pcap::Conversation& conv = capture->conversations[f.conversation];
    const std::string text = d.decoded ? ToText(*d.decoded, d.wire.dialect) : BytesToText(f.bytes, d.wire);
    const std::string client = pcap::EndpointText(conv.client), server = pcap::EndpointText(conv.server);
    const bool to_server = f.direction == pcap::Direction::kClientToServer;
    if (!d.decoded) {
      bad.push_back("packet " + std::to_string(f.packet) + " (conversation " + std::to_string(f.conversation + 1) +
                    ", " + std::string(pcap::DirectionName(f.direction)) + "): " + d.decoded.error().Describe());
    }
    if (ctx.g.json) {
      json j{{"packet", f.packet},
             {"time", CaptureTime(f.timestamp_ns, true)},
             {"timestamp_ns", f.timestamp_ns},
             {"conversation", f.conversation + 1},
             {"client", client},
             {"server", server},
             {"direction", pcap::DirectionName(f.direction)},
             {"dialect", DialectName(d.wire.dialect)},
             {"msize", d.wire.msize},
             {"size", f.bytes.size()},
             {"text", text}};
      if (d.dialect_inferred) j["dialect_inferred"] = true;
      if (!d.decoded) j["error"] = d.decoded.error().Describe();
      all.push_back(j);
    } else {
      std::printf("%s [%zu] %s -> %s %s %s\n", CaptureTime(f.timestamp_ns, false).c_str(), f.conversation + 1,
                  client.c_str(), server.c_str(), to_server ? "c->s" : "s->c", text.c_str());
    }
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  if (!bad.empty()) {
    std::string message = "decode: " + std::to_string(bad.size()) + " of " + std::to_string(capture->frames.size()) +
                          " frames did not decode:";
    for (size_t i = 0; i < bad.size() && i < 20; ++i) message += "\n  " + bad[i];
    if (bad.size() > 20) message += "\n  ... and " + std::to_string(bad.size() - 20) + " more";
    return Failure{kExitRefused, message};
  }
  return std::nullopt;
}

}  // namespace

Outcome RunDecode(Context& ctx, const std::vector<std::string>& args) {
  std::string hex;
  std::optional<std::pair<std::string, std::vector<uint8_t>>> capture;  // name, bytes
  std::optional<uint16_t> port;
  // Reads FILE ('-': standard input): a capture (by its magic number) or hex text.
  auto read_file = [&](const std::string& file) -> Outcome {
    std::string content;
    if (file == "-") {
      content.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream f(file, std::ios::binary);
      if (!f) return LocalFailure("decode: open " + file, errno);
      content.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    std::vector<uint8_t> bytes(content.begin(), content.end());
    if (pcap::LooksLikeCapture(bytes)) {
      if (capture) return UsageFailure("decode reads one capture at a time");
      capture.emplace(file, std::move(bytes));
    } else if (!HexDigits(content, &hex)) {
      return UsageFailure("decode: " + file + " is neither a capture (pcap, pcapng) nor hex");
    }
    return std::nullopt;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--file" || args[i] == "-f") {
      if (i + 1 >= args.size()) return UsageFailure("decode: --file needs a FILE");
      if (auto failed = read_file(args[++i])) return failed;
    } else if (args[i] == "--port" || args[i].rfind("--port=", 0) == 0) {
      std::string value;
      if (args[i] == "--port") {
        if (i + 1 >= args.size()) return UsageFailure("decode: --port needs a number");
        value = args[++i];
      } else {
        value = args[i].substr(7);
      }
      uint64_t n = 0;
      if (!ParseUint(value, 65535, &n) || n == 0) return UsageFailure("decode: --port must be 1 to 65535");
      port = static_cast<uint16_t>(n);
    } else if (args[i] == "--dialect" || args[i].rfind("--dialect=", 0) == 0) {
      // Also accepted after the command: `p9x decode capture.pcapng --dialect legacy`.
      std::string value;
      if (args[i] == "--dialect") {
        if (i + 1 >= args.size()) return UsageFailure("decode: --dialect needs auto, xqid or legacy");
        value = args[++i];
      } else {
        value = args[i].substr(10);
      }
      if (value != "auto" && value != "xqid" && value != "legacy") {
        return UsageFailure("--dialect must be auto, xqid or legacy, not \"" + value + "\"");
      }
      ctx.g.dialect_given = value != "auto";
      ctx.g.dialect = value == "xqid"     ? negotiation::DialectChoice::kXqidOnly
                      : value == "legacy" ? negotiation::DialectChoice::kLegacyOnly
                                          : negotiation::DialectChoice::kAuto;
    } else if (std::error_code ec; std::filesystem::is_regular_file(args[i], ec)) {
      if (auto failed = read_file(args[i])) return failed;
    } else if (args[i].find_first_of("./") != std::string::npos) {
      return LocalFailure("decode: open " + args[i], ENOENT);  // meant as a file: not hex
    } else if (!HexDigits(args[i], &hex)) {
      return UsageFailure("decode: \"" + args[i] + "\" is neither hex nor a file");
    }
  }
  if (capture) {
    if (!hex.empty()) return UsageFailure("decode: give either a capture or hex, not both");
    return DecodeCapture(ctx, capture->first, capture->second, port);
  }
  if (port) return UsageFailure("decode: --port applies to a capture file");
  if (hex.empty()) return UsageFailure("decode needs HEX, --file FILE or a capture file");
  std::vector<uint8_t> bytes;
  if (!FromHex(hex, &bytes)) return UsageFailure("decode: not hex (odd number of digits?)");
  json all = json::array();
  size_t pos = 0;
  bool bad = false;
  while (pos < bytes.size()) {
    std::span<const uint8_t> rest(bytes.data() + pos, bytes.size() - pos);
    size_t size = rest.size();
    if (rest.size() >= 4) {
      const uint32_t declared = static_cast<uint32_t>(rest[0]) | static_cast<uint32_t>(rest[1]) << 8 |
                                static_cast<uint32_t>(rest[2]) << 16 | static_cast<uint32_t>(rest[3]) << 24;
      if (declared >= kHeaderSize && declared <= rest.size()) size = declared;
    }
    const auto frame = rest.first(size);
    Dialect dialect = ctx.g.dialect == negotiation::DialectChoice::kXqidOnly ? Dialect::kXqid : Dialect::kLegacy;
    auto decoded = DecodeFrame(frame, WireContext{dialect, kMaxMsize});
    if (!decoded && !ctx.g.dialect_given && decoded.error().kind == CodecErrorKind::kDialectMismatch) {
      // --dialect auto: the frame's qids have the xqid size.
      dialect = Dialect::kXqid;
      decoded = DecodeFrame(frame, WireContext{dialect, kMaxMsize});
    }
    const std::string text = BytesToText(frame, WireContext{dialect, kMaxMsize});
    if (!decoded) bad = true;
    if (ctx.g.json) {
      json j{{"offset", pos}, {"size", size}, {"dialect", DialectName(dialect)}, {"text", text}};
      if (!decoded) j["error"] = decoded.error().Describe();
      all.push_back(j);
    } else {
      std::printf("%s\n", text.c_str());
    }
    pos += size;
  }
  if (ctx.g.json) {
    ctx.out = all;
    ctx.out_is_object = true;
  }
  if (bad) return Failure{kExitRefused, ""};
  return std::nullopt;
}

}  // namespace p9x::client::cli
