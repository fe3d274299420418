// SPDX-License-Identifier: MIT
// An independent decoder for the golden vectors: Wireshark's 9P dissector (tshark).
//
// Every valid vector that exists in 9P2000.L (dialect legacy or both) goes into one capture built
// with text2pcap, each preceded by a 9P2000.L Tversion/Rversion pair so that the dissector's
// per-conversation version tracking is in 9P2000.L mode (spec/evidence/peers.md). tshark
// decodes the capture to JSON, and every field our codec decodes must show the same value there:
// header, fids, tags, names, qid type/version/path, msize, version, counts, offsets, modes,
// attribute times, and the data bytes. Conversely every value tshark shows must be accounted for,
// so a field that tshark reads at another offset than we do fails the test.
//
// What tshark 4.0 does not decode is listed in kNotDecoded with the reason; those fields are
// checked only where tshark shows their raw bytes ("Message data").
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "codec/frame.h"
#include "codec/text.h"
#include "tests/vectors/vector_file.h"

namespace p9x {
namespace {

using Json = nlohmann::ordered_json;
using vectors::Vector;

// How one of our fields appears in tshark's JSON.
enum class Shown {
  kValue,        // the value of one tshark field (numbers in decimal or 0x-hex, strings as text)
  kTimeSec,      // the seconds of an FT_ABSOLUTE_TIME field ("Nov 14, 2023 22:13:21.000000011 UTC")
  kTimeNsec,     // its nanoseconds
  kMessageData,  // not decoded: the raw little-endian bytes under "9p.message_data"
  kCountData,    // count[4] data: "9p.count" plus the bytes in the data layer ("data.data")
  kNotShown,     // not decoded at all (reason in kNotDecoded)
};

struct Mapping {
  std::string_view key;
  Shown shown = Shown::kValue;
};

// Our field name -> tshark field, where tshark uses one name for the field in every message.
const std::map<std::string_view, std::string_view> kByName = {
    {"fid", "9p.fid"},           {"newfid", "9p.newfid"},       {"afid", "9p.afid"},
    {"dfid", "9p.dfid"},         {"uname", "9p.uname"},         {"aname", "9p.aname"},
    {"n_uname", "9p.uid"},       {"msize", "9p.maxsize"},       {"version", "9p.version"},
    {"oldtag", "9p.oldtag"},     {"offset", "9p.offset"},       {"count", "9p.count"},
    {"iounit", "9p.iounit"},     {"uid", "9p.uid"},             {"gid", "9p.gid"},
    {"nlink", "9p.nlink"},       {"rdev", "9p.rdev"},           {"size", "9p.size"},
    {"blksize", "9p.blksize"},   {"blocks", "9p.blocks"},       {"gen", "9p.gen"},
    {"data_version", "9p.dataversion"},                         {"mode", "9p.statmode"},
    {"name", "9p.wname"},        {"symtgt", "9p.wname"},        {"target", "9p.wname"},
    {"major", "9p.mknod.major"}, {"minor", "9p.mknod.minor"},   {"bsize", "9p.blksize"},
    {"bfree", "9p.bfree"},       {"bavail", "9p.bavail"},       {"files", "9p.files"},
    {"ffree", "9p.ffree"},       {"fsid", "9p.fsid"},           {"namelen", "9p.namelen"},
    {"start", "9p.lock.start"},  {"length", "9p.lock.length"},  {"proc_id", "9p.lock.procid"},
    {"client_id", "9p.wname"},   {"status", "9p.lock.status"},  {"attr_size", "9p.size"},
    {"request_mask", "9p.getattr.flags"},                       {"dirfd", "9p.dfid"},
    {"olddirfid", "9p.dfid"},    {"oldname", "9p.wname"},       {"newname", "9p.wname"},
    {"newdirfid", "9p.newfid"},  // tshark labels Trenameat's newdirfid "New fid"
};

// Message-specific names (tshark's labels differ per message).
const std::map<std::pair<std::string_view, std::string_view>, Mapping> kByMessage = {
    {{"Rstatfs", "type"}, {"9p.fstype"}},
    {{"Tlopen", "flags"}, {"9p.statmode"}},  // shown as "Mode", decoded as open flags
    {{"Tlcreate", "name"}, {"9p.filename"}},
    {{"Tlcreate", "flags"}, {"9p.lcreate.flags"}},
    {{"Tlock", "type"}, {"9p.lock.type"}},
    {{"Tlock", "flags"}, {"9p.lock.flag"}},
    {{"Tgetlock", "type"}, {"9p.lock.type"}},
    {{"Rgetlock", "type"}, {"9p.lock.type"}},
    {{"Txattrcreate", "flags"}, {"9p.xattr.flag"}},
    {{"Tunlinkat", "flags"}, {"9p.unlinkat.flags"}},
    {{"Rgetattr", "valid"}, {"9p.getattr.flags"}},
    {{"Tsetattr", "valid"}, {"9p.setattr.flags"}},
    {{"Tmknod", "dfid"}, {"9p.fid"}},  // tshark labels the directory fid "Fid" here
    {{"Tmkdir", "dfid"}, {"9p.fid"}},
    {{"Rlerror", "ecode"}, {"9p.message_data", Shown::kMessageData}},
    {{"Tauth", "n_uname"}, {"9p.message_data", Shown::kMessageData}},
    {{"Tfsync", "datasync"}, {"9p.message_data", Shown::kMessageData}},
    {{"Rread", "data"}, {"9p.count", Shown::kCountData}},
    {{"Twrite", "data"}, {"9p.count", Shown::kCountData}},
    {{"Rreaddir", "data"}, {"9p.count", Shown::kCountData}},
    {{"Rgetattr", "atime_sec"}, {"9p.atime", Shown::kTimeSec}},
    {{"Rgetattr", "atime_nsec"}, {"9p.atime", Shown::kTimeNsec}},
    {{"Rgetattr", "mtime_sec"}, {"9p.mtime", Shown::kTimeSec}},
    {{"Rgetattr", "mtime_nsec"}, {"9p.mtime", Shown::kTimeNsec}},
    {{"Rgetattr", "ctime_sec"}, {"9p.ctime", Shown::kTimeSec}},
    {{"Rgetattr", "ctime_nsec"}, {"9p.ctime", Shown::kTimeNsec}},
    {{"Rgetattr", "btime_sec"}, {"9p.btime", Shown::kTimeSec}},
    {{"Rgetattr", "btime_nsec"}, {"9p.btime", Shown::kTimeNsec}},
    {{"Tsetattr", "atime_sec"}, {"9p.atime", Shown::kTimeSec}},
    {{"Tsetattr", "atime_nsec"}, {"9p.atime", Shown::kTimeNsec}},
    {{"Tsetattr", "mtime_sec"}, {"9p.mtime", Shown::kTimeSec}},
    {{"Tsetattr", "mtime_nsec"}, {"9p.mtime", Shown::kTimeNsec}},
    // Wireshark 4.0 dissects Tgetlock and Rgetlock with a lock_flag[4] after type, a field only
    // Tlock has (Linux p9_client_getlock_dotl sends "dbqqds", reads "bqqds"), so every later field
    // is read 4 bytes off and the frame is marked malformed. Only what precedes it is compared.
    {{"Tgetlock", "start"}, {"", Shown::kNotShown}},
    {{"Tgetlock", "length"}, {"", Shown::kNotShown}},
    {{"Tgetlock", "proc_id"}, {"", Shown::kNotShown}},
    {{"Tgetlock", "client_id"}, {"", Shown::kNotShown}},
    {{"Rgetlock", "start"}, {"", Shown::kNotShown}},
    {{"Rgetlock", "length"}, {"", Shown::kNotShown}},
    {{"Rgetlock", "proc_id"}, {"", Shown::kNotShown}},
    {{"Rgetlock", "client_id"}, {"", Shown::kNotShown}},
};

// Messages whose tshark output holds values we do not match, and why.
const std::map<std::string_view, std::string_view> kTsharkQuirks = {
    {"Tgetlock", "Wireshark 4.0 reads a lock_flag field Tgetlock does not have (frame malformed)"},
    {"Rgetlock", "Wireshark 4.0 reads a lock_flag field Rgetlock does not have (frame malformed)"},
    {"Tflush", "Wireshark 4.0 shows oldtag, then the same 2 bytes again as Message data"},
};

// Every value of the 9p layer, by field name, in the order tshark printed them.
using Values = std::map<std::string, std::vector<std::string>>;

void Flatten(const Json& node, Values* out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string& key = it.key();
    if (key.ends_with("_tree")) continue;  // bit breakdowns and string lengths
    const Json& value = it.value();
    if (value.is_object()) {
      Flatten(value, out);  // a "Qid type=... vers=... path=..." subtree
    } else if (value.is_array()) {
      for (const Json& element : value) {
        if (element.is_object()) {
          Flatten(element, out);
        } else {
          (*out)[key].push_back(element.get<std::string>());
        }
      }
    } else {
      (*out)[key].push_back(value.get<std::string>());
    }
  }
}

bool ParseNumber(const std::string& s, uint64_t* v) {
  char* end = nullptr;
  errno = 0;
  *v = std::strtoull(s.c_str(), &end, s.starts_with("0x") ? 16 : 10);
  return errno == 0 && end != s.c_str() && *end == '\0';
}

// "Nov 14, 2023 22:13:21.000000011 UTC" -> seconds and nanoseconds since the epoch.
bool ParseTime(const std::string& s, uint64_t* sec, uint64_t* nsec) {
  struct tm tm = {};
  const char* rest = strptime(s.c_str(), "%b %d, %Y %H:%M:%S", &tm);
  if (rest == nullptr || *rest != '.') return false;
  *sec = static_cast<uint64_t>(timegm(&tm));
  char* end = nullptr;
  *nsec = std::strtoull(rest + 1, &end, 10);
  return std::string_view(end) == " UTC";
}

std::string ColonHex(std::span<const uint8_t> bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, i ? ":%02x" : "%02x", bytes[i]);
    out += buf;
  }
  return out;
}

// Compares one packet's tshark values with our decoded frame.
class PacketChecker {
 public:
  PacketChecker(std::string_view message, Values values, std::string data_layer)
      : message_(message), values_(std::move(values)), data_layer_(std::move(data_layer)) {}

  int checked() const { return checked_; }

  // Takes the next value tshark printed for `key`.
  bool Next(const std::string& key, std::string* out) {
    auto it = values_.find(key);
    if (it == values_.end() || it->second.empty()) {
      ADD_FAILURE() << message_ << ": tshark shows no (more) " << key;
      return false;
    }
    *out = it->second.front();
    it->second.erase(it->second.begin());
    if (it->second.empty()) values_.erase(it);
    return true;
  }

  void ExpectNumber(const std::string& key, uint64_t want, std::string_view field) {
    std::string got;
    if (!Next(key, &got)) return;
    uint64_t n;
    EXPECT_TRUE(ParseNumber(got, &n) && n == want)
        << message_ << "." << field << ": ours " << want << ", tshark " << key << "=" << got;
    ++checked_;
  }

  void ExpectString(const std::string& key, std::string_view want, std::string_view field) {
    std::string got;
    if (!Next(key, &got)) return;
    EXPECT_EQ(got, want) << message_ << "." << field << " (" << key << ")";
    ++checked_;
  }

  void ExpectQid(const Qid& q, std::string_view field) {
    ExpectNumber("9p.qidtype", q.type, field);
    ExpectNumber("9p.qidvers", q.version, field);
    ExpectNumber("9p.qidpath", q.path, field);
  }

  void ExpectTime(const std::string& key, Shown part, uint64_t want, std::string_view field) {
    // Seconds and nanoseconds are one tshark value; the seconds field reads it, the nsec
    // field takes it.
    std::string got;
    if (part == Shown::kTimeSec) {
      auto it = values_.find(key);
      if (it == values_.end() || it->second.empty()) {
        ADD_FAILURE() << message_ << ": tshark shows no " << key;
        return;
      }
      got = it->second.front();
    } else if (!Next(key, &got)) {
      return;
    }
    uint64_t sec, nsec;
    ASSERT_TRUE(ParseTime(got, &sec, &nsec)) << key << "=" << got;
    EXPECT_EQ(part == Shown::kTimeSec ? sec : nsec, want) << message_ << "." << field << " " << got;
    ++checked_;
  }

  template <class T>
  void Field(std::string_view name, const T& value) {
    Mapping m;
    if (auto it = kByMessage.find({message_, name}); it != kByMessage.end()) {
      m = it->second;
    } else if (auto byname = kByName.find(name); byname != kByName.end()) {
      m.key = byname->second;
    } else if constexpr (!std::is_same_v<T, Qid> && !std::is_same_v<T, WalkNames> &&
                         !std::is_same_v<T, WalkQids>) {
      ADD_FAILURE() << message_ << "." << name << ": no tshark mapping";
      return;
    }
    const std::string key(m.key);
    if (m.shown == Shown::kNotShown) return;
    if constexpr (std::is_integral_v<T>) {
      if (m.shown == Shown::kTimeSec || m.shown == Shown::kTimeNsec) {
        ExpectTime(key, m.shown, value, name);
      } else if (m.shown == Shown::kMessageData) {
        uint8_t le[sizeof(T)];
        for (size_t i = 0; i < sizeof(T); ++i) le[i] = static_cast<uint8_t>(uint64_t{value} >> (8 * i));
        ExpectString(key, ColonHex(le), name);
      } else {
        ExpectNumber(key, value, name);
      }
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      ExpectString(key, value, name);
    } else if constexpr (std::is_same_v<T, Qid>) {
      ExpectQid(value, name);
    } else if constexpr (std::is_same_v<T, WalkNames>) {
      ExpectNumber("9p.nwalk", value.count, name);
      for (std::string_view n : value.view()) ExpectString("9p.wname", n, name);
    } else if constexpr (std::is_same_v<T, WalkQids>) {
      ExpectNumber("9p.nqid", value.count, name);
      for (const Qid& q : value.view()) ExpectQid(q, name);
    } else {  // Bytes, DirentBytes: count, then the bytes handed to the data dissector
      ExpectNumber(key, value.bytes.size(), name);
      EXPECT_EQ(data_layer_, ColonHex(value.bytes)) << message_ << "." << name;
      ++checked_;
    }
  }

  // Every tshark value must have been matched, except for the messages listed as quirks.
  void ExpectAllConsumed() {
    if (kTsharkQuirks.count(message_)) return;
    for (const auto& [key, left] : values_) {
      for (const std::string& v : left) ADD_FAILURE() << message_ << ": tshark shows " << key << "=" << v << " that no field of ours has";
    }
  }

 private:
  std::string message_;
  Values values_;
  std::string data_layer_;
  int checked_ = 0;
};

bool HaveTool(const char* name) {
  const std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

void AppendPacket(std::ostream& out, bool outbound, std::span<const uint8_t> bytes) {
  out << (outbound ? "O\n" : "I\n");
  for (size_t i = 0; i < bytes.size(); i += 16) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%06zx", i);
    out << buf;
    for (size_t j = i; j < bytes.size() && j < i + 16; ++j) {
      std::snprintf(buf, sizeof buf, " %02x", bytes[j]);
      out << buf;
    }
    out << "\n";
  }
}

std::vector<uint8_t> Encoded(const Frame& frame) {
  auto bytes = EncodeToVector(frame, WireContext{Dialect::kLegacy, kMaxMsize});
  EXPECT_TRUE(bytes);
  return bytes ? *bytes : std::vector<uint8_t>{};
}

TEST(TsharkDissector, ShowsTheFieldValuesOfEveryLegacyVector) {
  if (!HaveTool("tshark") || !HaveTool("text2pcap")) {
    GTEST_SKIP() << "tshark/text2pcap not installed (Debian package tshark; scripts/setup.sh installs it)";
  }
  std::vector<const Vector*> selected;
  for (const Vector& v : vectors::AllVectors().vectors) {
    if (v.valid && v.dialect_name != "xqid") selected.push_back(&v);
  }
  ASSERT_GT(selected.size(), 50u);

  char dir_template[] = "/tmp/p9x-tshark-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  const std::vector<uint8_t> tversion = Encoded({kNoTag, Tversion{8192, kVersion9P2000L}});
  const std::vector<uint8_t> rversion = Encoded({kNoTag, Rversion{8192, kVersion9P2000L}});
  {
    std::ofstream dump(dir / "frames.txt");
    for (const Vector* v : selected) {
      AppendPacket(dump, true, tversion);
      AppendPacket(dump, false, rversion);
      AppendPacket(dump, v->bytes[4] % 2 == 0, v->bytes);  // T-messages have even numbers
    }
  }
  // TCP between 40000 and 564, the 9P port, so the 9P dissector is chosen without -d.
  const std::string d = dir.string();
  const std::string text2pcap = "text2pcap -q -D -T 40000,564 " + d + "/frames.txt " + d +
                                "/frames.pcap 2>" + d + "/text2pcap.err";
  ASSERT_EQ(std::system(text2pcap.c_str()), 0) << text2pcap;
  // -n: no name resolution. tshark warns on stderr when run as root; stderr goes to a file.
  const std::string tshark = "tshark -n -r " + d + "/frames.pcap -T json --no-duplicate-keys -J '9p data _ws.malformed' >" +
                             d + "/frames.json 2>" + d + "/tshark.err";
  ASSERT_EQ(std::system(tshark.c_str()), 0) << tshark;
  Json packets;
  {
    std::ifstream in(dir / "frames.json");
    packets = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  }
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(packets.is_array()) << "tshark's JSON did not parse";
  ASSERT_EQ(packets.size(), 3 * selected.size());

  int checked = 0;
  for (size_t i = 0; i < selected.size(); ++i) {
    const Vector& v = *selected[i];
    SCOPED_TRACE(v.name);
    const Json& layers = packets[3 * i + 2]["_source"]["layers"];
    ASSERT_TRUE(layers.contains("9p")) << "tshark did not dissect " << v.name << " as 9P";
    auto frame = DecodeFrame(v.bytes, WireContext{Dialect::kLegacy, v.msize});
    ASSERT_TRUE(frame);
    const std::string message = ToText(*frame, Dialect::kLegacy).substr(0, ToText(*frame, Dialect::kLegacy).find('{'));
    if (!kTsharkQuirks.count(message)) {
      EXPECT_FALSE(layers.contains("_ws.malformed")) << "tshark marks " << v.name << " malformed";
    }
    Values values;
    Flatten(layers["9p"], &values);
    std::string data_layer;
    if (layers.contains("data")) data_layer = layers["data"]["data.data"].get<std::string>();
    PacketChecker check(message, std::move(values), data_layer);
    check.ExpectNumber("9p.msglen", v.bytes.size(), "size");
    check.ExpectNumber("9p.msgtype", v.bytes[4], "type");
    check.ExpectNumber("9p.tag", frame->tag, "tag");
    std::visit(
        [&](const auto& m) {
          using M = std::decay_t<decltype(m)>;
          if constexpr (!std::is_same_v<M, std::monostate>) {
            M::ForEachField(m, [&](std::string_view name, const auto& field) { check.Field(name, field); });
          }
        },
        frame->msg);
    check.ExpectAllConsumed();
    checked += check.checked();
  }
  RecordProperty("values_checked", checked);
  std::printf("tshark confirmed %d values in %zu frames\n", checked, selected.size());
}

}  // namespace
}  // namespace p9x
