// A main() for a libFuzzer target built without libFuzzer (gcc, the test build): runs the
// target once on every file named on the command line, or in a directory named there, so
// CTest replays a corpus (the golden cases' frames, saved crash inputs) under ASan/UBSan.
// Exit status: 0 when every input ran (a failing input aborts, as under libFuzzer); 2 when
// a path cannot be read or nothing was run.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  // An exact-size heap copy, as libFuzzer hands its inputs over.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.data(), input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p = argv[i];
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        if (!run_file(f)) {
          std::fprintf(stderr, "%s: cannot read\n", f.c_str());
          return 2;
        }
        ++runs;
      }
    } else if (run_file(p)) {
      ++runs;
    } else {
      std::fprintf(stderr, "%s: cannot read\n", p.c_str());
      return 2;
    }
  }
  std::printf("%zu inputs run\n", runs);
  return runs > 0 ? 0 : 2;
}
