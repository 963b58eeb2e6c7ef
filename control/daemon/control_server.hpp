// ControlServer: the Unix control socket of a running bridge, served with Boost.Asio on the
// control thread. One request line per connection (e.g. "show ports", "reload --dry-run
// FILE"); the answer is one JSON document (schema in the README), or for `trace` a stream
// of JSON lines until the client hangs up.
// Invariants: the socket is created mode 0600 (root only) and removed on close(); a
// request never blocks the data path for longer than one worker round (queries that need
// the worker's tables run there via Bridge::call).
// Thread-safety: all handlers run on the Asio thread.
#pragma once

#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tapwall/bridge.hpp"
#include "tapwall/drop_recorder.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

struct ReloadResult {
  bool ok = false;
  std::string error;                                // file:line:column message when !ok
  std::shared_ptr<const CompiledPolicy> policy;     // the compiled new policy when ok
};

struct ControlContext {
  Bridge& bridge;
  PolicySlot& slot;
  std::vector<PortDesc> ports;
  DropRecorder* drops;
  // Compile FILE ("" = the files the bridge was started with); apply unless dry_run.
  std::function<ReloadResult(const std::string& file, bool dry_run)> reload;
};

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, ControlContext ctx);
  ~ControlServer();
  std::string listen(const std::string& path);  // "" or an error
  void close();
  // Answer one request line (also used by tests without a socket).
  std::string handle(const std::string& request);

 private:
  struct TraceSession {
    TraceSession(std::shared_ptr<boost::asio::local::stream_protocol::socket> s,
                 boost::asio::io_context& io, bool j)
        : sock(std::move(s)), timer(io), json(j) {}
    std::shared_ptr<boost::asio::local::stream_protocol::socket> sock;
    boost::asio::steady_timer timer;
    bool json;
    bool done = false;
    char probe[1];
  };
  void accept();
  void pump_trace(const std::shared_ptr<TraceSession>& ss);
  void finish_trace(const std::shared_ptr<TraceSession>& ss);
  void start_trace_session(std::shared_ptr<boost::asio::local::stream_protocol::socket> s,
                           const std::string& line);
  boost::asio::io_context& io_;
  ControlContext ctx_;
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::string path_;
};

}  // namespace tapwall::control
