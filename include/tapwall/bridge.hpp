// Bridge: the live data path. One or more worker threads (dataplane/bridge/worker.hpp) poll
// their ports, read bursts, run them through their own Engine and transmit each frame to
// the ports the engine chose, carrying its offload metadata; dropped frames go to the
// DropRecorder.
// Purpose: what br0 did in the kernel, in user space (DESIGN.md §3).
// Several workers (Bridge with one PortList per worker): each has its own AF_PACKET socket
// per interface in a PACKET_FANOUT group, its own Engine (conntrack, defragmenter, verdict
// cache) and MAC table. Owner steering (owner_steering.hpp) hands every IP frame to the
// worker owning its address pair through SPSC rings (handoff_ring.hpp), so the state of a
// flow, its RELATED errors and its fragments lives in one engine; MAC learning is shared
// through announcements (mac_sync.hpp). One worker behaves exactly as before.
// Invariants: no lock, allocation or blocking call per frame on a worker; received
// frames stay untouched until every copy was transmitted (rx_done() after tx); a new
// policy is picked up between batches (PolicySlot) by every worker, conntrack state is kept
// across it.
// Thread-safety: run() on the calling thread (worker 0; it starts and joins the others);
// PolicySlot::publish, call(), sync(), stats(), the trace and dump calls from one control
// thread.
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
#include "tapwall/mac_sync.hpp"
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
  // Under dense traffic (frames arriving faster than one per 10 us), after a round that
  // emptied every ring without filling a burst, wait this long for frames to gather before
  // reading again (0: never; go straight back to poll()). The AF_PACKET ring wakes poll()
  // per frame, so without it a flood the worker keeps up with costs a wake-up per frame or
  // two (drop flood, bridge CPU per frame: ~3.6 us without, 0.9 us with 50 us, 0.7 us with
  // 100 us). Sparse traffic (a ping and its reply) is never held back.
  uint32_t rx_coalesce_ns = 100000;
  uint64_t expire_every_ns = 1000000000ull;
  std::size_t handoff_ring_bytes = 0;  // per (from, to) worker pair; 0: a default by count
};

// One worker's own counters (the rest of BridgeStats sums over workers).
struct WorkerStats {
  uint64_t frames = 0;        // frames its engine judged (received, or handed in)
  uint64_t handed_out = 0;    // frames it received and handed to their owner
  uint64_t handed_in = 0;     // frames other workers handed to it
  uint64_t handoff_full = 0;  // frames it could not hand over (DropReason::WorkerHandoffFull)
  MacSyncStats mac;
  // Its conntrack table: entries in use (nf_conntrack_count), its size, and its counters.
  uint64_t ct_entries = 0, ct_capacity = 0;
  CtStats ct;
};

struct BridgeStats {
  EngineCounters engine;  // summed over workers (handoff drops included)
  // Frames that came in on each port and were dropped (as a whole or toward some port),
  // by the reason of their first drop.
  std::vector<std::array<uint64_t, kDropReasonCount>> drops_by_port;
  std::vector<PortStats> ports;     // summed over the workers' sockets of each port
  uint64_t policy_generation = 0;   // the oldest generation a worker still judges by
  std::vector<WorkerStats> workers;
};

class Worker;
struct WorkerShared;

class Bridge {
 public:
  using PortList = std::vector<std::unique_ptr<Port>>;
  static constexpr uint32_t kMaxWorkers = 16;
  // One worker.
  Bridge(PortList ports, EngineConfig cfg, PolicySlot& slot, DropRecorder* drops,
         BridgeOptions opts = {});
  // One worker per PortList; every list names the same interfaces in the same order (for
  // more than one, AfPacket sockets of one fanout group per interface). A recorder must
  // have been made with config.producers >= the number of workers.
  Bridge(std::vector<PortList> per_worker, EngineConfig cfg, PolicySlot& slot,
         DropRecorder* drops, BridgeOptions opts = {});
  ~Bridge();

  std::size_t workers() const { return workers_.size(); }
  // The workers' loops (worker 0 on the calling thread); returns when `stop` becomes true
  // and every worker has stopped.
  void run(const std::atomic<bool>& stop);
  // Runs fn on each worker in turn, between its batches, and waits for it (control queries
  // such as `show macs`). A worker that is not running runs fn on this thread.
  void call(const std::function<void(const Engine&, PortList&)>& fn);
  void call_each(const std::function<void(std::size_t worker, const Engine&, PortList&)>& fn);
  // Returns once every worker has picked up every policy and filter published before the
  // call: what a control request changed is in force for the next frame.
  void sync();
  BridgeStats stats() const;  // a snapshot, refreshed by the workers every poll round

  // Trace: copies of the outcomes of frames matching `filter` go to a ring per worker the
  // control thread drains. One trace at a time: returns an error when one is running.
  std::string start_trace(std::shared_ptr<const PacketFilter> filter);
  void stop_trace();
  // Control thread: hands each queued traced outcome (bytes valid during the call) to fn.
  std::size_t drain_trace(const std::function<void(const FrameOutcome&)>& fn);
  uint64_t trace_overflows() const;
  // Dump: also record accepted frames matching `filter` with the drop recorder (null: stop).
  // Returns an error when there is no recorder.
  std::string set_dump(std::shared_ptr<const PacketFilter> filter);

 private:
  std::unique_ptr<WorkerShared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace tapwall
