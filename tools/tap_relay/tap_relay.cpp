// tap_relay: a small test helper playing the hypervisor for tapwall's end-to-end tests.
//
// Purpose: gives a VM tap (tap0) a real guest without a VM. It attaches to the tap the way
// QEMU does (`-netdev tap,vnet_hdr=on`: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, TUNSETOFFLOAD
// CSUM|TSO4|TSO6, so the host side may hand it TSO super-frames with partial checksums) and
// relays every frame, with its virtio_net_hdr, to and from an AF_PACKET socket with
// PACKET_VNET_HDR on an interface of a guest network namespace. That interface (vnic0) is one
// end of a veth pair whose other end (gst0, same namespace) carries the guest's addresses, so
// a real kernel stack is the guest, with its offloads (TSO/GSO/TX checksum) on; the
// virtio_net_hdr metadata (GSO type and size, NEEDS_CSUM start/offset) flows both ways
// unchanged, as between a virtio-net guest and its tap.
//
// Usage: tap_relay --tap TAP --netns NAME --iface IFACE [--verbose]
//   Run in the network namespace that holds TAP (tapwall's namespace). TAP is attached if
//   it exists (a persistent tap made by `ip tuntap add` or by `tapwall run --vm`), else
//   created for the relay's lifetime. NAME is a namespace under /var/run/netns. Exits 0 on
//   SIGTERM/SIGINT, printing its counters to stderr.
//
// Why a 10-byte header (TUNSETVNETHDRSZ 10): QEMU uses 12 bytes (virtio_net_hdr_mrg_rxbuf)
// only when the guest negotiated mergeable RX buffers, and 10 (struct virtio_net_hdr)
// otherwise. PACKET_VNET_HDR sockets always use exactly the 10-byte struct, so with 10 on
// the tap the bytes read from one side are written to the other as they are, no
// translation; the 2-byte num_buffers field of the 12-byte form carries nothing on a tap.
//
// Invariants: frames are never modified, only copied; a frame that one side refuses is
// counted and dropped (a lossy link, as a real NIC's ring is), never retried.
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace {

constexpr int kVnetHdrLen = 10;  // struct virtio_net_hdr; see the header comment
constexpr std::size_t kBuf = 65536 + 256 + kVnetHdrLen;  // a 64 KiB GSO frame + L2 + header
constexpr int kBurst = 64;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int die(const char* what) {
  std::fprintf(stderr, "tap_relay: %s: %s\n", what, std::strerror(errno));
  return 1;
}

// Attaches to (or creates) the tap with QEMU's flags and offloads.
int open_tap(const std::string& name) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  int sz = kVnetHdrLen;
  // No TUN_F_UFO/USO: a guest kernel that did not negotiate them never sees UDP GSO.
  const unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0 || ::ioctl(fd, TUNSETVNETHDRSZ, &sz) != 0 ||
      ::ioctl(fd, TUNSETOFFLOAD, off) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

bool set_up(int sock, const std::string& name) {
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags |= IFF_UP;
  return ::ioctl(sock, SIOCSIFFLAGS, &ifr) == 0;
}

// Opens the guest-side AF_PACKET socket inside namespace `netns`, then returns to ours.
int open_guest_socket(const std::string& netns, const std::string& iface) {
  int self = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = ::open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0) return -1;
  if (::setns(target, CLONE_NEWNET) != 0) return -1;
  int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  int err = 0;
  if (s >= 0) {
    int one = 1;
    unsigned idx = ::if_nametoindex(iface.c_str());
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = int(idx);
    packet_mreq mr{};
    mr.mr_ifindex = int(idx);
    mr.mr_type = PACKET_MR_PROMISC;
    int rcvbuf = 4 << 20;
    if (idx == 0 || ::setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0 ||
        ::bind(s, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0 ||
        ::setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0 ||
        !set_up(s, iface)) {
      err = errno ? errno : ENODEV;
      ::close(s);
      s = -1;
    } else {
      // Our own transmissions must not come back to us (kernels >= 4.20; the kernel also
      // never loops a socket's own sends to it, so this is belt and braces).
      (void)::setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
      (void)::setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
      (void)::setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof rcvbuf);
    }
  } else {
    err = errno;
  }
  if (::setns(self, CLONE_NEWNET) != 0) return -1;
  ::close(self);
  ::close(target);
  errno = err;
  return s;
}

struct Counters {
  uint64_t frames = 0, bytes = 0, gso = 0, csum = 0, dropped = 0;
};

void usage() {
  std::fprintf(stderr, "usage: tap_relay --tap TAP --netns NAME --iface IFACE [--verbose]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string tap, netns, iface;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--verbose") {
      verbose = true;
    } else if (i + 1 < argc && (a == "--tap" || a == "--netns" || a == "--iface")) {
      (a == "--tap" ? tap : a == "--netns" ? netns : iface) = argv[++i];
    } else {
      usage();
      return 2;
    }
  }
  if (tap.empty() || netns.empty() || iface.empty()) {
    usage();
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  int tfd = open_tap(tap);
  if (tfd < 0) return die(("attach tap " + tap).c_str());
  int gfd = open_guest_socket(netns, iface);
  if (gfd < 0) return die(("AF_PACKET on " + iface + " in netns " + netns).c_str());
  {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // the tap is in our namespace
    if (s < 0 || !set_up(s, tap)) return die(("link up " + tap).c_str());
    ::close(s);
  }
  std::fprintf(stderr, "tap_relay: %s <-> %s (netns %s) relaying\n", tap.c_str(), iface.c_str(),
               netns.c_str());

  std::vector<uint8_t> buf(kBuf);
  Counters to_guest, to_tap;
  auto note = [&](Counters& c, const uint8_t* p, ssize_t n) {
    ++c.frames;
    c.bytes += uint64_t(n - kVnetHdrLen);
    if (p[1] != 0) ++c.gso;         // virtio_net_hdr.gso_type
    if (p[0] & 1) ++c.csum;         // VIRTIO_NET_HDR_F_NEEDS_CSUM
    if (verbose)
      std::fprintf(stderr, "tap_relay: %s %zd bytes gso_type=%u gso_size=%u flags=%u\n",
                   &c == &to_guest ? "->guest" : "->tap", n - kVnetHdrLen, p[1],
                   unsigned(p[4] | p[5] << 8), p[0]);
  };
  pollfd pfd[2] = {{tfd, POLLIN, 0}, {gfd, POLLIN, 0}};
  while (!g_stop) {
    int r = ::poll(pfd, 2, 500);
    if (r < 0 && errno != EINTR) return die("poll");
    if (r <= 0) continue;
    if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      std::fprintf(stderr, "tap_relay: tap %s went away\n", tap.c_str());
      break;
    }
    // tap -> guest: what the bridge sends to the VM.
    for (int i = 0; i < kBurst && (pfd[0].revents & POLLIN); ++i) {
      ssize_t n = ::read(tfd, buf.data(), buf.size());
      if (n < 0) break;  // EAGAIN: drained
      if (n < kVnetHdrLen + 14) continue;
      note(to_guest, buf.data(), n);
      if (::send(gfd, buf.data(), std::size_t(n), 0) != n) ++to_guest.dropped;
    }
    // guest -> tap: what the VM sends to the bridge.
    for (int i = 0; i < kBurst && (pfd[1].revents & POLLIN); ++i) {
      ssize_t n = ::recv(gfd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) break;
      if (std::size_t(n) > buf.size()) {  // cannot happen for a 64 KiB GSO frame
        ++to_tap.dropped;
        continue;
      }
      if (n < kVnetHdrLen + 14) continue;
      note(to_tap, buf.data(), n);
      if (::write(tfd, buf.data(), std::size_t(n)) != n) ++to_tap.dropped;
    }
  }
  std::fprintf(stderr,
               "tap_relay: stopped. to guest: %llu frames %llu bytes %llu gso %llu needs_csum "
               "%llu dropped; to tap: %llu frames %llu bytes %llu gso %llu needs_csum %llu dropped\n",
               (unsigned long long)to_guest.frames, (unsigned long long)to_guest.bytes,
               (unsigned long long)to_guest.gso, (unsigned long long)to_guest.csum,
               (unsigned long long)to_guest.dropped, (unsigned long long)to_tap.frames,
               (unsigned long long)to_tap.bytes, (unsigned long long)to_tap.gso,
               (unsigned long long)to_tap.csum, (unsigned long long)to_tap.dropped);
  ::close(gfd);
  ::close(tfd);
  return 0;
}
