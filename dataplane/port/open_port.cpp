// open_port(): the factory that picks a backend from PortOptions (see tapwall/port.hpp).
// Role Host is always a tap that tapwall creates; role Vm may first create a missing
// persistent tap (what `tunctl -t tap0` did), to which the hypervisor attaches later.
// Thread-safety: acts in the calling thread's network namespace.
#include "af_packet_port.hpp"
#include "pcap_port.hpp"
#include "tapwall/port.hpp"
#include "tapwall/port_netdev.hpp"
#include "tapwall/port_tap.hpp"

namespace tapwall {

std::variant<std::unique_ptr<Port>, PortError> open_port(const PortOptions& opts) {
  if (opts.name.empty()) return PortError{PortError::NoSuchInterface, "empty interface name"};
  if (opts.role == PortRole::Host || opts.backend == PortBackend::Tap) return open_tap_port(opts);
  if (opts.role == PortRole::Vm && opts.create_missing_tap && !interface_exists(opts.name)) {
    auto r = make_persistent_tap(opts.name);
    if (auto* e = std::get_if<PortError>(&r)) return *e;
    // A tap without a hypervisor attached has no carrier; up it anyway so it is ready.
    (void)set_link_up(opts.name);
  }
  if (opts.backend == PortBackend::AfPacket) return port_detail::open_af_packet_port(opts);
  return port_detail::open_pcap_port(opts);
}

}  // namespace tapwall
