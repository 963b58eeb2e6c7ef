#!/usr/bin/python3
# scenario.py - the traffic of each golden case, run by record.sh while tcpdump captures.
#
# usage: scenario.py <case> --hosts lan0=<ns>,gst0=<ns>[,gst1=<ns>] --steps steps.jsonl
#
# Each case is a list of steps: crafted frames (scapy-built, sent raw from a host
# interface) and real socket traffic (the hosts' kernels answer for themselves).  Every
# crafted frame has a fixed content (ports, sequence numbers, IP ids) so re-recording
# gives the same frames; real TCP traffic has random ISNs and timestamps, that is fine.
# Small sleeps between steps keep the order of frames in the merged captures obvious.
# Verdicts are NOT written here: the kernel decides, derive.py reads the captures.
import argparse
import socket
import sys
import time

from scapy.all import (ARP, ICMP, IP, LLC, STP, TCP, UDP, Dot1AD, Dot1Q, Dot3, Ether,
                       ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6,
                       IPv6ExtHdrFragment, Raw, conf, fragment, fragment6)

from craft import G, G1, L, eth, mac_learning, syn, v4, v6
from random_traffic import random_mix
from twg_net import BCAST_MAC, IP4, IP6, MAC, UNKNOWN_MAC, Lab, tcp_exchange

conf.verb = 0


def malformed(src_if, dst_if, dport):
    """Broken IPv4 frames (each would pass the port rules if it were well formed)."""
    base = v4(src_if, dst_if)
    out = []
    p = base.copy(); p[IP].ihl = 4
    out.append((p / TCP(sport=41000, dport=dport, flags="S"), "ipv4 ihl=4 (<5)"))
    p = base.copy(); p[IP].len = 1000
    out.append((p / TCP(sport=41001, dport=dport, flags="S"), "ipv4 total length 1000 > frame"))
    raw_tcp = bytes(TCP(sport=41002, dport=dport, flags="S"))[:10]
    p = base.copy(); p[IP].proto = 6
    out.append((p / Raw(raw_tcp), "tcp header truncated to 10 bytes"))
    out.append((base / TCP(sport=41003, dport=dport, flags="S", dataofs=3),
                "tcp data offset 3 (<5)"))
    p = base.copy(); p[IP].chksum = 0x1234
    out.append((p / TCP(sport=41004, dport=dport, flags="S"), "ipv4 bad header checksum"))
    out.append((base / TCP(sport=41005, dport=dport, flags="S", chksum=0x1234),
                "tcp bad checksum"))
    return out


# ---------------------------------------------------------------------------------------
def seed_stateless(lab):
    mac_learning(lab, [G])

    lab.step("== TCP SYN LAN -> guest, one per port")
    for i, port in enumerate([22, 25, 80, 443, 465, 993, 995, 8080, 1023, 1024, 65535]):
        lab.send(L, syn(L, G, 40000 + i, port), "tcp syn lan->guest dport %d" % port)
    lab.step("== UDP LAN -> guest")
    for i, port in enumerate([53, 1024, 5000]):
        lab.send(L, v4(L, G) / UDP(sport=40100 + i, dport=port) / Raw(b"q" * 16),
                 "udp lan->guest dport %d" % port)

    lab.step("== DHCP ports (--sport 67:68 --dport 67:68)")
    lab.send(L, v4(L, G) / UDP(sport=67, dport=68) / Raw(b"d" * 32), "udp 67->68 lan->guest")
    lab.send(L, v4(L, G) / UDP(sport=68, dport=67) / Raw(b"d" * 32), "udp 68->67 lan->guest")
    lab.send(G, v4(G, L) / UDP(sport=68, dport=67) / Raw(b"d" * 32), "udp 68->67 guest->lan")
    lab.send(G, v4(G, L) / UDP(sport=67, dport=68) / Raw(b"d" * 32), "udp 67->68 guest->lan")
    lab.send(G, Ether(src=MAC[G], dst=BCAST_MAC) / IP(src="0.0.0.0", dst="255.255.255.255", id=1)
             / UDP(sport=68, dport=67) / Raw(b"discover"), "dhcp-like broadcast guest 0.0.0.0:68->255.255.255.255:67")
    lab.send(L, Ether(src=MAC[L], dst=BCAST_MAC) / IP(src=IP4[L], dst="255.255.255.255", id=1)
             / UDP(sport=67, dport=68) / Raw(b"offer"), "dhcp-like broadcast lan 67->68")
    lab.send(L, v4(L, G) / UDP(sport=69, dport=68) / Raw(b"d"), "udp 69->68 lan->guest (sport outside 67:68)")
    lab.send(L, v4(L, G) / UDP(sport=67, dport=69) / Raw(b"d"), "udp 67->69 lan->guest (dport outside 67:68)")

    lab.step("== guest -> LAN (vboxout accepts everything)")
    lab.send(G, syn(G, L, 42000, 22), "tcp syn guest->lan dport 22")
    lab.send(G, syn(G, L, 42001, 25), "tcp syn guest->lan dport 25")
    lab.send(G, v4(G, L) / UDP(sport=42002, dport=53) / Raw(b"q" * 16), "udp guest->lan dport 53")
    lab.send(G, v4(G, L) / ICMP(type=8, id=0x100, seq=1) / Raw(b"p" * 32), "icmp echo guest->lan")
    lab.step("== LAN -> guest ICMP echo (no rule: dropped)")
    lab.send(L, v4(L, G) / ICMP(type=8, id=0x200, seq=1) / Raw(b"p" * 32), "icmp echo lan->guest")

    lab.step("== broadcast and multicast IPv4")
    for src, dst in ((L, G), (G, L)):
        for bip in ("192.0.2.255", "255.255.255.255"):
            for port in (5000, 53):
                lab.send(src, Ether(src=MAC[src], dst=BCAST_MAC) /
                         IP(src=IP4[src], dst=bip, id=1) / UDP(sport=43000, dport=port) / Raw(b"b" * 8),
                         "udp broadcast %s -> %s:%d" % (src, bip, port))
        lab.send(src, Ether(src=MAC[src], dst="01:00:5e:00:00:01") /
                 IP(src=IP4[src], dst="224.0.0.1", ttl=1, id=1) / UDP(sport=43001, dport=5000) / Raw(b"m" * 8),
                 "udp multicast %s -> 224.0.0.1:5000" % src)
        lab.send(src, Ether(src=MAC[src], dst="01:00:5e:01:01:01") /
                 IP(src=IP4[src], dst="239.1.1.1", id=1) / UDP(sport=43002, dport=5000) / Raw(b"m" * 8),
                 "udp multicast %s -> 239.1.1.1:5000" % src)
        lab.send(src, Ether(src=MAC[src], dst="01:00:5e:01:01:01") /
                 IP(src=IP4[src], dst="239.1.1.1", id=1) / UDP(sport=43003, dport=53) / Raw(b"m" * 8),
                 "udp multicast %s -> 239.1.1.1:53" % src)

    lab.step("== bad source MACs (bridge drops them)")
    lab.send(L, eth(L, G, src="01:00:5e:00:00:09") / IP(src=IP4[L], dst=IP4[G], id=1) /
             UDP(sport=43100, dport=5000) / Raw(b"s" * 8), "multicast source mac lan->guest")
    lab.send(L, eth(L, G, src="00:00:00:00:00:00") / IP(src=IP4[L], dst=IP4[G], id=1) /
             UDP(sport=43101, dport=5000) / Raw(b"s" * 8), "all-zero source mac lan->guest")
    lab.send(G, eth(G, L, src="ff:ff:ff:ff:ff:ff") / IP(src=IP4[G], dst=IP4[L], id=1) /
             UDP(sport=43102, dport=5000) / Raw(b"s" * 8), "broadcast source mac guest->lan")

    lab.step("== IEEE link-local group addresses 01:80:c2:00:00:0X")
    # a real BPDU is 802.3 (length field) + LLC 42/42/03, not Ethernet II
    bpdu = LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(rootmac=MAC[L], bridgemac=MAC[L])
    lab.send(L, Dot3(src=MAC[L], dst="01:80:c2:00:00:00") / bpdu, "stp bpdu lan -> 01:80:c2:00:00:00")
    lab.send(G, Dot3(src=MAC[G], dst="01:80:c2:00:00:00") / bpdu, "stp bpdu guest -> 01:80:c2:00:00:00")
    lab.send(L, Ether(src=MAC[L], dst="01:80:c2:00:00:01", type=0x8808) /
             Raw(bytes.fromhex("0001ffff") + bytes(42)), "mac control pause -> 01:80:c2:00:00:01")
    lab.send(L, Ether(src=MAC[L], dst="01:80:c2:00:00:02", type=0x8809) /
             Raw(bytes.fromhex("0101") + bytes(44)), "slow protocols (lacp) -> 01:80:c2:00:00:02")
    lab.send(L, Ether(src=MAC[L], dst="01:80:c2:00:00:0e", type=0x88cc) /
             Raw(bytes.fromhex("0207046c616e3030") + bytes(38)), "lldp -> 01:80:c2:00:00:0e")
    lab.send(G, Ether(src=MAC[G], dst="01:80:c2:00:00:0e", type=0x88cc) /
             Raw(bytes.fromhex("0207046773743030") + bytes(38)), "lldp guest -> 01:80:c2:00:00:0e")

    lab.step("== unknown unicast destination MAC (flooded, then filtered per port)")
    for src in (L, G):
        lab.send(src, eth(src, dst=UNKNOWN_MAC) / IP(src=IP4[src], dst="192.0.2.99", id=1) /
                 UDP(sport=43200, dport=5000) / Raw(b"u" * 8), "unknown unicast mac %s udp 5000" % src)
        lab.send(src, eth(src, dst=UNKNOWN_MAC) / IP(src=IP4[src], dst="192.0.2.99", id=1) /
                 TCP(sport=43201, dport=22, flags="S"), "unknown unicast mac %s tcp syn 22" % src)

    lab.step("== VLAN tagged (bridge-nf-filter-vlan-tagged=0: bypasses iptables)")
    for port in (22, 80):
        lab.send(L, eth(L, G) / Dot1Q(vlan=10) / IP(src=IP4[L], dst=IP4[G], id=1) /
                 TCP(sport=44000 + port, dport=port, flags="S", seq=1000),
                 "802.1q vlan 10 tcp syn lan->guest dport %d" % port)
    lab.send(L, eth(L, G) / Dot1Q(vlan=10) / IP(src=IP4[L], dst=IP4[G], id=1) /
             UDP(sport=44100, dport=53) / Raw(b"v" * 8), "802.1q vlan 10 udp lan->guest dport 53")
    lab.send(G, eth(G, L) / Dot1Q(vlan=10) / IP(src=IP4[G], dst=IP4[L], id=1) /
             TCP(sport=44200, dport=22, flags="S"), "802.1q vlan 10 tcp syn guest->lan dport 22")
    lab.send(L, eth(L, G, type=0x88a8) / Dot1AD(vlan=100, type=0x8100) / Dot1Q(vlan=10) /
             IP(src=IP4[L], dst=IP4[G], id=1) / TCP(sport=44300, dport=22, flags="S"),
             "qinq 802.1ad 100 / 802.1q 10 tcp syn lan->guest dport 22")
    lab.send(L, eth(L, G) / Dot1Q(vlan=0) / IP(src=IP4[L], dst=IP4[G], id=1) /
             TCP(sport=44400, dport=22, flags="S"), "802.1q priority tag (vid 0) tcp syn lan->guest dport 22")

    lab.step("== malformed IPv4 (dport 80 / 8080 would be accepted if well formed)")
    for pkt, what in malformed(L, G, 80):
        lab.send(L, pkt, "malformed lan->guest: " + what)
    for pkt, what in malformed(G, L, 8080):
        lab.send(G, pkt, "malformed guest->lan: " + what)
    lab.send(L, v4(L, G) / TCP(sport=41010, dport=22, flags="S", dataofs=3), "malformed lan->guest dport 22: tcp data offset 3")
    # truncated L4 headers against the port-range rules (iptables-nft reads only the
    # port bytes, xt_tcp/xt_udp of iptables-legacy would need the whole header)
    for port in (22, 8080):
        lab.send(L, v4(L, G, proto=6) / Raw(bytes(TCP(sport=41020, dport=port, flags="S"))[:10]),
                 "malformed lan->guest dport %d: tcp header truncated to 10 bytes" % port)
    lab.send(L, v4(L, G, proto=17) / Raw(bytes(UDP(sport=41021, dport=5000))[:6]),
             "malformed lan->guest dport 5000: udp header truncated to 6 bytes")

    lab.step("== IPv6 with no ip6tables rules loaded (passes)")
    for src, dst in ((L, G), (G, L)):
        lab.send(src, v6(src, dst) / TCP(sport=45000, dport=22, flags="S", seq=1000), "ipv6 tcp syn %s dport 22" % src)
        lab.send(src, v6(src, dst) / UDP(sport=45001, dport=53) / Raw(b"q" * 16), "ipv6 udp %s dport 53" % src)
        lab.send(src, v6(src, dst) / ICMPv6EchoRequest(id=0x300, seq=1, data=b"p" * 16), "ipv6 echo request %s" % src)
        target = IP6[dst]
        lab.send(src, Ether(src=MAC[src], dst="33:33:ff:00:00:0%s" % target[-1]) /
                 IPv6(src=IP6[src], dst="ff02::1:ff00:%s" % target.split(":")[-1], hlim=255) /
                 ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=MAC[src]),
                 "ipv6 neighbour solicitation %s for %s" % (src, target))


# ---------------------------------------------------------------------------------------
def udp_sock(lab, ifname, addr, port, family=socket.AF_INET):
    s = lab.sock(ifname, family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(1.0)
    return s


def seed_stateful(lab):
    mac_learning(lab, [G])

    lab.step("== real TCP connections (handshake, data, FIN)")
    tcp_exchange(lab, L, G, socket.AF_INET, IP4[G], 80, "tcp lan->guest:80", True)
    tcp_exchange(lab, L, G, socket.AF_INET, IP4[G], 8080, "tcp lan->guest:8080", True)
    tcp_exchange(lab, L, G, socket.AF_INET, IP4[G], 22, "tcp lan->guest:22", False)
    tcp_exchange(lab, L, G, socket.AF_INET, IP4[G], 25, "tcp lan->guest:25", False)
    tcp_exchange(lab, G, L, socket.AF_INET, IP4[L], 22, "tcp guest->lan:22", True)
    tcp_exchange(lab, G, L, socket.AF_INET, IP4[L], 25, "tcp guest->lan:25", True)

    lab.step("== RST from a closed port")
    for cli, srv, port in ((L, G, 1500), (G, L, 2222)):
        c = lab.sock(cli, socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(0.6)
        lab.step("tcp connect %s -> %s:%d (closed)" % (cli, IP4[srv], port))
        try:
            c.connect((IP4[srv], port))
        except OSError:
            pass
        c.close()
        time.sleep(0.2)

    lab.step("== mid-stream ACKs with no handshake (loose pickup: NEW)")
    lab.send(L, syn(L, G, 46000, 22, flags="A", seq=5000, ack=7000), "mid-stream ack lan->guest dport 22", gap=0.15)
    lab.send(L, syn(L, G, 46001, 8080, flags="A", seq=5000, ack=7000), "mid-stream ack lan->guest dport 8080", gap=0.15)
    lab.send(L, syn(L, G, 46002, 80, flags="PA", seq=5000, ack=7000) / Raw(b"GET / HTTP/1.0\r\n\r\n"),
             "mid-stream psh-ack lan->guest dport 80", gap=0.15)
    lab.send(G, syn(G, L, 46003, 3000, flags="A", seq=5000, ack=7000), "mid-stream ack guest->lan dport 3000", gap=0.15)
    lab.send(G, syn(G, L, 46004, 22, flags="PA", seq=5000, ack=7000) / Raw(b"x" * 10),
             "mid-stream psh-ack guest->lan dport 22", gap=0.15)

    lab.step("== invalid TCP flag combinations (conntrack: INVALID)")
    combos = [("SF", "syn+fin"), ("SR", "syn+rst"), ("F", "fin without ack"), ("", "no flags"),
              ("FSRPAUEC", "all flags")]
    sp = 47000
    for src, dst, ports in ((L, G, (80, 22, 5000)), (G, L, (80,))):
        for port in ports:
            for flags, name in combos:
                lab.send(src, syn(src, dst, sp, port, flags=flags, seq=9000),
                         "tcp %s %s->%s dport %d" % (name, src, dst, port), gap=0.08)
                sp += 1

    lab.step("== UDP with replies")
    g = udp_sock(lab, G, IP4[G], 40053)
    l = udp_sock(lab, L, IP4[L], 53)
    lab.step("udp guest:40053 -> lan:53 query")
    g.sendto(b"query-1", (IP4[L], 53))
    _, peer = l.recvfrom(100)
    time.sleep(0.05)
    lab.step("udp lan:53 -> guest:40053 reply (ESTABLISHED)")
    l.sendto(b"answer-1", peer)
    try:
        g.recvfrom(100)
    except socket.timeout:
        lab.step("reply did not arrive")
    time.sleep(0.1)
    lab.send(L, v4(L, G) / UDP(sport=53, dport=40053) / Raw(b"answer-2"), "udp lan:53 -> guest:40053 second reply (crafted)")
    g2 = udp_sock(lab, G, IP4[G], 123)
    lab.send(L, v4(L, G) / UDP(sport=40123, dport=123) / Raw(b"ntp?" * 4), "udp lan->guest dport 123, no prior request (NEW, dropped)")
    lab.send(L, v4(L, G) / UDP(sport=67, dport=68) / Raw(b"dhcp-offer"), "udp 67->68 lan->guest (dhcp rule)")
    lab.send(L, v4(L, G) / UDP(sport=40124, dport=68) / Raw(b"dhcp?"), "udp 40124->68 lan->guest (not dhcp rule)")

    lab.step("== ICMP echo")
    lab.run(G, ["ping", "-c", "2", "-i", "0.2", "-W", "1", IP4[L]], "ping guest -> lan (replies pass)")
    time.sleep(0.1)
    lab.run(L, ["ping", "-c", "1", "-W", "1", IP4[G]], "ping lan -> guest (request dropped)")
    time.sleep(0.1)

    lab.step("== ICMP errors")
    g3 = udp_sock(lab, G, IP4[G], 40054)
    lab.step("udp guest:40054 -> lan:5353 (closed): lan answers port unreachable (RELATED)")
    g3.sendto(b"hello?", (IP4[L], 5353))
    time.sleep(0.3)
    quoted = IP(src=IP4[G], dst=IP4[L], id=77, ttl=64) / UDP(sport=45999, dport=9999) / Raw(b"never")
    lab.send(L, v4(L, G) / ICMP(type=3, code=3) / bytes(quoted)[:28],
             "icmp port-unreachable lan->guest quoting an untracked udp flow (INVALID)", gap=0.15)
    quoted = IP(src=IP4[G], dst=IP4[L], id=78, ttl=64) / UDP(sport=40053, dport=53) / Raw(b"query-1")
    lab.send(L, v4(L, G) / ICMP(type=3, code=3) / bytes(quoted)[:28],
             "icmp port-unreachable lan->guest quoting the tracked udp 40053->53 flow (RELATED)", gap=0.15)
    quoted = IP(src=IP4[G], dst=IP4[L], id=79, ttl=64) / TCP(sport=45998, dport=80, flags="S")
    lab.send(L, v4(L, G) / ICMP(type=3, code=1) / bytes(quoted)[:28],
             "icmp host-unreachable lan->guest quoting an untracked tcp flow (INVALID)", gap=0.15)

    lab.step("== IPv4 fragments (kernel reassembles before conntrack, refragments on output)")
    lsink = [udp_sock(lab, L, IP4[L], p) for p in (5000, 5001)]
    gsink = [udp_sock(lab, G, IP4[G], p) for p in (5000, 5001, 53)]
    ipid = 3000
    for src, dst, port in ((L, G, 5000), (L, G, 53), (G, L, 5001)):
        for order in ("in order", "reversed"):
            ipid += 1
            dgram = v4(src, dst, id=ipid) / UDP(sport=48000, dport=port) / Raw(bytes(range(256)) * 10)
            frags = fragment(dgram, fragsize=1024)
            if order == "reversed":
                frags = frags[::-1]
            lab.send_many(src, frags, "ipv4 udp fragments %s->%s dport %d %s id %d" % (src, dst, port, order, ipid))
            time.sleep(0.15)

    lab.step("== IPv6 fragments (no ip6tables rules loaded)")
    fid = 0x6000
    for src, dst, port in ((L, G, 5000), (L, G, 53), (G, L, 5001)):
        for order in ("in order", "reversed"):
            fid += 1
            dgram = v6(src, dst) / IPv6ExtHdrFragment(id=fid) / UDP(sport=48000, dport=port) / Raw(bytes(range(256)) * 10)
            frags = fragment6(dgram, 1280)
            if order == "reversed":
                frags = frags[::-1]
            lab.send_many(src, frags, "ipv6 udp fragments %s->%s dport %d %s id 0x%x" % (src, dst, port, order, fid))
            time.sleep(0.15)

    lab.step("== IPv6 neighbour discovery + ping6 both ways")
    lab.run(G, ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", IP6[L]], "ping6 guest -> lan")
    time.sleep(0.2)
    lab.run(L, ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", IP6[G]], "ping6 lan -> guest")
    time.sleep(0.2)

    lab.step("== reply to a broadcast request is NEW, not ESTABLISHED")
    b1 = udp_sock(lab, G, IP4[G], 500)
    b2 = udp_sock(lab, G, IP4[G], 501)
    lsink.append(udp_sock(lab, L, IP4[L], 5002))
    lab.send(G, Ether(src=MAC[G], dst=BCAST_MAC) / IP(src=IP4[G], dst="192.0.2.255", id=1) /
             UDP(sport=500, dport=5002) / Raw(b"who?"), "udp broadcast guest:500 -> 192.0.2.255:5002", gap=0.1)
    lab.send(L, v4(L, G) / UDP(sport=5002, dport=500) / Raw(b"me!"), "udp unicast reply lan:5002 -> guest:500 (NEW: dropped)", gap=0.1)
    lab.send(G, v4(G, L) / UDP(sport=501, dport=5002) / Raw(b"who?"), "udp unicast guest:501 -> lan:5002", gap=0.1)
    lab.send(L, v4(L, G) / UDP(sport=5002, dport=501) / Raw(b"me!"), "udp unicast reply lan:5002 -> guest:501 (ESTABLISHED)", gap=0.1)

    lab.step("== VLAN-tagged IP (bypasses iptables by default)")
    lab.send(L, eth(L, G) / Dot1Q(vlan=10) / IP(src=IP4[L], dst=IP4[G], id=1) /
             TCP(sport=49000, dport=22, flags="S", seq=1000), "802.1q vlan 10 tcp syn lan->guest dport 22")
    lab.send(L, eth(L, G) / Dot1Q(vlan=10) / IP(src=IP4[L], dst=IP4[G], id=1) /
             UDP(sport=49001, dport=123) / Raw(b"v" * 8), "802.1q vlan 10 udp lan->guest dport 123")

    lab.step("== a flow that is its own reply (the same address and port at both ends)")
    own = IP(src=IP4[G], dst=IP4[G], id=1) / UDP(sport=7, dport=7) / Raw(b"self")
    lab.send(G, eth(G, L) / own, "udp guest:7 -> guest:7 via lan, first (NEW)", gap=0.1)
    lab.send(G, eth(G, L) / own, "udp guest:7 -> guest:7 via lan, again (matches the reply tuple)", gap=0.1)
    lab.send(L, eth(L, G) / own, "udp guest:7 -> guest:7 from lan (ESTABLISHED: accepted)", gap=0.1)
    for s in [g, l, g2, g3, b1, b2] + lsink + gsink:
        s.close()


# ---------------------------------------------------------------------------------------
def multi_vm(lab):
    mac_learning(lab, [G, G1])
    # gst1 and gst0 learn each other through gratuitous-style crafted ARP as well
    lab.send(G1, Ether(src=MAC[G1], dst=BCAST_MAC) / ARP(op=1, hwsrc=MAC[G1], psrc=IP4[G1], pdst=IP4[G]),
             "arp request gst1 -> who-has 192.0.2.2", gap=0.1)
    sinks = []

    lab.step("== LAN -> vm0 (tap0)")
    tcp_exchange(lab, L, G, socket.AF_INET, IP4[G], 22, "tcp lan->vm0:22 (NEW multiport)", True)
    tcp_exchange(lab, L, G, socket.AF_INET, IP4[G], 3306, "tcp lan->vm0:3306 (not allowed)", False)
    lab.send(L, eth(L, G) / IP(src=IP4["lan0b"], dst=IP4[G], id=1) / TCP(sport=50000, dport=3306, flags="S"),
             "tcp syn 198.51.100.1 -> vm0:3306 (admin CIDR accepted)")
    lab.send(L, v4(L, G) / ICMP(type=8, id=0x400, seq=1) / Raw(b"p" * 16), "icmp echo lan->vm0 (accepted)")
    lab.send(L, v4(L, G) / UDP(sport=123, dport=40000) / Raw(b"t" * 8), "udp lan:123 -> vm0:40000 (--ports matches sport)")
    lab.send(L, v4(L, G) / UDP(sport=40001, dport=53) / Raw(b"q" * 8), "udp lan -> vm0:53 (--ports)")
    lab.send(L, v4(L, G) / UDP(sport=40002, dport=54) / Raw(b"q" * 8), "udp lan -> vm0:54 (LOG then DROP)")
    lab.send(L, syn(L, G, 50001, 80, flags="SF"), "tcp syn+fin lan->vm0:80 (INVALID dropped first)")
    lab.send(L, syn(L, G, 50002, 80, flags="A", seq=1, ack=1), "mid-stream ack lan->vm0:80 (NEW by pickup, but multiport wants NEW: accepted)")

    lab.step("== LAN -> vm1 (tap1)")
    tcp_exchange(lab, L, G1, socket.AF_INET, IP4[G1], 8080, "tcp lan->vm1:8080", True)
    lab.send(L, syn(L, G1, 50100, 25), "tcp syn lan->vm1:25 (REJECT tcp-reset)", gap=0.2)
    lab.send(L, v4(L, G1) / UDP(sport=50101, dport=5050) / Raw(b"u" * 8), "udp lan->vm1:5050 (accepted)")
    lab.send(L, v4(L, G1) / UDP(sport=50102, dport=6000) / Raw(b"u" * 8), "udp lan->vm1:6000 (RETURN -> policy DROP)")
    lab.send(L, eth(L, G1) / IP(src=IP4["lan0b"], dst=IP4[G1], id=1) / TCP(sport=50103, dport=8080, flags="S"),
             "tcp syn 198.51.100.1 -> vm1:8080 (! -s 192.0.2.0/24 dropped)")
    lab.send(L, v4(L, G1) / ICMP(type=8, id=0x401, seq=1) / Raw(b"p" * 16), "icmp echo lan->vm1 (dropped)")

    lab.step("== vm <-> vm")
    tcp_exchange(lab, G1, G, socket.AF_INET, IP4[G], 5432, "tcp vm1->vm0:5432 (db rule)", True)
    tcp_exchange(lab, G, G1, socket.AF_INET, IP4[G1], 8080, "tcp vm0->vm1:8080", True)
    lab.send(G, syn(G, G1, 50200, 6000), "tcp syn vm0->vm1:6000 (vm1_in RETURN, then vm0_out ACCEPT)")
    lab.send(G1, syn(G1, G, 50201, 6000), "tcp syn vm1->vm0:6000 (dropped by vm0_in)")
    lab.send(G1, syn(G1, G, 50202, 5433), "tcp syn vm1->vm0:5433 (dropped)")

    lab.step("== vm -> LAN, anti-spoofing")
    tcp_exchange(lab, G, L, socket.AF_INET, IP4[L], 443, "tcp vm0->lan:443", True)
    tcp_exchange(lab, G1, L, socket.AF_INET, IP4[L], 25, "tcp vm1->lan:25 (vm1_out drops smtp)", False)
    lab.send(G, eth(G, L) / IP(src="192.0.2.66", dst=IP4[L], id=1) / UDP(sport=50300, dport=5000) / Raw(b"s" * 8),
             "udp vm0 with spoofed source ip 192.0.2.66 (dropped)")
    lab.send(G1, eth(G1, L, src="02:00:00:00:66:66") / IP(src=IP4[G1], dst=IP4[L], id=1) /
             UDP(sport=50301, dport=5000) / Raw(b"s" * 8), "udp vm1 with foreign source mac (mac match: dropped)")
    lab.send(G1, v4(G1, L) / UDP(sport=50302, dport=5000) / Raw(b"s" * 8), "udp vm1 -> lan:5000 (accepted)")

    lab.step("== broadcast / multicast / unknown unicast flooded to two ports, judged per port")
    lab.send(L, Ether(src=MAC[L], dst=BCAST_MAC) / IP(src=IP4[L], dst="192.0.2.255", id=1) /
             UDP(sport=50400, dport=5050) / Raw(b"b" * 8), "udp broadcast lan -> :5050 (vm1 accepts, vm0 drops)")
    lab.send(L, Ether(src=MAC[L], dst=BCAST_MAC) / IP(src=IP4[L], dst="192.0.2.255", id=1) /
             UDP(sport=50401, dport=53) / Raw(b"b" * 8), "udp broadcast lan -> :53 (vm0 accepts, vm1 drops)")
    lab.send(L, Ether(src=MAC[L], dst="01:00:5e:01:01:01") / IP(src=IP4[L], dst="239.1.1.1", id=1) /
             UDP(sport=50402, dport=5060) / Raw(b"m" * 8), "udp multicast lan -> 239.1.1.1:5060")
    lab.send(G, Ether(src=MAC[G], dst=BCAST_MAC) / IP(src=IP4[G], dst="192.0.2.255", id=1) /
             UDP(sport=50403, dport=5050) / Raw(b"b" * 8), "udp broadcast vm0 -> :5050")
    lab.send(L, eth(L, dst=UNKNOWN_MAC) / IP(src=IP4[L], dst="192.0.2.99", id=1) /
             TCP(sport=50404, dport=22, flags="S"), "unknown unicast lan tcp syn 22 (vm0 NEW 22 ok, vm1 drop)")
    lab.send(L, Dot3(src=MAC[L], dst="01:80:c2:00:00:00") /
             LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(rootmac=MAC[L], bridgemac=MAC[L]), "stp bpdu lan")

    lab.step("== VLAN-tagged IP to vm1 (bypasses iptables)")
    lab.send(L, eth(L, G1) / Dot1Q(vlan=20) / IP(src=IP4[L], dst=IP4[G1], id=1) /
             TCP(sport=50500, dport=25, flags="S"), "802.1q vlan 20 tcp syn lan->vm1:25")

    lab.step("== IPv6: ND and echo allowed to vm0 only")
    lab.run(L, ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", IP6[G]], "ping6 lan -> vm0 (allowed)")
    time.sleep(0.2)
    lab.run(L, ["ping", "-6", "-c", "1", "-W", "1", IP6[G1]], "ping6 lan -> vm1 (ND to tap1 dropped)")
    time.sleep(0.2)
    lab.run(G1, ["ping", "-6", "-c", "1", "-W", "1", IP6[G]], "ping6 vm1 -> vm0")
    time.sleep(0.2)
    lab.send(L, v6(L, G) / TCP(sport=51000, dport=22, flags="S"), "ipv6 tcp syn lan->vm0:22 (allowed)")
    lab.send(L, v6(L, G) / TCP(sport=51001, dport=23, flags="S"), "ipv6 tcp syn lan->vm0:23 (dropped)")
    lab.send(L, v6(L, G1) / TCP(sport=51002, dport=22, flags="S"), "ipv6 tcp syn lan->vm1:22 (dropped)")
    lab.step("== IPv6 fragments with ip6tables conntrack active")
    fid = 0x7000
    for dst, port in ((G, 22), (G, 23)):
        for order in ("in order", "reversed"):
            fid += 1
            dgram = v6(L, dst) / IPv6ExtHdrFragment(id=fid) / TCP(sport=51100 + fid % 16, dport=port, flags="PA", seq=1, ack=1) / \
                Raw(bytes(range(256)) * 8)
            frags = fragment6(dgram, 1280)
            if order == "reversed":
                frags = frags[::-1]
            lab.send_many(L, frags, "ipv6 tcp fragments lan->vm0 dport %d %s id 0x%x" % (port, order, fid))
            time.sleep(0.15)
    lab.step("== IPv4 fragments lan -> vm1")
    for port, ipid in ((5050, 4001), (6000, 4002)):
        dgram = v4(L, G1, id=ipid) / UDP(sport=51200, dport=port) / Raw(bytes(range(256)) * 8)
        lab.send_many(L, fragment(dgram, fragsize=1024)[::-1], "ipv4 udp fragments reversed lan->vm1 dport %d" % port)
        time.sleep(0.15)
    for s in sinks:
        s.close()


# ---------------------------------------------------------------------------------------
# Recorded with conntrack sysctls other than the defaults (record.sh CT_SYSCTLS): each step
# gives a frame whose verdict under the seed's rules differs from the default settings'.
def ct_sysctls(lab):
    mac_learning(lab, [G])

    lab.step("== nf_conntrack_tcp_loose=0: a mid-stream segment is INVALID, makes no entry")
    lab.send(G, v4(G, L) / TCP(sport=601, dport=22, flags="A", seq=5000, ack=7000, window=502),
             "tcp ack mid-stream guest:601->lan:22 (INVALID, vboxout accepts all)")
    lab.send(L, v4(L, G) / TCP(sport=22, dport=601, flags="A", seq=7000, ack=5000, window=502),
             "tcp ack lan:22->guest:601 (no entry: INVALID, dport < 1024)")

    lab.step("== a handshake guest:602 -> lan:80, then segments the defaults would call INVALID")
    lab.send(G, syn(G, L, 602, 80, seq=1000), "tcp syn guest:602->lan:80")
    lab.send(L, v4(L, G) / TCP(sport=80, dport=602, flags="SA", seq=50000, ack=1001, window=64240),
             "tcp syn/ack lan:80->guest:602")
    lab.send(G, v4(G, L) / TCP(sport=602, dport=80, flags="A", seq=1001, ack=50001, window=502),
             "tcp ack guest:602->lan:80")
    lab.send(L, v4(L, G) / TCP(sport=80, dport=602, flags="PA", seq=50001, ack=1001, window=502,
                                chksum=0x1234) / Raw(b"c" * 20),
             "tcp data lan:80->guest:602 bad checksum (nf_conntrack_checksum=0: ESTABLISHED)")
    lab.send(L, v4(L, G) / TCP(sport=80, dport=602, flags="PA", seq=50001 + 0x40000000, ack=1001,
                                window=502) / Raw(b"w" * 20),
             "tcp data lan:80->guest:602 far over the window (nf_conntrack_tcp_be_liberal=1: ESTABLISHED)")

    lab.step("== nf_conntrack_udp_timeout=3: a reply after 4 s finds no entry")
    lab.send(G, v4(G, L) / UDP(sport=603, dport=53) / Raw(b"q" * 16), "udp guest:603->lan:53")
    lab.send(G, v4(G, L) / UDP(sport=604, dport=53) / Raw(b"q" * 16), "udp guest:604->lan:53")
    lab.send(L, v4(L, G) / UDP(sport=53, dport=604) / Raw(b"r" * 16),
             "udp reply lan:53->guest:604 at once (ESTABLISHED)")
    time.sleep(4)
    lab.send(L, v4(L, G) / UDP(sport=53, dport=603) / Raw(b"r" * 16),
             "udp reply lan:53->guest:603 after 4 s (entry expired: NEW, dport < 1024)")


CASES = {"seed_stateless": seed_stateless, "seed_stateful": seed_stateful, "multi_vm": multi_vm,
         "ct_sysctls": ct_sysctls, "random_mix": lambda lab: random_mix(lab, ip_options=True),
         "random_rules": lambda lab: random_mix(lab, seed=101),
         "random_multi": lambda lab: random_mix(lab, seed=201, guests=(G, G1)),
         "random_reject": lambda lab: random_mix(lab, seed=801),
         "random_timeouts": lambda lab: random_mix(lab, seed=51, steps=600, pauses=0.03),
         "random_vlan": lambda lab: random_mix(lab, seed=911, guests=(G, G1), vlan=0.5),
         "random_iprange": lambda lab: random_mix(lab, seed=1001),
         "random_iface": lambda lab: random_mix(lab, seed=1201),
         "random_limit": lambda lab: random_mix(lab, seed=1401),
         "random_length": lambda lab: random_mix(lab, seed=1501),
         "random_pkttype": lambda lab: random_mix(lab, seed=1601, guests=(G, G1))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--hosts", required=True, help="ifname=netns,...")
    ap.add_argument("--steps", required=True)
    a = ap.parse_args()
    hosts = dict(kv.split("=", 1) for kv in a.hosts.split(","))
    lab = Lab("", a.steps, hosts)
    try:
        CASES[a.case](lab)
        time.sleep(0.3)
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
