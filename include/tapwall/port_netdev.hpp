// Network-device helpers for ports: existence, ifindex, MTU, link up, promiscuity, GRO.
// Purpose: what `ip link` and `ethtool` would do, by ioctl (tapwall never shells out).
// Invariants: names longer than IFNAMSIZ-1 are rejected (errno ENAMETOOLONG semantics:
// the call fails). Functions return false / -1 on failure and leave errno set.
// Thread-safety: each call opens and closes its own control socket; safe from any thread.
// They act in the calling thread's network namespace.
#pragma once

#include <cstdint>
#include <string>

namespace tapwall {

bool interface_exists(const std::string& name);
int get_ifindex(const std::string& name);         // -1 when absent
int get_mtu(const std::string& name);             // -1 on failure
bool set_mtu(const std::string& name, int mtu);
bool set_link_up(const std::string& name);
// Keeps the host's own stack off a bridge port, as enslaving it to br0 did: no ARP replies
// from it (arp_ignore=8) and no IPv6 on it (disable_ipv6=1). Without this, eth0 answers
// ARP for the host port's (br0's) address with its own MAC, and the host is reachable
// around br0. Returns false if either sysctl could not be written.
bool isolate_from_host_stack(const std::string& name);
// Interface flag IFF_PROMISC. Ports prefer PACKET_MR_PROMISC (reference counted, undone
// when the socket closes); this is for devices without a packet socket of ours.
bool set_promisc(const std::string& name, bool on);
// ETHTOOL_SGRO: GRO off makes super-frames rarer on RX; ports never rely on it.
bool set_gro(const std::string& name, bool on);
// True when `name` is a tun/tap device in TAP mode (ETHTOOL_GDRVINFO: driver "tun", bus
// "tap"). Asked by ioctl because /sys/class/net shows the namespace sysfs was mounted in.
bool is_tap_device(const std::string& name);

}  // namespace tapwall
