// Worker TX failures: a copy the kernel refuses after the engine accepted it becomes a drop
// with its reason, counted where `tapwall ctl show drops` reads (the engine counters'
// by_reason) and per ingress port, like every drop the engine itself makes.
// Ports are in-memory fakes: port 0 receives one broadcast frame; the copies toward the
// other ports fail with a chosen TxStatus or are sent.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "frame_builder.hpp"
#include "tapwall/bridge.hpp"
#include "tapwall/packet_filter.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::FrameBuilder;
using test::mac;

// A port whose received frames are queued by the test and whose transmissions all end
// with one status. Its fd is readable while frames wait, so the worker's poll() sleeps
// once they are taken.
class FakePort final : public Port {
 public:
  FakePort(std::string name, TxStatus tx_result) : name_(std::move(name)), tx_result_(tx_result) {
    fd_ = ::eventfd(0, EFD_NONBLOCK);
  }
  ~FakePort() override { ::close(fd_); }

  void queue_rx(Bytes frame) {  // before the bridge runs
    rx_.push_back(std::move(frame));
    const uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof one);
  }

  const std::string& name() const override { return name_; }
  int ifindex() const override { return 0; }
  int fd() const override { return fd_; }
  uint32_t mtu() const override { return 1500; }
  PortBackend backend() const override { return PortBackend::Pcap; }
  bool tx_offload() const override { return false; }

  std::size_t rx_burst(std::span<RxFrame> out) override {
    std::size_t n = 0;
    for (; next_ < rx_.size() && n < out.size(); ++next_, ++n) out[n] = RxFrame{.bytes = rx_[next_]};
    if (next_ == rx_.size()) {
      uint64_t v;
      (void)!::read(fd_, &v, sizeof v);
    }
    return n;
  }
  void rx_done() override {}
  PortStats stats() override { return {}; }

 protected:
  std::size_t do_tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status) override {
    for (std::size_t i = 0; i < frames.size(); ++i) status[i] = tx_result_;
    return tx_result_ == TxStatus::Sent ? frames.size() : 0;
  }

 private:
  std::string name_;
  TxStatus tx_result_;
  int fd_ = -1;
  std::vector<Bytes> rx_;
  std::size_t next_ = 0;
};

std::shared_ptr<const CompiledPolicy> accept_all(const std::vector<PortDesc>& ports) {
  auto parsed = parse_rules("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                            ":OUTPUT ACCEPT [0:0]\nCOMMIT\n",
                            "accept.rules", Family::Ipv4);
  EXPECT_TRUE(std::holds_alternative<RuleSet>(parsed));
  auto compiled = CompiledPolicy::compile(&std::get<RuleSet>(parsed), nullptr, ports, 1);
  return std::get<std::shared_ptr<const CompiledPolicy>>(compiled);
}

std::size_t reason(DropReason r) { return static_cast<std::size_t>(r); }

// Runs a bridge over eth0 (receives `frame`), tap0 and tap1 (whose copies end with the
// given statuses) until the worker has judged the frame and published its counters.
// `traced`: the frame's outcome as the trace (and the drop recorder) get it.
BridgeStats run_one_frame(const Bytes& frame, TxStatus tap0_tx, TxStatus tap1_tx,
                          FrameOutcome* traced = nullptr) {
  EngineConfig cfg;
  cfg.ports = {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}, {"tap1", PortRole::Vm}};
  PolicySlot slot;
  slot.publish(accept_all(cfg.ports));
  Bridge::PortList ports;
  auto eth0 = std::make_unique<FakePort>("eth0", TxStatus::Sent);
  eth0->queue_rx(frame);
  ports.push_back(std::move(eth0));
  ports.push_back(std::make_unique<FakePort>("tap0", tap0_tx));
  ports.push_back(std::make_unique<FakePort>("tap1", tap1_tx));
  BridgeOptions opts;
  opts.poll_timeout_ms = 5;
  Bridge bridge(std::move(ports), cfg, slot, nullptr, opts);
  auto everything = PacketFilter::compile("");
  EXPECT_EQ(bridge.start_trace(std::get<std::shared_ptr<const PacketFilter>>(everything)), "");
  std::atomic<bool> stop{false};
  std::thread worker([&] { bridge.run(stop); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (bridge.stats().engine.frames == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  worker.join();
  if (traced) {
    std::size_t n = bridge.drain_trace([&](const FrameOutcome& o) { *traced = o; });
    EXPECT_EQ(n, 1u);
  }
  return bridge.stats();  // published once more as the worker stopped
}

Bytes broadcast_arp() {
  return FrameBuilder{}
      .eth(mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), mac(0x02, 0, 0, 0, 0, 0x01))
      .ethertype(kEthTypeArp)
      .raw(0, Bytes(28, 0))
      .build();
}

TEST(WorkerTxFailure, EachLostCopyIsCountedByItsReason) {
  BridgeStats s = run_one_frame(broadcast_arp(), TxStatus::TxError, TxStatus::MtuExceeded);
  ASSERT_EQ(s.engine.frames, 1u);
  EXPECT_EQ(s.engine.by_reason[reason(DropReason::TxError)], 1u);
  EXPECT_EQ(s.engine.by_reason[reason(DropReason::MtuExceeded)], 1u);
  // Per ingress port the frame counts once, by one of its reasons.
  EXPECT_EQ(s.drops_by_port[0][reason(DropReason::TxError)] +
                s.drops_by_port[0][reason(DropReason::MtuExceeded)],
            1u);
}

// The drop record must say which port refused the copy, also for a frame no rule judged
// (ARP): each lost copy has its port's verdict with its own reason, in port order.
TEST(WorkerTxFailure, EachLostCopyIsAVerdictForItsPort) {
  FrameOutcome o;
  run_one_frame(broadcast_arp(), TxStatus::TxError, TxStatus::MtuExceeded, &o);
  EXPECT_EQ(o.reason, DropReason::None);
  EXPECT_EQ(o.to, 0u);
  ASSERT_EQ(o.n_per, 2u);
  EXPECT_EQ(o.per[0].port, 1);
  EXPECT_FALSE(o.per[0].accept);
  EXPECT_EQ(o.per[0].reason, DropReason::TxError);
  EXPECT_EQ(o.per[1].port, 2);
  EXPECT_FALSE(o.per[1].accept);
  EXPECT_EQ(o.per[1].reason, DropReason::MtuExceeded);
}

TEST(WorkerTxFailure, ASentCopyStaysDelivered) {
  FrameOutcome o;
  run_one_frame(broadcast_arp(), TxStatus::Sent, TxStatus::TxError, &o);
  EXPECT_EQ(o.to, PortMask{1} << 1);
  ASSERT_EQ(o.n_per, 1u);
  EXPECT_EQ(o.per[0].port, 2);
  EXPECT_EQ(o.per[0].reason, DropReason::TxError);
}

TEST(WorkerTxFailure, SentCopiesCountNoDrop) {
  BridgeStats s = run_one_frame(broadcast_arp(), TxStatus::Sent, TxStatus::TxError);
  ASSERT_EQ(s.engine.frames, 1u);
  EXPECT_EQ(s.engine.by_reason[reason(DropReason::TxError)], 1u);
  EXPECT_EQ(s.engine.by_reason[reason(DropReason::MtuExceeded)], 0u);
  EXPECT_EQ(s.drops_by_port[0][reason(DropReason::TxError)], 1u);
}

}  // namespace
}  // namespace tapwall
