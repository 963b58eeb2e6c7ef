// Helpers shared by the port backends: the clock, errno -> PortError, an owning fd, the
// offload info a backend derives when the kernel gives it no virtio header, and run_tx(),
// the tx_burst loop around TxPrep.
// Invariants: run_tx() gives every frame exactly one TxStatus and counts it once in stats.
// Thread-safety: no shared state.
#pragma once

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "l4_locate.hpp"
#include "tapwall/port.hpp"
#include "tx_prep.hpp"

namespace tapwall::port_detail {

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

PortError errno_error(int err, const std::string& what);

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The checksum offload a frame that arrived without a virtio header needs: NEEDS_CSUM with
// csum_start/offset of its TCP/UDP checksum when `partial` (TP_STATUS_CSUMNOTREADY: the
// field holds the pseudo-header sum), kOffloadCsumUnknown when `unknown` (libpcap).
// Nothing for other protocols (their checksums are never left to offload here).
inline OffloadInfo derive_offload(std::span<const uint8_t> frame, bool partial, bool unknown) {
  OffloadInfo o;
  if (!partial && !unknown) return o;
  L4Loc loc;
  if (!locate_l4(frame, loc) || loc.fragment) return o;
  uint16_t at;
  if (loc.proto == kProtoTcp) {
    at = 16;
  } else if (loc.proto == kProtoUdp) {
    at = 6;
  } else {
    return o;
  }
  if (loc.ip_end - loc.l4_off < uint32_t(at) + 2u || loc.l4_off > 0xffff) return o;
  if (partial) {
    o.flags = kOffloadNeedsCsum;
    o.csum_start = uint16_t(loc.l4_off);
    o.csum_offset = at;
  } else {
    o.flags = kOffloadCsumUnknown;
  }
  return o;
}

// The body of every backend's tx_burst. send(pieces, status) transmits the pieces and sets
// status[piece.frame] = TxError for each piece that failed.
template <class SendFn>
std::size_t run_tx(TxPrep& prep, std::span<const TxFrame> frames, std::span<TxStatus> status,
                   SendFn&& send, PortStats& st) {
  constexpr std::size_t kChunk = 256;
  if (status.size() < frames.size()) {  // no (or short) status array: use a local one
    std::array<TxStatus, kChunk> local;
    std::size_t sent = 0;
    for (std::size_t i = 0; i < frames.size(); i += kChunk) {
      const std::size_t n = std::min(kChunk, frames.size() - i);
      sent += run_tx(prep, frames.subspan(i, n), std::span<TxStatus>(local.data(), n), send, st);
    }
    return sent;
  }
  for (std::size_t i = 0; i < frames.size(); ++i) status[i] = TxStatus::Sent;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    TxStatus why = TxStatus::TxError;
    auto r = prep.add(frames[i], uint32_t(i), why);
    if (r == TxPrep::Add::Full) {
      send(prep.pieces(), status);
      prep.clear();
      r = prep.add(frames[i], uint32_t(i), why);
      if (r == TxPrep::Add::Full) {
        why = TxStatus::TxError;
        r = TxPrep::Add::Refused;
      }
    }
    if (r == TxPrep::Add::Refused) status[i] = why;
  }
  if (!prep.empty()) {
    send(prep.pieces(), status);
    prep.clear();
  }
  std::size_t sent = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    switch (status[i]) {
      case TxStatus::Sent:
        ++sent;
        ++st.tx_frames;
        st.tx_bytes += frames[i].bytes.size();
        break;
      case TxStatus::MtuExceeded:
        ++st.tx_mtu_refused;
        ++st.tx_drops;
        break;
      case TxStatus::TxError:
        ++st.tx_errors;
        ++st.tx_drops;
        break;
    }
  }
  return sent;
}

inline void add_prep_counters(PortStats& s, const TxPrep& prep) {
  s.tx_segmented = prep.counters().segmented;
  s.tx_segments = prep.counters().segments;
  s.csum_completed = prep.counters().csum_completed;
}

}  // namespace tapwall::port_detail
