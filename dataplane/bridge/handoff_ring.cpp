// HandoffRing; see include/tapwall/handoff_ring.hpp.
// Positions are byte counts that only grow (never wrap in practice: 2^64 bytes); a
// position's place in the buffer is pos % cap_. Space is free when head - tail < cap.
#include "tapwall/handoff_ring.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace tapwall {

namespace {
constexpr std::size_t kMinBytes = 64 * 1024;
}

HandoffRing::HandoffRing(std::size_t bytes)
    : cap_((std::max(bytes, kMinBytes) + 7) & ~std::size_t{7}),
      buf_(new uint8_t[cap_]) {}  // not zeroed: pages are touched only when used

bool HandoffRing::push(const HandoffMeta& meta, std::span<const uint8_t> frame) {
  const std::size_t need = record_size(frame.size());
  const std::size_t off = write_ % cap_;
  const std::size_t to_end = cap_ - off;
  // A record never crosses the end: skip the rest of the buffer first (marker, or nothing
  // when not even a header fits: the consumer skips such a tail by the same rule).
  const std::size_t skip = need <= to_end ? 0 : to_end;
  if (need + skip > cap_) return false;  // larger than the ring could ever hold
  if (write_ + skip + need - tail_cache_ > cap_) {
    tail_cache_ = tail_.load(std::memory_order_acquire);
    if (write_ + skip + need - tail_cache_ > cap_) return false;
  }
  if (skip) {
    if (to_end >= sizeof(Header)) {
      Header h{};
      h.len = kWrap;
      std::memcpy(buf_.get() + off, &h, sizeof h);
    }
    write_ += skip;
  }
  uint8_t* p = buf_.get() + write_ % cap_;
  Header h{};
  h.len = uint32_t(frame.size());
  h.meta = meta;
  std::memcpy(p, &h, sizeof h);
  if (!frame.empty()) std::memcpy(p + sizeof(Header), frame.data(), frame.size());
  write_ += need;
  return true;
}

bool HandoffRing::publish() {
  if (write_ == published_) return false;
  published_ = write_;
  head_.store(write_, std::memory_order_release);
  return true;
}

bool HandoffRing::next(HandoffView& out) {
  const std::size_t head = head_.load(std::memory_order_acquire);
  while (read_ != head) {
    const std::size_t off = read_ % cap_;
    const std::size_t to_end = cap_ - off;
    if (to_end < sizeof(Header)) {  // a tail too short for a header is always skipped
      read_ += to_end;
      continue;
    }
    const auto* h = std::launder(reinterpret_cast<const Header*>(buf_.get() + off));
    if (h->len == kWrap) {
      read_ += to_end;
      continue;
    }
    out.meta = &h->meta;
    out.bytes = {buf_.get() + off + sizeof(Header), h->len};
    read_ += record_size(h->len);
    return true;
  }
  return false;
}

void HandoffRing::release() { tail_.store(read_, std::memory_order_release); }

}  // namespace tapwall
