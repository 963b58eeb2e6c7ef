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
// Batches are pipelined (express.cpp): every frame of a batch is read or decoded and hashed
// first, its table lines prefetched, then frames are decided one by one in arrival order,
// so the outcome is exactly that of processing them singly.
// Verdict cache: an ESTABLISHED packet judged for one egress port may reuse the decision
// cached on its conntrack entry (per direction) when everything the decision depended on
// is equal: policy (the cache tag changes with every set_policy()), ingress and egress
// port, ct state, TCP flags and source MAC; the rules the decision counted are then counted
// again in bulk at the end of process(), so rule counters are exact at batch boundaries.
// INVALID and RELATED packets are always judged by the policy.
// Express path (express.cpp): a frame of that steady state (untagged IPv4/IPv6 TCP/UDP) whose
// decision is cached is recognised from its bytes before anything changes and handled in
// one pass with the same effects; anything else, or any check failing, takes the general
// path. EngineCounters::express_frames counts the frames it handled.
// Thread-safety: one Engine per worker thread; set_policy() is called on that thread (the
// control thread hands policies over through PolicySlot).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
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

struct ExpressFrame;  // express_frame.hpp (engine-internal)

struct EngineConfig {
  std::vector<PortDesc> ports;  // PortId = index
  MacTableConfig mac;
  CtConfig ct;
  DefragConfig defrag;
  bool conntrack = true;        // off: every IP packet is judged with ct state None
  bool filter = true;           // off: forward everything the L2 rules admit (no policy)
  bool verdict_cache = true;    // off: every copy is judged by the policy (A/B, tracing)
  bool express = true;          // off: every frame takes the general path (A/B, tests)
};

struct FrameIn {
  std::span<const uint8_t> bytes;
  PortId in = kNoPort;          // must be a port of EngineConfig::ports (an index < kMaxPorts)
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

// Verdicts for up to kMaxPorts egress ports, of which only [0, n_per) hold values: the rest
// is left uninitialised on purpose. A frame is nearly always judged for one port, and
// initialising 32 verdicts per frame cost more than all the rest of its outcome.
class PortVerdicts {
 public:
  PortVerdict& operator[](std::size_t i) { return data()[i]; }
  const PortVerdict& operator[](std::size_t i) const { return data()[i]; }
  static constexpr std::size_t size() { return kMaxPorts; }

 private:
  // Byte storage implicitly creates the (implicit-lifetime) PortVerdict objects.
  PortVerdict* data() { return std::launder(reinterpret_cast<PortVerdict*>(raw_)); }
  const PortVerdict* data() const {
    return std::launder(reinterpret_cast<const PortVerdict*>(raw_));
  }
  alignas(PortVerdict) unsigned char raw_[kMaxPorts * sizeof(PortVerdict)];
};

struct FrameOutcome {
  FrameOutcome() {}  // user-provided, so value-initialisation does not zero `per`
  uint64_t cookie = 0;
  PortId in = kNoPort;
  uint64_t ts_ns = 0;
  std::span<const uint8_t> bytes;  // valid until the next process()/expire() call
  PortMask to = 0;                 // ports it is delivered to
  CtState ct = CtState::None;
  DropReason reason = DropReason::None;  // frame-level drop (decode, L2, ct, fragments)
  uint8_t n_per = 0;               // judged egress ports, in port order
  PortVerdicts per;                // [0, n_per) are valid
  bool csum_partial = false;
};

struct EngineCounters {
  uint64_t frames = 0, bytes = 0, forwarded = 0, dropped = 0;  // per input frame
  std::array<uint64_t, kDropReasonCount> by_reason{};           // per dropped copy/frame
  std::array<uint64_t, kMaxPorts> rx_frames{}, rx_bytes{}, tx_frames{}, tx_bytes{};
  uint64_t verdict_cache_hits = 0;
  uint64_t express_frames = 0;  // frames the express path handled
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
  // Teaches the MAC table a station another worker learned (multi-worker MAC sync); the
  // same effect as a frame from `mac` arriving on `port` at now_ns.
  LearnResult learn_station(const MacAddr& mac, PortId port, uint64_t now_ns) {
    return mac_->learn(mac, port, now_ns);
  }
  const Conntrack& conntrack() const { return *ct_; }
  const Defragmenter& defragmenter() const { return *defrag_; }

  // Frames decided together (decode/hash/prefetch stages); larger batches are split.
  static constexpr std::size_t kPipeline = 32;

 private:
  // A decision as the verdict cache holds it: the key fields a hit must match, the
  // decision, and the rules it counted (replayed by flush_verdict_counts()).
  struct VerdictRecord {
    uint64_t src_mac = 0;  // engine_detail::mac_key()
    PortId in = kNoPort, out = kNoPort;
    CtState ct = CtState::None;
    // The packet's own part of the key: its TCP flags (cache_key_flags()) | its
    // length_class() << 8 (its -m length answers; < 2^24, compile() sees to it), compared
    // at once.
    uint32_t packet_key = 0;
    PolicyDecision dec;
    PolicyPath path;
  };
  static constexpr uint32_t kMaxRecords = 1024;      // distinct cached decisions per tag
  static constexpr uint32_t kRecordSlots = 2 * kMaxRecords;  // intern hash table
  static constexpr uint16_t kNoSlot = 0xffff;

  void process_one(const FrameIn& f, const Decoded& d, DropReason why, const CtLookup* lk,
                   std::vector<FrameOutcome>& out);
  PortMask egress_ports(const Decoded& d, PortId in, uint64_t now, DropReason& why);
  void judge(const Decoded& d, std::span<const uint8_t> frame, PortId in, PortMask egress,
             uint64_t now, bool csum_partial, FrameOutcome& o, const CtLookup* lk = nullptr,
             bool cacheable = false);
  // now: the packet's time (a reassembled datagram's outcome has none of its own yet).
  void judge_tracked(const Decoded& d, PortId in, PortMask egress, const CtResult& ct,
                     uint64_t now, FrameOutcome& o, bool cacheable);
  // by_length: !length_cuts_.empty(), read once a batch.
  bool express(const FrameIn& f, ExpressFrame& x, const CtLookup& lk, Decoded& scratch,
               bool by_length, std::vector<FrameOutcome>& out);
  uint32_t cached_record(const CtVerdictCache& slot, uint64_t src_mac, uint32_t packet_key,
                         PortId in, PortId out, CtState ct) const;
  // The policy's length class of a packet of `ip_bytes` (CompiledPolicy::length_cuts());
  // 0 for every packet when no rule tests a length.
  uint32_t length_class(uint32_t ip_bytes) const;
  void count_cached(uint32_t record, uint32_t ip_bytes);
  // now_ns: the frame's time (a `-m limit` rule's bucket refills by it).
  PolicyDecision judge_cached(const Decoded& d, PortId in, PortId out, const CtResult& ct,
                              uint64_t now_ns);
  PolicyDecision judge_and_cache(const Decoded& d, PortId in, PortId out, const CtResult& ct,
                                 uint64_t now_ns,
                                 CtVerdictCache& slot);
  uint32_t intern(const VerdictRecord& r);
  void flush_verdict_counts();
  void reset_verdict_cache();
  void finish_datagram(uint32_t dg, DropReason drop, uint64_t now, std::vector<FrameOutcome>& out);
  void count_input(const FrameIn& f);
  void record(FrameOutcome& o);

  EngineConfig cfg_;
  PortMask all_ports_ = 0;
  PortMask host_ports_ = 0;
  std::unique_ptr<MacTable> mac_;
  std::unique_ptr<Conntrack> ct_;
  std::unique_ptr<Defragmenter> defrag_;
  std::unique_ptr<PolicyEvaluator> eval_;
  std::span<const uint32_t> length_cuts_;  // the policy's length_cuts() (eval_ holds it)
  std::vector<uint32_t> pending_release_;  // datagrams whose outcomes were handed out
  std::vector<std::vector<uint8_t>> expired_bytes_;  // copies of expired fragments
  EngineCounters counters_;
  // Pipeline scratch, sized once (no allocation per batch).
  std::unique_ptr<Decoded[]> dec_;
  std::array<DropReason, kPipeline> why_{};
  std::array<CtLookup, kPipeline> lk_{};
  std::unique_ptr<ExpressFrame[]> xf_;            // frames of the express path's shape
  std::array<bool, kPipeline> express_shape_{};  // per frame: xf_ holds it, not dec_
  // Per ingress port, the MAC work of the last frame the express path forwarded: its
  // addresses, time, the MAC table's version after it, and the egress port. A frame with
  // the same four needs neither the lookup nor the learn (MacTable::version()); the frames
  // of one burst from one port nearly all share a station pair and a timestamp.
  struct MacMemo {
    uint64_t src = 0, dst = 0, ts_ns = 0, version = ~uint64_t{0};
    PortId out = kNoPort;
  };
  // One per PortId value, not per port: any FrameIn::in indexes it without a bounds check.
  std::array<MacMemo, std::numeric_limits<PortId>::max() + 1> mac_memo_{};
  // Verdict cache: entries' slots hold (tag_, record id); records are immutable until the
  // tag changes (policy swap, or the record table filling up), so a slot never names a
  // record other than the one written for it.
  uint32_t vc_tag_ = 1;
  std::vector<VerdictRecord> records_;
  std::vector<uint16_t> record_slots_;           // open addressing over records_
  std::vector<uint64_t> pend_packets_, pend_bytes_;  // per record, counted on cache hits
  std::vector<uint32_t> pend_dirty_;             // records with pending counts
};

}  // namespace tapwall
