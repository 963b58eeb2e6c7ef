// Rule specification parser (see rule_spec.hpp). Mirrors how iptables resolves an option:
// first by the match modules loaded so far (newest first) and the target, then by loading
// tcp/udp/icmp/icmp6 implicitly from -p, as iptables does for `-p tcp --dport 80`.
#include "rule_spec.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "name_tables.hpp"
#include "values.hpp"

namespace tapwall::control {
namespace {

enum class Mod : uint8_t {
  Tcp, Udp, Icmp, Icmp6, Multiport, State, Conntrack, Physdev, Mac, Iprange, Limit, Length,
  PktType, Comment, Reject, Log
};

std::string_view mod_name(Mod m) {
  switch (m) {
    case Mod::Tcp: return "tcp";
    case Mod::Udp: return "udp";
    case Mod::Icmp: return "icmp";
    case Mod::Icmp6: return "icmp6";
    case Mod::Multiport: return "multiport";
    case Mod::State: return "state";
    case Mod::Conntrack: return "conntrack";
    case Mod::Physdev: return "physdev";
    case Mod::Mac: return "mac";
    case Mod::Iprange: return "iprange";
    case Mod::Limit: return "limit";
    case Mod::Length: return "length";
    case Mod::PktType: return "pkttype";
    case Mod::Comment: return "comment";
    case Mod::Reject: return "REJECT";
    case Mod::Log: return "LOG";
  }
  return "";
}

constexpr std::array<std::pair<std::string_view, Mod>, 14> kMatchModules{{
    {"tcp", Mod::Tcp}, {"udp", Mod::Udp}, {"icmp", Mod::Icmp}, {"icmp6", Mod::Icmp6},
    {"multiport", Mod::Multiport}, {"state", Mod::State}, {"conntrack", Mod::Conntrack},
    {"physdev", Mod::Physdev}, {"mac", Mod::Mac}, {"iprange", Mod::Iprange},
    {"limit", Mod::Limit}, {"length", Mod::Length}, {"pkttype", Mod::PktType},
    {"comment", Mod::Comment},
}};

// Kinds of option. A module instance takes each kind once (iptables: "Only one `--dport'
// allowed"); --syn and --tcp-flags are one kind, as both set the flags test.
enum class Opt : uint8_t {
  Sport, Dport, TcpFlags, IcmpType, Ports, State, PhysIn, PhysOut, PhysIsBridged, PhysIsIn,
  PhysIsOut, MacSource, SrcRange, DstRange, Limit, LimitBurst, Length, PktType, Comment,
  RejectWith, LogPrefix, LogLevel, LogFlag, Unsupported
};

struct OptDef {
  std::string_view name;
  Mod owner;
  Opt opt;
  bool negatable;
  PortMatch::Field field = PortMatch::Field::Dst;  // for port options
  bool syn = false;                                // --syn: fixed --tcp-flags
};

using F = PortMatch::Field;
constexpr std::array<OptDef, 53> kOptions{{
    {"--sport", Mod::Tcp, Opt::Sport, true, F::Src},
    {"--source-port", Mod::Tcp, Opt::Sport, true, F::Src},
    {"--dport", Mod::Tcp, Opt::Dport, true, F::Dst},
    {"--destination-port", Mod::Tcp, Opt::Dport, true, F::Dst},
    {"--syn", Mod::Tcp, Opt::TcpFlags, true, F::Dst, true},
    {"--tcp-flags", Mod::Tcp, Opt::TcpFlags, true},
    {"--tcp-option", Mod::Tcp, Opt::Unsupported, true},
    {"--sport", Mod::Udp, Opt::Sport, true, F::Src},
    {"--source-port", Mod::Udp, Opt::Sport, true, F::Src},
    {"--dport", Mod::Udp, Opt::Dport, true, F::Dst},
    {"--destination-port", Mod::Udp, Opt::Dport, true, F::Dst},
    {"--icmp-type", Mod::Icmp, Opt::IcmpType, true},
    {"--icmpv6-type", Mod::Icmp6, Opt::IcmpType, true},
    {"--sports", Mod::Multiport, Opt::Ports, true, F::Src},
    {"--source-ports", Mod::Multiport, Opt::Ports, true, F::Src},
    {"--dports", Mod::Multiport, Opt::Ports, true, F::Dst},
    {"--destination-ports", Mod::Multiport, Opt::Ports, true, F::Dst},
    {"--ports", Mod::Multiport, Opt::Ports, true, F::Either},
    {"--state", Mod::State, Opt::State, true},
    {"--ctstate", Mod::Conntrack, Opt::State, true},
    {"--ctproto", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctorigsrc", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctorigdst", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctreplsrc", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctrepldst", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctorigsrcport", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctorigdstport", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctreplsrcport", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctrepldstport", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctstatus", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctexpire", Mod::Conntrack, Opt::Unsupported, true},
    {"--ctdir", Mod::Conntrack, Opt::Unsupported, true},
    {"--physdev-in", Mod::Physdev, Opt::PhysIn, true},
    {"--physdev-out", Mod::Physdev, Opt::PhysOut, true},
    {"--physdev-is-bridged", Mod::Physdev, Opt::PhysIsBridged, true},
    {"--physdev-is-in", Mod::Physdev, Opt::PhysIsIn, true},
    {"--physdev-is-out", Mod::Physdev, Opt::PhysIsOut, true},
    {"--mac-source", Mod::Mac, Opt::MacSource, true},
    {"--src-range", Mod::Iprange, Opt::SrcRange, true},
    {"--dst-range", Mod::Iprange, Opt::DstRange, true},
    {"--limit", Mod::Limit, Opt::Limit, false},  // "limit does not support invert"
    {"--limit-burst", Mod::Limit, Opt::LimitBurst, false},
    {"--length", Mod::Length, Opt::Length, true},
    {"--pkt-type", Mod::PktType, Opt::PktType, true},
    {"--comment", Mod::Comment, Opt::Comment, false},
    {"--reject-with", Mod::Reject, Opt::RejectWith, false},
    {"--log-prefix", Mod::Log, Opt::LogPrefix, false},
    {"--log-level", Mod::Log, Opt::LogLevel, false},
    // These only change what the kernel writes into its log line; tapwall's log record
    // always carries the full frame, so they are accepted and have no further effect.
    {"--log-tcp-sequence", Mod::Log, Opt::LogFlag, false},
    {"--log-tcp-options", Mod::Log, Opt::LogFlag, false},
    {"--log-ip-options", Mod::Log, Opt::LogFlag, false},
    {"--log-uid", Mod::Log, Opt::LogFlag, false},
    {"--log-macdecode", Mod::Log, Opt::LogFlag, false},
}};

constexpr std::array<std::string_view, 40> kUnsupportedTargets{{
    "QUEUE", "NFQUEUE", "NFLOG", "ULOG", "MASQUERADE", "SNAT", "DNAT", "REDIRECT", "NETMAP",
    "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "TEE", "TCPMSS", "TOS", "DSCP", "TTL", "HL",
    "CLASSIFY", "SET", "AUDIT", "CHECKSUM", "IDLETIMER", "LED", "SECMARK", "CONNSECMARK",
    "SYNPROXY", "CLUSTERIP", "ECN", "HMARK", "RATEEST", "TPROXY", "TCPOPTSTRIP", "CONNLIMIT",
    "DHCPMAC", "IPMARK", "LOGMARK", "SYSRQ",
}};

struct ModInst {
  Mod mod;
  Token tok;  // the -m argument, the option that loaded it implicitly, or the -j argument
  uint32_t seen = 0;
  size_t match_index = 0;  // physdev, limit: its match within Rule::matches
  bool has(Opt o) const { return seen & (1u << unsigned(o)); }
};

class SpecParser {
 public:
  SpecParser(std::span<const Token> toks, const RuleSpecContext& ctx) : toks_(toks), ctx_(ctx) {
    rule_.loc = ctx.loc;
    rule_.text = ctx.text;
  }

  std::variant<ParsedRule, ConfigError> run() {
    while (pos_ < toks_.size())
      if (auto err = step()) return *err;
    if (auto err = finish()) return *err;
    return expand();
  }

 private:
  bool v4() const { return ctx_.family == Family::Ipv4; }

  ConfigError error(const Token& t, std::string msg) const {
    return ConfigError{ctx_.path, t.line, t.column, t.text, std::move(msg)};
  }
  // Valid iptables that tapwall does not implement.
  ConfigError unsupported(const Token& t, std::string msg) const {
    ConfigError e = error(t, std::move(msg));
    e.unsupported = true;
    return e;
  }

  bool proto_is(uint8_t p) const { return rule_.proto && rule_.proto->proto == p && !rule_.proto->negated; }

  // The argument of option `opt`; iptables' pre-1.4 "-s ! x" placement is rejected.
  std::optional<ConfigError> take_value(const Token& opt, const Token*& value) {
    if (pos_ >= toks_.size()) return error(opt, "option " + opt.text + " requires an argument");
    value = &toks_[pos_++];
    if (value->text == "!" && !value->quoted)
      return error(*value, "'" + opt.text + " !' is iptables' old syntax and is not supported; write '! " +
                               opt.text + " ...'");
    return std::nullopt;
  }

  // An option a rule may hold once (-p, -s, -d, -i, -o): remembered in `seen`.
  std::optional<ConfigError> once(std::optional<Token>& seen, const Token& t, const char* flag) {
    if (seen) return error(t, std::string("multiple ") + flag + " flags not allowed");
    seen = t;
    return std::nullopt;
  }

  // A negatable option's pending '!' and its argument.
  std::optional<ConfigError> take_neg_value(const Token& opt, bool& negated, const Token*& value) {
    if (auto e = take_neg(opt, true, negated)) return e;
    return take_value(opt, value);
  }

  std::optional<ConfigError> take_neg(const Token& opt, bool allowed, bool& negated) {
    negated = neg_.has_value();
    if (negated && !allowed) return error(opt, "'!' cannot be applied to " + opt.text);
    neg_.reset();
    return std::nullopt;
  }

  std::optional<ConfigError> step() {
    const Token& t = toks_[pos_++];
    const std::string& s = t.text;
    if (t.op) return error(t, "shell operator '" + s + "' is not supported in a rule");
    if (s == "!" && !t.quoted) {
      if (neg_) return error(t, "'!' may appear only once before an option");
      neg_ = t;
      return std::nullopt;
    }
    if (s == "-p" || s == "--protocol") return on_proto(t);
    if (s == "-s" || s == "--source" || s == "--src") return on_addr(t, AddrMatch::Field::Src);
    if (s == "-d" || s == "--destination" || s == "--dst") return on_addr(t, AddrMatch::Field::Dst);
    if (s == "-i" || s == "--in-interface") return on_iface(t, false);
    if (s == "-o" || s == "--out-interface") return on_iface(t, true);
    if (s == "-f" || s == "--fragment") return on_fragment(t);
    if (s == "-m" || s == "--match") return on_match(t);
    if (s == "-j" || s == "--jump") return on_target(t, false);
    if (s == "-g" || s == "--goto") return on_target(t, true);
    if (s == "-c" || s == "--set-counters") return on_counters(t);
    if (s == "-w" || s == "--wait") {  // xtables lock wait: no meaning when parsing a file
      if (pos_ < toks_.size() && !failed(parse_uint(toks_[pos_].text, 0, 1u << 30))) ++pos_;
      return no_neg(t);
    }
    if (s == "-v" || s == "--verbose") return no_neg(t);
    if (s.size() > 2 && s[0] == '-' && s[1] == '-') return on_option(t);
    if (!s.empty() && s[0] == '-') return unsupported(t, "unsupported option '" + s + "'");
    return error(t, "unexpected argument '" + s + "'");
  }

  std::optional<ConfigError> no_neg(const Token& t) {
    bool negated = false;
    return take_neg(t, false, negated);
  }

  std::optional<ConfigError> on_proto(const Token& t) {
    if (auto e = once(proto_tok_, t, "-p")) return e;
    bool negated = false;
    const Token* v = nullptr;
    if (auto e = take_neg_value(t, negated, v)) return e;
    auto p = parse_protocol(v->text);
    if (failed(p)) return error(*v, std::get<std::string>(p));
    const uint8_t proto = std::get<uint8_t>(p);
    if (proto == 0) {
      if (negated) return error(*v, "'! -p " + v->text + "' would never match");
      return std::nullopt;  // "all": no protocol match
    }
    if (proto == kProtoIcmp && !v4())
      return error(*v, "-p " + v->text + " (IPv4 ICMP) in an IPv6 rules file; use -p ipv6-icmp");
    if (proto == kProtoIcmpv6 && v4())
      return error(*v, "-p " + v->text + " (ICMPv6) in an IPv4 rules file; use -p icmp");
    rule_.proto = ProtoMatch{proto, negated};
    return std::nullopt;
  }

  std::optional<ConfigError> on_addr(const Token& t, AddrMatch::Field field) {
    const bool src = field == AddrMatch::Field::Src;
    if (auto e = once(src ? src_tok_ : dst_tok_, t, src ? "-s" : "-d")) return e;
    bool negated = false;
    const Token* v = nullptr;
    if (auto e = take_neg_value(t, negated, v)) return e;
    auto list = parse_cidr_list(v->text, ctx_.family);
    if (failed(list)) return error(*v, std::get<std::string>(list));
    auto& cidrs = src ? srcs_ : dsts_;
    cidrs = std::get<std::vector<Cidr>>(list);
    if (negated && cidrs.size() > 1)
      return error(*v, "'!' cannot be used with a list of addresses");
    (src ? src_index_ : dst_index_) = rule_.matches.size();
    rule_.matches.push_back(AddrMatch{field, cidrs.front(), negated});
    return std::nullopt;
  }

  std::optional<ConfigError> on_iface(const Token& t, bool out) {
    if (auto e = once(out ? out_tok_ : in_tok_, t, out ? "-o" : "-i")) return e;
    bool negated = false;
    const Token* v = nullptr;
    if (auto e = take_neg_value(t, negated, v)) return e;
    auto p = parse_iface(v->text);
    if (failed(p)) return error(*v, std::get<std::string>(p));
    rule_.matches.push_back(IfaceMatch{out, std::get<IfacePattern>(p), negated});
    return std::nullopt;
  }

  std::optional<ConfigError> on_fragment(const Token& t) {
    if (!v4()) return error(t, t.text + " is IPv4 only (ip6tables has no -f; -m frag is not supported)");
    if (frag_seen_) return error(t, "multiple -f flags not allowed");
    frag_seen_ = true;
    bool negated = false;
    if (auto e = take_neg(t, true, negated)) return e;
    rule_.matches.push_back(FragmentMatch{negated});
    return std::nullopt;
  }

  std::optional<ConfigError> on_counters(const Token& t) {
    if (auto e = no_neg(t)) return e;
    for (int i = 0; i < 2; ++i) {
      const Token* v = nullptr;
      if (auto e = take_value(t, v)) return e;
      if (v->text.empty() || v->text.find_first_not_of("0123456789") != std::string::npos)
        return error(*v, "counter '" + v->text + "' is not a number");
    }
    return std::nullopt;
  }

  std::optional<ConfigError> on_match(const Token& t) {
    if (neg_) return error(*neg_, "'!' cannot be applied to " + t.text);
    const Token* v = nullptr;
    if (auto e = take_value(t, v)) return e;
    for (const auto& [name, mod] : kMatchModules) {
      if (v->text != name) continue;
      if (mod == Mod::Icmp && !v4()) return error(*v, "-m icmp is IPv4 only; ip6tables rules use -m icmp6");
      if (mod == Mod::Icmp6 && v4()) return error(*v, "-m icmp6 is IPv6 only; iptables rules use -m icmp");
      ModInst inst{mod, *v};
      if (mod == Mod::Physdev || mod == Mod::Limit) {  // options fill in one match
        inst.match_index = rule_.matches.size();
        if (mod == Mod::Physdev)
          rule_.matches.push_back(PhysdevMatch{});
        else
          rule_.matches.push_back(LimitMatch{});  // 3/hour, burst 5 until options say
        tag_module(inst.match_index, int(mods_.size()));
      }
      mods_.push_back(std::move(inst));
      return std::nullopt;
    }
    return unsupported(*v, "match module '" + v->text +
                         "' is not supported (supported: tcp, udp, icmp, icmp6, multiport, state, "
                         "conntrack, physdev, mac, iprange, limit, length, pkttype, comment)");
  }

  std::optional<ConfigError> on_target(const Token& t, bool go_to) {
    if (neg_) return error(*neg_, "'!' cannot be applied to " + t.text);
    if (target_tok_) return error(t, "multiple -j/-g flags not allowed");
    target_tok_ = t;
    const Token* v = nullptr;
    if (auto e = take_value(t, v)) return e;
    const std::string& name = v->text;
    if (name.empty()) return error(*v, "empty target name");
    if (go_to) {
      if (is_target_name(name)) return error(*v, "-g needs a user-defined chain, not the target '" + name + "'");
      rule_.target = TargetKind::Goto;
      rule_.jump_chain = name;
      chain_target_ = *v;
      return std::nullopt;
    }
    if (name == "ACCEPT") rule_.target = TargetKind::Accept;
    else if (name == "DROP") rule_.target = TargetKind::Drop;
    else if (name == "RETURN") rule_.target = TargetKind::Return;
    else if (name == "REJECT" || name == "LOG") {
      rule_.target = name == "LOG" ? TargetKind::Log : TargetKind::Reject;
      target_mod_ = ModInst{name == "LOG" ? Mod::Log : Mod::Reject, *v};
    } else if (is_target_name(name)) return unsupported(*v, "target '" + name + "' is not supported");
    else {
      rule_.target = TargetKind::Jump;
      rule_.jump_chain = name;
      chain_target_ = *v;
    }
    return std::nullopt;
  }

  std::optional<ConfigError> on_option(const Token& t) {
    const std::string& s = t.text;
    const OptDef* any = nullptr;
    bool tcp_udp = false, udp_has = false;
    for (const auto& d : kOptions) {
      if (d.name != s) continue;
      if (!any) any = &d;
      tcp_udp |= d.owner == Mod::Tcp || d.owner == Mod::Udp;
      udp_has |= d.owner == Mod::Udp;
    }
    if (!any) return unsupported(t, "unsupported option '" + s + "'");
    for (size_t i = mods_.size(); i-- > 0;)
      if (const OptDef* d = find(s, mods_[i].mod)) return apply(*d, mods_[i], t);
    if (target_mod_)
      if (const OptDef* d = find(s, target_mod_->mod)) return apply(*d, *target_mod_, t);
    if (tcp_udp) {
      const Mod want = proto_is(kProtoTcp) ? Mod::Tcp : Mod::Udp;
      const OptDef* d = proto_is(kProtoTcp) || proto_is(kProtoUdp) ? find(s, want) : nullptr;
      if (!d)
        return error(t, s + " requires -p tcp" + (udp_has ? std::string(" or -p udp") : std::string()) +
                            " before it");
      return load_implicit(want, *d, t);
    }
    if (any->owner == Mod::Icmp) {
      if (!v4()) return error(t, s + " is IPv4 only; ip6tables rules use -p ipv6-icmp --icmpv6-type");
      if (!proto_is(kProtoIcmp)) return error(t, s + " requires -p icmp before it");
      return load_implicit(Mod::Icmp, *any, t);
    }
    if (any->owner == Mod::Icmp6) {
      if (v4()) return error(t, s + " is IPv6 only; iptables rules use -p icmp --icmp-type");
      if (!proto_is(kProtoIcmpv6)) return error(t, s + " requires -p ipv6-icmp before it");
      return load_implicit(Mod::Icmp6, *any, t);
    }
    if (any->owner == Mod::Reject || any->owner == Mod::Log)
      return error(t, s + " is only valid after -j " + std::string(mod_name(any->owner)));
    return error(t, s + " requires -m " + std::string(mod_name(any->owner)) + " before it");
  }

  static const OptDef* find(std::string_view name, Mod owner) {
    for (const auto& d : kOptions)
      if (d.name == name && d.owner == owner) return &d;
    return nullptr;
  }

  std::optional<ConfigError> load_implicit(Mod mod, const OptDef& d, const Token& t) {
    mods_.push_back(ModInst{mod, t});
    return apply(d, mods_.back(), t);
  }

  std::optional<ConfigError> apply(const OptDef& d, ModInst& inst, const Token& t) {
    const size_t before = rule_.matches.size();
    auto e = apply_option(d, inst, t);
    const bool loaded = &inst >= mods_.data() && &inst < mods_.data() + mods_.size();
    tag_module(before, loaded ? int(&inst - mods_.data()) : int(mods_.size()));
    return e;
  }

  // The module instance (its index in mods_) of the matches from `first` on; untagged
  // matches (-s, -d, -i, -o, -f) stay -1.
  void tag_module(size_t first, int module) {
    module_of_match_.resize(rule_.matches.size(), -1);
    for (size_t i = first; i < rule_.matches.size(); ++i) module_of_match_[i] = module;
  }

  // iptables-nft tests a rule's addresses, interfaces and -f first, then each match
  // module's tests in the order the modules were loaded, and a limit spends a token on
  // every packet that reaches it: so a limit rule's matches are put in that order (seen
  // with `nft list ruleset` on the lab's iptables-nft: `-m limit -p tcp --dport 23` tests
  // the port after the limit). For a rule without a limit the order changes nothing.
  void order_for_limit() {
    bool limit = false;
    for (const Match& m : rule_.matches) limit |= std::holds_alternative<LimitMatch>(m);
    if (!limit) return;
    module_of_match_.resize(rule_.matches.size(), -1);
    std::vector<size_t> perm(rule_.matches.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    std::stable_sort(perm.begin(), perm.end(),
                     [&](size_t a, size_t b) { return module_of_match_[a] < module_of_match_[b]; });
    std::vector<Match> sorted;
    size_t src = src_index_, dst = dst_index_;
    for (size_t k = 0; k < perm.size(); ++k) {
      sorted.push_back(rule_.matches[perm[k]]);
      if (perm[k] == src_index_) src = k;
      if (perm[k] == dst_index_) dst = k;
    }
    rule_.matches = std::move(sorted);
    src_index_ = src;
    dst_index_ = dst;
  }

  std::optional<ConfigError> apply_option(const OptDef& d, ModInst& inst, const Token& t) {
    bool negated = false;
    if (auto e = take_neg(t, d.negatable, negated)) return e;
    if (d.opt == Opt::Unsupported)
      return unsupported(t, "option " + t.text + " of -m " + std::string(mod_name(inst.mod)) +
                                " is not supported");
    const uint32_t bit = 1u << unsigned(d.opt);
    if ((inst.seen & bit) && d.opt != Opt::LogFlag)
      return error(t, "only one " + t.text + " (or option of the same kind) allowed per " +
                          std::string(mod_name(inst.mod)) + " match");
    inst.seen |= bit;
    if (d.syn) {
      rule_.matches.push_back(TcpFlagsMatch{kTcpFin | kTcpSyn | kTcpRst | kTcpAck, kTcpSyn, negated});
      return std::nullopt;
    }
    if (d.opt == Opt::LogFlag) return std::nullopt;
    if (d.opt == Opt::PhysIsBridged || d.opt == Opt::PhysIsIn || d.opt == Opt::PhysIsOut) {
      auto& pm = std::get<PhysdevMatch>(rule_.matches[inst.match_index]);
      (d.opt == Opt::PhysIsBridged ? pm.is_bridged : d.opt == Opt::PhysIsIn ? pm.is_in : pm.is_out) = !negated;
      return std::nullopt;
    }
    const Token* v = nullptr;
    if (auto e = take_value(t, v)) return e;
    const std::string& val = v->text;
    switch (d.opt) {
      case Opt::Sport:
      case Opt::Dport: {
        auto r = parse_port_range(val);
        if (failed(r)) return error(*v, std::get<std::string>(r));
        rule_.matches.push_back(PortMatch{d.field, {std::get<PortRange>(r)}, negated});
        break;
      }
      case Opt::TcpFlags: {
        auto mask = parse_tcp_flag_list(val);
        if (failed(mask)) return error(*v, std::get<std::string>(mask));
        const Token* v2 = nullptr;
        if (auto e = take_value(t, v2)) return e;
        auto comp = parse_tcp_flag_list(v2->text);
        if (failed(comp)) return error(*v2, std::get<std::string>(comp));
        rule_.matches.push_back(TcpFlagsMatch{std::get<uint8_t>(mask), std::get<uint8_t>(comp), negated});
        break;
      }
      case Opt::IcmpType: {
        auto m = parse_icmp_type(val, ctx_.family);
        if (failed(m)) return error(*v, std::get<std::string>(m));
        auto match = std::get<IcmpTypeMatch>(m);
        match.negated = negated;
        rule_.matches.push_back(match);
        break;
      }
      case Opt::Ports: {
        auto list = parse_port_list(val);
        if (failed(list)) return error(*v, std::get<std::string>(list));
        rule_.matches.push_back(PortMatch{d.field, std::get<std::vector<PortRange>>(list), negated});
        break;
      }
      case Opt::State: {
        auto mask = parse_state_list(val);
        if (failed(mask)) return error(*v, std::get<std::string>(mask));
        rule_.matches.push_back(StateMatch{std::get<CtStateMask>(mask), negated});
        break;
      }
      case Opt::PhysIn:
      case Opt::PhysOut: {
        auto p = parse_iface(val);
        if (failed(p)) return error(*v, std::get<std::string>(p));
        auto& pm = std::get<PhysdevMatch>(rule_.matches[inst.match_index]);
        (d.opt == Opt::PhysIn ? pm.in : pm.out) = std::get<IfacePattern>(p);
        (d.opt == Opt::PhysIn ? pm.in_negated : pm.out_negated) = negated;
        break;
      }
      case Opt::MacSource: {
        auto mac = parse_mac(val);
        if (failed(mac)) return error(*v, std::get<std::string>(mac));
        rule_.matches.push_back(MacMatch{std::get<MacAddr>(mac), negated});
        break;
      }
      case Opt::SrcRange:
      case Opt::DstRange: {
        auto r = parse_ip_range(val, ctx_.family);
        if (failed(r)) return error(*v, std::get<std::string>(r));
        const auto [lo, hi] = std::get<std::pair<IpAddr, IpAddr>>(r);
        rule_.matches.push_back(AddrRangeMatch{
            d.opt == Opt::SrcRange ? AddrMatch::Field::Src : AddrMatch::Field::Dst, lo, hi, negated});
        break;
      }
      case Opt::Limit:
      case Opt::LimitBurst: {
        auto n = d.opt == Opt::Limit ? parse_limit_rate(val) : parse_limit_burst(val);
        if (failed(n)) return error(*v, std::get<std::string>(n));
        auto& lm = std::get<LimitMatch>(rule_.matches[inst.match_index]);
        (d.opt == Opt::Limit ? lm.avg : lm.burst) = std::get<uint32_t>(n);
        break;
      }
      case Opt::Length: {
        auto r = parse_length_range(val);
        if (failed(r)) return error(*v, std::get<std::string>(r));
        const auto [lo, hi] = std::get<std::pair<uint32_t, uint32_t>>(r);
        rule_.matches.push_back(LengthMatch{lo, hi, negated});
        break;
      }
      case Opt::PktType: {
        // iptables' names for the kernel's PACKET_* (host is unicast's other name).
        static constexpr std::pair<std::string_view, uint8_t> kTypes[] = {
            {"unicast", 0}, {"host", 0}, {"broadcast", 1}, {"multicast", 2},
            {"otherhost", 3}, {"outgoing", 4}, {"loopback", 5}, {"fastroute", 6}};
        const auto* it = std::find_if(std::begin(kTypes), std::end(kTypes),
                                      [&](const auto& e) { return e.first == val; });
        if (it == std::end(kTypes))
          return error(*v, "bad --pkt-type '" + val + "' (unicast, broadcast, multicast, host, otherhost, outgoing, loopback)");
        rule_.matches.push_back(PktTypeMatch{it->second, negated});
        break;
      }
      case Opt::Comment:
        if (val.size() > 255) return error(*v, "comment longer than 255 characters");
        rule_.comment += rule_.comment.empty() ? val : "; " + val;
        break;
      case Opt::RejectWith: {
        auto canon = reject_with_canonical(val, ctx_.family);
        if (!canon) return error(*v, "unknown --reject-with value '" + val + "'");
        rule_.reject_with = std::string(*canon);
        reject_tok_ = *v;
        break;
      }
      case Opt::LogPrefix:
        if (val.size() > 29) return error(*v, "--log-prefix longer than 29 characters");
        if (val.find('\n') != std::string::npos) return error(*v, "newline in --log-prefix");
        rule_.log_prefix = val;
        break;
      case Opt::LogLevel:
        if (!log_level_by_name(val)) return error(*v, "unknown --log-level '" + val + "' (0-7 or a syslog level name)");
        break;
      default:
        return error(t, "internal: unhandled option " + t.text);
    }
    return std::nullopt;
  }

  // Checks iptables makes once the whole rule is known (extension final checks, kernel
  // checkentry): protocol requirements and mandatory options.
  std::optional<ConfigError> finish() {
    if (neg_) return error(*neg_, "'!' must be followed by an option");
    for (const auto& m : mods_) {
      const std::string name(mod_name(m.mod));
      switch (m.mod) {
        case Mod::Tcp:
          if (!proto_is(kProtoTcp)) return error(m.tok, "-m tcp requires -p tcp");
          break;
        case Mod::Udp:
          if (!proto_is(kProtoUdp)) return error(m.tok, "-m udp requires -p udp");
          break;
        case Mod::Icmp:
          if (!proto_is(kProtoIcmp)) return error(m.tok, "-m icmp requires -p icmp");
          if (!m.has(Opt::IcmpType)) return error(m.tok, "-m icmp requires --icmp-type");
          break;
        case Mod::Icmp6:
          if (!proto_is(kProtoIcmpv6)) return error(m.tok, "-m icmp6 requires -p ipv6-icmp");
          if (!m.has(Opt::IcmpType)) return error(m.tok, "-m icmp6 requires --icmpv6-type");
          break;
        case Mod::Multiport:
          if (!(proto_is(6) || proto_is(17) || proto_is(33) || proto_is(132) || proto_is(136)))
            return error(m.tok, "-m multiport requires -p tcp, udp, udplite, sctp or dccp");
          if (!m.has(Opt::Ports)) return error(m.tok, "-m multiport requires --sports, --dports or --ports");
          break;
        case Mod::State:
          if (!m.has(Opt::State)) return error(m.tok, "-m state requires --state");
          break;
        case Mod::Conntrack:
          if (!m.has(Opt::State)) return error(m.tok, "-m conntrack requires --ctstate");
          break;
        case Mod::Physdev:
          if (!m.seen) return error(m.tok, "-m physdev requires at least one --physdev-* option");
          break;
        case Mod::Mac:
          if (!m.has(Opt::MacSource)) return error(m.tok, "-m mac requires --mac-source");
          break;
        case Mod::Iprange:
          if (!m.has(Opt::SrcRange) && !m.has(Opt::DstRange))
            return error(m.tok, "-m iprange requires --src-range or --dst-range");
          break;
        case Mod::Limit:
          break;  // every option has a default
        case Mod::Length:
          if (!m.has(Opt::Length)) return error(m.tok, "-m length requires --length");
          break;
        case Mod::PktType:
          if (!m.has(Opt::PktType)) return error(m.tok, "-m pkttype requires --pkt-type");
          break;
        case Mod::Comment:
          if (!m.has(Opt::Comment)) return error(m.tok, "-m comment requires --comment");
          break;
        case Mod::Reject:
        case Mod::Log:
          break;
      }
    }
    if (rule_.target == TargetKind::Reject) {
      if (rule_.reject_with.empty()) rule_.reject_with = std::string(reject_with_default(ctx_.family));
      if (rule_.reject_with == "tcp-reset" && !proto_is(kProtoTcp))
        return error(*reject_tok_, "--reject-with tcp-reset requires -p tcp");
    }
    order_for_limit();
    return std::nullopt;
  }

  ParsedRule expand() {
    ParsedRule out;
    out.chain_target = chain_target_;
    const size_t ns = std::max<size_t>(srcs_.size(), 1), nd = std::max<size_t>(dsts_.size(), 1);
    for (size_t i = 0; i < ns; ++i) {
      for (size_t j = 0; j < nd; ++j) {
        Rule r = rule_;
        if (!srcs_.empty()) std::get<AddrMatch>(r.matches[src_index_]).cidr = srcs_[i];
        if (!dsts_.empty()) std::get<AddrMatch>(r.matches[dst_index_]).cidr = dsts_[j];
        out.rules.push_back(std::move(r));
      }
    }
    return out;
  }

  std::span<const Token> toks_;
  size_t pos_ = 0;
  const RuleSpecContext& ctx_;
  Rule rule_;
  std::optional<Token> neg_;  // a pending '!'
  std::vector<ModInst> mods_;
  std::vector<int> module_of_match_;  // per rule_.matches entry: tag_module()
  std::optional<ModInst> target_mod_;
  std::optional<Token> proto_tok_, src_tok_, dst_tok_, in_tok_, out_tok_, target_tok_, reject_tok_,
      chain_target_;
  bool frag_seen_ = false;
  std::vector<Cidr> srcs_, dsts_;
  size_t src_index_ = 0, dst_index_ = 0;
};

}  // namespace

bool is_target_name(std::string_view name) {
  if (name == "ACCEPT" || name == "DROP" || name == "RETURN" || name == "REJECT" || name == "LOG")
    return true;
  for (auto t : kUnsupportedTargets)
    if (t == name) return true;
  return false;
}

std::variant<ParsedRule, ConfigError> parse_rule_spec(std::span<const Token> tokens,
                                                      const RuleSpecContext& ctx) {
  return SpecParser(tokens, ctx).run();
}

}  // namespace tapwall::control
