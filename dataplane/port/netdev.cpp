// Network-device helpers by ioctl (see tapwall/port_netdev.hpp).
// Invariants: every function closes the control socket it opened; errno survives close.
// Thread-safety: no shared state.
#include <cstdio>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tapwall/port_netdev.hpp"

namespace tapwall {

namespace {

class CtlSocket {
 public:
  CtlSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~CtlSocket() {
    if (fd_ >= 0) {
      const int e = errno;
      ::close(fd_);
      errno = e;
    }
  }
  CtlSocket(const CtlSocket&) = delete;
  CtlSocket& operator=(const CtlSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

bool fill_name(ifreq& ifr, const std::string& name) {
  std::memset(&ifr, 0, sizeof ifr);
  if (name.empty() || name.size() >= IFNAMSIZ) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  return true;
}

bool ioctl_ifr(unsigned long req, ifreq& ifr) {
  CtlSocket s;
  if (s.fd() < 0) return false;
  return ::ioctl(s.fd(), req, &ifr) == 0;
}

bool change_flags(const std::string& name, short set, short clear) {
  ifreq ifr;
  if (!fill_name(ifr, name)) return false;
  CtlSocket s;
  if (s.fd() < 0 || ::ioctl(s.fd(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags = short((ifr.ifr_flags | set) & ~clear);
  return ::ioctl(s.fd(), SIOCSIFFLAGS, &ifr) == 0;
}

}  // namespace

bool interface_exists(const std::string& name) { return get_ifindex(name) > 0; }

int get_ifindex(const std::string& name) {
  ifreq ifr;
  if (!fill_name(ifr, name) || !ioctl_ifr(SIOCGIFINDEX, ifr)) return -1;
  return ifr.ifr_ifindex;
}

int get_mtu(const std::string& name) {
  ifreq ifr;
  if (!fill_name(ifr, name) || !ioctl_ifr(SIOCGIFMTU, ifr)) return -1;
  return ifr.ifr_mtu;
}

bool set_mtu(const std::string& name, int mtu) {
  ifreq ifr;
  if (!fill_name(ifr, name)) return false;
  ifr.ifr_mtu = mtu;
  return ioctl_ifr(SIOCSIFMTU, ifr);
}

bool set_link_up(const std::string& name) { return change_flags(name, IFF_UP, 0); }

namespace {
bool write_sysctl(const std::string& path, const char* value) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  bool ok = std::fputs(value, f) >= 0;
  return std::fclose(f) == 0 && ok;
}
}  // namespace

bool isolate_from_host_stack(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return false;
  bool arp = write_sysctl("/proc/sys/net/ipv4/conf/" + name + "/arp_ignore", "8");
  bool v6 = write_sysctl("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6", "1");
  return arp && v6;
}

bool set_promisc(const std::string& name, bool on) {
  return on ? change_flags(name, IFF_PROMISC, 0) : change_flags(name, 0, IFF_PROMISC);
}

bool set_gro(const std::string& name, bool on) {
  ifreq ifr;
  if (!fill_name(ifr, name)) return false;
  ethtool_value v{};
  v.cmd = ETHTOOL_SGRO;
  v.data = on ? 1 : 0;
  ifr.ifr_data = reinterpret_cast<char*>(&v);
  return ioctl_ifr(SIOCETHTOOL, ifr);
}

bool is_tap_device(const std::string& name) {
  ifreq ifr;
  if (!fill_name(ifr, name)) return false;
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  if (!ioctl_ifr(SIOCETHTOOL, ifr)) return false;
  return std::strcmp(info.driver, "tun") == 0 && std::strcmp(info.bus_info, "tap") == 0;
}

}  // namespace tapwall
