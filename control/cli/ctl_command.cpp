// `tapwall ctl`: a client of the control socket. Sends one request line, prints the JSON
// answer (--json) or renders it as tables for people.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "args.hpp"
#include "cli.hpp"

namespace tapwall::control {

namespace {

constexpr const char* kCtlUsage =
    "usage: tapwall ctl [--control PATH] [--json] COMMAND\n"
    "commands:\n"
    "  show ports       frames/bytes in and out, drops by reason, kernel ring drops,\n"
    "                   frames received truncated\n"
    "  show macs        the MAC table: station, VLAN, port, age (like brctl showmacs)\n"
    "  show conntrack   tracked flows: state, timeout, counters (like conntrack -L)\n"
    "  show rules       the policy with per-rule packet/byte counters (like iptables -L -v)\n"
    "  show drops       drops per reason and per rule, and the drop recorder's counters\n"
    "  reload [FILE]    reload the rules (atomically; on error the running policy stays)\n"
    "  reload --dry-run FILE   report the tracked flows the new rules would change\n"
    "  dump start [FILTER]     also record accepted frames matching a pcap filter (--drops DIR)\n"
    "  dump stop\n"
    "  trace FILTER     stream the path of each live frame matching a pcap filter expression:\n"
    "                   decode, L2, ct state, every rule tried, verdict per port\n"
    "                   [--count N] stop after N frames, [--seconds S] stop after S seconds\n";

// Sends `request`, returns the whole answer; "" with `err` set on failure.
std::string roundtrip(const std::string& path, const std::string& request, std::string& err) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    err = "socket path too long";
    return {};
  }
  std::copy(path.begin(), path.end(), sa.sun_path);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    err = "cannot connect to " + path + ": " + std::string(strerror(errno)) +
          " (is tapwall run running? are you root?)";
    if (fd >= 0) ::close(fd);
    return {};
  }
  std::string line = request + "\n";
  if (::write(fd, line.data(), line.size()) != ssize_t(line.size())) {
    err = "write failed";
    ::close(fd);
    return {};
  }
  std::string answer;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) answer.append(buf, std::size_t(n));
  ::close(fd);
  return answer;
}

std::string cell(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_object() && v.empty()) return "-";
  if (v.is_object()) {
    std::string s;
    for (auto& [k, x] : v.items()) s += (s.empty() ? "" : " ") + k + "=" + cell(x);
    return s;
  }
  return v.dump();
}

// A list of flat objects as an aligned table, columns in the objects' key order.
void print_table(const nlohmann::ordered_json& rows) {
  if (rows.empty()) {
    std::cout << "(none)\n";
    return;
  }
  std::vector<std::string> cols;
  for (auto& [k, v] : rows.front().items()) cols.push_back(k);
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width(cols.size());
  for (std::size_t c = 0; c < cols.size(); ++c) width[c] = cols[c].size();
  for (const auto& r : rows) {
    auto& line = cells.emplace_back();
    for (std::size_t c = 0; c < cols.size(); ++c) {
      line.push_back(r.contains(cols[c]) ? cell(r[cols[c]]) : "");
      if (c + 1 < cols.size()) width[c] = std::max(width[c], line.back().size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& v) {
    for (std::size_t c = 0; c < v.size(); ++c) {
      std::cout << v[c];
      if (c + 1 < v.size()) std::cout << std::string(width[c] - v[c].size() + 2, ' ');
    }
    std::cout << "\n";
  };
  print_row(cols);
  for (const auto& l : cells) print_row(l);
}

void render(const nlohmann::ordered_json& doc) {
  for (auto& [key, value] : doc.items()) {
    if (key == "ok") continue;
    if (value.is_array() && !value.empty() && value.front().is_object() &&
        !value.front().contains("changes")) {
      std::cout << key << ":\n";
      print_table(value);
    } else if (value.is_array() && key == "changes") {
      std::cout << "flows whose verdict would change: " << value.size() << "\n";
      for (const auto& f : value) {
        std::cout << "  " << cell(f["flow"]) << "\n";
        for (const auto& c : f["changes"]) std::cout << "    " << cell(c) << "\n";
      }
    } else {
      std::cout << key << ": " << cell(value) << "\n";
    }
  }
}

}  // namespace

// Streams a trace: prints what arrives until the server closes, N frames were shown, or
// the time is up.
int stream_trace(const std::string& path, const std::string& request, long count, long seconds) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::copy(path.begin(), path.begin() + std::min(path.size(), sizeof sa.sun_path - 1), sa.sun_path);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::cerr << "tapwall ctl: cannot connect to " << path << ": " << strerror(errno) << "\n";
    if (fd >= 0) ::close(fd);
    return kExitFailure;
  }
  std::string line = request + "\n";
  if (::write(fd, line.data(), line.size()) != ssize_t(line.size())) {
    ::close(fd);
    return kExitFailure;
  }
  if (seconds > 0) {
    timeval tv{seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  const bool json = request.find("--json") != std::string::npos;
  long frames = 0;
  std::string pending;
  char buf[65536];
  int rc = kExitOk;
  for (ssize_t n; (count <= 0 || frames < count) && (n = ::read(fd, buf, sizeof buf)) > 0;) {
    pending.append(buf, std::size_t(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos && (count <= 0 || frames < count)) {
      std::string l = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (l.rfind("{\"ok\":false", 0) == 0) {
        std::cerr << "tapwall ctl: " << l << "\n";
        rc = kExitFailure;
        continue;
      }
      // A frame is one JSON line, or in text form a block ended by a blank line.
      std::cout << l << "\n" << std::flush;
      if (json || l.empty()) ++frames;
    }
  }
  ::close(fd);
  return rc;
}

int ctl_main(int argc, char** argv) {
  Args a;
  a.option("--control");
  a.flag("--json");
  a.flag("--help");
  a.flag("--dry-run");
  a.option("--count");
  a.option("--seconds");
  if (!a.parse(argc, argv, 2)) {
    std::cerr << "tapwall ctl: " << a.error() << "\n" << kCtlUsage;
    return kExitUsage;
  }
  if (a.has("--help") || a.positional().empty()) {
    (a.has("--help") ? std::cout : std::cerr) << kCtlUsage;
    return a.has("--help") ? kExitOk : kExitUsage;
  }
  std::string request;
  for (const auto& w : a.positional()) request += (request.empty() ? "" : " ") + w;
  if (a.has("--dry-run")) request += " --dry-run";
  const std::string path = a.get("--control").value_or("/run/tapwall.sock");
  if (a.positional().front() == "trace") {
    if (a.has("--json")) request = "trace --json" + request.substr(5);
    long count = std::stol(a.get("--count").value_or("0"));
    long seconds = std::stol(a.get("--seconds").value_or("0"));
    return stream_trace(path, request, count, seconds);
  }
  std::string err;
  std::string answer = roundtrip(path, request, err);
  if (!err.empty()) {
    std::cerr << "tapwall ctl: " << err << "\n";
    return kExitFailure;
  }
  auto doc = nlohmann::ordered_json::parse(answer, nullptr, false);
  if (doc.is_discarded()) {
    std::cerr << "tapwall ctl: malformed answer: " << answer << "\n";
    return kExitFailure;
  }
  bool ok = doc.value("ok", false);
  if (a.has("--json")) {
    std::cout << answer;
  } else if (!ok) {
    std::cerr << "tapwall ctl: " << doc.value("error", std::string("failed")) << "\n";
  } else {
    render(doc);
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace tapwall::control
