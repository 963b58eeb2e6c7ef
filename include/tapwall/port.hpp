// Port: live packet I/O for one bridge port (uplink, VM tap, or tapwall's own host tap).
//
// Purpose: the engine reads batches of frames from ports and writes batches to them; this
// is the one abstraction over the backends (DESIGN.md §3):
//  - AfPacket: one SOCK_RAW AF_PACKET socket per port, bound to ETH_P_ALL on the
//    interface's ifindex. The SAME socket receives (TPACKET_V2 mmap ring, a slot per
//    frame, pollable; frames larger than a slot read whole from the socket queue) and sends (sendmmsg, batched, PACKET_QDISC_BYPASS). One socket is enough:
//    the kernel never delivers a socket's own transmissions back to it, and
//    PACKET_IGNORE_OUTGOING (Linux >= 4.20; older kernels: frames with sll_pkttype
//    PACKET_OUTGOING are skipped) keeps every other outgoing frame out of the ring too — on
//    a bridge port, anything leaving the interface is either ours or the host's and must
//    never be switched again (it would loop and re-learn MACs on the wrong port).
//    Note that with PACKET_QDISC_BYPASS our transmissions skip the qdisc and the taps
//    (tcpdump on the port does not see them).
//  - Pcap: libpcap (portable default): immediate mode, promiscuous, snaplen 262144,
//    non-blocking, direction IN (same reason as above); TX by pcap_inject.
//  - Tap (role Host): a tap device tapwall creates and owns (may be called br0); the host
//    stack reaches the bridge through it. Reads/writes the tun fd directly.
//
// Offload metadata (virtio_net_hdr semantics, DESIGN.md §4/§5). A frame's OffloadInfo
// travels from rx_burst() with the frame to tx_burst() (TxFrame.offload):
//  - RX with vnet headers (AfPacket with PACKET_VNET_HDR, Tap with IFF_VNET_HDR): the 10-byte
//    virtio_net_hdr the kernel puts before each frame is parsed into OffloadInfo; GSO
//    super-frames (larger than the MTU) and partial checksums arrive as such.
//  - RX without vnet headers: AfPacket derives NEEDS_CSUM (csum_start/offset from the
//    frame's own headers) from TP_STATUS_CSUMNOTREADY; libpcap tells nothing, so Pcap marks
//    every TCP/UDP frame kOffloadCsumUnknown and csum_partial (the engine then never calls
//    it INVALID for its checksum) and the egress recomputes its checksum.
//  - TX to a port that takes vnet headers: the header is prepended and the kernel does
//    segmentation/checksumming (or passes it to a VM intact). TX to a port that does not:
//    TCP super-frames are segmented in user space (gso_segment), UDP_L4 super-frames too,
//    and checksums are completed (csum_complete), so the peer always gets valid, MTU-sized
//    frames. A frame larger than MTU + L2 header that cannot be segmented is refused with
//    TxStatus::MtuExceeded (the caller drops it with DropReason::MtuExceeded).
//
// Timestamps: RxFrame.ts_ns is CLOCK_MONOTONIC in ns, read once per rx_burst (all frames of
// a burst share it). Ring and libpcap timestamps are wall-clock (CLOCK_REALTIME) and can
// step, which would corrupt conntrack and MAC ageing.
//
// Invariants: rx_burst() never blocks; frames it returns stay valid (and their memory
// untouched) until rx_done(), which must be called before the next rx_burst(). tx_burst()
// never blocks; every frame is either accepted or counted as a tx drop with a status.
// Thread-safety: a Port is used by one thread at a time (one worker); stats() only from
// that thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>

#include "tapwall/net_types.hpp"

namespace tapwall {

// virtio_net_hdr.gso_type values (without the ECN bit, which is OffloadInfo::gso_ecn).
enum class GsoType : uint8_t { None = 0, TcpV4 = 1, Udp = 3, TcpV6 = 4, UdpL4 = 5 };

// OffloadInfo.flags bits. NeedsCsum/DataValid are virtio's VIRTIO_NET_HDR_F_*;
// CsumUnknown is tapwall's own: "the backend could not tell whether the L4 checksum is
// complete" (libpcap) — the egress recomputes it.
inline constexpr uint8_t kOffloadNeedsCsum = 0x01;
inline constexpr uint8_t kOffloadDataValid = 0x02;
inline constexpr uint8_t kOffloadCsumUnknown = 0x80;

// Mirrors virtio_net_hdr, offsets relative to the first byte of the frame as it appears in
// RxFrame.bytes (after VLAN tag re-insertion).
struct OffloadInfo {
  uint8_t flags = 0;
  GsoType gso_type = GsoType::None;
  bool gso_ecn = false;
  uint16_t hdr_len = 0;      // length of the headers (a hint, as in virtio)
  uint16_t gso_size = 0;     // payload bytes per segment
  uint16_t csum_start = 0;   // where the checksummed range starts
  uint16_t csum_offset = 0;  // where the checksum field is, from csum_start
  bool needs_csum() const { return flags & kOffloadNeedsCsum; }
  bool is_gso() const { return gso_type != GsoType::None; }
  bool any() const { return flags != 0 || is_gso(); }
};

struct RxFrame {
  std::span<const uint8_t> bytes;
  uint64_t ts_ns = 0;         // CLOCK_MONOTONIC ns (see above)
  bool csum_partial = false;  // L4 checksum may be unfinished: never INVALID for it
  OffloadInfo offload;
};

struct TxFrame {
  std::span<const uint8_t> bytes;
  const OffloadInfo* offload = nullptr;  // null: a finished frame
};

enum class TxStatus : uint8_t {
  Sent,         // accepted by the kernel (all of its segments)
  MtuExceeded,  // larger than MTU + L2 header and not segmentable: DropReason::MtuExceeded
  TxError,      // the kernel refused it (or one of its segments): DropReason::TxError
};

struct PortStats {
  uint64_t rx_frames = 0, rx_bytes = 0;
  uint64_t tx_frames = 0, tx_bytes = 0;  // frames handed to tx_burst and accepted
  uint64_t rx_ring_drops = 0;    // kernel ring/buffer drops (PACKET_STATISTICS, pcap_stats)
  uint64_t rx_truncated = 0;     // frames longer than the ring slot: skipped
  uint64_t tx_drops = 0;         // frames not accepted (mtu_refused + errors)
  uint64_t tx_errors = 0;        // send failures (frames)
  uint64_t tx_mtu_refused = 0;   // frames refused as too large
  uint64_t tx_segmented = 0;     // super-frames split in user space
  uint64_t tx_segments = 0;      // segments those produced
  uint64_t csum_completed = 0;   // frames whose L4 checksum was filled in user space
};

enum class PortBackend : uint8_t { Pcap, AfPacket, Tap };

struct PortOptions {
  std::string name;
  PortBackend backend = PortBackend::Pcap;
  PortRole role = PortRole::Uplink;  // Host: always a Tap that tapwall creates
  std::size_t ring_bytes = 0;        // 0: backend default (AfPacket 4 MiB, Pcap 32 MiB)
  bool vnet_hdr = true;              // AfPacket/Tap: carry offload metadata
  bool promisc = true;
  bool create_missing_tap = false;   // role Vm: make a persistent tap if `name` is absent
  bool disable_gro = false;          // best effort (ETHTOOL_SGRO off); nothing relies on it
  // AfPacket: join a PACKET_FANOUT group (PACKET_FANOUT_HASH) so that several sockets on
  // one interface (one per data-path worker) share its frames. kNoFanout: none;
  // kNewFanout: a new group with a kernel-chosen unique id (Port::fanout_group() tells it);
  // otherwise the id of a group made that way on the same interface.
  int fanout_group = kNoFanout;
  // Tap (role Host): open one more queue of a multi-queue tap (one per data-path worker).
  bool tap_multi_queue = false;
  static constexpr int kNoFanout = -1;
  static constexpr int kNewFanout = -2;
};

struct PortError {
  enum Kind { NoSuchInterface, Permission, Other };
  Kind kind = Other;
  std::string message;
};

class Port {
 public:
  virtual ~Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  virtual const std::string& name() const = 0;
  virtual int ifindex() const = 0;
  virtual int fd() const = 0;  // poll for POLLIN; rx_burst may still return 0
  virtual uint32_t mtu() const = 0;
  virtual PortBackend backend() const = 0;
  // True when tx passes offload metadata to the kernel (no user-space segmentation).
  virtual bool tx_offload() const = 0;
  // The PACKET_FANOUT group id this port's socket is a member of, or -1.
  virtual int fanout_group() const { return -1; }

  virtual std::size_t rx_burst(std::span<RxFrame> out) = 0;
  virtual void rx_done() = 0;

  // Sends frames in order; returns how many were accepted. When `status` is not empty it
  // must be at least frames.size() long and receives each frame's fate.
  std::size_t tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status = {}) {
    return do_tx_burst(frames, status);
  }

  virtual PortStats stats() = 0;  // not const: reading PACKET_STATISTICS resets the kernel's

 protected:
  Port() = default;
  virtual std::size_t do_tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status) = 0;
};

std::variant<std::unique_ptr<Port>, PortError> open_port(const PortOptions& opts);

}  // namespace tapwall
