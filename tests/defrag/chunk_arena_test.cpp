// ChunkArena: contiguous runs, exact accounting, refusal when no run is long enough even if
// enough chunks are free in total, and reuse after free across the rover's wrap.
#include "../../dataplane/defrag/chunk_arena.hpp"

#include <gtest/gtest.h>

namespace tapwall::defrag_detail {
namespace {

TEST(ChunkArena, AllocatesContiguousRunsAndAccountsExactly) {
  ChunkArena a(64 * 100, 64);
  ASSERT_EQ(a.chunk_count(), 100u);
  const auto b1 = a.alloc(1);
  const auto b2 = a.alloc(65);
  const auto b3 = a.alloc(64 * 10);
  EXPECT_EQ(b1.chunks, 1u);
  EXPECT_EQ(b2.chunks, 2u);
  EXPECT_EQ(b3.chunks, 10u);
  EXPECT_EQ(b2.first, b1.first + 1);
  EXPECT_EQ(b3.first, b2.first + 2);
  EXPECT_EQ(a.bytes_used(), 13u * 64);
  a.free(b2);
  EXPECT_EQ(a.bytes_used(), 11u * 64);
  EXPECT_EQ(a.alloc(0).chunks, 0u);
}

TEST(ChunkArena, RefusesWhenNoRunIsLongEnough) {
  ChunkArena a(64 * 8, 64);
  ArenaBlock b[8];
  for (auto& x : b) x = a.alloc(64);
  EXPECT_EQ(a.alloc(1).chunks, 0u);
  a.free(b[1]);
  a.free(b[3]);
  a.free(b[5]);
  EXPECT_EQ(a.alloc(128).chunks, 0u);  // 3 free chunks, none adjacent
  a.free(b[4]);
  const auto run = a.alloc(192);  // 3..5 now adjacent
  EXPECT_EQ(run.chunks, 3u);
  EXPECT_EQ(run.first, 3u);
}

TEST(ChunkArena, WrapsAroundAndSpansWordBoundaries) {
  ChunkArena a(64 * 200, 64);
  const auto x = a.alloc(64 * 150);
  const auto y = a.alloc(64 * 40);
  EXPECT_EQ(y.first, 150u);
  a.free(x);
  const auto z = a.alloc(64 * 100);  // rover at 190: no room after it, wraps to 0
  EXPECT_EQ(z.first, 0u);
  EXPECT_EQ(z.chunks, 100u);
  EXPECT_EQ(a.alloc(64 * 51).chunks, 0u);  // only 50 free before y, 10 after
  const auto w = a.alloc(64 * 50);         // 100..149 crosses a 64-bit word boundary
  EXPECT_EQ(w.first, 100u);
  const auto v = a.alloc(64);  // next fit after w skips y: 190
  EXPECT_EQ(v.first, 190u);
  EXPECT_EQ(a.bytes_used(), (100u + 50 + 40 + 1) * 64);
  uint8_t* p = a.data(w);
  p[0] = 1;
  p[64 * 50 - 1] = 2;  // whole run writable (ASan checks)
}

}  // namespace
}  // namespace tapwall::defrag_detail
