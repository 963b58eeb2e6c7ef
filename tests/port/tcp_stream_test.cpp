// End-to-end: a real TCP stream between two kernel stacks (client and server namespaces,
// veths with TSO/GSO/checksum offload on, as a VM or an offloading NIC would give us),
// forwarded by a two-port wire made of Ports. It fails exactly as DESIGN.md §4 describes
// when super-frames or unfinished checksums are mishandled (the kernel drops bad-checksum
// segments and refuses oversized frames): the byte count or content would not match.
// Combinations: AfPacket with vnet headers on both sides (metadata passes through),
// AfPacket vnet in / no vnet out (user-space segmentation and checksum completion), and
// libpcap on both sides (no metadata at all).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "netns_fixture.hpp"

namespace tapwall::test {
namespace {

struct Combo {
  const char* label;
  PortBackend a;
  bool a_vnet;
  PortBackend c;
  bool c_vnet;
};

class TcpStream : public NetnsTest, public testing::WithParamInterface<Combo> {
 protected:
  void TearDown() override {
    for (const auto& n : extra_) sh("ip netns del " + n);
    NetnsTest::TearDown();
  }
  std::string add_ns(const std::string& suffix) {
    const std::string n = ns_ + suffix;
    extra_.push_back(n);
    EXPECT_TRUE(sh("ip netns add " + n));
    return n;
  }
  std::vector<std::string> extra_;
};

// Runs `fn` on a thread that entered namespace `ns`.
template <class Fn>
std::thread in_ns(const std::string& ns, Fn fn) {
  return std::thread([ns, fn]() mutable {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) return;
    ::close(fd);
    fn();
  });
}

uint8_t pattern(std::size_t i) { return uint8_t((i * 131) ^ (i >> 11)); }

TEST_P(TcpStream, BulkTransferArrivesIntact) {
  const Combo& c = GetParam();
  const std::string cl = add_ns("c"), sv = add_ns("s");
  ASSERT_TRUE(sh("ip link add twp-a type veth peer name twp-cl netns " + cl));
  ASSERT_TRUE(sh("ip link add twp-c type veth peer name twp-sv netns " + sv));
  ASSERT_TRUE(sh("ip link set twp-a up && ip link set twp-c up"));
  for (auto [ns, dev, ip] : {std::tuple{cl, "twp-cl", "192.0.2.1/24"}, std::tuple{sv, "twp-sv", "192.0.2.2/24"}}) {
    ASSERT_TRUE(sh("ip -n " + ns + " addr add " + ip + " dev " + dev));
    ASSERT_TRUE(sh("ip -n " + ns + " link set " + dev + " up"));
    ASSERT_TRUE(sh("ip -n " + ns + " link set lo up"));
    sh("ip netns exec " + ns + " ethtool -K " + dev + " tso on gso on tx on");
  }
  PortOptions o;
  o.name = "twp-a";
  o.backend = c.a;
  o.vnet_hdr = c.a_vnet;
  auto pa = must_open(o);
  o.name = "twp-c";
  o.backend = c.c;
  o.vnet_hdr = c.c_vnet;
  auto pc = must_open(o);
  ASSERT_TRUE(pa && pc);

  std::atomic<bool> stop{false};
  std::thread wire([&] {
    RxFrame rx[32];
    TxFrame tx[32];
    pollfd p[2] = {{pa->fd(), POLLIN, 0}, {pc->fd(), POLLIN, 0}};
    Port* ports[2] = {pa.get(), pc.get()};
    while (!stop.load()) {
      ::poll(p, 2, 5);
      for (int i = 0; i < 2; ++i) {
        const std::size_t n = ports[i]->rx_burst(rx);
        for (std::size_t k = 0; k < n; ++k) tx[k] = TxFrame{rx[k].bytes, &rx[k].offload};
        ports[1 - i]->tx_burst({tx, n});
        ports[i]->rx_done();
      }
    }
  });

  constexpr std::size_t kBytes = 4 << 20;
  std::atomic<std::size_t> received{0};
  std::atomic<bool> content_ok{true}, listening{false};
  std::thread server = in_ns(sv, [&] {
    const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5001);
    a.sin_addr.s_addr = htonl(0xc0000202);  // 192.0.2.2
    if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1) != 0) return;
    listening = true;
    pollfd p{ls, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) {
      ::close(ls);
      return;
    }
    const int s = ::accept(ls, nullptr, nullptr);
    timeval tv{10, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::vector<uint8_t> buf(1 << 16);
    std::size_t got = 0;
    for (;;) {
      const ssize_t r = ::recv(s, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      for (ssize_t i = 0; i < r; ++i)
        if (buf[std::size_t(i)] != pattern(got + std::size_t(i))) content_ok = false;
      got += std::size_t(r);
    }
    received = got;
    ::close(s);
    ::close(ls);
  });
  // Bounded: if the server never listens, the client's connect fails and the test with it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!listening && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread client = in_ns(cl, [&] {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5001);
    a.sin_addr.s_addr = htonl(0xc0000202);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(s);
      return;
    }
    std::vector<uint8_t> buf(1 << 16);
    for (std::size_t off = 0; off < kBytes;) {
      const std::size_t n = std::min(buf.size(), kBytes - off);
      for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(off + i);
      const ssize_t w = ::send(s, buf.data(), n, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += std::size_t(w);
    }
    ::shutdown(s, SHUT_WR);
    char x;
    ::recv(s, &x, 1, 0);  // wait for the server's close
    ::close(s);
  });
  client.join();
  server.join();
  stop = true;
  wire.join();
  EXPECT_EQ(received.load(), kBytes);
  EXPECT_TRUE(content_ok.load());
  const PortStats sa = pa->stats(), sc = pc->stats();
  EXPECT_EQ(sa.tx_drops + sc.tx_drops, 0u);
  if (!c.c_vnet || c.c == PortBackend::Pcap) {
    // Toward the server the stream could only pass by being segmented here.
    EXPECT_GT(sc.tx_segmented, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Wires, TcpStream,
    testing::Values(Combo{"AfPacketVnet", PortBackend::AfPacket, true, PortBackend::AfPacket, true},
                    Combo{"AfPacketVnetToPlain", PortBackend::AfPacket, true, PortBackend::AfPacket, false},
                    Combo{"Pcap", PortBackend::Pcap, false, PortBackend::Pcap, false}),
    [](const testing::TestParamInfo<Combo>& i) { return std::string(i.param.label); });

}  // namespace
}  // namespace tapwall::test
