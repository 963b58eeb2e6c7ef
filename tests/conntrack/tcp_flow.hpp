// TcpFlow: drives one TCP connection (client 10.0.0.1:40000 -> server 10.0.0.2:80)
// through the conntrack under test, keeping both sides' sequence numbers, so tests can
// reach any conntrack TCP state with in-window segments and then probe it.
// Invariants: c_next/s_next are each side's next sequence number; a side "started" once it
// sent its SYN (or SYN/ACK).
// Thread-safety: test code only.
#pragma once

#include <string>

#include "ct_test_util.hpp"

namespace tapwall::test {

enum class Cls { Syn, SynAck, Fin, Ack, Rst, None };

struct TcpFlow {
  Conntrack& ct;
  IpAddr c = v4(10, 0, 0, 1), s = v4(10, 0, 0, 2);
  uint16_t cport = 40000, sport = 80;
  uint32_t c_isn = 1000, s_isn = 5000;
  uint32_t c_next = 1000, s_next = 5000;
  bool c_started = false, s_started = false;
  uint64_t now = 1000 * kSec;

  explicit TcpFlow(Conntrack& ct) : ct(ct) {}

  Pkt make(bool from_server, uint8_t flags, uint32_t seq, uint32_t ack, std::size_t payload = 0,
           uint16_t win = 64000, std::vector<uint8_t> opts = {}) const {
    return from_server ? tcp(s, c, sport, cport, flags, seq, ack, win, payload, std::move(opts))
                       : tcp(c, s, cport, sport, flags, seq, ack, win, payload, std::move(opts));
  }
  CtResult send(const Pkt& p) { return pass(ct, p, now); }

  // Well-formed segments that advance the sequence numbers.
  CtResult c_syn(std::vector<uint8_t> opts = {}) {
    c_started = true;
    c_next = c_isn + 1;
    return send(make(false, kTcpSyn, c_isn, 0, 0, 64000, std::move(opts)));
  }
  CtResult s_synack(std::vector<uint8_t> opts = {}, uint16_t win = 64000) {
    s_started = true;
    s_next = s_isn + 1;
    return send(make(true, kTcpSyn | kTcpAck, s_isn, c_next, 0, win, std::move(opts)));
  }
  CtResult s_syn() {
    s_started = true;
    s_next = s_isn + 1;
    return send(make(true, kTcpSyn, s_isn, 0));
  }
  CtResult c_ack(std::size_t payload = 0, uint16_t win = 64000) {
    CtResult r = send(make(false, kTcpAck, c_next, s_next, payload, win));
    c_next += uint32_t(payload);
    return r;
  }
  CtResult s_ack(std::size_t payload = 0) {
    CtResult r = send(make(true, kTcpAck, s_next, c_next, payload));
    s_next += uint32_t(payload);
    return r;
  }
  CtResult c_fin() {
    CtResult r = send(make(false, kTcpFin | kTcpAck, c_next, s_next));
    ++c_next;
    return r;
  }
  CtResult s_fin() {
    CtResult r = send(make(true, kTcpFin | kTcpAck, s_next, c_next));
    ++s_next;
    return r;
  }
  CtResult c_rst() { return send(make(false, kTcpRst | kTcpAck, c_next, s_next)); }

  // The probe of one packet class from one side, in window where that means anything.
  Pkt probe(bool from_server, Cls cls) const {
    const uint32_t isn = from_server ? s_isn : c_isn;
    const uint32_t next = from_server ? s_next : c_next;
    const uint32_t peer_next = from_server ? c_next : s_next;
    const bool me_started = from_server ? s_started : c_started;
    const bool peer_started = from_server ? c_started : s_started;
    switch (cls) {
      case Cls::Syn: return make(from_server, kTcpSyn, isn, 0);
      case Cls::SynAck: return make(from_server, kTcpSyn | kTcpAck, isn, peer_next);
      case Cls::Fin: return make(from_server, kTcpFin | kTcpAck, next, peer_next);
      case Cls::Ack: return make(from_server, kTcpAck, next, peer_next);
      case Cls::Rst:
        if (!peer_started) return make(from_server, kTcpRst, next, 0);
        return make(from_server, kTcpRst | kTcpAck, me_started ? next : 0, peer_next);
      case Cls::None: return make(from_server, 0, next, 0);
    }
    return {};
  }

  // Conntrack's name for this flow's TCP state ("" if no entry from the client).
  std::string state() const { return find_entry(ct, now, c, kProtoTcp, cport).state; }
};

// Bring a fresh flow to one of the conntrack TCP states by a normal exchange.
inline bool reach(TcpFlow& f, const std::string& st) {
  auto ok = [](const CtResult& r) { return r.state != CtState::Invalid; };
  if (st == "SYN_SENT") return ok(f.c_syn());
  if (st == "SYN_SENT2") return ok(f.c_syn()) && ok(f.s_syn());
  if (!ok(f.c_syn()) || !ok(f.s_synack())) return false;
  if (st == "SYN_RECV") return true;
  if (!ok(f.c_ack())) return false;
  if (st == "ESTABLISHED") return true;
  if (st == "CLOSE") return ok(f.c_rst());
  if (!ok(f.c_fin())) return false;
  if (st == "FIN_WAIT") return true;
  if (!ok(f.s_ack())) return false;
  if (st == "CLOSE_WAIT") return true;
  if (!ok(f.s_fin())) return false;
  if (st == "LAST_ACK") return true;
  if (!ok(f.c_ack())) return false;
  return st == "TIME_WAIT";
}

}  // namespace tapwall::test
