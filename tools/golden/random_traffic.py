# random_traffic.py - seeded random traffic for the golden cases random_mix, random_rules,
# random_multi and random_timeouts (scenario.py runs it, record.sh picks the policy and
# the conntrack settings): TCP conversations with good and broken segments, UDP, ICMP and
# ICMPv6, fragments and flooded frames, after a few crafted RST-shortcut flows.
# Invariants: the same seed and arguments give the same frames (one random.Random, drawn
# in a fixed order); crafted frames only, from the lab's hosts (quiet stacks).
# Thread-safety: single-threaded, drives one Lab.
import os
import random
import struct
import time

from scapy.all import (ICMP, IP, TCP, UDP, Ether, IPOption, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6PacketTooBig, ICMPv6ParamProblem,
                       ICMPv6TimeExceeded, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw, fragment, fragment6)

from craft import G, G1, L, mac_learning, v4, v6
from twg_net import BCAST_MAC, IP4, IP6, MAC, UNKNOWN_MAC


# The kernel lets a RST skip the window check when it answers a segment conntrack let
# through while out of sync (a SYN, or an ACK of a half-open flow): its ACK names that
# segment's end. Recent kernels take this shortcut for the SYN only when the RST comes
# from the other side. Each flow: the guest's SYN, the LAN's ACK (ignored, but the flow
# is now replied), [the guest's SYN again], then a RST whose ACK is the LAN ACK's end and
# whose SEQ is far outside the window, from one side or the other.
def rst_shortcuts(lab):
    lab.step("== RST answering a segment let through out of sync, from either side")
    far = 5000 + (1 << 30)
    for sport, resend_syn, rst_from in ((53101, True, L), (53102, True, G),
                                        (53103, False, L), (53104, False, G)):
        what = "after a second SYN" if resend_syn else "after the ignored ACK"
        lab.send(G, v4(G, L) / TCP(sport=sport, dport=80, flags="S", seq=1000, window=64240),
                 "tcp syn guest:%d->lan:80" % sport)
        lab.send(L, v4(L, G) / TCP(sport=80, dport=sport, flags="A", seq=5000, ack=1001,
                                   window=64240),
                 "tcp ack lan:80->guest:%d in SYN_SENT (ignored)" % sport)
        if resend_syn:
            lab.send(G, v4(G, L) / TCP(sport=sport, dport=80, flags="S", seq=1000,
                                       window=64240),
                     "tcp syn guest:%d->lan:80 again" % sport)
        if rst_from == L:
            rst = v4(L, G) / TCP(sport=80, dport=sport, flags="RA", seq=far, ack=5000, window=0)
        else:
            rst = v4(G, L) / TCP(sport=sport, dport=80, flags="RA", seq=far, ack=5000, window=0)
        lab.send(rst_from, rst, "tcp rst from %s on %d %s, ack = the ACK's end, seq far out"
                 % ("lan" if rst_from == L else "guest", sport, what))
    # A half-open flow (SYN, SYN/ACK, then the LAN's ACK: SYN_RECV, not assured): its last
    # segment an accepted ACK of the LAN's, ending at 5001.
    for sport, rst_from in ((53105, L), (53106, G)):
        lab.send(G, v4(G, L) / TCP(sport=sport, dport=80, flags="S", seq=1000, window=64240),
                 "tcp syn guest:%d->lan:80" % sport)
        lab.send(L, v4(L, G) / TCP(sport=80, dport=sport, flags="SA", seq=5000, ack=1001,
                                   window=64240), "tcp syn/ack lan:80->guest:%d" % sport)
        lab.send(L, v4(L, G) / TCP(sport=80, dport=sport, flags="A", seq=5001, ack=1001,
                                   window=64240), "tcp ack lan:80->guest:%d in SYN_RECV" % sport)
        if rst_from == L:
            rst = v4(L, G) / TCP(sport=80, dport=sport, flags="RA", seq=far, ack=5001, window=0)
        else:
            rst = v4(G, L) / TCP(sport=sport, dport=80, flags="RA", seq=far, ack=5001, window=0)
        lab.send(rst_from, rst, "tcp rst from %s on half-open %d, ack = the ACK's end, seq far out"
                 % ("lan" if rst_from == L else "guest", sport))


# IPv4 option lists whose options each have a sane length, whatever their contents.
WELL_FORMED_IPV4_OPTIONS = [
    b"\x01\x01\x01\x00",                      # NOP NOP NOP EOL
    b"\x07\x07\x04\x00\x00\x00\x00\x00",      # record route
    b"\x07\x07\x08\x00\x00\x00\x00\x00",      # record route, full
    b"\x07\x07\x03\x00\x00\x00\x00\x00",      # record route, pointer below 4
    b"\x44\x0c\x05\x00" + bytes(8),             # timestamp
    b"\x44\x0c\x05\x03" + bytes(8),             # timestamp, undefined flag
    b"\x83\x07\x04\xc0\x00\x02\x01\x00",      # loose source route
    b"\x89\x07\x04\xc0\x00\x02\x01\x00",      # strict source route
    b"\x94\x04\x00\x00",                      # router alert
    b"\x99\x06\x00\x00\x00\x00\x00\x00",      # unknown type, copied flag
]


# IPv4 options through the bridge, from the guest (its NEW flows pass random_mix's policy):
# the kernel's bridge leaves options alone (br_validate_ipv4 does not parse them), so it
# forwards every one of these; tapwall drops the last three, whose option list is malformed
# (a listed intended difference: malformed input is a counted drop).
def ip_options_prelude(lab):
    lab.step("== IPv4 options, well-formed and malformed")
    for k, (opt, what) in enumerate([
            (b"\x07\x07\x04\x00\x00\x00\x00\x00", "record route"),
            (b"\x83\x07\x04\xc0\x00\x02\x01\x00", "loose source route"),
            (b"\x07\x07\x03\x00\x00\x00\x00\x00", "record route, pointer below 4"),
            (b"\x07\x01\x00\x00", "malformed: an option length of 1"),
            (b"\x07\x09\x04\x00\x00\x00\x00\x00", "malformed: an option past the header"),
            (b"\x01\x01\x01\x07", "malformed: no room for the last option's length")]):
        frame = v4(G, L) / UDP(sport=53030 + k, dport=53) / Raw(b"o" * 8)
        lab.send(G, with_ipv4_options(bytes(frame), opt),
                 "udp guest:%d->lan:53 with ipv4 options: %s" % (53030 + k, what))


def with_ipv4_options(frame, opt):
    """An Ethernet/IPv4 frame's bytes with `opt` (a multiple of 4 bytes, parsed or not)
    inserted after its 20-byte IP header: IHL, total length and header checksum fixed."""
    ip = bytearray(frame[14:34]) + opt
    ip[0] = 0x40 | (len(ip) // 4)
    struct.pack_into("!H", ip, 2, len(frame) - 14 + len(opt))
    struct.pack_into("!H", ip, 10, 0)
    total = sum(struct.unpack("!%dH" % (len(ip) // 2), bytes(ip)))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    struct.pack_into("!H", ip, 10, ~total & 0xffff)
    return frame[:14] + bytes(ip) + frame[34:]


# ---------------------------------------------------------------------------------------
# Seeded random conversations (quiet hosts: only these frames appear): TCP flows driven
# through their life with the segments a real peer would send, mixed with the ones a
# broken or hostile peer would (other flags, sequence and acknowledgement numbers in, at
# the edge of and far outside the window, retransmissions, resets, window scaling), UDP
# both ways, ICMP echo with replies, and ICMP errors quoting tracked and untracked flows
# from either side. The hand-written cases show each rule; this one looks for the
# conntrack states nobody thought to write down. The same seed gives the same frames.
# One 802.1Q or 802.1ad tag, as (TPID, TCI): VLAN 0 (a priority tag), 10, 20 or 4094, a
# random priority. Both TPIDs are single tags the kernel bridge (and tapwall) looks inside.
def vlan_tag(vrnd):
    tpid = vrnd.choice([0x8100, 0x8100, 0x8100, 0x88a8])
    return tpid, vrnd.randrange(8) << 13 | vrnd.choice([0, 10, 20, 4094])


def random_mix(lab, seed=20261127, steps=800, guests=(G,), pauses=0.0, ip_options=False,
               vlan=0.0):
    # RANDOM_MIX_SEED / RANDOM_MIX_STEPS: other conversations, to hunt for differences
    # beyond the recorded case (tests/golden/random_mix is the defaults').
    seed = int(os.environ.get("RANDOM_MIX_SEED", seed))
    steps = int(os.environ.get("RANDOM_MIX_STEPS", steps))
    rnd = random.Random(seed)
    # RANDOM_MIX_VLAN: the chance that a step's IP frames carry one VLAN tag (a bridge
    # that filters tagged IP: record.sh random_vlan). Drawn from a stream of its own, so
    # the frames are the same seed's, only tagged.
    vlan = float(os.environ.get("RANDOM_MIX_VLAN", vlan))
    vrnd = random.Random(seed + 0x5f5e100)
    mac_learning(lab, list(guests))
    rst_shortcuts(lab)
    if ip_options:
        ip_options_prelude(lab)
    lab.step("== random_mix seed %d" % seed)

    class Flow:
        def __init__(self, cli, srv, sport, dport, ip6=False):
            self.cli, self.srv, self.sport, self.dport = cli, srv, sport, dport
            self.ip = v6 if ip6 else v4     # the Ether/IP header builder of its family
            self.addr = IP6 if ip6 else IP4
            self.restart()

        def restart(self):
            self.nxt = {self.cli: rnd.randrange(1 << 32), self.srv: rnd.randrange(1 << 32)}
            self.phase = 0                  # 0 syn, 1 syn/ack, 2 ack, 3 data, 4 closing
            self.wscale = rnd.choice([None, 0, 7, 14])
            self.sent = []                  # (side, frame) for retransmissions
            self.win = {}                   # the last window each side advertised

        def other(self, side):
            return self.srv if side == self.cli else self.cli

        def ends(self, side):
            return (self.sport, self.dport) if side == self.cli else (self.dport, self.sport)

    tcp_flows = []
    sport = 52000
    for ip6, cli, srv, dports in ((False, L, G, (22, 80, 443, 1500, 8080)),
                                  (False, G, L, (22, 25, 80, 3000)),
                                  (True, L, G, (22, 1500)), (True, G, L, (80, 3000))):
        for dport in dports:
            tcp_flows.append(Flow(cli, srv, sport, dport, ip6))
            sport += 1
    udp_flows = [(L, G, 53000, 53, False), (L, G, 53001, 5353, False), (G, L, 53002, 53, False),
                 (G, L, 53003, 123, False), (L, G, 53004, 40000, False),
                 (G, L, 53005, 53, True), (L, G, 53006, 40000, True), (L, G, 53007, 123, True)]
    hosts = [L] + list(guests)
    if G1 in guests:  # the second guest talks to the LAN and to the first guest
        for ip6, cli, srv, dports in ((False, L, G1, (22, 1500)), (False, G1, L, (80,)),
                                      (False, G, G1, (22, 5432)), (False, G1, G, (80,)),
                                      (True, G1, G, (22,)), (True, L, G1, (8080,))):
            for dport in dports:
                tcp_flows.append(Flow(cli, srv, sport, dport, ip6))
                sport += 1
        udp_flows += [(L, G1, 53010, 53, False), (G, G1, 53011, 123, False),
                      (G1, G, 53012, 40000, True), (G1, L, 53013, 53, True)]
    icmp_ids = [rnd.randrange(1 << 16) for _ in range(4)]
    flags_any = ["S", "SA", "A", "PA", "FA", "R", "RA", "F", "SF", "SR", "", "FPU", "SAF", "U", "AU"]

    def tcp_step(f):
        # the segment the conversation expects next (a peer's model of it: it moves on only
        # when a segment it expects is sent, whatever the bridge then did with it)
        if f.phase == 0:
            side, flags = f.cli, "S"
        elif f.phase == 1:
            side, flags = f.srv, "SA"
        elif f.phase == 2:
            side, flags = f.cli, "A"
        else:
            side = rnd.choice([f.cli, f.srv])
            flags = rnd.choice(["A", "PA", "PA", "FA"] if f.phase == 3 else ["A", "FA", "PA"])
        peer = f.other(side)
        seq, ack = f.nxt[side], (f.nxt[peer] if f.phase > 0 else 0)
        opts = []
        if f.phase < 2:
            opts = [("MSS", 1460)] + ([("WScale", f.wscale)] if f.wscale is not None else [])
            opts += rnd.choice([[], [("SAckOK", b"")], [("SAckOK", b""), ("Timestamp", (1, 0))]])
            if rnd.random() < 0.1:
                # a window scale over the maximum of 14, or one of the wrong length
                opts = [("MSS", 1460), rnd.choice([("WScale", 15), ("WScale", 255),
                                                   (3, b""), (3, b"\x07\x00")])]
        payload = rnd.choice([0, 10, 100, 1000]) if "P" in flags else 0
        win = rnd.choice([64240, 64240, 502, 0, 65535, 1024])
        note = "tcp %d->%d %s" % (f.ends(side)[0], f.ends(side)[1], flags)
        expected = False
        # how far the peer lets this side send: its last window, scaled when both sides
        # offered scaling on their SYNs (roughly: the kernel's own bookkeeping decides)
        edge = f.win.get(peer, 0) << (f.wscale or 0)
        r = rnd.random()
        if r < 0.50:
            expected = True
        elif r < 0.57:
            side = rnd.choice([f.cli, f.srv])
            flags = rnd.choice(flags_any)
            note = "tcp %d->%d flags %s" % (f.ends(side)[0], f.ends(side)[1], flags or "none")
        elif r < 0.65:
            d = rnd.choice([1, -1, 1000, -1000, 70000, -70000, 1 << 30, -(1 << 30), 1 << 31,
                            edge, edge + 1, edge - 1, -edge])
            seq += d
            payload = max(payload, rnd.choice([0, 1, 100]))
            note += " seq%+d len %d" % (d, payload)
        elif r < 0.71:
            d = rnd.choice([1, -1, 5000, -5000, 1 << 30, 1 << 31, 70000, -70000])
            ack += d
            note += " ack%+d" % d
        elif r < 0.78 and f.sent:
            rside, frame = rnd.choice(f.sent)
            lab.send(rside, frame, "tcp retransmission %d/%d" % (f.sport, f.dport), gap=0.012)
            return
        elif r < 0.84:
            flags = rnd.choice(["R", "RA"])
            d = rnd.choice([0, 0, 1, -1, edge, 1 << 20])
            seq += d
            note = "tcp %d->%d %s seq%+d" % (f.ends(side)[0], f.ends(side)[1], flags, d)
        elif r < 0.90:
            flags = rnd.choice(["S", "SA"])
            seq = rnd.randrange(1 << 32) if rnd.random() < 0.5 else seq
            opts = [("MSS", 1460), ("WScale", rnd.choice([0, 7]))]
            note = "tcp %d->%d %s again (seq %d)" % (f.ends(side)[0], f.ends(side)[1], flags, seq)
        else:
            # SACK blocks and timestamps on a segment of the conversation
            lo = ack + rnd.choice([0, 1000, -1000, 1 << 20])
            opts = [("NOP", None), ("NOP", None), ("SAck", (lo % (1 << 32), (lo + 500) % (1 << 32)))]
            if rnd.random() < 0.5:
                opts = [("Timestamp", (rnd.randrange(1 << 32), 0))] + opts
            note += " sack %d+500" % (lo - ack)
        peer = f.other(side)
        sp, dp = f.ends(side)
        seg = TCP(sport=sp, dport=dp, flags=flags, seq=seq % (1 << 32), ack=ack % (1 << 32),
                  window=win, options=opts)
        ip = f.ip(side, peer)
        if f.ip is v4 and rnd.random() < 0.04:
            # IPv4 options, well-formed as a list of options whatever their contents (the
            # kernel's bridge does not parse them; malformed lists are ip_options_prelude's)
            opt = rnd.choice(WELL_FORMED_IPV4_OPTIONS)
            ip[IP].options = [IPOption(opt)]
            note += " ipopt %s" % opt[:1].hex()
        if f.ip is v6 and rnd.random() < 0.08:
            # extension headers before the segment (conntrack skips them to the TCP header)
            ip = ip / rnd.choice([IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(),
                                  IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt(),
                                  IPv6ExtHdrRouting(type=0, segleft=0),
                                  IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(type=4, segleft=0)])
            note += " ext"
        frame = ip / seg / (Raw(b"d" * payload) if payload else b"")
        lab.send(side, frame, note, gap=0.012)
        f.sent.append((side, frame))
        if expected:
            f.nxt[side] = (f.nxt[side] + payload + (1 if ("S" in flags or "F" in flags) else 0)) % (1 << 32)
            f.win[side] = win
            f.phase = {0: 1, 1: 2, 2: 3}.get(f.phase, 4 if "F" in flags else f.phase)
        if "R" in flags and rnd.random() < 0.5:
            f.restart()                     # a new connection on the same ports

    def udp_step():
        a, b, sp, dp, ip6 = rnd.choice(udp_flows)
        if rnd.random() < 0.5:
            a, b, sp, dp = b, a, dp, sp
        ip = v6 if ip6 else v4
        lab.send(a, ip(a, b) / UDP(sport=sp, dport=dp) / Raw(b"u" * rnd.choice([1, 20, 200])),
                 "udp%s %s:%d->%d" % ("6" if ip6 else "", a, sp, dp), gap=0.012)

    def quoted_packet(ip6):
        # a packet of one of the flows of that family, from either end
        if rnd.random() < 0.6:
            f = rnd.choice([x for x in tcp_flows if (x.ip is v6) == ip6])
            qs = rnd.choice([f.cli, f.srv])
            sp, dp = f.ends(qs)
            l3 = (IPv6 if ip6 else IP)(src=f.addr[qs], dst=f.addr[f.other(qs)])
            return l3 / TCP(sport=sp, dport=dp, flags="S", seq=f.nxt[qs] % (1 << 32))
        ua, ub, sp, dp, _ = rnd.choice([u for u in udp_flows if u[4] == ip6])
        qs, qd = (ua, ub) if rnd.random() < 0.5 else (ub, ua)
        if qs == ub:
            sp, dp = dp, sp
        addr = IP6 if ip6 else IP4
        l3 = (IPv6 if ip6 else IP)(src=addr[qs], dst=addr[qd])
        return l3 / UDP(sport=sp, dport=dp) / Raw(b"u" * 8)

    def icmp_step():
        a = rnd.choice(hosts)
        b = rnd.choice([h for h in hosts if h != a])
        ident = rnd.choice(icmp_ids)
        if rnd.random() < 0.35:
            kind = rnd.choice(["req", "req", "rep", "rep", "err", "err", "err"])
            if kind != "err":
                m = ICMPv6EchoRequest if kind == "req" else ICMPv6EchoReply
                lab.send(a, v6(a, b) / m(id=ident, seq=rnd.randrange(8)) / Raw(b"p" * 8),
                         "icmp6 echo %s id %d %s->%s" % (kind, ident, a, b), gap=0.012)
                return
            inner = quoted_packet(True)
            err = rnd.choice([ICMPv6DestUnreach(code=rnd.choice([0, 1, 4])), ICMPv6PacketTooBig(),
                              ICMPv6TimeExceeded(), ICMPv6ParamProblem()])
            lab.send(a, v6(a, b) / err / Raw(bytes(inner)[:64]),
                     "icmp6 error %s %s->%s quoting %s" % (err.name, a, b, inner.summary()),
                     gap=0.012)
            return
        kind = rnd.choice([8, 8, 0, 0, 13, 14, 3, 3, 11, 12, 5, 4])
        if kind in (8, 0, 13, 14):
            lab.send(a, v4(a, b) / ICMP(type=kind, id=ident, seq=rnd.randrange(8)) / Raw(b"p" * 8),
                     "icmp type %d id %d %s->%s" % (kind, ident, a, b), gap=0.012)
            return
        # an error quoting a packet of one of the flows, sent as from either end
        inner = quoted_packet(False)
        code = rnd.choice([0, 1, 3, 4]) if kind == 3 else 0
        lab.send(a, v4(a, b) / ICMP(type=kind, code=code) / bytes(inner)[:28],
                 "icmp error %d/%d %s->%s quoting %s" % (kind, code, a, b, inner.summary()),
                 gap=0.012)

    frag_id = [0x7000]

    def frag_step():
        # a UDP datagram of one of the flows in fragments: in order, reversed or shuffled;
        # sometimes with one fragment repeated, missing (never completed) or overlapping
        a, b, sp, dp, ip6 = rnd.choice(udp_flows)
        if rnd.random() < 0.5:
            a, b, sp, dp = b, a, dp, sp
        frag_id[0] += 1
        data = Raw(bytes(rnd.randrange(256) for _ in range(rnd.randrange(300, 2500))))
        size = rnd.choice([256, 512, 1024])
        if ip6:
            frags = fragment6(v6(a, b) / IPv6ExtHdrFragment(id=frag_id[0]) /
                              UDP(sport=sp, dport=dp) / data, size + 48)
        else:
            frags = fragment(v4(a, b, id=frag_id[0] & 0xffff) / UDP(sport=sp, dport=dp) / data,
                             fragsize=size)
        order = rnd.choice(["in order", "reversed", "shuffled"])
        if order == "reversed":
            frags = frags[::-1]
        elif order == "shuffled":
            rnd.shuffle(frags)
        how = rnd.choice(["whole"] * 7 + ["repeated", "missing", "overlapping"])
        if how == "repeated":
            frags.insert(rnd.randrange(len(frags) + 1), rnd.choice(frags))
        elif how == "missing" and len(frags) > 1:
            frags.pop(rnd.randrange(len(frags)))
        elif how == "overlapping" and len(frags) > 1:
            # other bytes 8 lower than a fragment (at offset 0: the same place); a UDP
            # header stays intact, so whichever copy the reassembly keeps is well-formed
            extra = rnd.choice(frags).copy()
            if ip6:
                fh = extra[IPv6ExtHdrFragment]
                fh.offset = max(0, fh.offset - 1)
                start = 8 if fh.offset == 0 else 0
            else:
                extra[IP].frag = max(0, extra[IP].frag - 1)
                del extra[IP].chksum
                start = 8 if extra[IP].frag == 0 else 0
            load = bytes(extra.lastlayer().load)
            extra.lastlayer().load = load[:start] + bytes(x ^ 0x5a for x in load[start:])
            frags.insert(rnd.randrange(len(frags) + 1), extra)
        lab.send_many(a, frags, "udp%s fragments %s:%d->%d id 0x%x, %s, %s" % (
            "6" if ip6 else "", a, sp, dp, frag_id[0], order, how), gap=0.012)

    def flood_step():
        # a frame every port may get a copy of: broadcast, multicast, or unicast to a MAC
        # the bridge has not learned; each copy is judged for its own egress port
        a = rnd.choice(hosts)
        b = rnd.choice([h for h in hosts if h != a])
        kind = rnd.choice(["bcast", "mcast", "mcast6", "unknown", "unknown6"])
        sp, dp = rnd.choice([(53020, 53), (53021, 5353), (68, 67), (53022, 40000)])
        if kind == "bcast":
            frame = Ether(src=MAC[a], dst=BCAST_MAC) / IP(src=IP4[a], dst="192.0.2.255", id=1)
        elif kind == "mcast":
            frame = Ether(src=MAC[a], dst="01:00:5e:00:00:fb") / IP(src=IP4[a], dst="224.0.0.251",
                                                                    id=1, ttl=1)
        elif kind == "mcast6":
            frame = Ether(src=MAC[a], dst="33:33:00:00:00:fb") / IPv6(src=IP6[a], dst="ff02::fb")
        elif kind == "unknown":
            frame = Ether(src=MAC[a], dst=UNKNOWN_MAC) / IP(src=IP4[a], dst=IP4[b], id=1)
        else:
            frame = Ether(src=MAC[a], dst=UNKNOWN_MAC) / IPv6(src=IP6[a], dst=IP6[b])
        lab.send(a, frame / UDP(sport=sp, dport=dp) / Raw(b"f" * 12),
                 "udp %s %s:%d->%d" % (kind, a, sp, dp), gap=0.012)

    # RANDOM_MIX_PAUSES: the chance of a pause before a step (0 by default), for recordings
    # with short conntrack timeouts; pauses end between whole seconds, away from where a
    # timeout of whole seconds ends (the kernel's clock ticks in milliseconds)
    pauses = float(os.environ.get("RANDOM_MIX_PAUSES", pauses))
    for _ in range(steps):
        lab.vlan = vlan_tag(vrnd) if vlan and vrnd.random() < vlan else None
        if pauses and rnd.random() < pauses:
            time.sleep(rnd.choice([0.5, 1.5, 2.5, 3.5]))
        r = rnd.random()
        if r < 0.67:
            tcp_step(rnd.choice(tcp_flows))
        elif r < 0.82:
            udp_step()
        elif r < 0.95:
            icmp_step()
        elif len(guests) == 1 or r < 0.975:
            frag_step()
        else:
            flood_step()
    lab.vlan = None
