// MetricsServer: the bridge's counters in Prometheus text format over HTTP, on a loopback
// address only, served by the control thread's io_context. Off unless --metrics is given.
// Invariants: binds only to 127.0.0.1 / ::1 (an address elsewhere is refused); every
// request gets the same document (any path), one request per connection.
// Thread-safety: handlers run on the Asio thread; reads counters via Bridge::stats().
#pragma once

#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tapwall/bridge.hpp"
#include "tapwall/drop_recorder.hpp"

namespace tapwall::control {

class MetricsServer {
 public:
  MetricsServer(boost::asio::io_context& io, const Bridge& bridge, const PolicySlot& slot,
                std::vector<PortDesc> ports, const DropRecorder* drops);
  // spec: "PORT" or "127.0.0.1:PORT" or "[::1]:PORT". Returns "" or an error.
  std::string listen(const std::string& spec);
  std::string render() const;  // the Prometheus text document

 private:
  void accept();
  boost::asio::io_context& io_;
  const Bridge& bridge_;
  const PolicySlot& slot_;
  std::vector<PortDesc> ports_;
  const DropRecorder* drops_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

}  // namespace tapwall::control
