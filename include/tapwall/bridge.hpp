// Bridge: the live data path. One worker thread polls every port, reads bursts, runs them
// through the Engine and transmits each frame to the ports the engine chose, carrying its
// offload metadata; dropped frames go to the DropRecorder.
// Purpose: what br0 did in the kernel, in user space (DESIGN.md §3).
// Invariants: no lock, allocation or blocking call per frame on the worker; received
// frames stay untouched until every copy was transmitted (rx_done() after tx); a new
// policy is picked up between batches (PolicySlot), conntrack state is kept across it.
// Thread-safety: run() on the worker thread; PolicySlot::publish, call() and stats() from
// any other thread.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "tapwall/drop_recorder.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/packet_filter.hpp"
#include "tapwall/port.hpp"
#include "tapwall/spsc_ring.hpp"

namespace tapwall {

// Hands a compiled policy from the control thread to the worker.
class PolicySlot {
 public:
  void publish(std::shared_ptr<const CompiledPolicy> p) {
    std::lock_guard<std::mutex> lock(mu_);
    gen_.store(p->generation(), std::memory_order_release);
    policy_ = std::move(p);
  }
  std::shared_ptr<const CompiledPolicy> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return policy_;
  }
  uint64_t generation() const { return gen_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::atomic<uint64_t> gen_{0};
};

struct BridgeOptions {
  uint32_t burst = 64;           // frames read per port per round
  int poll_timeout_ms = 50;      // idle wait; also the grain of stop/reload/control response
  uint64_t expire_every_ns = 1000000000ull;
};

struct BridgeStats {
  EngineCounters engine;
  // Frames that came in on each port and were dropped (as a whole or toward some port),
  // by the reason of their first drop.
  std::vector<std::array<uint64_t, kDropReasonCount>> drops_by_port;
  std::vector<PortStats> ports;
  uint64_t policy_generation = 0;
};

class Bridge {
 public:
  using PortList = std::vector<std::unique_ptr<Port>>;
  Bridge(PortList ports, EngineConfig cfg, PolicySlot& slot, DropRecorder* drops,
         BridgeOptions opts = {});
  ~Bridge();

  // The worker loop; returns when `stop` becomes true.
  void run(const std::atomic<bool>& stop);
  // Runs fn on the worker between batches and waits for it (control queries such as
  // `show macs`). If the worker is not running, runs fn here.
  void call(const std::function<void(const Engine&, PortList&)>& fn);
  // Returns once the worker has picked up every policy and filter published before the
  // call: what a control request changed is in force for the next frame.
  void sync();
  BridgeStats stats() const;  // a snapshot, refreshed by the worker every poll round

  // Trace: copies of the outcomes of frames matching `filter` go to a ring the control
  // thread drains. One trace at a time: returns an error when one is running.
  std::string start_trace(std::shared_ptr<const PacketFilter> filter);
  void stop_trace();
  // Control thread: hands each queued traced outcome (bytes valid during the call) to fn.
  std::size_t drain_trace(const std::function<void(const FrameOutcome&)>& fn);
  uint64_t trace_overflows() const { return trace_overflow_.load(std::memory_order_relaxed); }
  // Dump: also record accepted frames matching `filter` with the drop recorder (null: stop).
  // Returns an error when there is no recorder.
  std::string set_dump(std::shared_ptr<const PacketFilter> filter);

 private:
  std::size_t round(uint64_t now);  // frames received
  void transmit(std::vector<FrameOutcome>& out, uint64_t batch_seq);
  void serve_calls();
  void publish_stats();
  void refresh_filters();
  void pick_up_changes();
  void tap_outcomes(const std::vector<FrameOutcome>& out);

  struct TraceRecord {
    FrameOutcome outcome;
    uint32_t len = 0;
    std::unique_ptr<uint8_t[]> data;
  };
  static constexpr uint32_t kTraceSnap = 2048;
  SpscRing<TraceRecord> trace_ring_{256};
  std::atomic<uint64_t> trace_overflow_{0};
  std::mutex filter_mu_;  // guards the *_next_ pointers (control side)
  std::shared_ptr<const PacketFilter> trace_next_, dump_next_;
  std::atomic<uint64_t> filter_gen_{0};
  uint64_t filter_seen_ = 0;                       // worker
  std::shared_ptr<const PacketFilter> trace_, dump_;  // worker's copies

  PortList ports_;
  EngineConfig cfg_;
  PolicySlot& slot_;
  DropRecorder* drops_;
  BridgeOptions opts_;
  std::unique_ptr<Engine> engine_;
  uint64_t generation_ = 0;

  // Per-round scratch, sized at construction.
  std::vector<std::vector<RxFrame>> rx_;
  std::vector<FrameIn> batch_;
  std::vector<const OffloadInfo*> batch_offload_;
  std::vector<FrameOutcome> out_;
  std::vector<std::vector<TxFrame>> tx_;
  std::vector<std::vector<std::size_t>> tx_owner_;  // outcome index of each tx frame
  std::vector<TxStatus> tx_status_;
  uint64_t batch_seq_ = 0;
  uint64_t last_expire_ = 0;
  uint64_t last_publish_ = 0;
  static constexpr uint64_t kPublishEveryNs = 100000000;  // 100 ms

  std::atomic<bool> running_{false};
  std::atomic<bool> call_pending_{false};
  std::mutex call_mu_;
  std::condition_variable call_cv_;
  const std::function<void(const Engine&, PortList&)>* call_fn_ = nullptr;
  bool call_done_ = false;

  std::vector<std::array<uint64_t, kDropReasonCount>> drops_by_port_;  // worker-owned
  mutable std::mutex stats_mu_;
  BridgeStats stats_;
};

}  // namespace tapwall
