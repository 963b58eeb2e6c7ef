// MacTable tests: learning, exact ageing boundary, station moves, bounded
// capacity (Full, full_misses, reuse of aged-out entries), reclaim, for_each.
// Each test asserts exact results and counters.
#include "tapwall/mac_table.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <tuple>

namespace tapwall {
namespace {

constexpr uint64_t kSec = 1000000000ull;

MacAddr mac(uint64_t v) {
  MacAddr m;
  for (int i = 0; i < 6; ++i) m.b[i] = uint8_t(v >> (8 * (5 - i)));
  m.b[0] &= 0xfe;  // unicast
  return m;
}

TEST(MacTable, LearnThenLookupReturnsPort) {
  MacTable t;
  EXPECT_EQ(t.lookup(mac(0x020000000001), 0), kNoPort);
  EXPECT_EQ(t.learn(mac(0x020000000001), 3, 10), LearnResult::Learned);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 11), 3);
  EXPECT_EQ(t.lookup(mac(0x020000000002), 11), kNoPort);
  EXPECT_EQ(t.learn(mac(0x020000000001), 3, 20), LearnResult::Refreshed);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.stats().learned, 1u);
  EXPECT_EQ(t.stats().moves, 0u);
}

TEST(MacTable, AgeingBoundaryIsExactlyAgeingNs) {
  MacTableConfig cfg;
  cfg.ageing_ns = 300 * kSec;
  MacTable t(cfg);
  const MacAddr m = mac(0x020000000001);
  const uint64_t t0 = 5 * kSec;
  t.learn(m, 4, t0);
  EXPECT_EQ(t.lookup(m, t0 + cfg.ageing_ns - 1), 4);
  EXPECT_EQ(t.lookup(m, t0 + cfg.ageing_ns), kNoPort);
  // Re-learning an aged-out station is a new learn, not a refresh, and counts the expiry.
  EXPECT_EQ(t.learn(m, 4, t0 + cfg.ageing_ns), LearnResult::Learned);
  EXPECT_EQ(t.stats().expired, 1u);
  EXPECT_EQ(t.stats().learned, 2u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.lookup(m, t0 + 2 * cfg.ageing_ns - 1), 4);
}

TEST(MacTable, DefaultAgeingIs300Seconds) {
  MacTable t;
  t.learn(mac(0x020000000001), 1, 0);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 300 * kSec - 1), 1);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 300 * kSec), kNoPort);
}

TEST(MacTable, RefreshExtendsLifetime) {
  MacTableConfig cfg;
  cfg.ageing_ns = 100;
  MacTable t(cfg);
  t.learn(mac(0x020000000001), 1, 0);
  EXPECT_EQ(t.learn(mac(0x020000000001), 1, 99), LearnResult::Refreshed);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 198), 1);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 199), kNoPort);
}

TEST(MacTable, StationMoveUpdatesPortAndCounts) {
  MacTable t;
  const MacAddr m = mac(0x020000000001);
  t.learn(m, 1, 0);
  EXPECT_EQ(t.learn(m, 2, 1), LearnResult::Moved);
  EXPECT_EQ(t.lookup(m, 2), 2);
  EXPECT_EQ(t.learn(m, 2, 3), LearnResult::Refreshed);
  EXPECT_EQ(t.learn(m, 1, 4), LearnResult::Moved);
  EXPECT_EQ(t.stats().moves, 2u);
  EXPECT_EQ(t.stats().learned, 1u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(MacTable, AgedOutStationOnOtherPortIsLearnNotMove) {
  MacTableConfig cfg;
  cfg.ageing_ns = 10;
  MacTable t(cfg);
  t.learn(mac(0x020000000001), 1, 0);
  EXPECT_EQ(t.learn(mac(0x020000000001), 2, 10), LearnResult::Learned);
  EXPECT_EQ(t.stats().moves, 0u);
  EXPECT_EQ(t.stats().expired, 1u);
}

TEST(MacTable, FullTableRefusesNewStationsAndKeepsOld) {
  MacTableConfig cfg;
  cfg.capacity = 100;
  cfg.ageing_ns = 1000;
  MacTable t(cfg);
  EXPECT_EQ(t.capacity(), 100u);
  for (uint64_t i = 0; i < 100; ++i)
    ASSERT_EQ(t.learn(mac(0x020000000000 + i), 1, i), LearnResult::Learned);
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.learn(mac(0x020000001000), 2, 200), LearnResult::Full);
  EXPECT_EQ(t.learn(mac(0x020000001001), 2, 201), LearnResult::Full);
  EXPECT_EQ(t.stats().full_misses, 2u);
  EXPECT_EQ(t.lookup(mac(0x020000001000), 202), kNoPort);
  EXPECT_EQ(t.size(), 100u);
  // Known stations still refresh and move while full.
  EXPECT_EQ(t.learn(mac(0x020000000005), 1, 203), LearnResult::Refreshed);
  EXPECT_EQ(t.learn(mac(0x020000000006), 3, 203), LearnResult::Moved);
  for (uint64_t i = 0; i < 100; ++i)
    EXPECT_NE(t.lookup(mac(0x020000000000 + i), 204), kNoPort) << i;
}

TEST(MacTable, FullTableReusesAgedOutEntry) {
  MacTableConfig cfg;
  cfg.capacity = 100;
  cfg.ageing_ns = 1000;
  MacTable t(cfg);
  // Station 0 learned at t=0, the rest at t=500: only station 0 has aged out at t=1000.
  t.learn(mac(0x020000000000), 1, 0);
  for (uint64_t i = 1; i < 100; ++i) t.learn(mac(0x020000000000 + i), 1, 500);
  EXPECT_EQ(t.learn(mac(0x020000001000), 2, 999), LearnResult::Full);
  EXPECT_EQ(t.learn(mac(0x020000001000), 2, 1000), LearnResult::Learned);
  EXPECT_EQ(t.lookup(mac(0x020000001000), 1001), 2);
  EXPECT_EQ(t.lookup(mac(0x020000000000), 1001), kNoPort);
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.stats().expired, 1u);
  EXPECT_EQ(t.stats().full_misses, 1u);
  // Table full again with live entries only.
  EXPECT_EQ(t.learn(mac(0x020000001001), 2, 1001), LearnResult::Full);
  EXPECT_EQ(t.stats().full_misses, 2u);
  for (uint64_t i = 1; i < 100; ++i)
    EXPECT_EQ(t.lookup(mac(0x020000000000 + i), 1001), 1) << i;
}

TEST(MacTable, ExpireReclaimsAgedOutEntries) {
  MacTableConfig cfg;
  cfg.capacity = 1000;
  cfg.ageing_ns = 100;
  MacTable t(cfg);
  for (uint64_t i = 0; i < 1000; ++i) t.learn(mac(0x020000000000 + i), 1, i < 600 ? 0 : 50);
  EXPECT_EQ(t.expire(99), 0u);
  EXPECT_EQ(t.size(), 1000u);
  EXPECT_EQ(t.expire(100), 600u);
  EXPECT_EQ(t.size(), 400u);
  EXPECT_EQ(t.stats().expired, 600u);
  // Survivors are still reachable after the backward-shift deletions moved them.
  for (uint64_t i = 600; i < 1000; ++i)
    EXPECT_EQ(t.lookup(mac(0x020000000000 + i), 100), 1) << i;
  EXPECT_EQ(t.expire(150), 400u);
  EXPECT_EQ(t.size(), 0u);
}

// Model check: a long random workload with churn, ageing, moves and a full table, compared
// step by step with a trivially correct map. Catches broken probe chains after deletions and
// a table that reports Full while it holds an aged-out entry.
TEST(MacTable, MatchesReferenceModelUnderChurn) {
  MacTableConfig cfg;
  cfg.capacity = 256;
  cfg.ageing_ns = 1000;
  MacTable t(cfg);
  struct Station {
    PortId port;
    uint64_t seen;
    bool counted;  // included in `live`
  };
  std::map<uint64_t, Station> model;
  // Live-station count kept in O(1) amortised: every learn queues (time, key); an event
  // ages the station out when it is the station's latest one.
  std::deque<std::pair<uint64_t, uint64_t>> events;
  std::size_t live = 0;
  uint64_t rng = 12345;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  uint64_t now = 0;
  for (int step = 0; step < 200000; ++step) {
    now += next() % 3;
    while (!events.empty() && now - events.front().first >= cfg.ageing_ns) {
      Station& st = model.at(events.front().second);
      if (st.seen == events.front().first && st.counted) {
        st.counted = false;
        --live;
      }
      events.pop_front();
    }
    const uint64_t m = 0x020000000000 + next() % 600;
    const PortId port = PortId(next() % 4);
    const uint64_t key = m;
    auto it = model.find(key);
    const bool alive = it != model.end() && it->second.counted;
    if (next() % 2) {
      const LearnResult r = t.learn(mac(m), port, now);
      if (alive) {
        ASSERT_EQ(r, it->second.port == port ? LearnResult::Refreshed : LearnResult::Moved);
      } else if (r == LearnResult::Full) {
        ASSERT_EQ(live, cfg.capacity) << "Full with an aged-out entry, step " << step;
        continue;
      } else {
        ASSERT_EQ(r, LearnResult::Learned);
        ++live;
      }
      model[key] = Station{port, now, true};
      events.emplace_back(now, key);
      ASSERT_LE(t.size(), cfg.capacity);
    } else {
      ASSERT_EQ(t.lookup(mac(m), now), alive ? it->second.port : kNoPort) << "step " << step;
    }
  }
  EXPECT_GT(t.stats().full_misses, 1000u);  // the workload did exercise the full table
  EXPECT_GT(t.stats().expired, 1000u);
  EXPECT_GT(t.stats().moves, 1000u);
}

// version() is what the engine's MAC memo trusts: whenever it is unchanged after a call,
// no entry changed (station, port or time). Checked against a full snapshot after every
// learn and expire of a random workload with churn, moves, ageing and a full table.
TEST(MacTable, VersionChangesWheneverAnEntryDoes) {
  MacTableConfig cfg;
  cfg.capacity = 32;
  cfg.ageing_ns = 50;
  MacTable t(cfg);
  using Row = std::tuple<uint64_t, PortId, uint64_t>;
  auto snapshot = [&t] {
    std::set<Row> rows;
    t.for_each([&](const MacEntryView& e) {
      uint64_t m = 0;
      for (uint8_t b : e.mac.b) m = m << 8 | b;
      rows.emplace(m, e.port, e.last_seen_ns);
    });
    return rows;
  };
  uint64_t rng = 777, now = 0;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  int unchanged = 0, changed = 0;
  for (int step = 0; step < 20000; ++step) {
    if (next() % 4 == 0) now += next() % 8;
    const auto before = snapshot();
    const uint64_t v = t.version();
    if (next() % 50 == 0)
      t.expire(now);
    else
      t.learn(mac(0x020000000000 + next() % 48), PortId(next() % 3), now);
    if (t.version() == v) {
      ASSERT_EQ(snapshot(), before) << "an entry changed, version did not; step " << step;
      ++unchanged;
    } else {
      ++changed;
    }
  }
  EXPECT_GT(unchanged, 300);  // same-time refreshes, which change nothing
  EXPECT_GT(changed, 1000);
  EXPECT_GT(t.stats().moves, 100u);
  EXPECT_GT(t.stats().full_misses, 100u);
}

TEST(MacTable, ForEachVisitsEveryEntryOnce) {
  MacTable t;
  t.learn(mac(0x021122334455), 1, 100);
  t.learn(mac(0x02aabbccddee), 2, 200);
  t.learn(mac(0x021122334466), 3, 300);
  std::set<std::tuple<uint64_t, PortId, uint64_t>> seen;
  std::size_t calls = 0;
  t.for_each([&](const MacEntryView& e) {
    ++calls;
    seen.emplace(e.mac.as_u64(), e.port, e.last_seen_ns);
  });
  EXPECT_EQ(calls, 3u);
  const std::set<std::tuple<uint64_t, PortId, uint64_t>> want = {
      {0x021122334455, 1, 100}, {0x02aabbccddee, 2, 200}, {0x021122334466, 3, 300}};
  EXPECT_EQ(seen, want);
}

TEST(MacTable, CapacityOneWorks) {
  MacTableConfig cfg;
  cfg.capacity = 1;
  cfg.ageing_ns = 10;
  MacTable t(cfg);
  EXPECT_EQ(t.learn(mac(0x020000000001), 1, 0), LearnResult::Learned);
  EXPECT_EQ(t.learn(mac(0x020000000002), 1, 5), LearnResult::Full);
  EXPECT_EQ(t.learn(mac(0x020000000002), 1, 10), LearnResult::Learned);
  EXPECT_EQ(t.lookup(mac(0x020000000002), 11), 1);
  EXPECT_EQ(t.size(), 1u);
}

TEST(MacTable, ClockSteppingBackIsNotAgeing) {
  MacTableConfig cfg;
  cfg.ageing_ns = 10;
  MacTable t(cfg);
  t.learn(mac(0x020000000001), 1, 1000);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 5), 1);
  EXPECT_EQ(t.expire(5), 0u);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 1010), kNoPort);
}

TEST(MacTable, PrefetchDoesNotChangeResults) {
  MacTable t;
  t.prefetch(mac(0x020000000001));  // empty table
  t.learn(mac(0x020000000001), 2, 0);
  t.prefetch(mac(0x020000000001));
  t.prefetch(mac(0x020000000002));
  EXPECT_EQ(t.lookup(mac(0x020000000001), 1), 2);
  EXPECT_EQ(t.lookup(mac(0x020000000002), 1), kNoPort);
  EXPECT_EQ(t.size(), 1u);
}

TEST(MacTable, InvalidPortIsNotLearned) {
  MacTable t;
  EXPECT_EQ(t.learn(mac(0x020000000001), kNoPort, 0), LearnResult::Full);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.lookup(mac(0x020000000001), 0), kNoPort);
}

}  // namespace
}  // namespace tapwall
