// Helpers for the io tests: scratch file paths, whole-file reads, little-endian byte builders
// for hand-written capture files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace tapwall::test {

// Scratch files are removed when the test binary exits (kept while it runs, for debugging).
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const auto& p : paths) std::remove(p.c_str());
  }
};

inline std::string temp_path(const std::string& name) {
  static TempFiles files;
  std::string p = testing::TempDir() + "tapwall_io_" + std::to_string(::getpid()) + "_" + name;
  files.paths.push_back(p);
  return p;
}

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

struct Bytes {
  std::vector<uint8_t> v;
  bool big_endian = false;
  Bytes& u8(uint8_t x) {
    v.push_back(x);
    return *this;
  }
  Bytes& u16(uint16_t x) {
    return big_endian ? u8(uint8_t(x >> 8)).u8(uint8_t(x)) : u8(uint8_t(x)).u8(uint8_t(x >> 8));
  }
  Bytes& u32(uint32_t x) {
    return big_endian ? u16(uint16_t(x >> 16)).u16(uint16_t(x))
                      : u16(uint16_t(x)).u16(uint16_t(x >> 16));
  }
  Bytes& raw(const std::vector<uint8_t>& b) {
    v.insert(v.end(), b.begin(), b.end());
    return *this;
  }
};

inline uint32_t le32(const std::vector<uint8_t>& b, std::size_t off) {
  return uint32_t(b[off]) | uint32_t(b[off + 1]) << 8 | uint32_t(b[off + 2]) << 16 |
         uint32_t(b[off + 3]) << 24;
}
inline uint16_t le16(const std::vector<uint8_t>& b, std::size_t off) {
  return uint16_t(b[off] | b[off + 1] << 8);
}

// A frame of n bytes whose content depends on seed, so mixed-up frames are detected.
inline std::vector<uint8_t> frame_bytes(std::size_t n, uint8_t seed) {
  std::vector<uint8_t> f(n);
  for (std::size_t i = 0; i < n; ++i) f[i] = uint8_t(seed * 31 + i * 7);
  return f;
}

}  // namespace tapwall::test
