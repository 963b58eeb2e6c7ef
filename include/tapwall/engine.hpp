// Engine: the bridge's decision pipeline for frames arriving on named ports.
//   decode -> L2 admission -> MAC learn/lookup -> (IPv4 header check) -> defrag ->
//   conntrack (once per frame or datagram) -> per egress port: policy -> outcome
// Purpose: one place that decides, for every input frame, which ports it is delivered to
// and why any copy was dropped, exactly as br0 + br_netfilter + iptables would (DESIGN.md
// §2), so the live bridge, `replay` and `bench` share it.
// Invariants: no allocation per frame once `out` vectors have grown to their working size;
// time comes from the frames (ts_ns), never from a clock; every input frame yields exactly
// one FrameOutcome, once its fate is final (a fragment when its datagram completes, is
// dropped, or expires). Frames from/to a Host-role port are not judged by the FORWARD chain
// (the host's own traffic passes the kernel's INPUT/OUTPUT instead).
// Thread-safety: one Engine per worker thread; set_policy() is called on that thread (the
// control thread hands policies over through PolicySlot).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tapwall/conntrack.hpp"
#include "tapwall/ct_state.hpp"
#include "tapwall/decoded.hpp"
#include "tapwall/defrag.hpp"
#include "tapwall/drop_reason.hpp"
#include "tapwall/mac_table.hpp"
#include "tapwall/policy.hpp"

namespace tapwall {

struct EngineConfig {
  std::vector<PortDesc> ports;  // PortId = index
  MacTableConfig mac;
  CtConfig ct;
  DefragConfig defrag;
  bool conntrack = true;        // off: every IP packet is judged with ct state None
  bool filter = true;           // off: forward everything the L2 rules admit (no policy)
};

struct FrameIn {
  std::span<const uint8_t> bytes;
  PortId in = kNoPort;
  uint64_t ts_ns = 0;
  uint64_t cookie = 0;          // caller's id, returned in the outcome
  bool csum_partial = false;    // L4 checksum left to fill in (offload): never INVALID for it
};

struct PortVerdict {
  PortId port = kNoPort;
  bool accept = true;
  int32_t rule = kNoRule;
  DropReason reason = DropReason::None;
};

struct FrameOutcome {
  uint64_t cookie = 0;
  PortId in = kNoPort;
  uint64_t ts_ns = 0;
  std::span<const uint8_t> bytes;  // valid until the next process()/expire() call
  PortMask to = 0;                 // ports it is delivered to
  CtState ct = CtState::None;
  DropReason reason = DropReason::None;  // frame-level drop (decode, L2, ct, fragments)
  uint8_t n_per = 0;               // judged egress ports, in port order
  std::array<PortVerdict, kMaxPorts> per{};
  bool csum_partial = false;
};

struct EngineCounters {
  uint64_t frames = 0, bytes = 0, forwarded = 0, dropped = 0;  // per input frame
  std::array<uint64_t, kDropReasonCount> by_reason{};           // per dropped copy/frame
  std::array<uint64_t, kMaxPorts> rx_frames{}, rx_bytes{}, tx_frames{}, tx_bytes{};
  uint64_t verdict_cache_hits = 0;
};

class Engine {
 public:
  Engine(EngineConfig cfg, std::shared_ptr<const CompiledPolicy> policy);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Judge a batch; append one outcome for every frame whose fate became final.
  void process(std::span<const FrameIn> batch, std::vector<FrameOutcome>& out);
  // Expire held fragments and (incrementally) conntrack entries; append outcomes.
  void expire(uint64_t now_ns, std::vector<FrameOutcome>& out);
  // Swap the policy: conntrack state is kept, every later packet is judged by `policy`.
  void set_policy(std::shared_ptr<const CompiledPolicy> policy);

  const EngineConfig& config() const { return cfg_; }
  const EngineCounters& counters() const { return counters_; }
  const CompiledPolicy* policy() const;
  const MacTable& mac_table() const { return *mac_; }
  const Conntrack& conntrack() const { return *ct_; }
  const Defragmenter& defragmenter() const { return *defrag_; }

 private:
  void process_one(const FrameIn& f, std::vector<FrameOutcome>& out);
  PortMask egress_ports(const Decoded& d, PortId in, uint64_t now, DropReason& why);
  void judge(const Decoded& d, std::span<const uint8_t> frame, PortId in, PortMask egress,
             uint64_t now, bool csum_partial, FrameOutcome& o);
  void finish_datagram(uint32_t dg, DropReason drop, uint64_t now, std::vector<FrameOutcome>& out);
  void record(FrameOutcome& o);

  EngineConfig cfg_;
  PortMask all_ports_ = 0;
  PortMask host_ports_ = 0;
  std::unique_ptr<MacTable> mac_;
  std::unique_ptr<Conntrack> ct_;
  std::unique_ptr<Defragmenter> defrag_;
  std::unique_ptr<PolicyEvaluator> eval_;
  std::vector<uint32_t> pending_release_;  // datagrams whose outcomes were handed out
  std::vector<std::vector<uint8_t>> expired_bytes_;  // copies of expired fragments
  EngineCounters counters_;
};

}  // namespace tapwall
