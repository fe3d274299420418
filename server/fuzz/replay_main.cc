// Replays inputs through fuzz_server's checks without libFuzzer, so every build (gcc included)
// runs the kept corpus under CTest:
//   fuzz_server_replay PATH...
// A PATH is a file or a directory (not recursive); every regular file is one input. Exits 0
// after printing how many inputs ran; a violated invariant aborts (see fuzz_server.cc).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

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
      std::fprintf(stderr, "fuzz_server_replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::vector<uint8_t> input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++runs;
    }
  }
  std::printf("fuzz_server_replay: %zu inputs replayed, every invariant held\n", runs);
  return runs > 0 ? 0 : 1;
}
