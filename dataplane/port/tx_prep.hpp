// TxPrep: turns the frames of one tx_burst into "pieces" ready for the wire on a given
// egress (vnet headers or not, MTU), segmenting and completing checksums where needed.
// Purpose: every backend (AfPacket, Pcap, Tap) shares one decision per frame:
//   egress takes vnet headers: GSO/NEEDS_CSUM metadata goes to the kernel as is; only an
//     oversized frame WITHOUT GSO metadata (e.g. from libpcap) is segmented here.
//   egress does not: TCP (and UDP_L4) super-frames are segmented here at
//     min(gso_size, MTU - L3/L4 headers); NEEDS_CSUM and CsumUnknown frames are copied and
//     their checksum completed; anything else larger than MTU + L2 header is refused.
// Invariants: pieces point either at the caller's frame bytes or into the arena; they are
// valid until clear(). A frame's pieces are added all or nothing. No allocation after
// construction.
// Thread-safety: one TxPrep per Port, used by the port's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tapwall/port.hpp"
#include "virtio_hdr.hpp"

namespace tapwall::port_detail {

struct TxPiece {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  uint32_t frame = 0;  // index of the source frame in the burst
  VirtioNetHdr vnet{};
};

struct TxCaps {
  bool vnet = false;
  uint32_t mtu = 1500;
};

struct TxPrepCounters {
  uint64_t segmented = 0, segments = 0, csum_completed = 0;
};

class TxPrep {
 public:
  enum class Add : uint8_t {
    Ok,       // pieces appended
    Full,     // no room: send the pieces, clear(), and add the frame again
    Refused,  // the frame cannot be sent (why: the TxStatus out-parameter)
  };

  TxPrep(TxCaps caps, std::size_t arena_bytes = kDefaultArena, std::size_t max_pieces = kDefaultPieces);

  Add add(const TxFrame& f, uint32_t index, TxStatus& why);
  std::span<TxPiece> pieces() { return {pieces_.data(), n_pieces_}; }
  bool empty() const { return n_pieces_ == 0; }
  void clear() {
    n_pieces_ = 0;
    arena_used_ = 0;
  }
  void set_mtu(uint32_t mtu) { caps_.mtu = mtu; }
  const TxCaps& caps() const { return caps_; }
  const TxPrepCounters& counters() const { return counters_; }

  static constexpr std::size_t kDefaultArena = 512 * 1024;
  static constexpr std::size_t kDefaultPieces = 256;

 private:
  Add add_segmented(const TxFrame& f, uint32_t index, bool udp, TxStatus& why);
  Add add_completed(const TxFrame& f, uint32_t index);
  Add add_plain(const TxFrame& f, uint32_t index, const VirtioNetHdr& h);
  uint8_t* alloc(std::size_t n);

  TxCaps caps_;
  std::vector<uint8_t> arena_;
  std::size_t arena_used_ = 0;
  std::vector<TxPiece> pieces_;
  std::size_t n_pieces_ = 0;
  std::vector<uint32_t> seg_lens_;
  TxPrepCounters counters_;
};

}  // namespace tapwall::port_detail
