// ControlServer implementation: request parsing and the JSON answers.
#include "control_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <time.h>

#include <map>
#include <sstream>

#include "tapwall/outcome_format.hpp"
#include "tapwall/packet_filter.hpp"
#include "tapwall/trace_format.hpp"
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
  for (std::size_t p = 0; p < c.ports.size() && p < s.ports.size() && p < s.drops_by_port.size(); ++p) {
    const PortStats& ps = s.ports[p];
    if (p) j += ',';
    j += "{\"name\":" + q(c.ports[p].name) + ",\"role\":" + q(role_name(c.ports[p].role)) +
         ",\"rx_frames\":" + num(ps.rx_frames) + ",\"rx_bytes\":" + num(ps.rx_bytes) +
         ",\"tx_frames\":" + num(ps.tx_frames) + ",\"tx_bytes\":" + num(ps.tx_bytes) +
         ",\"rx_ring_drops\":" + num(ps.rx_ring_drops) + ",\"rx_truncated\":" +
         num(ps.rx_truncated) + ",\"tx_drops\":" + num(ps.tx_drops) +
         ",\"tx_segmented\":" + num(ps.tx_segmented) + ",\"csum_completed\":" +
         num(ps.csum_completed) + ",\"drops\":" + reasons_json(s.drops_by_port[p]) + "}";
  }
  j += "],\"workers\":[";
  for (std::size_t w = 0; w < s.workers.size(); ++w) {
    const WorkerStats& ws = s.workers[w];
    if (w) j += ',';
    j += "{\"worker\":" + num(w) + ",\"frames\":" + num(ws.frames) + ",\"handed_out\":" +
         num(ws.handed_out) + ",\"handed_in\":" + num(ws.handed_in) + ",\"handoff_full\":" +
         num(ws.handoff_full) + ",\"mac_announced\":" + num(ws.mac.sent) +
         ",\"mac_applied\":" + num(ws.mac.applied) + ",\"mac_lost\":" + num(ws.mac.lost) + "}";
  }
  return j + "]}";
}

// Every worker's table holds the stations all workers learned (MAC sync); a station is
// listed once, with its most recent sighting.
std::string show_macs(const ControlContext& c) {
  struct Seen {
    PortId port;
    uint64_t last_seen_ns;
  };
  // Keyed by MAC alone, as the bridge keeps its stations (mac_table.hpp: make_key).
  std::map<uint64_t, Seen> macs;  // ordered: a stable listing
  uint64_t now = monotonic_ns();
  c.bridge.call([&](const Engine& e, Bridge::PortList&) {
    uint64_t ageing = e.config().mac.ageing_ns;
    e.mac_table().for_each([&](const MacEntryView& m) {
      uint64_t age = now > m.last_seen_ns ? now - m.last_seen_ns : 0;
      if (age >= ageing) return;  // aged out, not yet reclaimed
      auto [it, fresh] = macs.try_emplace(m.mac.as_u64(), Seen{m.port, m.last_seen_ns});
      if (!fresh && m.last_seen_ns > it->second.last_seen_ns) it->second = {m.port, m.last_seen_ns};
    });
  });
  std::string j = "{\"ok\":true,\"macs\":[";
  bool first = true;
  for (const auto& [key, seen] : macs) {
    MacAddr mac;
    for (int i = 0; i < 6; ++i) mac.b[i] = uint8_t(key >> (40 - 8 * i));
    uint64_t age = now > seen.last_seen_ns ? now - seen.last_seen_ns : 0;
    if (!first) j += ',';
    first = false;
    char age_s[32];
    std::snprintf(age_s, sizeof age_s, "%.2f", double(age) / 1e9);
    j += "{\"mac\":" + q(mac.to_string()) +
         ",\"port\":" + q(seen.port < c.ports.size() ? c.ports[seen.port].name : "?") +
         ",\"age_s\":" + age_s + "}";
  }
  return j + "]}";
}

// TCP flows show their TCP state; the others, as `conntrack -L` flags them.
std::string flow_state(const CtEntryView& v) {
  if (v.state_name && *v.state_name) return v.state_name;
  return !v.seen_reply ? "UNREPLIED" : v.assured ? "ASSURED" : "REPLIED";
}

// The conntrack tables summed over the workers.
WorkerStats ct_totals(const BridgeStats& s) {
  WorkerStats t;
  for (const WorkerStats& w : s.workers) {
    t.ct_entries += w.ct_entries;
    t.ct_capacity += w.ct_capacity;
    t.ct.confirmed += w.ct.confirmed;
    t.ct.expired += w.ct.expired;
    t.ct.early_drops += w.ct.early_drops;
    t.ct.table_full += w.ct.table_full;
    t.ct.invalid += w.ct.invalid;
  }
  return t;
}

// The table as a whole: what `conntrack -C` and `conntrack -S` tell (count against
// nf_conntrack_max; flows inserted (confirmed), expired, evicted early, refused for a full
// table; packets found INVALID).
std::string conntrack_summary(const WorkerStats& t) {
  return "{\"count\":" + num(t.ct_entries) + ",\"max\":" + num(t.ct_capacity) +
         ",\"inserted\":" + num(t.ct.confirmed) + ",\"expired\":" + num(t.ct.expired) +
         ",\"early_drop\":" + num(t.ct.early_drops) + ",\"table_full\":" + num(t.ct.table_full) +
         ",\"invalid\":" + num(t.ct.invalid) + "}";
}

// Every worker's live flows and the worker tracking each, copied on the workers' threads.
// Why a copy: formatting (or judging, for a dry run) every flow there held up each data
// path for the whole listing, which with a full table is long enough to overflow rings.
struct FlowSnapshot {
  std::vector<CtEntryView> flows;
  std::vector<uint32_t> worker;  // parallel to flows
};

FlowSnapshot snapshot_flows(const ControlContext& c, std::size_t expected) {
  FlowSnapshot s;
  s.flows.reserve(expected);
  s.worker.reserve(expected);
  const uint64_t now = monotonic_ns();
  c.bridge.call_each([&](std::size_t worker, const Engine& e, Bridge::PortList&) {
    e.conntrack().for_each(now, [&](const CtEntryView& v) {
      s.flows.push_back(v);
      s.worker.push_back(uint32_t(worker));
    });
  });
  return s;
}

std::string show_conntrack(const ControlContext& c) {
  const WorkerStats totals = ct_totals(c.bridge.stats());
  const FlowSnapshot snap = snapshot_flows(c, totals.ct_entries);
  std::string j = "{\"ok\":true,\"summary\":" + conntrack_summary(totals) + ",\"conntrack\":[";
  for (std::size_t i = 0; i < snap.flows.size(); ++i) {
    const CtEntryView& v = snap.flows[i];
    if (i) j += ',';
    j += "{\"worker\":" + num(snap.worker[i]) + ",\"proto\":" + num(v.proto) + ",\"src\":" + q(v.orig_src.to_string()) +
         ",\"dst\":" + q(v.orig_dst.to_string()) + ",\"sport\":" + num(v.orig_sport) +
         ",\"dport\":" + num(v.orig_dport) + ",\"state\":" + q(flow_state(v)) +
         ",\"assured\":" + (v.assured ? "true" : "false") +
         ",\"seen_reply\":" + (v.seen_reply ? "true" : "false") +
         ",\"timeout_s\":" + num(v.expires_in_ns / 1000000000ull) +
         ",\"packets\":[" + num(v.packets[0]) + "," + num(v.packets[1]) + "]" +
         ",\"bytes\":[" + num(v.bytes[0]) + "," + num(v.bytes[1]) + "]}";
  }
  return j + "]}";
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
    c.bridge.sync();  // in force for the next frame when the client hears "applied"
    spdlog::info("ctl reload: rules reloaded (generation {})", r.policy->generation());
    return "{\"ok\":true,\"applied\":true,\"generation\":" + num(r.policy->generation()) + "}";
  }
  // Each flow is tracked by one worker: all workers' flows, judged here.
  const FlowSnapshot snap = snapshot_flows(c, ct_totals(c.bridge.stats()).ct_entries);
  return "{\"ok\":true,\"applied\":false,\"changes\":" +
         dry_run_changes(snap.flows, *old, *r.policy, c.ports) + "}";
}

std::string dump(const ControlContext& c, const std::vector<std::string>& w, const std::string& line) {
  if (w.size() >= 2 && w[1] == "stop") {
    c.bridge.set_dump(nullptr);
    c.bridge.sync();
    return "{\"ok\":true,\"dump\":false}";
  }
  if (w.size() < 2 || w[1] != "start") return error_json("usage: dump start [FILTER] | dump stop");
  std::string expr = line.substr(line.find("start") + 5);
  expr.erase(0, expr.find_first_not_of(' '));
  auto f = PacketFilter::compile(expr);  // "" compiles to match-all, as in tcpdump
  if (auto* e = std::get_if<std::string>(&f)) return error_json(*e);
  if (std::string err = c.bridge.set_dump(std::get<std::shared_ptr<const PacketFilter>>(f)); !err.empty())
    return error_json(err);
  c.bridge.sync();
  return "{\"ok\":true,\"dump\":true,\"filter\":" + q(expr) + "}";
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
  if (w[0] == "dump") return dump(ctx_, w, request);
  return error_json("unknown request: " + request);
}

// A trace streams one line per matching frame until the client hangs up; the control
// thread drains the bridge's trace ring on a 50 ms timer.
void ControlServer::start_trace_session(std::shared_ptr<local::socket> s, const std::string& line) {
  std::string expr = line.substr(5);
  bool json = false;
  if (auto p = expr.find("--json"); p != std::string::npos) {
    json = true;
    expr.erase(p, 6);
  }
  expr.erase(0, expr.find_first_not_of(' '));
  auto reply_error = [s](const std::string& msg) {
    auto answer = std::make_shared<std::string>(error_json(msg) + "\n");
    asio::async_write(*s, asio::buffer(*answer), [s, answer](const boost::system::error_code&, std::size_t) {});
  };
  if (expr.find_first_not_of(' ') == std::string::npos) return reply_error("trace needs a FILTER");
  auto f = PacketFilter::compile(expr);
  if (auto* e = std::get_if<std::string>(&f)) return reply_error(*e);
  ctx_.bridge.drain_trace([](const FrameOutcome&) {});  // leftovers of an earlier trace
  if (std::string err = ctx_.bridge.start_trace(std::get<std::shared_ptr<const PacketFilter>>(f)); !err.empty())
    return reply_error(err);
  ctx_.bridge.sync();  // frames after this line is answered are traced
  auto ss = std::make_shared<TraceSession>(s, io_, json);
  // The client says nothing more: a completed read means it hung up.
  ss->sock->async_read_some(asio::buffer(ss->probe), [this, ss](const boost::system::error_code&, std::size_t) {
    finish_trace(ss);
  });
  pump_trace(ss);
}

void ControlServer::finish_trace(const std::shared_ptr<TraceSession>& ss) {
  if (ss->done) return;
  ss->done = true;
  ctx_.bridge.stop_trace();
  ss->timer.cancel();
  boost::system::error_code ec;
  ss->sock->close(ec);
}

void ControlServer::pump_trace(const std::shared_ptr<TraceSession>& ss) {
  if (ss->done) return;
  auto text = std::make_shared<std::string>();
  auto policy = ctx_.slot.current();
  ctx_.bridge.drain_trace([&](const FrameOutcome& o) {
    *text += ss->json ? trace_json(o, ctx_.ports, *policy) + "\n" : trace_text(o, ctx_.ports, *policy) + "\n";
  });
  auto next = [this, ss] {
    ss->timer.expires_after(std::chrono::milliseconds(50));
    ss->timer.async_wait([this, ss](const boost::system::error_code& ec) {
      if (!ec) pump_trace(ss);
    });
  };
  if (text->empty()) return next();
  asio::async_write(*ss->sock, asio::buffer(*text), [this, ss, text, next](const boost::system::error_code& ec, std::size_t) {
    if (ec) return finish_trace(ss);
    next();
  });
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
      if (line.rfind("trace", 0) == 0) {
        start_trace_session(s, line);
        return;
      }
      auto answer = std::make_shared<std::string>(handle(line) + "\n");
      asio::async_write(*s, asio::buffer(*answer), [s, answer](const boost::system::error_code&, std::size_t) {});
    });
    accept();
  });
}

}  // namespace tapwall::control
