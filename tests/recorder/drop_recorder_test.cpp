// DropRecorder tests: what is recorded reads back with the reason in its comment; files
// rotate and the disk cap holds; the per-reason rate limit records at most the burst and
// counts the rest; nothing queued is lost on stop().
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>

#include "tapwall/capture_file.hpp"
#include "tapwall/drop_recorder.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

namespace fs = std::filesystem;

std::string comment_of(const FrameOutcome& o, const std::vector<PortDesc>&, const CompiledPolicy&) {
  return "drop reason=" + std::string(drop_reason_name(o.reason));
}

std::shared_ptr<const CompiledPolicy> empty_policy(const std::vector<PortDesc>& ports) {
  auto rs = std::get<RuleSet>(parse_rules("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n", "t", Family::Ipv4));
  return std::get<std::shared_ptr<const CompiledPolicy>>(CompiledPolicy::compile(&rs, nullptr, ports, 1));
}

class DropRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tapwall-recorder-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  FrameOutcome drop(DropReason r, uint64_t ts) {
    FrameOutcome o;
    o.in = 0;
    o.ts_ns = ts;
    o.reason = r;
    o.bytes = frame_;
    return o;
  }
  std::vector<fs::path> files() const {
    std::vector<fs::path> v;
    for (auto& e : fs::directory_iterator(dir_)) v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
  }
  uint64_t frames_in(const fs::path& p) {
    auto r = CaptureReader::open(p.string());
    auto& reader = std::get<std::unique_ptr<CaptureReader>>(r);
    CapturedFrame f;
    uint64_t n = 0;
    while (reader->next(f)) ++n;
    return n;
  }

  fs::path dir_;
  std::vector<PortDesc> ports_{{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}};
  std::vector<uint8_t> frame_ = std::vector<uint8_t>(200, 0x42);
};

TEST_F(DropRecorderTest, RecordsFramesWithTheirReasonAndFlushesOnStop) {
  DropRecorderConfig cfg;
  cfg.dir = dir_.string();
  DropRecorder rec(cfg, ports_, &comment_of);
  ASSERT_EQ(rec.start(), "");
  rec.note_policy(empty_policy(ports_));
  for (int i = 0; i < 10; ++i) rec.submit(drop(DropReason::SrcMacZero, 1000 + i));
  rec.stop();
  auto f = files();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(frames_in(f[0]), 10u);
  EXPECT_EQ(rec.stats().recorded, 10u);
}

TEST_F(DropRecorderTest, RotatesAndKeepsTheDiskCap) {
  DropRecorderConfig cfg;
  cfg.dir = dir_.string();
  cfg.max_file_bytes = 4096;
  cfg.max_files = 3;
  cfg.rate_per_reason = 1000000;
  cfg.burst_per_reason = 1000000;
  DropRecorder rec(cfg, ports_, &comment_of);
  ASSERT_EQ(rec.start(), "");
  rec.note_policy(empty_policy(ports_));
  for (int i = 0; i < 500; ++i) {
    rec.submit(drop(DropReason::ChainPolicy, 1000 + i));
    if (i % 64 == 63) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the writer drain
  }
  rec.stop();
  auto f = files();
  EXPECT_EQ(f.size(), 3u);
  uint64_t total = 0;
  for (auto& p : f) total += fs::file_size(p);
  // Files rotate before a frame would cross max_file_bytes: the cap holds exactly.
  for (auto& p : f) EXPECT_LE(fs::file_size(p), cfg.max_file_bytes);
  EXPECT_LE(total, cfg.max_files * cfg.max_file_bytes);
  EXPECT_GT(rec.stats().files_deleted, 0u);
  EXPECT_EQ(rec.stats().bytes_on_disk, total);
}

TEST_F(DropRecorderTest, RateLimitPerReasonCountsWhatItSkips) {
  DropRecorderConfig cfg;
  cfg.dir = dir_.string();
  cfg.rate_per_reason = 10;
  cfg.burst_per_reason = 5;
  DropRecorder rec(cfg, ports_, &comment_of);
  ASSERT_EQ(rec.start(), "");
  rec.note_policy(empty_policy(ports_));
  // 100 drops of one reason within one millisecond: only the burst gets through.
  for (int i = 0; i < 100; ++i) rec.submit(drop(DropReason::ChainPolicy, 1000000 + i));
  // Another reason has its own bucket.
  for (int i = 0; i < 3; ++i) rec.submit(drop(DropReason::SrcMacZero, 1000000 + i));
  // One second later the bucket has refilled by rate_per_reason (capped at the burst).
  for (int i = 0; i < 100; ++i) rec.submit(drop(DropReason::ChainPolicy, 1001000000ull + i));
  rec.stop();
  DropRecorderStats s = rec.stats();
  EXPECT_EQ(s.recorded, 5u + 3u + 5u);
  EXPECT_EQ(s.rate_limited[size_t(DropReason::ChainPolicy)], 190u);
  EXPECT_EQ(s.rate_limited[size_t(DropReason::SrcMacZero)], 0u);
}

// Several workers: each submits through its own ring, from its own thread; every frame is
// recorded, also those judged by a policy one producer still uses after another moved on;
// the rate limit is shared out so the configured rate holds for all producers together.
TEST_F(DropRecorderTest, ProducersSubmitFromTheirOwnThreadsAndKeepTheirPolicies) {
  DropRecorderConfig cfg;
  cfg.dir = dir_.string();
  cfg.rate_per_reason = 1000000;
  cfg.burst_per_reason = 1000000;
  cfg.producers = 2;
  DropRecorder rec(cfg, ports_, &comment_of);
  ASSERT_EQ(rec.producers(), 2u);
  ASSERT_EQ(rec.start(), "");
  auto p1 = empty_policy(ports_);
  rec.note_policy(p1, 0);
  rec.note_policy(p1, 1);
  auto rs2 = std::get<RuleSet>(parse_rules("*filter\n:FORWARD DROP [0:0]\nCOMMIT\n", "t", Family::Ipv4));
  auto p2 = std::get<std::shared_ptr<const CompiledPolicy>>(CompiledPolicy::compile(&rs2, nullptr, ports_, 2));
  rec.note_policy(p2, 0);  // producer 0 moves on; producer 1 still judges by generation 1
  std::thread t0([&] {
    for (int i = 0; i < 300; ++i) {
      rec.submit(drop(DropReason::ChainPolicy, 1000 + i), 0);
      if (i % 64 == 63) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::thread t1([&] {
    for (int i = 0; i < 300; ++i) {
      rec.submit(drop(DropReason::SrcMacZero, 1000 + i), 1);
      if (i % 64 == 63) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  t0.join();
  t1.join();
  rec.stop();
  EXPECT_EQ(rec.stats().recorded, 600u);
  EXPECT_EQ(rec.stats().queue_full, 0u);
  uint64_t n = 0;
  for (auto& f : files()) n += frames_in(f);
  EXPECT_EQ(n, 600u);
}

TEST_F(DropRecorderTest, RateLimitIsSharedOutBetweenProducers) {
  DropRecorderConfig cfg;
  cfg.dir = dir_.string();
  cfg.rate_per_reason = 10;
  cfg.burst_per_reason = 6;
  cfg.producers = 2;
  DropRecorder rec(cfg, ports_, &comment_of);
  ASSERT_EQ(rec.start(), "");
  rec.note_policy(empty_policy(ports_), 0);
  rec.note_policy(empty_policy(ports_), 1);
  for (uint32_t p = 0; p < 2; ++p)
    for (int i = 0; i < 100; ++i) rec.submit(drop(DropReason::ChainPolicy, 1000000 + i), p);
  rec.stop();
  EXPECT_EQ(rec.stats().recorded, 6u);  // 3 + 3: the burst, not twice the burst
}

}  // namespace
}  // namespace tapwall
