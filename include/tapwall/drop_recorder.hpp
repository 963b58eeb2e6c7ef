// DropRecorder: writes the frames a running bridge drops into rotating pcapng files whose
// comments say why (the format of `tapwall replay --drops`), off the data path.
// Purpose: every drop can be explained after the fact, and a flood of drops can neither fill
// the disk nor slow forwarding.
// Invariants: submit() never blocks, allocates or does I/O: it rate-limits per reason
// (token bucket on the frame clock), copies the frame into a fixed-size slot of a bounded
// SPSC ring and returns; what it skips is counted per reason (rate-limited) or as
// queue_full. The writer thread is the only one that touches files. Files are named
// drops-<seq>.pcapng in the directory, rotate at max_file_bytes, and at most max_files are
// kept (the oldest is deleted): disk use stays under max_file_bytes * max_files plus one
// frame.
// Producers: each data-path worker submits through its own ring and token buckets
// (config.producers), so no lock is taken per frame; the per-reason rate and burst are
// split evenly between producers, so the configured rate holds for the whole bridge.
// Thread-safety: submit()/note_policy() for producer i from one data-path thread each;
// stats() from any thread; start()/stop() from the owning thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tapwall/drop_reason.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/policy.hpp"
#include "tapwall/spsc_ring.hpp"

namespace tapwall {

struct DropRecorderConfig {
  std::string dir;
  uint64_t max_file_bytes = 64ull << 20;
  uint32_t max_files = 8;
  uint32_t rate_per_reason = 1000;   // frames/s recorded per reason (steady state)
  uint32_t burst_per_reason = 2000;  // bucket depth
  uint32_t queue_slots = 1024;
  uint32_t snap_bytes = 9216;        // longer frames are recorded cut to this
  uint32_t producers = 1;            // data-path threads submitting (one ring each)
};

struct DropRecorderStats {
  uint64_t recorded = 0, queue_full = 0, files_opened = 0, files_deleted = 0, write_errors = 0;
  uint64_t bytes_on_disk = 0;
  std::array<uint64_t, kDropReasonCount> rate_limited{};
};

// Formats the comment of one recorded drop; given the policy the frame was judged by.
using DropCommentFn = std::string (*)(const FrameOutcome&, const std::vector<PortDesc>&,
                                      const CompiledPolicy&);

class DropRecorder {
 public:
  DropRecorder(DropRecorderConfig cfg, std::vector<PortDesc> ports, DropCommentFn comment);
  ~DropRecorder();  // stops and flushes
  DropRecorder(const DropRecorder&) = delete;
  DropRecorder& operator=(const DropRecorder&) = delete;

  // Creates the directory if needed, starts the writer thread. Returns "" or an error.
  std::string start();
  void stop();  // drains the queue, closes the file

  // Data path: the policy that later submissions were judged by (kept alive for comments).
  void note_policy(std::shared_ptr<const CompiledPolicy> policy, uint32_t producer = 0);
  // Data path: record one frame that was dropped as a whole or toward some port.
  void submit(const FrameOutcome& o, uint32_t producer = 0);

  DropRecorderStats stats() const;
  uint32_t producers() const { return uint32_t(producers_.size()); }

 private:
  struct Slot {
    FrameOutcome outcome;  // bytes span re-pointed at data on the writer side
    uint64_t generation = 0;
    uint32_t len = 0;
    std::unique_ptr<uint8_t[]> data;
  };
  struct Bucket {
    double tokens = 0;
    uint64_t last_ns = 0;
    bool primed = false;
  };
  // One data-path thread's side: its ring, its buckets, the policy it judges by.
  struct Producer {
    explicit Producer(std::size_t slots) : ring(slots) {}
    SpscRing<Slot> ring;
    std::array<Bucket, kDropReasonCount> buckets{};
    uint64_t generation = 0;             // producer thread
    std::atomic<uint64_t> noted{0};      // generation, for the writer's policy clean-up
    uint64_t done_below = 0;             // writer: no slot of a generation below this is left
  };
  void writer_loop();
  bool write_one(Slot& s);
  bool open_next_file();
  void forget_old_policies();
  DropReason reason_of(const FrameOutcome& o) const;

  DropRecorderConfig cfg_;
  std::vector<PortDesc> ports_;
  DropCommentFn comment_;
  std::vector<std::unique_ptr<Producer>> producers_;
  double rate_ = 0, burst_ = 0;  // per producer

  mutable std::mutex mu_;  // guards policies_ and stats_ (writer side and readers)
  std::map<uint64_t, std::shared_ptr<const CompiledPolicy>> policies_;
  DropRecorderStats stats_;
  std::atomic<uint64_t> queue_full_{0};
  std::array<std::atomic<uint64_t>, kDropReasonCount> rate_limited_{};

  std::atomic<bool> running_{false};
  std::thread writer_;
  struct File;
  std::unique_ptr<File> file_;
  uint64_t next_seq_ = 0;
  std::vector<std::string> kept_files_;
};

}  // namespace tapwall
