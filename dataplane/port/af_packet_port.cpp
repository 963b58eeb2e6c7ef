// AfPacketPort (see af_packet_port.hpp).
// Why TPACKET_V2 (a slot per frame) and not V3 (frames packed in blocks): V3 hands user
// space whole blocks, and a block that does not fill is handed over only when its retire
// timer fires (>= 1 ms), so a lightly loaded port added ~0.5 ms to every frame (ping
// through the bridge: ~1 ms p50 against the kernel bridge's 0.13). A V2 slot is ours, and
// poll() wakes, as soon as the kernel has written it.
// Slots hold an MTU-sized frame. A larger one (a GSO super-frame) is cut in its slot and,
// with PACKET_COPY_THRESH, also queued whole on the socket, before the slot is marked
// TP_STATUS_COPY; it is read from there with recvmsg(). Only such frames are queued, in
// ring order, so the n-th TP_STATUS_COPY slot is the n-th queued frame.
// Invariants: slots are handed back to the kernel only in rx_done(), in ring order, after
// every frame of theirs was returned; every TP_STATUS_COPY slot's frame is taken off the
// socket queue when its slot is read, delivered or not (else the queue would fall out of
// step with the ring); frames are never forwarded truncated (counted, skipped). Slot status
// words are shared with the kernel and accessed with acquire/release ordering.
// Thread-safety: one thread.
#include "af_packet_port.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <vector>

#include "port_common.hpp"
#include "tapwall/net_types.hpp"
#include "tapwall/port_netdev.hpp"
#include "tapwall/wire.hpp"
#include "tx_prep.hpp"
#include "virtio_hdr.hpp"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace tapwall::port_detail {

namespace {

constexpr uint32_t kBlockSize = 256 * 1024;  // the ring's allocation unit (slots per block)
// Room in a slot before the frame: tpacket2_hdr, sockaddr_ll, the virtio header, alignment
// (the kernel puts the MAC header at 76 bytes with a virtio header).
constexpr uint32_t kSlotHeadroom = 128;
// 32 MiB: a virtio guest's 64 KiB TSO super-frames fill a 4 MiB ring within a few ms of
// the worker not being scheduled (seen: ring drops and TCP retransmits on a loaded host).
constexpr std::size_t kDefaultRing = 32 * 1024 * 1024;
constexpr std::size_t kVnetLen = sizeof(VirtioNetHdr);
// Frames read whole from the socket queue: up to this size (a V3 block's worth, as before:
// GSO super-frames are at most 64 KiB unless BIG TCP is on); a larger one is counted as
// truncated and skipped.
constexpr std::size_t kMaxQueuedFrame = kBlockSize;
// Per-burst scratch: VLAN re-insertion and frames read from the socket queue.
constexpr std::size_t kScratch = 4 * kMaxQueuedFrame;

// A power of two (so slots tile a block) that holds an MTU-sized frame with a VLAN tag.
uint32_t slot_size(uint32_t mtu) {
  return std::bit_ceil(std::max<uint32_t>(2048, kSlotHeadroom + 14 + 4 + mtu));
}

class AfPacketPort final : public Port {
 public:
  // The ring: block_nr blocks of block_size bytes, each holding block_size / slot_size slots.
  struct Ring {
    uint8_t* base = nullptr;
    uint32_t block_size = 0, block_nr = 0, slot_size = 0;
    uint32_t slots_per_block() const { return block_size / slot_size; }
    uint32_t slot_nr() const { return slots_per_block() * block_nr; }
    std::size_t bytes() const { return std::size_t(block_size) * block_nr; }
  };

  AfPacketPort(std::string name, int ifindex, uint32_t mtu, UniqueFd fd, Ring ring, bool vnet)
      : name_(std::move(name)),
        ifindex_(ifindex),
        mtu_(mtu),
        fd_(std::move(fd)),
        ring_(ring),
        slot_nr_(ring.slot_nr()),
        vnet_(vnet),
        scratch_(kScratch),
        prep_(TxCaps{vnet, mtu}),
        msgs_(TxPrep::kDefaultPieces),
        iov_(2 * TxPrep::kDefaultPieces) {}

  ~AfPacketPort() override { ::munmap(ring_.base, ring_.bytes()); }

  const std::string& name() const override { return name_; }
  int ifindex() const override { return ifindex_; }
  int fd() const override { return fd_.get(); }
  uint32_t mtu() const override { return mtu_; }
  PortBackend backend() const override { return PortBackend::AfPacket; }
  bool tx_offload() const override { return vnet_; }
  int fanout_group() const override { return fanout_; }
  void set_fanout_group(int id) { fanout_ = id; }

  std::size_t rx_burst(std::span<RxFrame> out) override;
  void rx_done() override;
  PortStats stats() override;

 protected:
  std::size_t do_tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status) override;

 private:
  tpacket2_hdr* slot(uint32_t i) {
    const uint32_t per = ring_.slots_per_block();
    return reinterpret_cast<tpacket2_hdr*>(ring_.base + std::size_t(i / per) * ring_.block_size +
                                           std::size_t(i % per) * ring_.slot_size);
  }
  // Fills `f` from the slot `h`; false when it must wait for the next burst (scratch full).
  // `skip` is set for frames that are not delivered at all.
  bool take_frame(const tpacket2_hdr* h, RxFrame& f, bool& skip);
  // The frame queued for a TP_STATUS_COPY slot, read to `to` (room for kMaxQueuedFrame
  // bytes); its length, or 0 if it was larger or missing. `vnet` receives its virtio
  // header.
  std::size_t read_queued(uint8_t* to, uint8_t* vnet);
  void discard_queued();
  void send_pieces(std::span<TxPiece> pieces, std::span<TxStatus> status);

  std::string name_;
  int ifindex_;
  uint32_t mtu_;
  UniqueFd fd_;
  Ring ring_;
  uint32_t slot_nr_;
  bool vnet_;
  int fanout_ = -1;

  // RX: slots [release_from_, release_from_ + to_release_) were read this burst.
  uint32_t to_release_ = 0;
  uint32_t release_from_ = 0;
  std::vector<uint8_t> scratch_;  // valid until rx_done()
  std::size_t scratch_used_ = 0;
  uint64_t burst_ts_ = 0;

  TxPrep prep_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  PortStats st_;
};

std::size_t AfPacketPort::read_queued(uint8_t* to, uint8_t* vnet) {
  iovec iov[2] = {{vnet, kVnetLen}, {to, kMaxQueuedFrame}};
  msghdr m{};
  m.msg_iov = vnet_ ? iov : iov + 1;
  m.msg_iovlen = vnet_ ? 2 : 1;
  ssize_t r;
  do {
    r = ::recvmsg(fd_.get(), &m, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  const std::size_t head = vnet_ ? kVnetLen : 0;
  if (r < ssize_t(head + sizeof(EthHeader)) || (m.msg_flags & MSG_TRUNC)) return 0;
  return std::size_t(r) - head;
}

void AfPacketPort::discard_queued() {
  uint8_t head[kVnetLen + sizeof(EthHeader)];  // the rest of the frame is dropped with it
  while (::recv(fd_.get(), head, sizeof head, MSG_DONTWAIT | MSG_TRUNC) < 0 && errno == EINTR) {
  }
}

bool AfPacketPort::take_frame(const tpacket2_hdr* h, RxFrame& f, bool& skip) {
  skip = false;
  const uint32_t status = h->tp_status;
  const bool queued = status & TP_STATUS_COPY;
  auto truncated = [&] {
    ++st_.rx_truncated;
    skip = true;
    return true;
  };
  const auto* sll = reinterpret_cast<const sockaddr_ll*>(reinterpret_cast<const uint8_t*>(h) +
                                                         TPACKET_ALIGN(sizeof(tpacket2_hdr)));
  // Belt and braces for kernels without PACKET_IGNORE_OUTGOING.
  if (sll->sll_pkttype == PACKET_OUTGOING) {
    if (queued) discard_queued();
    skip = true;
    return true;
  }
  const bool tagged = status & TP_STATUS_VLAN_VALID;
  const uint8_t* data = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
  const uint8_t* vnet = data - kVnetLen;
  std::size_t len = h->tp_snaplen;
  // A frame read from the queue, or rebuilt with its tag, goes to the scratch buffer 4
  // bytes in, so that the tag can be inserted in place.
  uint8_t* p = scratch_.data() + scratch_used_;
  const std::size_t room = scratch_.size() - scratch_used_;
  if (queued) {
    if (room < 4 + kMaxQueuedFrame + kVnetLen) return false;
    uint8_t* head = p + 4 + kMaxQueuedFrame;  // the virtio header, past the frame's room
    len = read_queued(p + 4, head);
    if (len == 0) return truncated();
    vnet = head;
  } else if (len < h->tp_len) {
    return truncated();  // larger than a slot and not queued (receive buffer full)
  }
  if (len < sizeof(EthHeader)) return truncated();
  if (tagged && !queued) {
    if (room < len + 4) return false;
    std::memcpy(p + 4, data, len);
  }
  if (queued || tagged) {
    data = p + 4;
    scratch_used_ += len + 4;
  }
  if (tagged) {
    const uint16_t tpid =
        (status & TP_STATUS_VLAN_TPID_VALID) && h->tp_vlan_tpid ? h->tp_vlan_tpid : 0x8100;
    std::memmove(p, data, 12);  // the addresses move up; the tag goes where they were
    store_be16(p + 12, tpid);
    store_be16(p + 14, uint16_t(h->tp_vlan_tci));
    f.bytes = {p, len + 4};
  } else {
    f.bytes = {data, len};
  }
  const bool not_ready = status & TP_STATUS_CSUMNOTREADY;
  if (vnet_) {
    f.offload = offload_from_vnet(vnet);
    if (tagged) {  // the kernel's offsets count from the frame without its tag
      if (f.offload.needs_csum()) f.offload.csum_start = uint16_t(f.offload.csum_start + 4);
      if (f.offload.hdr_len) f.offload.hdr_len = uint16_t(f.offload.hdr_len + 4);
    }
  } else {
    f.offload = derive_offload(f.bytes, not_ready, false);
  }
  if (status & TP_STATUS_CSUM_VALID) f.offload.flags |= kOffloadDataValid;
  f.csum_partial = not_ready || f.offload.needs_csum();
  f.ts_ns = burst_ts_;
  return true;
}

std::size_t AfPacketPort::rx_burst(std::span<RxFrame> out) {
  if (to_release_) rx_done();  // the caller skipped rx_done(): its frames are gone anyway
  burst_ts_ = monotonic_ns();
  std::size_t n = 0;
  while (n < out.size() && to_release_ < slot_nr_) {
    const tpacket2_hdr* h = slot((release_from_ + to_release_) % slot_nr_);
    if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
    bool skip = false;
    if (!take_frame(h, out[n], skip)) break;
    ++to_release_;
    if (skip) continue;
    ++st_.rx_frames;
    st_.rx_bytes += out[n].bytes.size();
    ++n;
  }
  return n;
}

void AfPacketPort::rx_done() {
  for (uint32_t i = 0; i < to_release_; ++i)
    __atomic_store_n(&slot((release_from_ + i) % slot_nr_)->tp_status, TP_STATUS_KERNEL,
                     __ATOMIC_RELEASE);
  release_from_ = (release_from_ + to_release_) % slot_nr_;
  to_release_ = 0;
  scratch_used_ = 0;
}

PortStats AfPacketPort::stats() {
  tpacket_stats ks{};
  socklen_t len = sizeof ks;
  if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
    st_.rx_ring_drops += ks.tp_drops;  // the kernel resets its counters on every read
  PortStats s = st_;
  add_prep_counters(s, prep_);
  return s;
}

void AfPacketPort::send_pieces(std::span<TxPiece> pieces, std::span<TxStatus> status) {
  const std::size_t n = pieces.size();
  for (std::size_t i = 0; i < n; ++i) {
    iov_[2 * i] = iovec{&pieces[i].vnet, kVnetLen};
    iov_[2 * i + 1] = iovec{const_cast<uint8_t*>(pieces[i].data), pieces[i].len};
    msgs_[i] = mmsghdr{};
    msgs_[i].msg_hdr.msg_iov = vnet_ ? &iov_[2 * i] : &iov_[2 * i + 1];
    msgs_[i].msg_hdr.msg_iovlen = vnet_ ? 2 : 1;
  }
  std::size_t off = 0;
  bool retried_down = false;
  while (off < n) {
    const int r = ::sendmmsg(fd_.get(), &msgs_[off], unsigned(n - off), MSG_DONTWAIT);
    if (r > 0) {
      off += std::size_t(r);
      continue;
    }
    const int err = r == 0 ? EAGAIN : errno;
    if (err == EINTR) continue;
    // ENETDOWN may be a stale error of a link that has come back up (the kernel reports a
    // link going down on the socket once, to whichever call comes next): that send
    // consumed it, so try the message once more; if the link is down, it fails again.
    if (err == ENETDOWN && !retried_down) {
      retried_down = true;
      continue;
    }
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      for (; off < n; ++off) status[pieces[off].frame] = TxStatus::TxError;  // congested
      break;
    }
    status[pieces[off].frame] = TxStatus::TxError;  // this message only (e.g. EMSGSIZE)
    ++off;
  }
}

std::size_t AfPacketPort::do_tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status) {
  return run_tx(
      prep_, frames, status,
      [this](std::span<TxPiece> p, std::span<TxStatus> s) { send_pieces(p, s); }, st_);
}

int set_int(int fd, int opt, int v) { return ::setsockopt(fd, SOL_PACKET, opt, &v, sizeof v); }

}  // namespace

std::variant<std::unique_ptr<Port>, PortError> open_af_packet_port(const PortOptions& opts) {
  const int ifindex = get_ifindex(opts.name);
  if (ifindex <= 0)
    return PortError{PortError::NoSuchInterface, "no such interface: " + opts.name};
  const int mtu = get_mtu(opts.name);
  if (mtu <= 0) return errno_error(errno, "SIOCGIFMTU " + opts.name);
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return errno_error(errno, "socket(AF_PACKET)");
  // Order matters: the vnet header size is fixed when the ring is created.
  bool vnet = opts.vnet_hdr;
  if (vnet && set_int(fd.get(), PACKET_VNET_HDR, 1) != 0) vnet = false;  // TX then segments
  if (set_int(fd.get(), PACKET_VERSION, TPACKET_V2) != 0)
    return errno_error(errno, "PACKET_VERSION TPACKET_V2");
  AfPacketPort::Ring ring;
  ring.slot_size = slot_size(uint32_t(mtu));
  ring.block_size = std::max(kBlockSize, ring.slot_size);
  const std::size_t ring_bytes = opts.ring_bytes ? opts.ring_bytes : kDefaultRing;
  ring.block_nr = uint32_t(std::max<std::size_t>(2, ring_bytes / ring.block_size));
  tpacket_req req{};
  req.tp_block_size = ring.block_size;
  req.tp_block_nr = ring.block_nr;
  req.tp_frame_size = ring.slot_size;
  req.tp_frame_nr = ring.slot_nr();
  if (::setsockopt(fd.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
    return errno_error(errno, "PACKET_RX_RING");
  void* map = ::mmap(nullptr, ring.bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     fd.get(), 0);
  if (map == MAP_FAILED) return errno_error(errno, "mmap rx ring");
  ring.base = static_cast<uint8_t*>(map);
  auto fail = [&](const char* what) {
    const int e = errno;
    ::munmap(map, ring.bytes());
    return errno_error(e, std::string(what) + " " + opts.name);
  };
  // Frames larger than a slot are queued whole on the socket too (any non-zero threshold),
  // while the queue is under the receive buffer: make that as large as the ring (root may
  // exceed rmem_max; otherwise what rmem_max allows).
  if (set_int(fd.get(), PACKET_COPY_THRESH, 1) != 0) return fail("PACKET_COPY_THRESH");
  const int rcvbuf = int(std::min<std::size_t>(ring_bytes, 1u << 30));
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Older kernels lack PACKET_IGNORE_OUTGOING; the ring reader then skips PACKET_OUTGOING.
  (void)set_int(fd.get(), PACKET_IGNORE_OUTGOING, 1);
  if (set_int(fd.get(), PACKET_QDISC_BYPASS, 1) != 0) return fail("PACKET_QDISC_BYPASS");
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return fail("bind");
  if (opts.promisc) {
    packet_mreq mr{};
    mr.mr_ifindex = ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
      return fail("PACKET_MR_PROMISC");
  }
  int fanout = -1;
  if (opts.fanout_group != PortOptions::kNoFanout) {
    // PACKET_FANOUT_HASH: the kernel's flow hash is symmetric (both directions of a flow
    // reach the same member); which worker judges a frame is decided after RX by owner
    // steering anyway (dataplane/bridge/owner_steering.cpp), so the mode only sets how
    // often frames are handed over, never correctness. The first member asks the kernel
    // for an id no other group in this namespace uses; the others join it.
    const bool create = opts.fanout_group == PortOptions::kNewFanout;
    const int type_flags = PACKET_FANOUT_HASH | (create ? PACKET_FANOUT_FLAG_UNIQUEID : 0);
    const int id = create ? 0 : (opts.fanout_group & 0xffff);
    if (set_int(fd.get(), PACKET_FANOUT, id | (type_flags << 16)) != 0) return fail("PACKET_FANOUT");
    int v = 0;
    socklen_t len = sizeof v;
    if (::getsockopt(fd.get(), SOL_PACKET, PACKET_FANOUT, &v, &len) != 0) return fail("PACKET_FANOUT");
    fanout = v & 0xffff;
  }
  if (opts.disable_gro) (void)set_gro(opts.name, false);
  auto* port = new AfPacketPort(opts.name, ifindex, uint32_t(mtu), std::move(fd), ring, vnet);
  port->set_fanout_group(fanout);
  return std::unique_ptr<Port>(port);
}

}  // namespace tapwall::port_detail
