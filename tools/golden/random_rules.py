#!/usr/bin/python3
# random_rules.py - a seeded random iptables/ip6tables filter ruleset for the golden case
# random_rules (record.sh): the FORWARD chain and two user chains, with the matches and
# targets tapwall implements, combined and negated at random. Why: the hand-written
# policies test the rules someone thought of; random ones test the compiled policy against
# the kernel on combinations nobody wrote (recorded under random_mix's traffic).
#
# usage: random_rules.py --seed N --family 4|6 [--ports eth0,tap0,tap1] [--reject] [--iprange]
#        [--iface] [--limit] [--length] [--pkttype] > rules.v4
# --reject turns most (7 in 10) DROP targets into REJECT, with a random --reject-with
# valid for the rule (or none: the default), drawn from a random stream of its own, so the
# rest of the seed's ruleset is the same as without it. --iprange adds `-m iprange`
# address ranges to some rules (3 in 10), from a stream of its own likewise; --iface adds
# -i / -o (in FORWARD they name the bridge, br0, never a port) likewise; --limit adds
# `-m limit` (3 in 10 rules) likewise, somewhere among the rule's matches (where it sits
# decides which packets spend its tokens), at rates of a minute or slower a token, so a
# recording sees bursts run out and no refill whose timing would have to agree to the
# microsecond; --length adds `-m length` (3 in 10 rules) likewise, around the traffic's
# sizes; --pkttype adds `-m pkttype` (3 in 10 rules) likewise.
# Invariants: the same seed, family and --reject give the same file; jumps only go down
# the chain list (FORWARD -> c1 -> c2), so there are no loops; only documentation addresses.
import argparse
import random

ADDR = {4: ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32", "192.0.2.0/24", "192.0.2.0/31",
            "192.0.2.2/31", "198.51.100.0/24", "224.0.0.0/4", "0.0.0.0/1", "128.0.0.0/1"],
        6: ["2001:db8::1/128", "2001:db8::2/128", "2001:db8::3/128", "2001:db8::/64",
            "2001:db8::/127", "2001:db8::2/127", "2001:db8:1::/48", "ff02::/16", "::/1",
            "8000::/1"]}
PORTS = ["22", "53", "80", "123", "443", "1500", "3000", "5353", "8080", "40000",
         "52000:52006", "52007:52020", "53000:53004", "53005:53010", "1024:65535", "0:1023"]
ICMP = {4: ["echo-request", "echo-reply", "8", "0", "13", "destination-unreachable", "3/3",
            "port-unreachable", "time-exceeded", "11/0", "parameter-problem", "any"],
        6: ["echo-request", "echo-reply", "128", "129", "destination-unreachable", "1/4",
            "packet-too-big", "time-exceeded", "parameter-problem"]}
# --reject-with values (iptables' canonical names and some of its aliases), per family.
REJECT_WITH = {4: ["icmp-net-unreachable", "host-unreach", "icmp-port-unreachable",
                   "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited",
                   "icmp-admin-prohibited"],
               6: ["icmp6-no-route", "adm-prohibited", "icmp6-addr-unreachable",
                   "icmp6-port-unreachable"]}
# -m iprange ranges: across the hosts' addresses, single addresses, and a reversed one
# (iptables warns that it never matches, and loads it).
RANGES = {4: ["192.0.2.1-192.0.2.2", "192.0.2.2-192.0.2.3", "192.0.2.1-192.0.2.3",
              "192.0.2.2", "192.0.2.0-192.0.2.127", "192.0.2.3-198.51.100.255",
              "198.51.100.1-198.51.100.1", "192.0.2.3-192.0.2.1"],
          6: ["2001:db8::1-2001:db8::2", "2001:db8::2-2001:db8::3", "2001:db8::1-2001:db8::3",
              "2001:db8::2", "2001:db8::-2001:db8::ffff", "2001:db8::3-2001:db8:1::",
              "2001:db8::3-2001:db8::1"]}
# -i / -o names: the bridge, wildcards that take it in or not, a port, another device.
IFACES = ["br0", "br0", "br+", "b+", "eth0", "tap0", "br1", "lo", "tap+"]
# -m limit rates (None: iptables' default, 3/hour) and bursts (None: the default, 5).
LIMIT_RATES = [None, "1/hour", "2/hour", "5/hour", "20/h", "3/day", "4/d", "30/hour"]
LIMIT_BURSTS = [None, 1, 1, 2, 3, 8, 0]
# -m length ranges: bare headers and handshakes (40-80), small and large datagrams, open
# ends, one exact size, and a reversed range (loads, matches nothing).
LENGTHS = ["0:64", "40", "52", "60:100", "84", "100:1500", "1000:", ":576", "1280:65535",
           "41:1499", "200:100", "28:60"]
# -m pkttype names (unicast and host are one type; otherhost is never seen at FORWARD if
# br_netfilter turns it into host, as tapwall assumes).
PKTTYPES = ["unicast", "broadcast", "multicast", "host", "otherhost"]
STATES = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]
FLAGS = ["SYN", "ACK", "FIN", "RST", "URG", "PSH"]
MACS = ["02:00:00:00:01:01", "02:00:00:00:02:02", "02:00:00:00:02:03"]


def neg(rnd, p=0.25):
    return "! " if rnd.random() < p else ""


def reject(rej, family, proto):
    """A REJECT target: the default, a family's ICMP error, or a TCP reset for TCP rules."""
    choices = [None] + REJECT_WITH[family] + (["tcp-reset", "tcp-reset"] if proto == "tcp" else [])
    w = rej.choice(choices)
    return "REJECT" if w is None else "REJECT --reject-with %s" % w


def iprange(ipr, family):
    """-m iprange with a source range, a destination range or both, each maybe negated."""
    opts = []
    for opt in ("--src-range", "--dst-range"):
        if ipr.random() < 0.6:
            opts.append("%s%s %s" % (neg(ipr), opt, ipr.choice(RANGES[family])))
    if not opts:
        opts.append("%s--src-range %s" % (neg(ipr), ipr.choice(RANGES[family])))
    return "-m iprange " + " ".join(opts)


def limit(lim):
    """-m limit with a slow rate and a small burst, each maybe left at its default."""
    opts = ["-m limit"]
    rate, burst = lim.choice(LIMIT_RATES), lim.choice(LIMIT_BURSTS)
    if rate is not None:
        opts.append("--limit %s" % rate)
    if burst is not None:
        opts.append("--limit-burst %d" % burst)
    return " ".join(opts)


def rule(rnd, family, chain, targets, ports, rej=None, ipr=None, ifc=None, lim=None, lng=None,
         pkt=None):
    parts = []
    if ifc is not None:
        for opt in ("-i", "-o"):
            if ifc.random() < 0.3:
                parts.append("%s%s %s" % (neg(ifc), opt, ifc.choice(IFACES)))
    proto = rnd.choice([None, None, "tcp", "tcp", "udp", "udp", "icmp"])
    if proto == "icmp" and family == 6:
        proto = "ipv6-icmp"
    if proto:
        # a negated protocol cannot carry port or type matches
        if rnd.random() < 0.15:
            parts.append("! -p %s" % proto)
            proto = None
        else:
            parts.append("-p %s" % proto)
    for opt in ("-s", "-d"):
        if rnd.random() < 0.4:
            parts.append("%s%s %s" % (neg(rnd), opt, rnd.choice(ADDR[family])))
    if ipr is not None and ipr.random() < 0.3:
        parts.append(iprange(ipr, family))
    if proto in ("tcp", "udp"):
        if rnd.random() < 0.75:
            m = ["-m %s" % proto]
            for opt in ("--sport", "--dport"):
                if rnd.random() < 0.5:
                    m.append("%s%s %s" % (neg(rnd), opt, rnd.choice(PORTS)))
            if proto == "tcp" and rnd.random() < 0.35:
                if rnd.random() < 0.4:
                    m.append("%s--syn" % neg(rnd))
                else:
                    mask = rnd.sample(FLAGS, rnd.randint(1, 4))
                    comp = [f for f in mask if rnd.random() < 0.5] or ["NONE"]
                    m.append("%s--tcp-flags %s %s" % (neg(rnd), ",".join(mask), ",".join(comp)))
            if len(m) > 1:
                parts.extend(m)
        if rnd.random() < 0.25:
            single = [p for p in PORTS if ":" not in p]
            parts.append("-m multiport %s%s %s" % (
                neg(rnd), rnd.choice(["--dports", "--sports", "--ports"]),
                ",".join(rnd.sample(single, rnd.randint(1, 4)))))
    elif proto in ("icmp", "ipv6-icmp") and rnd.random() < 0.7:
        mod, opt = ("icmp", "--icmp-type") if family == 4 else ("icmp6", "--icmpv6-type")
        parts.append("-m %s %s%s %s" % (mod, neg(rnd), opt, rnd.choice(ICMP[family])))
    if rnd.random() < 0.5:
        mod, opt = rnd.choice([("conntrack", "--ctstate"), ("state", "--state")])
        parts.append("-m %s %s%s %s" % (mod, neg(rnd, 0.15), opt,
                                        ",".join(rnd.sample(STATES, rnd.randint(1, 3)))))
    if rnd.random() < 0.35:
        pd = []
        if rnd.random() < 0.6:
            pd.append("%s--physdev-in %s" % (neg(rnd), rnd.choice(ports)))
        if rnd.random() < 0.5:
            pd.append("%s--physdev-out %s" % (neg(rnd), rnd.choice(ports)))
        if not pd or rnd.random() < 0.2:
            pd.append("%s--physdev-is-bridged" % neg(rnd))
        parts.append("-m physdev " + " ".join(pd))
    if rnd.random() < 0.12:
        parts.append("-m mac %s--mac-source %s" % (neg(rnd), rnd.choice(MACS)))
    if family == 4 and rnd.random() < 0.05:
        parts.append("%s-f" % neg(rnd, 0.5))  # never true after defragmentation
    if lim is not None and lim.random() < 0.3:
        parts.insert(lim.randint(0, len(parts)), limit(lim))
    if lng is not None and lng.random() < 0.3:
        parts.insert(lng.randint(0, len(parts)),
                     "-m length %s--length %s" % (neg(lng), lng.choice(LENGTHS)))
    if pkt is not None and pkt.random() < 0.3:
        parts.insert(pkt.randint(0, len(parts)),
                     "-m pkttype %s--pkt-type %s" % (neg(pkt), pkt.choice(PKTTYPES)))
    target = rnd.choice(targets)
    if rej is not None and target == "DROP" and rej.random() < 0.7:
        target = reject(rej, family, proto)
    if target == "LOG":
        target = 'LOG --log-prefix "%s: "' % chain
    return " ".join(["-A", chain] + parts + ["-j", target])


def ruleset(seed, family, ports, with_reject=False, with_iprange=False, with_iface=False,
            with_limit=False, with_length=False, with_pkttype=False):
    rnd = random.Random(seed * 10 + family)
    rej = random.Random("reject %d %d" % (seed, family)) if with_reject else None
    ipr = random.Random("iprange %d %d" % (seed, family)) if with_iprange else None
    ifc = random.Random("iface %d %d" % (seed, family)) if with_iface else None
    lim = random.Random("limit %d %d" % (seed, family)) if with_limit else None
    lng = random.Random("length %d %d" % (seed, family)) if with_length else None
    pkt = random.Random("pkttype %d %d" % (seed, family)) if with_pkttype else None
    lines = ["*filter", ":INPUT ACCEPT [0:0]",
             ":FORWARD %s [0:0]" % rnd.choice(["ACCEPT", "DROP"]), ":OUTPUT ACCEPT [0:0]",
             ":c1 - [0:0]", ":c2 - [0:0]"]
    # Non-terminating targets (LOG, a jump, RETURN) are common so that a packet meets many
    # rules before one decides; a policy of broad ACCEPT/DROP rules would test only its
    # first few.
    base = ["ACCEPT", "DROP", "LOG", "LOG"]
    for chain, n, targets in (("FORWARD", rnd.randint(8, 14), base + ["c1", "c1", "c2"]),
                              ("c1", rnd.randint(6, 10), base + ["RETURN", "RETURN", "c2"]),
                              ("c2", rnd.randint(6, 10), base + ["RETURN", "RETURN"])):
        rules = [rule(rnd, family, chain, targets, ports, rej, ipr, ifc, lim, lng, pkt)
                 for _ in range(n)]
        if pkt is not None and chain == "FORWARD":
            # Bare ones too, counting without deciding, so that the flooded broadcast and
            # multicast frames meet some: a rule with other matches rarely admits them.
            for _ in range(3):
                rules.insert(pkt.randint(0, len(rules)),
                             '-A FORWARD -m pkttype %s--pkt-type %s -j LOG --log-prefix "pkt: "'
                             % (neg(pkt, 0.3), pkt.choice(PKTTYPES)))
        lines += rules
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--family", type=int, choices=(4, 6), required=True)
    ap.add_argument("--ports", default="eth0,tap0", help="the bridge ports physdev may name")
    ap.add_argument("--reject", action="store_true", help="turn some DROP targets into REJECT")
    ap.add_argument("--iprange", action="store_true", help="add -m iprange to some rules")
    ap.add_argument("--iface", action="store_true", help="add -i / -o to some rules")
    ap.add_argument("--limit", action="store_true", help="add -m limit to some rules")
    ap.add_argument("--length", action="store_true", help="add -m length to some rules")
    ap.add_argument("--pkttype", action="store_true", help="add -m pkttype to some rules")
    a = ap.parse_args()
    print(ruleset(a.seed, a.family, a.ports.split(","), a.reject, a.iprange, a.iface, a.limit,
                  a.length, a.pkttype), end="")


if __name__ == "__main__":
    main()
