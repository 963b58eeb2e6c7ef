// SpscRing: a bounded single-producer single-consumer queue of fixed-size slots.
// Purpose: hand work from a data-path worker to a helper thread (the drop recorder) without
// a lock or an allocation per item; when the ring is full the producer is told at once and
// counts the loss instead of waiting.
// Invariants: capacity is a power of two; the producer only writes head_, the consumer only
// tail_; a slot is owned by the producer between claim() and publish(), by the consumer
// between front() and pop().
// Thread-safety: exactly one producer thread and one consumer thread.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>

namespace tapwall {

template <class T>
class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity)
      : cap_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        mask_(cap_ - 1),
        slots_(std::make_unique<T[]>(cap_)) {}

  // Producer: a free slot to fill, or null when full. Call publish() after filling it.
  T* claim() {
    std::size_t h = head_.load(std::memory_order_relaxed);
    if (h - tail_cache_ >= cap_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h - tail_cache_ >= cap_) return nullptr;
    }
    return &slots_[h & mask_];
  }
  void publish() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: the oldest published slot, or null when empty. Call pop() when done with it.
  T* front() {
    std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t == head_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[t & mask_];
  }
  void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  std::size_t capacity() const { return cap_; }

 private:
  const std::size_t cap_, mask_;
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<std::size_t> head_{0};
  std::size_t tail_cache_ = 0;  // producer's last view of tail_
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace tapwall
