// Field-by-field comparison (see rule_equal.hpp). The shared structs carry no operator==,
// so each match kind is compared here, once.
#include "rule_equal.hpp"

namespace tapwall::control {
namespace {

bool eq(const Cidr& a, const Cidr& b) { return a.addr == b.addr && a.prefix == b.prefix; }
bool eq(const AddrMatch& a, const AddrMatch& b) {
  return a.field == b.field && a.negated == b.negated && eq(a.cidr, b.cidr);
}
bool eq(const PortMatch& a, const PortMatch& b) {
  if (a.field != b.field || a.negated != b.negated || a.ranges.size() != b.ranges.size()) return false;
  for (size_t i = 0; i < a.ranges.size(); ++i)
    if (a.ranges[i].lo != b.ranges[i].lo || a.ranges[i].hi != b.ranges[i].hi) return false;
  return true;
}
bool eq(const IcmpTypeMatch& a, const IcmpTypeMatch& b) {
  if (a.any_type || b.any_type) return a.any_type == b.any_type && a.negated == b.negated;
  return a.type == b.type && a.code_lo == b.code_lo && a.code_hi == b.code_hi && a.negated == b.negated;
}
bool eq(const StateMatch& a, const StateMatch& b) { return a.mask == b.mask && a.negated == b.negated; }
bool eq(const std::optional<IfacePattern>& a, const std::optional<IfacePattern>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->name == b->name && a->wildcard == b->wildcard);
}
bool eq(const PhysdevMatch& a, const PhysdevMatch& b) {
  return eq(a.in, b.in) && eq(a.out, b.out) && a.in_negated == b.in_negated &&
         a.out_negated == b.out_negated && a.is_bridged == b.is_bridged && a.is_in == b.is_in &&
         a.is_out == b.is_out;
}
bool eq(const MacMatch& a, const MacMatch& b) { return a.mac == b.mac && a.negated == b.negated; }
bool eq(const TcpFlagsMatch& a, const TcpFlagsMatch& b) {
  return a.mask == b.mask && a.comp == b.comp && a.negated == b.negated;
}
bool eq(const FragmentMatch& a, const FragmentMatch& b) { return a.negated == b.negated; }
bool eq(const LimitMatch& a, const LimitMatch& b) { return a.avg == b.avg && a.burst == b.burst; }
bool eq(const PktTypeMatch& a, const PktTypeMatch& b) {
  return a.type == b.type && a.negated == b.negated;
}
bool eq(const LengthMatch& a, const LengthMatch& b) {
  return a.lo == b.lo && a.hi == b.hi && a.negated == b.negated;
}
bool eq(const IfaceMatch& a, const IfaceMatch& b) {
  return a.out == b.out && a.iface.name == b.iface.name && a.iface.wildcard == b.iface.wildcard &&
         a.negated == b.negated;
}
bool eq(const AddrRangeMatch& a, const AddrRangeMatch& b) {
  return a.field == b.field && a.lo == b.lo && a.hi == b.hi && a.negated == b.negated;
}

bool eq(const Match& a, const Match& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) { return eq(x, std::get<std::decay_t<decltype(x)>>(b)); }, a);
}

}  // namespace

bool same_rule(const Rule& a, const Rule& b) {
  if (!a.host_only.empty() || !b.host_only.empty()) return false;  // never interpreted
  if (a.proto.has_value() != b.proto.has_value()) return false;
  if (a.proto && (a.proto->proto != b.proto->proto || a.proto->negated != b.proto->negated)) return false;
  if (a.matches.size() != b.matches.size()) return false;
  for (size_t i = 0; i < a.matches.size(); ++i)
    if (!eq(a.matches[i], b.matches[i])) return false;
  return a.target == b.target && a.jump_chain == b.jump_chain && a.log_prefix == b.log_prefix &&
         a.reject_with == b.reject_with && a.comment == b.comment;
}

}  // namespace tapwall::control
