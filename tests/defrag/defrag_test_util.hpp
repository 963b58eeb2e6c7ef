// Shared helpers for the defrag tests: feed a built frame, read back lists and bytes.
// Thread-safety: test code, single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "defrag/frag_builder.hpp"
#include "tapwall/defrag.hpp"

namespace tapwall::test {

inline DefragResult feed(Defragmenter& df, const Built& b, uint64_t now_ns, uint64_t cookie,
                         PortId port = 1) {
  return df.add(b.d, b.span(), port, now_ns, cookie);
}

inline std::vector<uint64_t> cookies(const Defragmenter& df, uint32_t datagram) {
  std::vector<uint64_t> out;
  for (const auto& f : df.fragments(datagram)) out.push_back(f.cookie);
  return out;
}

inline std::vector<uint8_t> bytes_of(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// Arena bytes one copy of `n` bytes takes.
inline std::size_t units(std::size_t n) {
  constexpr std::size_t u = DefragConfig::kAllocUnit;
  return (n + u - 1) / u * u;
}

inline constexpr uint64_t kSec = 1000000000ull;

}  // namespace tapwall::test
