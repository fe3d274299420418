// SPDX-License-Identifier: MIT
// Replays inputs through a fuzz target's checks without libFuzzer, so the ordinary (gcc) build
// runs the kept corpus (and, for the codec, every golden vector) under CTest. One driver for
// every target (p9x_fuzz_target in cmake/p9x.cmake links it with the target's source):
//   fuzz_decode_frame_replay PATH...    fuzz_server_replay PATH...
// A PATH is a file or a directory (not recursive). Files ending in .vec are golden vectors
// (their hex: line is the input; vectors without hex are skipped); other files are raw inputs.
// Exits 0 after printing how many inputs ran; a violated property aborts (see the target).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "codec/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool ReadInput(const std::filesystem::path& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  if (path.extension() != ".vec") {
    out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("hex: ")) return p9x::FromHex(line.substr(5), out);
  }
  return false;  // an encode-only vector: nothing to decode
}

}  // namespace

int main(int argc, char** argv) {
  size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> files;
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (std::filesystem::is_regular_file(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], argv[i]);
      return 2;
    }
    for (const auto& file : files) {
      std::vector<uint8_t> input;
      if (!ReadInput(file, &input)) continue;
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++runs;
    }
  }
  std::printf("%s: %zu inputs replayed, every property held\n", argv[0], runs);
  return runs > 0 ? 0 : 1;
}
