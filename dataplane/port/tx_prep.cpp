// TxPrep (see tx_prep.hpp).
// Invariants: a frame is refused, never truncated; an oversized frame never reaches the
// kernel without GSO metadata (the kernel would refuse it with EMSGSIZE anyway).
// Thread-safety: see header.
#include "tx_prep.hpp"

#include <algorithm>
#include <cstring>

#include "csum_complete.hpp"
#include "gso_segment.hpp"
#include "tapwall/net_types.hpp"
#include "tapwall/wire.hpp"

namespace tapwall::port_detail {

namespace {

// Ethernet header plus up to two VLAN tags: what the MTU does not count.
uint32_t l2_len(std::span<const uint8_t> f) {
  const auto* eth = header<EthHeader>(f, 0);
  if (!eth) return sizeof(EthHeader);
  uint16_t type = eth->type.get();
  uint32_t off = sizeof(EthHeader);
  for (int i = 0; i < 2 && (type == kEthTypeVlan || type == kEthTypeQinQ); ++i) {
    const auto* tag = header<VlanTag>(f, off);
    if (!tag) break;
    type = tag->type.get();
    off += sizeof(VlanTag);
  }
  return off;
}

}  // namespace

TxPrep::TxPrep(TxCaps caps, std::size_t arena_bytes, std::size_t max_pieces)
    : caps_(caps), arena_(arena_bytes), pieces_(max_pieces), seg_lens_(max_pieces) {}

uint8_t* TxPrep::alloc(std::size_t n) {
  if (arena_.size() - arena_used_ < n) return nullptr;
  uint8_t* p = arena_.data() + arena_used_;
  arena_used_ += n;
  return p;
}

TxPrep::Add TxPrep::add_plain(const TxFrame& f, uint32_t index, const VirtioNetHdr& h) {
  if (n_pieces_ == pieces_.size()) return Add::Full;
  pieces_[n_pieces_++] = TxPiece{f.bytes.data(), uint32_t(f.bytes.size()), index, h};
  return Add::Ok;
}

TxPrep::Add TxPrep::add_completed(const TxFrame& f, uint32_t index) {
  if (n_pieces_ == pieces_.size()) return Add::Full;
  uint8_t* copy = alloc(f.bytes.size());
  if (!copy) return Add::Full;
  std::memcpy(copy, f.bytes.data(), f.bytes.size());
  std::span<uint8_t> c(copy, f.bytes.size());
  const OffloadInfo& o = *f.offload;
  bool done = false;
  if (o.needs_csum()) done = complete_partial_csum(c, o.csum_start, o.csum_offset);
  if (!done) done = recompute_l4_csum(c);
  if (done) ++counters_.csum_completed;
  // A frame whose checksum we cannot place (not TCP/UDP) goes out as it came.
  pieces_[n_pieces_++] = TxPiece{copy, uint32_t(c.size()), index, VirtioNetHdr{}};
  return Add::Ok;
}

TxPrep::Add TxPrep::add_segmented(const TxFrame& f, uint32_t index, bool udp, TxStatus& why) {
  L4Loc loc;
  if (!locate_l4(f.bytes, loc) || loc.fragment || loc.proto != (udp ? kProtoUdp : kProtoTcp)) {
    why = TxStatus::MtuExceeded;
    return Add::Refused;
  }
  const uint32_t l34 = l3l4_header_len(f.bytes, loc, udp);
  if (l34 == 0 || l34 >= caps_.mtu) {
    why = TxStatus::MtuExceeded;
    return Add::Refused;
  }
  uint32_t mss = caps_.mtu - l34;
  if (f.offload && f.offload->is_gso() && f.offload->gso_size != 0)
    mss = std::min<uint32_t>(mss, f.offload->gso_size);
  GsoPlan plan;
  if (!plan_segments(f.bytes, udp, mss, plan)) {
    why = TxStatus::MtuExceeded;
    return Add::Refused;
  }
  if (plan.segments > pieces_.size() || plan.out_bytes > arena_.size()) {
    why = TxStatus::TxError;  // e.g. a tiny gso_size: more segments than a burst can hold
    return Add::Refused;
  }
  if (pieces_.size() - n_pieces_ < plan.segments || arena_.size() - arena_used_ < plan.out_bytes)
    return Add::Full;
  uint8_t* out = alloc(plan.out_bytes);
  if (!write_segments(f.bytes, plan, {out, plan.out_bytes}, seg_lens_)) {
    arena_used_ -= plan.out_bytes;
    why = TxStatus::TxError;
    return Add::Refused;
  }
  for (uint32_t k = 0; k < plan.segments; ++k) {
    pieces_[n_pieces_++] = TxPiece{out, seg_lens_[k], index, VirtioNetHdr{}};
    out += seg_lens_[k];
  }
  ++counters_.segmented;
  counters_.segments += plan.segments;
  return Add::Ok;
}

TxPrep::Add TxPrep::add(const TxFrame& f, uint32_t index, TxStatus& why) {
  const OffloadInfo* o = f.offload;
  const bool gso = o && o->is_gso();
  const bool oversized = f.bytes.size() > std::size_t(caps_.mtu) + l2_len(f.bytes);
  if (caps_.vnet) {
    if (gso) return add_plain(f, index, vnet_from_offload(o));
    if (oversized) return add_segmented(f, index, false, why);
    if (o && o->needs_csum()) return add_plain(f, index, vnet_from_offload(o));
    if (o && (o->flags & kOffloadCsumUnknown)) return add_completed(f, index);
    return add_plain(f, index, vnet_from_offload(o));
  }
  if (gso || oversized) {
    const GsoType t = gso ? o->gso_type : GsoType::None;
    if (t == GsoType::TcpV4 || t == GsoType::TcpV6 || (t == GsoType::None && oversized))
      return add_segmented(f, index, false, why);
    if (t == GsoType::UdpL4) return add_segmented(f, index, true, why);
    if (oversized) {  // UFO would need IP fragmentation: not done here
      why = TxStatus::MtuExceeded;
      return Add::Refused;
    }
  }
  if (o && (o->needs_csum() || (o->flags & kOffloadCsumUnknown))) return add_completed(f, index);
  return add_plain(f, index, VirtioNetHdr{});
}

}  // namespace tapwall::port_detail
