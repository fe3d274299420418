// SPDX-License-Identifier: MIT
#include "conformance/shipped_files.h"

#include <filesystem>
#include <system_error>

namespace p9x::conformance {
namespace {

namespace fs = std::filesystem;

// BIN/RELATIVE, where BIN is the directory of the running executable (/proc/self/exe, so that a
// symbolic link to the binary still finds its prefix); "" when that does not exist.
std::string NextToExecutable(const std::string& relative) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path candidate = (exe.parent_path() / relative).lexically_normal();
  return fs::exists(candidate, ec) ? candidate.string() : "";
}

std::string InSourceTree(const std::string& relative) {
  const std::string path = std::string(P9X_SOURCE_DIR) + "/" + relative;
  std::error_code ec;
  return fs::exists(path, ec) ? path : "";
}

}  // namespace

std::string DefaultVectorsDir() {
  // P9X_BIN_TO_DATA: the install layout's bindir -> datadir/p9x, e.g. "../share/p9x" (CMake).
  std::string dir = NextToExecutable(std::string(P9X_BIN_TO_DATA) + "/vectors");
  if (dir.empty()) dir = InSourceTree("spec/vectors");
  // Neither exists: the source tree's path, which the error about missing vectors then names.
  return dir.empty() ? std::string(P9X_SOURCE_DIR) + "/spec/vectors" : dir;
}

std::string DefaultFixtureScript() {
  std::string script = NextToExecutable(std::string(P9X_BIN_TO_LIBEXEC) + "/make-fixture.sh");
  return script.empty() ? InSourceTree("tests/fixture/make-fixture.sh") : script;
}

}  // namespace p9x::conformance
