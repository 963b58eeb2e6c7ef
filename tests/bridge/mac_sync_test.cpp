// MAC sync tests, with two real engines standing for two workers: a station learned by
// worker A is looked up by worker B after B's sync step (so B neither floods frames to it nor
// forwards frames back onto its port); moves propagate both ways; a late announcement does
// not undo a newer sighting; announcements are refreshed before the others age the station
// out; a full ring is counted and retried by the station's next frame.
#include <gtest/gtest.h>

#include "frame_builder.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/mac_sync.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::FrameBuilder;
using test::mac;

constexpr uint64_t kSec = 1000000000ull;
constexpr PortId kEth0 = 0, kTap0 = 1, kTap1 = 2;
const MacAddr kStation = mac(0x02, 0, 0x5e, 0, 0, 0x01);
const MacAddr kOther = mac(0x02, 0, 0x5e, 0, 0, 0x02);

std::shared_ptr<const CompiledPolicy> accept_all(const std::vector<PortDesc>& ports) {
  auto rs = std::get<RuleSet>(parse_rules("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n", "t", Family::Ipv4));
  return std::get<std::shared_ptr<const CompiledPolicy>>(CompiledPolicy::compile(&rs, nullptr, ports, 1));
}

class MacSyncTest : public ::testing::Test {
 protected:
  MacSyncTest() : mesh_(2, 8) {
    cfg_.ports = {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}, {"tap1", PortRole::Vm}};
    for (int i = 0; i < 2; ++i) {
      engines_.push_back(std::make_unique<Engine>(cfg_, accept_all(cfg_.ports)));
      announcers_.push_back(std::make_unique<MacAnnouncer>(uint32_t(i), mesh_, cfg_.mac));
    }
  }
  // Worker w judges a frame from `src` to `dst` that arrived on `in`; like the worker loop,
  // it then announces the source its engine learned. Returns the ports it went to.
  PortMask judge(int w, const MacAddr& src, const MacAddr& dst, PortId in, uint64_t ts,
                 DropReason* why = nullptr) {
    Bytes f = FrameBuilder().eth(dst, src).ethertype(kEthTypeArp).raw(0, Bytes(28, 0)).build();
    FrameIn fi;
    fi.bytes = f;
    fi.in = in;
    fi.ts_ns = ts;
    std::vector<FrameOutcome> out;
    engines_[w]->process({&fi, 1}, out);
    announcers_[w]->learned(src, in, ts);
    EXPECT_EQ(out.size(), 1u);
    if (why) *why = out[0].reason;
    return out[0].to;
  }
  std::size_t sync(int w) { return announcers_[w]->apply(*engines_[w]); }
  PortId lookup(int w, const MacAddr& m, uint64_t now) { return engines_[w]->mac_table().lookup(m, now); }

  EngineConfig cfg_;
  MacSyncMesh mesh_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<std::unique_ptr<MacAnnouncer>> announcers_;
};

TEST_F(MacSyncTest, StationLearnedOnOneWorkerIsKnownToTheOtherAfterSync) {
  judge(0, kStation, kOther, kTap0, 1 * kSec);
  EXPECT_EQ(lookup(0, kStation, 1 * kSec), kTap0);
  EXPECT_EQ(lookup(1, kStation, 1 * kSec), kNoPort);  // not before the sync step
  EXPECT_EQ(sync(1), 1u);
  EXPECT_EQ(lookup(1, kStation, 2 * kSec), kTap0);
  // Worker B now sends frames for the station to its port only (no flood)...
  EXPECT_EQ(judge(1, kOther, kStation, kEth0, 2 * kSec), PortMask{1} << kTap0);
  // ...and drops one that came in on the station's own port, as worker A would.
  DropReason why = DropReason::None;
  EXPECT_EQ(judge(1, kOther, kStation, kTap0, 2 * kSec, &why), 0u);
  EXPECT_EQ(why, DropReason::SamePort);
  EXPECT_EQ(announcers_[0]->stats().sent, 1u);
  EXPECT_EQ(announcers_[1]->stats().applied, 1u);
}

TEST_F(MacSyncTest, KnownStationOnItsPortIsNotAnnouncedAgainUntilTheRefresh) {
  judge(0, kStation, kOther, kTap0, 1 * kSec);
  for (int i = 0; i < 100; ++i) judge(0, kStation, kOther, kTap0, 1 * kSec + i * kSec / 10);
  EXPECT_EQ(announcers_[0]->stats().sent, 1u);  // one per station, not one per frame
  sync(1);
  // Just past the refresh interval the station's next frame is announced again, long before
  // the 300 s ageing: the other worker's entry stays alive while the station talks.
  judge(0, kStation, kOther, kTap0, 1 * kSec + MacAnnouncer::kRefreshNs);
  EXPECT_EQ(announcers_[0]->stats().sent, 2u);
  sync(1);
  const uint64_t t = 1 * kSec + MacAnnouncer::kRefreshNs + 299 * kSec;  // 300 s after the first
  EXPECT_EQ(lookup(1, kStation, t), kTap0);
}

TEST_F(MacSyncTest, MovesPropagateBothWays) {
  judge(0, kStation, kOther, kTap0, 1 * kSec);
  sync(1);
  judge(1, kStation, kOther, kTap1, 2 * kSec);  // moved: seen by worker B on tap1
  sync(0);
  EXPECT_EQ(lookup(0, kStation, 3 * kSec), kTap1);
  judge(0, kStation, kOther, kTap0, 4 * kSec);  // and back, seen by A
  sync(1);
  EXPECT_EQ(lookup(1, kStation, 5 * kSec), kTap0);
}

TEST_F(MacSyncTest, LateAnnouncementDoesNotUndoANewerSighting) {
  judge(0, kStation, kOther, kTap0, 1 * kSec);  // A: tap0 at 1 s, queued for B
  judge(1, kStation, kOther, kTap1, 2 * kSec);  // B: tap1 at 2 s, before B syncs
  sync(1);
  EXPECT_EQ(lookup(1, kStation, 3 * kSec), kTap1);
  EXPECT_EQ(announcers_[1]->stats().stale, 1u);
  sync(0);
  EXPECT_EQ(lookup(0, kStation, 3 * kSec), kTap1);  // A takes B's newer sighting
}

TEST_F(MacSyncTest, FullRingIsCountedAndRetriedByTheNextFrame) {
  // The mesh's rings hold 8 events: 8 stations fit, the 9th is lost for now.
  for (int i = 0; i < 9; ++i) judge(0, mac(0x02, 0, 0, 0, 1, uint8_t(i)), kOther, kTap0, kSec);
  EXPECT_EQ(announcers_[0]->stats().sent, 8u);
  EXPECT_EQ(announcers_[0]->stats().lost, 1u);
  EXPECT_EQ(sync(1), 8u);
  EXPECT_EQ(lookup(1, mac(0x02, 0, 0, 0, 1, 8), 2 * kSec), kNoPort);
  judge(0, mac(0x02, 0, 0, 0, 1, 8), kOther, kTap0, 2 * kSec);  // its next frame: announced
  EXPECT_EQ(sync(1), 1u);
  EXPECT_EQ(lookup(1, mac(0x02, 0, 0, 0, 1, 8), 2 * kSec), kTap0);
}

}  // namespace
}  // namespace tapwall
