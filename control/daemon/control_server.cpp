// ControlServer implementation: request parsing and the JSON answers.
#include "control_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <time.h>

#include <sstream>

#include "tapwall/outcome_format.hpp"
#include "dry_run.hpp"

namespace tapwall::control {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::string q(const std::string& s) { return json_escape(s); }
std::string num(uint64_t v) { return std::to_string(v); }

const char* role_name(PortRole r) {
  return r == PortRole::Uplink ? "uplink" : r == PortRole::Vm ? "vm" : "host";
}

std::string error_json(const std::string& msg) { return "{\"ok\":false,\"error\":" + q(msg) + "}"; }

std::string reasons_json(const std::array<uint64_t, kDropReasonCount>& by_reason) {
  std::string j = "{";
  bool first = true;
  for (std::size_t r = 1; r < kDropReasonCount; ++r) {
    if (!by_reason[r]) continue;
    if (!first) j += ',';
    first = false;
    j += q(std::string(drop_reason_name(DropReason(r)))) + ":" + num(by_reason[r]);
  }
  return j + "}";
}

std::string show_ports(const ControlContext& c) {
  BridgeStats s = c.bridge.stats();
  std::string j = "{\"ok\":true,\"ports\":[";
  for (std::size_t p = 0; p < c.ports.size(); ++p) {
    const PortStats& ps = s.ports[p];
    if (p) j += ',';
    j += "{\"name\":" + q(c.ports[p].name) + ",\"role\":" + q(role_name(c.ports[p].role)) +
         ",\"rx_frames\":" + num(ps.rx_frames) + ",\"rx_bytes\":" + num(ps.rx_bytes) +
         ",\"tx_frames\":" + num(ps.tx_frames) + ",\"tx_bytes\":" + num(ps.tx_bytes) +
         ",\"rx_ring_drops\":" + num(ps.rx_ring_drops) + ",\"tx_drops\":" + num(ps.tx_drops) +
         ",\"tx_segmented\":" + num(ps.tx_segmented) + ",\"csum_completed\":" +
         num(ps.csum_completed) + ",\"drops\":" + reasons_json(s.drops_by_port[p]) + "}";
  }
  return j + "]}";
}

std::string show_macs(const ControlContext& c) {
  std::string j = "{\"ok\":true,\"macs\":[";
  bool first = true;
  uint64_t now = monotonic_ns();
  c.bridge.call([&](const Engine& e, Bridge::PortList&) {
    uint64_t ageing = e.config().mac.ageing_ns;
    e.mac_table().for_each([&](const MacEntryView& m) {
      uint64_t age = now > m.last_seen_ns ? now - m.last_seen_ns : 0;
      if (age >= ageing) return;  // aged out, not yet reclaimed
      if (!first) j += ',';
      first = false;
      char age_s[32];
      std::snprintf(age_s, sizeof age_s, "%.2f", double(age) / 1e9);
      j += "{\"mac\":" + q(m.mac.to_string()) + ",\"vlan\":" + num(m.vlan) +
           ",\"port\":" + q(m.port < c.ports.size() ? c.ports[m.port].name : "?") +
           ",\"age_s\":" + age_s + "}";
    });
  });
  return j + "]}";
}

std::string show_conntrack(const ControlContext& c) {
  std::string j = "{\"ok\":true,\"conntrack\":[";
  bool first = true;
  uint64_t now = monotonic_ns();
  c.bridge.call([&](const Engine& e, Bridge::PortList&) {
    e.conntrack().for_each(now, [&](const CtEntryView& v) {
      if (!first) j += ',';
      first = false;
      j += "{\"proto\":" + num(v.proto) + ",\"src\":" + q(v.orig_src.to_string()) +
           ",\"dst\":" + q(v.orig_dst.to_string()) + ",\"sport\":" + num(v.orig_sport) +
           ",\"dport\":" + num(v.orig_dport) + ",\"state\":" + q(v.state_name ? v.state_name : "") +
           ",\"assured\":" + (v.assured ? "true" : "false") +
           ",\"seen_reply\":" + (v.seen_reply ? "true" : "false") +
           ",\"timeout_s\":" + num(v.expires_in_ns / 1000000000ull) +
           ",\"packets\":[" + num(v.packets[0]) + "," + num(v.packets[1]) + "]" +
           ",\"bytes\":[" + num(v.bytes[0]) + "," + num(v.bytes[1]) + "]}";
    });
  });
  return j + "]}";
}

std::string rule_json(const CompiledPolicy& p, int32_t id) {
  const RuleInfo& r = p.rule(id);
  const RuleCounter& c = p.counter(id);
  return "{\"id\":" + num(uint64_t(id)) + ",\"family\":" +
         q(r.family == Family::Ipv4 ? "ipv4" : "ipv6") + ",\"chain\":" + q(r.chain) +
         ",\"rule\":" + q(r.loc.to_string()) + ",\"text\":" + q(r.text) +
         ",\"policy\":" + (r.is_policy ? "true" : "false") +
         ",\"packets\":" + num(c.packets.load(std::memory_order_relaxed)) +
         ",\"bytes\":" + num(c.bytes.load(std::memory_order_relaxed)) + "}";
}

std::string show_rules(const ControlContext& c) {
  auto p = c.slot.current();
  std::string j = "{\"ok\":true,\"generation\":" + num(p->generation()) + ",\"rules\":[";
  for (std::size_t i = 0; i < p->rule_count(); ++i) {
    if (i) j += ',';
    j += rule_json(*p, int32_t(i));
  }
  return j + "]}";
}

std::string show_drops(const ControlContext& c) {
  BridgeStats s = c.bridge.stats();
  auto p = c.slot.current();
  std::string j = "{\"ok\":true,\"by_reason\":" + reasons_json(s.engine.by_reason) + ",\"by_rule\":[";
  bool first = true;
  for (std::size_t i = 0; i < p->rule_count(); ++i) {
    const RuleInfo& r = p->rule(int32_t(i));
    bool drops = r.target == TargetKind::Drop || r.target == TargetKind::Reject;
    if (!drops || p->counter(int32_t(i)).packets.load(std::memory_order_relaxed) == 0) continue;
    if (!first) j += ',';
    first = false;
    j += rule_json(*p, int32_t(i));
  }
  j += "]";
  if (c.drops) {
    DropRecorderStats d = c.drops->stats();
    j += ",\"recorder\":{\"recorded\":" + num(d.recorded) + ",\"queue_full\":" + num(d.queue_full) +
         ",\"bytes_on_disk\":" + num(d.bytes_on_disk) + ",\"files_opened\":" + num(d.files_opened) +
         ",\"files_deleted\":" + num(d.files_deleted) + ",\"rate_limited\":" +
         reasons_json(d.rate_limited) + "}";
  }
  return j + "}";
}

std::string reload(const ControlContext& c, const std::vector<std::string>& args) {
  bool dry = false;
  std::string file;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--dry-run")
      dry = true;
    else if (file.empty())
      file = args[i];
    else
      return error_json("reload takes at most one FILE");
  }
  if (dry && file.empty()) return error_json("reload --dry-run needs a FILE");
  auto old = c.slot.current();
  ReloadResult r = c.reload(file, dry);
  if (!r.ok) {
    spdlog::error("ctl reload failed, keeping the running policy: {}", r.error);
    return error_json(r.error);
  }
  if (!dry) {
    spdlog::info("ctl reload: rules reloaded (generation {})", r.policy->generation());
    return "{\"ok\":true,\"applied\":true,\"generation\":" + num(r.policy->generation()) + "}";
  }
  std::string changes;
  c.bridge.call([&](const Engine& e, Bridge::PortList&) {
    changes = dry_run_changes(e.conntrack(), *old, *r.policy, c.ports, monotonic_ns());
  });
  return "{\"ok\":true,\"applied\":false,\"changes\":" + changes + "}";
}

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

}  // namespace

ControlServer::ControlServer(asio::io_context& io, ControlContext ctx) : io_(io), ctx_(std::move(ctx)) {}

ControlServer::~ControlServer() { close(); }

std::string ControlServer::listen(const std::string& path) {
  ::unlink(path.c_str());  // a stale socket from a previous run
  boost::system::error_code ec;
  acceptor_ = std::make_unique<local::acceptor>(io_);
  acceptor_->open(local(), ec);
  if (!ec) acceptor_->bind(local::endpoint(path), ec);
  if (ec) return ec.message();
  ::chmod(path.c_str(), 0600);  // root only: the socket can change the firewall
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec.message();
  path_ = path;
  accept();
  return {};
}

void ControlServer::close() {
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
    acceptor_.reset();
  }
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

std::string ControlServer::handle(const std::string& request) {
  auto w = split_words(request);
  if (w.empty()) return error_json("empty request");
  if (w[0] == "show" && w.size() == 2) {
    if (w[1] == "ports") return show_ports(ctx_);
    if (w[1] == "macs") return show_macs(ctx_);
    if (w[1] == "conntrack") return show_conntrack(ctx_);
    if (w[1] == "rules") return show_rules(ctx_);
    if (w[1] == "drops") return show_drops(ctx_);
  }
  if (w[0] == "reload") return reload(ctx_, w);
  return error_json("unknown request: " + request);
}

void ControlServer::accept() {
  if (!acceptor_) return;
  acceptor_->async_accept([this](const boost::system::error_code& ec, local::socket sock) {
    if (ec) return;  // closed
    auto s = std::make_shared<local::socket>(std::move(sock));
    auto buf = std::make_shared<asio::streambuf>(64 * 1024);
    asio::async_read_until(*s, *buf, '\n', [this, s, buf](const boost::system::error_code& rec, std::size_t) {
      if (rec) return;
      std::istream in(buf.get());
      std::string line;
      std::getline(in, line);
      auto answer = std::make_shared<std::string>(handle(line) + "\n");
      asio::async_write(*s, asio::buffer(*answer), [s, answer](const boost::system::error_code&, std::size_t) {});
    });
    accept();
  });
}

}  // namespace tapwall::control
