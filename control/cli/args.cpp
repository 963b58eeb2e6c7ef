// Args implementation: accepts `--name value` and `--name=value`.
#include "args.hpp"

#include <charconv>

namespace tapwall::control {

bool Args::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    auto it = spec_.find(name);
    if (it == spec_.end()) {
      error_ = "unknown option " + name;
      return false;
    }
    if (it->second == kFlag) {
      if (inline_value) {
        error_ = name + " takes no value";
        return false;
      }
      values_[name].push_back("");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        error_ = name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    auto& v = values_[name];
    if (it->second == kOne && !v.empty()) {
      error_ = name + " given more than once";
      return false;
    }
    v.push_back(value);
  }
  return true;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<uint64_t> parse_count(std::string_view s, uint64_t max) {
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc{} || p != end || v > max) return std::nullopt;
  return v;
}

}  // namespace tapwall::control
