# craft.py - the hosts of the golden lab and the helpers that build their frames (scapy),
# shared by the hand-written cases (scenario.py) and the random traffic (random_traffic.py).
# Invariants: only the lab's fixed MACs and documentation addresses (twg_net).
# Thread-safety: pure functions, except mac_learning, which sends through the Lab.
from scapy.all import ARP, IP, TCP, Ether, IPv6

from twg_net import BCAST_MAC, IP4, IP6, MAC

L, G, G1 = "lan0", "gst0", "gst1"


def eth(src_if, dst_if=None, dst=None, src=None, **kw):
    return Ether(src=src or MAC[src_if], dst=dst or MAC[dst_if], **kw)


def v4(src_if, dst_if, **kw):
    """Unicast IPv4 between two hosts: Ether/IP with fixed id."""
    kw.setdefault("id", 1)
    return eth(src_if, dst_if) / IP(src=IP4[src_if], dst=IP4[dst_if], **kw)


def v6(src_if, dst_if, **kw):
    return eth(src_if, dst_if) / IPv6(src=IP6[src_if], dst=IP6[dst_if], **kw)


def syn(src_if, dst_if, sport, dport, flags="S", seq=1000, **kw):
    return v4(src_if, dst_if) / TCP(sport=sport, dport=dport, flags=flags, seq=seq,
                                    window=64240, **kw)


def mac_learning(lab, guests):
    """ARP both ways first, so the bridge knows every host's MAC (no unintended
    flooding of unicast later).  Hosts answer the requests themselves."""
    for g in guests:
        lab.send(L, Ether(src=MAC[L], dst=BCAST_MAC) /
                 ARP(op=1, hwsrc=MAC[L], psrc=IP4[L], pdst=IP4[g]),
                 "arp request lan0 -> who-has %s" % IP4[g], gap=0.1)
        lab.send(g, eth(g, L) / ARP(op=2, hwsrc=MAC[g], psrc=IP4[g], hwdst=MAC[L],
                                    pdst=IP4[L]),
                 "arp reply %s -> lan0 (crafted)" % g, gap=0.1)
        lab.send(g, Ether(src=MAC[g], dst=BCAST_MAC) /
                 ARP(op=1, hwsrc=MAC[g], psrc=IP4[g], pdst=IP4[L]),
                 "arp request %s -> who-has 192.0.2.1" % g, gap=0.1)
        lab.send(L, eth(L, g) / ARP(op=2, hwsrc=MAC[L], psrc=IP4[L], hwdst=MAC[g],
                                    pdst=IP4[g]),
                 "arp reply lan0 -> %s (crafted)" % g, gap=0.1)
