// The established-ACK fast path of tcp_packet() (tcp_window.hpp) against the general state
// machine (tcp_packet_other()): for random ACK-class segments on ESTABLISHED entries, both
// must return the same action and leave byte-identical entries. White-box: it includes the
// tracker's internal header, since the fast path is invisible through the Conntrack API.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "tcp_window.hpp"

namespace tapwall::ct {
namespace {

constexpr uint64_t kNow = 5000 * kNsPerSec;

TcpSegment segment(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win = 64000,
                   uint32_t payload = 0, std::span<const uint8_t> options = {}) {
  TcpSegment s;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.win = win;
  s.payload_len = payload;
  s.options = options;
  return s;
}

// An entry brought to ESTABLISHED by a handshake through the general path.
CtEntry established(const CtConfig& cfg, std::span<const uint8_t> syn_opts) {
  CtEntry e{};
  e.status = kStInUse;
  const TcpSegment syn = segment(1000, 0, kTcpSyn, 64000, 0, syn_opts);
  tcp_new(e, syn);
  EXPECT_EQ(tcp_packet_other(e, false, syn, cfg, kNow), TcpAction::Accept);
  EXPECT_EQ(tcp_packet_other(e, true, segment(9000, 1001, kTcpSyn | kTcpAck, 64000, 0, syn_opts),
                             cfg, kNow),
            TcpAction::Accept);
  e.status |= kStSeenReply;
  EXPECT_EQ(tcp_packet_other(e, false, segment(1001, 9001, kTcpAck), cfg, kNow),
            TcpAction::Accept);
  EXPECT_EQ(e.tcp_state, kTcpEstablished);
  return e;
}

// Runs `n` random ACK-class segments, each through both paths on copies of the same entry,
// then carries the (equal) result forward so the window state keeps moving.
void run_differential(CtEntry e, const CtConfig& cfg, uint32_t seed, int n) {
  std::mt19937 rng(seed);
  const uint8_t extra[] = {0, kTcpPsh, kTcpUrg, kTcpEce | kTcpCwr, kTcpPsh | kTcpUrg};
  // A SACK block whose right edge the test moves around the peer's sent data.
  std::vector<uint8_t> sack = {1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<uint8_t> timestamps = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  uint64_t now = kNow;
  int accepted = 0, invalid = 0;
  for (int i = 0; i < n; ++i) {
    const int dir = int(rng() & 1);
    const TcpTrack& t = e.l4.tcp;
    // Sequence and ack numbers near the edges the window checks compare against, with a
    // spread that lands on both sides of each.
    const int32_t spread = int32_t(rng() % 4) == 0 ? 200000 : 3000;
    auto near = [&](uint32_t base) {
      return base + uint32_t(int32_t(rng() % uint32_t(2 * spread)) - spread);
    };
    const uint32_t seq = near(t.td_end[dir]);
    const uint32_t ack = near(t.td_end[!dir]);
    const uint16_t win = uint16_t(rng() % 4 == 0 ? rng() % 8 : 1000 + rng() % 64000);
    const uint32_t payload = rng() % 3 == 0 ? 0 : rng() % 1500;
    std::span<const uint8_t> opts;
    switch (rng() % 3) {
      case 0: {
        const uint32_t right = near(t.td_end[!dir]);
        for (int b = 0; b < 4; ++b) sack[8 + b] = uint8_t(right >> (24 - 8 * b));
        opts = sack;
        break;
      }
      case 1:
        opts = timestamps;
        break;
      default:
        break;
    }
    const TcpSegment s =
        segment(seq, ack, uint8_t(kTcpAck | extra[rng() % std::size(extra)]), win, payload, opts);
    CtEntry fast = e, general = e;
    now += rng() % 1000000;
    const TcpAction a = tcp_packet(fast, dir == 1, s, cfg, now);
    const TcpAction b = tcp_packet_other(general, dir == 1, s, cfg, now);
    ASSERT_EQ(int(a), int(b)) << "segment " << i;
    ASSERT_EQ(std::memcmp(&fast, &general, sizeof(CtEntry)), 0) << "segment " << i;
    (a == TcpAction::Accept ? accepted : invalid)++;
    e = fast;
    if (e.tcp_state != kTcpEstablished) break;  // cannot happen for ACKs; checked below
  }
  EXPECT_EQ(e.tcp_state, kTcpEstablished);
  // Both outcomes must have been exercised, or the comparison proved little.
  EXPECT_GT(accepted, n / 10);
  EXPECT_GT(invalid, n / 10);
}

TEST(TcpFastPath, SameAsGeneralPathWithoutOptions) {
  CtConfig cfg;
  run_differential(established(cfg, {}), cfg, 1, 20000);
}

TEST(TcpFastPath, SameAsGeneralPathWithWindowScaleAndSack) {
  CtConfig cfg;
  const std::vector<uint8_t> opts = {3, 3, 7, 4, 2, 1, 1, 1};  // wscale 7, SACK permitted
  run_differential(established(cfg, opts), cfg, 2, 20000);
}

TEST(TcpFastPath, SameAsGeneralPathWhenNotAssuredOrNoReplySeen) {
  CtConfig cfg;
  CtEntry e = established(cfg, {});
  e.status &= uint8_t(~kStAssured);
  run_differential(e, cfg, 3, 5000);
  e.status &= uint8_t(~kStSeenReply);
  run_differential(e, cfg, 4, 5000);
}

TEST(TcpFastPath, SameAsGeneralPathWhenLiberal) {
  CtConfig cfg;
  cfg.tcp_be_liberal = true;
  CtEntry e = established(cfg, {});
  std::mt19937 rng(5);
  for (int i = 0; i < 5000; ++i) {
    const TcpSegment s = segment(uint32_t(rng()), uint32_t(rng()), kTcpAck);
    CtEntry fast = e, general = e;
    ASSERT_EQ(int(tcp_packet(fast, i & 1, s, cfg, kNow)),
              int(tcp_packet_other(general, i & 1, s, cfg, kNow)));
    ASSERT_EQ(std::memcmp(&fast, &general, sizeof(CtEntry)), 0);
    e = fast;
  }
}

}  // namespace
}  // namespace tapwall::ct
