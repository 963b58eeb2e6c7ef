// HandoffRing: frames one data-path worker received but does not own, on their way to the
// worker that owns them (owner_steering.hpp), with the metadata the owner needs to judge
// and transmit them as if it had received them itself.
// Purpose: a bounded single-producer single-consumer byte ring of variable-size records
// (a 64 KiB GSO super-frame and a 60-byte ACK both cost what they weigh), with no lock and
// no allocation per frame. A full ring refuses the frame at once; the producer counts it as
// a drop (DropReason::WorkerHandoffFull) instead of waiting.
// Invariants: records are 8-byte aligned and contiguous (a record that would cross the end
// of the buffer is preceded by a wrap marker); the producer writes only head_, the consumer
// only tail_; the producer makes its pushes visible in publish(), the consumer frees what
// it read in release(), so bytes handed out by next() stay untouched until release().
// Thread-safety: exactly one producer thread (push/publish) and one consumer thread
// (next/release/empty).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "tapwall/net_types.hpp"
#include "tapwall/port.hpp"

namespace tapwall {

struct HandoffMeta {
  uint64_t ts_ns = 0;
  OffloadInfo offload;
  PortId in = kNoPort;
  bool csum_partial = false;
  bool learnable = false;  // the receiver's steering key (owner_steering.hpp)
};

struct HandoffView {
  const HandoffMeta* meta = nullptr;  // valid until release()
  std::span<const uint8_t> bytes;     // valid until release()
};

class HandoffRing {
 public:
  explicit HandoffRing(std::size_t bytes);
  HandoffRing(const HandoffRing&) = delete;
  HandoffRing& operator=(const HandoffRing&) = delete;

  // Producer: copies the frame in; false when it does not fit now (nothing is written).
  bool push(const HandoffMeta& meta, std::span<const uint8_t> frame);
  // Producer: makes every push so far visible to the consumer. True when it published any.
  bool publish();

  // Consumer: the next record, or false when none is published. Advances a private cursor;
  // the records stay owned by the consumer until release().
  bool next(HandoffView& out);
  // Consumer: gives every record returned by next() back to the producer.
  void release();
  // Consumer: no published record left to read.
  bool empty() const { return read_ == head_.load(std::memory_order_acquire); }

  std::size_t capacity() const { return cap_; }

 private:
  struct Header {
    uint32_t len;  // frame bytes; kWrap: the rest of the buffer is skipped
    uint32_t pad;
    HandoffMeta meta;
  };
  static constexpr uint32_t kWrap = 0xffffffffu;
  static std::size_t record_size(std::size_t len) {
    return (sizeof(Header) + len + 7) & ~std::size_t{7};
  }

  const std::size_t cap_;
  std::unique_ptr<uint8_t[]> buf_;
  // Producer side.
  alignas(64) std::size_t write_ = 0;   // where the next push goes (unpublished)
  std::size_t published_ = 0;           // last value stored to head_
  std::size_t tail_cache_ = 0;          // producer's last view of tail_
  alignas(64) std::atomic<std::size_t> head_{0};
  // Consumer side.
  alignas(64) std::size_t read_ = 0;    // next record to read (not yet released)
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace tapwall
