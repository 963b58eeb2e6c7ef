// MergedCaptures implementation.
#include "merged_captures.hpp"

namespace tapwall::control {

void MergedCaptures::Input::advance() {
  CapturedFrame f;
  has_next = reader->next(f);
  consumed = false;
  if (!has_next) return;
  ++number;
  ts_ns = f.ts_ns;
  bytes.assign(f.bytes.begin(), f.bytes.end());
}

std::string MergedCaptures::open(const std::vector<std::string>& specs,
                                 const std::vector<PortDesc>& ports, bool& file_error) {
  file_error = false;
  for (const std::string& spec : specs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) return "--in wants NAME=FILE, got '" + spec + "'";
    std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
    Input in;
    for (std::size_t p = 0; p < ports.size(); ++p)
      if (ports[p].name == name) in.port = static_cast<PortId>(p);
    if (in.port == kNoPort) return "--in names port '" + name + "', which is not a port";
    auto r = CaptureReader::open(path);
    if (auto* e = std::get_if<std::string>(&r)) {
      file_error = true;
      return path + ": " + *e;
    }
    in.reader = std::move(std::get<std::unique_ptr<CaptureReader>>(r));
    in.advance();
    inputs_.push_back(std::move(in));
  }
  return {};
}

bool MergedCaptures::next(MergedFrame& out) {
  Input* best = nullptr;
  for (auto& in : inputs_) {
    if (in.consumed) in.advance();
    if (in.has_next && (!best || in.ts_ns < best->ts_ns)) best = &in;  // '<': earlier spec wins ties
  }
  if (!best) return false;
  best->consumed = true;
  out.bytes = best->bytes;
  out.port = best->port;
  out.ts_ns = best->ts_ns;
  out.input = static_cast<uint32_t>(best - inputs_.data());
  out.number = best->number;
  return true;
}

}  // namespace tapwall::control
