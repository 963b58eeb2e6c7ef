// Test fixture: a fresh network namespace (named twp-<pid>-<n>) that the test thread
// enters for the test's duration and that is deleted afterwards, even when the test fails
// (TearDown always runs; deleting the namespace removes every device made in it). All
// sockets, taps and `ip` commands of the test run inside it. Also: RawSock, a plain
// AF_PACKET socket playing the peer on a veth or tap.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tapwall/port.hpp"

namespace tapwall::test {

inline bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

class NetnsTest : public testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    ns_ = "twp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    orig_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(orig_, 0);
    ASSERT_TRUE(sh("ip netns add " + ns_)) << "cannot create netns " << ns_;
    created_ = true;
    const int fd = ::open(("/var/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0) << std::strerror(errno);
    ::close(fd);
    entered_ = true;
    // No IPv6 autoconfiguration chatter (RS, MLD, DAD) on the test's links.
    sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
    sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
    ASSERT_TRUE(sh("ip link set lo up"));
  }
  void TearDown() override {
    if (entered_) ::setns(orig_, CLONE_NEWNET);
    if (orig_ >= 0) ::close(orig_);
    if (created_) sh("ip netns del " + ns_);
  }
  // A veth pair, both ends up, offloads as asked on both ends.
  void veth(const std::string& a, const std::string& b, bool offloads = true) {
    ASSERT_TRUE(sh("ip link add " + a + " type veth peer name " + b));
    const char* on = offloads ? "on" : "off";
    for (const auto& n : {a, b}) {
      sh("ethtool -K " + n + " tso " + on + " gso " + on + " tx " + on);
      ASSERT_TRUE(sh("ip link set " + n + " up"));
    }
  }

  std::string ns_;
  int orig_ = -1;
  bool created_ = false, entered_ = false;
};

// A plain AF_PACKET socket bound to one interface: the test's view of the wire.
class RawSock {
 public:
  explicit RawSock(const std::string& ifname, bool vnet = false) : vnet_(vnet) {
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    int one = 1;
    if (vnet) ::setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one);
    // See only what arrives on the interface, like a host on the far end of the link.
    ::setsockopt(fd_, SOL_PACKET, 23 /* PACKET_IGNORE_OUTGOING */, &one, sizeof one);
    int big = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
    ok_ = fd_ >= 0 && sll.sll_ifindex > 0 &&
          ::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) == 0;
  }
  ~RawSock() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSock(const RawSock&) = delete;
  RawSock& operator=(const RawSock&) = delete;
  bool ok() const { return ok_; }

  // vnet: the 10-byte virtio_net_hdr to prepend (only for vnet sockets).
  bool send(const std::vector<uint8_t>& frame, const uint8_t* vnet = nullptr) {
    uint8_t zero[10] = {};
    iovec iov[2] = {{const_cast<uint8_t*>(vnet ? vnet : zero), 10},
                    {const_cast<uint8_t*>(frame.data()), frame.size()}};
    msghdr m{};
    m.msg_iov = vnet_ ? iov : iov + 1;
    m.msg_iovlen = vnet_ ? 2 : 1;
    return ::sendmsg(fd_, &m, 0) == ssize_t(frame.size() + (vnet_ ? 10 : 0));
  }
  // Next frame (vnet header stripped into *vnet_out), or nullopt after `timeout_ms`.
  std::optional<std::vector<uint8_t>> recv(int timeout_ms, std::vector<uint8_t>* vnet_out = nullptr) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    std::vector<uint8_t> buf(70000);
    const ssize_t r = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (r < 0) return std::nullopt;
    buf.resize(std::size_t(r));
    if (vnet_) {
      if (vnet_out) vnet_out->assign(buf.begin(), buf.begin() + 10);
      buf.erase(buf.begin(), buf.begin() + 10);
    }
    return buf;
  }
  // Frames matching `pred` received within `timeout_ms` of the last match (or the start).
  std::vector<std::vector<uint8_t>> collect(const std::function<bool(const std::vector<uint8_t>&)>& pred,
                                            std::size_t want, int timeout_ms = 2000) {
    std::vector<std::vector<uint8_t>> out;
    while (out.size() < want) {
      auto f = recv(timeout_ms);
      if (!f) break;
      if (pred(*f)) out.push_back(std::move(*f));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool vnet_ = false;
  bool ok_ = false;
};

// Polls `port` until a frame matching `pred` arrives or `timeout_ms` passes without one;
// every frame received on the way is passed to `seen` (copied).
inline std::optional<std::pair<std::vector<uint8_t>, RxFrame>> rx_until(
    Port& port, const std::function<bool(std::span<const uint8_t>)>& pred, int timeout_ms = 3000,
    std::vector<std::vector<uint8_t>>* seen = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  RxFrame burst[32];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{port.fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    const std::size_t n = port.rx_burst(burst);
    std::optional<std::pair<std::vector<uint8_t>, RxFrame>> hit;
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<uint8_t> copy(burst[i].bytes.begin(), burst[i].bytes.end());
      if (seen) seen->push_back(copy);
      if (!hit && pred(burst[i].bytes)) hit.emplace(std::move(copy), burst[i]);
    }
    port.rx_done();
    if (hit) {
      hit->second.bytes = {};  // the ring memory is gone after rx_done()
      return hit;
    }
  }
  return std::nullopt;
}

inline std::unique_ptr<Port> must_open(const PortOptions& o) {
  auto r = open_port(o);
  if (auto* e = std::get_if<PortError>(&r)) {
    ADD_FAILURE() << "open_port(" << o.name << "): " << e->message;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<Port>>(r));
}

}  // namespace tapwall::test
