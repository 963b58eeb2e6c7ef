#!/usr/bin/python3
# derive.py - turn the raw captures of one recording into a golden case directory.
#
# Input (--tmp): in-<port>.pcap / out-<port>.pcap per bridge port (tcpdump -Q in / -Q out
# on the bridge ports), rules.v4 [rules.v6], steps.jsonl (what scenario.py did).
# Output (--out): in-<port>.pcap, out-<port>.pcap, rules.v4 [rules.v6], expected.jsonl,
# case.json, README.md, counters.v4 [counters.v6] (iptables-save -c after the run).
#
# Matching (why: the kernel tells us what it sent, not what it dropped):
#  1. exact: an egress frame on port P is the copy of an ingress frame from another port
#     with identical bytes and a timestamp not after it; if several ingress frames are
#     identical, the most recent one not yet delivered to P gets it (for a fragment the
#     earliest: the kernel keeps a fragment's first copy and drops later duplicates; each
#     egress frame is consumed once; one ingress frame may be delivered to several ports).
#  2. fragments: the kernel reassembles fragments before conntrack and sends the datagram
#     on, refragmented or (IPv6, when it fits) whole.  Ingress fragments are reassembled
#     here with the kernel's queue rules (duplicates dropped alone, overlaps kill the
#     queue); an ingress fragment is delivered to P if it went into a datagram whose
#     payload went out on P (same addresses and protocol; the kernel may pick a new IPv6
#     fragment id).  Such entries carry "match":"datagram".
#  Egress frames matched by neither rule are reported (unmatched-egress in case.json)
#  and make the recording fail: the bridge host must not emit frames of its own.
#
# Invariant: expected.jsonl has exactly one line per ingress frame, ordered by capture
# timestamp across all ports, "n" being the 1-based frame number in in-<port>.pcap.
import argparse
import bisect
import ipaddress
import json
import os
import shutil
import struct
import sys

# ---------------------------------------------------------------------------- pcap --


def read_pcap(path):
    """[(ts_ns, bytes)] from a classic pcap file (micro- or nanosecond, either endian)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
             b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in table:
        raise ValueError("%s: not a pcap file" % path)
    end, mult = table[magic]
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: linktype %d, want Ethernet" % (path, linktype))
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if incl != orig:
            raise ValueError("%s: truncated capture (snaplen)" % path)
        out.append((sec * 1000000000 + frac * mult, data[off:off + incl]))
        off += incl
    return out

# -------------------------------------------------------------------------- decode --


def mac(b):
    return ":".join("%02x" % x for x in b)


TCP_FLAGS = "FSRPAUEC"


def tcp_flags(v):
    s = "".join(TCP_FLAGS[i] for i in range(8) if v & (1 << i))
    return s or "none"


ICMP4 = {0: "echo-reply", 3: "dest-unreach", 8: "echo-request", 11: "time-exceeded"}
ICMP6 = {1: "dest-unreach", 128: "echo-request", 129: "echo-reply", 130: "mld-query",
         131: "mld-report", 133: "router-solicit", 134: "router-advert",
         135: "neighbour-solicit", 136: "neighbour-advert", 143: "mldv2-report"}


def l4_label(proto, src, dst, p, v6=False, quoted=False):
    """Label for a transport header in bytes p (src/dst already formatted)."""
    if proto == 6:
        if quoted and len(p) >= 4:     # an ICMP error quotes only 8 bytes of it
            return "tcp %s:%d->%s:%d" % ((src,) + struct.unpack("!H", p[:2]) + (dst,) + struct.unpack("!H", p[2:4]))
        if len(p) < 20:
            ports = ":%d->%s:%d" % (struct.unpack("!H", p[:2]) + (dst,) + struct.unpack("!H", p[2:4])) if len(p) >= 4 else "->" + dst
            return "tcp truncated (%d bytes) %s%s" % (len(p), src, ports)
        sp, dp, _, _, doff, fl = struct.unpack("!HHIIBB", p[:14])
        doff >>= 4
        extra = ""
        if doff < 5:
            extra = " bad-doff=%d" % doff
        elif len(p) > doff * 4:
            extra = " len=%d" % (len(p) - doff * 4)
        return "tcp %s %s:%d->%s:%d%s" % (tcp_flags(fl), src, sp, dst, dp, extra)
    if proto == 17:
        if len(p) < 8:
            ports = ":%d->%s:%d" % (struct.unpack("!H", p[:2]) + (dst,) + struct.unpack("!H", p[2:4])) if len(p) >= 4 else "->" + dst
            return "udp truncated (%d bytes) %s%s" % (len(p), src, ports)
        sp, dp = struct.unpack("!HH", p[:4])
        return "udp %s:%d->%s:%d len=%d" % (src, sp, dst, dp, len(p) - 8)
    if proto == 1 and not v6:
        if len(p) < 4:
            return "icmp truncated %s->%s" % (src, dst)
        t, c = p[0], p[1]
        s = "icmp %s %s->%s" % (ICMP4.get(t, "type=%d" % t), src, dst)
        if t in (3, 11):
            s += " code=%d quoting [%s]" % (c, ipv4_label(p[8:], quoted=True))
        return s
    if proto == 58 and v6:
        if len(p) < 4:
            return "icmp6 truncated %s->%s" % (src, dst)
        t = p[0]
        s = "icmp6 %s %s->%s" % (ICMP6.get(t, "type=%d" % t), src, dst)
        if t in (135, 136) and len(p) >= 24:
            s += " target %s" % ipaddress.IPv6Address(p[8:24])
        return s
    if proto == 2:
        return "igmp %s->%s" % (src, dst)
    return "proto %d %s->%s" % (proto, src, dst)


def ipv4_label(b, quoted=False):
    if len(b) < 20:
        return "ipv4 truncated"
    vihl, _, tot, ipid, frag, ttl, proto, csum = struct.unpack("!BBHHHBBH", b[:12])
    ihl = vihl & 15
    src = str(ipaddress.IPv4Address(b[12:16]))
    dst = str(ipaddress.IPv4Address(b[16:20]))
    if ihl < 5:
        return "ipv4 bad-ihl=%d proto %d %s->%s" % (ihl, proto, src, dst)
    if not quoted:
        if tot > len(b):
            return "ipv4 bad-totlen=%d (have %d) proto %d %s->%s" % (tot, len(b), proto, src, dst)
        if ipv4_csum(b[:ihl * 4]) != 0:
            return "ipv4 bad-csum " + l4_label(proto, src, dst, b[ihl * 4:tot])
    off = (frag & 0x1fff) * 8
    mf = frag & 0x2000
    if (off or mf) and not quoted:
        return "ipv4 frag id=%d off=%d%s proto %d %s->%s" % (ipid, off, " MF" if mf else "", proto, src, dst)
    end = min(tot, len(b)) if quoted else tot
    return l4_label(proto, src, dst, b[ihl * 4:end], quoted=quoted)


def ipv4_csum(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv6_label(b):
    if len(b) < 40:
        return "ipv6 truncated"
    nh = b[6]
    src = str(ipaddress.IPv6Address(b[8:24]))
    dst = str(ipaddress.IPv6Address(b[24:40]))
    p = b[40:]
    while nh in (0, 43, 60) and len(p) >= 8:       # hop-by-hop, routing, dest options
        nh, p = p[0], p[(p[1] + 1) * 8:]
    if nh == 44 and len(p) >= 8:
        fo, fid = struct.unpack("!HI", p[2:8])
        return "ipv6 frag id=0x%x off=%d%s nh %d %s->%s" % (fid, fo & 0xfff8, " M" if fo & 1 else "",
                                                          p[0], src, dst)
    return l4_label(nh, src, dst, p, v6=True)


def label(frame):
    """Short human-readable description of an Ethernet frame."""
    if len(frame) < 14:
        return "runt %d bytes" % len(frame)
    dst, src = frame[0:6], frame[6:12]
    pre = []
    if dst == b"\xff" * 6:
        pre.append("bcast")
    elif dst[0] & 1:
        pre.append("mcast %s" % mac(dst))
    if src[0] & 1 or src == bytes(6):
        pre.append("src-mac %s" % mac(src))
    off = 12
    et = struct.unpack("!H", frame[off:off + 2])[0]
    while et in (0x8100, 0x88a8) and len(frame) >= off + 6:
        tci = struct.unpack("!H", frame[off + 2:off + 4])[0]
        pre.append("%s vid %d" % ("802.1q" if et == 0x8100 else "802.1ad", tci & 0xfff))
        off += 4
        et = struct.unpack("!H", frame[off:off + 2])[0]
    p = frame[off + 2:]
    if et < 0x600:
        body = "stp bpdu" if p[:2] == b"\x42\x42" else "802.3 llc %s" % p[:3].hex()
    elif et == 0x0806 and len(p) >= 28:
        op = struct.unpack("!H", p[6:8])[0]
        spa, tpa = ipaddress.IPv4Address(p[14:18]), ipaddress.IPv4Address(p[24:28])
        body = ("arp who-has %s tell %s" % (tpa, spa) if op == 1 else
                "arp reply %s is-at %s" % (spa, mac(p[8:14])))
    elif et == 0x0800:
        body = ipv4_label(p)
    elif et == 0x86dd:
        body = ipv6_label(p)
    else:
        body = {0x8808: "mac-control", 0x8809: "slow-protocols", 0x88cc: "lldp"}.get(et, "")
        body = ("%s ethertype 0x%04x" % (body, et)).strip()
    return " ".join(pre + [body])

# ----------------------------------------------------------------------- fragments --


def l3(frame):
    """(ethertype, bytes from the IP header on) of a frame, after any VLAN tags."""
    off = 12
    et = struct.unpack("!H", frame[off:off + 2])[0]
    while et in (0x8100, 0x88a8) and len(frame) >= off + 6:
        off += 4
        et = struct.unpack("!H", frame[off:off + 2])[0]
    return et, frame[off + 2:]


def frag_info(frame):
    """(key, offset, more, payload) of an IPv4/IPv6 fragment (after VLAN tags), else
    None.  key = (family, src, dst, upper protocol, id)."""
    et, p = l3(frame)
    if et == 0x0800 and len(p) >= 20:
        frag = struct.unpack("!H", p[6:8])[0]
        ihl, tot = (p[0] & 15) * 4, struct.unpack("!H", p[2:4])[0]
        if frag & 0x3fff and ihl >= 20 and tot <= len(p):
            key = ("v4", p[12:16], p[16:20], p[9], struct.unpack("!H", p[4:6])[0])
            return key, (frag & 0x1fff) * 8, bool(frag & 0x2000), p[ihl:tot]
    if et == 0x86dd and len(p) >= 48 and p[6] == 44:
        fo, fid = struct.unpack("!HI", p[42:48])
        plen = struct.unpack("!H", p[4:6])[0]
        key = ("v6", p[8:24], p[24:40], p[40], fid)
        return key, fo & 0xfff8, bool(fo & 1), p[48:40 + plen]
    return None


def whole_ip(frame):
    """(key, payload) of an unfragmented IPv4/IPv6 packet (after VLAN tags), else None.
    key = (family, src, dst, upper protocol), as the first four of frag_info's key."""
    et, p = l3(frame)
    if et == 0x0800 and len(p) >= 20:
        ihl, tot = (p[0] & 15) * 4, struct.unpack("!H", p[2:4])[0]
        frag = struct.unpack("!H", p[6:8])[0]
        if ihl >= 20 and tot <= len(p) and not frag & 0x3fff:
            return ("v4", p[12:16], p[16:20], p[9]), p[ihl:tot]
    if et == 0x86dd and len(p) >= 40 and p[6] != 44:
        plen = struct.unpack("!H", p[4:6])[0]
        return ("v6", p[8:24], p[24:40], p[6]), p[40:40 + plen]
    return None


def egress_datagrams(frames):
    """Group the kernel's output fragments by key: {key: {"idx", "first", "last", "data"}},
    data None unless the fragments make a whole datagram."""
    groups = {}
    for i, (ts, b) in enumerate(frames):
        fi = frag_info(b)
        if not fi:
            continue
        g = groups.setdefault(fi[0], {"idx": [], "first": ts, "last": ts, "parts": []})
        g["idx"].append(i)
        g["first"], g["last"] = min(g["first"], ts), max(g["last"], ts)
        g["parts"].append(fi[1:])
    for g in groups.values():
        data, ok = b"", False
        for o, more, pl in sorted(g.pop("parts"), key=lambda x: x[0]):
            if o != len(data):
                break
            data += pl
            ok = not more
        g["data"] = data if ok else None
    return groups


def ingress_datagrams(frames):
    """The datagrams the kernel reassembles from one port's ingress fragments, replaying
    its queue rules (inet_frag_queue_insert and ip_frag_queue) per key in arrival order:
    a fragment lying inside one run of held data is a duplicate and dropped alone; any other
    intersection kills the queue (the fragments held and this one are dropped; later ones
    start a new queue), and so does an end that contradicts the datagram's known length
    for IPv4 (for IPv6 that fragment alone is dropped). A run
    grows only by a fragment starting where the highest held fragment ends. Returns a list
    of {"key", "idx" (the fragments that made it), "first", "last", "data"}. Why replay:
    with duplicates or overlaps the bytes the kernel sent depend on which fragments it
    kept, and a mistake here leaves the kernel's output unmatched (reported), not
    misattributed."""
    queues, done = {}, []
    for i, (ts, b) in enumerate(frames):
        fi = frag_info(b)
        if not fi:
            continue
        key, off, more, pl = fi
        end = off + len(pl)
        q = queues.setdefault(key, {"runs": [], "parts": [], "len": 0, "last_in": False,
                                    "meat": 0})
        if not more:
            kill = end < q["len"] or (q["last_in"] and end != q["len"])
            if not kill:
                q["last_in"], q["len"] = True, end
        else:
            kill = end > q["len"] and q["last_in"]
            if not kill:
                q["len"] = max(q["len"], end)
        kill = kill or end == off
        fit = "new"
        runs = q["runs"]
        if runs and not kill:
            tail_end = runs[-1][1]
            if end > tail_end:
                fit = "overlap" if off < tail_end else "new"
            else:
                for rs, re_ in runs:
                    if end <= rs or off >= re_:
                        continue
                    fit = "dup" if rs <= off and end <= re_ else "overlap"
                    break
        if kill and key[0] == "v6":
            continue  # IPv6 (nf_ct_frag6_queue) drops such a fragment alone; IPv4 kills
        if kill or fit == "overlap":
            del queues[key]
            continue
        if fit == "dup":
            continue
        if runs and off == runs[-1][1]:
            runs[-1][1] = end
        else:
            runs.append([off, end])
            runs.sort()
        q["parts"].append((off, pl, i, ts))
        q["meat"] += len(pl)
        # complete: the last fragment is in and the held bytes (no two overlap) fill it
        if q["last_in"] and q["meat"] == q["len"]:
            parts = sorted(q["parts"], key=lambda x: x[0])
            done.append({"key": key, "idx": [x[2] for x in parts],
                         "first": min(x[3] for x in parts), "last": max(x[3] for x in parts),
                         "data": b"".join(x[1] for x in parts)})
            del queues[key]
    return done

# -------------------------------------------------------------------------- match --


def match(ports, ing, egr):
    """ing/egr: {port: [(ts, bytes)]}.  Returns (to, how, unmatched) where
    to[(port, idx)] = set of ports, how[(port, idx)] = 'exact'|'datagram'."""
    to = {(p, i): set() for p in ports for i in range(len(ing[p]))}
    how = {}
    # index ingress frames by content, sorted by time
    by_bytes = {}
    for p in ports:
        for i, (ts, b) in enumerate(ing[p]):
            by_bytes.setdefault(b, []).append((ts, p, i))
    for v in by_bytes.values():
        v.sort()
    unmatched = []
    for p in ports:
        for j, (ts, b) in enumerate(egr[p]):
            cands = by_bytes.get(b, [])
            k = bisect.bisect_right(cands, (ts, "\uffff", 1 << 30))
            # the most recent identical frame; for a fragment the earliest, as the kernel
            # keeps the first copy of a fragment and drops later duplicates
            order = range(k) if frag_info(b) else range(k - 1, -1, -1)
            hit = None
            for kk in order:
                _, ip, ii = cands[kk]
                if ip != p and p not in to[(ip, ii)]:
                    hit = (ip, ii)
                    break
            if hit:
                to[hit].add(p)
                how[hit] = "exact"
            else:
                unmatched.append((p, j))
    # fragments: match datagrams.  An egress datagram on port p (its fragments, or one
    # whole packet: IPv6 reassembled by conntrack goes out whole when it fits) is the copy
    # of the most recent datagram reassembled from another port's ingress fragments with
    # the same addresses, protocol and payload, completed before the first egress frame.
    # The id is NOT compared: the kernel picks a new IPv6 fragment id when it refragments.
    in_dg = {p: ingress_datagrams(ing[p]) for p in ports}
    still = []
    for p in ports:
        left = [j for (q, j) in unmatched if q == p]
        sub = [egr[p][j] for j in left]
        cands = [(ekey[:4], eg) for ekey, eg in egress_datagrams(sub).items()]
        for k, (ts, b) in enumerate(sub):
            w = whole_ip(b)
            if w:
                cands.append((w[0], {"idx": [k], "first": ts, "last": ts, "data": w[1]}))
        done = set()
        for ekey, eg in cands:
            best = None
            for ip in ports:
                if ip == p:
                    continue
                for ig in in_dg[ip]:
                    if (ig["key"][:4] == ekey and eg["data"] is not None and ig["data"] == eg["data"]
                            and ig["last"] <= eg["first"]
                            and not any(p in to[(ip, i)] for i in ig["idx"])
                            and (best is None or ig["last"] > best[1]["last"])):
                        best = (ip, ig)
            if best is None:
                continue
            ip, ig = best
            done.update(eg["idx"])
            for i in ig["idx"]:
                to[(ip, i)].add(p)
                how[(ip, i)] = "datagram"
        still.extend((p, left[k]) for k in range(len(left)) if k not in done)
    return to, how, sorted(set(still))

# ------------------------------------------------------------------------- output --


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kernel", default="")
    ap.add_argument("--iptables", default="")
    ap.add_argument("--filter-vlan-tagged", type=int, choices=(0, 1), default=0,
                    help="the bridge's net.bridge.bridge-nf-filter-vlan-tagged")
    a = ap.parse_args()
    ports = a.ports.split(",")
    peer = {"eth0": "lan0", "tap0": "gst0", "tap1": "gst1"}
    ing = {p: read_pcap(os.path.join(a.tmp, "in-%s.pcap" % p)) for p in ports}
    egr = {p: read_pcap(os.path.join(a.tmp, "out-%s.pcap" % p)) for p in ports}
    to, how, unmatched = match(ports, ing, egr)

    # attach scenario notes: crafted frames by content, others by the step in progress
    steps = [json.loads(l) for l in open(os.path.join(a.tmp, "steps.jsonl"))]
    crafted = {}
    for s in steps:
        if "hex" in s:
            crafted.setdefault((s["if"], bytes.fromhex(s["hex"])), []).append(s["note"])
    step_times = [s["rt"] for s in steps]

    order = sorted(((ts, ports.index(p), i, p) for p in ports for i, (ts, _) in enumerate(ing[p])))
    lines = []
    for ts, _, i, p in order:
        b = ing[p][i][1]
        rec = {"in": p, "n": i + 1, "to": [q for q in ports if q in to[(p, i)]],
               "what": label(b)}
        if how.get((p, i)) == "datagram":
            rec["match"] = "datagram"
        notes = crafted.get((peer[p], b))
        if notes:
            rec["note"] = notes.pop(0)
        else:
            k = bisect.bisect_right(step_times, ts / 1e9) - 1
            if k >= 0:
                rec["step"] = steps[k]["note"]
        lines.append(rec)

    os.makedirs(a.out, exist_ok=True)
    for p in ports:
        for d in ("in", "out"):
            shutil.copyfile(os.path.join(a.tmp, "%s-%s.pcap" % (d, p)),
                            os.path.join(a.out, "%s-%s.pcap" % (d, p)))
    for f in ("rules.v4", "rules.v6", "counters.v4", "counters.v6"):
        src = os.path.join(a.tmp, f)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(a.out, f))
    with open(os.path.join(a.out, "expected.jsonl"), "w") as f:
        for rec in lines:
            f.write(json.dumps(rec) + "\n")

    roles = {"uplink": "eth0", "vm": [p for p in ports if p != "eth0"]}
    case = dict(roles)
    case.update({
        "case": a.case,
        "ports": {p: {"role": "uplink" if p == "eth0" else "vm", "peer": peer[p],
                      "ingress_pcap": "in-%s.pcap" % p, "egress_pcap": "out-%s.pcap" % p,
                      "ingress_frames": len(ing[p]), "egress_frames": len(egr[p])}
                  for p in ports},
        "hosts": {"lan0": {"mac": "02:00:00:00:01:01", "ipv4": ["192.0.2.1/24", "198.51.100.1/24"],
                           "ipv6": ["2001:db8::1/64"]},
                  "gst0": {"mac": "02:00:00:00:02:02", "ipv4": ["192.0.2.2/24"], "ipv6": ["2001:db8::2/64"]}},
        "rules": {"v4": "rules.v4", "counters_v4": "counters.v4"},
        # record.sh zeroes the rule counters as the captures start: they count what the
        # captures hold, so a replay's counters can be checked against them
        "counters_from_capture_start": True,
        "bridge": {"name": "br0", "stp": False, "vlan_filtering": False, "multicast_snooping": True,
                   "host_ip": None, "host_ipv6": "disabled",
                   "sysctl": {"net.bridge.bridge-nf-call-iptables": 1,
                              "net.bridge.bridge-nf-call-ip6tables": 1,
                              "net.bridge.bridge-nf-filter-vlan-tagged": a.filter_vlan_tagged}},
        "recorded_with": {"kernel": a.kernel, "iptables": a.iptables,
                          "pcap": "classic pcap, nanosecond timestamps (magic a1b23c4d), linktype 1"},
        "frames": len(lines),
        "delivered": sum(1 for r in lines if r["to"]),
        "unmatched_egress": [{"port": p, "n": j + 1, "what": label(egr[p][j][1])} for p, j in unmatched],
    })
    ct_path = os.path.join(a.tmp, "ct_sysctls")
    if os.path.exists(ct_path):
        # conntrack settings of the bridge's namespace other than the defaults
        kv = [l.strip().split("=", 1) for l in open(ct_path) if l.strip()]
        if kv:
            case["ct_sysctls"] = {"net.netfilter." + k: int(v) for k, v in kv}
    if "tap1" in ports:
        case["hosts"]["gst1"] = {"mac": "02:00:00:00:02:03", "ipv4": ["192.0.2.3/24"], "ipv6": ["2001:db8::3/64"]}
    if os.path.exists(os.path.join(a.tmp, "rules.v6")):
        case["rules"]["v6"] = "rules.v6"
        case["rules"]["counters_v6"] = "counters.v6"
    with open(os.path.join(a.out, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")

    write_readme(a, ports, lines, case)
    if unmatched:
        for u in case["unmatched_egress"]:
            print("derive: UNMATCHED egress frame %s" % u, file=sys.stderr)
        return 1
    return 0


def write_readme(a, ports, lines, case):
    intro_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases", a.case + ".md")
    intro = open(intro_path).read().rstrip() + "\n" if os.path.exists(intro_path) else ""
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write("# golden case `%s`\n\n" % a.case)
        f.write("Recorded by `tools/golden/record.sh %s` from the kernel bridge "
                "(br0 + br_netfilter + iptables); kernel %s, %s.\n" % (a.case, a.kernel, a.iptables))
        f.write("Ports: %s (uplink eth0). %d ingress frames, %d delivered somewhere.\n\n"
                % (", ".join(ports), case["frames"], case["delivered"]))
        f.write(intro + "\n")
        f.write("## Frames\n\n`to` = ports the kernel sent the frame out of (empty = dropped). "
                "`n` = frame number in `in-<port>.pcap`. Notes name the scenario step "
                "(crafted frames) or the step in progress (real traffic, marked ~).\n\n")
        f.write("| # | in | n | what | to | note |\n|---|---|---|---|---|---|\n")
        for k, r in enumerate(lines, 1):
            note = r.get("note") or ("~ " + r["step"] if r.get("step") else "")
            to = ",".join(r["to"]) or "—"
            if r.get("match"):
                to += " (datagram match)"
            f.write("| %d | %s | %d | %s | %s | %s |\n" % (k, r["in"], r["n"], r["what"].replace("|", "/"),
                                                           to, note.replace("|", "/")))


if __name__ == "__main__":
    sys.exit(main())
