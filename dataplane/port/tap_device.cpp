// Tap devices and TapPort (see tap_device.hpp, tapwall/port_tap.hpp).
// Invariants: TUNSETIFF is always given IFF_TAP | IFF_NO_PI, so a frame read or written is
// exactly [virtio_net_hdr] + Ethernet frame, never a tun_pi.
// Thread-safety: TapPort: one thread; free functions: any thread.
#include "tap_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "port_common.hpp"
#include "tapwall/port_netdev.hpp"
#include "tx_prep.hpp"
#include "virtio_hdr.hpp"

namespace tapwall {

namespace port_detail {
namespace {

constexpr std::size_t kVnetLen = sizeof(VirtioNetHdr);
constexpr std::size_t kMaxRead = 65536 + 64 + kVnetLen;  // a 64 KiB GSO frame + L2 + header
constexpr std::size_t kArena = 1024 * 1024 + kMaxRead;

class TapPort final : public Port {
 public:
  TapPort(TapFd tap, int ifindex, uint32_t mtu, bool vnet)
      : name_(std::move(tap.name)),
        ifindex_(ifindex),
        mtu_(mtu),
        fd_(tap.fd),
        vnet_(vnet),
        arena_(kArena),
        prep_(TxCaps{vnet, mtu}) {}

  const std::string& name() const override { return name_; }
  int ifindex() const override { return ifindex_; }
  int fd() const override { return fd_.get(); }
  uint32_t mtu() const override { return mtu_; }
  PortBackend backend() const override { return PortBackend::Tap; }
  bool tx_offload() const override { return vnet_; }

  std::size_t rx_burst(std::span<RxFrame> out) override {
    const uint64_t ts = monotonic_ns();
    std::size_t n = 0;
    while (n < out.size() && arena_.size() - arena_used_ >= kMaxRead) {
      uint8_t* p = arena_.data() + arena_used_;
      const ssize_t r = ::read(fd_.get(), p, kMaxRead);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;  // EAGAIN: drained; other errors show up again next burst
      const std::size_t hl = vnet_ ? kVnetLen : 0;
      if (std::size_t(r) >= kMaxRead) {
        ++st_.rx_truncated;
        continue;
      }
      if (std::size_t(r) < hl + 14) continue;  // runt: nothing to switch
      RxFrame& f = out[n];
      f.bytes = {p + hl, std::size_t(r) - hl};
      f.offload = vnet_ ? offload_from_vnet(p) : OffloadInfo{};
      f.csum_partial = f.offload.needs_csum();
      f.ts_ns = ts;
      arena_used_ += std::size_t(r);
      ++st_.rx_frames;
      st_.rx_bytes += f.bytes.size();
      ++n;
    }
    return n;
  }
  void rx_done() override { arena_used_ = 0; }

  PortStats stats() override {
    PortStats s = st_;
    add_prep_counters(s, prep_);
    return s;
  }

 protected:
  std::size_t do_tx_burst(std::span<const TxFrame> frames, std::span<TxStatus> status) override {
    return run_tx(
        prep_, frames, status,
        [this](std::span<TxPiece> pieces, std::span<TxStatus> s) {
          for (std::size_t i = 0; i < pieces.size(); ++i) {
            TxPiece& pc = pieces[i];
            iovec iov[2] = {{&pc.vnet, kVnetLen}, {const_cast<uint8_t*>(pc.data), pc.len}};
            ssize_t r;
            do {
              r = vnet_ ? ::writev(fd_.get(), iov, 2) : ::writev(fd_.get(), iov + 1, 1);
            } while (r < 0 && errno == EINTR);
            if (r < 0 && errno == EAGAIN) {  // the host's backlog is full: drop the rest
              for (; i < pieces.size(); ++i) s[pieces[i].frame] = TxStatus::TxError;
              break;
            }
            if (r < 0) s[pc.frame] = TxStatus::TxError;
          }
        },
        st_);
  }

 private:
  std::string name_;
  int ifindex_;
  uint32_t mtu_;
  UniqueFd fd_;
  bool vnet_;
  std::vector<uint8_t> arena_;
  std::size_t arena_used_ = 0;
  TxPrep prep_;
  PortStats st_;
};

PortError tun_error(int err, const std::string& what, const std::string& name) {
  PortError e = errno_error(err, what + " " + name);
  if (err == ENOENT) e.kind = PortError::NoSuchInterface;  // no /dev/net/tun
  return e;
}

std::variant<int, PortError> tun_attach(const std::string& name, short flags) {
  if (name.size() >= IFNAMSIZ) return PortError{PortError::Other, "name too long: " + name};
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return tun_error(errno, "open /dev/net/tun for", name);
  ifreq ifr{};
  ifr.ifr_flags = flags;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int e = errno;
    ::close(fd);
    return tun_error(e, "TUNSETIFF", name);
  }
  return fd;
}

}  // namespace

std::unique_ptr<Port> make_tap_port(TapFd tap, bool vnet_hdr) {
  const int ifindex = get_ifindex(tap.name);
  const int mtu = get_mtu(tap.name);
  return std::make_unique<TapPort>(std::move(tap), ifindex, uint32_t(mtu > 0 ? mtu : 1500),
                                   vnet_hdr);
}

}  // namespace port_detail

using port_detail::tun_attach;

std::variant<TapFd, PortError> open_tap(const std::string& name, bool vnet_hdr, bool multi_queue) {
  short flags = IFF_TAP | IFF_NO_PI;
  if (vnet_hdr) flags |= IFF_VNET_HDR;
  if (multi_queue) flags |= IFF_MULTI_QUEUE;
  auto r = tun_attach(name, flags);
  if (auto* e = std::get_if<PortError>(&r)) return *e;
  port_detail::UniqueFd fd(std::get<int>(r));
  ifreq ifr{};
  if (::ioctl(fd.get(), TUNGETIFF, &ifr) != 0) return port_detail::errno_error(errno, "TUNGETIFF");
  if (vnet_hdr) {
    int sz = int(port_detail::kVnetLen);
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &sz) != 0)
      return port_detail::errno_error(errno, "TUNSETVNETHDRSZ " + name);
    // Let the host stack hand us super-frames with partial checksums (as a VM NIC does).
    const unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    if (::ioctl(fd.get(), TUNSETOFFLOAD, off) != 0)
      return port_detail::errno_error(errno, "TUNSETOFFLOAD " + name);
  }
  return TapFd{fd.release(), std::string(ifr.ifr_name)};
}

namespace {
std::variant<std::monostate, PortError> set_persist(const std::string& name, int on) {
  auto r = tun_attach(name, IFF_TAP | IFF_NO_PI);
  if (auto* e = std::get_if<PortError>(&r)) return *e;
  port_detail::UniqueFd fd(std::get<int>(r));
  if (::ioctl(fd.get(), TUNSETPERSIST, on) != 0)
    return port_detail::errno_error(errno, "TUNSETPERSIST " + name);
  return std::monostate{};
}
}  // namespace

std::variant<std::monostate, PortError> make_persistent_tap(const std::string& name) {
  if (interface_exists(name)) {
    // Anything but a tap is not ours to turn into one.
    if (is_tap_device(name)) return std::monostate{};
    return PortError{PortError::Other, name + " exists and is not a tap"};
  }
  return set_persist(name, 1);
}

std::variant<std::monostate, PortError> remove_persistent_tap(const std::string& name) {
  if (!interface_exists(name))
    return PortError{PortError::NoSuchInterface, "no such interface: " + name};
  return set_persist(name, 0);
}

std::variant<std::unique_ptr<Port>, PortError> open_tap_port(const PortOptions& opts) {
  auto t = open_tap(opts.name, opts.vnet_hdr, opts.tap_multi_queue);
  if (auto* e = std::get_if<PortError>(&t)) return *e;
  TapFd tap = std::get<TapFd>(std::move(t));
  if (!set_link_up(tap.name)) {
    const int e = errno;
    ::close(tap.fd);
    return port_detail::errno_error(e, "link up " + tap.name);
  }
  return port_detail::make_tap_port(std::move(tap), opts.vnet_hdr);
}

}  // namespace tapwall
