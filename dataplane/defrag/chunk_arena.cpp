// ChunkArena: next-fit allocation of contiguous chunk runs over a bitmap (see chunk_arena.hpp).
#include "chunk_arena.hpp"

#include <bit>

namespace tapwall::defrag_detail {

ChunkArena::ChunkArena(uint32_t total_bytes, uint32_t chunk_bytes)
    : chunk_(chunk_bytes ? chunk_bytes : 1),
      n_(total_bytes / chunk_),
      mem_(std::size_t{n_} * chunk_),
      bits_((std::size_t{n_} + 63) / 64, 0) {}

uint32_t ChunkArena::next_with(uint32_t i, bool used, uint32_t limit) const {
  while (i < limit) {
    uint64_t w = bits_[i >> 6];
    if (!used) w = ~w;
    w &= ~uint64_t{0} << (i & 63);
    if (w) {
      const uint32_t r = (i & ~63u) + uint32_t(std::countr_zero(w));
      return r < limit ? r : limit;
    }
    i = (i | 63u) + 1;
  }
  return limit;
}

// First free run of k chunks starting in [from, limit); it may extend past limit.
int64_t ChunkArena::find_run(uint32_t from, uint32_t limit, uint32_t k) const {
  uint32_t i = from;
  while (i < limit) {
    i = next_with(i, false, limit);
    if (i >= limit) break;
    // Only the next k chunks matter: scanning further would cost O(arena) per allocation.
    const uint32_t want = n_ - i < k ? n_ : i + k;
    const uint32_t j = next_with(i, true, want);
    if (j - i >= k) return i;
    i = j;
  }
  return -1;
}

void ChunkArena::mark(uint32_t first, uint32_t k, bool used) {
  for (uint32_t i = first, end = first + k; i < end;) {
    const uint32_t bit = i & 63;
    const uint32_t span = (64 - bit) < (end - i) ? (64 - bit) : (end - i);
    const uint64_t m = (span == 64 ? ~uint64_t{0} : ((uint64_t{1} << span) - 1)) << bit;
    if (used)
      bits_[i >> 6] |= m;
    else
      bits_[i >> 6] &= ~m;
    i += span;
  }
}

ArenaBlock ChunkArena::alloc(uint32_t bytes) {
  const uint32_t k = chunks_for(bytes);
  if (k == 0 || k > n_ - used_) return {};
  int64_t at = find_run(rover_, n_, k);
  if (at < 0) at = find_run(0, rover_, k);
  if (at < 0) return {};
  const auto first = uint32_t(at);
  mark(first, k, true);
  used_ += k;
  rover_ = first + k < n_ ? first + k : 0;
  return {first, k};
}

void ChunkArena::free(ArenaBlock b) {
  if (b.chunks == 0) return;
  mark(b.first, b.chunks, false);
  used_ -= b.chunks;
  if (used_ == 0) rover_ = 0;  // restart on cache-warm memory when nothing is held
}

}  // namespace tapwall::defrag_detail
