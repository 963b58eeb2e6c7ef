// Worker: one data-path thread of the bridge: its ports (sockets), its Engine, its share of
// the handoff rings and MAC announcements.
// Purpose: the loop that was the whole bridge with one worker, and one of N with several.
// A round: read a burst from every readable port; with several workers, steer each frame
// (owner_steering.hpp) and copy the ones another worker owns into the handoff ring to it;
// take the frames handed to this worker; judge all of it in one engine call (so frames keep
// their arrival order per port and per flow); transmit per egress port in one burst each,
// from this worker's own socket of that port (no TX lock); record drops; announce stations
// the engine learned; release RX and the handoff rings.
// Invariants: no lock, allocation or blocking call per frame; frames (ring slots, handoff
// records) stay untouched until every copy was transmitted; with one worker nothing is
// steered, handed over or announced: the loop is the single-worker bridge's.
// Thread-safety: run() on the worker's thread; call() and stats() from the control thread;
// the trace ring is drained by the control thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "tapwall/bridge.hpp"
#include "tapwall/handoff_ring.hpp"
#include "tapwall/mac_sync.hpp"
#include "tapwall/owner_steering.hpp"

namespace tapwall {

// What the workers of one bridge share: the control hand-overs (policy slot, trace/dump
// filters), the recorder, and the rings between workers.
struct WorkerShared {
  WorkerShared(uint32_t n, PolicySlot& s, DropRecorder* d, BridgeOptions o);
  ~WorkerShared();
  HandoffRing& ring(uint32_t from, uint32_t to) { return *handoff[from * n + to]; }
  // Producer side of a wake-up: after publishing to `to`'s ring, wake it if it sleeps.
  void wake(uint32_t to);

  const uint32_t n;
  PolicySlot& slot;
  DropRecorder* drops;
  const BridgeOptions opts;

  std::mutex filter_mu;  // guards the *_next pointers (control side)
  std::shared_ptr<const PacketFilter> trace_next, dump_next;
  std::atomic<uint64_t> filter_gen{0};

  std::vector<std::unique_ptr<HandoffRing>> handoff;  // [from * n + to], null on the diagonal
  std::unique_ptr<MacSyncMesh> macs;                  // null with one worker
  struct Wake {
    int fd = -1;                      // eventfd, polled with the ports
    std::atomic<bool> sleeping{false};
  };
  std::vector<std::unique_ptr<Wake>> wakes;
};

class Worker {
 public:
  using PortList = Bridge::PortList;
  Worker(uint32_t id, PortList ports, const EngineConfig& cfg, WorkerShared& shared);
  ~Worker();

  void run(const std::atomic<bool>& stop);
  void call(const std::function<void(const Engine&, PortList&)>& fn);
  void stats_into(BridgeStats& sum) const;  // adds this worker's published snapshot

  std::size_t drain_trace(const std::function<void(const FrameOutcome&)>& fn);
  uint64_t trace_overflows() const { return trace_overflow_.load(std::memory_order_relaxed); }

 private:
  struct RoundResult {
    std::size_t frames = 0;  // received or handed in
    bool full = false;       // some port gave a full burst
  };
  RoundResult round(uint64_t now);
  bool wait_for_work();             // several workers: poll ports, wake-up fd and rings
  void hand_over(uint32_t owner, const RxFrame& r, PortId in, uint64_t ts, const SteerKey& k);
  std::size_t take_handed_in(std::size_t n);
  void transmit(std::vector<FrameOutcome>& out, uint64_t batch_seq);
  void serve_calls();
  void publish_stats();
  void refresh_filters();
  void pick_up_changes();
  void tap_outcomes(const std::vector<FrameOutcome>& out);
  void count_drop(const FrameOutcome& o, DropReason r);

  struct TraceRecord {
    FrameOutcome outcome;
    uint32_t len = 0;
    std::unique_ptr<uint8_t[]> data;
  };
  static constexpr uint32_t kTraceSnap = 2048;
  SpscRing<TraceRecord> trace_ring_{256};
  std::atomic<uint64_t> trace_overflow_{0};
  uint64_t filter_seen_ = 0;
  std::shared_ptr<const PacketFilter> trace_, dump_;  // this worker's copies

  const uint32_t id_;
  WorkerShared& sh_;
  const bool multi_;
  PortList ports_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<MacAnnouncer> announcer_;  // several workers only
  uint64_t generation_ = 0;

  // Per-round scratch, sized at construction.
  std::vector<std::vector<RxFrame>> rx_;
  std::vector<FrameIn> batch_;
  std::vector<const OffloadInfo*> batch_offload_;
  struct LearnNote {
    bool learnable = false;
    MacAddr src;
  };
  std::vector<LearnNote> batch_learn_;  // several workers: what to announce per batch frame
  Decoded steer_scratch_;
  std::vector<FrameOutcome> out_;
  std::vector<std::vector<TxFrame>> tx_;
  std::vector<std::vector<std::size_t>> tx_owner_;  // outcome index of each tx frame
  std::vector<TxStatus> tx_status_;
  std::vector<bool> ring_read_;  // incoming rings read this round (released after tx)
  uint64_t batch_seq_ = 0;
  uint64_t last_round_ns_ = 0;
  uint64_t last_expire_ = 0;
  uint64_t last_publish_ = 0;
  static constexpr uint64_t kPublishEveryNs = 100000000;  // 100 ms

  std::atomic<bool> running_{false};
  std::atomic<bool> call_pending_{false};
  std::mutex call_mu_;
  std::condition_variable call_cv_;
  const std::function<void(const Engine&, PortList&)>* call_fn_ = nullptr;
  bool call_done_ = false;

  // Worker-owned counters, published with the engine's.
  std::vector<std::array<uint64_t, kDropReasonCount>> drops_by_port_;
  WorkerStats ws_;
  EngineCounters extra_;  // drops outside the engine (handoff overflow, failed TX)
  mutable std::mutex stats_mu_;
  BridgeStats stats_;  // this worker's snapshot
};

}  // namespace tapwall
