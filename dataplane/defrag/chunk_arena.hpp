// ChunkArena: a fixed block of memory handed out as runs of contiguous fixed-size chunks.
// Purpose: the defragmenter copies held frames and builds reassembled datagrams here, so its
// memory is bounded and allocated once, at construction; each copy stays one contiguous span.
// Invariants: a used-chunk bitmap is the only allocation state; allocation is next-fit from
// a rover (fragments are mostly freed in arrival order, so the arena behaves like a ring and
// a search rarely scans far); alloc never returns memory outside the block.
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <vector>

namespace tapwall::defrag_detail {

struct ArenaBlock {
  uint32_t first = 0;   // chunk index
  uint32_t chunks = 0;  // 0: no memory held
};

class ChunkArena {
 public:
  ChunkArena(uint32_t total_bytes, uint32_t chunk_bytes);

  uint32_t chunks_for(uint32_t bytes) const { return (bytes + chunk_ - 1) / chunk_; }
  // A run holding `bytes`, or a block with chunks == 0 when none is free (or bytes == 0).
  ArenaBlock alloc(uint32_t bytes);
  void free(ArenaBlock b);
  uint8_t* data(ArenaBlock b) { return mem_.data() + std::size_t{b.first} * chunk_; }
  const uint8_t* data(ArenaBlock b) const { return mem_.data() + std::size_t{b.first} * chunk_; }
  std::size_t bytes_used() const { return std::size_t{used_} * chunk_; }
  uint32_t chunk_count() const { return n_; }

 private:
  // First chunk in [i, limit) in that state, or limit (limit <= n_).
  uint32_t next_with(uint32_t i, bool used, uint32_t limit) const;
  int64_t find_run(uint32_t from, uint32_t limit, uint32_t k) const;
  void mark(uint32_t first, uint32_t k, bool used);

  uint32_t chunk_;
  uint32_t n_;
  uint32_t rover_ = 0;
  uint32_t used_ = 0;
  std::vector<uint8_t> mem_;
  std::vector<uint64_t> bits_;  // 1 = used
};

}  // namespace tapwall::defrag_detail
