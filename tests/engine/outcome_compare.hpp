// Test helper: the part of comparing two engines' outcomes that every differential engine
// test shares (the per-port verdicts); each test compares the frame-level fields it cares
// about itself.
// Thread-safety: test code only.
#pragma once

#include <gtest/gtest.h>

#include "tapwall/engine.hpp"

namespace tapwall::test {

// x and y judged the same ports the same way. The caller asserts x.n_per == y.n_per first.
inline void expect_same_port_verdicts(const FrameOutcome& x, const FrameOutcome& y) {
  for (uint8_t k = 0; k < x.n_per; ++k) {
    EXPECT_EQ(x.per[k].port, y.per[k].port);
    EXPECT_EQ(x.per[k].accept, y.per[k].accept);
    EXPECT_EQ(x.per[k].rule, y.per[k].rule);
    EXPECT_EQ(x.per[k].reason, y.per[k].reason);
  }
}

}  // namespace tapwall::test
