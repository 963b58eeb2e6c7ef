// TapPort: a Port over a tun/tap fd that tapwall holds (the host port, DESIGN.md §3), and
// the /dev/net/tun plumbing behind tapwall/port_tap.hpp.
// Reading the tun fd gives the frames the host stack sends into the bridge; writing it
// delivers frames to the host stack. With IFF_VNET_HDR every read/write carries a 10-byte
// virtio_net_hdr, so the host's TSO super-frames and partial checksums pass through and
// tapwall can hand it super-frames from a VM.
// Invariants: the fd is non-blocking; one read() is one frame; frames are read into a
// per-burst arena, valid until rx_done().
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <variant>

#include "tapwall/port.hpp"
#include "tapwall/port_tap.hpp"

namespace tapwall::port_detail {

// Wrap an open tap fd (ownership taken) as a Port.
std::unique_ptr<Port> make_tap_port(TapFd tap, bool vnet_hdr);

}  // namespace tapwall::port_detail
