// AfPacketPort: the fast backend. One AF_PACKET SOCK_RAW socket, bound to ETH_P_ALL on the
// interface, receives through a TPACKET_V2 mmap ring (frames larger than a slot: whole
// from the socket queue) and sends with sendmmsg (PACKET_QDISC_BYPASS); PACKET_VNET_HDR
// (set before the ring, as the kernel requires) carries offload metadata both ways. See
// tapwall/port.hpp for the design.
// Invariants: slots are handed back to the kernel only in rx_done(), in ring order, after
// every frame of theirs was returned; frames whose VLAN tag the kernel moved into the ring
// header are rebuilt in the per-burst scratch buffer (tag re-inserted, offload offsets +4).
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <variant>

#include "tapwall/port.hpp"

namespace tapwall::port_detail {

std::variant<std::unique_ptr<Port>, PortError> open_af_packet_port(const PortOptions& opts);

}  // namespace tapwall::port_detail
