// Tap devices: create/open taps through /dev/net/tun, persistent taps for VMs, and the
// host port (a tap that tapwall owns, through which the host's IP stack joins the bridge).
// Purpose: replaces `tunctl -t tap0` and the kernel bridge's br0 interface.
// Invariants: a tap opened here is IFF_TAP | IFF_NO_PI; with vnet_hdr it is also
// IFF_VNET_HDR with a 10-byte header and TUNSETOFFLOAD(csum, TSO4/6, ECN), so the host
// stack may hand tapwall super-frames with partial checksums and tapwall may write them.
// Thread-safety: free functions, safe from any thread; they act in the calling thread's
// network namespace (a tun fd stays bound to the namespace it was created in).
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "tapwall/port.hpp"

namespace tapwall {

struct TapFd {
  int fd = -1;
  std::string name;  // the kernel's name (chosen by the kernel when asked for "")
};

// Creates the tap (or attaches to an existing one the caller may open) and returns its fd,
// non-blocking, close-on-exec. multi_queue: IFF_MULTI_QUEUE — every open of the same name
// is one more queue (one per data-path worker); the kernel spreads what the host sends by
// its symmetric flow hash.
std::variant<TapFd, PortError> open_tap(const std::string& name, bool vnet_hdr,
                                        bool multi_queue = false);

// `tunctl -t name`: create a persistent tap, then close it; a hypervisor attaches later.
// Succeeds (doing nothing) when it already exists as a tap.
std::variant<std::monostate, PortError> make_persistent_tap(const std::string& name);
// Undo make_persistent_tap: TUNSETPERSIST 0 (the device disappears when unused).
std::variant<std::monostate, PortError> remove_persistent_tap(const std::string& name);

// The host port: open (creating if needed) tap `name`, bring it up, wrap it as a Port.
std::variant<std::unique_ptr<Port>, PortError> open_tap_port(const PortOptions& opts);

}  // namespace tapwall
