// PcapPort: the portable libpcap backend (see tapwall/port.hpp for the design).
// libpcap gives no offload metadata, so: RX marks every TCP/UDP frame csum_partial and
// kOffloadCsumUnknown (a sender with checksum offload hands us unfinished checksums), and
// TX recomputes those checksums and segments TCP frames larger than the MTU (GSO/GRO
// super-frames) at MTU - headers.
// Invariants: libpcap may hand its ring slot back to the kernel as soon as its callback
// returns, so received frames are copied into a per-burst arena, valid until rx_done().
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <variant>

#include "tapwall/port.hpp"

namespace tapwall::port_detail {

std::variant<std::unique_ptr<Port>, PortError> open_pcap_port(const PortOptions& opts);

}  // namespace tapwall::port_detail
