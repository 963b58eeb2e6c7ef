// AfPacketPort (see af_packet_port.hpp).
// Invariants: the ring is block based (TPACKET_V3, 256 KiB blocks so a 64 KiB GSO
// super-frame always fits whole); frames cut by the ring (tp_snaplen < tp_len) are counted
// and skipped, never forwarded truncated. Block status words are shared with the kernel and
// accessed with acquire/release ordering.
// Thread-safety: one thread.
#include "af_packet_port.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>

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

constexpr uint32_t kBlockSize = 256 * 1024;
constexpr uint32_t kFrameSize = 2048;  // only a unit the kernel validates; V3 packs frames
// 32 MiB: a virtio guest's 64 KiB TSO super-frames fill a 4 MiB ring within a few ms of
// the worker not being scheduled (seen: ring drops and TCP retransmits on a loaded host).
constexpr std::size_t kDefaultRing = 32 * 1024 * 1024;
constexpr uint32_t kRetireTimeoutMs = 1;  // a half-full block reaches us within 1 ms
constexpr std::size_t kVnetLen = sizeof(VirtioNetHdr);

class AfPacketPort final : public Port {
 public:
  AfPacketPort(std::string name, int ifindex, uint32_t mtu, UniqueFd fd, uint8_t* ring,
               uint32_t block_nr, bool vnet)
      : name_(std::move(name)),
        ifindex_(ifindex),
        mtu_(mtu),
        fd_(std::move(fd)),
        ring_(ring),
        block_nr_(block_nr),
        vnet_(vnet),
        scratch_(kBlockSize + 64),
        prep_(TxCaps{vnet, mtu}),
        msgs_(TxPrep::kDefaultPieces),
        iov_(2 * TxPrep::kDefaultPieces) {}

  ~AfPacketPort() override { ::munmap(ring_, std::size_t(kBlockSize) * block_nr_); }

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
  tpacket_block_desc* block(uint32_t i) {
    return reinterpret_cast<tpacket_block_desc*>(ring_ + std::size_t(i) * kBlockSize);
  }
  // Fills `f` from the ring frame `h`; false when it must wait for the next burst (scratch
  // full). `skip` is set for frames that are not delivered at all.
  bool take_frame(const tpacket3_hdr* h, RxFrame& f, bool& skip);
  void send_pieces(std::span<TxPiece> pieces, std::span<TxStatus> status);

  std::string name_;
  int ifindex_;
  uint32_t mtu_;
  UniqueFd fd_;
  uint8_t* ring_;
  uint32_t block_nr_;
  bool vnet_;
  int fanout_ = -1;

  // RX cursor: the block being read, and the next frame in it.
  uint32_t cur_block_ = 0;
  bool in_block_ = false;
  uint32_t pkts_left_ = 0;
  const uint8_t* next_pkt_ = nullptr;
  uint32_t to_release_ = 0;      // finished blocks, starting at release_from_
  uint32_t release_from_ = 0;
  std::vector<uint8_t> scratch_;  // VLAN re-insertion, valid until rx_done()
  std::size_t scratch_used_ = 0;
  uint64_t burst_ts_ = 0;

  TxPrep prep_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  PortStats st_;
};

bool AfPacketPort::take_frame(const tpacket3_hdr* h, RxFrame& f, bool& skip) {
  skip = false;
  const auto* sll = reinterpret_cast<const sockaddr_ll*>(reinterpret_cast<const uint8_t*>(h) +
                                                         TPACKET_ALIGN(sizeof(tpacket3_hdr)));
  // Belt and braces for kernels without PACKET_IGNORE_OUTGOING.
  if (sll->sll_pkttype == PACKET_OUTGOING) {
    skip = true;
    return true;
  }
  if (h->tp_snaplen < h->tp_len || h->tp_snaplen < sizeof(EthHeader)) {
    ++st_.rx_truncated;
    skip = true;
    return true;
  }
  const uint8_t* data = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
  std::size_t len = h->tp_snaplen;
  const uint32_t status = h->tp_status;
  const bool tagged = status & TP_STATUS_VLAN_VALID;
  if (tagged) {
    if (scratch_.size() - scratch_used_ < len + 4) return false;
    uint8_t* p = scratch_.data() + scratch_used_;
    const uint16_t tpid =
        (status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid ? h->hv1.tp_vlan_tpid : 0x8100;
    std::memcpy(p, data, 12);
    store_be16(p + 12, tpid);
    store_be16(p + 14, uint16_t(h->hv1.tp_vlan_tci));
    std::memcpy(p + 16, data + 12, len - 12);
    scratch_used_ += len + 4;
    f.bytes = {p, len + 4};
  } else {
    f.bytes = {data, len};
  }
  const bool not_ready = status & TP_STATUS_CSUMNOTREADY;
  if (vnet_) {
    f.offload = offload_from_vnet(data - kVnetLen);
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
  while (n < out.size()) {
    if (!in_block_) {
      auto* bd = block(cur_block_);
      if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
      pkts_left_ = bd->hdr.bh1.num_pkts;
      next_pkt_ = reinterpret_cast<const uint8_t*>(bd) + bd->hdr.bh1.offset_to_first_pkt;
      in_block_ = true;
    }
    if (pkts_left_ == 0) {
      in_block_ = false;
      ++to_release_;
      cur_block_ = (cur_block_ + 1) % block_nr_;
      continue;
    }
    const auto* h = reinterpret_cast<const tpacket3_hdr*>(next_pkt_);
    bool skip = false;
    if (!take_frame(h, out[n], skip)) break;
    next_pkt_ += h->tp_next_offset;
    --pkts_left_;
    if (skip) continue;
    ++st_.rx_frames;
    st_.rx_bytes += out[n].bytes.size();
    ++n;
  }
  return n;
}

void AfPacketPort::rx_done() {
  for (uint32_t i = 0; i < to_release_; ++i) {
    auto* bd = block((release_from_ + i) % block_nr_);
    __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  }
  release_from_ = (release_from_ + to_release_) % block_nr_;
  to_release_ = 0;
  scratch_used_ = 0;
}

PortStats AfPacketPort::stats() {
  tpacket_stats_v3 ks{};
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
  while (off < n) {
    const int r = ::sendmmsg(fd_.get(), &msgs_[off], unsigned(n - off), MSG_DONTWAIT);
    if (r > 0) {
      off += std::size_t(r);
      continue;
    }
    const int err = r == 0 ? EAGAIN : errno;
    if (err == EINTR) continue;
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
  if (set_int(fd.get(), PACKET_VERSION, TPACKET_V3) != 0)
    return errno_error(errno, "PACKET_VERSION TPACKET_V3");
  const std::size_t ring = opts.ring_bytes ? opts.ring_bytes : kDefaultRing;
  const uint32_t block_nr = uint32_t(std::max<std::size_t>(2, ring / kBlockSize));
  tpacket_req3 req{};
  req.tp_block_size = kBlockSize;
  req.tp_block_nr = block_nr;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = kBlockSize / kFrameSize * block_nr;
  req.tp_retire_blk_tov = kRetireTimeoutMs;
  if (::setsockopt(fd.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
    return errno_error(errno, "PACKET_RX_RING");
  void* map = ::mmap(nullptr, std::size_t(kBlockSize) * block_nr, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (map == MAP_FAILED) return errno_error(errno, "mmap rx ring");
  auto* ring_ptr = static_cast<uint8_t*>(map);
  auto fail = [&](const char* what) {
    const int e = errno;
    ::munmap(map, std::size_t(kBlockSize) * block_nr);
    return errno_error(e, std::string(what) + " " + opts.name);
  };
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
  auto* port = new AfPacketPort(opts.name, ifindex, uint32_t(mtu), std::move(fd), ring_ptr,
                                block_nr, vnet);
  port->set_fanout_group(fanout);
  return std::unique_ptr<Port>(port);
}

}  // namespace tapwall::port_detail
