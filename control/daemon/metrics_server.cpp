// MetricsServer implementation.
#include "metrics_server.hpp"

namespace tapwall::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

MetricsServer::MetricsServer(asio::io_context& io, const Bridge& bridge, const PolicySlot& slot,
                             std::vector<PortDesc> ports, const DropRecorder* drops)
    : io_(io), bridge_(bridge), slot_(slot), ports_(std::move(ports)), drops_(drops) {}

std::string MetricsServer::listen(const std::string& spec) {
  std::string host = "127.0.0.1", port = spec;
  if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec || !addr.is_loopback()) return "metrics bind only to a loopback address, not '" + host + "'";
  unsigned long p = 0;
  try {
    p = std::stoul(port);
  } catch (...) {
    return "bad metrics port '" + port + "'";
  }
  if (p == 0 || p > 65535) return "bad metrics port '" + port + "'";
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  tcp::endpoint ep(addr, static_cast<unsigned short>(p));
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec.message();
  accept();
  return {};
}

std::string MetricsServer::render() const {
  BridgeStats s = bridge_.stats();
  std::string t;
  auto metric = [&](const char* name, const char* type, const char* help) {
    t += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto port_lines = [&](const char* name, auto field) {
    for (std::size_t p = 0; p < ports_.size() && p < s.ports.size(); ++p)
      t += std::string(name) + "{port=\"" + ports_[p].name + "\"} " + std::to_string(field(s.ports[p])) + "\n";
  };
  metric("tapwall_rx_frames_total", "counter", "Frames received per port.");
  port_lines("tapwall_rx_frames_total", [](const PortStats& p) { return p.rx_frames; });
  metric("tapwall_rx_bytes_total", "counter", "Bytes received per port.");
  port_lines("tapwall_rx_bytes_total", [](const PortStats& p) { return p.rx_bytes; });
  metric("tapwall_tx_frames_total", "counter", "Frames sent per port.");
  port_lines("tapwall_tx_frames_total", [](const PortStats& p) { return p.tx_frames; });
  metric("tapwall_tx_bytes_total", "counter", "Bytes sent per port.");
  port_lines("tapwall_tx_bytes_total", [](const PortStats& p) { return p.tx_bytes; });
  metric("tapwall_rx_ring_drops_total", "counter", "Frames the kernel dropped before tapwall read them.");
  port_lines("tapwall_rx_ring_drops_total", [](const PortStats& p) { return p.rx_ring_drops; });
  metric("tapwall_rx_truncated_total", "counter",
         "Frames received cut short (larger than tapwall could read whole) and skipped.");
  port_lines("tapwall_rx_truncated_total", [](const PortStats& p) { return p.rx_truncated; });
  metric("tapwall_drops_total", "counter", "Frames dropped, by ingress port and reason.");
  for (std::size_t p = 0; p < ports_.size() && p < s.drops_by_port.size(); ++p)
    for (std::size_t r = 1; r < kDropReasonCount; ++r)
      if (s.drops_by_port[p][r])
        t += "tapwall_drops_total{port=\"" + ports_[p].name + "\",reason=\"" +
             std::string(drop_reason_name(DropReason(r))) + "\"} " + std::to_string(s.drops_by_port[p][r]) + "\n";
  auto worker_lines = [&](const char* name, auto field) {
    for (std::size_t w = 0; w < s.workers.size(); ++w)
      t += std::string(name) + "{worker=\"" + std::to_string(w) + "\"} " + std::to_string(field(s.workers[w])) + "\n";
  };
  metric("tapwall_worker_frames_total", "counter", "Frames judged per data-path worker.");
  worker_lines("tapwall_worker_frames_total", [](const WorkerStats& w) { return w.frames; });
  metric("tapwall_worker_handoff_total", "counter", "Frames a worker received and handed to their owning worker.");
  worker_lines("tapwall_worker_handoff_total", [](const WorkerStats& w) { return w.handed_out; });
  metric("tapwall_worker_handoff_full_total", "counter", "Frames dropped because the owning worker's ring was full.");
  worker_lines("tapwall_worker_handoff_full_total", [](const WorkerStats& w) { return w.handoff_full; });
  // Conntrack, per worker (each owns a share of the table): `conntrack -C` and `-S`.
  struct CtMetric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*field)(const WorkerStats&);
  };
  static constexpr CtMetric kCtMetrics[] = {
      {"tapwall_conntrack_entries", "gauge", "Conntrack entries in use (nf_conntrack_count).",
       [](const WorkerStats& w) { return w.ct_entries; }},
      {"tapwall_conntrack_max", "gauge", "Conntrack table size (this worker's share of nf_conntrack_max).",
       [](const WorkerStats& w) { return w.ct_capacity; }},
      {"tapwall_conntrack_inserted_total", "counter", "Flows entered into the conntrack table.",
       [](const WorkerStats& w) { return w.ct.confirmed; }},
      {"tapwall_conntrack_expired_total", "counter", "Conntrack entries that timed out.",
       [](const WorkerStats& w) { return w.ct.expired; }},
      {"tapwall_conntrack_early_drop_total", "counter", "Unassured entries evicted to make room (early_drop).",
       [](const WorkerStats& w) { return w.ct.early_drops; }},
      {"tapwall_conntrack_table_full_total", "counter",
       "New flows refused: the table was full and nothing could be evicted.",
       [](const WorkerStats& w) { return w.ct.table_full; }},
      {"tapwall_conntrack_invalid_total", "counter", "Packets conntrack found INVALID.",
       [](const WorkerStats& w) { return w.ct.invalid; }},
  };
  for (const CtMetric& c : kCtMetrics) {
    metric(c.name, c.type, c.help);
    worker_lines(c.name, c.field);
  }
  metric("tapwall_worker_mac_announcements_total", "counter", "MAC learning announcements sent to other workers.");
  worker_lines("tapwall_worker_mac_announcements_total", [](const WorkerStats& w) { return w.mac.sent; });
  auto policy = slot_.current();
  metric("tapwall_rule_packets_total", "counter", "Packets matched per rule (as iptables -L -v).");
  for (std::size_t i = 0; i < policy->rule_count(); ++i) {
    const RuleInfo& r = policy->rule(int32_t(i));
    t += "tapwall_rule_packets_total{chain=\"" + r.chain + "\",rule=\"" + r.loc.to_string() + "\"} " +
         std::to_string(policy->counter(int32_t(i)).packets.load(std::memory_order_relaxed)) + "\n";
  }
  metric("tapwall_policy_generation", "gauge", "Generation of the running policy.");
  t += "tapwall_policy_generation " + std::to_string(policy->generation()) + "\n";
  if (drops_) {
    DropRecorderStats d = drops_->stats();
    metric("tapwall_recorder_frames_total", "counter", "Dropped frames written to pcapng.");
    t += "tapwall_recorder_frames_total " + std::to_string(d.recorded) + "\n";
    metric("tapwall_recorder_skipped_total", "counter", "Dropped frames not recorded (rate limit or queue full).");
    uint64_t limited = 0;
    for (auto v : d.rate_limited) limited += v;
    t += "tapwall_recorder_skipped_total{why=\"rate_limit\"} " + std::to_string(limited) + "\n";
    t += "tapwall_recorder_skipped_total{why=\"queue_full\"} " + std::to_string(d.queue_full) + "\n";
    metric("tapwall_recorder_disk_bytes", "gauge", "Bytes of drop files on disk.");
    t += "tapwall_recorder_disk_bytes " + std::to_string(d.bytes_on_disk) + "\n";
  }
  return t;
}

void MetricsServer::accept() {
  acceptor_->async_accept([this](const boost::system::error_code& ec, tcp::socket sock) {
    if (ec) return;
    auto s = std::make_shared<tcp::socket>(std::move(sock));
    auto buf = std::make_shared<asio::streambuf>(16 * 1024);
    asio::async_read_until(*s, *buf, "\r\n\r\n", [this, s, buf](const boost::system::error_code& rec, std::size_t) {
      if (rec) return;
      std::string body = render();
      auto reply = std::make_shared<std::string>(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      asio::async_write(*s, asio::buffer(*reply), [s, reply](const boost::system::error_code&, std::size_t) {});
    });
    accept();
  });
}

}  // namespace tapwall::control
