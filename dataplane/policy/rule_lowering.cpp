// Rule lowering (see rule_lowering.hpp).
// Field encodings: protocol 0..255; addresses as host-order integers (IPv4 32-bit, IPv6
// 128-bit); ports 0..65535 (absent 65536 when the packet has no TCP/UDP header); ICMP
// type<<8|code (absent: not an ICMP/ICMPv6 packet of this family with a valid header);
// TCP flags byte (absent: not TCP); ct_index(); port ids 0..nports-1, nports = unknown;
// MAC index 0..mac_count-1, mac_count = other; fragment 1 = non-first fragment.
// Thread-safety: pure.
#include "rule_lowering.hpp"

#include <type_traits>
#include <variant>

namespace tapwall::policy {

namespace {

constexpr U128 kAllOnes128 = ~U128{0};

ConfigError error_at(const Rule& r, std::string message) {
  ConfigError e;
  e.path = r.loc.path;
  e.line = r.loc.line;
  e.token = r.text;
  e.message = std::move(message);
  return e;
}

IntervalList maybe_negate(IntervalList set, bool negated, U128 max) {
  set = normalize(std::move(set));
  return negated ? complement(set, max) : set;
}

IntervalList from_predicate(U128 max, auto pred) {
  IntervalList out;
  for (uint32_t v = 0; v <= uint32_t(max); ++v)
    if (pred(v)) out.push_back({v, v});
  return normalize(std::move(out));
}

U128 ip_value(const IpAddr& a, Family f) {
  if (f == Family::Ipv4) return a.v4_host();
  U128 v = 0;
  for (uint8_t b : a.b) v = (v << 8) | b;
  return v;
}

}  // namespace

U128 dim_max(Dim d, const LoweringContext& cx) {
  switch (d) {
    case kDimProto: return 255;
    case kDimSrc:
    case kDimDst: return cx.family == Family::Ipv4 ? U128{0xffffffffu} : kAllOnes128;
    case kDimSport:
    case kDimDport:
    case kDimIcmp: return 65535;
    case kDimTcpFlags: return 255;
    case kDimCt: return kCtIndexCount - 1;
    case kDimIn:
    case kDimOut: return cx.port_names.size();
    case kDimMac: return cx.mac_count;
    case kDimFrag: return 1;
    case kDimCount: break;
  }
  return 0;
}

std::optional<ConfigError> lower_rule(const Rule& rule, uint32_t bit, LoweringContext& cx,
                                      std::vector<DimConstraint> (&out)[kDimCount],
                                      std::vector<EitherAux>& aux) {
  auto add = [&](Dim d, IntervalList set, uint32_t b) { out[d].push_back({b, std::move(set)}); };
  const U128 port_max = 65535;

  if (rule.proto)
    add(kDimProto, maybe_negate({{rule.proto->proto, rule.proto->proto}}, rule.proto->negated, 255),
        bit);

  for (const Match& m : rule.matches) {
    std::optional<ConfigError> err;
    std::visit(
        [&](const auto& mm) {
          using T = std::decay_t<decltype(mm)>;
          if constexpr (std::is_same_v<T, AddrMatch>) {
            const unsigned width = cx.family == Family::Ipv4 ? 32 : 128;
            if (cx.family == Family::Ipv4 && !mm.cidr.addr.is_v4_mapped()) {
              err = error_at(rule, "IPv6 address in an IPv4 rule");
              return;
            }
            if (mm.cidr.prefix > width) {
              err = error_at(rule, "prefix length too long");
              return;
            }
            U128 v = ip_value(mm.cidr.addr, cx.family);
            U128 host = mm.cidr.prefix == 0 ? dim_max(kDimSrc, cx)
                                            : (U128{1} << (width - mm.cidr.prefix)) - 1;
            U128 lo = v & ~host, hi = lo | host;
            add(mm.field == AddrMatch::Field::Src ? kDimSrc : kDimDst,
                maybe_negate({{lo, hi}}, mm.negated, dim_max(kDimSrc, cx)), bit);
          } else if constexpr (std::is_same_v<T, AddrRangeMatch>) {
            if (cx.family == Family::Ipv4 && !(mm.lo.is_v4_mapped() && mm.hi.is_v4_mapped())) {
              err = error_at(rule, "IPv6 address in an IPv4 rule");
              return;
            }
            const U128 lo = ip_value(mm.lo, cx.family), hi = ip_value(mm.hi, cx.family);
            add(mm.field == AddrMatch::Field::Src ? kDimSrc : kDimDst,
                maybe_negate(lo <= hi ? IntervalList{{lo, hi}} : IntervalList{}, mm.negated,
                             dim_max(kDimSrc, cx)),
                bit);
          } else if constexpr (std::is_same_v<T, PortMatch>) {
            IntervalList set;
            for (const PortRange& r : mm.ranges) {
              if (r.lo > r.hi) {
                err = error_at(rule, "port range with lo > hi");
                return;
              }
              set.push_back({r.lo, r.hi});
            }
            set = normalize(std::move(set));
            if (mm.field == PortMatch::Field::Either) {
              // Disjunction across dimensions: "has ports" on both, the predicate on an
              // aux bit per dimension, combined on a memo miss (EitherAux).
              add(kDimSport, {{0, port_max}}, bit);
              add(kDimDport, {{0, port_max}}, bit);
              uint32_t a = cx.next_aux_bit++;
              add(kDimSport, set, a);
              add(kDimDport, set, a);
              aux.push_back({bit, a, mm.negated});
            } else {
              add(mm.field == PortMatch::Field::Src ? kDimSport : kDimDport,
                  mm.negated ? complement(set, port_max) : set, bit);
            }
          } else if constexpr (std::is_same_v<T, IcmpTypeMatch>) {
            IntervalList set;
            if (mm.any_type) {
              set.push_back({0, port_max});
            } else if (mm.code_lo <= mm.code_hi) {
              set.push_back({U128(mm.type) << 8 | mm.code_lo, U128(mm.type) << 8 | mm.code_hi});
            }
            add(kDimIcmp, maybe_negate(std::move(set), mm.negated, port_max), bit);
          } else if constexpr (std::is_same_v<T, StateMatch>) {
            IntervalList set = from_predicate(kCtIndexCount - 1, [&](uint32_t idx) {
              return idx != 0 && (mm.mask & (1u << (idx - 1))) != 0;
            });
            add(kDimCt, mm.negated ? complement(set, kCtIndexCount - 1) : set, bit);
          } else if constexpr (std::is_same_v<T, PhysdevMatch>) {
            const U128 pmax = dim_max(kDimIn, cx);
            auto name_of = [&](uint32_t idx) -> const std::string& {
              static const std::string kEmpty;
              return idx < cx.port_names.size() ? cx.port_names[idx] : kEmpty;
            };
            if (mm.in)
              add(kDimIn, from_predicate(pmax, [&](uint32_t p) {
                    return mm.in->matches(name_of(p)) != mm.in_negated;
                  }), bit);
            if (mm.out)
              add(kDimOut, from_predicate(pmax, [&](uint32_t p) {
                    return mm.out->matches(name_of(p)) != mm.out_negated;
                  }), bit);
            // Every judged packet is bridged, with an in and an out port: a negated
            // --physdev-is-* never matches.
            if ((mm.is_bridged && !*mm.is_bridged) || (mm.is_in && !*mm.is_in) ||
                (mm.is_out && !*mm.is_out))
              add(kDimIn, {}, bit);
          } else if constexpr (std::is_same_v<T, MacMatch>) {
            uint32_t idx = cx.mac_index.at(mm.mac.as_u64());
            add(kDimMac, maybe_negate({{idx, idx}}, mm.negated, cx.mac_count), bit);
          } else if constexpr (std::is_same_v<T, TcpFlagsMatch>) {
            add(kDimTcpFlags, from_predicate(255, [&](uint32_t f) {
                  return ((f & mm.mask) == mm.comp) != mm.negated;
                }), bit);
          } else if constexpr (std::is_same_v<T, IfaceMatch>) {
            // The same for every bridged frame: no constraint, or one nothing satisfies.
            if (mm.iface.matches(cx.bridge_name) == mm.negated) add(kDimIn, {}, bit);
          } else if constexpr (std::is_same_v<T, FragmentMatch>) {
            add(kDimFrag, mm.negated ? IntervalList{{0, 0}} : IntervalList{{1, 1}}, bit);
          }
        },
        m);
    if (err) return err;
  }
  return std::nullopt;
}

}  // namespace tapwall::policy
