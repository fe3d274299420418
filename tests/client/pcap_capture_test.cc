// SPDX-License-Identifier: MIT
// `p9x decode CAPTURE` on a real capture: p9xd on a loopback port, dumpcap recording it, p9x
// sessions in the xqid and the legacy dialect, then the decode checked (and, when tshark is
// installed, its count of 9P messages compared). Needs root for dumpcap on lo; skips otherwise.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/client/server_process.h"

#ifndef P9X_P9XD_PATH
#error "P9X_P9XD_PATH must name where the build puts p9xd"
#endif
#ifndef P9X_P9X_PATH
#error "P9X_P9X_PATH must name where the build puts p9x"
#endif

namespace p9x::client {
namespace {

using testing::ServerProcess;
using testing::TempDir;

// Runs a shell command; returns its exit status and puts its standard output in *out.
int RunShell(const std::string& command, std::string* out = nullptr) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool WaitForText(const std::string& path, const std::string& text, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadAll(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(PcapCapture, DecodesARealLoopbackCaptureInBothDialects) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: dumpcap captures on lo";
  const std::string dumpcap = testing::FindProgram("dumpcap");
  if (dumpcap.empty()) GTEST_SKIP() << "dumpcap is not installed";
  const std::string p9xd = P9X_P9XD_PATH, p9x = P9X_P9X_PATH;
  if (!testing::ExecutableExists(p9xd)) GTEST_SKIP() << "p9xd not built at " << p9xd;

  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const int port = testing::FreeLoopbackPort();
  ASSERT_GT(port, 0);
  const std::string ps = std::to_string(port);
  ServerProcess server;
  ASSERT_TRUE(server.Start({p9xd, "--export", "mem:", "--listen", "tcp:127.0.0.1:" + ps, "-q"},
                           dir.path() + "/p9xd.log"));
  ASSERT_TRUE(testing::WaitForListener(port, std::chrono::seconds(10))) << ReadAll(dir.path() + "/p9xd.log");

  const std::string file = dir.path() + "/capture.pcapng";
  const std::string dumpcap_log = dir.path() + "/dumpcap.log";
  ServerProcess capture;
  ASSERT_TRUE(capture.Start({dumpcap, "-q", "-i", "lo", "-f", "tcp port " + ps, "-w", file}, dumpcap_log));
  ASSERT_TRUE(WaitForText(dumpcap_log, "Capturing on", std::chrono::seconds(10))) << ReadAll(dumpcap_log);

  const std::string target = p9x + " --target tcp:127.0.0.1:" + ps;
  ASSERT_EQ(RunShell(target + " --dialect xqid mkdir d"), 0);
  ASSERT_EQ(RunShell("echo hello | " + target + " --dialect xqid put - d/f"), 0);
  ASSERT_EQ(RunShell(target + " --dialect xqid stat d/f >/dev/null"), 0);
  ASSERT_EQ(RunShell(target + " --dialect legacy stat d/f >/dev/null"), 0);
  std::string cat;
  ASSERT_EQ(RunShell(target + " --dialect legacy cat d/f", &cat), 0);
  EXPECT_EQ(cat, "hello\n");
  // Loopback delivery is immediate, but let dumpcap read the last packets before it stops.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  capture.Stop();
  server.Stop();

  std::string out;
  const int status = RunShell(p9x + " decode " + file + " --json 2>" + dir.path() + "/decode.err", &out);
  // On any failure below: what dumpcap said (drops?) and the decoder's notes.
  SCOPED_TRACE("dumpcap: " + ReadAll(dumpcap_log) + "decode stderr: " + ReadAll(dir.path() + "/decode.err"));
  EXPECT_EQ(status, 0);
  const auto frames = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(frames.is_array()) << out;

  // Per conversation: the version agreed, and the sizes of the Rwalks with qids.
  struct Seen {
    std::string agreed;
    std::vector<size_t> rwalk_qid_bytes;  // (size - 9) / nwqid
  };
  std::map<int, Seen> conversations;
  size_t versions = 0;
  for (const auto& f : frames) {
    EXPECT_FALSE(f.contains("error")) << f.dump();
    const std::string text = f.value("text", "");
    Seen& seen = conversations[f.value("conversation", 0)];
    EXPECT_EQ(f.value("server", ""), "127.0.0.1:" + ps);
    if (text.rfind("Tversion{", 0) == 0) {
      EXPECT_EQ(f.value("direction", ""), "client->server");
      ++versions;
    }
    if (text.rfind("Rversion{", 0) == 0) {
      EXPECT_EQ(f.value("direction", ""), "server->client");
      seen.agreed = text.find("\"9P2000.L.xqid\"") != std::string::npos ? "xqid" : "legacy";
    }
    if (text.rfind("Rwalk{", 0) == 0 && text.find("wqids=[]") == std::string::npos) {
      const size_t nwqid = static_cast<size_t>(std::count(text.begin(), text.end(), '{')) - 1;  // one per qid
      seen.rwalk_qid_bytes.push_back((f.value("size", size_t{0}) - 9) / nwqid);
      EXPECT_EQ(f.value("dialect", ""), seen.agreed) << text;
    }
  }
  EXPECT_EQ(versions, 5u);  // one connection per p9x command
  size_t xqid = 0, legacy = 0, xqid_rwalks = 0, legacy_rwalks = 0;
  for (const auto& [id, seen] : conversations) {
    SCOPED_TRACE("conversation " + std::to_string(id));
    ASSERT_FALSE(seen.agreed.empty());
    for (const size_t bytes : seen.rwalk_qid_bytes) EXPECT_EQ(bytes, seen.agreed == "xqid" ? 21u : 13u);
    (seen.agreed == "xqid" ? xqid : legacy)++;
    (seen.agreed == "xqid" ? xqid_rwalks : legacy_rwalks) += seen.rwalk_qid_bytes.size();
  }
  EXPECT_EQ(xqid, 3u);
  EXPECT_EQ(legacy, 2u);
  EXPECT_GT(xqid_rwalks, 0u);  // put and stat walk to d/f
  EXPECT_GT(legacy_rwalks, 0u);

  // Wireshark's 9P dissector reads port 564 only unless told; it reports each message's type.
  const std::string tshark = testing::FindProgram("tshark");
  if (tshark.empty()) return;
  std::string types;
  const std::string fields = " -Y 9p -T fields -e 9p.msgtype 2>/dev/null";
  ASSERT_EQ(RunShell(tshark + " -r " + file + " -d tcp.port==" + ps + ",9p" + fields, &types), 0);
  size_t messages = 0;
  std::string token;
  for (char c : types + "\n") {
    if (c == ',' || c == '\n') {
      if (!token.empty()) ++messages;
      token.clear();
    } else {
      token += c;
    }
  }
  EXPECT_EQ(messages, frames.size()) << types;
}

}  // namespace
}  // namespace p9x::client
