// FlowKey: one direction of a flow as conntrack keys it: addresses (IPv4-mapped for IPv4),
// ports (ICMP: identifier and type<<8|code; other protocols 0/0), protocol.
// Purpose: the key the engine's express path builds from a frame's bytes and conntrack
// looks up (conntrack's internal CtTuple is this type).
// Thread-safety: plain value.
#pragma once

#include <cstdint>

#include "tapwall/net_types.hpp"

namespace tapwall {

struct FlowKey {
  IpAddr src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

}  // namespace tapwall
