// PcapPort (see pcap_port.hpp).
// Invariants: pcap_dispatch is called for one frame at a time while the arena has room for
// a whole snaplen, so a frame is never lost for lack of space; frames libpcap truncated
// (caplen < len) are counted and skipped.
// Thread-safety: one thread.
#include "pcap_port.hpp"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "port_common.hpp"
#include "tapwall/port_netdev.hpp"
#include "tx_prep.hpp"

namespace tapwall::port_detail {

namespace {

constexpr int kSnaplen = 262144;
constexpr std::size_t kArena = 1024 * 1024 + kSnaplen;
// With offloads on, libpcap sizes ring slots by the snaplen: give it room for many.
constexpr std::size_t kDefaultBuffer = 32 * 1024 * 1024;

class PcapPort final : public Port {
 public:
  PcapPort(std::string name, int ifindex, uint32_t mtu, pcap_t* p)
      : name_(std::move(name)),
        ifindex_(ifindex),
        mtu_(mtu),
        p_(p),
        fd_(pcap_get_selectable_fd(p)),
        arena_(kArena),
        prep_(TxCaps{false, mtu}) {}
  ~PcapPort() override { pcap_close(p_); }

  const std::string& name() const override { return name_; }
  int ifindex() const override { return ifindex_; }
  int fd() const override { return fd_; }
  uint32_t mtu() const override { return mtu_; }
  PortBackend backend() const override { return PortBackend::Pcap; }
  bool tx_offload() const override { return false; }

  std::size_t rx_burst(std::span<RxFrame> out) override;
  void rx_done() override { arena_used_ = 0; }
  PortStats stats() override;

 protected:
  std::size_t do_tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status) override {
    return run_tx(
        prep_, frames, status,
        [this](std::span<TxPiece> pieces, std::span<TxStatus> s) {
          for (const TxPiece& pc : pieces)
            if (pcap_inject(p_, pc.data, pc.len) != int(pc.len)) s[pc.frame] = TxStatus::TxError;
        },
        st_);
  }

 private:
  static void on_frame(u_char* user, const pcap_pkthdr* h, const u_char* bytes);

  std::string name_;
  int ifindex_;
  uint32_t mtu_;
  pcap_t* p_;
  int fd_;
  std::vector<uint8_t> arena_;
  std::size_t arena_used_ = 0;
  RxFrame* slot_ = nullptr;  // where on_frame() writes
  bool got_ = false;
  TxPrep prep_;
  PortStats st_;
};

void PcapPort::on_frame(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  auto* self = reinterpret_cast<PcapPort*>(user);
  if (h->caplen < h->len) {
    ++self->st_.rx_truncated;
    return;
  }
  // The caller checked that a whole snaplen fits.
  uint8_t* dst = self->arena_.data() + self->arena_used_;
  std::memcpy(dst, bytes, h->caplen);
  self->arena_used_ += h->caplen;
  RxFrame& f = *self->slot_;
  f.bytes = {dst, h->caplen};
  f.offload = derive_offload(f.bytes, false, true);
  f.csum_partial = f.offload.flags & kOffloadCsumUnknown;
  self->got_ = true;
}

std::size_t PcapPort::rx_burst(std::span<RxFrame> out) {
  const uint64_t ts = monotonic_ns();
  std::size_t n = 0;
  while (n < out.size() && arena_.size() - arena_used_ >= std::size_t(kSnaplen)) {
    slot_ = &out[n];
    got_ = false;
    const int r = pcap_dispatch(p_, 1, &PcapPort::on_frame, reinterpret_cast<u_char*>(this));
    if (r <= 0) break;  // 0: nothing ready (non-blocking); <0: error, retried next burst
    if (!got_) continue;
    out[n].ts_ns = ts;
    ++st_.rx_frames;
    st_.rx_bytes += out[n].bytes.size();
    ++n;
  }
  return n;
}

PortStats PcapPort::stats() {
  pcap_stat ps{};
  PortStats s = st_;
  if (pcap_stats(p_, &ps) == 0) s.rx_ring_drops = ps.ps_drop;  // libpcap accumulates
  add_prep_counters(s, prep_);
  return s;
}

PortError pcap_error(int rc, pcap_t* p, const std::string& name) {
  PortError e;
  e.message = "pcap " + name + ": " + pcap_statustostr(rc) + " " + pcap_geterr(p);
  if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
    e.kind = PortError::NoSuchInterface;
  else if (rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED)
    e.kind = PortError::Permission;
  else
    e.kind = PortError::Other;
  return e;
}

}  // namespace

std::variant<std::unique_ptr<Port>, PortError> open_pcap_port(const PortOptions& opts) {
  const int ifindex = get_ifindex(opts.name);
  if (ifindex <= 0)
    return PortError{PortError::NoSuchInterface, "no such interface: " + opts.name};
  const int mtu = get_mtu(opts.name);
  if (mtu <= 0) return errno_error(errno, "SIOCGIFMTU " + opts.name);
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_create(opts.name.c_str(), err);
  if (!p) return PortError{PortError::Other, std::string("pcap_create: ") + err};
  auto fail = [&](int rc) {
    PortError e = pcap_error(rc, p, opts.name);
    pcap_close(p);
    return e;
  };
  int rc;
  if ((rc = pcap_set_immediate_mode(p, 1)) != 0) return fail(rc);
  if ((rc = pcap_set_promisc(p, opts.promisc ? 1 : 0)) != 0) return fail(rc);
  if ((rc = pcap_set_snaplen(p, kSnaplen)) != 0) return fail(rc);
  const std::size_t buf = opts.ring_bytes ? opts.ring_bytes : kDefaultBuffer;
  if ((rc = pcap_set_buffer_size(p, int(buf))) != 0) return fail(rc);
  rc = pcap_activate(p);
  if (rc < 0) return fail(rc);  // > 0 are warnings
  if (pcap_setnonblock(p, 1, err) != 0) return fail(PCAP_ERROR);
  // Never read back what tapwall (or the host) sends out of this port.
  if (pcap_setdirection(p, PCAP_D_IN) != 0) return fail(PCAP_ERROR);
  if (pcap_datalink(p) != DLT_EN10MB) {
    pcap_close(p);
    return PortError{PortError::Other, opts.name + ": not an Ethernet interface"};
  }
  if (pcap_get_selectable_fd(p) < 0) return fail(PCAP_ERROR);
  if (opts.disable_gro) (void)set_gro(opts.name, false);
  return std::unique_ptr<Port>(new PcapPort(opts.name, ifindex, uint32_t(mtu), p));
}

}  // namespace tapwall::port_detail
